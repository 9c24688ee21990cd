"""Loss functions: value and gradient with respect to the network output.

Every loss has the signature ``loss(y_true, y_pred, sample_weight=None)`` and returns
``(value, grad)``: ``value`` is a Python float accumulated in float64, ``grad`` is
``d value / d y_pred`` with ``y_pred``'s shape and dtype. The losses act on raw network
outputs (regression values or logits), so the output layer stays linear and the
backward pass starts from ``grad``.

Reduction. Each sample ``i`` gets a loss ``l_i`` (averaged over its outputs when
``y_pred`` is 2-D and the loss is elementwise); the value is the weighted mean
``sum_i w_i l_i / sum_i w_i``, the plain mean without ``sample_weight``. With unit
weights every loss equals the ``reduction="mean"`` form of its PyTorch counterpart
(``MSELoss``, ``BCEWithLogitsLoss``, ``CrossEntropyLoss``).

The functions are numpy, with the compiled finiteness check of
:mod:`tsLSTM.kernels.checks` and, for the squared error of float32 and float64
outputs, the one-pass value and gradient of :mod:`tsLSTM.kernels.losses`: they run
once per batch, and a training step of a small model is short enough for their
numpy calls to count.
"""

import math

import numpy as np

from .kernels.checks import all_finite
from .kernels.losses import squared_error

__all__ = [
    "LOSSES",
    "binary_cross_entropy_with_logits",
    "mean_squared_error",
    "softmax_cross_entropy_with_logits",
]


# output types of the compiled squared error (others, float16 say, take numpy's path)
_COMPILED_TYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _check_finite(name, a):
    if not all_finite(a):
        raise ValueError(f"{name} contains NaN or infinity")


def _check_y_pred(y_pred, allowed_ndim, finite=True):
    """Validate the network output: a non-empty, finite floating array.

    ``finite=False`` leaves out the finiteness check, for a caller that makes it only
    when its result is not finite (see :func:`mean_squared_error`).
    """
    y_pred = np.asarray(y_pred)
    if y_pred.dtype.kind != "f":  # a floating-point type
        raise ValueError(f"y_pred must have a floating dtype, got {y_pred.dtype}")
    if y_pred.ndim not in allowed_ndim:
        expected = " or ".join(f"{d}-D" for d in allowed_ndim)
        raise ValueError(f"y_pred must be {expected}, got shape {y_pred.shape}")
    if y_pred.shape[0] == 0 or y_pred.size == 0:
        raise ValueError(f"y_pred is empty (shape {y_pred.shape})")
    if finite:
        _check_finite("y_pred", y_pred)
    return y_pred


def _check_targets(y_true, y_pred, finite=True):
    """Targets of an elementwise loss as float64 with ``y_pred``'s shape.

    ``y_true`` must have ``y_pred``'s shape, except that 1-D targets of length N are
    accepted for an ``(N, 1)`` output. ``finite`` as in :func:`_check_y_pred`.
    """
    y_true = np.asarray(y_true)
    if y_true.dtype.kind not in "biufc":  # bool, integers, floating, complex
        raise ValueError(f"y_true must be numeric, got dtype {y_true.dtype}")
    if y_true.shape != y_pred.shape:
        if y_pred.ndim == 2 and y_pred.shape[1] == 1 and y_true.shape == (y_pred.shape[0],):
            y_true = y_true.reshape(y_pred.shape)
        else:
            raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    y_true = y_true.astype(np.float64)
    if finite:
        _check_finite("y_true", y_true)
    return y_true


def _sample_coef(sample_weight, n_samples):
    """Per-sample coefficients ``w_i / sum(w)`` (``1 / N`` without weights), float64."""
    if sample_weight is None:
        return np.full(n_samples, 1.0 / n_samples)
    w = np.asarray(sample_weight)
    if not (np.issubdtype(w.dtype, np.number) or w.dtype == np.bool_):
        raise ValueError(f"sample_weight must be numeric, got dtype {w.dtype}")
    w = w.astype(np.float64)
    if w.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {w.shape}")
    if w.shape[0] != n_samples:
        raise ValueError(f"sample_weight has length {w.shape[0]} but there are {n_samples} samples")
    _check_finite("sample_weight", w)
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative")
    total = w.sum()
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum (all weights are zero)")
    return w / total


def _reduce(per_element, coef):
    """Weighted mean over samples of the per-sample mean over outputs."""
    if per_element.ndim == 1:
        per_sample = per_element
    elif per_element.shape[1] == 1:  # the mean of one output is that output, exactly
        per_sample = per_element[:, 0]
    else:
        per_sample = per_element.mean(axis=1)
    return float(np.dot(coef, per_sample))


def _grad_scale(coef, y_pred):
    """``coef / K`` shaped to broadcast against ``y_pred`` (K outputs per sample)."""
    if y_pred.ndim == 1:
        return coef
    return (coef / y_pred.shape[1])[:, None]


def mean_squared_error(y_true, y_pred, sample_weight=None):
    r"""Mean squared error and its gradient.

    .. math::

        L = \sum_i c_i \frac{1}{K} \sum_k (\hat y_{ik} - y_{ik})^2, \qquad
        \frac{\partial L}{\partial \hat y_{ik}} = \frac{2 c_i}{K} (\hat y_{ik} - y_{ik}),

    with :math:`c_i = w_i / \sum_j w_j` (:math:`1/N` without weights). Unweighted, this is
    ``torch.nn.MSELoss(reduction="mean")``.

    Parameters
    ----------
    y_true : array-like, shape (N,) or (N, K)
        Targets; ``(N,)`` is also accepted for an ``(N, 1)`` output.
    y_pred : ndarray, shape (N,) or (N, K)
        Predictions (floating dtype).
    sample_weight : array-like, shape (N,), optional
        Non-negative sample weights with a positive sum.

    Returns
    -------
    value : float
        The loss, accumulated in float64.
    grad : ndarray
        Gradient with respect to ``y_pred``, same shape and dtype.
    """
    y_pred = _check_y_pred(y_pred, (1, 2), finite=False)
    y_true = _check_targets(y_true, y_pred, finite=False)
    coef = _sample_coef(sample_weight, y_pred.shape[0])
    if y_pred.dtype in _COMPILED_TYPES:  # one compiled pass (kernels.losses)
        rows = (y_pred.shape[0], -1)  # (N,) as (N, 1): the same arithmetic
        grad = np.empty(y_pred.shape, dtype=y_pred.dtype)
        value = squared_error(
            np.ascontiguousarray(y_true.reshape(rows)), np.ascontiguousarray(y_pred.reshape(rows)),
            coef, grad.reshape(rows),
        )  # fmt: skip
        # a NaN or infinity in either input makes the value NaN or infinite (its
        # terms are >= 0, or NaN for a zero weight times infinity): only then check
        if not math.isfinite(value):
            _check_finite("y_pred", y_pred)
            _check_finite("y_true", y_true)
        return value, grad
    _check_finite("y_pred", y_pred)
    _check_finite("y_true", y_true)
    diff = y_pred.astype(np.float64) - y_true
    value = _reduce(diff * diff, coef)
    grad = (2.0 * diff) * _grad_scale(coef, y_pred)
    return value, grad.astype(y_pred.dtype, copy=False)


def _stable_sigmoid(z):
    """Logistic function of float64 ``z`` without overflow: uses ``exp(-|z|)`` only."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), e


def binary_cross_entropy_with_logits(y_true, y_pred, sample_weight=None):
    r"""Binary cross-entropy on logits, and its gradient.

    For logit :math:`z` and target :math:`y \in [0, 1]` the elementwise loss is written
    in the overflow-free form

    .. math::

        \ell(z, y) = \max(z, 0) - z y + \log(1 + e^{-|z|}), \qquad
        \frac{\partial \ell}{\partial z} = \sigma(z) - y,

    and :math:`L = \sum_i c_i \frac{1}{K}\sum_k \ell(z_{ik}, y_{ik})` with
    :math:`c_i = w_i / \sum_j w_j`, so the gradient is
    :math:`(\sigma(z_{ik}) - y_{ik})\, c_i / K`. Unweighted, this is
    ``torch.nn.BCEWithLogitsLoss(reduction="mean")``. Exact and finite for any finite
    logit (``z = 1e4, y = 0`` gives ``1e4``).

    Parameters
    ----------
    y_true : array-like, shape (N,) or (N, K)
        Targets (probabilities) in [0, 1]; ``(N,)`` is also accepted for ``(N, 1)``
        logits. ``K > 1`` is multi-label classification.
    y_pred : ndarray, shape (N,) or (N, K)
        Logits (floating dtype).
    sample_weight : array-like, shape (N,), optional
        Non-negative sample weights with a positive sum.

    Returns
    -------
    value : float
        The loss, accumulated in float64.
    grad : ndarray
        Gradient with respect to ``y_pred``, same shape and dtype.
    """
    y_pred = _check_y_pred(y_pred, (1, 2))
    y_true = _check_targets(y_true, y_pred)
    if ((y_true < 0) | (y_true > 1)).any():
        raise ValueError("y_true must lie in [0, 1] for binary cross-entropy")
    coef = _sample_coef(sample_weight, y_pred.shape[0])
    z = y_pred.astype(np.float64)
    with np.errstate(under="ignore"):
        sigmoid, e = _stable_sigmoid(z)
        loss = np.maximum(z, 0.0) - z * y_true + np.log1p(e)
    value = _reduce(loss, coef)
    grad = (sigmoid - y_true) * _grad_scale(coef, y_pred)
    return value, grad.astype(y_pred.dtype, copy=False)


def _check_class_indices(y_true, n_samples, n_classes):
    """Class labels as ``intp`` indices in ``[0, n_classes)``."""
    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D class indices, got shape {y_true.shape}")
    if y_true.shape[0] != n_samples:
        raise ValueError(f"y_true has length {y_true.shape[0]} but y_pred has {n_samples} samples")
    if np.issubdtype(y_true.dtype, np.floating):
        _check_finite("y_true", y_true)
        if (y_true != np.floor(y_true)).any():
            raise ValueError("y_true must hold integer class indices")
    elif not (np.issubdtype(y_true.dtype, np.integer) or y_true.dtype == np.bool_):
        raise ValueError(f"y_true must hold integer class indices, got dtype {y_true.dtype}")
    if ((y_true < 0) | (y_true >= n_classes)).any():
        raise ValueError(
            f"y_true holds a class index out of range [0, {n_classes}): "
            f"min {y_true.min()}, max {y_true.max()}"
        )
    return y_true.astype(np.intp)


def softmax_cross_entropy_with_logits(y_true, y_pred, sample_weight=None):
    r"""Softmax cross-entropy on logits with integer class targets, and its gradient.

    With the max-shifted log-softmax
    :math:`\log p_{ic} = (z_{ic} - m_i) - \log\sum_{c'} e^{z_{ic'} - m_i}`,
    :math:`m_i = \max_c z_{ic}`:

    .. math::

        L = -\sum_i c_i \log p_{i y_i}, \qquad
        \frac{\partial L}{\partial z_{ic}} = c_i (p_{ic} - [c = y_i]),

    with :math:`c_i = w_i / \sum_j w_j`. Unweighted, this is
    ``torch.nn.CrossEntropyLoss(reduction="mean")``. Finite for any finite logits.

    Parameters
    ----------
    y_true : array-like of int, shape (N,)
        Class indices in ``[0, C)`` (integer dtype, or floats holding integers).
    y_pred : ndarray, shape (N, C)
        Logits (floating dtype).
    sample_weight : array-like, shape (N,), optional
        Non-negative sample weights with a positive sum.

    Returns
    -------
    value : float
        The loss, accumulated in float64.
    grad : ndarray, shape (N, C)
        Gradient with respect to ``y_pred``, same dtype.
    """
    y_pred = _check_y_pred(y_pred, (2,))
    n_samples, n_classes = y_pred.shape
    y_true = _check_class_indices(y_true, n_samples, n_classes)
    coef = _sample_coef(sample_weight, n_samples)
    z = y_pred.astype(np.float64)
    rows = np.arange(n_samples)
    with np.errstate(under="ignore"):
        shifted = z - z.max(axis=1, keepdims=True)
        log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        prob = np.exp(log_prob)
    value = float(-np.dot(coef, log_prob[rows, y_true]))
    prob[rows, y_true] -= 1.0
    grad = prob * coef[:, None]
    return value, grad.astype(y_pred.dtype, copy=False)


LOSSES = {
    "mse": mean_squared_error,
    "bce": binary_cross_entropy_with_logits,
    "softmax_ce": softmax_cross_entropy_with_logits,
}
