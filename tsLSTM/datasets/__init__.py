"""Loaders for the small datasets bundled with tsLSTM (see ``datasets/README.md``)."""

from pathlib import Path

import pandas as pd

_PACKAGE_DATA = Path(__file__).with_name("_bundled")  # inside an installed wheel
_SOURCE_DATA = Path(__file__).resolve().parents[2] / "datasets"  # a source checkout


def data_path(filename):
    """Path of a bundled data file, from an installed wheel or a source checkout."""
    for folder in (_PACKAGE_DATA, _SOURCE_DATA):
        path = folder / filename
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"bundled data file {filename!r} not found in {_PACKAGE_DATA} or {_SOURCE_DATA}; "
        "the installation is incomplete"
    )


def load_sunspots():
    """Yearly mean sunspot numbers, 1700-2008.

    Returns
    -------
    pandas.Series
        309 values named ``sunspots`` with a yearly ``PeriodIndex``.
    """
    frame = pd.read_csv(data_path("sunspots.csv"))
    index = pd.PeriodIndex(frame["ds"].astype(str), freq="Y", name="year")
    return pd.Series(frame["y"].to_numpy(dtype=float), index=index, name="sunspots")


def load_us_macro():
    """Panel of 8 quarterly US macroeconomic series, 1959Q1-2009Q3, long format.

    Returns
    -------
    pandas.DataFrame
        Columns ``unique_id`` (series name), ``ds`` (quarter start, Timestamp) and
        ``y``; 203 rows per series.
    """
    frame = pd.read_csv(data_path("us_macro.csv"))
    frame["ds"] = pd.PeriodIndex(frame["ds"], freq="Q").to_timestamp()
    return frame


def load_airline():
    """Monthly international airline passengers (thousands), 1949-01 to 1960-12.

    Returns
    -------
    pandas.Series
        144 values named ``passengers`` with a monthly ``PeriodIndex``.
    """
    frame = pd.read_csv(data_path("airline.csv"))
    index = pd.PeriodIndex(frame["ds"], freq="M", name="month")
    return pd.Series(frame["y"].to_numpy(dtype=float), index=index, name="passengers")
