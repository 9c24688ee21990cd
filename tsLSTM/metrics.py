"""Forecast accuracy metrics: MAE, RMSE, sMAPE and MASE."""

import numbers

import numpy as np


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty")
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true and y_pred must be finite (no NaN or infinity)")
    return y_true, y_pred


def mae(y_true, y_pred):
    """Mean absolute error."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true, y_pred):
    """Root mean squared error."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def smape(y_true, y_pred):
    """Symmetric mean absolute percentage error, in percent (0 to 200).

    ``200 / n * sum |y - y_hat| / (|y| + |y_hat|)``; terms where both are 0 count 0.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(
        np.abs(y_true - y_pred), denominator, out=np.zeros_like(denominator),
        where=denominator > 0,
    )  # fmt: skip
    return float(200.0 * np.mean(ratio))


def mase(y_true, y_pred, y_train, m=1):
    """Mean absolute scaled error (Hyndman & Koehler, 2006).

    The forecast's MAE divided by the in-sample MAE of the seasonal naive forecast
    with period ``m`` on ``y_train``. Below 1: better than that naive forecast did
    in-sample.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and forecast values.
    y_train : array-like of shape (n,)
        The history the forecast was made from.
    m : int, default=1
        Seasonal period (1: the naive forecast).
    """
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
        raise ValueError(f"m must be a positive integer, got {m!r}")
    y_train = np.asarray(y_train, dtype=np.float64).ravel()
    if y_train.size <= m:
        raise ValueError(f"y_train needs more than m={m} values, got {y_train.size}")
    if not np.all(np.isfinite(y_train)):
        raise ValueError("y_train must be finite (no NaN or infinity)")
    scale = np.mean(np.abs(y_train[m:] - y_train[:-m]))
    if scale == 0:
        raise ValueError(f"MASE is undefined: y_train is constant at lag m={m}")
    return mae(y_true, y_pred) / float(scale)


METRICS = {"mae": mae, "rmse": rmse, "smape": smape}
