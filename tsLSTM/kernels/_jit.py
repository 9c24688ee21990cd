"""Compilation options shared by the CPU kernels.

``fastmath`` allows only what gives the same bits in scalar and vector code: no NaN
or infinity (inputs are validated as finite before they reach a kernel), no signed
zeros (so ``min``/``max`` vectorise), and FMA contraction (every x86-64 processor with
AVX2 has FMA, for scalars and vectors alike). Re-association and approximate
reciprocals are not allowed: with them LLVM compiled a loop's vector body and its
scalar fallback to different roundings, and which one runs depends on how far apart
in memory the loop's arrays happen to be (its runtime alias check), which made a
sequence's result depend on the batch it came in. ``error_model="numpy"`` removes the
division-by-zero checks that would block vectorisation.

``forceinline`` marks every kernel ``alwaysinline`` for LLVM, so a kernel called from
Python contains all the kernels it calls and calls none of them. This is what makes
results independent of numba's cache. Numba links a copy of each callee into its
caller; when LLVM does not inline it, the caller's machine code calls the callee's
symbol, and the process's JIT linker binds that symbol to the first definition it
loaded: the callee compiled on its own in a process that compiles (cold cache), but
the caller's own copy, optimised again with the caller, in a process that loads the
caller from the cache. The two copies can differ in vectorisation and FMA
contraction, and did (the LSTM's backward cell, by 1e-7 in float32).

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
    "fastmath": {"nnan", "ninf", "nsz", "contract"},
    "error_model": "numpy",
    "nogil": True,
    "forceinline": True,
}


def _target_features():
    """The CPU features numba compiles for (its code generator's), ``""`` if unknown."""
    try:
        from numba.core.registry import cpu_target

        return cpu_target.target_context.codegen()._tm_features
    except Exception:  # numba's internals moved: assume the narrower vectors
        return ""


# Whether numba compiles for AVX-512 (32 vector registers of 64 bytes, against AVX2's
# 16 of 32): how many accumulators a register tile can hold (tsLSTM.kernels.gemm).
# It follows numba's target (NUMBA_CPU_NAME, NUMBA_CPU_FEATURES), with which numba's
# cache is keyed, so a cached kernel was compiled under the same value.
WIDE_VECTORS = "+avx512f" in _target_features().split(",")
