"""One setting, ``n_jobs``, for all of tsLSTM's CPU parallelism.

tsLSTM's numba kernels are compiled without ``parallel=True`` and use no ``prange``:
they run on the calling thread, and numba's own thread pool is never started. All
parallelism inside a training step or a prediction comes from the BLAS library behind
the matrix products (the kernels call ``np.dot`` inside ``@njit``, which numba binds to
scipy's BLAS; the Python-side products use numpy's). Numba's pool and a multi-threaded
BLAS therefore never run at the same time, and limiting the BLAS threads with
:func:`thread_limits` controls the thread count completely.

Reproducibility
---------------
With a fixed thread count, results are bit-identical from run to run (same data, same
``random_state``, same machine and libraries). Across thread counts they agree to
rounding, not bit for bit: the numba kernels do not depend on the thread count, but
OpenBLAS may split a matrix product's sum differently with more threads (seen here
for the weight-gradient products, whose inner dimension is ``T * B``), which changes
the result by a few units in the last place of that product. Forward outputs and
predictions were bit-identical for 1 and 2 threads in every model we tried, but that
is a property of the BLAS build, not a guarantee. Over many epochs such differences
can grow, so models fitted with different ``n_jobs`` are close but not identical.
"""

import numbers
import os
from contextlib import contextmanager


def _cpu_count():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "process_cpu_count"):  # Python >= 3.13
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def effective_n_jobs(n_jobs):
    """The number of threads that ``n_jobs`` asks for.

    Parameters
    ----------
    n_jobs : int or None
        ``None``: no limit (whatever BLAS uses by default, e.g. as set by
        ``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS``). A positive int: that many
        threads. ``-1``: all CPUs available to the process; other negative values
        count back from there as in joblib, ``cpu_count + 1 + n_jobs`` (``-2``: all
        but one), and never fewer than 1.

    Returns
    -------
    int or None
        The thread count, or ``None`` for ``n_jobs=None``.

    Raises
    ------
    ValueError
        If ``n_jobs`` is 0 or not an integer.
    """
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")
    n_jobs = int(n_jobs)
    if n_jobs == 0:
        raise ValueError(
            "n_jobs == 0 has no meaning; use a positive number of threads, -1 for all "
            "CPUs, or None to leave the BLAS default"
        )
    if n_jobs < 0:
        return max(_cpu_count() + 1 + n_jobs, 1)
    return n_jobs


@contextmanager
def thread_limits(n_jobs):
    """Limit the BLAS thread pools to ``n_jobs`` threads inside a ``with`` block.

    Parameters
    ----------
    n_jobs : int or None
        As in :func:`effective_n_jobs`; ``None`` leaves the thread pools untouched.

    Yields
    ------
    int or None
        The thread count in effect (``None`` for ``n_jobs=None``).

    Raises
    ------
    ValueError
        If ``n_jobs`` is 0 or not an integer.

    Notes
    -----
    All BLAS libraries loaded in the process are limited (``threadpoolctl`` with
    ``user_api="blas"``), and restored on exit, also when the block raises. Scipy's
    BLAS, which the numba kernels call, is loaded first so that it is limited even
    when no kernel has run yet in this process.

    Examples
    --------
    >>> from tsLSTM._threads import thread_limits
    >>> with thread_limits(1):
    ...     pass  # single-threaded BLAS here
    """
    n_threads = effective_n_jobs(n_jobs)
    if n_threads is None:
        yield None
        return
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls)
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        pass
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads, user_api="blas"):
        yield n_threads
