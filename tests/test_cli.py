"""The tslstm command, run as a subprocess as a user would, and the Dask backend."""

import io
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import require

import tsLSTM
from tsLSTM import LSTMForecaster

FAST = ["--window", "8", "--hidden-size", "8", "--max-epochs", "3", "--seed", "0"]


def tslstm(*args, cwd=None, **environ):
    """Run ``python -m tsLSTM ARGS``; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", **environ)
    return subprocess.run(
        [sys.executable, "-m", "tsLSTM", *map(str, args)], capture_output=True, text=True,
        cwd=cwd, env=env, timeout=300,
    )  # fmt: skip


def panel_frame(n_series=5, n=60, start="2021-01-01"):
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({
            "unique_id": f"store_{k}", "ds": pd.date_range(start, periods=n, freq="D"),
            "y": 10 + k + np.sin(np.arange(n) / 3 + k) + 0.1 * rng.standard_normal(n),
        })
        for k in range(n_series)
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "sales.csv"
    panel_frame().to_csv(path, index=False)
    return path


def test_console_script_is_installed():
    assert shutil.which("tslstm"), "the tslstm console script is not on PATH"
    out = subprocess.run(["tslstm", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "exit codes" in out.stdout and "forecast" in out.stdout


def test_closed_stdout_pipe_is_not_a_traceback():
    reader = subprocess.Popen(
        [sys.executable, "-m", "tsLSTM", "forecast", "--dataset", "airline", "--horizon", "5000",
         "--strategy", "recursive", *FAST, "--quiet"],  # ~150 kB: more than a pipe holds
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    reader.stdout.readline()
    reader.stdout.close()  # as `| head -1` does
    stderr = reader.stderr.read().decode()
    reader.wait(timeout=300)
    assert "Traceback" not in stderr


def test_help_teaches_and_usage_errors_exit_2():
    out = tslstm("forecast", "--help")
    assert out.returncode == 0
    for text in ("--horizon", "--id-col", "--on-error", "--scheduler", "examples:", "3  output"):
        assert text in out.stdout
    assert tslstm("forecast", "--dataset", "airline").returncode == 2  # no --horizon
    assert tslstm("forecast", "--horizon", "0", "--dataset", "airline").returncode == 2


def test_forecast_bundled_airline_to_stdout():
    out = tslstm("forecast", "--dataset", "airline", "--horizon", "3", *FAST, "--quiet")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    frame = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert list(frame.columns) == ["unique_id", "ds", "y_hat"]
    assert frame.ds.tolist() == ["1961-01-01", "1961-02-01", "1961-03-01"]
    assert frame.y_hat.between(200, 800).all()


def test_train_save_then_forecast_with_model_matches_python_api(csv, tmp_path):
    model_path = tmp_path / "model.tslstm"
    out = tslstm("train", csv, "--horizon", "4", *FAST, "--save", model_path,
                 "--calibration-fraction", "0.3")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "training" in out.stderr and "saved the model" in out.stderr  # progress shown
    result = tmp_path / "forecasts.csv"
    out = tslstm("forecast", csv, "--horizon", "4", "--model", model_path, "--output", result,
                 "--coverage", "0.8")  # fmt: skip
    assert out.returncode == 0, out.stderr
    written = pd.read_csv(result, parse_dates=["ds"])
    assert list(written.columns) == ["unique_id", "ds", "y_hat", "y_hat_lower", "y_hat_upper"]
    assert len(written) == 5 * 4
    assert (written.y_hat_lower < written.y_hat).all()
    assert (written.y_hat < written.y_hat_upper).all()
    model = tsLSTM.load(model_path)
    expected = model.predict(y=pd.read_csv(csv, parse_dates=["ds"]))
    np.testing.assert_allclose(written.y_hat, expected.y_hat, rtol=1e-12)
    assert written.ds.tolist() == expected.ds.tolist()


def test_forecaster_options_follow_the_forecasters_defaults():
    from tsLSTM.cli import build_parser, make_forecaster

    parser = build_parser()
    args = parser.parse_args(["forecast", "in.csv", "--horizon", "2"])
    made = make_forecaster(args, 2).get_params()
    defaults = LSTMForecaster().get_params()
    for name in ("scaling", "on_short", "season_length", "ensemble_size", "early_stopping"):
        assert made[name] == defaults[name], name
    args = parser.parse_args(["forecast", "in.csv", "--horizon", "2", "--scaling", "window",
                              "--on-short", "warn", "--season-length", "4", "--ensemble-size",
                              "3", "--no-early-stopping"])  # fmt: skip
    made = make_forecaster(args, 2).get_params()
    assert (made["scaling"], made["on_short"], made["season_length"]) == ("window", "warn", 4)
    assert (made["ensemble_size"], made["early_stopping"]) == (3, False)
    assert (
        make_forecaster(
            parser.parse_args(["forecast", "in.csv", "--horizon", "2", "--early-stopping"]), 2
        ).early_stopping
        is True
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["forecast", "in.csv", "--horizon", "2", "--season-length", "0"])


def test_backtest_prints_metrics(csv):
    out = tslstm("backtest", csv, "--horizon", "3", "--n-windows", "2", *FAST, "--quiet")
    assert out.returncode == 0, out.stderr
    assert "per-series mean over windows" in out.stdout and "store_4" in out.stdout
    assert "overall mean: mae" in out.stdout


def test_parquet_in_and_out_with_custom_columns(tmp_path):
    require("pyarrow")
    frame = panel_frame(3).rename(columns={"unique_id": "sku", "ds": "day", "y": "units"})
    source = tmp_path / "in.parquet"
    frame.to_parquet(source)
    target = tmp_path / "out.parquet"
    out = tslstm("forecast", source, "--horizon", "2", *FAST, "--id-col", "sku", "--time-col",
                 "day", "--target-col", "units", "--output", target, "--quiet")  # fmt: skip
    assert out.returncode == 0, out.stderr
    written = pd.read_parquet(target)
    assert list(written.columns) == ["sku", "day", "y_hat"] and len(written) == 6


# -- dirty input -------------------------------------------------------------------------------


@pytest.fixture
def dirty_csv(tmp_path):
    frame = panel_frame(6)
    frame["ds"] = frame.ds.dt.strftime("%Y-%m-%d")
    frame["y"] = frame.y.round(4).astype(object)
    frame.loc[65, "ds"] = "not a date"  # store_1 (line 67 of the file)
    frame.loc[130, "y"] = "12.5kg"  # store_2 (line 132)
    frame.loc[190, "ds"] = frame.loc[189, "ds"]  # store_3: duplicate timestamp
    frame = frame[~((frame.unique_id == "store_4") & (frame.index % 60 > 5))]  # 6 points
    path = tmp_path / "dirty.csv"
    frame.to_csv(path, index=False)
    return path


def test_dirty_input_fails_with_series_and_line(dirty_csv, tmp_path):
    output = tmp_path / "out.csv"
    output.write_text("previous results\n")
    out = tslstm("forecast", dirty_csv, "--horizon", "2", *FAST, "--output", output)
    assert out.returncode == 1
    assert "series 'store_1', row 67: unparseable date 'not a date'" in out.stderr
    assert output.read_text() == "previous results\n"  # an existing output is not destroyed
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_dirty_input_skipped_and_listed(dirty_csv, tmp_path):
    output = tmp_path / "out.csv"
    out = tslstm("forecast", dirty_csv, "--horizon", "2", *FAST, "--output", output,
                 "--on-error", "skip", "--on-short", "raise", "--quiet")  # fmt: skip
    assert out.returncode == 3, out.stderr
    assert "skipped 4 series" in out.stderr
    assert "'store_1': series 'store_1', row 67: unparseable date" in out.stderr
    assert "'store_2': series 'store_2', row 132: non-numeric value '12.5kg'" in out.stderr
    assert "'store_3': series 'store_3' has duplicate timestamps" in out.stderr
    assert "'store_4': series 'store_4' has 6 values, fewer than window + horizon" in out.stderr
    written = pd.read_csv(output)
    assert sorted(written.unique_id.unique()) == ["store_0", "store_5"]


def test_missing_columns_empty_file_and_missing_file(tmp_path, csv):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"id": ["a"], "ds": ["2020-01-01"], "y": [1.0]}).to_csv(bad, index=False)
    out = tslstm("forecast", bad, "--horizon", "2")
    assert out.returncode == 1 and "missing column(s) ['unique_id']" in out.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    out = tslstm("forecast", empty, "--horizon", "2")
    assert out.returncode == 1 and "is empty" in out.stderr
    header_only = tmp_path / "header.csv"
    header_only.write_text("unique_id,ds,y\n")
    out = tslstm("forecast", header_only, "--horizon", "2")
    assert out.returncode == 1 and "has no data rows" in out.stderr
    out = tslstm("forecast", tmp_path / "nope.csv", "--horizon", "2")
    assert out.returncode == 1 and "input file not found" in out.stderr
    out = tslstm("forecast", csv, "--horizon", "2", "--model", tmp_path / "nope.tslstm")
    assert out.returncode == 1 and "cannot load model" in out.stderr


# -- Dask ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    distributed = require("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with local, distributed.Client(local) as client:
        yield local, client


def test_dask_backend_equals_single_process(cluster):
    from tsLSTM.forecasting.distributed import predict_dask

    _, client = cluster
    assert len(client.scheduler_info()["workers"]) == 2
    data = panel_frame(n_series=40, n=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LSTMForecaster(window=8, horizon=3, hidden_size=8, max_epochs=2,
                               random_state=0).fit(data)  # fmt: skip
    single = model.predict()
    distributed_result = predict_dask(model, data, client=client, n_partitions=5)
    pd.testing.assert_frame_equal(distributed_result, single)


def test_cli_scheduler_option_equals_local_run(cluster, csv, tmp_path):
    local, _ = cluster
    model_path = tmp_path / "m.tslstm"
    assert tslstm("train", csv, "--horizon", "3", *FAST, "--save", model_path,
                  "--quiet").returncode == 0  # fmt: skip
    here = tslstm("forecast", csv, "--horizon", "3", "--model", model_path, "--quiet")
    there = tslstm("forecast", csv, "--horizon", "3", "--model", model_path, "--quiet",
                   "--scheduler", local.scheduler_address)  # fmt: skip
    assert here.returncode == 0 and there.returncode == 0, there.stderr
    assert there.stdout == here.stdout


def test_cli_fill_reaches_the_dask_workers_of_a_loaded_model(cluster, csv, tmp_path):
    local, _ = cluster
    model_path = tmp_path / "m.tslstm"
    assert tslstm("train", csv, "--horizon", "3", *FAST, "--save", model_path,
                  "--quiet").returncode == 0  # fmt: skip
    holes = tmp_path / "holes.csv"
    frame = pd.read_csv(csv)
    frame.loc[[57, 117], "y"] = np.nan  # in the last window of store_0 and store_1
    frame.to_csv(holes, index=False)
    args = ["forecast", holes, "--horizon", 3, "--model", model_path, "--fill", "ffill",
            "--quiet"]  # fmt: skip
    here = tslstm(*args)
    there = tslstm(*args, "--scheduler", local.scheduler_address)
    assert here.returncode == 0, here.stderr
    assert there.returncode == 0, there.stderr
    assert there.stdout == here.stdout
    filled = pd.read_csv(io.StringIO(here.stdout))
    assert np.isfinite(filled.y_hat).all() and len(filled) == 5 * 3


def test_dask_missing_gives_a_clear_error(monkeypatch):
    from tsLSTM.forecasting import distributed as backend

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'tsLSTM\[dask\]'"):
        backend.predict_dask(None, None, scheduler="tcp://127.0.0.1:1")


def test_device_option_trains_on_the_gpu_or_says_why_not(tmp_path):
    path = tmp_path / "short.csv"
    panel_frame(n_series=1, n=16).to_csv(path, index=False)  # the simulator is slow
    args = ["forecast", path, "--horizon", 2, "--max-epochs", 1, "--hidden-size", 2,
            "--window", 3, "--batch-size", 512, "--quiet"]  # fmt: skip
    cpu = tslstm(*args, "--device", "cpu", "--n-jobs", 1)
    gpu = tslstm(*args, "--device", "cuda", NUMBA_ENABLE_CUDASIM="1")  # the CUDA simulator
    assert cpu.returncode == gpu.returncode == 0, gpu.stderr
    expected = pd.read_csv(io.StringIO(cpu.stdout))
    actual = pd.read_csv(io.StringIO(gpu.stdout))
    np.testing.assert_allclose(actual["y_hat"], expected["y_hat"], rtol=1e-4)
    missing = tslstm(*args, "--device", "cuda", NUMBA_ENABLE_CUDASIM="0", CUDA_VISIBLE_DEVICES="")
    assert missing.returncode == 1
    assert "device='cuda' was requested but no CUDA GPU" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_version_prints_the_package_version():
    out = tslstm("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"tslstm {tsLSTM.__version__}"


def test_the_help_train_example_makes_a_model_its_coverage_example_accepts(csv, tmp_path):
    from tsLSTM import cli

    lines = [line.split() for line in cli.EPILOG.splitlines()]
    train = next(w for w in lines if w[:2] == ["tslstm", "train"])
    coverage = next(w for w in lines if "--coverage" in w)
    assert "--calibration-fraction" in train and "--model" in coverage
    files = {"sales.csv": str(csv), "model.tslstm": str(tmp_path / "model.tslstm")}
    quick = ["--window", "8", "--hidden-size", "4", "--max-epochs", "2", "--quiet"]
    for example in (train, [*coverage, "-o", str(tmp_path / "fc.csv")]):
        assert cli.main([*(files.get(w, w) for w in example[1:]), *quick]) == 0
    written = pd.read_csv(tmp_path / "fc.csv")
    assert list(written.columns) == ["unique_id", "ds", "y_hat", "y_hat_lower_80", "y_hat_upper_80",
                                     "y_hat_lower_95", "y_hat_upper_95"]  # fmt: skip


# -- intervals at several levels, backtest forecasts and progress ---------------------------


def test_forecast_takes_several_coverage_levels(csv, tmp_path):
    model_path = tmp_path / "model.tslstm"
    out = tslstm("train", csv, "--horizon", "3", *FAST, "--save", model_path,
                 "--calibration-fraction", "0.3", "--quiet")  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = tslstm("forecast", csv, "--horizon", "3", "--model", model_path, "--quiet",
                 "--coverage", "0.8", "0.95")  # fmt: skip
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(io.StringIO(out.stdout))
    assert list(frame.columns) == ["unique_id", "ds", "y_hat", "y_hat_lower_80", "y_hat_upper_80",
                                   "y_hat_lower_95", "y_hat_upper_95"]  # fmt: skip
    assert (frame.y_hat_lower_95 <= frame.y_hat_lower_80).all()
    assert (frame.y_hat_upper_80 <= frame.y_hat_upper_95).all()
    expected = tsLSTM.load(model_path).predict_interval(
        [0.8, 0.95], y=pd.read_csv(csv, parse_dates=["ds"])
    )
    np.testing.assert_allclose(frame.iloc[:, 2:], expected.iloc[:, 2:], rtol=1e-12)
    out = tslstm("forecast", csv, "--horizon", "3", "--model", model_path, "--quiet",
                 "--coverage", "0.8", "1.5", "-o", tmp_path / "never.csv")  # fmt: skip
    assert out.returncode == 1 and "--coverage must be in (0, 1), got 1.5" in out.stderr
    assert not (tmp_path / "never.csv").exists()
    out = tslstm("forecast", csv, "--horizon", "3", *FAST, "--coverage", "0.8")  # no calibration
    assert out.returncode == 1 and "--coverage needs --calibration-fraction > 0" in out.stderr
    assert "training" not in out.stderr  # refused before training


def test_backtest_scores_intervals_writes_forecasts_and_reports_windows(csv, tmp_path):
    path = tmp_path / "backtest.csv"
    out = tslstm("backtest", csv, "--horizon", "3", "--n-windows", "2", *FAST,
                 "--calibration-fraction", "0.3", "--coverage", "0.8",
                 "--forecasts", path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "coverage" in out.stdout and "width" in out.stdout
    assert "overall mean: mae" in out.stdout and ", coverage " in out.stdout
    # a line per window on stderr, with the training bar
    assert "backtest window 1/2 (cutoff 2021-02-23): training" in out.stderr
    assert "backtest window 2/2 (cutoff 2021-02-26): training" in out.stderr
    assert "training: epoch" in out.stderr
    written = pd.read_csv(path)
    assert list(written.columns) == ["unique_id", "ds", "cutoff", "y", "y_hat", "y_hat_lower",
                                     "y_hat_upper"]  # fmt: skip
    assert len(written) == 5 * 2 * 3
    data = panel_frame().assign(ds=lambda d: d.ds.dt.strftime("%Y-%m-%d"))
    merged = written.merge(data, on=["unique_id", "ds"], suffixes=("", "_data"))
    np.testing.assert_allclose(merged.y, merged.y_data)
    out = tslstm("backtest", csv, "--horizon", "3", "--n-windows", "2", *FAST, "--quiet",
                 "--calibration-fraction", "0.3", "--coverage", "0.8", "0.95",
                 "--forecasts", path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # --quiet: no window lines, no bars
    assert "coverage_80" in out.stdout and "width_95" in out.stdout
    assert "y_hat_upper_95" in pd.read_csv(path).columns


def test_backtest_option_errors_come_before_training(csv, tmp_path):
    out = tslstm("backtest", csv, "--horizon", "3", *FAST, "--forecasts",
                 tmp_path / "missing" / "f.csv")  # fmt: skip
    assert out.returncode == 1 and "--forecasts:" in out.stderr
    assert "backtest window" not in out.stderr
    out = tslstm("backtest", csv, "--horizon", "3", *FAST, "--coverage", "0.8")
    assert out.returncode == 1 and "--coverage needs --calibration-fraction > 0" in out.stderr
    assert "backtest window" not in out.stderr


def test_messages_name_the_command_options_not_the_parameters(tmp_path, capsys):
    from tsLSTM import cli

    days = pd.date_range("2021-01-01", periods=20)
    frame = pd.DataFrame({"unique_id": "a", "ds": days, "y": np.sin(np.arange(20.0)),
                          "x": np.cos(np.arange(20.0))})  # fmt: skip
    path = tmp_path / "x.csv"
    frame.to_csv(path, index=False)
    args = [str(path), "--horizon", "2", "--window", "4", "--max-epochs", "1", "--quiet"]
    assert cli.main(["forecast", *args, "--strategy", "recursive", "--hist-exog", "x"]) == 1
    error = capsys.readouterr().err
    assert "--strategy recursive cannot use past-only covariates" in error
    assert "use --strategy mimo" in error and "name them in --futr-exog" in error
    assert "_exog_list" not in error and "strategy=" not in error
    frame.drop(index=5).to_csv(path, index=False)
    assert cli.main(["forecast", *args]) == 1
    assert "pass --fill ffill|interpolate|zero" in capsys.readouterr().err
