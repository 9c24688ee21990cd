"""Compilation options shared by the CPU kernels.

``fastmath`` lets LLVM vectorise the fused gate loops (reassociation, FMA contraction);
``error_model="numpy"`` removes the division-by-zero checks that also block it. Inputs
are validated as finite before they reach a kernel.

``cache=True`` stores the compiled machine code for the next process. Numba uses the
first writable of: ``NUMBA_CACHE_DIR`` (when set), the ``__pycache__`` folder next to
the kernels, and a per-user directory (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``
on Linux). A read-only install (root-owned site-packages, a read-only image) therefore
caches per user with no setting and no warning. Only when none of them is writable
does numba refuse to create a ``cache=True`` function at all (``RuntimeError: cannot
cache function ...: no locator available``, raised while importing the kernel
modules); then the kernels are compiled without a cache, with a warning that says how
to enable it.
"""

import warnings


def _probe():
    """Stand-in kernel: it lives in the kernels' folder, so numba locates its cache alike."""


def _cache_available():
    """Whether numba finds a writable cache directory for the kernels in this folder."""
    try:
        from numba.core.caching import FunctionCache
    except ImportError:  # numba's internals moved: let numba decide
        return True
    try:
        FunctionCache(_probe)
    except RuntimeError as exc:
        warnings.warn(
            f"tsLSTM: no writable numba cache directory ({exc}); the kernels are compiled "
            "in every process (several seconds). Set NUMBA_CACHE_DIR to a writable "
            "directory to cache them.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


JIT_OPTIONS = {
    "cache": _cache_available(),
    "fastmath": True,
    "error_model": "numpy",
    "nogil": True,
}
