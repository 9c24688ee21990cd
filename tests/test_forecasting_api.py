"""The forecaster's public panel API, the readers' layout, and the CLI on top of them."""

import ast
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import tsLSTM
from tsLSTM import EpochInfo, LSTMForecaster
from tsLSTM.forecasting import readers
from tsLSTM.forecasting.backtest import backtest_panel, min_backtest_length

FAST = {"hidden_size": 8, "learning_rate": 0.01, "max_epochs": 4, "random_state": 0}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def long_frame(n_series=4, n=60):
    t = np.arange(n)
    return pd.concat(
        [pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2020-01-01", periods=n),
                       "y": 10 + k + np.sin(t / 3 + k)}) for k in range(n_series)],
        ignore_index=True,
    )  # fmt: skip


def test_panel_api_equals_the_container_api():
    data = long_frame()
    params = {"window": 8, "horizon": 3, "calibration_fraction": 0.3, **FAST}
    by_container = LSTMForecaster(**params).fit(data)
    model = LSTMForecaster(**params)
    panel = model.to_panel(data)
    assert model.fit_panel(panel) is model
    forecasts = model.predict_panel(panel)
    assert forecasts.shape == (4, 3)
    expected = by_container.predict()
    np.testing.assert_array_equal(forecasts.ravel(), expected.y_hat)
    pd.testing.assert_frame_equal(panel.output(forecasts), expected)
    y_hat, lower, upper = model.predict_panel(panel, horizon=2, coverage=0.8)
    intervals = by_container.predict_interval(coverage=0.8, horizon=2)
    np.testing.assert_array_equal(lower.ravel(), intervals.y_hat_lower)
    np.testing.assert_array_equal(upper.ravel(), intervals.y_hat_upper)
    pd.testing.assert_frame_equal(panel.output(y_hat, (lower, upper)), intervals)
    with pytest.raises(ValueError, match="at most its fitted horizon=3"):
        model.predict_panel(panel, horizon=4)
    with pytest.raises(ValueError, match=r"coverage must be in \(0, 1\)"):
        model.predict_panel(panel, coverage=1.5)


def test_to_panel_uses_the_column_names_and_fill_rule():
    data = long_frame(2).rename(columns={"unique_id": "sku", "ds": "day", "y": "units"})
    data.loc[3, "units"] = np.nan
    model = LSTMForecaster(id_col="sku", time_col="day", target_col="units", fill="zero")
    panel = model.to_panel(data)
    assert panel.ids == ["s0", "s1"] and panel.values[3] == 0.0
    with pytest.raises(ValueError, match="fill"):
        LSTMForecaster(fill="mean").to_panel(data)  # parameters are validated


def test_predict_panel_covariates_are_checked():
    n = 50
    y = np.sin(np.arange(n) / 3)
    X = np.cos(np.arange(n + 2) / 5)[:, None]
    model = LSTMForecaster(window=6, horizon=2, **FAST).fit(y, X[:n])
    panel = model.history_
    with pytest.raises(ValueError, match="fitted with 1 covariates"):
        model.predict_panel(panel)
    with pytest.raises(ValueError, match=r"covariates must have shape \(1, 2, 1\)"):
        model.predict_panel(panel, covariates=np.zeros((1, 3, 1)))
    future = readers.future_covariates(panel, X[n:], 2)
    np.testing.assert_array_equal(model.predict_panel(panel, covariates=future)[0],
                                  model.predict(X=X[n:]))  # fmt: skip


def test_on_epoch_reaches_the_forecasters_network():
    seen = []
    model = LSTMForecaster(window=8, horizon=2, **FAST).fit(long_frame(), on_epoch=seen.append)
    assert [info.epoch for info in seen] == list(range(1, model.regressor_.n_iter_ + 1))
    assert all(isinstance(info, EpochInfo) for info in seen)
    runs = []
    template = LSTMForecaster(window=8, horizon=2, **FAST)
    panel = template.to_panel(long_frame())
    backtest_panel(template, panel, 2, 2, 2, True, on_epoch=runs.append)
    assert len(runs) >= 2 and runs[0].epoch == 1  # two trainings reported


def test_short_series_rules_are_the_forecasters():
    mimo = LSTMForecaster(window=10, horizon=4, on_short="raise")
    assert mimo.min_series_length() == mimo.min_series_length("fit") == 14
    assert mimo.min_series_length("predict") == 10
    recursive = LSTMForecaster(window=10, horizon=4, strategy="recursive", on_short="warn")
    assert recursive.min_series_length() == 11
    assert min_backtest_length(mimo, horizon=6, n_windows=3, step=2) == 10 + 6 + 6 + 2 * 2
    padded = LSTMForecaster(window=10, horizon=4)  # on_short='pad': shorter windows
    assert padded.min_series_length("fit") == 5 and padded.min_series_length("predict") == 1
    with pytest.raises(ValueError, match="purpose"):
        mimo.min_series_length("train")


def test_set_params_keeps_the_fitted_network_in_step_and_predict_changes_nothing(tmp_path):
    model = LSTMForecaster(window=8, horizon=2, n_jobs=2, **FAST).fit(long_frame())
    settings = model.regressor_.get_params()
    expected = model.predict()
    assert settings["n_jobs"] == 2
    assert model.regressor_.get_params() == settings  # predicting changed nothing
    model.set_params(n_jobs=1, device="cuda")
    assert (model.regressor_.n_jobs, model.regressor_.device) == (1, "cuda")
    model.set_params(device="cpu")  # e.g. a model trained on a GPU, used without one
    assert model.regressor_.device == "cpu"
    pd.testing.assert_frame_equal(model.predict(), expected)
    model.set_params(n_jobs=2).save(tmp_path / "model.tslstm")
    loaded = tsLSTM.load(tmp_path / "model.tslstm")
    assert loaded.regressor_.n_jobs == 2
    assert loaded.set_params(n_jobs=1).regressor_.n_jobs == 1


def test_readers_and_the_container_import_one_way():
    package = Path(tsLSTM.__file__).parent / "forecasting"
    imported = {}
    for name in ("panel", "checks", "long_format", "covariates", "readers"):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported[name] = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level
        }
    assert imported["panel"] == set() and imported["checks"] == set()
    assert imported["long_format"] == {"checks", "panel"}
    assert imported["covariates"] == {"checks", "long_format", "panel"}
    assert imported["readers"] == {"checks", "covariates", "long_format", "panel"}


def test_old_reader_names_in_panel_still_work_with_a_deprecation_warning():
    from tsLSTM.forecasting import panel as panel_module

    for name in ("to_panel", "future_covariates", "check_time_index", "FILL_METHODS", "is_long"):
        with pytest.warns(DeprecationWarning, match=f"panel.{name} moved"):
            assert getattr(panel_module, name) is not None
    with pytest.warns(DeprecationWarning):
        assert panel_module.to_panel is readers.to_panel
    with pytest.raises(AttributeError):
        panel_module.nothing_here


def test_read_long_collects_faulty_series():
    data = long_frame(3)
    data["y"] = data["y"].astype(object)
    data.loc[5, "y"] = "bad"
    panel, problems = readers.read_long(data, on_error="collect")
    assert panel.ids == ["s1", "s2"] and problems[0][0] == "s0"
    with pytest.raises(ValueError, match="series 's0', row 5: non-numeric value 'bad'"):
        readers.read_long(data)


def test_cli_progress_comes_from_the_callback_and_stdout_holds_only_the_table(tmp_path):
    path = tmp_path / "in.csv"
    long_frame(3, 40).to_csv(path, index=False)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run(
        [sys.executable, "-m", "tsLSTM", "forecast", str(path), "--horizon", "2", "--window",
         "6", "--hidden-size", "4", "--max-epochs", "3"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "unique_id,ds,y_hat" and len(out.stdout.splitlines()) == 7
    assert "Epoch" not in out.stdout + out.stderr
    assert (
        "training: epoch " in out.stderr
        and ", loss " in out.stderr
        and "trained: " in out.stderr
        and "3 epochs" in out.stderr
    )


# -- honest failures: overflow, complex input, a long frame without its target -------------


def test_forecasts_that_overflow_name_the_series_instead_of_returning_inf():
    data = long_frame(n_series=3, n=40)
    # (scaling='auto' forecasts such values in logs without overflowing: 'window' does)
    model = LSTMForecaster(window=8, horizon=3, calibration_fraction=0.3, scaling="window",
                           **FAST).fit(data)  # fmt: skip
    huge = data.assign(y=np.where(data.unique_id == "s1", data.y * 1e200, data.y))
    with np.errstate(all="ignore"):
        with pytest.raises(ValueError, match=r"forecast of series 's1' is not finite"):
            model.predict(y=huge)
        with pytest.raises(ValueError, match=r"forecast of series 's1' is not finite"):
            model.predict_interval(0.8, y=huge)
        panel = model.to_panel(huge)
        with pytest.raises(ValueError, match=r"series 's1' is not finite"):
            model.predict_panel(panel)
        model.predict_panel(panel.select([0, 2]))  # the other series are fine
        bounds = model.predict_panel(panel.select([0, 2]), coverage=0.8)
    assert all(np.isfinite(b).all() for b in bounds)


@pytest.mark.parametrize("scaling", ["window", "series"])
def test_a_forecaster_fitted_on_huge_values_never_returns_inf(scaling):
    y = 10 + np.sin(np.arange(60) / 3)
    model = LSTMForecaster(window=8, horizon=3, scaling=scaling, **FAST)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # fitting may refuse such data; a forecast of inf never comes back
        with pytest.raises(ValueError, match=r"not finite|too large|overflow"):
            model.fit(y * 1e200).predict()


def _complex_inputs():
    y = 10 + np.sin(np.arange(40) / 3)
    days = pd.date_range("2020-01-01", periods=40)
    frame = long_frame(n_series=2, n=40)
    covariates = frame[["unique_id", "ds"]].assign(x=1.0 + 0.5j)
    return {
        "array": (y + 1j, None),
        "object array": (np.array([*y[:-1], 3 + 2j], dtype=object), None),
        "Series": (pd.Series(y + 1j, index=days), None),
        "wide": (pd.DataFrame({"a": y + 1j, "b": y}, index=days), None),
        "long": (frame.assign(y=frame.y + 1j), None),
        "array covariates": (y, np.column_stack([y, y + 2j])),
        "frame covariates": (pd.Series(y, index=days), pd.DataFrame({"x": y + 1j}, index=days)),
        "long covariates": (frame, covariates),
    }


@pytest.mark.parametrize("case", sorted(_complex_inputs()))
def test_complex_input_is_refused_not_truncated(case):
    y, X = _complex_inputs()[case]
    model = LSTMForecaster(window=8, horizon=2, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(ValueError, match="complex values"):
            model.fit(y, X)


def test_complex_history_or_covariates_at_predict_time_are_refused():
    y = 10 + np.sin(np.arange(40) / 3)
    X = np.column_stack([np.cos(np.arange(43) / 3)])
    model = LSTMForecaster(window=8, horizon=3, **FAST).fit(y, X[:40])
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(ValueError, match="complex values"):
            model.predict(X=X + 1j, y=y)
        with pytest.raises(ValueError, match="complex values"):
            model.predict(X=X, y=y + 1j)
        panel = model.to_panel(y, X[:40])
        with pytest.raises(ValueError, match="complex values"):
            model.predict_panel(panel, covariates=np.ones((1, 3, 1)) + 1j)


def test_a_long_frame_without_its_target_column_says_so():
    frame = long_frame(n_series=2, n=40).rename(columns={"y": "value"})
    model = LSTMForecaster(window=8, horizon=2, **FAST)
    with pytest.raises(ValueError, match=r"missing target column 'y'; set target_col"):
        model.fit(frame)
    with pytest.raises(ValueError, match=r"missing target column 'sales'; set target_col"):
        readers.read_long(frame, target_col="sales")
    with pytest.raises(ValueError, match=r"missing target column 'y'"):
        readers.to_panel(frame[["unique_id", "ds"]])
    model.set_params(target_col="value").fit(frame)  # what the message asks for
    wide = pd.DataFrame({"a": np.arange(30.0), "ds": np.arange(30.0)})  # no id column: wide
    assert readers.to_panel(wide).kind == "wide"
