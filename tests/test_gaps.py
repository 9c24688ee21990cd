"""Missing time stamps: named by default, inserted and filled with ``fill=``."""

import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tsLSTM import LSTMForecaster
from tsLSTM.forecasting.readers import read_long, to_panel

DAYS = pd.date_range("2021-01-01", periods=8)
GAPPY = DAYS.delete([3, 4])  # 2021-01-04 and 2021-01-05 missing
VALUES = np.array([0.0, 1.0, 2.0, 5.0, 6.0, 7.0])
FILLED = {
    "ffill": [0, 1, 2, 2, 2, 5, 6, 7],
    "interpolate": [0, 1, 2, 3, 4, 5, 6, 7],
    "zero": [0, 1, 2, 0, 0, 5, 6, 7],
}
TINY = {"hidden_size": 4, "max_epochs": 2, "early_stopping": False, "random_state": 0}


def long(values=VALUES, days=GAPPY, sid="a"):
    return pd.DataFrame({"unique_id": sid, "ds": days, "y": values})


@pytest.mark.parametrize("fill", sorted(FILLED))
@pytest.mark.parametrize("container", ["long", "wide", "series"])
def test_fill_inserts_missing_timestamps_with_the_fill_values(fill, container):
    y = {
        "long": long(),
        "wide": pd.DataFrame({"a": VALUES, "b": 10 * VALUES}, index=GAPPY),
        "series": pd.Series(VALUES, index=GAPPY, name="a"),
    }[container]
    panel = to_panel(y, fill=fill)
    np.testing.assert_array_equal(panel.series(0), FILLED[fill])
    assert panel.times[0].equals(DAYS) and panel.steps[0] == pd.offsets.Day()
    if container == "wide":
        np.testing.assert_array_equal(panel.series(1), 10 * np.array(FILLED[fill]))


@pytest.mark.parametrize("container", ["long", "wide", "series"])
def test_without_fill_the_error_names_the_missing_stamps(container):
    y = {"long": long(), "wide": pd.DataFrame({"a": VALUES}, index=GAPPY),
         "series": pd.Series(VALUES, index=GAPPY)}[container]  # fmt: skip
    stamps = r"\['2021-01-04 00:00:00', '2021-01-05 00:00:00'\]"
    with pytest.raises(ValueError, match=rf"is missing 2 timestamps for its frequency D: {stamps}"):
        to_panel(y)


def test_frequency_is_inferred_per_series_despite_gaps():
    months = pd.date_range("2020-01-31", periods=8, freq="ME")  # calendar month ends
    quarters = pd.period_range("2000Q1", periods=6, freq="Q")
    frame = pd.concat([
        long(np.arange(6.0), months.delete([1, 2]), "m"),  # the gap is in the first three
        long(np.arange(5.0), quarters.delete(2).to_timestamp(), "q"),
        long(np.arange(4.0), pd.date_range("2021-01-04", periods=5, freq="B").delete(1), "b"),
    ])  # fmt: skip
    panel = to_panel(frame, fill="interpolate")
    by_id = dict(zip(panel.ids, range(3), strict=True))
    assert panel.times[by_id["m"]].equals(pd.DatetimeIndex(months, name="ds", freq=None))
    np.testing.assert_allclose(panel.series(by_id["m"]), [0, 1 / 3, 2 / 3, 1, 2, 3, 4, 5])
    assert len(panel.times[by_id["q"]]) == 6 and panel.series(by_id["q"])[2] == 1.5
    assert panel.times[by_id["b"]][1] == pd.Timestamp("2021-01-05")  # business days
    periods = pd.Series([1.0, 2.0, 4.0], index=quarters.delete([2, 3, 4]))
    np.testing.assert_array_equal(to_panel(periods, fill="ffill").series(0), [1, 2, 2, 2, 2, 4])
    steps = pd.Series([1.0, 2.0, 5.0], index=[10, 15, 30])  # integer stamps, step 5
    filled = to_panel(steps, fill="interpolate")
    assert list(filled.times[0]) == [10, 15, 20, 25, 30] and filled.steps == [5]
    np.testing.assert_allclose(filled.series(0), [1, 2, 3, 4, 5])


def test_stamps_off_the_grid_still_raise_with_fill():
    days = GAPPY.insert(3, pd.Timestamp("2021-01-03 12:00"))
    with pytest.raises(ValueError, match=r"series 'a' has irregular timestamps.*2021-01-03 12:00"):
        to_panel(long(np.arange(7.0), days), fill="ffill")
    with pytest.raises(ValueError, match="series 'k' has irregular integer time steps"):
        to_panel(pd.Series([1.0, 2.0, 3.0], index=[0, 2, 5], name="k"), fill="zero")


def test_covariates_at_inserted_stamps_come_from_X_or_are_filled():
    known = DAYS.delete(4)  # X has 2021-01-04, not 2021-01-05
    X = pd.DataFrame({"unique_id": "a", "ds": known, "x": 10.0 * np.arange(7)})
    panel = to_panel(long(), X, fill="interpolate")
    np.testing.assert_array_equal(panel.covariates[:, 0], [0, 10, 20, 30, 35, 40, 50, 60])
    series = pd.Series(VALUES, index=GAPPY)
    X_wide = pd.DataFrame({"x": 10.0 * np.arange(7)}, index=known)
    panel = to_panel(series, X_wide, fill="ffill")
    np.testing.assert_array_equal(panel.covariates[:, 0], [0, 10, 20, 30, 30, 40, 50, 60])
    positional = to_panel(series, np.arange(6.0), fill="zero")  # one row per given stamp
    np.testing.assert_array_equal(positional.covariates[:, 0], [0, 1, 2, 0, 0, 3, 4, 5])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_forecaster_fills_gaps_and_read_long_collects_unfilled_ones():
    days = pd.date_range("2021-01-01", periods=40)
    frame = pd.concat([long(np.sin(np.arange(38.0)), days.delete([5, 20]), "a"),
                       long(np.cos(np.arange(40.0)), days, "b")])  # fmt: skip
    forecast = LSTMForecaster(window=5, horizon=2, fill="ffill", **TINY).fit(frame).predict()
    assert list(forecast.ds.unique()) == list(pd.date_range("2021-02-10", periods=2))
    assert np.isfinite(forecast.y_hat).all() and len(forecast) == 4
    panel, problems = read_long(frame, on_error="collect")
    assert panel.ids == ["b"] and problems[0][0] == "a" and "2021-01-06" in problems[0][1]


def test_cli_fill_inserts_missing_timestamps(tmp_path):
    days = pd.date_range("2021-01-01", periods=30)
    frame = pd.concat([long(np.sin(np.arange(29.0)), days.delete(10), "a"),
                       long(np.cos(np.arange(30.0)), days, "b")])  # fmt: skip
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    args = [sys.executable, "-m", "tsLSTM", "forecast", str(path), "--horizon", "2", "--quiet",
            "--window", "5", "--hidden-size", "4", "--max-epochs", "2", "--seed", "0"]  # fmt: skip

    def run(*extra):
        return subprocess.run([*args, *extra], capture_output=True, text=True, env=env, timeout=300)

    failed = run()
    assert failed.returncode == 1
    assert "series 'a' is missing 1 timestamps for its frequency D: ['2021-01-11" in failed.stderr
    assert "pass --fill ffill|interpolate|zero to insert and fill them" in failed.stderr
    skipped = run("--on-error", "skip")  # a skipped series' problem in the command's words too
    assert skipped.returncode == 3 and "pass --fill ffill|interpolate|zero" in skipped.stderr
    filled = run("--fill", "interpolate")
    assert filled.returncode == 0, filled.stderr
    out = pd.read_csv(io.StringIO(filled.stdout))
    assert len(out) == 4 and set(out.ds) == {"2021-01-31", "2021-02-01"}
