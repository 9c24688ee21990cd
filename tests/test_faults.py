"""Hostile and unlucky files: crafted model archives, byte flips, write targets, signals.

Uses the harness in ``tests/faults.py``. Every crafted file is refused with a
ValueError that names the problem, quickly and without allocating what it claims.
"""

import os
import stat
import threading
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import tsLSTM
from tests import faults
from tsLSTM import LSTMRegressor, TrainingDivergedWarning
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


def test_check_writable_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        check_writable(tmp_path / "missing" / "out.csv")
    with pytest.raises(ValueError, match="is a directory"):
        check_writable(tmp_path)
    check_writable(tmp_path / "out.csv")
    check_writable("/dev/null")


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
