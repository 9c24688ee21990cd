"""Plots (tsLSTM.plotting), drawn headless with the Agg backend: what each figure holds."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import require
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from tsLSTM import LSTMForecaster, LSTMRegressor
from tsLSTM.plotting import plot_backtest, plot_forecast, plot_loss

FAST = {"hidden_size": 4, "max_epochs": 4, "random_state": 0}


@pytest.fixture(autouse=True)
def agg():
    matplotlib = require("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def long_frame(n_series=3, n=40):
    t = np.arange(n)
    return pd.concat(
        [pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2020-01-01", periods=n,
                                                                 freq="D"),
                       "y": 10 + k + np.sin(t / 3 + k)}) for k in range(n_series)],
        ignore_index=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LSTMForecaster(window=6, horizon=3, calibration_fraction=0.3, **FAST).fit(
            long_frame()
        )


def lines(ax):
    return [(line.get_xdata(), np.asarray(line.get_ydata(), float)) for line in ax.get_lines()]


def band(collection):
    """(min, max) of a shaded band's y values."""
    y = collection.get_paths()[0].vertices[:, 1]
    return y.min(), y.max()


def test_long_forecast_with_intervals_one_axes_per_series(model):
    history = long_frame()
    forecast = model.predict_interval(0.8)
    fig = plot_forecast(history, forecast)
    assert len(fig.axes) == 3
    for ax, sid in zip(fig.axes, ["s0", "s1", "s2"], strict=True):
        assert ax.get_title() == sid
        (hx, hy), (fx, fy) = lines(ax)
        np.testing.assert_array_equal(hy, history[history.unique_id == sid].y)
        part = forecast[forecast.unique_id == sid]
        np.testing.assert_array_equal(fy, part.y_hat)
        assert pd.Timestamp(fx[0]) == part.ds.iloc[0] > pd.Timestamp(hx[-1])
        assert len(ax.collections) == 1
        np.testing.assert_allclose(
            band(ax.collections[0]), (part.y_hat_lower.min(), part.y_hat_upper.max())
        )
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "history", "interval", "forecast"
    ]  # fmt: skip


def test_series_wide_and_array_containers(model):
    history = long_frame()
    wide = history.pivot(index="ds", columns="unique_id", values="y")
    fig = plot_forecast(wide, model.predict_interval(0.8, y=wide), history_length=10)
    assert [ax.get_title() for ax in fig.axes] == ["s0", "s1", "s2"]
    assert all(len(ax.collections) == 1 for ax in fig.axes)
    assert len(lines(fig.axes[1])[0][1]) == 10  # the last 10 steps of history
    fig = plot_forecast(wide, model.predict(y=wide))  # no intervals
    assert [len(ax.collections) for ax in fig.axes] == [0, 0, 0]
    series = wide["s1"].rename("sales")
    series.index = series.index.to_period("D")
    forecast = model.predict_interval(0.8, y=series)  # a DataFrame, no id column
    fig = plot_forecast(series, forecast)
    (ax,) = fig.axes
    assert ax.get_title() == "sales" and len(ax.collections) == 1
    np.testing.assert_array_equal(lines(ax)[1][1], forecast.y_hat)
    values = series.to_numpy()
    forecast = model.predict_interval(0.8, y=values)  # (horizon, 3): y_hat, lower, upper
    fig = plot_forecast(values, forecast)
    (hx, _), (fx, fy) = lines(fig.axes[0])
    assert list(fx) == [40, 41, 42] and hx[-1] == 39  # steps after the array's
    np.testing.assert_array_equal(fy, forecast[:, 0])
    assert band(fig.axes[0].collections[0]) == (forecast[:, 1].min(), forecast[:, 2].max())
    fig = plot_forecast(None, model.predict(y=values))
    assert len(fig.axes) == 1 and len(lines(fig.axes[0])) == 1


def test_several_interval_levels_are_shaded_widest_first():
    forecast = pd.DataFrame({
        "unique_id": "a", "ds": pd.date_range("2021-01-01", periods=3),
        "y_hat": [1.0, 2.0, 3.0],
        "y_hat_lower_80": [0.5, 1.5, 2.5], "y_hat_upper_80": [1.5, 2.5, 3.5],
        "y_hat_lower_95": [0.0, 1.0, 2.0], "y_hat_upper_95": [2.0, 3.0, 4.0],
    })  # fmt: skip
    fig = plot_forecast(None, forecast)
    ax = fig.axes[0]
    assert [band(c) for c in ax.collections] == [(0.0, 4.0), (0.5, 3.5)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "95% interval", "80% interval", "forecast"
    ]  # fmt: skip


def test_series_choice_and_bad_input(model):
    forecast = pd.DataFrame({"unique_id": np.repeat([f"id{k}" for k in range(10)], 2),
                             "ds": np.tile([5, 6], 10), "y_hat": np.arange(20.0)})  # fmt: skip
    fig = plot_forecast(None, forecast, max_series=4)
    assert len(fig.axes) == 4 and "the first 4 of 10 series" in fig._suptitle.get_text()
    fig = plot_forecast(None, forecast, ids=["id7", "id2"])
    assert [ax.get_title() for ax in fig.axes] == ["id7", "id2"]
    with pytest.raises(ValueError, match=r"ids: no series \['nope'\]"):
        plot_forecast(None, forecast, ids=["nope"])
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        plot_forecast(None, np.zeros((3, 2)))
    import matplotlib.pyplot as plt

    own_fig, own_ax = plt.subplots()
    assert plot_forecast(None, forecast, ids=["id1"], ax=own_ax) is own_fig
    with pytest.raises(ValueError, match="2 series need 2 axes, got 1"):
        plot_forecast(None, forecast, ids=["id1", "id2"], ax=own_ax)


def backtest_frame():
    rows = []
    for sid, level in (("a", 0.0), ("b", 10.0)):
        for cutoff in (5, 8):
            for step in (1, 2, 3):
                t = cutoff + step
                rows.append((sid, t, cutoff, level + t, level + t + 0.5, level + t - 1,
                             level + t + 2))  # fmt: skip
    return pd.DataFrame(
        rows, columns=["unique_id", "ds", "cutoff", "y", "y_hat", "y_hat_lower", "y_hat_upper"]
    )


def test_backtest_forecasts_against_actuals():
    frame = backtest_frame()
    fig = plot_backtest(frame)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    ax = fig.axes[1]
    drawn = lines(ax)
    assert len(drawn) == 1 + 2 * 2  # actuals; per cutoff a forecast and a vertical line
    assert list(drawn[0][0]) == list(range(6, 12))  # actuals once per time stamp, in order
    np.testing.assert_array_equal(drawn[0][1], 10.0 + np.arange(6, 12))
    forecasts = [d for d in drawn[1:] if len(d[0]) == 3]
    verticals = [d for d in drawn[1:] if len(d[0]) == 2]
    np.testing.assert_array_equal(forecasts[1][1], 10.5 + np.array([9, 10, 11]))
    assert [list(v[0]) for v in verticals] == [[5, 5], [8, 8]]
    assert len(ax.collections) == 2
    assert band(ax.collections[0]) == (10 + 6 - 1, 10 + 8 + 2)
    history = pd.DataFrame({"unique_id": "a", "ds": np.arange(12), "y": np.arange(12.0)})
    fig = plot_backtest(frame, history=history, ids=["a"], history_length=3)
    (x, y), *_ = lines(fig.axes[0])
    assert list(x) == list(range(3, 12)) and list(y) == list(range(3, 12))
    with pytest.raises(ValueError, match=r"missing column\(s\) \['cutoff'\]"):
        plot_backtest(frame.drop(columns="cutoff"))


def test_loss_curves_and_the_best_validation_epoch(model):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = LSTMRegressor(**{**FAST, "max_epochs": 8}, early_stopping=True,
                            n_iter_no_change=8).fit(X, X.sum(axis=1))  # fmt: skip
    fig = plot_loss(reg)
    ax = fig.axes[0]
    (ex, train), (vx, val), (bx, _), (mx, my) = lines(ax)
    np.testing.assert_array_equal(train, reg.loss_curve_)
    np.testing.assert_array_equal(val, reg.validation_loss_curve_)
    best = int(np.argmin(reg.validation_loss_curve_)) + 1
    assert list(ex) == list(vx) == list(range(1, 9))
    assert list(bx) == [best, best] and list(mx) == [best]
    assert my[0] == min(reg.validation_loss_curve_)
    assert f"best epoch ({best})" in [t.get_text() for t in ax.get_legend().get_texts()]
    fig = plot_loss(model)  # a forecaster: its network's curves
    np.testing.assert_array_equal(lines(fig.axes[0])[0][1], model.regressor_.loss_curve_)
    assert fig.axes[0].get_title() == "LSTMForecaster training"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = LSTMRegressor(**FAST, early_stopping=False).fit(X, X[:, 0])
    assert len(plot_loss(plain).axes[0].get_lines()) == 1  # no validation: one curve
    with pytest.raises(NotFittedError):
        plot_loss(LSTMRegressor())
    with pytest.raises(ValueError, match=r"needs a fitted LSTMRegressor.*got list"):
        plot_loss([1, 2])


def test_without_matplotlib_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'tsLSTM\[plot\]'"):
        plot_forecast(None, np.arange(3.0))


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, tsLSTM.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_array_forecast_with_several_levels_is_shaded(model):
    values = long_frame().query("unique_id == 's1'").y.to_numpy()
    forecast = model.predict_interval([0.8, 0.95], y=values)  # (horizon, 5)
    assert forecast.shape == (3, 5)
    fig = plot_forecast(values, forecast)  # was "expected ... (horizon, 3)"
    ax = fig.axes[0]
    np.testing.assert_array_equal(lines(ax)[1][1], forecast[:, 0])
    assert [band(c) for c in ax.collections] == [
        (forecast[:, 1].min(), forecast[:, 2].max()), (forecast[:, 3].min(), forecast[:, 4].max())
    ]  # fmt: skip
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["history", "interval #1", "interval #2", "forecast"]


def test_quantile_forecasts_of_every_frame_container(model):
    history = long_frame()
    wide = history.pivot(index="ds", columns="unique_id", values="y")
    one = wide["s1"]  # one object: pandas 3 returns a new Series per wide["s1"]
    alpha = [0.05, 0.1, 0.3, 0.5, 0.9, 0.95]  # 0.3 has no partner: a dashed line
    for data in (history, wide, one):  # was: a crash, a KeyError, an axes per quantile
        quantiles = model.predict_quantiles(alpha, y=data)
        fig = plot_forecast(data, quantiles)
        assert len(fig.axes) == (1 if data is one else 3)
        ax = fig.axes[-1]
        q = quantiles if data is one else (
            quantiles[quantiles.unique_id == "s2"] if data is history else quantiles["s2"]
        )  # fmt: skip
        assert [band(c) for c in ax.collections] == [
            (q["y_hat_q0.05"].min(), q["y_hat_q0.95"].max()),
            (q["y_hat_q0.1"].min(), q["y_hat_q0.9"].max()),
        ]
        _, (_, qy), (_, fy) = lines(ax)
        np.testing.assert_array_equal(qy, q["y_hat_q0.3"])
        np.testing.assert_array_equal(fy, q["y_hat_q0.5"])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["history", "90% interval", "80% interval", "quantile 0.3", "forecast"]


def test_polars_histories_and_forecasts(model):
    pl = require("polars")
    history = long_frame()
    wide = history.pivot(index="ds", columns="unique_id", values="y")
    for data in (history, wide):  # polars in, polars out: was refused or misread
        native = pl.from_pandas(data.reset_index() if data is wide else data)
        forecast = model.predict_interval([0.8, 0.95], y=native)
        assert isinstance(forecast, pl.DataFrame)
        fig = plot_forecast(native, forecast)
        want = plot_forecast(data, model.predict_interval([0.8, 0.95], y=data))
        assert [ax.get_title() for ax in fig.axes] == ["s0", "s1", "s2"]
        for got, expected in zip(fig.axes, want.axes, strict=True):
            assert [band(c) for c in got.collections] == [band(c) for c in expected.collections]
            for (gx, gy), (wx, wy) in zip(lines(got), lines(expected), strict=True):
                np.testing.assert_array_equal(gx, wx)
                np.testing.assert_array_equal(gy, wy)
    values = wide["s2"].to_numpy()  # a polars Series has no time stamps: as for an array
    fig = plot_forecast(pl.Series("s2", values), model.predict_interval(0.8, y=pl.Series(values)))
    (hx, _), (fx, fy) = lines(fig.axes[0])
    assert hx[-1] == 39 and list(fx) == [40, 41, 42]
    np.testing.assert_array_equal(fy, model.predict(y=values))
    frame = backtest_frame()
    fig = plot_backtest(pl.from_pandas(frame), history=pl.from_pandas(frame))
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
