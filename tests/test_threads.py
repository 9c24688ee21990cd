"""Thread control (``tsLSTM._threads``) and what the thread count may change.

Guaranteed, and tested here: with a fixed thread count a forward + backward pass is
bit-identical from run to run; batches the recurrent layers split into chunks give
bit-identical results whatever the thread count, and equal the unsplit computation
to rounding; otherwise results across BLAS thread counts agree to rounding (a few
units in the last place of one matrix product), not necessarily bit for bit, because
OpenBLAS may split a product's sum differently with more threads.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import tsLSTM._threads
import tsLSTM.nn.recurrent
from tsLSTM._threads import (
    _cpu_count,
    blas_for_steps,
    chunk_bounds,
    effective_n_jobs,
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
def test_invalid_n_jobs(bad):
    with pytest.raises(ValueError, match="n_jobs"):
        effective_n_jobs(bad)
    with pytest.raises(ValueError, match="n_jobs"), thread_limits(bad):
        pass


def test_thread_limits_limits_and_restores():
    with thread_limits(None) as n:  # loads scipy's BLAS too, so the libraries are listed
        assert n is None
    before = _blas_threads()
    assert before, "no BLAS library found by threadpoolctl"
    with thread_limits(1) as n:
        assert n == 1
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before
    with pytest.raises(KeyError), thread_limits(1):
        raise KeyError("restored also on error")
    assert _blas_threads() == before
    with threadpool_limits(limits=1, user_api="blas"), thread_limits(None):
        assert _blas_threads() == [1] * len(before)  # None leaves the setting alone


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


# (B, T, I, H, num_layers); the second shape has a weight-gradient product with an inner
# dimension T * B = 2800, which OpenBLAS here splits differently on 2 threads.
SHAPES = [(64, 20, 8, 32, 2), (100, 28, 8, 32, 1)]


@pytest.mark.parametrize("cell", [LSTM, GRU])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_results_do_not_depend_on_thread_count(cell, dtype, shape):
    runs = {n: [_train_pass(cell, shape, dtype, n) for _ in range(2)] for n in (1, 2)}
    for n, (first, again) in runs.items():  # same thread count: bit-identical
        for key in first:
            np.testing.assert_array_equal(first[key], again[key], err_msg=f"{key}, {n} threads")
    eps = np.finfo(dtype).eps
    one, two = runs[1][0], runs[2][0]
    for key in one:  # 1 vs 2 threads: equal to rounding, relative to the array's scale
        scale = np.abs(one[key]).max()
        err = np.abs(one[key] - two[key]).max()
        assert err <= 16 * eps * scale, f"{key}: 1 vs 2 threads differ by {err / scale:.2e}"


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


def test_small_single_chunks_run_on_one_blas_thread(monkeypatch):
    with thread_limits(2):
        two = _blas_threads()
        with blas_for_steps(32, 32, 128):  # a small product per step: one thread
            assert _blas_threads() == [1] * len(two)
        assert _blas_threads() == two  # restored
        for rows, hidden, width in [(1, 64, 256), (32, 128, 512)]:  # vector; large
            with blas_for_steps(rows, hidden, width):
                assert _blas_threads() == two
        seen = []
        real = tsLSTM._threads.blas_for_steps

        def spy(*args):
            seen.append(args)
            return real(*args)

        monkeypatch.setattr(tsLSTM.nn.recurrent, "blas_for_steps", spy)
        LSTM(2, 16, random_state=0).forward(np.zeros((8, 3, 2)))
        assert seen == [(8, 16, 64)]


def test_one_blas_thread_is_restored_after_overlapping_users():
    """Users that enter and leave in interleaved order (two threads predicting at once)
    leave the BLAS setting as it was, and limited while any of them is inside."""
    with thread_limits(2):
        two = _blas_threads()
        first, second = tsLSTM._threads._OneBlasThread(), tsLSTM._threads._OneBlasThread()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)  # leaves before the second
        assert _blas_threads() == [1] * len(two)
        second.__exit__(None, None, None)
        assert _blas_threads() == two
