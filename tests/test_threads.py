"""Thread control (``tsLSTM._threads``) and what the thread count may change: nothing.

Guaranteed, and tested here: ``n_jobs`` sets the threads that run batch chunks; BLAS
runs on one thread inside every fit and every recurrent layer's forward and backward,
whatever ``n_jobs``, and the BLAS setting is restored afterwards even when several
threads use tsLSTM at once. Results are bit-identical whatever the thread count: a
forward + backward pass, a prediction, a whole fit.
"""

import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import tsLSTM._threads
import tsLSTM.nn.recurrent
from tsLSTM import LSTMClassifier, LSTMRegressor
from tsLSTM._threads import (
    _cpu_count,
    chunk_bounds,
    chunk_threads,
    effective_n_jobs,
    parallel_map,
    thread_limits,
)
from tsLSTM.nn import GRU, LSTM, Linear, SequenceModel


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_effective_n_jobs():
    n = _cpu_count()
    assert effective_n_jobs(None) is None
    assert effective_n_jobs(1) == 1
    assert effective_n_jobs(np.int64(3)) == 3
    assert effective_n_jobs(-1) == n
    assert effective_n_jobs(-2) == max(n - 1, 1)
    assert effective_n_jobs(-10 * n) == 1


@pytest.mark.parametrize("bad", [0, 1.5, "2", True, [1]])
@pytest.mark.parametrize("context", [thread_limits, chunk_threads])
def test_invalid_n_jobs(bad, context):
    with pytest.raises(ValueError, match="n_jobs"):
        effective_n_jobs(bad)
    with pytest.raises(ValueError, match="n_jobs"), context(bad):
        pass


def test_thread_limits_hold_blas_at_one_thread_and_restore():
    with thread_limits(None) as n:  # loads scipy's BLAS too, so the libraries are listed
        assert n is None
    before = _blas_threads()
    assert before, "no BLAS library found by threadpoolctl"
    for n_jobs in (1, 2, None):
        with thread_limits(n_jobs):
            assert _blas_threads() == [1] * len(before)
        assert _blas_threads() == before
    with pytest.raises(KeyError), thread_limits(2):
        raise KeyError("restored also on error")
    assert _blas_threads() == before
    with threadpool_limits(limits=2, user_api="blas"):
        with thread_limits(2):
            assert _blas_threads() == [1] * len(before)
        assert _blas_threads() == [2] * len(before)  # the caller's own setting comes back


def _worker_threads(n_tasks):
    """The names of the threads that ran ``n_tasks`` chunks."""
    return set(parallel_map(lambda k: threading.current_thread().name, n_tasks))


@pytest.mark.parametrize("failing", [0, 5])  # a task of the calling thread's, of the pool's
def test_parallel_map_raises_after_every_task_has_finished(failing):
    """Results come back in task order; a task's error is raised only once no task is
    still running (the chunks share workspaces with the next call)."""
    with chunk_threads(2):
        assert parallel_map(lambda k: k * k, 9) == [k * k for k in range(9)]
        done = []

        def task(k):
            if k == failing:
                raise KeyError(k)
            time.sleep(0.002)
            done.append(k)

        with pytest.raises(KeyError):
            parallel_map(task, 6)
        assert sorted(done) == [k for k in range(6) if k != failing]


def test_chunk_threads_set_the_pool_for_their_context_only():
    with chunk_threads(1) as n:
        assert n == 1
        assert _worker_threads(4) == {threading.current_thread().name}
        with chunk_threads(2):  # the calling thread and one pool thread
            names = _worker_threads(8)
            me = threading.current_thread().name
            assert len(names) <= 2 and all(n == me or n.startswith("tsLSTM") for n in names)
        assert _worker_threads(4) == {threading.current_thread().name}  # restored
    seen = {}

    def worker(n_jobs):  # threads with their own n_jobs do not see each other's
        with chunk_threads(n_jobs):
            barrier.wait()
            seen[n_jobs] = tsLSTM._threads._n_threads.get()

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {1: 1, 2: 2}


def _train_pass(cell, shape, dtype, n_jobs):
    B, T, I, H, L = shape
    rnn = cell(I, H, num_layers=L, dtype=dtype, random_state=0)
    model = SequenceModel(rnn, Linear(H, 1, dtype=dtype, random_state=0))
    X = np.random.default_rng(0).standard_normal((B, T, I)).astype(dtype)
    with thread_limits(n_jobs):
        model.zero_grad()
        out = model.forward(X, training=True)
        dX = model.backward(np.linspace(-1, 1, out.size, dtype=dtype).reshape(out.shape))
        pred = model.predict(X)
    return {"out": out, "grads": model.flat_grads.copy(), "dX": dX, "predict": pred}


# (B, T, I, H, num_layers): two chunks; four chunks with a weight-gradient product of
# inner dimension T * B = 2800; 32 sequences with enough work to run as two chunks
# (which a BLAS on n_jobs threads used to split instead).
SHAPES = [(64, 20, 8, 32, 2), (100, 28, 8, 32, 1), (32, 10, 8, 128, 1)]


@pytest.mark.parametrize("cell", [LSTM, GRU])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_results_do_not_depend_on_thread_count(cell, dtype, shape):
    runs = {n: _train_pass(cell, shape, dtype, n) for n in (1, 2, None)}
    for n in (2, None):
        for key in runs[1]:
            np.testing.assert_array_equal(runs[1][key], runs[n][key], err_msg=f"{key}, {n}")


def _pass(layer, X, lengths, dY, training):
    """Forward (with dropout when training) + backward: every output and gradient."""
    rng_state = layer._rng.get_state()
    layer.zero_grad()
    out, states = layer.forward(X, training=training, lengths=lengths)
    states = states if isinstance(states, tuple) else (states,)
    dX, d_states = layer.backward(dY, *[np.ones_like(s) for s in states])
    d_states = d_states if isinstance(d_states, tuple) else (d_states,)
    layer._rng.set_state(rng_state)  # the next pass draws the same dropout masks
    seq = layer.infer(X, return_sequences=True, lengths=lengths)
    final = layer.infer(X, lengths=lengths)
    return [out, *states, dX, *d_states, layer.flat_grads.copy(), seq, final]


def test_chunk_bounds_are_balanced_and_cover_the_batch():
    assert chunk_bounds(32) == [0, 32]
    assert chunk_bounds(70) == [0, 23, 46, 70]
    assert chunk_bounds(1) == [0, 1]
    big = tsLSTM._threads.SPLIT_MACS
    assert chunk_bounds(32, big // 32) == [0, 16, 32]  # enough work: two chunks
    assert chunk_bounds(32, big // 32 - 1) == [0, 32]
    assert chunk_bounds(15, big) == [0, 15]  # too few rows to split
    assert chunk_bounds(70, big) == [0, 23, 46, 70]


def test_a_single_chunk_with_enough_work_runs_as_two():
    small, large = LSTM(8, 16, random_state=0), LSTM(8, 128, num_layers=2, random_state=0)
    assert small._chunk_bounds(24, 32) == [0, 32]
    assert large._chunk_bounds(28, 32) == [0, 16, 32]
    assert large._chunk_bounds(28, 1) == [0, 1]


def test_kept_chunk_bounds_follow_the_sizes_and_the_chunking_settings(monkeypatch):
    """A layer keeps the bounds of the last sizes it was asked for; other sizes, or
    other chunking settings (as the tests set them), are found anew."""
    layer = LSTM(8, 16, random_state=0)
    assert layer._chunk_bounds(24, 70) == [0, 23, 46, 70]
    assert layer._chunk_bounds(24, 70) is layer._chunk_bounds(24, 70)  # kept
    assert layer._chunk_bounds(24, 20) == [0, 20]
    monkeypatch.setattr(tsLSTM._threads, "CHUNK_ROWS", 10_000)
    assert layer._chunk_bounds(24, 70) == [0, 70]
    monkeypatch.setattr(tsLSTM._threads, "CHUNK_ROWS", 32)
    monkeypatch.setattr(tsLSTM._threads, "SPLIT_MACS", 1)
    assert layer._chunk_bounds(24, 32) == [0, 16, 32]


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_large_batch_inference_ignores_the_thread_count(cls):
    layer = cls(2, 8, num_layers=2, bidirectional=True, random_state=0)
    rng = np.random.default_rng(0)
    B, T = 600, 5  # 19 chunks
    X = rng.normal(size=(B, T, 2)).astype(np.float32)
    lengths = rng.integers(1, T + 1, size=B)
    results = []
    for n_jobs in (1, 2):
        with thread_limits(n_jobs):
            results.append([
                layer.infer(X, return_sequences=True, lengths=lengths),
                layer.infer(X, lengths=lengths),
            ])  # fmt: skip
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)  # bit-identical
    out, _ = layer.forward(X, lengths=lengths)
    np.testing.assert_allclose(results[0][0], out, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_chunked_batches_equal_one_pass_and_ignore_the_thread_count(cls, monkeypatch):
    layer = cls(3, 8, num_layers=2, bidirectional=True, dropout=0.3, dtype=np.float64,
                random_state=0)  # fmt: skip
    rng = np.random.default_rng(0)
    B, T = 70, 6  # 3 chunks
    X = rng.normal(size=(B, T, 3))
    lengths = rng.integers(1, T + 1, size=B)
    dY = rng.normal(size=(B, T, 16))
    with thread_limits(1):
        one_thread = _pass(layer, X, lengths, dY, training=True)
    with thread_limits(2):
        two_threads = _pass(layer, X, lengths, dY, training=True)
    for a, b in zip(one_thread, two_threads, strict=True):
        np.testing.assert_array_equal(a, b)  # bit-identical
    monkeypatch.setattr(tsLSTM._threads, "CHUNK_ROWS", 10_000)  # one chunk
    whole = _pass(layer, X, lengths, dY, training=True)
    for a, b in zip(one_thread, whole, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "cls, kernels, H",
    [(LSTM, "_BLAS_KERNELS", 15), (LSTM, "_TILED_KERNELS", 144), (GRU, "_TILED_KERNELS", 16),
     (GRU, "_BLAS_KERNELS", 15)],
)  # fmt: skip
def test_recurrent_layers_run_blas_on_one_thread(cls, kernels, H, monkeypatch):
    """Also outside an estimator: the layer API's results ignore the BLAS setting.

    A layer whose hidden size is a whole number of panels runs the tiled kernels; with
    H = 144 the LSTM's products over all steps go to BLAS, and the GRU's always do.
    """
    seen = []
    real_forward, real_backward = getattr(cls, kernels)

    def spy(*args):
        seen.append(_blas_threads())
        return real_forward(*args)

    monkeypatch.setattr(cls, kernels, (spy, real_backward))
    before = _blas_threads()
    with threadpool_limits(limits=2, user_api="blas"):
        for B in (8, 70):  # one chunk, three chunks
            cls(2, H, random_state=0).forward(np.zeros((B, 3, 2)))
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert _blas_threads() == before


@pytest.mark.parametrize(
    "layer, calls_blas",
    [
        (LSTM(2, 16), False),  # tiles, loops for the narrow input
        (LSTM(20, 32, num_layers=2, bidirectional=True), False),  # tiles everywhere
        (LSTM(2, 144), True),  # tiles, BLAS for the products over all steps
        (LSTM(200, 32), True),  # a wide input: BLAS for its products
        (LSTM(2, 15), True),  # not whole panels: the BLAS kernels
        (GRU(2, 16), True),
    ],
)
def test_layers_whose_kernels_call_no_blas_leave_its_setting_alone(layer, calls_blas, monkeypatch):
    """A training pass limits BLAS to one thread only where its kernels call BLAS."""
    assert layer._calls_blas() == calls_blas
    entered = []
    real = tsLSTM._threads._OneBlasThread.__enter__

    def spy(self):
        entered.append(True)
        return real(self)

    monkeypatch.setattr(tsLSTM._threads._OneBlasThread, "__enter__", spy)
    X = np.zeros((40, 3, layer.input_size), np.float32)  # two chunks
    for B in (8, 40):
        output = layer.forward(X[:B], training=True)[0]
        layer.backward(np.ones_like(output))
    assert bool(entered) == calls_blas


def test_one_blas_thread_is_restored_after_overlapping_users():
    """Users that enter and leave in interleaved order (two threads fitting at once)
    leave the BLAS setting as it was, and limited while any of them is inside."""
    with threadpool_limits(limits=2, user_api="blas"):
        two = _blas_threads()
        first, second = tsLSTM._threads._OneBlasThread(), tsLSTM._threads._OneBlasThread()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)  # leaves before the second
        assert _blas_threads() == [1] * len(two)
        second.__exit__(None, None, None)
        assert _blas_threads() == two


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_concurrent_estimators_leave_the_blas_setting_as_it_was():
    """Fits and predictions with different n_jobs, in threads at once (an earlier
    limiter could leave BLAS on one thread for the rest of the process)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6, 2)), rng.normal(size=40)
    labels = (y > 0).astype(int)
    before = _blas_threads()
    errors = []

    def work(n_jobs, seed):
        try:
            for i in range(15):
                est = (LSTMRegressor if i % 2 else LSTMClassifier)(
                    hidden_size=4, max_epochs=1, batch_size=40, n_jobs=n_jobs, random_state=seed
                )
                est.fit(X, y if i % 2 else labels).predict(X)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n, n)) for n in (1, 2, None, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert _blas_threads() == before


@pytest.mark.parametrize("output", ["last", "sequence"])
def test_predict_of_many_batches_runs_its_chunks_on_one_pool(output, monkeypatch):
    """More rows than ``batch_size``: the model's chunks (at most half a batch each, so
    that two threads share one) all go to one ``parallel_map``, capped at
    ``batch_size`` rows in flight; each runs the layer on its own thread without
    splitting again. The result is the one-batch prediction's, bit for bit, whatever
    ``batch_size`` and the thread count."""
    import tsLSTM.nn.model

    rnn = LSTM(2, 16, num_layers=2, random_state=0)
    model = SequenceModel(rnn, Linear(16, 3, random_state=1), output=output)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 6, 2)).astype(np.float32)
    lengths = rng.integers(1, 7, size=700)
    whole = model.predict(X, batch_size=700, lengths=lengths)
    pools, inner, in_tasks = [], [], []
    model_map, layer_map = tsLSTM.nn.model.parallel_map, tsLSTM.nn.recurrent.parallel_map

    def recorded_model_map(function, n_tasks, max_threads=None):
        pools.append((n_tasks, max_threads))
        return model_map(function, n_tasks, max_threads)

    def recorded_layer_map(function, n_tasks, max_threads=None):
        inner.append(n_tasks)
        return layer_map(function, n_tasks, max_threads)

    head_infer = model.head.infer

    def recorded_head(features, validate=True):
        in_tasks.append((len(features), tsLSTM._threads.threads_in_effect()))
        return head_infer(features, validate)

    monkeypatch.setattr(tsLSTM.nn.model, "parallel_map", recorded_model_map)
    monkeypatch.setattr(tsLSTM.nn.recurrent, "parallel_map", recorded_layer_map)
    monkeypatch.setattr(model.head, "infer", recorded_head)
    for batch_size, n_jobs, chunks, cap in [(300, 2, 5, 2), (256, 1, 6, 2), (100, 2, 14, 2),
                                            (10, 2, 88, 1)]:  # fmt: skip
        pools.clear(), inner.clear(), in_tasks.clear()
        with thread_limits(n_jobs):
            got = model.predict(X, batch_size=batch_size, lengths=lengths)
        np.testing.assert_array_equal(got, whole)
        assert pools == [(chunks, cap)]  # one pool for all the batches
        assert inner == []  # no chunk split again inside the layer
        assert all(n <= batch_size and threads == 1 for n, threads in in_tasks)
        assert sum(n for n, _ in in_tasks) == len(X)


def test_predict_of_many_batches_reports_bad_rows_of_any_chunk():
    model = SequenceModel(LSTM(2, 8, random_state=0), Linear(8, 1, random_state=1))
    X = np.zeros((900, 4, 2), dtype=np.float32)
    X[850, 2, 1] = np.nan  # in the last chunk
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.predict(X, batch_size=256)
    with pytest.raises(ValueError, match="lengths"):
        model.predict(np.zeros((900, 4, 2)), batch_size=256, lengths=np.full(900, 5))
