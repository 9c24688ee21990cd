"""The progress display: a line log where stderr is not a terminal, a bar that fits it."""

import io
import os
import subprocess
import sys

import pytest

from tsLSTM import _progress
from tsLSTM._progress import ProgressBar, compile_notice


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def screen(written, columns):
    """The terminal's line after ``written``; raises if the text would wrap."""
    line, col = [" "] * columns, 0
    for ch in written:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            raise AssertionError("a bar must not start a new line")
        else:
            if col >= columns - 1:  # the last column: many terminals wrap here
                raise AssertionError(f"wraps at {columns} columns: {written!r}")
            line[col] = ch
            col += 1
    return "".join(line)


def run_epochs(bar, n, stop=None):
    for epoch in range(1, (stop or n) + 1):
        bar.status = f"loss {1 / epoch:.6f}"
        bar.update()
    bar.close()


def test_a_redirected_stream_gets_a_line_per_tenth_not_redraws():
    stream = io.StringIO()
    run_epochs(ProgressBar(100, "training", stream=stream, delay=0.0, unit="epoch"), 100)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"training: epoch {k}/100" for k in (1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
    ]
    assert lines[2].startswith("training: epoch 20/100, loss 0.050000, ")
    assert lines[2].endswith("s") and len(text) < 500


def test_a_stopped_loop_logs_its_last_count_once():
    stream = io.StringIO()
    bar = ProgressBar(100, "training", stream=stream, delay=0.0, unit="epoch")
    run_epochs(bar, 100, stop=37)
    bar.close()  # a second close adds nothing
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("training: epoch 37/100, loss 0.027027, ")
    assert [line.split(",")[0] for line in lines][-2:] == [
        "training: epoch 30/100", "training: epoch 37/100"
    ]  # fmt: skip


def test_a_slow_loop_logs_at_least_every_line_interval(monkeypatch):
    clock = iter(range(0, 10_000, 40))  # 40 s per unit
    monkeypatch.setattr(_progress.time, "perf_counter", lambda: float(next(clock)))
    stream = io.StringIO()
    bar = ProgressBar(1000, "forecasting", stream=stream, delay=0.0)
    for _ in range(3):
        bar.update()
    assert stream.getvalue().splitlines() == [
        "forecasting: 1/1000, 40.0s", "forecasting: 2/1000, 80.0s", "forecasting: 3/1000, 120.0s"
    ]  # fmt: skip


@pytest.mark.parametrize("columns", [40, 120])
def test_the_bar_fits_the_terminal_and_close_leaves_no_residue(columns, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(
        _progress.shutil, "get_terminal_size", lambda *a: os.terminal_size((columns, 24))
    )
    stream = FakeTerminal()
    bar = ProgressBar(100, "training", stream=stream, delay=0.0, min_interval=0.0, unit="epoch")
    for epoch in range(1, 51):
        bar.status = f"loss {1 / epoch:.6f}"
        bar.update()
    shown = screen(stream.getvalue(), columns).rstrip()
    assert shown.startswith("training [") == (columns == 120)  # room for a bar at 120 only
    assert "epoch 50/100, loss 0.020000" in shown or columns == 40
    assert shown.startswith("training epoch 50/100, loss 0.02") or columns == 120
    if columns == 120:
        assert "[" + "#" * 15 + "." * 15 + "]" in shown
    bar.close()
    assert screen(stream.getvalue(), columns).strip() == ""  # erased, nothing left
    assert len(stream.getvalue()) < 50 * columns * 1.2


def test_a_shorter_redraw_covers_the_longer_one(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    stream = FakeTerminal()
    bar = ProgressBar(10, "x", stream=stream, delay=0.0, min_interval=0.0)
    bar.status = "a long status text"
    bar.update()
    long = screen(stream.getvalue(), 120).rstrip()
    bar.status = ""
    bar.update()
    assert "a long status" not in screen(stream.getvalue(), 120) and len(long) > 40


def test_the_command_logs_training_in_a_few_lines_when_stderr_is_a_file(tmp_path):
    path = tmp_path / "in.csv"
    rows = ["unique_id,ds,y"] + [
        f"s{k},2021-01-{d + 1:02d},{10 + k + (d % 7)}" for k in range(2) for d in range(30)
    ]
    path.write_text("\n".join(rows) + "\n")
    with open(tmp_path / "err.log", "w") as err:
        out = subprocess.run(
            [sys.executable, "-m", "tsLSTM", "forecast", str(path), "--horizon", "2",
             "--window", "6", "--hidden-size", "4", "--max-epochs", "40", "--n-iter-no-change",
             "100", "--no-early-stopping"],
            stdout=subprocess.PIPE, stderr=err, text=True, timeout=300,
            env=dict(os.environ, PYTHONWARNINGS="ignore"),
        )  # fmt: skip
    log = (tmp_path / "err.log").read_text()
    assert out.returncode == 0, log
    assert "\r" not in log and len(log) < 1200, log
    epochs = [line for line in log.splitlines() if line.startswith("training: epoch")]
    assert [line.split(",")[0] for line in epochs] == [
        f"training: epoch {k}/40" for k in (1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40)
    ]


# -- the compile notice ----------------------------------------------------------------

NOTICE = "compiling kernels (first run only)...\n"


def test_the_notice_is_one_line_for_the_first_kernel_compiled(monkeypatch):
    import numba

    monkeypatch.setattr(_progress, "_announced", False)

    def kernel(x):
        return x + 1

    kernel.__module__ = "tsLSTM.kernels.example"  # one of ours (not cached: in memory)
    other = numba.njit(lambda x: x - 1)  # not ours: compiles silently
    stream = io.StringIO()
    with compile_notice(stream, enabled=False):
        numba.njit(kernel)(1)
    with compile_notice(stream):
        other(1)
        assert stream.getvalue() == ""
        compiled = numba.njit(kernel)
        compiled(1)
        compiled(1.5)  # a second compilation, no second line
        numba.njit(kernel)(2)
    with compile_notice(stream):
        numba.njit(kernel)(3)
    assert stream.getvalue() == NOTICE  # once per process


def test_the_command_says_it_compiles_on_a_cold_cache_only(tmp_path):
    """Single subprocess test with a full cold compile (~15 s here), then a warm run."""
    path = tmp_path / "in.csv"
    rows = ["unique_id,ds,y"] + [f"s,2021-01-{d + 1:02d},{10 + (d % 7)}" for d in range(30)]
    path.write_text("\n".join(rows) + "\n")
    argv = [sys.executable, "-m", "tsLSTM", "forecast", str(path), "--horizon", "2",
            "--window", "6", "--hidden-size", "4", "--max-epochs", "2"]  # fmt: skip
    env = dict(os.environ, PYTHONWARNINGS="ignore", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    logs = []
    for _ in ("cold", "warm"):
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
        assert out.returncode == 0, out.stderr
        logs.append(out.stderr)
    assert logs[0].count("compiling kernels") == 1 and NOTICE in logs[0]
    assert logs[0].index("compiling kernels") < logs[0].index("training: epoch 1/")
    assert "compiling" not in logs[1]
