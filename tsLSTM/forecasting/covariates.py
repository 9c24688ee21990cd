"""Covariates of three kinds, and categorical columns, for the readers.

Nixtla's names: future-known columns (``futr``, values needed for the forecast steps),
past-only columns (``hist``, known up to the forecast origin) and static columns
(``stat``, one value per series). A :class:`~tsLSTM.forecasting.panel.CovariateSpec`
says which column is which; :func:`resolve` finds each column in ``y``'s own long
frame, in ``X`` or in a static frame, and warns about columns no list names.
:func:`encode` turns columns into float channels: numeric (and bool) columns as they
are, categorical ones (object, string, category dtypes) one-hot over the categories
learned at fit. The readers then align the channels with the series.
"""

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from .checks import check_real
from .long_format import covariate_lookup, parse_time_column
from .panel import CovariateSpec, from_native

KINDS = ("futr", "hist", "stat")
_NUMERIC = ("integer", "floating", "mixed-integer-float", "decimal", "complex", "boolean", "empty")


def is_categorical(column):
    """A column of non-numeric values: object, string or category dtype (bool is 0/1)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_numeric_dtype(column.dtype):
        return False
    return pd.api.types.infer_dtype(column, skipna=True) not in _NUMERIC


def encode(frame, columns, categories, where):
    """Columns of ``frame`` as float channels, shape (n_rows, n_channels).

    ``categories`` (column -> list of str) are the fitted ones; None learns them.
    A categorical column becomes one 0/1 channel per category (NaN where the value is
    missing); a category not in ``categories`` is a ValueError naming it. Returns the
    channels and the categories of the categorical columns.
    """
    blocks, learned = [], {}
    for column in columns:
        values = frame[column]
        check_real(values, f"{where}, column {column!r},")
        categorical = is_categorical(values) if categories is None else column in categories
        if categorical:
            text = values.astype(object).where(values.notna(), None)
            text = text.map(lambda v: None if v is None else str(v))
            known = sorted(set(text.dropna())) if categories is None else categories[column]
            codes = pd.Categorical(text, categories=known).codes
            unseen = (codes < 0) & text.notna().to_numpy()
            if unseen.any():
                raise ValueError(
                    f"{where}: column {column!r} has category {text.iloc[np.argmax(unseen)]!r}, "
                    f"not seen at fit (known: {known})"
                )
            block = np.zeros((len(values), len(known)))
            block[np.flatnonzero(codes >= 0), codes[codes >= 0]] = 1.0
            block[codes < 0] = np.nan  # missing: reported where the value is needed
            learned[column] = list(known)
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = (numbers.isna() & values.notna()).to_numpy()
            if bad.any():
                raise ValueError(
                    f"{where}: non-numeric value {values.iloc[np.argmax(bad)]!r} in column "
                    f"{column!r} (numeric at fit)"
                )
            block = numbers.to_numpy(dtype=np.float64, na_value=np.nan)[:, None]
        blocks.append(block)
    if not blocks:
        return np.empty((len(frame), 0)), learned
    return np.concatenate(blocks, axis=1), learned


def _columns(frame, exclude):
    return [] if frame is None else [c for c in frame.columns if c not in exclude]


def resolve(spec, own, X, static, id_col):
    """Column lists of every kind and where each column comes from.

    ``own`` are the covariate columns of ``y``'s own frame (long format), ``X`` a
    DataFrame of per-step covariates (its non-index columns; None if none) and
    ``static`` a static frame. Returns ``(spec, sources)``: ``spec`` with every list
    explicit, ``sources`` mapping each column to ``'y'``, ``'X'`` or ``'static'``.
    Warns about columns no list names; a named column found nowhere is a ValueError.
    """
    x_cols = [] if X is None else list(X)
    s_cols = _columns(static, (id_col,))
    hist = list(spec.hist or [])
    stat = list(s_cols if spec.stat is None else spec.stat)
    futr = list(spec.futr) if spec.futr is not None else [
        c for c in x_cols if c not in hist and c not in stat
    ]  # fmt: skip
    lists = {"futr": futr, "hist": hist, "stat": stat}
    seen = {}
    for kind, names in lists.items():
        for column in names:
            if column in seen:
                raise ValueError(
                    f"column {column!r} is named in both {seen[column]}_exog_list and "
                    f"{kind}_exog_list"
                )
            seen[column] = kind
    sources = {}
    for column, kind in seen.items():
        other = "X" if kind != "stat" else "static"
        found = column in own or column in (x_cols if kind != "stat" else s_cols)
        if not found:
            raise ValueError(
                f"column {column!r} named in {kind}_exog_list is in neither y's own columns "
                f"{list(own)} nor {other}'s {x_cols if kind != 'stat' else s_cols}"
            )
        sources[column] = "y" if column in own else other
    unused = {where: [c for c in cols if c not in seen]
              for where, cols in (("y", own), ("X", x_cols), ("static", s_cols))}  # fmt: skip
    unused = [f"{where}'s {cols}" for where, cols in unused.items() if cols]
    if unused:
        warnings.warn(
            f"columns not used as covariates: {'; '.join(unused)}; name them in "
            "futr_exog_list (known for the forecast steps), hist_exog_list (known up to the "
            "forecast origin) or stat_exog_list (one value per series)",
            UserWarning,
            stacklevel=4,
        )
    return CovariateSpec(tuple(futr), tuple(hist), tuple(stat), spec.categories), sources


def _with_categories(spec, learned):
    """``spec`` with the categories learned now (at fit), or as fitted (at predict)."""
    return spec if spec.categories is not None else replace(spec, categories=dict(learned))


def _keyed(frame, columns, names, categories, where, strict):
    """Channels of ``columns`` indexed by ``(series id, time key)`` (see covariate_lookup).

    Not ``strict`` (``y``'s own columns): rows without id or parseable time stamp and
    repeated ``(id, time)`` rows are left out, the target reader reports them.
    """
    id_col, time_col = names["id_col"], names["time_col"]
    values, learned = encode(frame, columns, categories, where)
    channels = CovariateSpec(futr=columns, categories=categories or learned).channels("futr")
    if strict:
        numeric = pd.DataFrame(values, index=frame.index, columns=channels)
        numeric[id_col], numeric[time_col] = frame[id_col].array, frame[time_col].array
        return covariate_lookup(numeric, names, channels), learned
    _, keys, bad = parse_time_column(frame[time_col], time_col)
    index = pd.MultiIndex.from_arrays([frame[id_col].to_numpy(dtype=object), keys])
    keep = ~bad & frame[id_col].notna().to_numpy() & ~index.duplicated()
    return pd.DataFrame(values[keep], index=index[keep], columns=channels), learned


def long_covariates(y, X, static, spec, names):
    """Per-step and static channels of a long ``y`` (its own columns, ``X``, ``static``).

    Returns ``(spec, steps, statics)``: ``spec`` resolved (categories learned if it had
    none), ``steps`` a lookup of the future-known then past-only channels indexed by
    ``(series id, time key)`` (None without), ``statics`` a frame of the static
    channels indexed by series id (None without).
    """
    id_col, time_col, target_col = names["id_col"], names["time_col"], names["target_col"]
    if X is not None and (not isinstance(X, pd.DataFrame) or not {id_col, time_col} <= set(X)):
        raise ValueError(
            f"with long-format y, X must be a DataFrame with columns {id_col!r}, {time_col!r} "
            "and the covariates"
        )
    x_cols = None if X is None else _columns(X, (id_col, time_col))
    if x_cols is not None and not x_cols:
        raise ValueError("X has no covariate columns")
    own = _columns(y, (id_col, time_col, target_col))
    static = _static_frame(static, id_col)
    spec, sources = resolve(spec, own, x_cols, static, id_col)
    learned, parts = {}, []
    for source, frame in (("y", y), ("X", X)):
        columns = [c for c in (*spec.futr, *spec.hist) if sources[c] == source]
        if columns:
            part, found = _keyed(frame, columns, names, spec.categories, source, source == "X")
            learned.update(found)
            parts.append(part)
    steps = None
    if parts:
        steps = parts[0] if len(parts) == 1 else parts[0].join(parts[1], how="left")
        fitted = _with_categories(spec, learned)
        steps = steps[fitted.channels("futr") + fitted.channels("hist")]
    statics = _static_channels(y, static, spec, sources, id_col, learned)
    return _with_categories(spec, learned), steps, statics


def _static_frame(static, id_col):
    """A static frame with an ``id_col`` column (from its index if it has none); a
    polars frame is read as pandas."""
    if static is None:
        return None
    static = from_native(static)[0]
    if not isinstance(static, pd.DataFrame):
        raise ValueError(f"static must be a DataFrame, got {type(static).__name__}")
    if id_col not in static.columns:
        static = static.rename_axis(id_col).reset_index()  # indexed by series id
    ids = static[id_col]
    if ids.duplicated().any():
        raise ValueError(f"static has several rows for series {ids[ids.duplicated()].iloc[0]!r}")
    return static


def _static_channels(y, static, spec, sources, id_col, learned):
    """Static channels indexed by series id, from ``y``'s own columns and ``static``;
    adds the categories found to ``learned``."""
    parts = []
    for source, frame in (("y", y), ("static", static)):
        columns = [c for c in spec.stat if sources[c] == source]
        if not columns:
            continue
        if source == "y":
            frame = frame[frame[id_col].notna()]
            changing = frame.groupby(id_col, sort=False)[columns].nunique(dropna=False) > 1
            if changing.to_numpy().any():
                sid, column = changing.stack().loc[lambda s: s].index[0]
                raise ValueError(
                    f"static column {column!r} is not constant in series {sid!r}: pass it "
                    "in hist_exog_list or futr_exog_list, or fix the data"
                )
            frame = frame.drop_duplicates(id_col)
        values, found = encode(frame, columns, spec.categories, source)
        learned.update(found)
        channels = CovariateSpec(stat=columns, categories=spec.categories or found)
        index = pd.Index(frame[id_col].to_numpy(dtype=object))
        parts.append(pd.DataFrame(values, index=index, columns=channels.channels("stat")))
    if not parts:
        return None
    statics = parts[0] if len(parts) == 1 else parts[0].join(parts[1], how="outer")
    return statics[_with_categories(spec, learned).channels("stat")]


def table_covariates(X, static, spec, id_col):
    """Per-step covariates of one series or a wide frame, and static channels.

    An array or Series ``X`` without past-only columns passes through (its columns are
    future-known, by position); otherwise ``X`` becomes a numeric DataFrame of the
    future-known then past-only channels with ``X``'s index. Returns ``(spec, X,
    statics)``; ``spec.futr`` is None for ``X`` passed through (the reader names its
    columns).
    """
    static = _static_frame(static, id_col)
    through = X is not None and not isinstance(X, pd.DataFrame) and not spec.hist
    frame = None if X is None or through else _as_frame(X)
    columns = None if frame is None else list(frame)
    spec, sources = resolve(replace(spec, futr=() if through else spec.futr), [], columns,
                            static, id_col)  # fmt: skip
    learned, steps = {}, None
    if spec.futr or spec.hist:
        values, learned = encode(frame, [*spec.futr, *spec.hist], spec.categories, "X")
        fitted = _with_categories(spec, learned)
        channels = fitted.channels("futr") + fitted.channels("hist")
        steps = pd.DataFrame(values, index=frame.index, columns=channels)
    statics = _static_channels(None, static, spec, sources, id_col, learned)
    spec = _with_categories(spec, learned)
    return (replace(spec, futr=None) if through else spec), (X if through else steps), statics


def _as_frame(X):
    """``X`` as a DataFrame: an array's columns are named ``x0``, ``x1``, ..."""
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return pd.DataFrame({"x0": X.to_numpy()}, index=X.index)
    array = np.asarray(X)
    array = array[:, None] if array.ndim == 1 else array
    return pd.DataFrame(array, columns=[f"x{j}" for j in range(array.shape[1])])


def future_table(X, spec, kind, names):
    """The future-known channels of ``X`` (the forecast steps) for a fitted ``spec``:
    a lookup for long data, else a DataFrame with ``X``'s index (an array or Series
    ``X`` of a model without past-only columns passes through). Other columns of
    ``X`` are not needed here (their use was checked when the history was read)."""
    if spec is None or X is None or not spec.futr:
        return X
    id_col, time_col = names["id_col"], names["time_col"]
    if kind == "long":
        if not isinstance(X, pd.DataFrame) or not {id_col, time_col} <= set(X):
            raise ValueError(
                f"with long-format y, X must be a DataFrame with columns {id_col!r}, "
                f"{time_col!r} and the covariates"
            )
        _require(spec.futr, X)
        return _keyed(X, list(spec.futr), names, spec.categories, "X", strict=True)[0]
    if not isinstance(X, pd.DataFrame) and not spec.hist:
        return X  # columns by position, as fitted
    frame = _require(spec.futr, _as_frame(X))
    values, _ = encode(frame, list(spec.futr), spec.categories, "X")
    return pd.DataFrame(values, index=frame.index, columns=spec.channels("futr"))


def _require(columns, X):
    """``X``, or a ValueError naming the future-known ``columns`` it lacks."""
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(
            f"X lacks the future-known column(s) {missing} for the forecast steps "
            f"(it has {list(X.columns)})"
        )
    return X


def attach(panel, spec, statics):
    """``panel`` with its per-step channels split into future-known and past-only ones,
    the static channels of its series, and ``spec``.

    Returns ``(panel, missing)``: ``missing`` lists the series without (finite)
    static values.
    """
    covariates, past = panel.covariates, None
    if spec.futr is None:  # X passed through: the reader named its columns
        spec = replace(spec, futr=tuple(panel.covariate_names))
    n_futr = len(spec.channels("futr"))
    if spec.hist and covariates is not None:
        covariates, past = covariates[:, :n_futr], covariates[:, n_futr:]
    static, missing = _aligned_static(statics, panel.ids)
    panel = replace(
        panel, covariates=covariates if n_futr else None,
        covariate_names=spec.channels("futr"), past_covariates=past,
        past_covariate_names=spec.channels("hist"), static=static,
        static_names=spec.channels("stat"), spec=spec,
    )  # fmt: skip
    return panel, missing


def _aligned_static(statics, ids):
    """Rows of ``statics`` for the series ``ids``, and the ids with no finite row."""
    if statics is None:
        return None, []
    static = statics.reindex(pd.Index(ids, dtype=object)).to_numpy(dtype=np.float64)
    return static, [ids[i] for i in np.flatnonzero(~np.isfinite(static).all(axis=1))]


def with_static(panel, static, spec, id_col):
    """``panel`` with the static covariates of the frame ``static`` (a fitted ``spec``)."""
    static = _static_frame(static, id_col)
    only_stat = replace(spec, futr=(), hist=())
    _, sources = resolve(only_stat, [], None, static, id_col)
    aligned, missing = _aligned_static(
        _static_channels(None, static, only_stat, sources, id_col, {}), panel.ids
    )
    if missing:
        raise missing_static_error(missing)
    return replace(panel, static=aligned)


def missing_static_error(missing):
    """The ValueError for series without static values."""
    return ValueError(
        f"series {missing[0]!r} has no static covariates (or a missing value among them)"
        + (f"; and {len(missing) - 1} more series" if len(missing) > 1 else "")
    )
