"""Hostile and unlucky files: crafted model archives, byte flips, write targets, signals.

Uses the harness in ``tests/faults.py``. Every crafted file is refused with a
ValueError that names the problem, quickly and without allocating what it claims.
"""

import os
import re
import stat
import subprocess
import sys
import threading
import time
import warnings

import faults
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import tsLSTM
from tsLSTM import LSTMForecaster, LSTMRegressor, TrainingDivergedWarning, cli
from tsLSTM._files import check_writable, write_file


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LSTMRegressor(hidden_size=3, max_epochs=1, random_state=0).fit(X, X[:, -1, 0])
    path = tmp_path_factory.mktemp("model") / "m.tslstm"
    model.save(path)
    return path, model, X


CRAFTED = {
    "zip bomb": (faults.crafted_bomb, "expands .* times"),
    "huge .npy header": (faults.crafted_huge_header, "more than its recorded shape|does not match"),
    "duplicate member": (faults.crafted_duplicate, "appears twice"),
    "deep JSON": (faults.crafted_deep_json, "nested too deeply"),
    "large meta.json": (faults.crafted_large_meta, "meta.json holds .* bytes"),
    "many members": (faults.crafted_many_members, "members, more than a model has"),
    "unknown compression": (faults.crafted_compression, "compression method 99"),
    "encrypted": (faults.crafted_encrypted, "is encrypted"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_archives_are_refused(model_file, tmp_path, case):
    craft, message = CRAFTED[case]
    bad = tmp_path / "bad.tslstm"
    craft(model_file[0], bad)
    with pytest.raises(ValueError, match=message):
        tsLSTM.load(bad)


@pytest.mark.parametrize("case", ["zip bomb", "huge .npy header", "large meta.json"])
def test_refusing_a_crafted_file_allocates_little(model_file, tmp_path, case):
    """Peak memory of a refused load: well under the 50 MiB allowance (model < 1 MiB)."""
    bad = tmp_path / "bad.tslstm"
    CRAFTED[case][0](model_file[0], bad)
    outcome, megabytes = faults.peak_rss_of_load(bad)
    assert outcome.startswith("ValueError"), outcome
    assert megabytes < 40, f"{case}: {megabytes:.0f} MiB"


def test_the_memory_figure_sees_what_a_load_reads(model_file, tmp_path):
    """Positive control: a 48 MiB array that must be read before it can be refused."""
    bad = tmp_path / "large.tslstm"
    faults.crafted_large_array(model_file[0], bad, megabytes=48)
    outcome, megabytes = faults.peak_rss_of_load(bad)
    assert "x_mean_ must be a finite float array" in outcome
    assert 40 < megabytes < 2 * 48 + 50, (outcome, megabytes)


def test_special_files_are_refused_without_reading(tmp_path):
    with pytest.raises(ValueError, match="not a regular file"):
        tsLSTM.load("/dev/zero")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        tsLSTM.load(fifo)
    with pytest.raises(ValueError, match="is a directory"):
        tsLSTM.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        tsLSTM.load(tmp_path / "missing.tslstm")


def test_every_single_byte_flip_is_refused_or_harmless(model_file, tmp_path):
    """Each flip gives a ValueError or a model equal to the original, nothing else."""
    path, model, X = model_file
    expected = model.predict(X)
    data = path.read_bytes()
    outcomes = {"refused": 0, "identical": 0}
    bad = tmp_path / "flipped.tslstm"
    for position, corrupted in faults.flip_each_byte(data, stride=3):
        bad.write_bytes(corrupted)
        try:
            loaded = tsLSTM.load(bad)
        except ValueError:
            outcomes["refused"] += 1
            continue
        assert loaded.get_params() == model.get_params(), position
        np.testing.assert_array_equal(loaded.predict(X), expected, err_msg=str(position))
        outcomes["identical"] += 1
    assert outcomes["refused"] > outcomes["identical"] > 0


# -- writes ---------------------------------------------------------------------------------


def test_a_planted_symlink_at_the_old_temporary_name_is_not_followed(model_file, tmp_path):
    _, model, _ = model_file
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "m.tslstm.tmp").symlink_to(victim)
    model.save(tmp_path / "m.tslstm")
    assert victim.read_text() == "precious"
    assert stat.S_ISREG(os.lstat(tmp_path / "m.tslstm").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tslstm", "m.tslstm.tmp", "victim.txt"]


def test_a_symlinked_target_is_resolved_and_stays_a_link(model_file, tmp_path):
    _, model, X = model_file
    real = tmp_path / "real.tslstm"
    real.write_text("old")
    link = tmp_path / "link.tslstm"
    link.symlink_to(real)
    model.save(link)
    assert link.is_symlink() and link.resolve() == real
    np.testing.assert_array_equal(tsLSTM.load(real).predict(X), model.predict(X))


def test_an_existing_files_mode_is_kept_and_a_new_one_gets_the_umask(tmp_path):
    existing = tmp_path / "out.csv"
    existing.write_text("old")
    existing.chmod(0o640)
    write_file(existing, lambda f: f.write(b"new"))
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640 and existing.read_bytes() == b"new"
    old = os.umask(0o022)
    try:
        write_file(tmp_path / "new.csv", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o644


def test_a_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo, "rb").read()))
    reader.start()
    write_file(fifo, lambda f: f.write(b"through the pipe"))
    reader.join(timeout=10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def fail(stream):
        stream.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_file(target, fail)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_signals_during_a_write(tmp_path, name):
    """SIGINT and SIGTERM remove the temporary file; SIGKILL leaves it (documented)."""
    target = tmp_path / "out.csv"
    target.write_text("old")
    returncode = faults.interrupt_write(target, faults.SIGNALS[name])
    assert returncode != 0
    assert target.read_text() == "old"
    left = sorted(p.name for p in tmp_path.iterdir() if p != target)
    if name == "SIGKILL":
        assert len(left) == 1 and left[0].startswith(".out.csv.") and left[0].endswith(".tmp")
    else:
        assert left == []
    if name == "SIGTERM":
        assert returncode == -15  # still dies of SIGTERM, after cleaning up


_TO_LINK = """
import sys
from tsLSTM._files import write_file
write_file(sys.argv[1], lambda stream: stream.write(b"reached stdout"))
"""


@pytest.mark.parametrize("destination", ["/proc/self/fd/1", "/dev/stdout"])
def test_a_link_to_stdout_reaches_the_pipe(tmp_path, destination):
    """``/proc/self/fd/1`` names a pipe through a link whose target is no path."""
    link = tmp_path / "out.csv"
    link.symlink_to(destination)
    out = subprocess.run([sys.executable, "-c", _TO_LINK, str(link)], capture_output=True,
                         cwd=faults.ROOT, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout == b"reached stdout"
    assert link.is_symlink() and os.readlink(link) == destination
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_check_writable_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        check_writable(tmp_path / "missing" / "out.csv")
    with pytest.raises(ValueError, match="is a directory"):
        check_writable(tmp_path)
    check_writable(tmp_path / "out.csv")
    check_writable("/dev/null")
    assert sorted(tmp_path.iterdir()) == []  # the probe file is gone


def test_check_writable_tries_to_create_a_file():
    """Permission bits do not tell (root, read-only mounts, /proc): a probe file does."""
    for place in ("/proc", "/sys"):  # as root, os.access says both are writable
        with pytest.raises(ValueError, match=f"cannot create a file in {place}|not writable"):
            check_writable(f"{place}/out.csv")


# -- the tslstm command: outputs and errors ---------------------------------------------------


def _panel_frame(n_series=3, n=40, scale=1.0):
    t = np.arange(n)
    return pd.concat(
        [pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2021-01-01", periods=n),
                       "y": scale * (10 + k + np.sin(t / 3 + k))}) for k in range(n_series)],
        ignore_index=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    """A CSV and a model trained on it (Python API: no training in the CLI runs)."""
    folder = tmp_path_factory.mktemp("cli")
    csv = folder / "sales.csv"
    frame = _panel_frame()
    frame.to_csv(csv, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LSTMForecaster(window=8, horizon=3, hidden_size=4, max_epochs=2,
                               random_state=0).fit(frame)  # fmt: skip
    model_path = folder / "model.tslstm"
    model.save(model_path)
    expected = faults.run_cli("forecast", csv, "--horizon", 3, "--model", model_path, "--quiet")
    assert expected.returncode == 0, expected.stderr
    return csv, model_path, expected.stdout


def _forecast(cli_files, *extra):
    csv, model_path, _ = cli_files
    return faults.run_cli("forecast", csv, "--horizon", 3, "--model", model_path, "--quiet",
                          *extra)  # fmt: skip


def _one_error_line(stderr):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tslstm: error: "), stderr
    return lines[0]


def _forecast_into_fifo(cli_files, fifo):
    """Run the command with ``-o fifo`` while a thread reads it; (result, what was read)."""
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo).read()), daemon=True)
    reader.start()
    out = _forecast(cli_files, "-o", fifo)
    reader.join(timeout=60)
    return out, received


def test_cli_output_to_dev_null_stays_a_character_device(cli_files, tmp_path):
    # first the same path on a FIFO of our own: a command that would replace a special
    # file must fail here, before it can replace /dev/null (we may run as root)
    out, received = _forecast_into_fifo(cli_files, tmp_path / "guard")
    if not stat.S_ISFIFO(os.lstat(tmp_path / "guard").st_mode) or received != [cli_files[2]]:
        pytest.fail("a FIFO output was not written in place: /dev/null is not tried")
    before = os.stat("/dev/null")
    out = _forecast(cli_files, "-o", "/dev/null")
    assert out.returncode == 0, out.stderr
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino and stat.S_IMODE(after.st_mode) == 0o666
    assert not [p for p in os.listdir("/dev") if p.startswith(".null.")]


def test_cli_output_to_a_fifo_is_written_in_place(cli_files, tmp_path):
    fifo = tmp_path / "forecasts.csv"
    out, received = _forecast_into_fifo(cli_files, fifo)
    assert out.returncode == 0, out.stderr
    assert received == [cli_files[2]]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and sorted(tmp_path.iterdir()) == [fifo]


@pytest.mark.parametrize("destination", ["/proc/self/fd/1", "/dev/stdout"])
def test_cli_output_through_a_link_to_stdout(cli_files, tmp_path, destination):
    link = tmp_path / "out.csv"
    link.symlink_to(destination)
    out = _forecast(cli_files, "-o", link)
    assert out.returncode == 0, out.stderr
    assert out.stdout == cli_files[2]
    assert link.is_symlink() and sorted(tmp_path.iterdir()) == [link]


def test_cli_output_symlink_updates_its_target_and_stays_a_link(cli_files, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    out = _forecast(cli_files, "-o", link)
    assert out.returncode == 0, out.stderr
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == cli_files[2]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_cli_output_keeps_the_permission_bits_of_an_existing_file(cli_files, tmp_path, mode):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    target.chmod(mode)
    out = _forecast(cli_files, "-o", target)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(target.stat().st_mode) == mode and target.read_text() == cli_files[2]


def test_cli_new_output_gets_the_umask_default(cli_files, tmp_path):
    target = tmp_path / "new.csv"
    out = faults.run_cli("forecast", cli_files[0], "--horizon", 3, "--model", cli_files[1],
                         "--quiet", "-o", target, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_cli_signals_during_the_output_write(cli_files, tmp_path, name):
    """SIGINT: 'interrupted', exit 1; SIGTERM: dies of it; both leave no temporary file.
    SIGKILL cannot be caught: it may leave ``.out.csv.<random>.tmp`` (documented)."""
    csv, model_path, _ = cli_files
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    argv = ["forecast", csv, "--horizon", 3, "--model", model_path, "--quiet", "-o", target]
    returncode, stderr = faults.interrupt_cli_write(argv, faults.SIGNALS[name])
    assert target.read_text() == "old\n"
    left = sorted(p.name for p in tmp_path.iterdir() if p != target)
    if name == "SIGKILL":
        assert returncode == -9
        assert len(left) == 1 and left[0].startswith(".out.csv.") and left[0].endswith(".tmp")
        return
    assert left == [], left
    assert "Traceback" not in stderr
    if name == "SIGINT":
        assert returncode == 1 and stderr.strip() == "tslstm: interrupted"
    else:
        assert returncode == -15


@pytest.fixture
def no_training(monkeypatch):
    """In-process runs of ``cli.main`` in which training or loading fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("reached training: outputs must be checked first")

    monkeypatch.setattr(cli, "train_model", forbidden)
    monkeypatch.setattr(cli, "load_model", forbidden)
    monkeypatch.setattr(cli, "load_data", forbidden)


@pytest.mark.parametrize(
    "case",
    ["missing directory", "a directory", "under /proc", "under /sys", "save under /proc",
     "save into a directory", "backtest output under /proc"],
)  # fmt: skip
def test_cli_checks_outputs_before_training(cli_files, tmp_path, capsys, no_training, case):
    csv = str(cli_files[0])
    argv, message = {
        "missing directory": (["-o", str(tmp_path / "nope" / "out.csv")], "does not exist"),
        "a directory": (["-o", str(tmp_path)], "is a directory"),
        "under /proc": (["-o", "/proc/out.csv"], "cannot create a file in /proc"),
        "under /sys": (["-o", "/sys/out.csv"], "cannot create a file in /sys"),
        "save under /proc": (["--save", "/proc/m.tslstm"], "--save: cannot write"),
        "save into a directory": (["--save", str(tmp_path)], "--save: .* is a directory"),
        "backtest output under /proc": (["-o", "/proc/m.csv"], "--output: cannot write"),
    }[case]
    command = "train" if "save" in case else "backtest" if "backtest" in case else "forecast"
    assert cli.main([command, csv, "--horizon", "3", *argv]) == 1
    assert re.search(message, _one_error_line(capsys.readouterr().err))


@pytest.mark.parametrize("command", ["forecast", "backtest"])
def test_cli_parquet_output_without_pyarrow_fails_before_training(
    command, cli_files, tmp_path, capsys, monkeypatch, no_training
):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    argv = [command, str(cli_files[0]), "--horizon", "3", "-o", str(tmp_path / "f.parquet")]
    assert cli.main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "writing Parquet needs pyarrow" in line and "pip install 'tsLSTM[parquet]'" in line
    assert sorted(tmp_path.iterdir()) == []


def test_cli_unwritable_save_fails_before_training_as_a_user_sees_it(cli_files):
    out = faults.run_cli("train", cli_files[0], "--horizon", 3, "--save", "/proc/m.tslstm")
    assert out.returncode == 1
    assert "cannot create a file in /proc" in _one_error_line(out.stderr)  # no progress bar


def test_cli_input_that_is_a_directory(tmp_path):
    out = faults.run_cli("forecast", tmp_path, "--horizon", 3)
    assert out.returncode == 1
    assert f"input {tmp_path} is a directory" in _one_error_line(out.stderr)


def test_cli_unexpected_exceptions_are_one_line(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("something nobody foresaw\nsecond line")

    monkeypatch.setattr(cli, "load_data", broken)
    assert cli.main(["forecast", "--dataset", "airline", "--horizon", "2"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line == "tslstm: error: unexpected RuntimeError: something nobody foresaw second line"

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_data", interrupted)
    assert cli.main(["forecast", "--dataset", "airline", "--horizon", "2"]) == 1
    assert capsys.readouterr().err == "tslstm: interrupted\n"


def test_cli_unreachable_scheduler_fails_fast_in_one_line(cli_files):
    pytest.importorskip("distributed")
    started = time.monotonic()
    out = _forecast(cli_files, "--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout", 2)
    assert out.returncode == 1
    line = _one_error_line(out.stderr)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in line
    assert time.monotonic() - started < 60


def test_cli_forecasts_that_overflow_are_an_error_not_inf(cli_files, tmp_path):
    huge = tmp_path / "huge.csv"
    _panel_frame(scale=1e200).to_csv(huge, index=False)
    target = tmp_path / "out.csv"
    # the default scaling='auto' forecasts these positive series in logs: finite
    out = faults.run_cli("forecast", huge, "--horizon", 3, "--model", cli_files[1], "-o", target,
                         "--quiet")  # fmt: skip
    assert out.returncode == 0, out.stderr
    target.unlink()
    # scaling='window' works in their units and overflows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LSTMForecaster(window=8, horizon=3, hidden_size=4, max_epochs=2, random_state=0,
                               scaling="window").fit(_panel_frame())  # fmt: skip
    model.save(tmp_path / "window.tslstm")
    out = faults.run_cli("forecast", huge, "--horizon", 3, "--model", tmp_path / "window.tslstm",
                         "-o", target, "--quiet")  # fmt: skip
    assert out.returncode == 1
    assert "forecast of series 's0'" in _one_error_line(out.stderr)
    assert "not finite" in out.stderr and not target.exists()


# -- malformed estimator inputs, failed fits and divergence ----------------------------------


def _data(n=40, T=6, F=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, F))
    return X, X[:, -1, 0] + 0.5 * X[:, 0, 1]


def _fitted(**params):
    X, y = _data()
    settings = {"hidden_size": 4, "max_epochs": 2, "batch_size": 16, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LSTMRegressor(**{**settings, **params}).fit(X, y), X, y


def _quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return call(*args, **kwargs)


FAILED_FITS = {
    # (how the estimator is set up before the failing call, the call, the error)
    "refit, X without features": (
        {}, lambda est, X, y: est.fit(X[:, :, :0], y), "X has no features"),
    "refit, failure in the forward pass": (
        {"conv_filters": [4], "pool_size": 10}, lambda est, X, y: est.fit(X, y),
        "too short for kernel_size"),
    "refit, failure in the trainer's step": (
        "inject", lambda est, X, y: est.fit(X, y), "injected failure"),
    "warm start, bad sample weights": (
        {"warm_start": True}, lambda est, X, y: est.fit(X, y, sample_weight=-np.ones(len(y))),
        "Negative values"),
    "warm start, failure in the trainer's step": (
        {"warm_start": True, "_inject": True}, lambda est, X, y: est.fit(X, y),
        "injected failure"),
    "partial_fit, y with other outputs": (
        {}, lambda est, X, y: est.partial_fit(X, np.c_[y, y]), "y has 2 outputs"),
    "partial_fit, failure in the trainer's step": (
        {"_inject": True}, lambda est, X, y: est.partial_fit(X, y), "injected failure"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FAILED_FITS))
def test_a_failed_fit_leaves_the_fitted_estimator_exactly_as_it_was(case, monkeypatch):
    """Attributes, predictions, weights, optimizer and random state all stay; a later
    partial_fit continues exactly as if the failed call had never happened."""
    from copy import deepcopy

    setup, call, message = FAILED_FITS[case]
    est, X, y = _fitted()
    _quiet(est.partial_fit, X, y)  # an optimizer with state that partial_fit continues
    reference = deepcopy(est)
    inject = setup == "inject" or "_inject" in setup
    if isinstance(setup, dict):
        est.set_params(**{k: v for k, v in setup.items() if not k.startswith("_")})
    before, predictions = faults.estimator_state(est), est.predict(X)
    if inject:
        faults.fail_in_step(monkeypatch, 2)  # after one update changed the weights
    with pytest.raises((ValueError, faults.InjectedFailure), match=message):
        _quiet(call, est, X, y)
    monkeypatch.undo()
    faults.assert_same_state(before, faults.estimator_state(est))
    np.testing.assert_array_equal(est.predict(X), predictions)
    est.set_params(**reference.get_params())
    _quiet(est.partial_fit, X, y)
    _quiet(reference.partial_fit, X, y)
    np.testing.assert_array_equal(est.model_.flat_params, reference.model_.flat_params)
    np.testing.assert_array_equal(est._optimizer.state[0], reference._optimizer.state[0])
    assert est.loss_curve_ == reference.loss_curve_


def test_a_failed_first_fit_leaves_an_unfitted_estimator(monkeypatch):
    X, y = _data()
    est = LSTMRegressor(hidden_size=4, max_epochs=2, random_state=np.random.RandomState(0))
    before = faults.estimator_state(est)
    faults.fail_in_step(monkeypatch, 2)
    with pytest.raises(faults.InjectedFailure):
        _quiet(est.fit, X, y)
    faults.assert_same_state(before, faults.estimator_state(est))
    assert not hasattr(est, "model_")


def test_huge_sample_weights_are_rescaled_not_overflowed():
    """The loss is a weighted mean: weights 1e308 train exactly as unit weights."""
    X, y = _data()
    plain, _, _ = _fitted()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDivergedWarning)
        huge = _quiet(LSTMRegressor(**plain.get_params()).fit, X, y, np.full(len(y), 1e308))
    assert np.all(np.isfinite(huge.loss_curve_))
    assert huge.loss_curve_ == plain.loss_curve_
    np.testing.assert_array_equal(huge.predict(X), plain.predict(X))


def test_a_non_finite_epoch_loss_stops_training(monkeypatch):
    """Finite minibatch losses whose weighted sum overflows: never a NaN in loss_curve_."""
    from tsLSTM.training import HostTrainer

    X, y = _data()
    original = HostTrainer.step
    monkeypatch.setattr(HostTrainer, "step", lambda self, a, b: original(self, a, b) * 1e308)
    est = LSTMRegressor(hidden_size=4, max_epochs=3, batch_size=16, random_state=0)
    with pytest.warns(TrainingDivergedWarning, match="the epoch's loss is inf"):
        est.fit(X, y)
    assert est.n_iter_ == 0 and np.all(np.isfinite(est.model_.flat_params))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "optimizer, clip", [("adam", 1.0), ("rmsprop", 1.0), ("adagrad", 1.0), ("sgd", 1.0),
                        ("adamw", None)],
)  # fmt: skip
def test_runaway_training_is_a_divergence(optimizer, clip, seed):
    """learning_rate=1e6 sends the loss to 1e10-1e14: stopped, sane weights kept."""
    X, y = _data(60, seed=seed)
    est = LSTMRegressor(hidden_size=8, optimizer=optimizer, learning_rate=1e6,
                        clip_grad_norm=clip, max_epochs=30, random_state=seed)  # fmt: skip
    message = r"exceeds 1000 times max\(best epoch loss"
    with pytest.warns(TrainingDivergedWarning, match=message) as w:
        _quiet(est.fit, X, y)
    assert w[0].filename == __file__  # points at the caller of fit
    assert np.abs(est.predict(X)).max() < 10 * np.abs(y).max()
    assert np.all(np.isfinite(est.loss_curve_) | (est.n_iter_ == 0))


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "adagrad"])
def test_partial_fit_after_a_divergence_starts_a_fresh_optimizer(optimizer):
    """The diverged steps' moments are dropped: with a sane learning rate it learns."""
    X, y = _data(60)
    est = LSTMRegressor(hidden_size=8, optimizer=optimizer, learning_rate=1e6, batch_size=16,
                        clip_grad_norm=None, random_state=0)  # fmt: skip
    with pytest.warns(TrainingDivergedWarning):
        est.partial_fit(X, y)
    assert est._optimizer is None
    est.set_params(learning_rate=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingDivergedWarning)
        for _ in range(3):
            est.partial_fit(X, y)
    assert np.all(np.isfinite(est.loss_curve_[1:])) and est.loss_curve_[-1] < 2


def test_runaway_after_good_epochs_keeps_the_weights_the_best_epoch_started_from(monkeypatch):
    """The bound is relative: from epoch 4 on the reported loss is 1e4 times larger."""
    from tsLSTM.training import HostTrainer

    X, y = _data()
    settings = {"hidden_size": 4, "batch_size": 16, "random_state": 0, "learning_rate": 0.01}
    original = HostTrainer.step
    calls = {"n": 0}
    n_batches = 3  # 40 samples, batches of 16

    def step(self, start, stop):
        calls["n"] += 1
        loss = original(self, start, stop)
        return loss * 1e4 if calls["n"] > 3 * n_batches else loss

    monkeypatch.setattr(HostTrainer, "step", step)
    est = LSTMRegressor(**settings, max_epochs=10)
    with pytest.warns(TrainingDivergedWarning, match="in epoch 4 .*exceeds 1000 times"):
        est.fit(X, y)
    monkeypatch.undo()
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    best = int(np.argmin(est.loss_curve_))  # epochs 0, 1, 2: start from `best` epochs' end
    if best > 0:
        start = _quiet(LSTMRegressor(**settings, max_epochs=best).fit, X, y)
        np.testing.assert_array_equal(est.model_.flat_params, start.model_.flat_params)


def test_healthy_fits_stay_far_below_the_divergence_bound():
    """The bound sits orders of magnitude above healthy losses, from the first epoch."""
    from sklearn.datasets import load_digits

    from tsLSTM import LSTMClassifier
    from tsLSTM.estimators._base import diverged_loss_bound

    X, y = _data(120)
    digits = load_digits()
    runs = [
        (LSTMRegressor(hidden_size=8, max_epochs=15, random_state=0), X, y),
        (LSTMRegressor(hidden_size=8, max_epochs=15, learning_rate=0.05, optimizer="sgd",
                       random_state=1), X, y),
        (LSTMRegressor(hidden_size=8, max_epochs=15, learning_rate=0.01, optimizer="rmsprop",
                       random_state=2), X, y * 1e6 + 5),
        (LSTMRegressor(hidden_size=8, max_epochs=10, output="sequence", random_state=0),
         X, X[:, :, 0]),
        (LSTMClassifier(hidden_size=16, max_epochs=5, learning_rate=0.01, random_state=0),
         digits.images[:300], digits.target[:300]),
    ]  # fmt: skip
    for est, X_, y_ in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("error", TrainingDivergedWarning)
            _quiet(est.fit, X_, y_)
        assert max(est.loss_curve_) < diverged_loss_bound(np.inf, 1.0) / 100, est


MALFORMED = {
    "no time steps": (lambda X, y: (X[:, :0], y), "X has no time steps"),
    "no features": (lambda X, y: (X[:, :, :0], y), "X has no features"),
    "sparse y": (lambda X, y: (X, __import__("scipy.sparse").sparse.csr_matrix(y[:, None])),
                 "y is a scipy.sparse"),
    "ragged X rows": (lambda X, y: ([[[1.0, 2.0], [3.0]]] * len(y), y), "X is ragged"),
    "ragged sequences": (lambda X, y: ([X[0], [[1.0, 2.0], [3.0]], *X[2:]], y),
                         "X's sequence 1 is ragged"),
    "ragged y rows": (lambda X, y: (X, [[1.0, 2.0], [3.0]] * (len(y) // 2)), "y is ragged"),
    "complex X": (lambda X, y: (X + 1j, y), r"^X must be real: Complex data not"),
    "complex y": (lambda X, y: (X, y + 1j), r"^y must be real: Complex data not"),
    "complex y list": (lambda X, y: (X, list(y + 1j)), r"^y must be real: Complex data not"),
    "complex sequences": (lambda X, y: ([x[: 3 + i % 3] + 1j for i, x in enumerate(X)], y),
                          "X's sequence 0 must be real: Complex data"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_inputs_get_a_clear_error(case):
    X, y = _data()
    X, y = MALFORMED[case][0](X, y)
    with pytest.raises(ValueError, match=MALFORMED[case][1]):
        LSTMRegressor(hidden_size=4, max_epochs=1).fit(X, y)


def test_complex_per_step_targets_are_refused():
    X, _ = _data()
    for est in [LSTMRegressor(hidden_size=4, max_epochs=1, output="sequence"),
                tsLSTM.LSTMClassifier(hidden_size=4, max_epochs=1, output="sequence")]:  # fmt: skip
        for y in [X[:, :, 0] + 1j, list(X[:, :, 0] + 1j)]:
            with pytest.raises(ValueError, match=r"y.* must be real: Complex data not supported"):
                est.fit(X, y)


@pytest.mark.parametrize(
    "params, attributes",
    [({"hidden_size": 8000}, {}), ({"num_layers": 300, "hidden_size": 500}, {}),
     ({}, {"n_outputs_": 50_000_000}), ({"bidirectional": True}, {})],
)  # fmt: skip
def test_a_file_claiming_a_larger_network_is_refused_before_building_it(
    model_file, tmp_path, params, attributes
):
    bad = tmp_path / "claims.tslstm"
    faults.crafted_meta(model_file[0], bad, params=params, attributes=attributes)
    assert bad.stat().st_size < 8 << 10
    outcome, megabytes = faults.peak_rss_of_load(bad)
    assert outcome.startswith("ValueError"), outcome
    assert "does not fit the estimator" in outcome or "y_mean_ must be" in outcome, outcome
    assert megabytes < 40, f"{params} {attributes}: {megabytes:.0f} MiB"
