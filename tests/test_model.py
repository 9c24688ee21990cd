"""Dense head and the recurrent-stack + head container."""

import numpy as np
import pytest
from test_recurrent import central_difference

import tsLSTM._threads
from tsLSTM.kernels._common import projection_steps
from tsLSTM.nn import GRU, LSTM, Linear, SequenceModel, no_grad


@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("cell, bidirectional", [("lstm", False), ("lstm", True), ("gru", True)])
def test_sequence_model_gradients_finite_differences(cell, bidirectional, output):
    rnn_cls = LSTM if cell == "lstm" else GRU
    D = 2 if bidirectional else 1
    rnn = rnn_cls(2, 3, num_layers=2, bidirectional=bidirectional, dtype=np.float64, random_state=0)
    model = SequenceModel(rnn, Linear(D * 3, 2, dtype=np.float64, random_state=1), output)
    X = np.random.default_rng(0).standard_normal((3, 5, 2))
    pred = model.forward(X)
    assert pred.shape == ((3, 2) if output == "last" else (3, 5, 2))
    w = np.random.default_rng(1).standard_normal(pred.shape)

    def loss():
        return np.sum(model.forward(X) * w)

    model.zero_grad()
    loss()
    dX = model.backward(w)
    np.testing.assert_allclose(
        model.flat_grads, central_difference(loss, model.flat_params), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(dX, central_difference(loss, X), rtol=1e-6, atol=1e-8)


def test_container_owns_one_buffer_shared_with_children():
    rnn = LSTM(2, 4, random_state=0)
    head = Linear(4, 1, random_state=0)
    rnn_values, head_values = rnn.state_dict(), head.state_dict()
    model = SequenceModel(rnn, head)
    assert model.flat_params.size == rnn.n_parameters + head.n_parameters
    # the children's values survived the move, and their views now point into the model
    for key, value in rnn_values.items():
        np.testing.assert_array_equal(model.state_dict()[f"rnn.{key}"], value)
    np.testing.assert_array_equal(model.state_dict()["head.weight"], head_values["weight"])
    model.flat_params[:] = 0.5
    assert np.all(rnn.state_dict()["weight_hh_l0"] == 0.5)
    assert np.all(head.state_dict()["bias"] == 0.5)
    assert np.shares_memory(rnn.flat_grads, model.flat_grads)
    assert list(model.state_dict())[-2:] == ["head.weight", "head.bias"]


def test_linear_forward_backward_on_3d_input():
    layer = Linear(3, 2, dtype=np.float64, random_state=0)
    X = np.random.default_rng(0).standard_normal((4, 5, 3))
    sd = layer.state_dict()
    Y = layer.forward(X)
    np.testing.assert_allclose(Y, X @ sd["weight"].T + sd["bias"], rtol=1e-14)
    dX = layer.backward(np.ones_like(Y))
    np.testing.assert_allclose(dX, np.ones_like(Y) @ sd["weight"], rtol=1e-14)
    np.testing.assert_allclose(layer.grad_dict()["bias"], np.full(2, 20.0))
    np.testing.assert_allclose(layer.grad_dict()["weight"], np.tile(X.sum(axis=(0, 1)), (2, 1)))


def test_bad_model_arguments_and_inputs():
    rnn = LSTM(2, 4)
    with pytest.raises(ValueError, match=r"head\.in_features=3 does not match"):
        SequenceModel(rnn, Linear(3, 1))
    with pytest.raises(ValueError, match="output must be 'last' or 'sequence'"):
        SequenceModel(rnn, Linear(4, 1), output="first")
    with pytest.raises(ValueError, match="share one dtype"):
        SequenceModel(LSTM(2, 4), Linear(4, 1, dtype=np.float64))
    with pytest.raises(ValueError, match="batch_first"):
        SequenceModel(LSTM(2, 4, batch_first=False), Linear(4, 1))
    with pytest.raises(ValueError, match="head must be a Linear layer"):
        SequenceModel(rnn, rnn)
    linear = Linear(3, 2)
    with pytest.raises(ValueError, match="3 features on the last axis"):
        linear.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        linear.forward(np.full((4, 3), np.nan))
    with pytest.raises(RuntimeError, match="forward pass first"):
        linear.backward(np.zeros((4, 2)))
    linear.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"dY must have shape \(4, 2\)"):
        linear.backward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="rnn must be an LSTM or GRU"):
        SequenceModel(Linear(4, 4), Linear(4, 1))


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("cell, bidirectional", [("lstm", False), ("lstm", True), ("gru", True)])
def test_inference_kernels_equal_forward(cell, bidirectional, output, dtype, rtol):
    rnn_cls = LSTM if cell == "lstm" else GRU
    D = 2 if bidirectional else 1
    rnn = rnn_cls(3, 5, num_layers=2, bidirectional=bidirectional, dtype=dtype, random_state=0)
    model = SequenceModel(rnn, Linear(D * 5, 2, dtype=dtype, random_state=1), output)
    X = np.random.default_rng(0).standard_normal((7, 6, 3))
    expected = model.forward(X)
    predicted = model.predict(X, batch_size=3)
    assert predicted.dtype == dtype and predicted.shape == expected.shape
    np.testing.assert_allclose(predicted, expected, rtol=rtol, atol=rtol)
    assert rnn._cache is not None  # forward's cache; predict neither uses nor adds one


def _arrays(result):
    """The arrays of a layer's ``forward`` result, its nested tuples flattened."""
    if isinstance(result, tuple):
        return [a for part in result for a in _arrays(part)]
    return [result]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_inference_projects_inputs_in_blocks_of_steps(cell):
    """Long sequences: the input projection runs in several blocks, the last one partial."""
    rnn_cls = LSTM if cell == "lstm" else GRU
    H, T = 128, 11
    rnn = rnn_cls(2, H, bidirectional=True, dtype=np.float64, random_state=0)
    gates = rnn._n_gates * H
    steps = projection_steps(T, 20, gates)  # per chunk of 20 rows
    assert steps < T and T % steps  # several blocks, the last one partial
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, T, 2))  # chunks of 20 and 20 rows
    lengths = rng.integers(1, T + 1, size=40)
    expected = rnn.forward(X, lengths=lengths)
    np.testing.assert_allclose(rnn.infer(X, True, lengths), expected[0], rtol=1e-12, atol=1e-12)
    with no_grad():  # the inference kernels, final states of both directions included
        inferred = rnn.forward(X, lengths=lengths)
    for got, want in zip(_arrays(inferred), _arrays(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("output", ["last", "sequence"])
def test_backward_without_input_gradient(output):
    rnn = LSTM(2, 3, num_layers=2, dtype=np.float64, random_state=0)
    model = SequenceModel(rnn, Linear(3, 2, dtype=np.float64, random_state=1), output)
    X = np.random.default_rng(0).standard_normal((40, 5, 2))  # two chunks
    dY = np.ones_like(model.forward(X, training=True))
    dX = model.backward(dY)
    grads = model.flat_grads.copy()
    model.zero_grad()
    model.forward(X, training=True)
    assert model.backward(dY, input_grad=False) is None
    np.testing.assert_array_equal(model.flat_grads, grads)
    assert dX.shape == X.shape


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_chunked_last_step_model_equals_one_pass(cell, monkeypatch):
    """Backward from the final state only (no output gradient buffer), split in chunks."""
    rnn = cell(2, 4, num_layers=2, bidirectional=True, dtype=np.float64, random_state=0)
    model = SequenceModel(rnn, Linear(8, 1, dtype=np.float64, random_state=1))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70, 6, 2))  # 3 chunks
    lengths = rng.integers(1, 7, size=70)
    dY = rng.standard_normal((70, 1))

    def gradients():
        model.zero_grad()
        model.forward(X, training=True, lengths=lengths)
        dX = model.backward(dY)
        return model.flat_grads.copy(), dX

    chunked = gradients()
    monkeypatch.setattr(tsLSTM._threads, "CHUNK_ROWS", 10_000)
    whole = gradients()
    for a, b in zip(chunked, whole, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("num_layers, bidirectional, frontend", [(1, False, 0), (3, True, 2)])
def test_parameter_layout_is_the_built_models_without_building_it(
    cls, num_layers, bidirectional, frontend
):
    """``parameter_layout`` gives the state dict's keys and shapes (what a loader checks
    a file against) from sizes alone, in the same order as the built model."""
    from tsLSTM.nn import Conv1dBlock

    blocks = [Conv1dBlock(3 if i == 0 else 4, 4, 3, 1, 1, 2) for i in range(frontend)]
    channels = 4 if frontend else 3
    rnn = cls(channels, 5, num_layers=num_layers, bidirectional=bidirectional)
    head = Linear(rnn.num_directions * 5, 2)
    model = SequenceModel(rnn, head, frontend=blocks)
    layout = SequenceModel.parameter_layout(
        cls.parameter_layout(channels, 5, num_layers, bidirectional),
        Linear.parameter_layout(rnn.num_directions * 5, 2),
        [Conv1dBlock.parameter_layout(3 if i == 0 else 4, 4, 3) for i in range(frontend)],
    )
    state = model.state_dict()
    assert list(layout) == list(state)
    assert {k: spec.shape for k, spec in layout.items()} == {k: v.shape for k, v in state.items()}
    assert sum(spec.size for spec in layout.values()) == model.n_parameters
    huge = cls.parameter_layout(10**6, 10**6, num_layers=100, bidirectional=True)  # no memory
    assert sum(spec.size for spec in huge) > 10**15


@pytest.mark.parametrize("input_size", [1, 3, 8])
def test_inference_has_the_bits_of_the_tiled_forward(input_size):
    """Where the LSTM trains with tsLSTM's own products (hidden size of whole panels,
    sizes up to 128), inference runs the same operations in the same order: the input
    projection starts from the bias, the recurrent product accumulates onto it, the
    same cell follows. Its outputs and final states are the forward pass's bit for bit,
    a univariate input (one multiply-add per gate, in one pass) included."""
    rnn = LSTM(input_size, 32, num_layers=2, bidirectional=True, random_state=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70, 9, input_size)).astype(np.float32)  # several chunks
    lengths = rng.integers(1, 10, size=70)
    expected = rnn.forward(X, lengths=lengths)
    np.testing.assert_array_equal(rnn.infer(X, True, lengths), expected[0])
    with no_grad():
        inferred = rnn.forward(X, lengths=lengths)
    for got, want in zip(_arrays(inferred), _arrays(expected), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_predict_refuses_a_batch_size_that_is_not_a_positive_integer(batch_size):
    model = SequenceModel(LSTM(2, 4, random_state=0), Linear(4, 1, random_state=1))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        model.predict(np.zeros((40, 3, 2)), batch_size=batch_size)
