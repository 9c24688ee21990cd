"""The panel of series every forecaster input becomes, and its accessors.

Users hold one series or thousands, as a numpy array, a ``pd.Series``, a wide
DataFrame (one column per series) or a long DataFrame (``unique_id``, ``ds``, ``y``).
The readers in :mod:`tsLSTM.forecasting.readers` validate any of these into a
:class:`Panel`: all values concatenated in one float64 array with CSR-style offsets
(``indptr``), each series' time index, and its frequency. :meth:`Panel.output` turns
forecasts back into the container the user gave, with the right future timestamps;
:func:`from_native` and :func:`to_native` carry polars frames across that boundary.

This module holds the container only; it imports no reader.
"""

import functools
import importlib
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

try:
    import narwhals as nw
except ImportError:  # older scikit-learn: pandas and numpy input only
    nw = None


def _native_output(output):
    """:meth:`Panel.output` in the input's library (polars in, polars out)."""

    @functools.wraps(output)
    def wrapped(self, *args, **kwargs):
        return to_native(output(self, *args, **kwargs), self.names.get("native"))

    return wrapped


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
        Future-known covariates (their values for the forecast steps come separately).
    covariate_names : list of str
    names : dict
        Column names used for output (``id_col``, ``time_col``, ``target_col``), the
        series' or frame's own names, and ``native``: the frame library (``'polars'``)
        forecasts go back in, when not pandas.
    past_covariates : ndarray of shape (n_total, n_past) or None
        Past-only covariates: known up to each series' last step, not after it.
    past_covariate_names : list of str
    static : ndarray of shape (n_series, n_static) or None
        Static covariates, one row per series.
    static_names : list of str
    spec : CovariateSpec or None
        The covariate columns (and categories) the panel was read with; None for a
        panel built without the readers (its ``covariates`` are future-known).
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
    past_covariates: np.ndarray = None
    past_covariate_names: list = field(default_factory=list)
    static: np.ndarray = None
    static_names: list = field(default_factory=list)
    spec: "CovariateSpec" = None

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
            past_covariates=_rows(self.past_covariates, rows),
            static=_rows(self.static, indices),
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
            past_covariates=_rows(self.past_covariates, rows),
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

    @_native_output
    def output(self, forecasts, intervals=None):
        """Forecasts (n_series, h) back in the input's container type.

        ``intervals``, if given, is ``(lower, upper)`` of the same shape, which become
        columns ``y_hat_lower``/``y_hat_upper``, or a dict ``{coverage: (lower, upper)}``
        (several levels), whose pairs become ``y_hat_lower_80``, ``y_hat_upper_80``, ...
        (:func:`interval_columns`) in the dict's order, after ``y_hat``.
        """
        if intervals is None:
            return self.output_columns({"y_hat": forecasts}, squeeze=True)
        pairs = intervals.items() if isinstance(intervals, dict) else [(None, intervals)]
        columns = {"y_hat": forecasts}
        for level, bounds in pairs:
            columns.update(zip(interval_columns(level), bounds, strict=True))
        return self.output_columns(columns)

    def output_columns(self, columns, squeeze=False):
        """Named arrays (n_series, h) as columns of the input's container type.

        An array of shape (h, n_columns) for array input (shape (h,) for a single
        column with ``squeeze``), a DataFrame indexed by the future time stamps for a
        Series (a Series with ``squeeze``), a wide DataFrame with columns (series,
        name) (one column per series with ``squeeze``), a long DataFrame with
        ``id_col``, ``time_col`` and the columns.
        """
        names = list(columns)
        squeeze = squeeze and len(names) == 1
        h = columns[names[0]].shape[1]
        if self.kind == "array":
            if squeeze:
                return columns[names[0]][0]
            return np.column_stack([columns[name][0] for name in names])
        if self.kind == "series":
            index = self.future_times(0, h)
            if squeeze:
                series_name = self.names.get("series_name")
                return pd.Series(columns[names[0]][0], index=index, name=series_name)
            return pd.DataFrame({name: columns[name][0] for name in names}, index=index)
        if self.kind == "wide":
            index = self.future_times(0, h)
            ids = pd.Index(self.ids, name=self.names.get("columns_name"))
            if squeeze:
                return pd.DataFrame(columns[names[0]].T, index=index, columns=ids)
            frames = {
                name: pd.DataFrame(a.T, index=index, columns=ids) for name, a in columns.items()
            }
            frame = pd.concat(frames, axis=1)
            return frame.swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
        id_col, time_col = self.names["id_col"], self.names["time_col"]
        frame = pd.DataFrame(
            {
                id_col: np.repeat(np.asarray(self.ids, dtype=object), h),
                time_col: self.all_future_times(h),
            }
        )
        for name in names:
            frame[name] = columns[name].ravel()
        return frame


def interval_columns(coverage=None):
    """Column names of an interval's bounds: ``('y_hat_lower', 'y_hat_upper')`` for
    None (one coverage given as a number), else suffixed with the coverage in percent:
    ``('y_hat_lower_80', 'y_hat_upper_80')`` for 0.8, ``..._97.5`` for 0.975."""
    if coverage is None:
        return "y_hat_lower", "y_hat_upper"
    return f"y_hat_lower_{100 * coverage:g}", f"y_hat_upper_{100 * coverage:g}"


def quantile_column(alpha):
    """Column name of the ``alpha`` quantile forecast: ``'y_hat_q0.1'`` for 0.1."""
    return f"y_hat_q{alpha:g}"


def _rows(array, rows):
    return None if array is None else array[rows]


@dataclass(frozen=True)
class CovariateSpec:
    """Which columns are covariates of which kind, and the categories of categorical ones.

    Nixtla's names: ``futr`` future-known (values needed for the forecast steps),
    ``hist`` past-only (known up to the forecast origin), ``stat`` static per series.
    A list None means "not named": for ``futr``, every column of ``X`` not named in
    another list (the behaviour before the lists existed); ``hist`` none; ``stat``
    every column of a static frame. ``categories`` maps each categorical column to its
    categories (strings, learned at fit); a column not in it is numeric. None: learn
    them from the data.
    """

    futr: tuple = None
    hist: tuple = None
    stat: tuple = None
    categories: dict = None

    def channels(self, kind):
        """Network input channel names of one kind: a numeric column is one channel, a
        categorical column one per category (``'column=category'``, one-hot)."""
        categories = self.categories or {}
        names = []
        for column in getattr(self, kind) or ():
            if column in categories:
                names.extend(f"{column}={c}" for c in categories[column])
            else:
                names.append(str(column))
        return names


# -- frames of other libraries -----------------------------------------------------------
# The readers work on pandas; a polars DataFrame or Series is converted on the way in and
# forecasts go back out as polars, through narwhals (which recent scikit-learn installs:
# no new dependency; without it only pandas and numpy are read). Columns travel as numpy
# arrays, so neither direction needs pyarrow.


def from_native(data):
    """``(data as pandas, library name)``; ``(data, None)`` when it is not a frame of
    another library (pandas, numpy, lists, None, or narwhals unavailable)."""
    if nw is None or data is None or isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
        return data, None
    frame = nw.from_native(data, eager_only=True, allow_series=True, pass_through=True)
    if frame is data:
        return data, None
    library = nw.get_native_namespace(frame).__name__
    if isinstance(frame, nw.Series):
        return pd.Series(frame.to_numpy(), name=frame.name), library
    return pd.DataFrame({c: frame[c].to_numpy() for c in frame.columns}), library


def to_native(result, library):
    """A pandas result as ``library``'s container (None: unchanged).

    A Series becomes a series of its values; a frame indexed by time stamps gets the
    index as its first column (frames of such libraries have no index), and
    two-level columns are joined as ``'{series}_{column}'``.
    """
    if library is None or nw is None:
        return result
    if isinstance(result, pd.Series):
        return nw.new_series(str(result.name or ""), result.to_numpy(), backend=library).to_native()
    frame = result
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.set_axis(["_".join(map(str, c)) for c in frame.columns], axis=1)
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    columns = {str(c): _column(frame[c]) for c in frame.columns}
    return nw.from_dict(columns, backend=library).to_native()


def _column(values):
    """A pandas column as numpy (periods as their start time stamps; an object column,
    such as the series ids, with its values' own type: integer ids stay integers)."""
    if isinstance(values.dtype, pd.PeriodDtype):
        return values.dt.to_timestamp().to_numpy()
    if values.dtype == object:
        return values.infer_objects().to_numpy()
    return values.to_numpy()


# -- time indexes -------------------------------------------------------------------------


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


# -- names that moved to the readers ------------------------------------------------------

_MOVED = {
    "FILL_METHODS": "tsLSTM.forecasting.checks",
    "check_time_index": "tsLSTM.forecasting.checks",
    "to_panel": "tsLSTM.forecasting.readers",
    "future_covariates": "tsLSTM.forecasting.readers",
    "is_long": "tsLSTM.forecasting.readers",
}


def __getattr__(name):
    """Deprecated aliases: the readers moved out of this module (no import cycle)."""
    if name in _MOVED:
        warnings.warn(
            f"tsLSTM.forecasting.panel.{name} moved to {_MOVED[name]}; the old name will be "
            "removed in a future release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
