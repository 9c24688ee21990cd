"""PyTorch as the oracle: same weights -> same outputs, gradients and training steps."""

import numpy as np
import pytest
from conftest import require

from tsLSTM.losses import mean_squared_error
from tsLSTM.nn import GRU, LSTM, Linear, SequenceModel, no_grad
from tsLSTM.optim import OPTIMIZERS, clip_grad_norm


@pytest.fixture(scope="module")
def torch():
    torch = require("torch")
    torch.set_num_threads(1)
    return torch


TORCH_DTYPE = {np.float32: "float32", np.float64: "float64"}
# (relative tolerance, tolerance relative to the array's largest entry)
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-4}


def assert_close(actual, expected, dtype, what):
    tol = TOLERANCE[dtype]
    expected = np.asarray(expected, dtype=np.float64)
    atol = tol * max(np.abs(expected).max(), 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=atol, err_msg=what)


def to_torch(torch, sd, dtype):
    return {k: torch.tensor(v, dtype=getattr(torch, TORCH_DTYPE[dtype])) for k, v in sd.items()}


CONFIGS = [
    # cell, input_size, hidden_size, num_layers, bidirectional
    ("lstm", 1, 8, 1, False),
    ("lstm", 5, 16, 2, False),
    ("lstm", 3, 6, 3, True),
    ("lstm", 7, 32, 1, True),
    ("lstm", 20, 144, 2, True),  # tiled recurrent products, BLAS for the T*B-row ones
    ("gru", 1, 8, 1, False),
    ("gru", 5, 16, 2, False),
    ("gru", 3, 6, 3, True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_layer_matches_torch(torch, config, dtype):
    cell, I, H, L, bidir = config
    ours = {"lstm": LSTM, "gru": GRU}[cell](I, H, L, bidir, dtype=dtype, random_state=0)
    theirs = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        I, H, L, bidirectional=bidir, batch_first=True, dtype=getattr(torch, TORCH_DTYPE[dtype])
    )
    theirs.load_state_dict(to_torch(torch, ours.state_dict(), dtype))

    rng = np.random.default_rng(1)
    B, T, D = 4, 9, 2 if bidir else 1
    X = rng.standard_normal((B, T, I)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((L * D, B, H))).astype(dtype)
    c0 = (0.5 * rng.standard_normal((L * D, B, H))).astype(dtype)
    w_out = rng.standard_normal((B, T, D * H)).astype(dtype)
    w_h = rng.standard_normal((L * D, B, H)).astype(dtype)
    w_c = rng.standard_normal((L * D, B, H)).astype(dtype)

    tX, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (X, h0, c0))
    if cell == "lstm":
        out, (h_n, c_n) = ours.forward(X, h0, c0)
        t_out, (t_h, t_c) = theirs(tX, (th0, tc0))
        loss = (t_out * torch.tensor(w_out)).sum() + (t_h * torch.tensor(w_h)).sum()
        loss = loss + (t_c * torch.tensor(w_c)).sum()
        dX, (dh0, dc0) = ours.backward(w_out, w_h, w_c)
        assert_close(c_n, t_c.detach(), dtype, "c_n")
    else:
        out, h_n = ours.forward(X, h0)
        t_out, t_h = theirs(tX, th0)
        loss = (t_out * torch.tensor(w_out)).sum() + (t_h * torch.tensor(w_h)).sum()
        dX, dh0 = ours.backward(w_out, w_h)
    loss.backward()

    assert out.dtype == dtype
    assert_close(out, t_out.detach(), dtype, "output")
    assert_close(h_n, t_h.detach(), dtype, "h_n")
    assert_close(dX, tX.grad, dtype, "dX")
    assert_close(dh0, th0.grad, dtype, "dh0")
    if cell == "lstm":
        assert_close(dc0, tc0.grad, dtype, "dc0")
    grads = ours.grad_dict()
    for name, p in theirs.named_parameters():
        assert_close(grads[name], p.grad, dtype, name)


class TorchSequenceModel:
    """torch counterpart of SequenceModel: ``rnn`` + ``head`` on last state or every step."""

    def __init__(self, torch, rnn, head, output):
        self.module = torch.nn.Module()
        self.module.rnn, self.module.head, self.output = rnn, head, output
        self.torch = torch

    def __call__(self, X):
        out, states = self.module.rnn(X)
        if self.output == "sequence":
            return self.module.head(out)
        h_n = states[0] if isinstance(states, tuple) else states
        features = (
            h_n[-1]
            if not self.module.rnn.bidirectional
            else self.torch.cat([h_n[-2], h_n[-1]], dim=1)
        )
        return self.module.head(features)


def build_pair(torch, cell, I, H, L, bidir, out_features, output, dtype=np.float64):
    D = 2 if bidir else 1
    rnn = {"lstm": LSTM, "gru": GRU}[cell](I, H, L, bidir, dtype=dtype, random_state=0)
    ours = SequenceModel(rnn, Linear(D * H, out_features, dtype=dtype, random_state=1), output)
    tdtype = getattr(torch, TORCH_DTYPE[dtype])
    t_rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        I, H, L, bidirectional=bidir, batch_first=True, dtype=tdtype
    )
    theirs = TorchSequenceModel(torch, t_rnn, torch.nn.Linear(D * H, out_features, dtype=tdtype),
                                output)  # fmt: skip
    theirs.module.load_state_dict(to_torch(torch, ours.state_dict(), dtype))
    return ours, theirs


@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("cell, bidir", [("lstm", False), ("lstm", True), ("gru", True)])
def test_sequence_model_matches_torch(torch, cell, bidir, output):
    ours, theirs = build_pair(torch, cell, 3, 5, 2, bidir, 2, output)
    assert set(ours.state_dict()) == set(theirs.module.state_dict())
    X = np.random.default_rng(0).standard_normal((4, 6, 3))
    tX = torch.tensor(X, requires_grad=True)
    t_pred = theirs(tX)
    pred = ours.forward(X)
    w = np.random.default_rng(1).standard_normal(pred.shape)
    (t_pred * torch.tensor(w)).sum().backward()
    dX = ours.backward(w)
    assert_close(pred, t_pred.detach(), np.float64, "predictions")
    assert_close(dX, tX.grad, np.float64, "dX")
    grads = ours.grad_dict()
    for name, p in theirs.module.named_parameters():
        assert_close(grads[name], p.grad, np.float64, name)


OPTIMIZER_CONFIGS = [
    ("sgd", {"lr": 0.1}, "SGD", {"lr": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}, "SGD",
     {"lr": 0.05, "momentum": 0.9, "dampening": 0.1}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, "SGD",
     {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01}, "Adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}, "Adam",
     {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    ("adamw", {"lr": 0.01}, "AdamW", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01}, "RMSprop", {"lr": 0.01}),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.01}, "RMSprop",
     {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.01}),
    ("adagrad", {"lr": 0.1}, "Adagrad", {"lr": 0.1}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01,
                 "initial_accumulator_value": 0.1}, "Adagrad",
     {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1}),
]  # fmt: skip


@pytest.mark.parametrize("max_norm", [None, 0.1])
@pytest.mark.parametrize(
    "name, kwargs, torch_name, torch_kwargs", OPTIMIZER_CONFIGS,
    ids=[f"{c[0]}{i}" for i, c in enumerate(OPTIMIZER_CONFIGS)],
)  # fmt: skip
def test_training_steps_match_torch_optim(torch, name, kwargs, torch_name, torch_kwargs, max_norm):
    """20 steps of forward + BPTT + clipping + update end at torch.optim's parameters."""
    ours, theirs = build_pair(torch, "lstm", 2, 4, 2, False, 1, "last")
    optimizer = OPTIMIZERS[name](ours.flat_params, ours.flat_grads, **kwargs)
    params = list(theirs.module.parameters())
    t_optimizer = getattr(torch.optim, torch_name)(params, foreach=False, **torch_kwargs)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 5, 2))
    y = np.sin(X.sum(axis=(1, 2)))[:, None]
    tX, ty = torch.tensor(X), torch.tensor(y)
    clipped = []
    for _ in range(20):
        ours.zero_grad()
        loss, d_pred = mean_squared_error(y, ours.forward(X))
        ours.backward(d_pred)
        t_optimizer.zero_grad()
        t_loss = torch.nn.functional.mse_loss(theirs(tX), ty)
        t_loss.backward()
        np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-8)
        if max_norm is not None:
            norm = clip_grad_norm(ours.flat_grads, max_norm)
            t_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            np.testing.assert_allclose(norm, t_norm.item(), rtol=1e-8)
            clipped.append(norm > max_norm)
        optimizer.step()
        t_optimizer.step()
    if max_norm is not None:
        assert any(clipped)  # the clipping path was exercised
    final = theirs.module.state_dict()
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, final[key].numpy(), rtol=1e-8, atol=1e-12, err_msg=key)
    # the run moved the parameters: the comparison is not between two untouched models
    start, _ = build_pair(torch, "lstm", 2, 4, 2, False, 1, "last")
    assert np.abs(ours.flat_params - start.flat_params).max() > 1e-3


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("H", [5, 8])  # an LSTM of 8 float64 units runs the tiled kernels
def test_variable_lengths_match_packed_sequences(torch, cell, bidir, H):
    """Right-padded sequences with lengths == torch's pack_padded_sequence."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    I, L, B, T = 3, 2, 5, 7
    D = 2 if bidir else 1
    ours = {"lstm": LSTM, "gru": GRU}[cell](I, H, L, bidir, dtype=np.float64, random_state=0)
    theirs = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        I, H, L, bidirectional=bidir, batch_first=True, dtype=torch.float64
    )
    theirs.load_state_dict(to_torch(torch, ours.state_dict(), np.float64))
    rng = np.random.default_rng(3)
    lengths = np.array([7, 3, 1, 5, 7])
    X = rng.standard_normal((B, T, I))
    X[np.arange(T)[None, :] >= lengths[:, None]] = 0.0  # padding
    h0 = 0.5 * rng.standard_normal((L * D, B, H))
    c0 = 0.5 * rng.standard_normal((L * D, B, H))
    w_out = rng.standard_normal((B, T, D * H))
    w_h, w_c = rng.standard_normal(h0.shape), rng.standard_normal(h0.shape)

    tX, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (X, h0, c0))
    packed = pack_padded_sequence(tX, torch.tensor(lengths), batch_first=True,
                                  enforce_sorted=False)  # fmt: skip
    if cell == "lstm":
        t_packed, (t_h, t_c) = theirs(packed, (th0, tc0))
        out, (h_n, c_n) = ours.forward(X, h0, c0, lengths=lengths)
    else:
        t_packed, t_h = theirs(packed, th0)
        out, h_n = ours.forward(X, h0, lengths=lengths)
    t_out, _ = pad_packed_sequence(t_packed, batch_first=True, total_length=T)
    loss = (t_out * torch.tensor(w_out)).sum() + (t_h * torch.tensor(w_h)).sum()
    if cell == "lstm":
        loss = loss + (t_c * torch.tensor(w_c)).sum()
        dX, (dh0, dc0) = ours.backward(w_out, w_h, w_c)
        assert_close(c_n, t_c.detach(), np.float64, "c_n")
    else:
        dX, dh0 = ours.backward(w_out, w_h)
    loss.backward()
    assert_close(out, t_out.detach(), np.float64, "output")
    assert np.all(out[np.arange(T)[None, :] >= lengths[:, None]] == 0)
    assert_close(h_n, t_h.detach(), np.float64, "h_n")
    assert_close(dX, tX.grad, np.float64, "dX")
    assert_close(dh0, th0.grad, np.float64, "dh0")
    if cell == "lstm":
        assert_close(dc0, tc0.grad, np.float64, "dc0")
    grads = ours.grad_dict()
    for name, p in theirs.named_parameters():
        assert_close(grads[name], p.grad, np.float64, name)
    # forward inside no_grad (the inference kernels, from the same states) == torch
    with no_grad():
        result = ours.forward(X, h0, c0, lengths=lengths) if cell == "lstm" else ours.forward(
            X, h0, lengths=lengths
        )  # fmt: skip
    inferred_out, inferred_states = result
    assert_close(inferred_out, t_out.detach(), np.float64, "output in no_grad")
    if cell == "lstm":
        assert_close(inferred_states[0], t_h.detach(), np.float64, "h_n in no_grad")
        assert_close(inferred_states[1], t_c.detach(), np.float64, "c_n in no_grad")
    else:
        assert_close(inferred_states, t_h.detach(), np.float64, "h_n in no_grad")
    # the inference kernels (zero initial states) agree with forward
    zero_state_out = ours.forward(X, lengths=lengths)[0]
    inferred = ours.infer(X, return_sequences=True, lengths=lengths)
    np.testing.assert_allclose(inferred, zero_state_out, rtol=1e-12, atol=1e-14)
    final = ours.forward(X, lengths=lengths)[1]
    h_top = (final[0] if cell == "lstm" else final)[-D:]
    np.testing.assert_allclose(ours.infer(X, lengths=lengths), np.concatenate(h_top, axis=1),
                               rtol=1e-12, atol=1e-14)  # fmt: skip
