"""Recurrent layers against the plain-numpy reference and finite differences."""

import numpy as np
import pytest
from naive import recurrent_reference

from tsLSTM.nn import GRU, LSTM, is_grad_enabled, no_grad

CELLS = {"lstm": LSTM, "gru": GRU}


def make(cell, I=2, H=3, num_layers=1, bidirectional=False, dtype=np.float64, seed=0, **kw):
    return CELLS[cell](
        I, H, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype,
        random_state=seed, **kw,
    )  # fmt: skip


def run(layer, X, h0=None, c0=None, training=False):
    """Forward pass with a uniform return: (output, h_n, c_n or None)."""
    if isinstance(layer, LSTM):
        out, (h_n, c_n) = layer.forward(X, h0, c0, training=training)
        return out, h_n, c_n
    out, h_n = layer.forward(X, h0, training=training)
    return out, h_n, None


def back(layer, d_out, d_h_n=None, d_c_n=None):
    """Backward pass with a uniform return: (dX, dh0, dc0 or None)."""
    if isinstance(layer, LSTM):
        dX, (dh0, dc0) = layer.backward(d_out, d_h_n, d_c_n)
        return dX, dh0, dc0
    dX, dh0 = layer.backward(d_out, d_h_n)
    return dX, dh0, None


def random_inputs(layer, B, T, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, layer.input_size))
    shape = (layer.num_layers * layer.num_directions, B, layer.hidden_size)
    return X, 0.5 * rng.standard_normal(shape), 0.5 * rng.standard_normal(shape)


# -- plain numpy reference ---------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_forward_matches_numpy_reference(cell, num_layers, bidirectional):
    layer = make(cell, I=3, H=4, num_layers=num_layers, bidirectional=bidirectional)
    X, h0, c0 = random_inputs(layer, B=3, T=6)
    out, h_n, c_n = run(layer, X, h0, c0)
    ref = recurrent_reference(cell, X, layer.state_dict(), num_layers, bidirectional, h0, c0)
    np.testing.assert_allclose(out, ref[0], rtol=1e-10, atol=0)
    np.testing.assert_allclose(h_n, ref[1], rtol=1e-10, atol=0)
    if cell == "lstm":
        np.testing.assert_allclose(c_n, ref[2], rtol=1e-10, atol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_float32_close_to_float64(cell):
    layer64 = make(cell, I=3, H=8, num_layers=2, bidirectional=True)
    layer32 = make(cell, I=3, H=8, num_layers=2, bidirectional=True, dtype=np.float32)
    layer32.load_state_dict(layer64.state_dict())
    X, h0, c0 = random_inputs(layer64, B=4, T=10)
    out64, h64, _ = run(layer64, X, h0, c0)
    out32, h32, _ = run(layer32, X, h0, c0)
    assert out32.dtype == np.float32 and h32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=2e-6)
    np.testing.assert_allclose(h32, h64, atol=2e-6)


# -- finite differences --------------------------------------------------------------


def projected_loss(layer, X, h0, c0, w_out, w_h, w_c, training=False, mask_seed=None):
    """loss = sum(out * w_out) + sum(h_n * w_h) [+ sum(c_n * w_c)]."""
    if mask_seed is not None:
        layer._rng = np.random.RandomState(mask_seed)
    out, h_n, c_n = run(layer, X, h0, c0, training=training)
    loss = np.sum(out * w_out) + np.sum(h_n * w_h)
    if c_n is not None:
        loss += np.sum(c_n * w_c)
    return loss


def central_difference(f, x, eps=1e-6):
    """Numerical gradient of scalar ``f()`` w.r.t. the array ``x``, perturbed in place."""
    grad = np.zeros(x.shape)
    flat = x.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + eps
        up = f()
        flat[k] = saved - eps
        down = f()
        flat[k] = saved
        grad.reshape(-1)[k] = (up - down) / (2 * eps)
    return grad


def check_gradients(layer, B, T, training=False, mask_seed=None):
    X, h0, c0 = random_inputs(layer, B, T)
    rng = np.random.default_rng(7)
    D, H = layer.num_directions, layer.hidden_size
    w_out = rng.standard_normal((B, T, D * H))
    w_h = rng.standard_normal(h0.shape)
    w_c = rng.standard_normal(c0.shape)
    is_lstm = isinstance(layer, LSTM)

    def loss():
        return projected_loss(layer, X, h0, c0, w_out, w_h, w_c, training, mask_seed)

    layer.zero_grad()
    loss()
    dX, dh0, dc0 = back(layer, w_out, w_h, w_c if is_lstm else None)
    analytic = layer.flat_grads.copy()
    numeric = central_difference(loss, layer.flat_params)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dX, central_difference(loss, X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dh0, central_difference(loss, h0), rtol=1e-6, atol=1e-8)
    if is_lstm:
        np.testing.assert_allclose(dc0, central_difference(loss, c0), rtol=1e-6, atol=1e-8)
    # every parameter received a gradient (nothing silently left at zero)
    assert np.all(np.abs(analytic) > 0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("T", [1, 7])
def test_gradients_finite_differences(cell, num_layers, bidirectional, T):
    layer = make(cell, num_layers=num_layers, bidirectional=bidirectional)
    check_gradients(layer, B=2, T=T)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradients_with_dropout(cell):
    layer = make(cell, num_layers=3, bidirectional=True, dropout=0.4)
    check_gradients(layer, B=3, T=5, training=True, mask_seed=3)


# -- dropout -------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dropout_only_in_training_and_between_layers(cell):
    layer = make(cell, I=2, H=16, num_layers=2, dropout=0.5)
    X, _, _ = random_inputs(layer, B=8, T=5)
    eval_out = run(layer, X)[0]
    np.testing.assert_array_equal(eval_out, run(layer, X)[0])
    train_out = run(layer, X, training=True)[0]
    assert not np.allclose(train_out, eval_out)
    masks = layer._cache[0][2][2]  # the only chunk's (inputs, caches, masks, lengths)
    mask = masks[0]
    assert masks[1] is None  # no dropout after the last layer
    assert set(np.unique(mask)) == {0.0, 2.0}  # inverted dropout: kept units scaled 1/(1-p)
    assert 0.4 < np.mean(mask == 0) < 0.6
    single = make(cell, I=2, H=16, num_layers=1, dropout=0.5)
    np.testing.assert_array_equal(run(single, X, training=True)[0], run(single, X)[0])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dropout_masks_reproducible_from_random_state(cell):
    a = make(cell, num_layers=2, dropout=0.3, seed=5)
    b = make(cell, num_layers=2, dropout=0.3, seed=5)
    X, _, _ = random_inputs(a, B=4, T=6)
    for _ in range(3):
        np.testing.assert_array_equal(run(a, X, training=True)[0], run(b, X, training=True)[0])


# -- sequential equals batch ----------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_chunked_sequence_equals_one_pass(cell, num_layers):
    whole = make(cell, I=3, H=5, num_layers=num_layers)
    X, h0, c0 = random_inputs(whole, B=2, T=9)
    out, h_n, _ = run(whole, X, h0, c0)
    rng = np.random.default_rng(3)
    w_out = rng.standard_normal(out.shape)
    w_h, w_c = rng.standard_normal(h_n.shape), rng.standard_normal(h_n.shape)
    dX, dh0, dc0 = back(whole, w_out, w_h, w_c if cell == "lstm" else None)

    # the same sequence as chunks of 4, 1 and 4 steps, carrying the states forward
    bounds = [(0, 4), (4, 5), (5, 9)]
    chunks = [make(cell, I=3, H=5, num_layers=num_layers) for _ in bounds]
    for chunk in chunks:
        chunk.load_state_dict(whole.state_dict())
    outs, h, c = [], h0, c0
    for chunk, (s, e) in zip(chunks, bounds, strict=True):
        o, h, c = run(chunk, X[:, s:e], h, c)
        outs.append(o)
    np.testing.assert_allclose(np.concatenate(outs, axis=1), out, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h, h_n, rtol=1e-13, atol=1e-15)

    # backward through the chunks in reverse, passing state gradients back
    dXs, dh, dc = [], w_h, (w_c if cell == "lstm" else None)
    for chunk, (s, e) in reversed(list(zip(chunks, bounds, strict=True))):
        dXc, dh, dc = back(chunk, w_out[:, s:e], dh, dc)
        dXs.insert(0, dXc)
    np.testing.assert_allclose(np.concatenate(dXs, axis=1), dX, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(dh, dh0, rtol=1e-11, atol=1e-14)
    if cell == "lstm":
        np.testing.assert_allclose(dc, dc0, rtol=1e-11, atol=1e-14)
    summed = sum(chunk.flat_grads for chunk in chunks)
    np.testing.assert_allclose(summed, whole.flat_grads, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_time_major_layout_equals_batch_first(cell):
    bf = make(cell, I=3, H=4, num_layers=2, bidirectional=True)
    tm = make(cell, I=3, H=4, num_layers=2, bidirectional=True, batch_first=False)
    tm.load_state_dict(bf.state_dict())
    X, h0, c0 = random_inputs(bf, B=3, T=5)
    out_bf, h_bf, _ = run(bf, X, h0, c0)
    out_tm, h_tm, _ = run(tm, X.transpose(1, 0, 2), h0, c0)
    np.testing.assert_array_equal(out_tm.transpose(1, 0, 2), out_bf)
    np.testing.assert_array_equal(h_tm, h_bf)
    dX_bf = back(bf, np.ones_like(out_bf))[0]
    dX_tm = back(tm, np.ones_like(out_tm))[0]
    np.testing.assert_array_equal(dX_tm.transpose(1, 0, 2), dX_bf)


# -- parameters ------------------------------------------------------------------------


def test_state_dict_has_torch_keys_and_shapes():
    layer = LSTM(5, 7, num_layers=2, bidirectional=True)
    sd = layer.state_dict()
    assert list(sd)[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert list(sd)[4] == "weight_ih_l0_reverse"
    assert sd["weight_ih_l0"].shape == (28, 5)
    assert sd["weight_ih_l1_reverse"].shape == (28, 14)
    assert sd["weight_hh_l1"].shape == (28, 7)
    assert sd["bias_hh_l1_reverse"].shape == (28,)
    assert len(sd) == 16
    assert layer.n_parameters == layer.flat_params.size == sum(v.size for v in sd.values())
    gru = GRU(5, 7)
    assert gru.state_dict()["weight_hh_l0"].shape == (21, 7)


def test_views_share_the_flat_buffer():
    layer = LSTM(2, 3, dtype=np.float64)
    layer.flat_params[:] = np.arange(layer.n_parameters)
    sd = layer.state_dict()
    # weight_ih_l0 first, stored transposed
    np.testing.assert_array_equal(sd["weight_ih_l0"], np.arange(24).reshape(2, 12).T)
    np.testing.assert_array_equal(sd["bias_hh_l0"], np.arange(72, 84))
    sd["weight_ih_l0"][0, 0] = -1.0  # a copy: the layer is not changed
    assert layer.flat_params[0] == 0.0


def test_initialisation_matches_torch_distribution_and_seed():
    layer = LSTM(4, 16, num_layers=2, random_state=0)
    bound = 1 / np.sqrt(16)
    assert np.abs(layer.flat_params).max() <= bound
    assert np.abs(layer.flat_params).max() > 0.95 * bound
    assert abs(layer.flat_params.mean()) < 0.01
    np.testing.assert_array_equal(layer.flat_params, LSTM(4, 16, 2, random_state=0).flat_params)
    assert not np.array_equal(layer.flat_params, LSTM(4, 16, 2, random_state=1).flat_params)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradients_accumulate_and_zero_grad(cell):
    layer = make(cell, num_layers=2)
    X, _, _ = random_inputs(layer, B=2, T=3)
    out = run(layer, X)[0]
    back(layer, np.ones_like(out))
    once = layer.flat_grads.copy()
    run(layer, X)
    back(layer, np.ones_like(out))
    np.testing.assert_allclose(layer.flat_grads, 2 * once, rtol=1e-14)
    gd = layer.grad_dict()
    assert set(gd) == set(layer.state_dict())
    layer.zero_grad()
    assert not layer.flat_grads.any()


def test_load_state_dict_round_trip_and_dtype_cast():
    a = LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, random_state=0)
    b = LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float32, random_state=1)
    b.load_state_dict(a.state_dict())
    assert b.flat_params.dtype == np.float32
    np.testing.assert_allclose(b.flat_params, a.flat_params, rtol=1e-7)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda sd: sd.pop("bias_hh_l1"), "missing keys"),
        (lambda sd: sd.update(extra=np.zeros(3)), "unexpected keys"),
        (lambda sd: sd.update(weight_hh_l0=np.zeros((4, 16))), "weight_hh_l0: expected shape"),
        (lambda sd: sd["bias_ih_l0"].__setitem__(0, np.nan), "bias_ih_l0: contains NaN"),
        (lambda sd: sd.update(bias_ih_l0=np.array(["a"] * 16)), "expected real numbers"),
    ],
)
def test_load_state_dict_rejects_bad_entries_and_leaves_layer_unchanged(mutate, message):
    layer = LSTM(3, 4, num_layers=2, random_state=0)
    before = layer.flat_params.copy()
    sd = LSTM(3, 4, num_layers=2, random_state=1).state_dict()
    mutate(sd)
    with pytest.raises(ValueError, match=message):
        layer.load_state_dict(sd)
    np.testing.assert_array_equal(layer.flat_params, before)


# -- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bad_inputs_raise_clear_errors(cell):
    layer = make(cell, I=3, H=4, num_layers=2)
    good = np.zeros((2, 5, 3))
    cases = [
        (np.zeros((5, 3)), "3-D input"),
        (np.zeros((2, 5, 3, 1)), "3-D input"),
        (np.zeros((2, 5, 4)), "input_size=3"),
        (np.zeros((0, 5, 3)), "empty batch"),
        (np.zeros((2, 0, 3)), "zero time steps"),
        (np.where(np.arange(30).reshape(2, 5, 3) == 7, np.nan, 0.0), "NaN or infinity"),
        (np.full((2, 5, 3), np.inf), "NaN or infinity"),
        (np.array([[["a", "b", "c"]]]), "must be numeric"),
    ]
    for X, message in cases:
        with pytest.raises(ValueError, match=message):
            run(layer, X)
    with pytest.raises(ValueError, match=r"h0 must have shape .* = \(2, 2, 4\)"):
        run(layer, good, h0=np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="h0 contains NaN"):
        run(layer, good, h0=np.full((2, 2, 4), np.nan))
    if cell == "lstm":
        with pytest.raises(ValueError, match="c0 must have shape"):
            run(layer, good, c0=np.zeros((2, 3, 4)))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_backward_errors(cell):
    layer = make(cell, I=3, H=4)
    with pytest.raises(RuntimeError, match="forward pass first"):
        back(layer, np.zeros((2, 5, 4)))
    run(layer, np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"d_output must have the output's shape \(2, 5, 4\)"):
        back(layer, np.zeros((2, 5, 3)))
    back(layer, np.zeros((2, 5, 4)))
    with pytest.raises(RuntimeError, match="forward pass first"):
        back(layer, np.zeros((2, 5, 4)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_size": 0}, "hidden_size must be a positive integer"),
        ({"input_size": 2.5}, "input_size must be a positive integer"),
        ({"num_layers": 0}, "num_layers must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        ({"dtype": np.int32}, "dtype must be float32 or float64"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    args = {"input_size": 2, "hidden_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        LSTM(**args)


# -- reused buffers (workspace) and input gradients --------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("B", [4, 70])  # one chunk; three chunks
def test_returned_arrays_survive_later_calls(cell, B):
    """Outputs and input gradients are the caller's: later calls reuse scratch buffers only."""
    layer = make(cell, I=3, H=4, num_layers=2, bidirectional=True)
    X1, h0, c0 = random_inputs(layer, B, 5, seed=1)
    X2 = random_inputs(layer, B, 5, seed=2)[0]
    out1, h1, c1 = run(layer, X1, h0, c0, training=True)
    dX1 = back(layer, np.ones_like(out1))[0]
    returned = [a for a in (out1, h1, c1, dX1) if a is not None]
    kept = [a.copy() for a in returned]
    out2 = run(layer, X2, h0, c0, training=True)[0]
    back(layer, 2 * np.ones_like(out2))
    for before, after in zip(kept, returned, strict=True):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(out1, out2)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_steps_reuse_the_workspace(cell):
    layer = make(cell, I=3, H=4, num_layers=2, bidirectional=True, dtype=np.float32)
    X = random_inputs(layer, 70, 5)[0]

    def buffers():  # the batch chunks' workspaces and the one of W_hh's row-major copies
        spaces = [*layer._workspaces, layer._weights_workspace]
        return [id(b) for ws in spaces for b in ws._buffers.values()]

    def step():
        out = run(layer, X, training=True)[0]
        back(layer, np.ones_like(out))
        return buffers()

    first = step()
    assert first and step() == first  # the same buffers, nothing new allocated
    assert len(layer._weights_workspace._buffers) == 4  # one W_hh per direction, not per chunk
    smaller = random_inputs(layer, 66, 5)[0]  # a smaller last minibatch fits in them too
    out = run(layer, smaller, training=True)[0]
    back(layer, np.ones_like(out))
    assert buffers() == first
    layer.clear_cache()  # frees them
    assert sum(ws.nbytes for ws in layer._workspaces) == 0
    assert layer._weights_workspace.nbytes == 0
    state = layer.__getstate__()
    assert "_workspaces" not in state and "_weights_workspace" not in state


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("B", [4, 70])
def test_input_grad_false_skips_dX_only(cell, B):
    layer = make(cell, I=3, H=4, num_layers=2, bidirectional=True)
    X, h0, c0 = random_inputs(layer, B, 5)
    dY = np.random.default_rng(3).standard_normal((B, 5, 8))
    results = []
    for input_grad in (True, False):
        layer.zero_grad()
        run(layer, X, h0, c0, training=True)
        if cell == "lstm":
            dX, states = layer.backward(dY, input_grad=input_grad)
        else:
            dX, dh0 = layer.backward(dY, input_grad=input_grad)
            states = (dh0,)
        results.append((dX, states, layer.flat_grads.copy()))
    (dX, states, grads), (no_dX, states_b, grads_b) = results
    assert dX.shape == X.shape and no_dX is None
    for a, b in zip(states, states_b, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(grads, grads_b)


# -- forward inside no_grad: the inference kernels ----------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True), (3, False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_in_no_grad_equals_forward(cell, num_layers, bidirectional, dtype):
    layer = make(cell, I=3, H=5, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype)
    X, h0, c0 = random_inputs(layer, B=6, T=9)
    if cell == "gru":
        c0 = None
    expected = run(layer, X, h0, c0)
    with no_grad():
        assert not is_grad_enabled()
        got = run(layer, X, h0, c0)
    assert is_grad_enabled()
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for g, e in zip(got, expected, strict=True):
        if e is None:
            assert g is None
        else:
            assert g.dtype == dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
    with pytest.raises(RuntimeError, match=r"needs a forward pass first, outside no_grad\(\)"):
        back(layer, np.ones_like(expected[0]))  # nothing was saved to backpropagate
    # each row's result depends on that row only (the inference kernels' guarantee)
    with no_grad():
        rows = [run(layer, X[b : b + 1], h0[:, b : b + 1], None if c0 is None else c0[:, b : b + 1])
                for b in range(len(X))]  # fmt: skip
    np.testing.assert_array_equal(np.concatenate([r[0] for r in rows]), got[0])
    np.testing.assert_array_equal(np.concatenate([r[1] for r in rows], axis=1), got[1])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_no_grad_with_dropout_and_lengths_batch_time_major(cell):
    layer = make(cell, I=2, H=4, num_layers=2, dropout=0.5, batch_first=False)
    X = np.random.default_rng(0).standard_normal((7, 5, 2))  # (T, B, I)
    lengths = np.array([7, 2, 5, 1, 7])
    expected = layer.forward(X, lengths=lengths)
    with no_grad():
        got = layer.forward(X, lengths=lengths)
        dropped = layer.forward(X, training=True)  # dropout: the training kernels, no cache
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-14)
    assert np.all(got[0][np.arange(7)[:, None] >= lengths[None, :]] == 0)
    assert not np.allclose(dropped[0], layer.forward(X)[0])
    with pytest.raises(RuntimeError, match="outside no_grad"):
        layer.forward(X, training=True)
        with no_grad():
            layer.forward(X)  # the pass inside no_grad replaces the one before
        back(layer, np.ones((7, 5, 4)))


def test_no_grad_is_per_thread_and_restored_after_an_error():
    import threading

    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        thread.start()
        thread.join()
        with no_grad():
            pass
        assert not is_grad_enabled()  # nested: still disabled
    assert seen == [True] and is_grad_enabled()
    with pytest.raises(ValueError), no_grad():
        raise ValueError
    assert is_grad_enabled()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_no_grad_forward_of_a_batch_split_into_chunks(cell):
    """70 rows run in parallel chunks (as ``infer`` splits them); states given."""
    layer = make(cell, I=3, H=20, num_layers=2, bidirectional=True)
    X, h0, c0 = random_inputs(layer, B=70, T=9)
    c0 = c0 if cell == "lstm" else None
    assert len(layer._chunk_bounds(9, 70)) > 2
    expected = run(layer, X, h0, c0)
    with no_grad():
        got = run(layer, X, h0, c0)
    for g, e in zip(got, expected, strict=True):
        if e is not None:
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("H", [16, 15])  # tiled kernels, BLAS kernels
def test_the_kept_zero_states_stay_zero(cell, H):
    """The zero states a layer keeps for calls without states (and for the zero
    gradients of a backward without them) are only read: forward, backward and
    inference, in one chunk and in several, leave them zero."""
    layer = make(cell, I=3, H=H, num_layers=2, bidirectional=True, dtype=np.float32)
    rng = np.random.default_rng(0)
    for B in (5, 40):
        X = rng.standard_normal((B, 6, 3)).astype(np.float32)
        output = layer.forward(X, training=True)[0]
        layer.backward(np.ones_like(output))
        layer.infer(X)
        assert not layer._zero_states(B).any()
