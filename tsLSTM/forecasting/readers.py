"""Readers: every supported series container (and covariates) to a :class:`Panel`.

:func:`to_panel` accepts a 1-D array, a ``pd.Series``, a wide DataFrame (one column
per series) or a long DataFrame (``unique_id``, ``ds``, ``y``), validates it and
returns a :class:`~tsLSTM.forecasting.panel.Panel`; :func:`read_long` is the long
reader with the choice to collect faulty series instead of raising (what ``tslstm``
uses); :func:`future_covariates` aligns the covariates of the forecast steps with a
panel. Long-format tables are parsed column-wise in
:mod:`tsLSTM.forecasting.long_format`.
"""

import warnings

import numpy as np
import pandas as pd

from .checks import (
    FILL_METHODS,
    check_real,
    fill_gap_rows,
    fill_gaps,
    fill_missing,
)  # fmt: skip
from .covariates import (
    attach,
    future_table,
    long_covariates,
    missing_static_error,
    table_covariates,
)  # fmt: skip
from .long_format import long_panel, time_keys
from .panel import CovariateSpec, Panel, from_native


def _numeric(values, series_id, rows, column):
    """Values as float64; ValueError naming the first non-numeric entry."""
    if isinstance(values, pd.Series):
        raw = values
    else:
        raw = pd.Series(np.asarray(values, dtype=object) if np.ndim(values) else values)
    check_real(raw, f"series {series_id!r} (column {column!r})")
    if pd.api.types.is_bool_dtype(raw.dtype) or pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(raw, errors="coerce")
    check_real(numbers, f"series {series_id!r} (column {column!r})")
    bad = numbers.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(
            f"series {series_id!r}, row {rows[k]}: non-numeric value {raw.iloc[k]!r} "
            f"in column {column!r}"
        )
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


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
    check_real(X if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X),
               f"the covariates of series {series_id!r}")  # fmt: skip
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


def _known_rows(X):
    """Covariate rows of a time-indexed X at given stamps (NaN where X has none), or None."""
    if not isinstance(X, pd.DataFrame) or isinstance(X.index, pd.RangeIndex):
        return None
    return lambda stamps: X.reindex(stamps).to_numpy(dtype=np.float64, na_value=np.nan)


def is_long(y, id_col, time_col, target_col):
    return isinstance(y, pd.DataFrame) and {id_col, time_col, target_col} <= set(y.columns)


def to_panel(y, X=None, id_col="unique_id", time_col="ds", target_col="y", fill=None,
             static=None, spec=None):  # fmt: skip
    """Validate any supported series container (and covariates) into a :class:`Panel`.

    ``static`` is a frame of static covariates (an ``id_col`` column, or indexed by
    series id), ``spec`` a :class:`CovariateSpec` naming the covariate columns of
    each kind (default: ``X``'s columns are future-known). polars input is read as
    pandas (see :func:`as_pandas`) and marked so that :meth:`Panel.output` returns
    polars; with ``fill``, missing time stamps are inserted and filled
    (:func:`~tsLSTM.forecasting.checks.fill_gaps`).
    """
    if fill is not None and fill not in FILL_METHODS:
        raise ValueError(f"fill must be None or one of {FILL_METHODS}, got {fill!r}")
    X = as_pandas(X, id_col, time_col)[0]
    static = as_pandas(static, id_col, None)[0]
    y, native = as_pandas(y, id_col, time_col)
    if native:  # read as pandas; forecasts go back as `native`
        panel = to_panel(y, X, id_col, time_col, target_col, fill, static, spec)
        panel.names["native"] = native
        return panel
    names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
    spec = CovariateSpec() if spec is None else spec
    if is_long(y, id_col, time_col, target_col):
        spec, steps, statics = long_covariates(y, X, static, spec, names)
        return _with_covariates(long_panel(y, steps, names, fill)[0], spec, statics)
    spec, X, statics = table_covariates(X, static, spec, id_col)
    return _with_covariates(_table_panel(y, X, names, fill), spec, statics)


def _with_covariates(panel, spec, statics, problems=None):
    """:func:`covariates.attach`; series without static values raise, or with
    ``problems`` (a list) are left out and listed."""
    panel, missing = attach(panel, spec, statics)
    if missing and problems is None:
        raise missing_static_error(missing)
    if missing:
        problems.extend((sid, str(missing_static_error([sid]))) for sid in missing)
        keep = [i for i, sid in enumerate(panel.ids) if sid not in set(missing)]
        if not keep:
            raise missing_static_error(missing)
        panel = panel.select(keep)
    return panel


def _table_panel(y, X, names, fill):
    """A panel of a wide DataFrame, a Series or an array (``X``: numeric covariates)."""
    id_col, time_col, target_col = names["id_col"], names["time_col"], names["target_col"]
    if isinstance(y, pd.DataFrame):
        _check_not_partly_long(y, id_col, time_col, target_col)
        _check_not_long_shaped(y)
        return _wide_panel(y, X, names, fill)
    if isinstance(y, pd.Series):
        sid = y.name if y.name is not None else 0
        index, order = _sorted_index(y.index, sid)
        values = _numeric(y.iloc[order], sid, list(index), "y")
        stamps = index
        index, values, _, step = fill_gaps(index, values, sid, fill)
        values = fill_missing(values, sid, index, fill)
        cov, cov_names = (None, [])
        if isinstance(X, pd.DataFrame) and not isinstance(X.index, pd.RangeIndex):
            cov, cov_names = _covariate_array(X, len(stamps), sid, stamps)  # by time stamp
        elif X is not None:
            if len(X) != len(stamps):
                raise ValueError(f"X has {len(X)} rows but y has {len(stamps)}")
            X = X.iloc[order] if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)[order]
            cov, cov_names = _covariate_array(X, len(stamps), sid)
        cov = fill_gap_rows(cov, index, stamps, sid, fill, _known_rows(X))
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
    values = fill_missing(values, 0, index, fill)
    cov, cov_names = (None, []) if X is None else _covariate_array(X, len(values), 0)
    return Panel("array", [0], values, np.array([0, len(values)]), [index], [1], cov, cov_names,
                 names)  # fmt: skip


def as_pandas(data, id_col="unique_id", time_col="ds"):
    """``(data, library)``: a polars (narwhals-readable) frame or series as pandas.

    Such frames have no index: one with ``time_col`` and without ``id_col`` is wide,
    indexed by its time column. pandas and numpy input come back unchanged, with
    library None.
    """
    data, library = from_native(data)
    if library and isinstance(data, pd.DataFrame):
        if time_col in data.columns and id_col not in data.columns:
            data = data.set_index(time_col)
    return data, library


def _check_not_partly_long(y, id_col, time_col, target_col):
    """A frame with the id and time columns is long: say which column it lacks.

    Otherwise it would be read as a wide frame (one series per column, the ids and
    time stamps among them) and fail on an unrelated problem, or not at all.
    """
    if {id_col, time_col} <= set(y.columns):
        others = [c for c in y.columns if c not in (id_col, time_col)]
        raise ValueError(
            f"a long DataFrame needs columns {id_col!r}, {time_col!r} and {target_col!r}: "
            f"missing target column {target_col!r}; set target_col (the other columns are "
            f"{others})"
        )


def _is_time_like(column):
    """A datetime/period column, or strings (not numbers) that parse as dates."""
    dtype = column.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return True
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        return False
    sample = column.dropna().iloc[:50]
    if sample.empty or pd.to_numeric(sample, errors="coerce").notna().all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(pd.to_datetime(sample, errors="coerce", format="mixed").notna().all())


def _check_not_long_shaped(y):
    """A frame read as wide whose column types look long (ids, time stamps, values).

    Its columns would otherwise be read as series and fail on an unrelated problem
    (``non-numeric value 'realgdp'``); tsLSTM does not guess the names silently.
    """
    if not len(y):
        return
    numeric = [c for c in y.columns if pd.api.types.is_numeric_dtype(y[c].dtype)
               and not pd.api.types.is_bool_dtype(y[c].dtype)]  # fmt: skip
    others = [c for c in y.columns if c not in numeric]
    times = [c for c in others if _is_time_like(y[c])]
    if not times or not numeric:
        return
    ids = [c for c in others if c not in times]
    found = f"time column {times[0]!r}, values {', '.join(map(repr, numeric))}"
    if not ids:
        raise ValueError(
            f"y looks like a long frame without an id column ({found}): for one series pass "
            f"y.set_index({times[0]!r}) (a wide frame: one column per series), or add an id "
            "column and pass id_col, time_col, target_col"
        )
    raise ValueError(
        f"y looks long (id column {ids[0]!r}, {found}); pass id_col={ids[0]!r}, "
        f"time_col={times[0]!r}, target_col={numeric[0]!r} (or name them unique_id, ds, y)"
    )


def read_long(y, X=None, id_col="unique_id", time_col="ds", target_col="y", fill=None,
              on_error="raise", static=None, spec=None):  # fmt: skip
    """Read a long DataFrame into a :class:`Panel`; returns ``(panel, problems)``.

    Parameters
    ----------
    y : pandas.DataFrame
        One row per series and time step, columns ``id_col``, ``time_col``,
        ``target_col``. Row labels name the rows in error messages (``tslstm`` labels
        them with their line in the input file).
    X : pandas.DataFrame, optional
        Covariates: ``id_col``, ``time_col`` and one column per covariate.
    fill : {None, 'ffill', 'interpolate', 'zero'}
    on_error : {'raise', 'collect'}, default='raise'
        'raise': the first faulty series raises ValueError naming it. 'collect': faulty
        series are left out of the panel and listed in ``problems``.
    static, spec
        Static covariates and the covariate columns of each kind, as for
        :func:`to_panel`.

    Returns
    -------
    panel : Panel
    problems : list of (series_id, message)
        Series left out (``on_error='collect'``); ``series_id`` is None for rows
        without an id.
    """
    if fill is not None and fill not in FILL_METHODS:
        raise ValueError(f"fill must be None or one of {FILL_METHODS}, got {fill!r}")
    if on_error not in ("raise", "collect"):
        raise ValueError(f"on_error must be 'raise' or 'collect', got {on_error!r}")
    if not isinstance(y, pd.DataFrame):
        raise ValueError(f"read_long needs a long DataFrame, got {type(y).__name__}")
    missing = [c for c in (id_col, time_col) if c not in y.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing}; the frame has {list(y.columns)}")
    if target_col not in y.columns:
        _check_not_partly_long(y, id_col, time_col, target_col)
    names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
    spec = CovariateSpec() if spec is None else spec
    spec, steps, statics = long_covariates(y, X, static, spec, names)
    panel, problems = long_panel(y, steps, names, fill, on_error=on_error)
    collect = problems if on_error == "collect" else None
    return _with_covariates(panel, spec, statics, collect), problems


def _wide_panel(y, X, names, fill):
    if y.shape[1] == 0:
        raise ValueError("the DataFrame has no series columns")
    stamps, order = _sorted_index(y.index, "(index)")
    index, _, _, step = fill_gaps(stamps, np.zeros(len(stamps)), "(index)", fill)
    shared = None
    cov_names = []
    if X is not None:
        shared, cov_names = _covariate_array(X, len(stamps), "(all)", stamps)
        shared = fill_gap_rows(shared, index, stamps, "(all)", fill, _known_rows(X))
    values, ids = [], []
    for column in y.columns:
        v = _numeric(y[column].iloc[order], column, list(stamps), column)
        v = fill_gap_rows(v[:, None], index, stamps, column, fill)[:, 0]
        values.append(fill_missing(v, column, index, fill))
        ids.append(column)
    n = len(index)
    names["columns_name"] = y.columns.name
    return Panel(
        "wide", ids, np.concatenate(values), np.arange(len(ids) + 1) * n,
        [index] * len(ids), [step] * len(ids),
        None if shared is None else np.tile(shared, (len(ids), 1)), cov_names, names,
    )  # fmt: skip


def future_covariates(panel, X, horizon):
    """Future-known covariates of the ``horizon`` steps after each series:
    (n_series, horizon, c). ``X`` holds their columns (categorical ones are encoded
    with the categories the panel was read with); other columns are not needed."""
    n_cov = len(panel.covariate_names)
    X = as_pandas(X, panel.names["id_col"], panel.names["time_col"])[0]
    if X is None:
        raise ValueError(
            f"the model was fitted with {n_cov} covariates: pass X with their values for "
            f"the {horizon} forecast steps"
        )
    X = future_table(X, panel.spec, panel.kind, panel.names)
    out = np.empty((panel.n_series, horizon, n_cov))
    if panel.kind == "long":
        return _long_future_covariates(panel, X, horizon, out)
    for i, sid in enumerate(panel.ids):
        future = panel.future_times(i, horizon)
        if isinstance(X, pd.DataFrame) and panel.kind != "array":
            arr, _ = _covariate_array(X, horizon, sid, future)
        else:
            arr, _ = _covariate_array(np.asarray(X)[:horizon], horizon, sid)
        if arr.shape[1] != n_cov:
            raise ValueError(f"X has {arr.shape[1]} covariates, the model was fitted with {n_cov}")
        out[i] = arr
    return out


def _long_future_covariates(panel, X, horizon, out):
    lookup = X if panel.spec is not None else future_table(X, CovariateSpec(
        futr=tuple(panel.covariate_names)), "long", panel.names)  # fmt: skip
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
