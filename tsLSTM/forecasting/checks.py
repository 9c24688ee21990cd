"""Per-series rules every reader applies: a regular time index, and missing values.

:func:`check_time_index` infers a series' step and rejects duplicate, missing or
irregular time stamps; :func:`fill_missing` applies the ``fill`` rule (or names the
series with NaNs). Both report the series by its id.
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
