"""Covariates of three kinds (future-known, past-only, static) and categorical columns.

Each kind is shown to be used: a target that depends only on the covariate is forecast
clearly better with it than without, for two seeds.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import require
from sklearn.exceptions import ConvergenceWarning
from test_persistence import rewrite_meta

import tsLSTM
from tsLSTM import LSTMForecaster, backtest

NET = {"hidden_size": 16, "learning_rate": 0.02, "max_epochs": 30, "scaling": None}
SEEDS = (0, 1)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def panel(columns, n_series=8, n=80, seed=0):
    """A long frame: ``columns(rng, n, k)`` returns the dict of y and covariates of
    series ``k``; integer time stamps."""
    rng = np.random.default_rng(seed)
    frames = [
        pd.DataFrame({"unique_id": f"s{k}", "ds": np.arange(n), **columns(rng, n, k)})
        for k in range(n_series)
    ]
    return pd.concat(frames, ignore_index=True)


def futr_numeric(rng, n, k):
    x = rng.standard_normal(n)
    return {"y": x, "x": x}  # y_t = x_t


def futr_categorical(rng, n, k):
    c = rng.choice(["lo", "mid", "hi"], n)
    level = pd.Series(c).map({"lo": -1.0, "mid": 0.0, "hi": 1.5}).to_numpy()
    return {"y": level + 0.1 * rng.standard_normal(n), "x": c}


def hist_numeric(rng, n, k):
    x = rng.standard_normal(n)
    return {"y": np.r_[0.0, x[:-1]], "x": x}  # y_{t+1} = x_t


def hist_categorical(rng, n, k):
    c = rng.choice(["on", "off"], n)
    y = np.r_[0.0, np.where(c[:-1] == "on", 1.0, -1.0)] + 0.1 * rng.standard_normal(n)
    return {"y": y, "x": c}


def _ar(rng, n, g):
    """AR(1) with coefficient g: from one value, only g tells where the next goes."""
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = g * y[t - 1] + 0.3 * rng.standard_normal()
    return y


def static_label(rng, n, k):
    return {"y": _ar(rng, n, 0.95 if k % 2 else -0.95), "x": "up" if k % 2 else "flip"}


def static_numeric(rng, n, k):
    g = 0.95 if k % 2 else -0.95
    return {"y": _ar(rng, n, g), "x": g}


CASES = {
    # kind, data, window, horizon
    "futr numeric": ("futr", futr_numeric, 4, 3),
    "futr categorical": ("futr", futr_categorical, 4, 3),
    "hist numeric": ("hist", hist_numeric, 4, 1),
    "hist categorical": ("hist", hist_categorical, 4, 1),
    "static categorical": ("stat", static_label, 1, 1),
    "static numeric": ("stat", static_numeric, 1, 1),
}


def backtest_error(data, kind, window, horizon, seed, use):
    params = {"window": window, "horizon": horizon, "random_state": seed, **NET}
    if use:
        params[f"{kind}_exog_list"] = ["x"]
    else:
        data = data.drop(columns="x")
    f = LSTMForecaster(**params)
    scores = backtest(f, data, n_windows=6, step=1, refit=False)
    return scores.mae.mean()


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_kind_is_used(case):
    kind, columns, window, horizon = CASES[case]
    data = panel(columns)
    for seed in SEEDS:
        with_x = backtest_error(data, kind, window, horizon, seed, use=True)
        without = backtest_error(data, kind, window, horizon, seed, use=False)
        assert with_x < 0.5 * without, (seed, with_x, without)


def test_fitted_attributes_channels_and_predict_with_new_history(tmp_path):
    def columns(rng, n, k):
        x = rng.standard_normal(n)
        day = np.where(np.arange(n) % 2, "odd", "even")
        return {"y": x + 0.5 * (k % 2), "price": x, "day": day, "lag": rng.standard_normal(n),
                "store": "big" if k % 2 else "small"}  # fmt: skip

    data = panel(columns, n_series=4, n=40)
    f = LSTMForecaster(window=6, horizon=2, futr_exog_list=["price", "day"], hist_exog_list=["lag"],
                       stat_exog_list=["store"], random_state=0, **NET)  # fmt: skip
    f.fit(data)
    assert (f.futr_exog_, f.hist_exog_, f.stat_exog_) == (["price", "day"], ["lag"], ["store"])
    assert f.categories_ == {"day": ["even", "odd"], "store": ["big", "small"]}
    assert f.n_covariates_ == 3 and f.covariate_names_ == ["price", "day=even", "day=odd"]
    # target, flag, 3 future-known, 1 past-only, 2 static channels
    assert f.regressor_.n_step_features_ == 8
    future = pd.DataFrame({"unique_id": np.repeat(["s0", "s1", "s2", "s3"], 2), "ds": [40, 41] * 4,
                           "price": 0.5, "day": ["even", "odd"] * 4})  # fmt: skip
    expected = f.predict(X=future)
    assert list(expected.columns) == ["unique_id", "ds", "y_hat"] and len(expected) == 8
    # a new history: its own covariate columns; X (Nixtla's futr_df) the forecast steps
    pd.testing.assert_frame_equal(f.predict(X=future, y=data), expected)
    # the static and per-step columns may also come in separate frames
    statics = data.groupby("unique_id", as_index=False)["store"].first()
    X = data[["unique_id", "ds", "price", "day", "lag"]]
    apart = f.predict(X=pd.concat([X, future]), y=data[["unique_id", "ds", "y"]], static=statics)
    pd.testing.assert_frame_equal(apart, expected)
    # saved and loaded: the lists and categories come back, forecasts bit-identical
    f.save(tmp_path / "m.tslstm")
    loaded = tsLSTM.load(tmp_path / "m.tslstm")
    assert loaded.categories_ == f.categories_ and loaded.hist_exog_ == ["lag"]
    pd.testing.assert_frame_equal(loaded.predict(X=future, y=data), expected)
    with pytest.raises(ValueError, match=r"column 'day' has category 'holiday', not seen at fit"):
        loaded.predict(X=future.assign(day="holiday"), y=data)
    with pytest.raises(ValueError, match=r"column 'store' has category 'mid', not seen at fit"):
        loaded.predict(X=future, y=data.assign(store="mid"))
    with pytest.raises(ValueError, match="covariates missing at 41"):
        f.predict(X=future.iloc[:-1])


def test_old_behaviour_with_X_only_and_old_files(tmp_path):
    data = panel(futr_numeric, n_series=3, n=40)
    X = data[["unique_id", "ds", "x"]]
    y = data[["unique_id", "ds", "y"]]
    future = pd.DataFrame({"unique_id": np.repeat(["s0", "s1", "s2"], 2), "ds": [40, 41] * 3,
                           "x": 0.3})  # fmt: skip
    default = LSTMForecaster(window=4, horizon=2, random_state=0, **NET).fit(y, X=X)
    named = LSTMForecaster(window=4, horizon=2, futr_exog_list=["x"], random_state=0, **NET)
    named.fit(y, X=X)
    assert default.futr_exog_ == ["x"] and default.hist_exog_ == [] and default.categories_ == {}
    pd.testing.assert_frame_equal(default.predict(X=future), named.predict(X=future))
    # a file written before the covariate lists loads with future-known covariates only
    default.save(tmp_path / "new.tslstm")

    def strip(meta):
        for name in ("futr_exog_", "hist_exog_", "stat_exog_", "categories_"):
            del meta["attributes"][name]
        for name in ("futr_exog_list", "hist_exog_list", "stat_exog_list"):
            del meta["params"][name]

    old = tsLSTM.load(rewrite_meta(tmp_path / "new.tslstm", tmp_path / "old.tslstm", strip))
    assert old.futr_exog_ == ["x"] and old.hist_exog_ == [] and old.categories_ == {}
    pd.testing.assert_frame_equal(old.predict(X=pd.concat([X, future]), y=y),
                                  default.predict(X=future))  # fmt: skip


def test_bad_columns_are_named():
    data = panel(futr_numeric, n_series=2, n=30).assign(extra=1.0)
    small = {"window": 4, "horizon": 2, "hidden_size": 4, "max_epochs": 2}
    with pytest.warns(UserWarning, match=r"not used as covariates: y's \['x', 'extra'\]; .*"
                                         r"futr_exog_list"):  # fmt: skip
        LSTMForecaster(**small).fit(data)
    X = data[["unique_id", "ds", "x", "extra"]]
    with pytest.warns(UserWarning, match=r"not used as covariates: X's \['extra'\]"):
        LSTMForecaster(futr_exog_list=["x"], **small).fit(data[["unique_id", "ds", "y"]], X=X)
    data = data.drop(columns="extra")
    with pytest.raises(ValueError, match=r"'price' named in futr_exog_list is in neither"):
        LSTMForecaster(futr_exog_list=["price"], **small).fit(data)
    with pytest.raises(ValueError, match="named in both futr_exog_list and hist_exog_list"):
        LSTMForecaster(futr_exog_list=["x"], hist_exog_list=["x"], **small).fit(data)
    with pytest.raises(ValueError, match=r"static column 'x' is not constant in series 's0'"):
        LSTMForecaster(stat_exog_list=["x"], **small).fit(data)
    with pytest.raises(ValueError, match="strategy='recursive' cannot use past-only"):
        LSTMForecaster(hist_exog_list=["x"], strategy="recursive", **small).fit(data)
    statics = pd.DataFrame({"unique_id": ["s0"], "kind": ["a"]})
    with pytest.raises(ValueError, match="series 's1' has no static covariates"):
        LSTMForecaster(**small).fit(data[["unique_id", "ds", "y"]], static=statics)


def test_wide_series_and_array_containers():
    rng = np.random.default_rng(0)
    n = 40
    x, lag = rng.standard_normal(n + 2), rng.standard_normal(n)
    index = pd.date_range("2020-01-01", periods=n, freq="D")
    wide = pd.DataFrame({"a": x[:n], "b": -x[:n]}, index=index)
    X = pd.DataFrame({"x": x[:n], "lag": lag, "kind": rng.choice(["p", "q"], n)}, index=index)
    statics = pd.DataFrame({"sign": [1.0, -1.0]}, index=["a", "b"])
    small = {"window": 4, "horizon": 2, "hidden_size": 4, "max_epochs": 2, "random_state": 0}
    f = LSTMForecaster(hist_exog_list=["lag"], **small).fit(wide, X=X, static=statics)
    assert f.futr_exog_ == ["x", "kind"] and f.stat_exog_ == ["sign"]
    days = pd.date_range("2020-02-10", periods=2)
    future = pd.DataFrame({"x": x[n:], "kind": ["p", "q"]}, index=days)
    assert f.predict(X=future).shape == (2, 2)
    # an array: X's columns are x0, x1, ...
    arr = LSTMForecaster(hist_exog_list=["x1"], **small)
    arr.fit(x[:n], X=np.column_stack([x[:n], lag]))
    assert arr.futr_exog_ == ["x0"] and arr.hist_exog_ == ["x1"]
    assert arr.predict(X=x[n:, None]).shape == (2,)
    assert arr.predict(y=x[:n], X=np.column_stack([x, np.r_[lag, 0, 0]])).shape == (2,)


def tslstm(*args, cwd):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "tsLSTM", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)  # fmt: skip


def test_cli_covariate_options_train_save_forecast(tmp_path):
    def columns(rng, n, k):
        x = rng.standard_normal(n)
        return {"y": x, "price": x, "lag": rng.standard_normal(n),
                "store": "big" if k % 2 else "small", "note": "-"}  # fmt: skip

    data = panel(columns, n_series=3, n=43)
    data.groupby("unique_id").head(40).to_csv(tmp_path / "sales.csv", index=False)
    future = data.groupby("unique_id").tail(3)[["unique_id", "ds", "price"]]
    future.to_csv(tmp_path / "prices.csv", index=False)
    fast = ["--window", "4", "--hidden-size", "4", "--max-epochs", "2", "--quiet"]
    options = ["--futr-exog", "price", "--hist-exog", "lag", "--stat-exog", "store"]
    out = tslstm("train", "sales.csv", "--horizon", "3", *fast, *options, "--save", "m.tslstm",
                 cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "warning: columns not used as covariates: y's ['note']" in out.stderr
    assert "--futr-exog" in out.stderr
    out = tslstm("forecast", "sales.csv", "--horizon", "3", "--model", "m.tslstm", "--futr-file",
                 "prices.csv", "--quiet", cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    forecasts = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert len(forecasts) == 9 and np.isfinite(forecasts.y_hat).all()
    model = tsLSTM.load(tmp_path / "m.tslstm")
    expected = model.predict(X=future, y=pd.read_csv(tmp_path / "sales.csv").drop(columns="note"))
    np.testing.assert_allclose(forecasts.y_hat, expected.y_hat, rtol=1e-12)
    out = tslstm("forecast", "sales.csv", "--horizon", "3", "--model", "m.tslstm", "--quiet",
                 cwd=tmp_path)  # fmt: skip
    assert out.returncode == 1 and "pass --futr-file" in out.stderr


def test_static_given_as_polars_in_fit_and_predict():
    pl = require("polars")
    data = panel(static_numeric, n_series=4, n=30)
    statics = data.groupby("unique_id", as_index=False)["x"].first().rename(columns={"x": "g"})
    y = data[["unique_id", "ds", "y"]]
    polars_statics = pl.DataFrame({c: statics[c].to_numpy() for c in statics.columns})
    fast = {**NET, "max_epochs": 2}
    f = LSTMForecaster(window=4, horizon=2, random_state=0, **fast).fit(y, static=statics)
    expected = f.predict()
    # without y: the static frame replaces the training data's (was "static must be a
    # DataFrame, got DataFrame" for polars)
    pd.testing.assert_frame_equal(f.predict(static=polars_statics), expected)
    pd.testing.assert_frame_equal(f.predict(y=y, static=polars_statics), expected)
    g = LSTMForecaster(window=4, horizon=2, random_state=0, **fast).fit(y, static=polars_statics)
    pd.testing.assert_frame_equal(g.predict(), expected)
