"""Per-series rules every reader applies: a regular time index, and missing values.

:func:`check_time_index` infers a series' step and rejects duplicate, missing or
irregular time stamps; :func:`fill_gaps` instead inserts the missing stamps when a
``fill`` rule is given; :func:`fill_missing` applies the ``fill`` rule to NaN values
(or names the series with NaNs). All report the series by its id.
"""

import warnings

import numpy as np
import pandas as pd

FILL_METHODS = ("ffill", "interpolate", "zero")


def check_real(values, what):
    """ValueError if ``values`` (array, Series or DataFrame) hold complex numbers.

    Converting them to float64 would silently drop the imaginary part (numpy only
    warns); tsLSTM models real-valued series, so complex input is refused.
    """
    if isinstance(values, pd.DataFrame):
        dtypes = list(values.dtypes)
    else:
        dtypes = [values.dtype if hasattr(values, "dtype") else np.asarray(values).dtype]
    if any(pd.api.types.is_complex_dtype(dtype) for dtype in dtypes):
        raise ValueError(
            f"{what} holds complex values; tsLSTM models real-valued series: pass the "
            "real part, the magnitude or both as separate series"
        )


def _infer_freq(index):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces a change of return type
        freq = pd.infer_freq(index)
    return None if freq is None else pd.tseries.frequencies.to_offset(freq)


def check_time_index(index, series_id):
    """Validate one series' sorted time index; returns its step (frequency).

    Raises ValueError naming the series for duplicates, missing time stamps (the first
    few and their count) or an irregular index.
    """
    step, full = full_time_index(index, series_id)
    if len(full) != len(index):
        missing = full.difference(index)
        shown = [str(t) for t in missing[:3]]
        if isinstance(index, (pd.PeriodIndex, pd.DatetimeIndex)):
            what = f"{len(missing)} timestamps for its frequency {_freqstr(step)}"
        else:
            what = f"{len(missing)} time steps (step {step})"
        raise ValueError(
            f"series {series_id!r} is missing {what}: {shown}; pass fill='ffill', "
            "'interpolate' or 'zero' to insert and fill them"
        )
    return step


def _freqstr(step):
    return getattr(step, "freqstr", str(step))


def full_time_index(index, series_id):
    """A series' step and its time index with no stamp missing: ``(step, full)``.

    The step is the index's own frequency, else inferred from the stamps despite gaps:
    the coarsest frequency that ``pd.infer_freq`` finds on three consecutive stamps and
    whose grid holds every stamp (when no three are regular: the smallest difference;
    integer stamps: the smallest difference, of which every difference must be a
    multiple). ``full`` is
    ``index`` itself when nothing is missing. ValueError naming the series for
    duplicates and for stamps off every grid (irregular).
    """
    label = f"series {series_id!r}"
    if index.has_duplicates:
        dups = index[index.duplicated()].unique()[:3].tolist()
        raise ValueError(f"{label} has duplicate timestamps: {dups}")
    n = len(index)
    if isinstance(index, pd.PeriodIndex):
        if n == 0:
            return index.freq, index
        full = pd.period_range(index[0], index[-1], freq=index.freq, name=index.name)
        return index.freq, index if len(full) == n else full
    if isinstance(index, pd.DatetimeIndex):
        if n < 2:
            raise ValueError(f"{label} has {n} timestamp(s): a frequency cannot be inferred")
        freq = index.freq or (_infer_freq(index) if n >= 3 else None)
        if freq is not None:
            return freq, index
        return _gapped_datetimes(index, label)
    if pd.api.types.is_integer_dtype(index.dtype):
        values = index.to_numpy()
        if n < 2:
            return 1, index
        steps = np.diff(values)
        step = int(steps.min())
        if step <= 0 or np.any(steps % step):
            raise ValueError(f"{label} has irregular integer time steps")
        if np.all(steps == step):
            return step, index
        return step, pd.Index(np.arange(values[0], values[-1] + step, step), name=index.name)
    raise ValueError(
        f"{label} has an index of dtype {index.dtype}; use a DatetimeIndex, PeriodIndex, "
        "or integer/RangeIndex time stamps"
    )


def _gapped_datetimes(index, label):
    """Step and full range of a DatetimeIndex with gaps (see :func:`full_time_index`)."""
    candidates, seen = [], set()
    diffs = np.diff(index.asi8)
    for k in range(len(index) - 2):  # one infer_freq per distinct pair of differences
        if (diffs[k], diffs[k + 1]) not in seen:
            seen.add((diffs[k], diffs[k + 1]))
            freq = _infer_freq(index[k : k + 3])
            if freq is not None and freq not in candidates:
                candidates.append(freq)
    if not candidates:  # no three consecutive stamps are regular
        candidates = [pd.tseries.frequencies.to_offset(pd.Timedelta(int(diffs.min()), "ns"))]
    best, off = None, None
    for freq in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-vectorised offsets warn; still correct
            full = pd.date_range(index[0], index[-1], freq=freq, name=index.name)
        off_grid = ~index.isin(full)
        if off_grid.any():
            off = off or (freq, index[off_grid][0])
        elif best is None or len(full) < len(best[1]):
            best = (freq, full)
    if best is None:
        raise ValueError(
            f"{label} has irregular timestamps: no single frequency fits ({off[1]} is off "
            f"the grid of {_freqstr(off[0])} from {index[0]})"
        )
    return best


def fill_gaps(index, values, series_id, fill, covariates=None, known=None):
    """Make a series regular: insert its missing time stamps and fill them.

    Parameters
    ----------
    index : pandas.Index
        The series' sorted time stamps.
    values : ndarray of shape (n,)
    series_id : object
        Names the series in error messages.
    fill : {None, 'ffill', 'interpolate', 'zero'}
        None: missing stamps raise ValueError naming them. Otherwise they are inserted
        at the series' step (see :func:`full_time_index`) and their values, and the NaN
        values already there, filled by this rule.
    covariates : ndarray of shape (n, c), optional
        Covariate rows of the stamps (see :func:`fill_gap_rows`).
    known : callable, optional
        ``known(stamps)``: covariate rows at inserted stamps, NaN where not known.

    Returns
    -------
    index : pandas.Index
        The complete time index (``index`` itself when nothing was missing).
    values, covariates : ndarray
        At the complete index.
    step : offset, period frequency or int
    """
    if fill is None:
        return index, values, covariates, check_time_index(index, series_id)
    step, full = full_time_index(index, series_id)
    if len(full) == len(index):
        return index, values, covariates, step
    values = _spread(values, full.get_indexer(index), len(full))
    values = fill_missing(values, series_id, full, fill)
    return full, values, fill_gap_rows(covariates, full, index, series_id, fill, known), step


def fill_gap_rows(rows, index, stamps, series_id, fill, known=None):
    """Rows (covariates) given at ``stamps``, at the complete ``index`` that holds them.

    An inserted stamp takes ``known(inserted_stamps)``'s row where it has one (covariates
    the user gave for that stamp), else the ``fill`` rule's value, column by column.
    """
    if rows is None or len(index) == len(stamps):
        return rows
    at = index.get_indexer(stamps)
    out = _spread(rows, at, len(index))
    if known is not None:
        inserted = np.ones(len(index), dtype=bool)
        inserted[at] = False
        out[inserted] = known(index[inserted])
    columns = [fill_missing(out[:, j], series_id, index, fill) for j in range(out.shape[1])]
    return np.column_stack(columns) if columns else out


def _spread(rows, at, n):
    """``n`` rows of NaN with ``rows`` written at positions ``at``."""
    out = np.full((n, *np.shape(rows)[1:]), np.nan)
    out[at] = rows
    return out


def fill_missing(values, series_id, times, fill):
    """``values`` with NaN/inf filled by the ``fill`` rule; ValueError if ``fill`` is None."""
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


def check_levels(values, name, label):
    """Probabilities in (0, 1) given as one number or a list: ``(levels, is_scalar)``.

    ``values`` is a real number or a non-empty list (tuple, 1-D array) of them
    (``coverage`` of an interval, ``alpha`` of a quantile); ``label(level)`` is the
    level's column name, which must differ between levels. ValueError naming ``name``
    and the value.
    """
    scalar = not isinstance(values, (list, tuple, np.ndarray, pd.Series))
    levels = [values] if scalar else list(values)
    if not levels:
        raise ValueError(f"{name} must be a number in (0, 1) or a list of them, got {values!r}")
    for level in levels:
        if isinstance(level, (bool, np.bool_)) or not isinstance(level, (int, float, np.number)):
            raise ValueError(f"{name} must be a number in (0, 1), got {level!r}")
        if not 0 < level < 1:
            raise ValueError(f"{name} must be in (0, 1), got {float(level)}")
    levels = [float(level) for level in levels]
    seen = {}
    for level in levels:
        column = label(level)
        if column in seen:
            other = seen[column]
            raise ValueError(
                f"{name} lists {level} twice"
                if other == level
                else f"{name} levels {other} and {level} give the same column {column!r}"
            )
        seen[column] = level
    return levels, scalar
