"""The CPU benchmark scripts run and print their tables (one small case, few repeats)."""

import json
import os
import subprocess
import sys

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


def test_predict_benchmark_prints_its_times():
    out = subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, "bench_predict.py"), "--calls", "20"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.endswith(" us")]
    assert len(lines) == 3 and all(float(line.split()[-2]) > 0 for line in lines)
