"""Optimizers and gradient clipping against torch.optim as the oracle."""

import numpy as np
import pytest
from conftest import require

from tsLSTM.kernels.optim import scale_, sum_of_squares
from tsLSTM.optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    clip_grad_norm,
)

N_PARAMS = 60
N_STEPS = 20

CONFIGS = [
    ("sgd", {}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.02, "betas": (0.4, 0.99), "amsgrad": True, "weight_decay": 0.05}),
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop", {}),
    (
        "rmsprop",
        {"lr": 0.005, "alpha": 0.9, "centered": True, "momentum": 0.7, "weight_decay": 0.02},
    ),
    (
        "adagrad",
        {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.03, "initial_accumulator_value": 0.1},
    ),
]
CONFIG_IDS = [f"{name}-{'-'.join(kw) or 'defaults'}" for name, kw in CONFIGS]

# float64 trajectories agree with torch to ~1e-14; float32 to a few float32 ulp.
TOLERANCE = {np.float64: 1e-8, np.float32: 1e-5}


@pytest.fixture(scope="module")
def torch():
    return require("torch")


def _problem():
    rng = np.random.default_rng(0)
    p0 = rng.uniform(-2.0, 2.0, N_PARAMS)
    c = rng.uniform(-1.0, 1.0, N_PARAMS)
    return p0, c


def _gradient(p, c):
    """A deterministic nonlinear gradient field, evaluated in float64."""
    p = p.astype(np.float64)
    return np.sin(3.0 * p) + 0.1 * p**3 - c


def _torch_optimizer(torch, name, param, kwargs):
    cls = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
    }[name]
    return cls([param], foreach=False, **kwargs)


def _run_both(torch, name, kwargs, dtype, max_norm=None):
    p0, c = _problem()
    params = p0.astype(dtype)
    grads = np.zeros_like(params)
    opt = OPTIMIZERS[name](params, grads, **kwargs)
    t_param = torch.nn.Parameter(torch.from_numpy(p0.astype(dtype)))
    t_opt = _torch_optimizer(torch, name, t_param, kwargs)
    for _ in range(N_STEPS):
        grads[:] = _gradient(params, c)
        t_param.grad = torch.from_numpy(_gradient(t_param.detach().numpy(), c).astype(dtype))
        if max_norm is not None:
            norm = clip_grad_norm(grads, max_norm)
            t_norm = torch.nn.utils.clip_grad_norm_([t_param], max_norm)
            np.testing.assert_allclose(norm, t_norm.item(), rtol=TOLERANCE[dtype])
        opt.step()
        t_opt.step()
    assert opt.n_steps == N_STEPS
    return p0, params, t_param.detach().numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("max_norm", [None, 0.5], ids=["noclip", "clip0.5"])
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=CONFIG_IDS)
def test_trajectory_matches_torch(torch, name, kwargs, max_norm, dtype):
    p0, params, expected = _run_both(torch, name, kwargs, dtype, max_norm)
    assert params.dtype == dtype
    # the parameters moved, so the comparison is not trivially satisfied
    assert np.abs(expected - p0).max() > 1e-3
    rtol = TOLERANCE[dtype]
    np.testing.assert_allclose(params, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("name", ["adam", "adamw"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hyper_parameters_changed_between_steps_take_effect(torch, name, dtype):
    """A schedule may change lr, betas, eps and weight decay between steps: each step
    uses the values of that moment, as torch's param_groups do (the step's fixed
    scalars are cast once per set of values, not once per optimizer)."""
    p0, c = _problem()
    params = p0.astype(dtype)
    grads = np.zeros_like(params)
    opt = OPTIMIZERS[name](params, grads, lr=0.01)
    t_param = torch.nn.Parameter(torch.from_numpy(p0.astype(dtype)))
    t_opt = _torch_optimizer(torch, name, t_param, {"lr": 0.01})
    changes = {3: {"lr": 0.05}, 5: {"betas": (0.8, 0.99)}, 7: {"eps": 1e-3},
               9: {"weight_decay": 0.1}, 11: {"lr": 0.002, "betas": (0.95, 0.9)}}  # fmt: skip
    for step in range(14):
        for key, value in changes.get(step, {}).items():
            if key == "betas":
                opt.beta1, opt.beta2 = value
            else:
                setattr(opt, key, value)
            t_opt.param_groups[0][key] = value
        grads[:] = _gradient(params, c)
        t_param.grad = torch.from_numpy(_gradient(t_param.detach().numpy(), c).astype(dtype))
        opt.step()
        t_opt.step()
        np.testing.assert_allclose(params, t_param.detach().numpy(), rtol=TOLERANCE[dtype],
                                   atol=TOLERANCE[dtype])  # fmt: skip


def test_clipping_changes_the_trajectory(torch):
    _, clipped, _ = _run_both(torch, "adagrad", CONFIGS[-1][1], np.float64, max_norm=0.5)
    _, free, _ = _run_both(torch, "adagrad", CONFIGS[-1][1], np.float64)
    assert np.abs(clipped - free).max() > 1e-3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_matches_torch(torch, dtype):
    rng = np.random.default_rng(1)
    g = rng.standard_normal(1000).astype(dtype)
    t_param = torch.nn.Parameter(torch.zeros(1000, dtype=torch.from_numpy(g).dtype))
    t_param.grad = torch.from_numpy(g.copy())
    norm = clip_grad_norm(g, 3.0)
    t_norm = torch.nn.utils.clip_grad_norm_([t_param], 3.0)
    assert isinstance(norm, float)
    np.testing.assert_allclose(norm, t_norm.item(), rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(g, t_param.grad.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(np.linalg.norm(g.astype(np.float64)), 3.0, rtol=1e-6)


def test_clip_grad_norm_below_threshold_is_identity():
    g = np.array([0.3, -0.4])
    before = g.copy()
    assert clip_grad_norm(g, 1.0) == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(g, before)


@pytest.mark.parametrize("max_norm", [0.0, -1.0, float("nan")])
def test_clip_grad_norm_rejects_non_positive_max_norm(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(np.ones(3), max_norm)


def test_sum_of_squares_accumulates_in_float64():
    g = np.full(100_001, 0.1, dtype=np.float32)
    expected = float(np.sum(g.astype(np.float64) ** 2))
    assert sum_of_squares(g) == pytest.approx(expected, rel=1e-13)
    assert np.isnan(sum_of_squares(np.array([np.nan, 1.0])))


def test_scale_casts_factor_to_buffer_dtype():
    g = np.array([1.0, 2.0], dtype=np.float32)
    scale_(g, 0.1)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, np.float32(0.1) * np.array([1.0, 2.0], dtype=np.float32))


@pytest.mark.parametrize("cls", list(OPTIMIZERS.values()))
def test_step_updates_in_place_and_leaves_grads(cls):
    params = np.linspace(-1.0, 1.0, 7)
    grads = np.cos(params)
    params_id, grads_before = id(params), grads.copy()
    kwargs = {"weight_decay": 0.1} if cls is not AdamW else {}
    opt = cls(params, grads, **kwargs)
    state = {k: v for k, v in vars(opt).items() if isinstance(v, np.ndarray)}
    before = params.copy()
    opt.step()
    opt.step()
    assert opt.n_steps == 2
    assert id(opt.params) == params_id
    assert not np.array_equal(params, before)
    np.testing.assert_array_equal(grads, grads_before)
    # state arrays are the ones allocated at construction
    for key, value in vars(opt).items():
        if isinstance(value, np.ndarray):
            assert value is state[key]


TORCH_DEFAULTS = {
    SGD: {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    Adam: {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    AdamW: {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False},
    RMSprop: {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    },
    Adagrad: {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    },
}


@pytest.mark.parametrize("cls", list(TORCH_DEFAULTS))
def test_defaults_match_torch(cls):
    opt = cls(np.zeros(2), np.zeros(2))
    assert isinstance(opt, Optimizer)
    assert {key: getattr(opt, key) for key in TORCH_DEFAULTS[cls]} == TORCH_DEFAULTS[cls]
    assert opt.n_steps == 0


def test_sgd_first_momentum_step_copies_gradient():
    params = np.array([1.0, -2.0])
    grads = np.array([0.5, 0.25])
    opt = SGD(params, grads, lr=0.1, momentum=0.9, dampening=0.5)
    opt.step()
    # buf = g on the first step (no dampening applied), as in torch
    np.testing.assert_array_equal(opt.momentum_buffer, [0.5, 0.25])
    np.testing.assert_allclose(params, [1.0 - 0.05, -2.0 - 0.025], rtol=1e-15)
    opt.step()
    np.testing.assert_allclose(opt.momentum_buffer, [0.9 * 0.5 + 0.25, 0.9 * 0.25 + 0.125])


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (SGD, {"lr": -0.1}, "learning rate"),
        (SGD, {"momentum": -0.5}, "momentum"),
        (SGD, {"weight_decay": -1e-3}, "weight_decay"),
        (SGD, {"nesterov": True}, "Nesterov"),
        (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov"),
        (Adam, {"lr": -1e-3}, "learning rate"),
        (Adam, {"lr": float("nan")}, "learning rate"),
        (Adam, {"betas": (1.0, 0.999)}, "beta parameter at index 0"),
        (Adam, {"betas": (0.9, -0.1)}, "beta parameter at index 1"),
        (Adam, {"betas": 0.9}, "betas"),
        (Adam, {"eps": -1e-8}, "epsilon"),
        (Adam, {"weight_decay": -0.1}, "weight_decay"),
        (AdamW, {"betas": (0.9, 1.5)}, "beta parameter at index 1"),
        (RMSprop, {"lr": -1.0}, "learning rate"),
        (RMSprop, {"alpha": -0.1}, "alpha"),
        (RMSprop, {"momentum": -0.1}, "momentum"),
        (RMSprop, {"eps": -1.0}, "epsilon"),
        (Adagrad, {"lr_decay": -0.1}, "lr_decay"),
        (Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
        (Adagrad, {"eps": -1.0}, "epsilon"),
    ],
)
def test_bad_hyper_parameters_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(np.zeros(3), np.zeros(3), **kwargs)


@pytest.mark.parametrize(
    ("params", "grads", "match"),
    [
        (np.zeros(3), np.zeros(4), "same shape"),
        (np.zeros(3), np.zeros(3, dtype=np.float32), "same dtype"),
        (np.zeros((2, 3)), np.zeros((2, 3)), "1-D"),
        (np.zeros(6)[::2], np.zeros(3), "contiguous"),
        (np.zeros(3), np.zeros(6)[::2], "contiguous"),
        (np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64), "dtype"),
        ([0.0, 0.0], np.zeros(2), "numpy array"),
    ],
)
@pytest.mark.parametrize("cls", list(OPTIMIZERS.values()))
def test_bad_buffers_raise(cls, params, grads, match):
    with pytest.raises(ValueError, match=match):
        cls(params, grads)
