"""Long-format data (``unique_id``, ``ds``, ``y`` rows) to a :class:`Panel`, column-wise.

Thousands of series arrive as one long table. Parsing, numeric conversion, sorting,
duplicate detection and covariate alignment run once over whole columns; only the
frequency check loops over series, and it costs one ``date_range`` per series when
the series share a frequency. Problems are reported with the series id and the row
label (``tslstm`` labels rows with their line in the input file); with
``on_error='collect'`` the faulty series are dropped and listed instead of raising.
"""

import numpy as np
import pandas as pd

from .checks import check_real, check_time_index, fill_gaps, fill_missing
from .panel import Panel


class SeriesProblems:
    """Problems found per series: ``(series_id, message)`` in input order."""

    def __init__(self, on_error):
        self.on_error = on_error
        self.items = []
        self.failed = set()

    def add(self, series_id, message):
        if self.on_error == "raise":
            raise ValueError(message)
        if series_id not in self.failed:
            self.failed.add(series_id)
            self.items.append((series_id, message))


def parse_time_column(column, name):
    """Time stamps of a column and int64 sort keys; unparseable entries -> NaT/None."""
    if isinstance(column.dtype, pd.PeriodDtype):
        keys = column.array.asi8.copy()
        return column, keys, column.isna().to_numpy()
    if pd.api.types.is_integer_dtype(column.dtype):
        return column, column.to_numpy(dtype=np.int64), np.zeros(len(column), bool)
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        parsed = column
    else:
        parsed = pd.to_datetime(column, errors="coerce", format="mixed")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    keys = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return parsed, keys, bad


def _numeric_column(column, name):
    check_real(column, f"column {name!r}")
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.zeros(len(values), bool)
    numbers = pd.to_numeric(column, errors="coerce")
    check_real(numbers, f"column {name!r}")
    bad = numbers.isna().to_numpy() & column.notna().to_numpy()
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan), bad


def _factorize(ids):
    try:
        return pd.factorize(ids, sort=True)
    except TypeError:  # unorderable mixed types: order of first appearance
        return pd.factorize(ids, sort=False)


def long_panel(y, table, names, fill, on_error="raise"):
    """Build a panel from a long DataFrame; returns ``(panel, problems)``.

    ``table``: per-step covariates indexed by ``(series id, time key)`` (as
    :func:`covariate_lookup` returns them), or None.
    """
    id_col, time_col, target_col = names["id_col"], names["time_col"], names["target_col"]
    problems = SeriesProblems(on_error)
    if len(y) == 0:
        raise ValueError("the data has no rows")
    rows = y.index.to_numpy()
    ids = y[id_col]
    no_id = ids.isna().to_numpy()
    if no_id.any():
        k = int(np.argmax(no_id))
        if on_error == "raise":
            raise ValueError(f"row {rows[k]}: missing series id in column {id_col!r}")
        problems.items.append((None, f"{int(no_id.sum())} rows without a series id (first: "
                                     f"row {rows[k]}); skipped"))  # fmt: skip
        y, rows, ids = y[~no_id], rows[~no_id], ids[~no_id]
    times, keys, bad_time = parse_time_column(y[time_col], time_col)
    values, bad_value = _numeric_column(y[target_col], target_col)
    codes, uniques = _factorize(ids)
    uniques = list(uniques)
    for k in np.flatnonzero(bad_time | bad_value):
        sid = uniques[codes[k]]
        if bad_time[k]:
            message = (f"series {sid!r}, row {rows[k]}: unparseable date "
                       f"{y[time_col].iloc[k]!r} in column {time_col!r}")  # fmt: skip
        else:
            message = (f"series {sid!r}, row {rows[k]}: non-numeric value "
                       f"{y[target_col].iloc[k]!r} in column {target_col!r}")  # fmt: skip
        problems.add(sid, message)

    order = np.lexsort((keys, codes))
    codes, keys, values, rows = codes[order], keys[order], values[order], rows[order]
    times = times.iloc[order] if isinstance(times, pd.Series) else times[order]
    counts = np.bincount(codes, minlength=len(uniques))
    indptr = np.concatenate([[0], np.cumsum(counts)])
    same = (codes[1:] == codes[:-1]) & (keys[1:] == keys[:-1])
    for k in np.flatnonzero(same):
        sid = uniques[codes[k]]
        problems.add(sid, f"series {sid!r} has duplicate timestamps: [{times.iloc[k]}] "
                          f"(rows {rows[k]} and {rows[k + 1]})")  # fmt: skip

    cov, cov_names = (None, [])
    if table is not None:
        cov, cov_names = _aligned_covariates(table, uniques, codes, keys, times, problems)

    regular, shared_step = _regular_series(times, codes, indptr, uniques, time_col)
    has_nan = np.bincount(codes, weights=~np.isfinite(values), minlength=len(uniques)) > 0
    kept_ids, kept_values, kept_times, steps, kept_cov = [], [], [], [], []
    for i, sid in enumerate(uniques):
        if sid in problems.failed:
            continue
        s, e = indptr[i], indptr[i + 1]
        index = _series_index(times, s, e, time_col)
        v, c = values[s:e], None if cov is None else cov[s:e]
        try:
            if regular[i]:
                step = shared_step
            else:  # with fill, missing stamps are inserted and filled
                known = None if table is None else _known_covariates(table, sid)
                index, v, c, step = fill_gaps(index, v, sid, fill, c, known)
            v = fill_missing(v, sid, index, fill) if has_nan[i] else v
        except ValueError as exc:
            problems.add(sid, str(exc))
            continue
        kept_ids.append(sid)
        kept_values.append(v)
        kept_times.append(index)
        steps.append(step)
        kept_cov.append(c)
    if not kept_ids:
        detail = problems.items[0][1] if problems.items else "no series"
        raise ValueError(f"no usable series in the data ({detail})")
    lengths = [len(v) for v in kept_values]
    panel = Panel(
        "long", kept_ids, np.concatenate(kept_values), np.concatenate([[0], np.cumsum(lengths)]),
        kept_times, steps, None if cov is None else np.concatenate(kept_cov), cov_names, names,
    )  # fmt: skip
    return panel, problems.items


def _known_covariates(table, series_id):
    """``known(stamps)`` for :func:`fill_gaps`: a series' rows of the covariate
    ``table`` (:func:`covariate_lookup`) at stamps, NaN where it has none."""

    def known(stamps):
        keys = pd.MultiIndex.from_arrays([[series_id] * len(stamps), time_keys(stamps)])
        return table.reindex(keys).to_numpy(dtype=np.float64)

    return known


def _series_index(times, start, end, name):
    part = times.iloc[start:end] if isinstance(times, pd.Series) else times[start:end]
    if isinstance(part.dtype, pd.PeriodDtype):
        return pd.PeriodIndex(part, name=name)
    if pd.api.types.is_datetime64_any_dtype(part.dtype):
        return pd.DatetimeIndex(part, name=name)
    return pd.Index(part.to_numpy(), name=name)


def _regular_series(times, codes, indptr, uniques, time_col):
    """Which series follow the first regular series' step, checked over whole columns.

    Returns a boolean per series and that step; series marked False get a full
    per-series check (and an error message) from :func:`check_time_index`.
    """
    n_series = len(uniques)
    regular = np.zeros(n_series, dtype=bool)
    step = None
    for i in range(n_series):  # the first series with a valid index sets the step
        if indptr[i + 1] - indptr[i] >= 3:
            try:
                step = check_time_index(_series_index(times, indptr[i], indptr[i + 1],
                                                      time_col), uniques[i])  # fmt: skip
                break
            except ValueError:
                continue
    if step is None:
        return regular, None
    values = _series_index(times, 0, len(codes), time_col)
    if isinstance(values, pd.PeriodIndex):
        ok_pair = np.diff(values.asi8) == 1
        if values.freq != step:
            return regular, None
    elif isinstance(values, pd.DatetimeIndex):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-vectorised offsets warn; still correct
            ok_pair = (values[:-1] + step) == values[1:]
        ok_pair = np.asarray(ok_pair)
    else:
        ok_pair = np.diff(values.to_numpy()) == step
    same_series = codes[1:] == codes[:-1]
    bad_pair = same_series & ~ok_pair
    bad = np.zeros(n_series, dtype=bool)
    bad[codes[1:][bad_pair]] = True
    lengths = np.diff(indptr)
    regular = ~bad & (lengths >= 2)
    return regular, step


def _aligned_covariates(lookup, uniques, codes, keys, times, problems):
    """Covariate rows for the sorted (code, key) pairs of the target rows."""
    target = pd.MultiIndex.from_arrays([np.asarray(uniques, dtype=object)[codes], keys])
    aligned = lookup.reindex(target)
    missing = aligned.isna().any(axis=1).to_numpy()
    for k in np.flatnonzero(missing):
        sid = uniques[codes[k]]
        problems.add(sid, f"series {sid!r}: covariates missing at {times.iloc[k]}")
    return aligned.to_numpy(dtype=np.float64), [str(c) for c in lookup.columns]


def covariate_lookup(X, names, columns=None):
    """Covariates of a long frame indexed by ``(series id, time key)``."""
    id_col, time_col = names["id_col"], names["time_col"]
    columns = columns or [c for c in X.columns if c not in (id_col, time_col)]
    _, keys, bad = parse_time_column(X[time_col], time_col)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(f"X, row {X.index[k]}: unparseable date {X[time_col].iloc[k]!r}")
    check_real(X[columns], "the covariates X")
    try:
        values = X[columns].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"covariates must be numeric: {exc}") from exc
    index = pd.MultiIndex.from_arrays([X[id_col].to_numpy(dtype=object), keys])
    if index.has_duplicates:
        raise ValueError("X has duplicate (series, timestamp) rows")
    return pd.DataFrame(values, index=index, columns=columns)


def time_keys(index):
    """int64 keys of a time index, as :func:`parse_time_column` makes them."""
    if isinstance(index, pd.PeriodIndex):
        return index.asi8
    if isinstance(index, pd.DatetimeIndex):
        return index.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return index.to_numpy(dtype=np.int64)
