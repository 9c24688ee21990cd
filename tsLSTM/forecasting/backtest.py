"""Rolling-origin evaluation of a forecaster."""

import numbers

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..metrics import mae, mase, rmse, smape


def backtest(forecaster, y, horizon=None, n_windows=3, step=None, refit=True, X=None, m=1,
             static=None):  # fmt: skip
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

    Returns
    -------
    pandas.DataFrame
        One row per series and window: ``unique_id`` (the forecaster's ``id_col``),
        ``window``, ``cutoff`` (last time stamp of the training data), ``mae``,
        ``rmse``, ``smape``, ``mase``. ``df.groupby(id_col)[metrics].mean()`` gives
        per-series, ``df.groupby("window")`` per-window summaries.
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
    return backtest_panel(template, panel, horizon, n_windows, step, refit, m)


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


def backtest_panel(forecaster, panel, horizon, n_windows, step, refit, m=1, on_epoch=None):
    """:func:`backtest` on a validated :class:`~tsLSTM.forecasting.panel.Panel`.

    ``on_epoch`` is passed to every training run (see ``LSTMForecaster.fit``).
    """
    template = backtest_template(forecaster, horizon)
    id_col = template.id_col
    rows, model = [], None
    for w in range(n_windows):
        cut = horizon + (n_windows - 1 - w) * step
        train = panel.truncate(cut)
        retrain = (
            model is None or (refit is True) or (not isinstance(refit, bool) and w % refit == 0)
        )
        if retrain:
            model = clone(template).fit_panel(train, on_epoch=on_epoch)
        cov_future = None
        if panel.covariates is not None:
            cov_future = np.stack([
                panel.covariates[panel.indptr[i + 1] - cut : panel.indptr[i + 1] - cut + horizon]
                for i in range(panel.n_series)
            ])  # fmt: skip
        forecasts = model.predict_panel(train, horizon, cov_future)
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
    return pd.DataFrame(rows)
