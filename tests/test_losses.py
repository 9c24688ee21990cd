"""Loss values and gradients against torch.nn losses as the oracle."""

import warnings

import numpy as np
import pytest
from conftest import require

from tsLSTM.losses import (
    LOSSES,
    binary_cross_entropy_with_logits,
    mean_squared_error,
    softmax_cross_entropy_with_logits,
)

RTOL = 1e-12
N = 17


@pytest.fixture(scope="module")
def torch():
    return require("torch")


def _weights(rng, n=N):
    w = rng.uniform(0.0, 3.0, n)
    w[3] = 0.0  # a zero weight must simply drop the sample
    return w


def _torch_value_and_grad(torch, loss_fn, y_true, y_pred, sample_weight):
    """Reference: torch's per-element loss, reduced like tsLSTM, and autograd's gradient."""
    pred = torch.tensor(y_pred, requires_grad=True)
    target = torch.from_numpy(np.asarray(y_true))
    if sample_weight is None:
        loss = loss_fn(reduction="mean")(pred, target)
    else:
        per_element = loss_fn(reduction="none")(pred, target)
        per_sample = per_element if per_element.ndim == 1 else per_element.mean(dim=1)
        w = torch.from_numpy(sample_weight)
        loss = (per_sample * w).sum() / w.sum()
    loss.backward()
    return loss.item(), pred.grad.numpy()


def _assert_matches(value, grad, expected_value, expected_grad, y_pred):
    assert isinstance(value, float)
    assert grad.shape == y_pred.shape
    assert grad.dtype == y_pred.dtype
    np.testing.assert_allclose(value, expected_value, rtol=RTOL)
    np.testing.assert_allclose(
        grad, expected_grad, rtol=RTOL, atol=RTOL * np.abs(expected_grad).max()
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", [(N,), (N, 1), (N, 3)])
def test_mse_matches_torch(torch, shape, weighted):
    rng = np.random.default_rng(0)
    y_pred = rng.standard_normal(shape)
    y_true = rng.standard_normal(shape)
    w = _weights(rng) if weighted else None
    value, grad = mean_squared_error(y_true, y_pred, sample_weight=w)
    expected = _torch_value_and_grad(torch, torch.nn.MSELoss, y_true, y_pred, w)
    _assert_matches(value, grad, *expected, y_pred)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", [(N,), (N, 1), (N, 4)])
def test_bce_matches_torch(torch, shape, weighted):
    rng = np.random.default_rng(1)
    y_pred = 4.0 * rng.standard_normal(shape)
    y_true = rng.integers(0, 2, shape).astype(np.float64)
    y_true.flat[:3] = [0.25, 0.5, 0.9]  # soft labels
    w = _weights(rng) if weighted else None
    value, grad = binary_cross_entropy_with_logits(y_true, y_pred, sample_weight=w)
    expected = _torch_value_and_grad(torch, torch.nn.BCEWithLogitsLoss, y_true, y_pred, w)
    _assert_matches(value, grad, *expected, y_pred)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n_classes", [2, 5])
def test_softmax_ce_matches_torch(torch, n_classes, weighted):
    rng = np.random.default_rng(2)
    y_pred = 3.0 * rng.standard_normal((N, n_classes))
    y_true = rng.integers(0, n_classes, N)
    w = _weights(rng) if weighted else None
    value, grad = softmax_cross_entropy_with_logits(y_true, y_pred, sample_weight=w)
    expected = _torch_value_and_grad(torch, torch.nn.CrossEntropyLoss, y_true, y_pred, w)
    _assert_matches(value, grad, *expected, y_pred)


@pytest.mark.parametrize("name", list(LOSSES))
def test_unit_weights_equal_unweighted_and_zero_weight_drops_sample(name):
    rng = np.random.default_rng(3)
    loss = LOSSES[name]
    if name == "softmax_ce":
        y_pred, y_true = rng.standard_normal((N, 3)), rng.integers(0, 3, N)
    else:
        y_pred, y_true = rng.standard_normal((N, 2)), rng.uniform(0.0, 1.0, (N, 2))
    plain = loss(y_true, y_pred)
    unit = loss(y_true, y_pred, sample_weight=np.ones(N))
    assert plain[0] == unit[0]
    np.testing.assert_array_equal(plain[1], unit[1])

    w = np.ones(N)
    w[5] = 0.0
    keep = w > 0
    weighted = loss(y_true, y_pred, sample_weight=w)
    subset = loss(y_true[keep], y_pred[keep])
    np.testing.assert_allclose(weighted[0], subset[0], rtol=1e-14)
    np.testing.assert_allclose(weighted[1][keep], subset[1], rtol=1e-14)
    assert (weighted[1][5] == 0).all()


@pytest.mark.parametrize("name", list(LOSSES))
def test_float32_output_gives_float32_gradient(name):
    rng = np.random.default_rng(4)
    y_pred = rng.standard_normal((N, 3)).astype(np.float32)
    y_true = rng.integers(0, 3, N) if name == "softmax_ce" else rng.uniform(0, 1, (N, 3))
    value, grad = LOSSES[name](y_true, y_pred)
    value64, grad64 = LOSSES[name](y_true, y_pred.astype(np.float64))
    assert grad.dtype == np.float32
    assert value == value64  # the value is accumulated in float64 either way
    np.testing.assert_allclose(grad, grad64, rtol=1e-6)


def test_bce_extreme_logits_are_exact_and_silent(torch):
    z = np.array([1e4, -1e4, 1e4, -1e4])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        value, grad = binary_cross_entropy_with_logits(y, z)
        single, _ = binary_cross_entropy_with_logits(y[:1], z[:1])
    assert single == 1e4
    assert value == 5e3
    np.testing.assert_array_equal(grad, [0.25, -0.25, 0.0, 0.0])
    expected = _torch_value_and_grad(torch, torch.nn.BCEWithLogitsLoss, y, z, None)
    _assert_matches(value, grad, *expected, z)


def test_softmax_ce_extreme_logits_are_exact_and_silent(torch):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
    y = np.array([1, 1])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        value, grad = softmax_cross_entropy_with_logits(y, z)
    assert value == 1e4
    np.testing.assert_array_equal(grad, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]])
    expected = _torch_value_and_grad(torch, torch.nn.CrossEntropyLoss, y, z, None)
    _assert_matches(value, grad, *expected, z)


def test_mse_accepts_1d_targets_for_single_output():
    y_pred = np.array([[1.0], [2.0]])
    value, grad = mean_squared_error(np.array([0.0, 0.0]), y_pred)
    assert value == 2.5
    np.testing.assert_array_equal(grad, [[1.0], [2.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape", [(32,), (32, 1), (7, 3), (5, 12)])
@pytest.mark.parametrize("weighted", [False, True])
def test_mse_gradient_is_numpys_bits(dtype, shape, weighted):
    """The compiled pass (float32, float64; float16 takes numpy's path) gives the
    gradient of numpy's float64 arithmetic bit for bit, and its value up to the order
    of the sums."""
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    y_pred = rng.standard_normal(shape).astype(dtype)
    y_true = rng.standard_normal(shape)
    w = rng.uniform(0.1, 2.0, shape[0]) if weighted else None
    value, grad = mean_squared_error(y_true, y_pred, w)
    coef = np.full(shape[0], 1.0 / shape[0]) if w is None else w / w.sum()
    diff = y_pred.astype(np.float64) - y_true
    scale = coef if len(shape) == 1 else (coef / shape[1])[:, None]
    assert grad.dtype == dtype
    np.testing.assert_array_equal(grad, ((2.0 * diff) * scale).astype(dtype))
    per_sample = diff * diff if len(shape) == 1 else (diff * diff).mean(axis=1)
    np.testing.assert_allclose(value, coef @ per_sample, rtol=1e-14)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["y_true", "y_pred"])
def test_mse_names_a_non_finite_input_even_under_a_zero_weight(bad, where):
    """The compiled pass checks finiteness only when its value is not finite: a bad
    value under a zero sample weight must still make it so."""
    arrays = {"y_true": np.zeros(3), "y_pred": np.zeros((3, 1), np.float32)}
    arrays[where][1] = bad
    with pytest.raises(ValueError, match=f"{where} contains NaN or infinity"):
        mean_squared_error(arrays["y_true"], arrays["y_pred"], np.array([1.0, 0.0, 1.0]))


def test_mse_value_does_not_depend_on_the_batch_layout():
    """A non-contiguous output and its contiguous copy give the same bits."""
    rng = np.random.default_rng(0)
    y_pred = rng.standard_normal((40, 6)).astype(np.float32)[::2, ::3]
    y_true = rng.standard_normal((20, 2))
    strided = mean_squared_error(y_true, y_pred)
    contiguous = mean_squared_error(y_true, np.ascontiguousarray(y_pred))
    assert strided[0] == contiguous[0]
    np.testing.assert_array_equal(strided[1], contiguous[1])


@pytest.mark.parametrize(
    ("loss", "y_true", "y_pred", "kwargs", "match"),
    [
        (mean_squared_error, np.zeros(3), np.zeros(4), {}, "shape"),
        (mean_squared_error, np.zeros((3, 2)), np.zeros((3, 3)), {}, "shape"),
        (mean_squared_error, np.zeros((3, 2, 1)), np.zeros((3, 2, 1)), {}, "1-D or 2-D"),
        (mean_squared_error, np.zeros(0), np.zeros(0), {}, "empty"),
        (mean_squared_error, np.zeros(3), np.zeros(3, dtype=int), {}, "floating"),
        (mean_squared_error, np.zeros(3), np.array([0.0, np.nan, 1.0]), {}, "y_pred.*NaN"),
        (mean_squared_error, np.array([0.0, np.nan, 1.0]), np.zeros(3), {}, "y_true.*NaN"),
        (mean_squared_error, np.zeros(3), np.zeros(3), {"sample_weight": np.ones(2)}, "length"),
        (mean_squared_error, np.zeros(3), np.zeros(3), {"sample_weight": np.ones((3, 1))}, "1-D"),
        (
            mean_squared_error,
            np.zeros(3),
            np.zeros(3),
            {"sample_weight": np.array([1.0, -1.0, 1.0])},
            "non-negative",
        ),
        (mean_squared_error, np.zeros(3), np.zeros(3), {"sample_weight": np.zeros(3)}, "zero"),
        (
            mean_squared_error,
            np.zeros(3),
            np.zeros(3),
            {"sample_weight": np.array([1.0, np.nan, 1.0])},
            "sample_weight.*NaN",
        ),
        (binary_cross_entropy_with_logits, np.array([0.0, 1.5]), np.zeros(2), {}, r"\[0, 1\]"),
        (binary_cross_entropy_with_logits, np.array([-0.1, 1.0]), np.zeros(2), {}, r"\[0, 1\]"),
        (binary_cross_entropy_with_logits, np.zeros(2), np.array([np.nan, 0.0]), {}, "NaN"),
        (softmax_cross_entropy_with_logits, np.array([0, 3]), np.zeros((2, 3)), {}, "range"),
        (softmax_cross_entropy_with_logits, np.array([-1, 0]), np.zeros((2, 3)), {}, "range"),
        (softmax_cross_entropy_with_logits, np.array([0, 1, 2]), np.zeros((2, 3)), {}, "length"),
        (softmax_cross_entropy_with_logits, np.array([0.5, 1.0]), np.zeros((2, 3)), {}, "integer"),
        (softmax_cross_entropy_with_logits, np.zeros((2, 3)), np.zeros((2, 3)), {}, "1-D"),
        (softmax_cross_entropy_with_logits, np.array([0, 1]), np.zeros(2), {}, "2-D"),
        (
            softmax_cross_entropy_with_logits,
            np.array([0, 1]),
            np.array([[0.0, np.nan], [0.0, 0.0]]),
            {},
            "NaN",
        ),
        (
            softmax_cross_entropy_with_logits,
            np.array([0, 1]),
            np.zeros((2, 2)),
            {"sample_weight": np.zeros(2)},
            "zero",
        ),
    ],
)
def test_bad_inputs_raise(loss, y_true, y_pred, kwargs, match):
    with pytest.raises(ValueError, match=match):
        loss(y_true, y_pred, **kwargs)
