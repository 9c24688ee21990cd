"""Shared test helpers.

Optional test dependencies (PyTorch as the oracle, ...) are imported through
:func:`require`: on a developer machine without them the dependent tests skip, but
under CI (``CI`` set in the environment) a missing dependency is a failure, so the
oracle tests can never silently vanish from a CI run.
"""

import importlib
import os

import pytest

# scikit-learn's check_array_api_input (numpy namespace) runs only with this set;
# it must be set before scipy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# The GPU tests run under numba-cuda's CUDA simulator (kernels executed on the CPU,
# one Python thread per CUDA thread); it must be chosen before numba is imported.
# Set NUMBA_ENABLE_CUDASIM=0 to run them on a real GPU instead.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")


def require(module_name):
    """Import ``module_name`` or skip the test; fail instead when running in CI."""
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{module_name} is required in CI but cannot be imported: {exc}")
        pytest.skip(f"{module_name} is not installed")
