"""Rolling-origin evaluation of a forecaster."""

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..metrics import mae, mase, rmse, smape
from .checks import check_levels
from .panel import interval_columns, to_native


@dataclass(frozen=True)
class BacktestWindow:
    """What ``backtest_panel``'s ``on_window`` callback receives before each window.

    Attributes
    ----------
    window : int
        The window, 0 for the oldest origin.
    n_windows : int
    cutoff : object
        The latest last training time stamp over the series (they share it when the
        series end together).
    refit : bool
        Whether a model is trained for this window (else the last one forecasts).
    """

    window: int
    n_windows: int
    cutoff: object
    refit: bool


def backtest(
    forecaster, y, horizon=None, n_windows=3, step=None, refit=True, X=None, m=1,
    static=None, coverage=None, return_forecasts=False,
):  # fmt: skip
    """Evaluate ``forecaster`` on the last ``n_windows`` forecast origins of ``y``.

    Window ``w`` (0 = oldest) cuts ``horizon + (n_windows - 1 - w) * step`` steps off
    the end of every series, forecasts the next ``horizon`` steps from what is left,
    and scores them against the actual values.

    Parameters
    ----------
    forecaster : LSTMForecaster
        A forecaster (fitted or not: it is cloned, never modified).
    y, X, static
        Series and covariates, as for ``LSTMForecaster.fit`` (every origin sees the
        covariates up to it, and the future-known ones of its forecast steps).
    horizon : int, optional
        Steps per forecast; defaults to the forecaster's horizon.
    n_windows : int, default=3
    step : int, optional
        Steps between origins; defaults to ``horizon`` (non-overlapping windows).
    refit : bool or int, default=True
        True: train at every origin; False: train once, at the first origin, and
        forecast later origins from their longer history; an int ``k``: retrain
        every ``k`` windows.
    m : int, default=1
        Seasonal period of the MASE denominator.
    coverage : float or list of float in (0, 1), optional
        Also score split-conformal intervals at this coverage (or these levels); the
        forecaster needs ``calibration_fraction > 0`` (checked before any training).
    return_forecasts : bool, default=False
        Also return the forecasts of every window.

    Returns
    -------
    scores : DataFrame
        One row per series and window: ``unique_id`` (the forecaster's ``id_col``),
        ``window``, ``cutoff`` (last time stamp of the training data), ``mae``,
        ``rmse``, ``smape``, ``mase``; with ``coverage``, per level the fraction of
        actual values inside the interval and its mean width: ``coverage`` and
        ``width`` for one level given as a number, ``coverage_80``, ``width_80``,
        ``coverage_95``, ... for a list. ``df.groupby(id_col)[metrics].mean()`` gives
        per-series, ``df.groupby("window")`` per-window summaries.
    forecasts : DataFrame
        With ``return_forecasts``: one row per series, window and forecast step, with
        the forecaster's ``id_col`` and ``time_col``, ``cutoff``, the actual value
        (``target_col``), ``y_hat`` and, with ``coverage``, the interval columns of
        ``predict_interval`` (``y_hat_lower``, ``y_hat_upper``, or
        ``y_hat_lower_80``, ... for a list). Returned as ``(scores, forecasts)``.

    Both are polars DataFrames when ``y`` is a polars frame (as :meth:`predict`).
    """
    horizon = forecaster.horizon if horizon is None else horizon
    step = horizon if step is None else step
    for name, value in (("horizon", horizon), ("n_windows", n_windows), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (isinstance(refit, bool) or (isinstance(refit, numbers.Integral) and refit >= 1)):
        raise ValueError(f"refit must be True, False or a positive integer, got {refit!r}")
    template = clone(forecaster)
    panel = template.to_panel(y, X, static)
    result = backtest_panel(template, panel, horizon, n_windows, step, refit, m,
                            coverage=coverage, return_forecasts=return_forecasts)  # fmt: skip
    library = panel.names.get("native")  # polars in, polars out (as predict)
    if return_forecasts:
        return tuple(to_native(frame, library) for frame in result)
    return to_native(result, library)


def backtest_template(forecaster, horizon):
    """An unfitted copy of ``forecaster`` that can forecast ``horizon`` steps."""
    template = clone(forecaster)
    if template.strategy == "mimo" and template.horizon < horizon:
        template.set_params(horizon=horizon)
    return template


def min_backtest_length(forecaster, horizon=None, n_windows=3, step=None):
    """Fewest values a series needs to be trained on at every origin of a backtest."""
    horizon = forecaster.horizon if horizon is None else horizon
    step = horizon if step is None else step
    template = backtest_template(forecaster, horizon)
    return template.min_series_length("fit") + horizon + (n_windows - 1) * step


def backtest_panel(
    forecaster, panel, horizon, n_windows, step, refit, m=1, on_epoch=None, coverage=None,
    return_forecasts=False, on_window=None,
):  # fmt: skip
    """:func:`backtest` on a validated :class:`~tsLSTM.forecasting.panel.Panel`.

    ``on_epoch`` is passed to every training run (see ``LSTMForecaster.fit``);
    ``on_window``, if given, is called with a :class:`BacktestWindow` before each
    window (progress). ``coverage`` and ``return_forecasts`` are those of
    :func:`backtest`.
    """
    levels, scalar = None, True
    if coverage is not None:
        levels, scalar = check_levels(coverage, "coverage", interval_columns)
        if not forecaster.calibration_fraction > 0:
            raise ValueError(
                f"backtest with coverage={coverage!r} needs a forecaster with "
                "calibration_fraction > 0 (its intervals are calibrated on held-out windows)"
            )
    template = backtest_template(forecaster, horizon)
    id_col = template.id_col
    rows, frames, model = [], [], None
    for w in range(n_windows):
        cut = horizon + (n_windows - 1 - w) * step
        train = panel.truncate(cut)
        retrain = (
            model is None or (refit is True) or (not isinstance(refit, bool) and w % refit == 0)
        )
        if on_window is not None:
            cutoffs = [t[-1] for t in train.times if len(t)]
            on_window(BacktestWindow(w, n_windows, max(cutoffs, default=None), retrain))
        if retrain:
            model = clone(template).fit_panel(train, on_epoch=on_epoch)
        cov_future = None
        if panel.covariates is not None:
            cov_future = np.stack([
                panel.covariates[panel.indptr[i + 1] - cut : panel.indptr[i + 1] - cut + horizon]
                for i in range(panel.n_series)
            ])  # fmt: skip
        if levels is None:
            forecasts, intervals = model.predict_panel(train, horizon, cov_future), {}
        else:
            forecasts, intervals = model.predict_panel(train, horizon, cov_future, levels)
        for i, sid in enumerate(panel.ids):
            end = panel.indptr[i + 1] - cut
            actual = panel.values[end : end + horizon]
            history = train.series(i)
            rows.append({
                id_col: sid, "window": w, "cutoff": train.times[i][-1],
                "mae": mae(actual, forecasts[i]), "rmse": rmse(actual, forecasts[i]),
                "smape": smape(actual, forecasts[i]),
                "mase": mase(actual, forecasts[i], history, m),
            })  # fmt: skip
            for level, (lower, upper) in intervals.items():
                suffix = "" if scalar else f"_{100 * level:g}"
                inside = (lower[i] <= actual) & (actual <= upper[i])
                rows[-1]["coverage" + suffix] = inside.mean()
                rows[-1]["width" + suffix] = (upper[i] - lower[i]).mean()
        if return_forecasts:
            names = {level: interval_columns(None if scalar else level) for level in intervals}
            frames.append(_forecast_frame(template, panel, train, horizon, forecasts,
                                          intervals, names))  # fmt: skip
    scores = pd.DataFrame(rows)
    if not return_forecasts:
        return scores
    return scores, pd.concat(frames, ignore_index=True)


def _forecast_frame(forecaster, panel, train, horizon, forecasts, intervals, names):
    """One window's forecasts, long: id, time, cutoff, actual, ``y_hat`` and bounds."""
    n = train.lengths
    after = panel.indptr[:-1, None] + n[:, None] + np.arange(horizon)[None, :]
    times = [t[k : k + horizon] for t, k in zip(panel.times, n, strict=True)]
    frame = pd.DataFrame({
        forecaster.id_col: np.repeat(np.asarray(panel.ids, dtype=object), horizon),
        forecaster.time_col: times[0].append(times[1:]),
        "cutoff": pd.Index([t[-1] for t in train.times]).repeat(horizon),
        forecaster.target_col: panel.values[after].ravel(),
        "y_hat": forecasts.ravel(),
    })  # fmt: skip
    for level, bounds in intervals.items():
        for name, bound in zip(names[level], bounds, strict=True):
            frame[name] = bound.ravel()
    return frame
