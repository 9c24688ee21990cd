"""Plots of forecasts, backtests and training curves (``pip install 'tsLSTM[plot]'``).

Each function draws with matplotlib (imported on first call, never at ``import
tsLSTM``) and returns the :class:`matplotlib.figure.Figure`; none calls
``plt.show()``. The inputs are what the estimators take and return: the history
``fit``/``predict`` took, the forecasts ``predict``/``predict_interval`` returned, the
frame of ``backtest(..., return_forecasts=True)``, a fitted estimator.

Prediction intervals are the columns ``y_hat_lower``/``y_hat_upper``, or pairs with a
common suffix (``y_hat_lower_80``/``y_hat_upper_80``): each pair is a shaded band.
Quantile forecasts (``y_hat_q0.1``, ... of ``predict_quantiles``) are drawn the same
way: the 0.5 quantile as the forecast, the quantiles ``alpha`` and ``1 - alpha`` as the
band of coverage ``1 - 2 * alpha``, any other quantile as a dashed line.
"""

import math
import re

import numpy as np
import pandas as pd

from .forecasting.panel import interval_columns
from .forecasting.readers import as_pandas, is_long

__all__ = ["plot_backtest", "plot_forecast", "plot_loss"]

_BAND = re.compile(r"^y_hat_lower(.*)$")
_QUANTILE = re.compile(r"^y_hat_q(\d*\.?\d+(?:e-?\d+)?)$")
_SINGLE = object()  # the id of a forecast that holds one unnamed series
_JOINED = re.compile(r"^(.+)_(y_hat(?:_.+)?)$")  # a polars wide frame's '{series}_{column}'


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"tsLSTM's plots need matplotlib: pip install 'tsLSTM[plot]' ({exc})"
        ) from exc
    return plt


def _x(values):
    """Time stamps matplotlib can place: periods become their start, dates are parsed."""
    index = pd.Index(values)
    if isinstance(index, pd.PeriodIndex):
        return index.to_timestamp()
    if index.dtype == object:
        try:
            return pd.DatetimeIndex(pd.to_datetime(index))
        except (ValueError, TypeError):
            return index
    return index


def _bands(columns):
    """``(lower, upper, label)`` of each interval pair, the widest first."""
    pairs = []
    for column in columns:
        match = _BAND.match(str(column))
        if match and f"y_hat_upper{match.group(1)}" in columns:
            suffix = match.group(1).lstrip("_")
            level = float(suffix) if suffix.replace(".", "", 1).isdigit() else None
            label = f"{suffix}% interval" if level is not None else f"interval {suffix}".strip()
            pairs.append((column, f"y_hat_upper{match.group(1)}", label, level))
    pairs.sort(key=lambda p: -(p[3] or 0))
    return [p[:3] for p in pairs]


def _is_forecast(columns):
    """Whether ``columns`` hold a forecast: ``y_hat`` or quantile columns."""
    return any(c == "y_hat" or _QUANTILE.match(str(c)) for c in columns)


def _from_quantiles(frame):
    """``frame`` with ``predict_quantiles``' columns renamed as :func:`_draw_forecast`
    draws them: the 0.5 quantile ``y_hat``, the pair ``alpha``, ``1 - alpha`` the
    bounds of the interval of coverage ``1 - 2 * alpha``."""
    alphas = {}
    for column in frame.columns:
        match = _QUANTILE.match(str(column))
        if match:
            alphas[round(float(match.group(1)), 12)] = column
    names = {}
    if 0.5 in alphas and "y_hat" not in frame.columns:
        names[alphas[0.5]] = "y_hat"
    for alpha, column in alphas.items():
        upper = alphas.get(round(1 - alpha, 12))
        if alpha < 0.5 and upper is not None:
            bounds = interval_columns(round(1 - 2 * alpha, 12))
            if not set(bounds) & set(frame.columns):
                names.update(zip((column, upper), bounds, strict=True))
    return frame.rename(columns=names)


def _native_forecast(forecast, id_col, time_col, n_history):
    """A polars forecast as the pandas container ``predict`` gives for pandas input.

    polars output has no index: a series' forecasts (a Series, or a frame without a
    time column) are placed after the history, as an array's are, and a wide frame's
    ``'{series}_{column}'`` columns become ``(series, column)`` again.
    """
    forecast, library = as_pandas(forecast, id_col, time_col)
    if library is None:
        return forecast
    if isinstance(forecast, pd.Series):
        return forecast.to_numpy()
    if id_col in forecast.columns:
        return forecast  # long
    if isinstance(forecast.index, pd.RangeIndex):
        return forecast.set_axis(pd.RangeIndex(n_history, n_history + len(forecast)))
    parts = [_JOINED.match(str(c)) for c in forecast.columns]
    if not _is_forecast(forecast.columns) and parts and all(parts):
        columns = pd.MultiIndex.from_tuples([m.groups() for m in parts])
        return forecast.set_axis(columns, axis=1)
    return forecast


def _history(history, id_col, time_col, target_col):
    """``{id: pd.Series}`` of the series in ``history`` (any container the forecaster takes)."""
    if history is None:
        return {}
    history = as_pandas(history, id_col, time_col)[0]  # polars too
    if is_long(history, id_col, time_col, target_col):
        return {
            sid: pd.Series(g[target_col].to_numpy(float), index=_x(g[time_col]))
            for sid, g in history.groupby(id_col, sort=False)
        }
    if isinstance(history, pd.DataFrame):
        return {c: pd.Series(history[c].to_numpy(float), index=_x(history.index)) for c in history}
    if isinstance(history, pd.Series):
        name = history.name if history.name is not None else 0
        return {name: pd.Series(history.to_numpy(float), index=_x(history.index))}
    values = np.asarray(history, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"history: expected a 1-D array, got shape {values.shape}")
    return {0: pd.Series(values)}


def _forecasts(forecast, id_col, time_col, n_history):
    """``{id: DataFrame}`` with ``y_hat`` and interval columns, indexed by time stamp."""
    if (
        isinstance(forecast, pd.DataFrame)
        and {id_col, time_col} <= set(forecast)
        and _is_forecast(forecast.columns)
    ):
        return {
            sid: _from_quantiles(g.drop(columns=[id_col, time_col]).set_index(_x(g[time_col])))
            for sid, g in forecast.groupby(id_col, sort=False)
        }
    if isinstance(forecast, pd.DataFrame) and isinstance(forecast.columns, pd.MultiIndex):
        index = _x(forecast.index)
        return {
            sid: _from_quantiles(forecast[sid].set_index(index))
            for sid in forecast.columns.unique(level=0)
        }  # wide, with intervals or quantiles: (id, part) columns
    if isinstance(forecast, pd.DataFrame) and _is_forecast(forecast.columns):
        return {_SINGLE: _from_quantiles(forecast.set_index(_x(forecast.index)))}
    if isinstance(forecast, pd.DataFrame):
        index = _x(forecast.index)
        return {c: pd.DataFrame({"y_hat": forecast[c].to_numpy()}, index=index) for c in forecast}
    if isinstance(forecast, pd.Series):
        name = forecast.name if forecast.name is not None else _SINGLE
        return {name: pd.DataFrame({"y_hat": forecast.to_numpy()}, index=_x(forecast.index))}
    values = np.asarray(forecast, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] % 2 != 1:
        raise ValueError(
            "forecast: expected an array of shape (horizon,) or (horizon, 1 + 2 * k) (y_hat, "
            f"then lower, upper of each of k levels), got shape {np.shape(forecast)}"
        )
    k = values.shape[1] // 2
    columns = ["y_hat"]  # one level: y_hat_lower/upper; several: unnamed levels, in order
    for j in range(1, k + 1):
        columns += [f"y_hat_{bound}{'' if k == 1 else f'_#{j}'}" for bound in ("lower", "upper")]
    index = pd.RangeIndex(n_history, n_history + len(values))
    return {_SINGLE: pd.DataFrame(values, columns=columns, index=index)}


def _chosen(available, ids, max_series):
    """The ids to plot and a note when some were left out."""
    if ids is not None:
        ids = list(ids)
        unknown = [i for i in ids if i not in available]
        if unknown:
            raise ValueError(f"ids: no series {unknown} in the data (it has {available[:10]})")
        return ids, None
    if len(available) > max_series:
        return available[:max_series], (
            f"the first {max_series} of {len(available)} series (ids= chooses)"
        )
    return available, None


def _axes(n, ax, figsize):
    """A figure with ``n`` axes (a grid of up to 2 columns), or the given ``ax``."""
    if ax is not None:
        axes = list(np.ravel(ax))
        if len(axes) < n:
            raise ValueError(f"ax: {n} series need {n} axes, got {len(axes)}")
        return axes[0].figure, axes[:n]
    ncols = 1 if n == 1 else 2
    nrows = math.ceil(n / ncols)
    size = figsize or (6.4 * ncols, 3.2 * nrows)
    fig, grid = _pyplot().subplots(nrows, ncols, figsize=size, squeeze=False)
    grid = list(grid.ravel())
    for extra in grid[n:]:
        fig.delaxes(extra)
    return fig, grid[:n]


def _draw_forecast(ax, frame, color, label, band_labels=True):
    """A forecast line and its interval bands on ``ax`` (bands in the legend or not)."""
    for lower, upper, band in _bands(list(frame.columns)):
        ax.fill_between(frame.index, frame[lower].to_numpy(float), frame[upper].to_numpy(float),
                        color=color, alpha=0.2, linewidth=0,
                        label=band if band_labels else "_nolegend_")  # fmt: skip
    for column in frame.columns:  # quantiles not paired into a band
        if _QUANTILE.match(str(column)):
            ax.plot(frame.index, frame[column].to_numpy(float), color=color, linestyle="--",
                    linewidth=1, label=f"quantile {column[len('y_hat_q'):]}")  # fmt: skip
    if "y_hat" in frame.columns:
        ax.plot(frame.index, frame["y_hat"].to_numpy(float), color=color, label=label)


def _finish(fig, axes, ids, note):
    for ax, sid in zip(axes, ids, strict=True):
        if sid is not _SINGLE:
            ax.set_title(str(sid))
    axes[0].legend(loc="best", fontsize="small")
    if note:
        fig.suptitle(note)
    return fig


def plot_forecast(
    history, forecast, ids=None, max_series=8, history_length=None, id_col="unique_id",
    time_col="ds", target_col="y", ax=None, figsize=None,
):  # fmt: skip
    """Plot the history, the forecast and its intervals of one series or several.

    Parameters
    ----------
    history : array-like, pd.Series or DataFrame or None
        What ``fit`` or ``predict(y=...)`` took: a 1-D array, a Series, a wide
        DataFrame (one column per series) or a long DataFrame (``id_col``,
        ``time_col``, ``target_col``), pandas or polars. None plots the forecast alone.
    forecast : array-like, pd.Series or DataFrame
        What ``predict``, ``predict_interval`` or ``predict_quantiles`` returned for
        that history (an array, whose columns have no names, is read as
        ``predict``'s or ``predict_interval``'s, never as quantiles). Columns
        ``y_hat_lower``/``y_hat_upper`` (or suffixed pairs such as
        ``y_hat_lower_80``/``y_hat_upper_80``) are shaded; so are the column pairs of
        an array of shape (horizon, 1 + 2 * k) (``predict_interval`` with a list of k
        levels: an array does not name them, the legend numbers them).
    ids : list, optional
        The series to plot, in this order; default: those of ``forecast``.
    max_series : int, default=8
        Without ``ids``, at most this many series (the first ones; the title says so).
    history_length : int, optional
        Plot only the last this many steps of each history.
    id_col, time_col, target_col : str, default='unique_id', 'ds', 'y'
        Column names of long frames.
    ax : matplotlib Axes or array of Axes, optional
        Draw here (one Axes per series) instead of on a new figure.
    figsize : (float, float), optional
        Size of a new figure; default 6.4 x 3.2 inches per axes, 2 axes a row.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per series.
    """
    past = _history(history, id_col, time_col, target_col)
    n_history = len(next(iter(past.values()))) if len(past) == 1 else 0
    forecast = _native_forecast(forecast, id_col, time_col, n_history)
    future = _forecasts(forecast, id_col, time_col, n_history)
    if _SINGLE in future and len(past) == 1:
        future = {next(iter(past)): future[_SINGLE]}  # the forecast of the one series
    chosen, note = _chosen(list(future), ids, max_series)
    fig, axes = _axes(len(chosen), ax, figsize)
    for axis, sid in zip(axes, chosen, strict=True):
        if sid in past:
            series = past[sid]
            series = series.iloc[-history_length:] if history_length else series
            axis.plot(series.index, series.to_numpy(), color="C0", label="history")
        _draw_forecast(axis, future[sid], "C1", "forecast")
    return _finish(fig, axes, chosen, note)


def plot_backtest(
    forecasts, history=None, ids=None, max_series=8, history_length=None, id_col="unique_id",
    time_col="ds", target_col="y", ax=None, figsize=None,
):  # fmt: skip
    """Plot a backtest's forecasts from each cutoff against the actual values.

    Parameters
    ----------
    forecasts : DataFrame
        The frame of ``backtest(..., return_forecasts=True)``: columns ``id_col``,
        ``time_col``, ``'cutoff'`` (the last time stamp the model saw), ``target_col``
        (the actual value) and ``'y_hat'``, optionally interval columns
        (``y_hat_lower``/``y_hat_upper`` or suffixed pairs).
    history : series container, optional
        The whole series (as :func:`plot_forecast` takes it): plotted as the actual
        values instead of ``forecasts[target_col]``, with the steps before the cutoffs.
    ids, max_series, history_length, id_col, time_col, target_col, ax, figsize
        As in :func:`plot_forecast`; ``history_length`` counts the steps shown before
        the first cutoff.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per series: the actual values, each cutoff's forecast (and bands) in
        its own colour and a dotted vertical line at each cutoff.
    """
    forecasts = as_pandas(forecasts, id_col, time_col)[0]  # polars too
    if not isinstance(forecasts, pd.DataFrame):
        raise ValueError(f"forecasts: expected a DataFrame, got {type(forecasts).__name__}")
    needed = [id_col, time_col, "cutoff", "y_hat"] + ([target_col] if history is None else [])
    missing = [c for c in needed if c not in forecasts.columns]
    if missing:
        raise ValueError(
            f"forecasts: missing column(s) {missing}; it has {list(forecasts.columns)}"
        )
    past = _history(history, id_col, time_col, target_col)
    groups = dict(list(forecasts.groupby(id_col, sort=False)))
    chosen, note = _chosen(list(groups), ids, max_series)
    fig, axes = _axes(len(chosen), ax, figsize)
    for axis, sid in zip(axes, chosen, strict=True):
        frame = groups[sid]
        cutoffs = list(pd.unique(frame["cutoff"]))
        actual = past.get(sid)
        if actual is None:
            rows = frame.drop_duplicates(time_col).sort_values(time_col)
            actual = pd.Series(rows[target_col].to_numpy(float), index=_x(rows[time_col]))
        if history_length:
            before = int(np.sum(actual.index <= _x(cutoffs)[0]))
            actual = actual.iloc[max(before - history_length, 0) :]
        axis.plot(actual.index, actual.to_numpy(), color="black", label="actual")
        for k, cutoff in enumerate(cutoffs):
            part = frame[frame["cutoff"] == cutoff]
            part = part.drop(columns=[id_col, time_col]).set_index(_x(part[time_col]))
            color = f"C{k % 10}"
            _draw_forecast(axis, part, color, f"cutoff {cutoff}", band_labels=k == 0)
            axis.axvline(_x([cutoff])[0], color=color, linestyle=":", linewidth=1)
    return _finish(fig, axes, chosen, note)


def plot_loss(estimator, ax=None, figsize=None):
    """Plot the training and validation loss per epoch of a fitted estimator.

    Parameters
    ----------
    estimator : LSTMRegressor, LSTMClassifier or LSTMForecaster
        Fitted. For a forecaster, the curves of its network (``regressor_``: with
        ``ensemble_size > 1``, the first network's, as the title says).
    ax : matplotlib Axes, optional
        Draw here instead of on a new figure.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
        The training loss (``loss_curve_``), the validation loss
        (``validation_loss_curve_``, when early stopping held data out) and a dashed
        line at the epoch of the best validation loss, whose weights the estimator
        keeps.
    """
    from sklearn.base import BaseEstimator
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(estimator, BaseEstimator):
        raise ValueError(
            "plot_loss needs a fitted LSTMRegressor, LSTMClassifier or LSTMForecaster, got "
            f"{type(estimator).__name__}"
        )
    check_is_fitted(estimator)
    network = getattr(estimator, "regressor_", estimator)
    if not hasattr(network, "loss_curve_"):
        raise ValueError(f"plot_loss: {type(network).__name__} has no loss_curve_")
    loss = np.asarray(network.loss_curve_, dtype=float)
    validation = np.asarray(getattr(network, "validation_loss_curve_", None) or [], float)
    if ax is None:
        fig, ax = _pyplot().subplots(figsize=figsize or (6.4, 4))
    else:
        fig = ax.figure
    ax.plot(np.arange(1, len(loss) + 1), loss, color="C0", label="training loss")
    if len(validation):
        first = len(loss) - len(validation) + 1  # warm starts: validation in later fits
        epochs = np.arange(first, first + len(validation))
        ax.plot(epochs, validation, color="C1", label="validation loss")
        if np.isfinite(validation).any():
            best = int(np.nanargmin(np.where(np.isfinite(validation), validation, np.nan)))
            ax.axvline(epochs[best], color="gray", linestyle="--", linewidth=1,
                       label=f"best epoch ({epochs[best]})")  # fmt: skip
            ax.plot(epochs[best], validation[best], "o", color="C1")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    title = f"{type(estimator).__name__} training"
    size = getattr(estimator, "ensemble_size", 1)
    if network is not estimator and size > 1:
        title += f" (the first of {size} networks)"
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return fig
