"""One setting, ``n_jobs``, for all of tsLSTM's CPU parallelism, and results that ignore it.

The numba kernels are compiled without ``parallel=True`` (numba's own thread pool is
never started) and release the GIL. The only parallelism is over batch chunks: the
recurrent layers split a batch of more than :data:`CHUNK_ROWS` sequences (for
inference, :data:`INFER_CHUNK_ROWS`) into balanced chunks and run the chunks' forward,
backward and inference on ``n_jobs`` threads: the calling thread and a pool
(:func:`parallel_map`).

BLAS always runs on one thread inside tsLSTM (:func:`single_threaded_blas`): OpenBLAS
rounds a product differently with a different thread count (under its Haswell and
Zen kernels, for the shapes of every training step), so a BLAS thread count that
followed ``n_jobs`` would make a fit depend on it. Inference calls no BLAS at all
(:mod:`tsLSTM.kernels.gemm`).

Reproducibility
---------------
The chunking depends on the batch size only, each chunk runs the same code whatever
thread it lands on, and chunk gradients are added in chunk order, so results are
bit-identical whatever ``n_jobs``: fits and predictions alike.
"""

import contextvars
import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

# Recurrent layers split batches into balanced chunks of at most this many sequences
# and run the chunks on a thread pool, each with single-threaded BLAS. The chunking
# depends on the batch size only, so the results do not depend on the thread count.
CHUNK_ROWS = 32
# Inference chunks may be larger: each row's result depends on that row only, so the
# chunking cannot change a result, and fewer chunks cost less Python per row.
INFER_CHUNK_ROWS = 256

# Threads of the chunk pool in the current context (set by chunk_threads; None: every
# CPU available to the process). A context variable, so that estimators fitted or
# predicting in different threads at once each keep their own n_jobs.
_n_threads = contextvars.ContextVar("tsLSTM_n_threads", default=None)
_pools = {}
_pools_lock = threading.Lock()
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
        ``None``: no limit (every CPU available to the process). A positive int: that
        many threads. ``-1``: all CPUs available to the process; other negative values
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
def chunk_threads(n_jobs):
    """Run the batch chunks of the enclosed block on ``n_jobs`` threads.

    Parameters
    ----------
    n_jobs : int or None
        As in :func:`effective_n_jobs`; ``None``: every CPU available to the process.

    Yields
    ------
    int or None
        The thread count in effect (``None`` for ``n_jobs=None``).

    Raises
    ------
    ValueError
        If ``n_jobs`` is 0 or not an integer.
    """
    n_threads = effective_n_jobs(n_jobs)
    token = _n_threads.set(n_threads)
    try:
        yield n_threads
    finally:
        _n_threads.reset(token)


@contextmanager
def thread_limits(n_jobs):
    """Chunks on ``n_jobs`` threads and BLAS on one thread inside a ``with`` block.

    What the estimators' ``fit`` runs in: :func:`chunk_threads` and
    :func:`single_threaded_blas` together.

    Parameters
    ----------
    n_jobs : int or None
        As in :func:`effective_n_jobs`.

    Yields
    ------
    int or None
        The chunk thread count in effect (``None`` for ``n_jobs=None``).

    Raises
    ------
    ValueError
        If ``n_jobs`` is 0 or not an integer.

    Examples
    --------
    >>> from tsLSTM._threads import thread_limits
    >>> with thread_limits(2):
    ...     pass  # chunks on two threads, BLAS on one
    """
    with chunk_threads(n_jobs) as n_threads, single_threaded_blas():
        yield n_threads


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


_setters = None  # found by _thread_setters


def _thread_setters():
    """``(get, set)`` of the thread count of every loaded BLAS, found once.

    For an OpenBLAS with its own thread pool these are OpenBLAS's C functions, called
    directly (threadpoolctl's wrapper costs an order of magnitude more and lets only
    one Python thread change OpenBLAS's setting; :class:`_OneBlasThread` serialises
    its users with its own lock instead). For other libraries, threadpoolctl's
    methods.
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

    The BLAS setting is global to the process, so all users (fits from several
    threads, say) share one reference count: the first saves the setting and limits
    it, the last restores it. No other code of tsLSTM changes the setting, so
    concurrent users cannot leave it at one thread.
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
    """Context: every loaded BLAS on one thread (reference-counted, see _OneBlasThread)."""
    return _OneBlasThread()


# A batch of at most CHUNK_ROWS sequences whose forward products add up to at least
# this many multiply-adds (over all steps, layers and directions) runs as two chunks of
# at least MIN_SPLIT_ROWS sequences, so that two threads share it. Below the threshold
# thread dispatch costs more than it saves (the README's "Measurements behind the
# design" has the timings that placed it).
SPLIT_MACS = 1 << 24
MIN_SPLIT_ROWS = 8


def chunk_bounds(batch_size, macs_per_row=0, max_rows=None):
    """Row bounds ``[0, ..., batch_size]`` of balanced chunks of <= ``max_rows`` rows.

    ``macs_per_row``: the multiply-adds of one sequence's forward products (input and
    recurrent, all steps, layers and directions); a single chunk with enough work is
    split in two (see ``SPLIT_MACS``). ``max_rows``: :data:`CHUNK_ROWS` when None.
    The bounds depend on these numbers only, never on the thread count.
    """
    n_chunks = max(1, -(-batch_size // (max_rows or CHUNK_ROWS)))
    if (
        n_chunks == 1
        and batch_size >= 2 * MIN_SPLIT_ROWS
        and batch_size * macs_per_row >= SPLIT_MACS
    ):
        n_chunks = 2
    # integer arithmetic, not np.linspace: this runs on every call, one-window
    # predictions included
    return [k * batch_size // n_chunks for k in range(n_chunks + 1)]


def threads_in_effect():
    """The chunk thread count of the current context: that of the enclosing
    :func:`chunk_threads`, all CPUs available to the process outside one."""
    return _n_threads.get() or _cpu_count()


def parallel_map(function, n_tasks, max_threads=None):
    """``[function(k) for k in range(n_tasks)]`` on up to ``n_jobs`` threads, in order.

    The thread count is :func:`threads_in_effect`, at most ``max_threads`` (when
    given); the numba kernels release the GIL, so the tasks run in parallel. The
    calling thread takes tasks too, next to the pool's threads: every participant
    takes the next task until none is left. Which thread runs a task does not change
    its result. All tasks have finished when this returns or raises. The pool's
    threads do not inherit the caller's context: a task that calls ``parallel_map``
    itself should set its own with :func:`chunk_threads`.
    """
    workers = min(n_tasks, threads_in_effect(), max_threads or n_tasks)
    if workers <= 1:
        return [function(k) for k in range(n_tasks)]
    with _pools_lock:
        if workers - 1 not in _pools:
            _pools[workers - 1] = ThreadPoolExecutor(workers - 1, thread_name_prefix="tsLSTM")
        pool = _pools[workers - 1]
    results = [None] * n_tasks
    tasks = iter(range(n_tasks))
    take = threading.Lock()

    def drain():
        while True:
            with take:
                k = next(tasks, None)
            if k is None:
                return
            results[k] = function(k)

    helpers = [pool.submit(drain) for _ in range(workers - 1)]
    try:
        drain()
    finally:
        errors = [f.exception() for f in helpers]  # waits for every helper
    for error in errors:
        if error is not None:
            raise error
    return results
