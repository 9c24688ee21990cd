"""One representation for every input a forecaster takes: a panel of series.

Users hold one series or thousands, as a numpy array, a ``pd.Series``, a wide
DataFrame (one column per series) or a long DataFrame (``unique_id``, ``ds``, ``y``).
:func:`to_panel` validates any of these into a :class:`Panel`: all values concatenated
in one float64 array with CSR-style offsets (``indptr``), each series' time index,
and its frequency. :meth:`Panel.output` turns forecasts back into the container the
user gave, with the right future timestamps.
"""

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

FILL_METHODS = ("ffill", "interpolate", "zero")


@dataclass
class Panel:
    """Validated series, concatenated.

    Attributes
    ----------
    kind : {'array', 'series', 'wide', 'long'}
        The container the data came in (and forecasts go back in).
    ids : list
        Series identifiers (``[0]`` for an array, the name for a Series).
    values : ndarray of shape (n_total,)
        All series, one after the other, float64.
    indptr : ndarray of shape (n_series + 1,)
        Series ``i`` is ``values[indptr[i]:indptr[i + 1]]``.
    times : list of pandas.Index
        Each series' time stamps (a RangeIndex for arrays).
    steps : list
        Each series' frequency: a pandas offset, a period frequency, or an int step.
    covariates : ndarray of shape (n_total, n_covariates) or None
    covariate_names : list of str
    names : dict
        Column names used for output (``id_col``, ``time_col``, ``target_col``) and the
        series' or frame's own names.
    """

    kind: str
    ids: list
    values: np.ndarray
    indptr: np.ndarray
    times: list
    steps: list
    covariates: np.ndarray = None
    covariate_names: list = field(default_factory=list)
    names: dict = field(default_factory=dict)

    @property
    def n_series(self):
        return len(self.ids)

    @property
    def lengths(self):
        return np.diff(self.indptr)

    def series(self, i):
        return self.values[self.indptr[i] : self.indptr[i + 1]]

    def series_covariates(self, i):
        return self.covariates[self.indptr[i] : self.indptr[i + 1]]

    def select(self, indices):
        """The panel of the series at ``indices`` (in that order)."""
        indices = list(indices)
        rows = [np.arange(self.indptr[i], self.indptr[i + 1]) for i in indices]
        rows = np.concatenate(rows) if rows else np.zeros(0, dtype=int)
        lengths = self.lengths[indices]
        return replace(
            self, ids=[self.ids[i] for i in indices], values=self.values[rows],
            indptr=np.concatenate([[0], np.cumsum(lengths)]),
            times=[self.times[i] for i in indices], steps=[self.steps[i] for i in indices],
            covariates=None if self.covariates is None else self.covariates[rows],
        )  # fmt: skip

    def truncate(self, k):
        """The panel without the last ``k`` steps of every series."""
        keep = [np.arange(self.indptr[i], self.indptr[i + 1] - k) for i in range(self.n_series)]
        rows = np.concatenate(keep) if keep else np.zeros(0, dtype=int)
        lengths = np.array([len(r) for r in keep])
        return replace(
            self,
            values=self.values[rows],
            indptr=np.concatenate([[0], np.cumsum(lengths)]),
            times=[t[: len(t) - k] for t in self.times],
            covariates=None if self.covariates is None else self.covariates[rows],
        )

    def future_times(self, i, horizon):
        """The ``horizon`` time stamps after series ``i``."""
        return future_index(self.times[i], self.steps[i], horizon)

    def all_future_times(self, horizon):
        """Future time stamps of every series, series after series (n_series * horizon)."""
        first = self.times[0]
        shared = all(s == self.steps[0] for s in self.steps) and all(
            type(t) is type(first) for t in self.times
        )
        if not shared or not isinstance(first, (pd.DatetimeIndex, pd.PeriodIndex)):
            return np.concatenate([self.future_times(i, horizon) for i in range(self.n_series)])
        last = pd.Index([t[-1] for t in self.times])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-vectorised offsets warn; still correct
            if isinstance(first, pd.PeriodIndex):
                steps = [last + k for k in range(1, horizon + 1)]
            else:
                steps = [pd.DatetimeIndex(last) + k * self.steps[0] for k in range(1, horizon + 1)]
        stacked = np.stack([np.asarray(s) for s in steps], axis=1).ravel()
        return pd.Index(stacked, name=first.name) if isinstance(first, pd.PeriodIndex) else stacked

    def output(self, forecasts, intervals=None):
        """Forecasts (n_series, h) back in the input's container type.

        ``intervals``, if given, is ``(lower, upper)`` of the same shape; they become
        columns ``y_hat_lower``/``y_hat_upper`` (a third axis for arrays).
        """
        h = forecasts.shape[1]
        if self.kind == "array":
            if intervals is None:
                return forecasts[0]
            return np.column_stack([forecasts[0], intervals[0][0], intervals[1][0]])
        if self.kind == "series":
            index = self.future_times(0, h)
            if intervals is None:
                return pd.Series(forecasts[0], index=index, name=self.names.get("series_name"))
            return pd.DataFrame(
                {"y_hat": forecasts[0], "y_hat_lower": intervals[0][0],
                 "y_hat_upper": intervals[1][0]},
                index=index,
            )  # fmt: skip
        if self.kind == "wide":
            index = self.future_times(0, h)
            columns = pd.Index(self.ids, name=self.names.get("columns_name"))
            if intervals is None:
                return pd.DataFrame(forecasts.T, index=index, columns=columns)
            parts = {"y_hat": forecasts, "y_hat_lower": intervals[0], "y_hat_upper": intervals[1]}
            frames = {
                name: pd.DataFrame(a.T, index=index, columns=columns) for name, a in parts.items()
            }
            frame = pd.concat(frames, axis=1)
            return frame.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
        id_col, time_col = self.names["id_col"], self.names["time_col"]
        frame = pd.DataFrame(
            {
                id_col: np.repeat(np.asarray(self.ids, dtype=object), h),
                time_col: self.all_future_times(h),
                "y_hat": forecasts.ravel(),
            }
        )
        if intervals is not None:
            frame["y_hat_lower"] = intervals[0].ravel()
            frame["y_hat_upper"] = intervals[1].ravel()
        return frame


# -- time indexes -------------------------------------------------------------------------


def _infer_freq(index):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces a change of return type
        freq = pd.infer_freq(index)
    return None if freq is None else pd.tseries.frequencies.to_offset(freq)


def check_time_index(index, series_id):
    """Validate one series' sorted time index; returns its step (frequency).

    Raises ValueError naming the series for duplicates, missing time stamps or an
    irregular index.
    """
    label = f"series {series_id!r}"
    if index.has_duplicates:
        dups = index[index.duplicated()].unique()[:3].tolist()
        raise ValueError(f"{label} has duplicate timestamps: {dups}")
    n = len(index)
    if isinstance(index, pd.PeriodIndex):
        expected = pd.period_range(index[0], index[-1], freq=index.freq) if n else index
        if len(expected) != n:
            missing = expected.difference(index)
            raise ValueError(
                f"{label} is missing {len(missing)} timestamps for its frequency "
                f"{index.freqstr}: {[str(p) for p in missing[:3]]}"
            )
        return index.freq
    if isinstance(index, pd.DatetimeIndex):
        if n < 2:
            raise ValueError(f"{label} has {n} timestamp(s): a frequency cannot be inferred")
        freq = index.freq or (_infer_freq(index) if n >= 3 else None)
        if freq is None:
            # infer from the first steps, then report what is missing
            head = index[: min(n, 3)]
            freq = _infer_freq(head) if len(head) >= 3 else None
            freq = freq or pd.tseries.frequencies.to_offset(index[1] - index[0])
            expected = pd.date_range(index[0], index[-1], freq=freq)
            missing = expected.difference(index)
            if len(missing):
                raise ValueError(
                    f"{label} is missing {len(missing)} timestamps for its frequency "
                    f"{freq.freqstr}: {[str(t) for t in missing[:3]]}"
                )
            if len(expected) != n:
                raise ValueError(f"{label} has irregular timestamps: no single frequency fits")
        return freq
    if pd.api.types.is_integer_dtype(index.dtype):
        values = index.to_numpy()
        if n < 2:
            return 1
        steps = np.diff(values)
        step = int(steps.min())
        if step <= 0 or np.any(steps % step):
            raise ValueError(f"{label} has irregular integer time steps")
        if np.any(steps != step):
            expected = np.arange(values[0], values[-1] + step, step)
            missing = np.setdiff1d(expected, values)
            raise ValueError(
                f"{label} is missing {len(missing)} time steps (step {step}): "
                f"{missing[:3].tolist()}"
            )
        return step
    raise ValueError(
        f"{label} has an index of dtype {index.dtype}; use a DatetimeIndex, PeriodIndex, "
        "or integer/RangeIndex time stamps"
    )


def future_index(index, step, horizon):
    """The ``horizon`` time stamps that follow ``index``."""
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=horizon, freq=index.freq, name=index.name)
    if isinstance(index, pd.DatetimeIndex):
        return pd.date_range(index[-1], periods=horizon + 1, freq=step, name=index.name)[1:]
    last = int(index[-1]) if len(index) else -step
    if isinstance(index, pd.RangeIndex) or len(index) == 0:
        return pd.RangeIndex(last + step, last + step * (horizon + 1), step, name=index.name)
    return pd.Index(np.arange(1, horizon + 1) * step + last, name=index.name)


# -- values -------------------------------------------------------------------------------


def _numeric(values, series_id, rows, column):
    """Values as float64; ValueError naming the first non-numeric entry."""
    if isinstance(values, pd.Series):
        raw = values
    else:
        raw = pd.Series(np.asarray(values, dtype=object) if np.ndim(values) else values)
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = numbers.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(
            f"series {series_id!r}, row {rows[k]}: non-numeric value {raw.iloc[k]!r} "
            f"in column {column!r}"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _fill(values, series_id, times, fill):
    missing = ~np.isfinite(values)
    if not missing.any():
        return values
    if fill is None:
        first = times[int(np.argmax(missing))] if len(times) else int(np.argmax(missing))
        raise ValueError(
            f"series {series_id!r} has {int(missing.sum())} missing (NaN) or infinite values "
            f"(first at {first}); clean them or pass fill='ffill', 'interpolate' or 'zero'"
        )
    if missing.all():
        raise ValueError(f"series {series_id!r} has no finite values")
    s = pd.Series(np.where(missing, np.nan, values))
    if fill == "zero":
        s = s.fillna(0.0)
    elif fill == "interpolate":
        s = s.interpolate().ffill().bfill()
    else:
        s = s.ffill().bfill()
    return s.to_numpy()


def _sorted_index(index, series_id):
    """Time stamps of a Series/DataFrame index, parsed; returns (index, order)."""
    if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)) or pd.api.types.is_integer_dtype(
        index.dtype
    ):
        parsed = index
    else:
        parsed = _parse_times(pd.Series(index), series_id, list(index), "index")
        parsed = pd.DatetimeIndex(parsed)
    order = np.argsort(parsed.to_numpy(), kind="stable") if len(parsed) else np.zeros(0, int)
    if not parsed.is_monotonic_increasing:
        parsed = parsed[order]
    else:
        order = np.arange(len(parsed))
    return parsed, order


def _parse_times(column, series_id, rows, name):
    """A time column as datetimes (or periods/integers as given)."""
    if isinstance(column.dtype, pd.PeriodDtype) or pd.api.types.is_integer_dtype(column.dtype):
        return column
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        if column.isna().any():
            k = int(np.argmax(column.isna().to_numpy()))
            raise ValueError(f"series {series_id!r}, row {rows[k]}: missing date in {name!r}")
        return column
    parsed = pd.to_datetime(column, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(
            f"series {series_id!r}, row {rows[k]}: unparseable date {column.iloc[k]!r} "
            f"in column {name!r}"
        )
    return parsed


# -- containers -> Panel ------------------------------------------------------------------


def _covariate_array(X, n, series_id, index=None):
    """Covariates aligned with a series of ``n`` steps (by position or by ``index``)."""
    if isinstance(X, pd.DataFrame) and index is not None and not isinstance(X.index, pd.RangeIndex):
        aligned = X.reindex(index)
        missing = aligned.isna().any(axis=1).to_numpy()
        if missing.any():
            k = int(np.argmax(missing))
            raise ValueError(f"series {series_id!r}: covariates missing at {index[k]}")
        X = aligned
    names = [str(c) for c in X.columns] if isinstance(X, pd.DataFrame) else None
    arr = np.asarray(X, dtype=np.float64) if not isinstance(X, pd.DataFrame) else None
    if arr is None:
        try:
            arr = X.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"covariates must be numeric: {exc}") from exc
    arr = arr[:, None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(
            f"covariates for series {series_id!r} must have {n} rows, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"covariates for series {series_id!r} contain NaN or infinity")
    names = names or [f"x{j}" for j in range(arr.shape[1])]
    return arr, names


def is_long(y, id_col, time_col, target_col):
    return isinstance(y, pd.DataFrame) and {id_col, time_col, target_col} <= set(y.columns)


def to_panel(y, X=None, id_col="unique_id", time_col="ds", target_col="y", fill=None):
    """Validate any supported series container (and covariates) into a :class:`Panel`."""
    if fill is not None and fill not in FILL_METHODS:
        raise ValueError(f"fill must be None or one of {FILL_METHODS}, got {fill!r}")
    names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
    if is_long(y, id_col, time_col, target_col):
        from .long_format import long_panel

        return long_panel(y, X, names, fill)[0]
    if isinstance(y, pd.DataFrame):
        return _wide_panel(y, X, names, fill)
    if isinstance(y, pd.Series):
        sid = y.name if y.name is not None else 0
        index, order = _sorted_index(y.index, sid)
        values = _numeric(y.iloc[order], sid, list(index), "y")
        step = check_time_index(index, sid)
        values = _fill(values, sid, index, fill)
        cov, cov_names = (None, [])
        if isinstance(X, pd.DataFrame) and not isinstance(X.index, pd.RangeIndex):
            cov, cov_names = _covariate_array(X, len(values), sid, index)  # by time stamp
        elif X is not None:
            if len(X) != len(values):
                raise ValueError(f"X has {len(X)} rows but y has {len(values)}")
            X = X.iloc[order] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[order]
            cov, cov_names = _covariate_array(X, len(values), sid)
        names["series_name"] = y.name
        return Panel("series", [sid], values, np.array([0, len(values)]), [index], [step],
                     cov, cov_names, names)  # fmt: skip
    if isinstance(y, dict):
        raise ValueError("pass several series as a wide or long DataFrame, not a dict")
    arr = np.asarray(y) if not isinstance(y, np.ndarray) else y
    if arr.ndim != 1:
        raise ValueError(
            f"y must be a 1-D array, a pandas Series, or a DataFrame (wide: one column per "
            f"series; long: columns {id_col!r}, {time_col!r}, {target_col!r}); got an array of "
            f"shape {arr.shape}"
        )
    values = _numeric(arr, 0, list(range(len(arr))), "y")
    index = pd.RangeIndex(len(values))
    values = _fill(values, 0, index, fill)
    cov, cov_names = (None, []) if X is None else _covariate_array(X, len(values), 0)
    return Panel("array", [0], values, np.array([0, len(values)]), [index], [1], cov, cov_names,
                 names)  # fmt: skip


def _wide_panel(y, X, names, fill):
    if y.shape[1] == 0:
        raise ValueError("the DataFrame has no series columns")
    index, order = _sorted_index(y.index, "(index)")
    step = check_time_index(index, "(index)")
    shared = None
    cov_names = []
    if X is not None:
        shared, cov_names = _covariate_array(X, len(index), "(all)", index)
    values, ids = [], []
    for column in y.columns:
        v = _numeric(y[column].iloc[order], column, list(index), column)
        values.append(_fill(v, column, index, fill))
        ids.append(column)
    n = len(index)
    names["columns_name"] = y.columns.name
    return Panel(
        "wide", ids, np.concatenate(values), np.arange(len(ids) + 1) * n,
        [index] * len(ids), [step] * len(ids),
        None if shared is None else np.tile(shared, (len(ids), 1)), cov_names, names,
    )  # fmt: skip


def future_covariates(panel, X, horizon):
    """Covariates of the ``horizon`` steps after each series: (n_series, horizon, c)."""
    n_cov = len(panel.covariate_names)
    if X is None:
        raise ValueError(
            f"the model was fitted with {n_cov} covariates: pass X with their values for "
            f"the {horizon} forecast steps"
        )
    out = np.empty((panel.n_series, horizon, n_cov))
    if panel.kind == "long":
        return _long_future_covariates(panel, X, horizon, out)
    for i, sid in enumerate(panel.ids):
        future = panel.future_times(i, horizon)
        if isinstance(X, pd.DataFrame) and panel.kind != "array":
            arr, _ = _covariate_array(X, horizon, sid, future)
        else:
            arr, _ = _covariate_array(np.asarray(X, dtype=np.float64)[:horizon], horizon, sid)
        if arr.shape[1] != n_cov:
            raise ValueError(f"X has {arr.shape[1]} covariates, the model was fitted with {n_cov}")
        out[i] = arr
    return out


def _long_future_covariates(panel, X, horizon, out):
    from .long_format import covariate_lookup, time_keys

    lookup = covariate_lookup(X, panel.names)
    if lookup.shape[1] != out.shape[2]:
        raise ValueError(
            f"X has {lookup.shape[1]} covariates, the model was fitted with {out.shape[2]}"
        )
    futures = [panel.future_times(i, horizon) for i in range(panel.n_series)]
    keys = np.concatenate([time_keys(f) for f in futures])
    ids = np.repeat(np.asarray(panel.ids, dtype=object), horizon)
    aligned = lookup.reindex(pd.MultiIndex.from_arrays([ids, keys])).to_numpy()
    missing = np.isnan(aligned).any(axis=1)
    if missing.any():
        k = int(np.argmax(missing))
        raise ValueError(
            f"series {ids[k]!r}: covariates missing at {futures[k // horizon][k % horizon]} "
            f"(X must cover the {horizon} forecast steps of every series)"
        )
    out[...] = aligned.reshape(panel.n_series, horizon, -1)
    return out
