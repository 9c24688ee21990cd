"""Probabilistic forecasts: intervals at several coverages, conformal quantiles, their
empirical coverage on held-out data, and backtests that return forecasts and score
intervals."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import tsLSTM
from tsLSTM import LSTMForecaster, backtest
from tsLSTM.forecasting.backtest import BacktestWindow, backtest_panel

FAST = {"hidden_size": 8, "learning_rate": 0.01, "max_epochs": 10, "random_state": 0}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def ar_panel(n_series=40, n=96, seed=0):
    """Monthly series: a level, a yearly sine and AR(1) noise (phi 0.6, sd 0.5)."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_series):
        shocks, noise = rng.normal(0, 0.5, n), np.zeros(n)
        for t in range(1, n):
            noise[t] = 0.6 * noise[t - 1] + shocks[t]
        t = np.arange(n)
        y = 10 + rng.uniform(0, 5) + 2 * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 6)) + noise
        frames.append(pd.DataFrame({
            "unique_id": f"s{k}", "ds": pd.date_range("2000-01", periods=n, freq="MS"), "y": y,
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    """A forecaster with 0.3 of its windows held out for calibration, and its series."""
    data = ar_panel(n_series=8, n=72)
    f = LSTMForecaster(window=12, horizon=3, calibration_fraction=0.3, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return f.fit(data), data


# -- several coverage levels -------------------------------------------------------------


def test_several_levels_give_a_column_pair_each_in_order_and_nested(fitted):
    f, _ = fitted
    one = f.predict_interval(coverage=0.8)
    assert list(one.columns) == ["unique_id", "ds", "y_hat", "y_hat_lower", "y_hat_upper"]
    both = f.predict_interval(coverage=[0.95, 0.8])  # the list's order
    assert list(both.columns) == ["unique_id", "ds", "y_hat", "y_hat_lower_95",
                                  "y_hat_upper_95", "y_hat_lower_80", "y_hat_upper_80"]  # fmt: skip
    # the 80% pair is the scalar call's interval; the 95% one contains it
    np.testing.assert_array_equal(both.y_hat_lower_80, one.y_hat_lower)
    np.testing.assert_array_equal(both.y_hat_upper_80, one.y_hat_upper)
    np.testing.assert_array_equal(both.y_hat, one.y_hat)
    assert (both.y_hat_lower_95 < both.y_hat_lower_80).all()
    assert (both.y_hat_upper_80 < both.y_hat_upper_95).all()
    assert (both.y_hat_lower_80 < both.y_hat).all() and (both.y_hat < both.y_hat_upper_80).all()
    # a list of one level is suffixed too
    assert list(f.predict_interval(coverage=[0.9]).columns[3:]) == ["y_hat_lower_90",
                                                                   "y_hat_upper_90"]  # fmt: skip


@pytest.mark.parametrize("kind", ["array", "series", "wide"])
def test_several_levels_in_every_container(kind):
    t = np.arange(100)
    values = 5 + np.sin(t / 3) + 0.1 * np.random.default_rng(0).standard_normal(100)
    index = pd.date_range("2020-01-01", periods=100, freq="D")
    y = {"array": values, "series": pd.Series(values, index=index, name="load"),
         "wide": pd.DataFrame({"a": values, "b": 2 * values}, index=index)}[kind]  # fmt: skip
    f = LSTMForecaster(window=8, horizon=2, calibration_fraction=0.5, **FAST).fit(y)
    scalar = f.predict_interval(0.8)
    several = f.predict_interval([0.8, 0.975])
    names = ["y_hat", "y_hat_lower_80", "y_hat_upper_80", "y_hat_lower_97.5", "y_hat_upper_97.5"]
    if kind == "array":
        assert scalar.shape == (2, 3) and several.shape == (2, 5)
        np.testing.assert_array_equal(several[:, :3], scalar)
        return
    if kind == "series":
        assert list(scalar.columns) == ["y_hat", "y_hat_lower", "y_hat_upper"]
        assert list(several.columns) == names
        assert several.index.equals(scalar.index)
        return
    assert list(scalar.columns) == [(s, c) for s in "ab" for c in ["y_hat", "y_hat_lower",
                                                                   "y_hat_upper"]]  # fmt: skip
    assert list(several.columns) == [(s, c) for s in "ab" for c in names]
    np.testing.assert_array_equal(several["b"]["y_hat_lower_80"], scalar["b"]["y_hat_lower"])


def test_predict_panel_levels_and_panel_output(fitted):
    f, _ = fitted
    panel = f.history_
    y_hat, lower, upper = f.predict_panel(panel, coverage=0.8)  # one number: as before
    forecasts, intervals = f.predict_panel(panel, coverage=[0.8, 0.95])
    assert list(intervals) == [0.8, 0.95]
    np.testing.assert_array_equal(forecasts, y_hat)
    np.testing.assert_array_equal(intervals[0.8][0], lower)
    np.testing.assert_array_equal(intervals[0.8][1], upper)
    pd.testing.assert_frame_equal(
        panel.output(forecasts, intervals), f.predict_interval(coverage=[0.8, 0.95])
    )


def test_quantiles_are_monotone_and_the_interval_bounds(fitted):
    f, _ = fitted
    q = f.predict_quantiles()  # sktime's default alpha=[0.1, 0.5, 0.9]
    assert list(q.columns) == ["unique_id", "ds", "y_hat_q0.1", "y_hat_q0.5", "y_hat_q0.9"]
    band = f.predict_interval(coverage=0.8)
    np.testing.assert_array_equal(q["y_hat_q0.1"], band.y_hat_lower)
    np.testing.assert_array_equal(q["y_hat_q0.5"], band.y_hat)
    np.testing.assert_array_equal(q["y_hat_q0.9"], band.y_hat_upper)
    alphas = [0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95]
    grid = f.predict_quantiles(alpha=alphas).iloc[:, 2:].to_numpy()
    assert (np.diff(grid, axis=1) >= 0).all()
    assert (grid[:, -1] > grid[:, 0]).all()
    one = f.predict_quantiles(alpha=0.25, horizon=2)
    assert list(one.columns) == ["unique_id", "ds", "y_hat_q0.25"] and len(one) == 8 * 2


@pytest.mark.parametrize(
    "coverage, message",
    [(1.5, r"coverage must be in \(0, 1\), got 1.5"), (0, r"coverage must be in \(0, 1\)"),
     ([0.8, 0.8], "coverage lists 0.8 twice"), ([], "coverage must be a number"),
     ("0.9", "coverage must be a number in \\(0, 1\\), got '0.9'"), ([0.8, True], "got True"),
     ([0.8, 0.8000001], "give the same column"), (0.999, "calibration windows cannot give "
                                                        "coverage=0.999")],
)  # fmt: skip
def test_invalid_levels_name_the_value(fitted, coverage, message):
    f, _ = fitted
    with pytest.raises(ValueError, match=message):
        f.predict_interval(coverage=coverage)
    with pytest.raises(ValueError, match=message):
        f.predict_panel(f.history_, coverage=coverage)


@pytest.mark.parametrize(
    "alpha, message",
    [(1.0, r"alpha must be in \(0, 1\), got 1.0"), ([0.1, -0.2], "got -0.2"),
     ([0.1, 0.1], "alpha lists 0.1 twice"), (0.001, "cannot give alpha=0.001")],
)  # fmt: skip
def test_invalid_alphas_name_the_value(fitted, alpha, message):
    f, _ = fitted
    with pytest.raises(ValueError, match=message):
        f.predict_quantiles(alpha=alpha)


def test_quantiles_need_calibration():
    f = LSTMForecaster(window=8, horizon=2, **FAST).fit(5 + np.sin(np.arange(60) / 3))
    with pytest.raises(ValueError, match="need calibration_fraction > 0"):
        f.predict_quantiles()


def test_several_levels_after_save_and_load(fitted, tmp_path):
    f, data = fitted
    f.save(tmp_path / "m.tslstm")
    loaded = tsLSTM.load(tmp_path / "m.tslstm")
    pd.testing.assert_frame_equal(
        loaded.predict_interval([0.8, 0.95], y=data), f.predict_interval([0.8, 0.95])
    )
    pd.testing.assert_frame_equal(loaded.predict_quantiles(y=data), f.predict_quantiles())


# -- empirical coverage ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_empirical_coverage_on_held_out_data(seed):
    """40 AR(1)-noise series; the last 15 steps are held out of fitting and forecast
    from 5 origins (600 points per level). Over seeds 0-7 the observed coverage was
    0.77-0.83 at 80%, 0.94-0.97 at 95%, and 0.885-0.915 between the 5% and 95%
    quantiles."""
    n, H, held = 96, 3, 15
    data = ar_panel(40, n, seed)
    f = LSTMForecaster(window=12, horizon=H, calibration_fraction=0.3, batch_size=128,
                       **{**FAST, "random_state": seed})  # fmt: skip
    f.fit(data.groupby("unique_id").head(n - held))
    inside = {0.8: [], 0.95: [], "q": []}
    for origin in range(held // H):
        history = data.groupby("unique_id").head(n - held + H * origin)
        bands = f.predict_interval([0.8, 0.95], y=history).merge(data, on=["unique_id", "ds"])
        assert len(bands) == 40 * H
        for c in (0.8, 0.95):
            lower, upper = bands[f"y_hat_lower_{100 * c:g}"], bands[f"y_hat_upper_{100 * c:g}"]
            inside[c].append((lower <= bands.y) & (bands.y <= upper))
        q = f.predict_quantiles([0.05, 0.95], y=history).merge(data, on=["unique_id", "ds"])
        inside["q"].append((q["y_hat_q0.05"] <= q.y) & (q.y <= q["y_hat_q0.95"]))
    coverage = {key: np.concatenate(hits).mean() for key, hits in inside.items()}
    assert 0.72 <= coverage[0.8] <= 0.88, coverage
    assert 0.9 <= coverage[0.95] <= 0.99, coverage
    assert 0.82 <= coverage["q"] <= 0.96, coverage  # 5% to 95% quantiles: 90%


# -- backtests with forecasts and intervals ----------------------------------------------


def test_backtest_returns_forecasts_and_scores_intervals():
    data = ar_panel(n_series=4, n=60)
    forecaster = LSTMForecaster(window=12, horizon=3, calibration_fraction=0.3, **FAST)
    scores, forecasts = backtest(forecaster, data, n_windows=2, coverage=[0.8, 0.95],
                                 return_forecasts=True)  # fmt: skip
    assert list(scores.columns) == ["unique_id", "window", "cutoff", "mae", "rmse", "smape",
                                    "mase", "coverage_80", "width_80", "coverage_95",
                                    "width_95"]  # fmt: skip
    assert list(forecasts.columns) == ["unique_id", "ds", "cutoff", "y", "y_hat",
                                       "y_hat_lower_80", "y_hat_upper_80", "y_hat_lower_95",
                                       "y_hat_upper_95"]  # fmt: skip
    assert len(forecasts) == 4 * 2 * 3
    # the actual values and time stamps are the data's; the cutoffs those of the scores
    merged = forecasts.merge(data, on=["unique_id", "ds"], suffixes=("", "_data"))
    np.testing.assert_array_equal(merged.y, merged.y_data)
    s0 = forecasts[forecasts.unique_id == "s0"]
    assert s0.ds.tolist() == list(pd.date_range("2004-07", periods=6, freq="MS"))
    assert s0.cutoff.tolist() == [pd.Timestamp("2004-06-01")] * 3 + [pd.Timestamp("2004-09-01")] * 3
    assert set(forecasts.cutoff) == set(scores.cutoff)
    # the scores are those of the forecasts
    by_window = forecasts.assign(window=forecasts.cutoff.rank(method="dense").astype(int) - 1)
    for c in ("80", "95"):
        lower, upper = by_window[f"y_hat_lower_{c}"], by_window[f"y_hat_upper_{c}"]
        by_window["inside"] = (lower <= by_window.y) & (by_window.y <= upper)
        by_window["width"] = upper - lower
        expected = by_window.groupby(["unique_id", "window"])[["inside", "width"]].mean()
        got = scores.set_index(["unique_id", "window"])[[f"coverage_{c}", f"width_{c}"]]
        np.testing.assert_allclose(got.to_numpy(), expected.loc[got.index].to_numpy())
    mae = (forecasts.y - forecasts.y_hat).abs().groupby([forecasts.unique_id,
                                                         forecasts.cutoff]).mean()  # fmt: skip
    np.testing.assert_allclose(scores.sort_values(["unique_id", "window"]).mae, mae.to_numpy())
    # the last window is a fit on all but 3 steps and its intervals
    train = data.groupby("unique_id").head(57)
    manual = LSTMForecaster(window=12, horizon=3, calibration_fraction=0.3, **FAST).fit(train)
    last = forecasts[forecasts.cutoff == forecasts.cutoff.max()].reset_index(drop=True)
    expected = manual.predict_interval([0.8, 0.95])
    pd.testing.assert_frame_equal(last.drop(columns=["cutoff", "y"]), expected)


def test_backtest_one_level_plain_names_and_default_return():
    index = pd.period_range("2000-01", periods=70, freq="M")
    y = pd.Series(5 + np.sin(np.arange(70) / 3), index=index, name="load")
    forecaster = LSTMForecaster(window=8, horizon=2, calibration_fraction=0.3, **FAST)
    scores, forecasts = backtest(forecaster, y, n_windows=2, coverage=0.8, return_forecasts=True)
    assert list(scores.columns)[-2:] == ["coverage", "width"]
    assert list(forecasts.columns) == ["unique_id", "ds", "cutoff", "y", "y_hat",
                                       "y_hat_lower", "y_hat_upper"]  # fmt: skip
    assert forecasts.unique_id.tolist() == ["load"] * 4
    assert forecasts.ds.tolist() == list(pd.period_range("2005-07", periods=4, freq="M"))
    assert scores.coverage.between(0, 1).all() and (scores.width > 0).all()
    plain = backtest(forecaster, y, n_windows=2)  # without the options: the scores as before
    assert isinstance(plain, pd.DataFrame)
    assert list(plain.columns) == ["unique_id", "window", "cutoff", "mae", "rmse", "smape", "mase"]
    _, no_bounds = backtest(forecaster, y, n_windows=2, return_forecasts=True)
    assert list(no_bounds.columns) == ["unique_id", "ds", "cutoff", "y", "y_hat"]


def test_backtest_checks_coverage_before_training():
    forecaster = LSTMForecaster(window=8, horizon=2, **FAST)  # no calibration
    panel = forecaster.to_panel(ar_panel(n_series=2, n=40))
    epochs = []
    with pytest.raises(ValueError, match=r"coverage=0.8 needs a forecaster with "
                                         r"calibration_fraction > 0"):  # fmt: skip
        backtest_panel(forecaster, panel, 2, 2, 2, True, on_epoch=epochs.append, coverage=0.8)
    calibrated = forecaster.set_params(calibration_fraction=0.3)
    with pytest.raises(ValueError, match=r"coverage must be in \(0, 1\), got 1.2"):
        backtest_panel(calibrated, panel, 2, 2, 2, True, on_epoch=epochs.append,
                       coverage=[0.8, 1.2])  # fmt: skip
    assert epochs == []  # nothing was trained


def test_backtest_reports_each_window():
    forecaster = LSTMForecaster(window=8, horizon=2, **FAST)
    panel = forecaster.to_panel(ar_panel(n_series=2, n=40))
    windows = []
    backtest_panel(forecaster, panel, 2, 3, 2, 2, on_window=windows.append)
    assert windows == [
        BacktestWindow(0, 3, pd.Timestamp("2002-10-01"), True),
        BacktestWindow(1, 3, pd.Timestamp("2002-12-01"), False),  # refit every 2 windows
        BacktestWindow(2, 3, pd.Timestamp("2003-02-01"), True),
    ]
