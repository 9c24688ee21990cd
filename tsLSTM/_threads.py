"""One setting, ``n_jobs``, for all of tsLSTM's CPU parallelism.

The numba kernels are compiled without ``parallel=True`` (numba's own thread pool is
never started) and release the GIL. Parallelism comes from two places, never active
at once:

- the recurrent layers split a batch of more than :data:`CHUNK_ROWS` sequences into
  balanced chunks and run the chunks' forward, backward and inference on a thread
  pool of ``n_jobs`` threads, with BLAS limited to one thread meanwhile (the per-step
  products of a time-series model are too small for a multi-threaded BLAS to help:
  measured here, two chunks on two threads ran an LSTM step 1.3-2x faster than one
  batch on a two-thread BLAS);
- everything else (the dense head, single-chunk batches, the optimizer's BLAS-free
  loops) runs on the calling thread with a BLAS of ``n_jobs`` threads, except that a
  single chunk whose per-step products are small runs on one BLAS thread
  (:func:`blas_for_steps`): two threads only add synchronisation there.

:func:`thread_limits` sets both (the estimators' ``n_jobs``).

Reproducibility
---------------
With a fixed thread count, results are bit-identical from run to run (same data, same
``random_state``, same machine and libraries). The chunking depends on the batch size
only and the chunk gradients are added in chunk order, so the recurrent layers'
results on batches of more than ``CHUNK_ROWS`` sequences are bit-identical whatever
the thread count. Elsewhere results across thread counts agree to rounding, not bit
for bit: OpenBLAS may split a matrix product's sum differently with more threads
(seen here for the weight-gradient products of single-chunk batches, whose inner
dimension is ``T * B``), a few units in the last place of that product. Over many
epochs such differences can grow, so models fitted with different ``n_jobs`` are
close but not identical.
"""

import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

# Recurrent layers split batches into balanced chunks of at most this many sequences
# and run the chunks on a thread pool, each with single-threaded BLAS. The chunking
# depends on the batch size only, so the results do not depend on the thread count.
CHUNK_ROWS = 32

_n_threads = None  # set by thread_limits; None: every CPU available to the process
_pools = {}
_blas_controller = None


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
    global _n_threads
    n_threads = effective_n_jobs(n_jobs)
    if n_threads is None:
        yield None
        return
    previous, _n_threads = _n_threads, n_threads
    try:
        with _limit_blas(n_threads):
            yield n_threads
    finally:
        _n_threads = previous


def _blas_libraries():
    """threadpoolctl's controller of the loaded BLAS libraries, found once."""
    global _blas_controller
    if _blas_controller is None:
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls)
        except ImportError:  # pragma: no cover - scipy comes with scikit-learn
            pass
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController().select(user_api="blas")
    return _blas_controller


def _limit_blas(n_threads):
    """Context limiting every loaded BLAS to ``n_threads`` threads."""
    return _blas_libraries().limit(limits=n_threads)


_setters = None  # found by _thread_setters


def _thread_setters():
    """``(get, set)`` of the thread count of every loaded BLAS, found once.

    For an OpenBLAS with its own thread pool these are OpenBLAS's C functions, called
    directly (about 0.2 µs each against 2-3 µs through threadpoolctl, whose wrapper
    also lets only one Python thread change OpenBLAS's setting; :class:`_OneBlasThread`
    serialises its users with its own lock instead). For other libraries,
    threadpoolctl's methods.
    """
    global _setters
    if _setters is None:
        found = []
        for lib in _blas_libraries().lib_controllers:
            get = set_ = None
            if lib.internal_api == "openblas" and lib.threading_layer != "openmp":
                get = lib._get_symbol("openblas_get_num_threads")
                set_ = lib._get_symbol("openblas_set_num_threads")
            if get is None or set_ is None:
                get, set_ = lib.get_num_threads, lib.set_num_threads
            found.append((get, set_))
        _setters = found
    return _setters


class _OneBlasThread:
    """Context: every loaded BLAS on one thread, restored when the last user leaves.

    The same as ``_limit_blas(1)`` at a quarter of the cost (about 4 µs per enter and
    exit, against 16 µs through threadpoolctl), which matters on the per-call path of
    small batches. The BLAS setting is global to the process, so concurrent users
    (predictions from several threads) share one reference count: the first saves and
    limits, the last restores.
    """

    _lock = threading.Lock()
    _users = 0
    _saved = ()

    def __enter__(self):
        cls = type(self)
        with cls._lock:
            if cls._users == 0:
                cls._saved = [(set_, get()) for get, set_ in _thread_setters()]
                for set_, _ in cls._saved:
                    set_(1)
            cls._users += 1
        return self

    def __exit__(self, *exc):
        cls = type(self)
        with cls._lock:
            cls._users -= 1
            if cls._users == 0:
                for set_, n in cls._saved:
                    set_(n)
        return False


def single_threaded_blas():
    """Context for the chunked recurrent kernels: one BLAS thread per chunk thread."""
    if _n_threads == 1:
        return nullcontext()  # already limited by thread_limits(1)
    return _OneBlasThread()


# Measured here (2 cores): a recurrent step whose product h_{t-1} W_hh^T has fewer
# multiply-adds than this runs faster on one BLAS thread than on two (a 2-layer LSTM,
# 32 sequences, H=64: 8.7 ms per training step against 11.5 ms; H=32: 0.73 against
# 1.2 ms); from H=128 on, two threads win (19-24 ms against 28 ms).
SMALL_STEP_MACS = 1 << 20


def blas_for_steps(rows, hidden_size, gate_width):
    """BLAS context for one chunk of ``rows`` sequences run on the calling thread.

    One BLAS thread when a step's recurrent product (``rows x hidden_size`` times
    ``hidden_size x gate_width``) is small; otherwise the BLAS threads as they are.
    Single rows are matrix-vector products, which BLAS does not split anyway.
    """
    if 1 < rows and rows * hidden_size * gate_width < SMALL_STEP_MACS:
        return single_threaded_blas()
    return nullcontext()


def chunk_bounds(batch_size):
    """Row bounds ``[0, ..., batch_size]`` of balanced chunks of <= CHUNK_ROWS rows."""
    n_chunks = max(1, -(-batch_size // CHUNK_ROWS))
    # integer arithmetic, not np.linspace: this runs on every call, one-window
    # predictions included
    return [k * batch_size // n_chunks for k in range(n_chunks + 1)]


def parallel_map(function, n_tasks):
    """``[function(k) for k in range(n_tasks)]`` on up to ``n_jobs`` threads, in order.

    The thread count is that of the enclosing :func:`thread_limits` (all CPUs outside
    one); the numba kernels release the GIL, so the chunks run in parallel.
    """
    workers = min(n_tasks, _n_threads or _cpu_count())
    if workers <= 1:
        return [function(k) for k in range(n_tasks)]
    if workers not in _pools:
        _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="tsLSTM")
    return list(_pools[workers].map(function, range(n_tasks)))
