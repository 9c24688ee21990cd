"""The fault campaign: every case of the harness, counted.

``python tests/fault_campaign.py`` runs crafted model files (with the peak memory of
each refused load), single-byte flips of a saved model, write targets and malformed
estimator inputs through the public API only, and prints how many cases ended
cleanly (a ``ValueError`` that names the problem, or the documented behaviour) and
how many did not. It runs against whatever ``tsLSTM`` is importable, so
``PYTHONPATH=<old checkout> python tests/fault_campaign.py`` gives the figures of an
older version (cases that could harm this machine, such as replacing a device file,
are left out of the campaign and covered by tests/test_faults.py instead).
"""

import collections
import os
import stat
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent.parent))  # tests/, after PYTHONPATH

from tests import faults

ARCHIVES = {
    "zip bomb (64 MiB of zeros)": faults.crafted_bomb,
    "npy header claiming 10^12 values": faults.crafted_huge_header,
    "duplicate member": faults.crafted_duplicate,
    "meta.json nested 200k deep": faults.crafted_deep_json,
    "meta.json of 20 MiB": faults.crafted_large_meta,
    "5,000 members": faults.crafted_many_members,
    "unknown compression method": faults.crafted_compression,
    "encrypted member": faults.crafted_encrypted,
}


def _fitted(tsLSTM):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tsLSTM.LSTMRegressor(hidden_size=3, max_epochs=1, random_state=0)
        model.fit(X, X[:, -1, 0])
    return model, X


def campaign_archives(tsLSTM, workdir, counts, rows):
    model, X = _fitted(tsLSTM)
    path = workdir / "m.tslstm"
    model.save(path)
    for name, craft in ARCHIVES.items():
        bad = workdir / "crafted.tslstm"
        craft(path, bad)
        outcome, megabytes = faults.peak_rss_of_load(bad)
        clean = outcome.startswith("ValueError")
        counts["crafted model files", clean] += 1
        rows.append(("crafted file", name, outcome[:90], megabytes))
    for name, target in (("/dev/zero", "/dev/zero"), ("a directory", str(workdir))):
        outcome, megabytes = faults.peak_rss_of_load(target)
        counts["special files", outcome.startswith("ValueError")] += 1
        rows.append(("special file", name, outcome[:90], megabytes))
    expected = model.predict(X)
    data = path.read_bytes()
    flipped = workdir / "flipped.tslstm"
    for _, corrupted in faults.flip_each_byte(data):
        flipped.write_bytes(corrupted)
        try:
            loaded = tsLSTM.load(flipped)
            clean = np.array_equal(loaded.predict(X), expected)  # a harmless flip
        except ValueError:
            clean = True
        except Exception:
            clean = False
        counts["single-byte flips", clean] += 1


def _save_case(tsLSTM, model, workdir, name):
    """Save into a prepared target; True if the outcome is the documented one."""
    directory = Path(tempfile.mkdtemp(dir=workdir))
    target = directory / "m.tslstm"
    if name == "planted symlink at <path>.tmp":
        victim = directory / "victim.txt"
        victim.write_text("precious")
        (directory / "m.tslstm.tmp").symlink_to(victim)
        model.save(target)
        return victim.read_text() == "precious" and stat.S_ISREG(os.lstat(target).st_mode)
    if name == "symlink to a file":
        real = directory / "real.tslstm"
        real.write_text("old")
        target.symlink_to(real)
        model.save(target)
        return target.is_symlink() and real.read_bytes()[:2] == b"PK"
    if name == "existing file of mode 0644":
        target.write_text("old")
        target.chmod(0o644)
        model.save(target)
        return stat.S_IMODE(target.stat().st_mode) == 0o644
    if name == "FIFO":
        os.mkfifo(target)
        received = []
        reader = threading.Thread(target=lambda: received.append(open(target, "rb").read()))
        reader.start()
        try:
            model.save(target)
        finally:
            if reader.is_alive():  # the save replaced the FIFO: unblock the reader
                with (
                    open(target, "wb")
                    if stat.S_ISFIFO(os.lstat(target).st_mode)
                    else (open(os.devnull, "wb"))
                ):
                    pass
            reader.join(timeout=5)
        return stat.S_ISFIFO(os.lstat(target).st_mode) and bool(received and received[0])
    if name == "missing directory":
        try:
            model.save(directory / "missing" / "m.tslstm")
        except (OSError, ValueError):
            return not (directory / "missing").exists()
        return False
    raise ValueError(name)


SAVES = ("planted symlink at <path>.tmp", "symlink to a file", "existing file of mode 0644",
         "FIFO", "missing directory")  # fmt: skip


def campaign_writes(tsLSTM, workdir, counts, rows):
    model, _ = _fitted(tsLSTM)
    for name in SAVES:
        try:
            clean = _save_case(tsLSTM, model, workdir, name)
        except Exception as exc:
            clean = False
            name += f" ({type(exc).__name__})"
        counts["save targets", clean] += 1
        rows.append(("save target", name, "as documented" if clean else "NOT as documented", 0))


def _malformed_inputs(tsLSTM):
    """``(name, call)``: each call must raise ValueError or warn of a divergence, or
    return finite values (an array returned is checked), never pass silently."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 6, 2))
    y = X[:, -1, 0]
    series = np.sin(np.arange(60) / 3.0)
    fast = {"hidden_size": 3, "max_epochs": 2, "random_state": 0}
    runaway = {**fast, "learning_rate": 1e6, "max_epochs": 20}
    huge, gap = series * 1e300, np.where(np.arange(60) == 30, np.nan, series)
    Reg, Clf, Fc = tsLSTM.LSTMRegressor, tsLSTM.LSTMClassifier, tsLSTM.LSTMForecaster

    def forecaster():
        return Fc(window=6, horizon=3, **fast)

    return [
        ("X with no time steps", lambda: Reg(**fast).fit(X[:, :0], y)),
        ("X with no features", lambda: Reg(**fast).fit(X[:, :, :0], y)),
        ("complex X", lambda: Reg(**fast).fit(X + 1j, y)),
        ("complex y", lambda: Reg(**fast).fit(X, y + 1j)),
        ("NaN in X", lambda: Reg(**fast).fit(np.where(X > 2, np.nan, X)[:, :, :1][:, :, 0], y)),
        ("inf in y", lambda: Reg(**fast).fit(X, np.where(y > 1, np.inf, y))),
        ("ragged rows of y", lambda: Reg(**fast).fit(X, [[1.0], [1.0, 2.0]] * 15)),
        ("one class", lambda: Clf(**fast).fit(X, np.zeros(30))),
        (
            "sample_weight 1e308 (loss curve)",
            lambda: np.asarray(Reg(**fast).fit(X, y, sample_weight=np.full(30, 1e308)).loss_curve_),
        ),
        ("learning_rate 1e6 (adam)", lambda: Reg(**runaway).fit(X, y)),
        ("forecaster: complex series", lambda: Fc(window=6, horizon=3, **fast).fit(series + 1j)),
        ("forecaster: series too short", lambda: Fc(window=60, horizon=3, **fast).fit(series)),
        ("forecaster: overflowing forecasts", lambda: forecaster().fit(huge).predict()),
        ("forecaster: NaN gap", lambda: forecaster().fit(gap)),
    ]


def campaign_inputs(tsLSTM, counts, rows):
    for name, call in _malformed_inputs(tsLSTM):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = call()
                outcome = "accepted"
                if isinstance(result, np.ndarray):
                    finite = np.all(np.isfinite(result.astype(float)))
                    outcome = "returned finite values" if finite else "returned non-finite values"
            except ValueError as exc:
                outcome = "ValueError: " + str(exc).splitlines()[0]
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        diverged = [w for w in caught if "Diverged" in type(w.message).__name__ or
                    "diverged" in str(w.message)]  # fmt: skip
        if outcome == "accepted" and diverged:
            outcome = "accepted with TrainingDivergedWarning"
        clean = outcome.startswith("ValueError") or outcome in (
            "accepted with TrainingDivergedWarning",
            "returned finite values",
        )
        counts["malformed inputs", clean] += 1
        rows.append(("input", name, outcome[:90], 0))


def main():
    import tsLSTM

    counts = collections.Counter()
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        campaign_archives(tsLSTM, workdir, counts, rows)
        campaign_writes(tsLSTM, workdir, counts, rows)
        campaign_inputs(tsLSTM, counts, rows)
    print(f"tsLSTM from {Path(tsLSTM.__file__).parent}")
    for kind, name, outcome, megabytes in rows:
        memory = f"{megabytes:7.1f} MiB" if megabytes else " " * 11
        print(f"{kind:13s} {name:36s} {memory} {outcome}")
    print(f"\n{'class':22s} {'tried':>6s} {'clean':>6s} {'not':>6s}")
    for kind in dict.fromkeys(k for k, _ in counts):
        clean, bad = counts[kind, True], counts[kind, False]
        print(f"{kind:22s} {clean + bad:6d} {clean:6d} {bad:6d}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
