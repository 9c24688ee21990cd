"""Convolutional front-end: against torch's Conv1d + ReLU + MaxPool1d, finite differences,
and inside SequenceModel (CNN-LSTM)."""

import numpy as np
import pytest
from conftest import require
from test_recurrent import central_difference

from tsLSTM.nn import LSTM, Conv1dBlock, Linear, SequenceModel

BLOCKS = [  # in_channels, filters, kernel_size, stride, padding, pool_size
    (3, 4, 3, 1, 1, 2),
    (2, 5, 5, 2, 0, 3),
    (1, 2, 1, 1, 0, 1),
]


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("config", BLOCKS)
def test_block_matches_torch(config, dtype, tol):
    torch = require("torch")
    C, F, K, s, p, pool = config
    block = Conv1dBlock(C, F, K, s, p, pool, dtype=dtype, random_state=0)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    seq = torch.nn.Sequential(
        torch.nn.Conv1d(C, F, K, s, p, dtype=tdtype), torch.nn.ReLU(), torch.nn.MaxPool1d(pool)
    )
    seq[0].load_state_dict({k: torch.tensor(v) for k, v in block.state_dict().items()})
    X = np.random.default_rng(1).standard_normal((3, 17, C)).astype(dtype)
    tX = torch.tensor(X, requires_grad=True)
    tY = seq(tX.transpose(1, 2)).transpose(1, 2)
    Y = block.forward(X)
    assert Y.shape == tuple(tY.shape) == (3, int(block.output_length(17)), F)
    w = np.random.default_rng(2).standard_normal(Y.shape).astype(dtype)
    (tY * torch.tensor(w)).sum().backward()
    dX = block.backward(w)
    np.testing.assert_allclose(Y, tY.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dX, tX.grad.numpy(), rtol=tol, atol=tol)
    grads = block.grad_dict()
    np.testing.assert_allclose(grads["weight"], seq[0].weight.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grads["bias"], seq[0].bias.grad.numpy(), rtol=tol, atol=tol)


def test_cnn_lstm_gradients_finite_differences():
    frontend = [Conv1dBlock(2, 3, 3, padding=1, pool_size=2, dtype=np.float64, random_state=0),
                Conv1dBlock(3, 4, 2, dtype=np.float64, random_state=1)]  # fmt: skip
    rnn = LSTM(4, 3, dtype=np.float64, random_state=2)
    head = Linear(3, 2, dtype=np.float64, random_state=3)
    model = SequenceModel(rnn, head, frontend=frontend)
    assert "frontend.1.weight" in model.state_dict()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 12, 2))
    lengths = np.array([12, 9, 5])
    w = rng.standard_normal((3, 2))

    def loss():
        return np.sum(model.forward(X, lengths=lengths) * w)

    model.zero_grad()
    loss()
    dX = model.backward(w)
    np.testing.assert_allclose(model.flat_grads, central_difference(loss, model.flat_params),
                               rtol=1e-6, atol=1e-8)  # fmt: skip
    np.testing.assert_allclose(dX, central_difference(loss, X), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.predict(X, lengths=lengths), model.forward(X, lengths=lengths),
                               rtol=1e-12)  # fmt: skip


def test_frontend_errors():
    with pytest.raises(ValueError, match="too short for kernel_size=5"):
        Conv1dBlock(1, 2, 5).forward(np.zeros((1, 3, 1)))
    with pytest.raises(ValueError, match="does not match the front-end's 4 filters"):
        SequenceModel(LSTM(3, 2), Linear(2, 1), frontend=[Conv1dBlock(1, 4, 3)])
    with pytest.raises(ValueError, match="padding must be a non-negative integer"):
        Conv1dBlock(1, 2, 3, padding=-1)
