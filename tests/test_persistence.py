"""Safe persistence: est.save(path) / tsLSTM.load(path)."""

import hashlib
import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import tsLSTM
from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor

FAST = {"hidden_size": 8, "max_epochs": 5, "learning_rate": 0.01, "random_state": 0}


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 7, 3))
    labels = np.array(["cat", "dog", "emu"])[rng.integers(0, 3, 60)]
    Y = np.column_stack([X.sum(axis=(1, 2)), X[:, -1, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LSTMClassifier(**FAST, class_weight={"cat": 2.0}, cell="gru").fit(X, labels)
        reg = LSTMRegressor(**FAST, num_layers=2, bidirectional=True, dtype="float64").fit(X, Y)
    return X, clf, reg


def rewrite(src, dst, change, resign=True):
    """Copy a model archive, letting ``change(name, data)`` alter members.

    With ``resign``, ``meta.sha256`` is recomputed for the new ``meta.json``, as a
    deliberate forger would: the edit then meets the checks behind the hash.
    """
    with zipfile.ZipFile(src) as zin:
        members = {info.filename: change(info.filename, zin.read(info)) for info in zin.infolist()}
    if resign and members.get("meta.json") is not None:
        meta = members["meta.json"]
        meta = meta.encode() if isinstance(meta, str) else meta
        members["meta.sha256"] = hashlib.sha256(meta).hexdigest()
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in members.items():
            if data is not None:
                zout.writestr(name, data)


def rewrite_meta(src, dst, edit):
    """Copy a model archive with ``edit(meta)`` applied to its (re-signed) meta.json."""

    def change(name, data):
        if name != "meta.json":
            return data
        meta = json.loads(data)
        edit(meta)
        return json.dumps(meta)

    rewrite(src, dst, change)
    return dst


def test_round_trip_gives_identical_predictions(fitted, tmp_path):
    X, clf, reg = fitted
    for est in (clf, reg):
        path = tmp_path / f"{type(est).__name__}.tslstm"
        est.save(path)
        loaded = tsLSTM.load(path)
        assert type(loaded) is type(est)
        assert loaded.get_params() == est.get_params()
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
        assert loaded.loss_curve_ == est.loss_curve_ and loaded.n_iter_ == est.n_iter_
    loaded = tsLSTM.load(tmp_path / "LSTMClassifier.tslstm")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.classes_.tolist() == ["cat", "dog", "emu"]
    assert loaded.class_weight == {"cat": 2.0}


def test_loaded_model_can_continue_training(fitted, tmp_path):
    X, _, reg = fitted
    reg.save(tmp_path / "m.tslstm")
    loaded = tsLSTM.load(tmp_path / "m.tslstm")
    loaded.partial_fit(X, np.column_stack([X.sum(axis=(1, 2)), X[:, -1, 0]]))
    assert loaded.n_iter_ == reg.n_iter_ + 1


def test_archive_holds_no_pickle(fitted, tmp_path):
    _, clf, _ = fitted
    clf.save(tmp_path / "m.tslstm")
    with zipfile.ZipFile(tmp_path / "m.tslstm") as archive:
        names = archive.namelist()
        meta = json.loads(archive.read("meta.json"))
        for name in names:
            if name.endswith(".npy"):
                np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
    assert meta["format"] == "tsLSTM-model" and meta["format_version"] == 2
    assert "param/rnn.weight_ih_l0.npy" in names and "attr/classes_.npy" in names


def test_truncated_file_is_refused(fitted, tmp_path):
    _, clf, _ = fitted
    clf.save(tmp_path / "m.tslstm")
    data = (tmp_path / "m.tslstm").read_bytes()
    (tmp_path / "cut.tslstm").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        tsLSTM.load(tmp_path / "cut.tslstm")
    (tmp_path / "text.tslstm").write_text("hello")
    with pytest.raises(ValueError, match="not a tsLSTM model file"):
        tsLSTM.load(tmp_path / "text.tslstm")


def test_tampered_files_are_refused(fitted, tmp_path):
    _, clf, _ = fitted
    src = tmp_path / "m.tslstm"
    clf.save(src)
    bad = tmp_path / "bad.tslstm"

    def flip_weight(name, data):
        if name == "param/head.bias.npy":
            return data[:-1] + bytes([data[-1] ^ 1])
        return data

    rewrite(src, bad, flip_weight)
    with pytest.raises(ValueError, match=r"param/head.bias fails its SHA-256 check"):
        tsLSTM.load(bad)

    rewrite(src, bad, lambda name, data: None if name == "param/head.bias.npy" else data)
    with pytest.raises(ValueError, match="do not match those recorded"):
        tsLSTM.load(bad)

    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)

    def add_member(name, data):
        if name == "meta.json":
            meta = json.loads(data)
            meta["arrays"]["attr/x_mean_"]["sha256"] = hashlib.sha256(
                pickled.getvalue()
            ).hexdigest()
            return json.dumps(meta)
        if name == "attr/x_mean_.npy":
            return pickled.getvalue()
        return data

    rewrite(src, bad, add_member)
    with pytest.raises(ValueError, match="not a plain numpy array"):
        tsLSTM.load(bad)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(format_version=99), "version 99; this tsLSTM reads versions 1, 2"),
        (lambda m: m.update(format="other"), "not a tsLSTM model file"),
        (lambda m: m.update(estimator="os.system"), "unknown estimator 'os.system'"),
        (lambda m: m["params"].update(hidden_size=-3), "invalid estimator parameters"),
        (lambda m: m["params"].update(hidden_size=9), "does not fit the estimator"),
        (lambda m: m["attributes"].update(__class__=1), "unexpected attribute"),
    ],
)
def test_incompatible_metadata_is_refused(fitted, tmp_path, edit, message):
    _, clf, _ = fitted
    src = tmp_path / "m.tslstm"
    clf.save(src)
    with pytest.raises(ValueError, match=message):
        tsLSTM.load(rewrite_meta(src, tmp_path / "bad.tslstm", edit))


def test_save_unfitted_or_unsaveable(tmp_path):
    with pytest.raises(ValueError, match="not fitted yet"):
        LSTMRegressor().save(tmp_path / "m.tslstm")
    assert not (tmp_path / "m.tslstm").exists()


def test_consistently_forged_attributes_are_refused(fitted, tmp_path):
    """Edits that also rewrite the recorded SHA-256 still meet the attribute checks."""
    _, _, reg = fitted
    src = tmp_path / "m.tslstm"
    reg.save(src)

    def forge(member, array=None, attributes=None):
        def change(name, data):
            if name == "meta.json":
                meta = json.loads(data)
                if array is not None:
                    stored = np.load(io.BytesIO(array))
                    meta["arrays"][member].update(
                        sha256=hashlib.sha256(array).hexdigest(),
                        shape=list(stored.shape),
                        dtype=stored.dtype.str,
                    )
                if attributes is not None:
                    meta["attributes"].update(attributes)
                return json.dumps(meta)
            if array is not None and name == member + ".npy":
                return array
            return data

        rewrite(src, tmp_path / "forged.tslstm", change)
        return tmp_path / "forged.tslstm"

    buffer = io.BytesIO()
    np.save(buffer, np.ones(3))
    with pytest.raises(ValueError, match=r"y_scale_ must be a finite float array of shape \(2,\)"):
        tsLSTM.load(forge("attr/y_scale_", buffer.getvalue()))
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    with pytest.raises(ValueError, match=r"x_scale_ must be .* > 0"):
        tsLSTM.load(forge("attr/x_scale_", buffer.getvalue()))
    with pytest.raises(ValueError, match="n_timesteps_ must be a positive integer"):
        tsLSTM.load(forge("", attributes={"n_timesteps_": "x"}))
    with pytest.raises(ValueError, match="loss_curve_ must be a list of numbers"):
        tsLSTM.load(forge("", attributes={"loss_curve_": {"__items__": []}}))


def test_numpy_integer_random_state_is_kept(tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = LSTMRegressor(**{**FAST, "random_state": np.int64(3)}).fit(X, X[:, 0])
    reg.save(tmp_path / "m.tslstm")
    assert tsLSTM.load(tmp_path / "m.tslstm").random_state == 3


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("kind", ["reg", "clf", "fc"])
def test_files_written_by_format_1_still_load(kind):
    """Files saved by tsLSTM before the format moved to ``_archive`` (same format 1)."""
    model = tsLSTM.load(DATA / f"format1_{kind}.tslstm")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 5, 2))
    if kind == "reg":
        predicted = model.predict(X)
    elif kind == "clf":
        predicted = model.predict_proba(X)
    else:
        predicted = model.predict(y=np.sin(np.arange(60) / 3))
    np.testing.assert_allclose(predicted, np.load(DATA / f"format1_{kind}_pred.npy"), rtol=1e-5)


def test_forecaster_round_trip_and_refusals(tmp_path):
    series = np.sin(np.arange(60) / 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LSTMForecaster(window=6, horizon=3, hidden_size=3, max_epochs=2, random_state=0,
                               calibration_fraction=0.2, scaling="series").fit(series)  # fmt: skip
    path = tmp_path / "f.tslstm"
    model.save(path)
    loaded = tsLSTM.load(path)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(y=series), model.predict())
    np.testing.assert_array_equal(
        loaded.predict_interval(y=series, coverage=0.8), model.predict_interval(coverage=0.8)
    )

    def edit_meta(edit):
        return rewrite_meta(path, tmp_path / "bad.tslstm", edit)

    with pytest.raises(ValueError, match=r"unexpected members \['inner/attr/x_mean_'"):
        tsLSTM.load(edit_meta(lambda m: m.pop("inner")))
    with pytest.raises(ValueError, match="needs its inner LSTMRegressor section"):
        tsLSTM.load(edit_meta(lambda m: m["inner"].update(estimator="LSTMClassifier")))
    with pytest.raises(ValueError, match="inconsistent forecaster attributes"):
        tsLSTM.load(edit_meta(lambda m: m["attributes"].update(n_covariates_=2)))
    with pytest.raises(ValueError, match="unknown estimator 'LSTMForecaster2'"):
        tsLSTM.load(edit_meta(lambda m: m.update(estimator="LSTMForecaster2")))
    with pytest.raises(ValueError, match="invalid estimator parameters"):
        tsLSTM.load(edit_meta(lambda m: m.update(estimator="LSTMRegressor")))


def test_forecaster_ensemble_and_seasonal_baseline_round_trip(tmp_path):
    import pandas as pd

    t = np.arange(72)
    noise = 0.05 * np.random.default_rng(0).standard_normal(72)
    series = pd.Series(np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / 12) + noise),
                       index=pd.date_range("2000-01-01", periods=72, freq="MS"))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LSTMForecaster(window=14, horizon=3, ensemble_size=3, **FAST).fit(series)
    assert model.season_length_ == 12 and len(model._members) == 2
    path = tmp_path / "e.tslstm"
    model.save(path)
    loaded = tsLSTM.load(path)
    assert loaded.season_length_ == 12 and len(loaded._members) == 2
    np.testing.assert_array_equal(loaded.predict(y=series), model.predict())
    single = LSTMForecaster(window=14, horizon=3, **FAST).fit(series).predict()
    assert not np.array_equal(single, model.predict())  # the members count


def test_save_estimator_is_a_deprecated_alias(fitted, tmp_path):
    from tsLSTM.persistence import save_estimator

    _, _, reg = fitted
    with pytest.warns(FutureWarning, match="call estimator.save"):
        save_estimator(reg, tmp_path / "m.tslstm")
    np.testing.assert_array_equal(tsLSTM.load(tmp_path / "m.tslstm").predict(fitted[0]),
                                  reg.predict(fitted[0]))  # fmt: skip


@pytest.fixture
def no_gpu(monkeypatch):
    """No usable CUDA GPU (under the simulator, or with numba-cuda and no driver)."""
    from numba import cuda

    monkeypatch.setattr(cuda, "is_available", lambda: False, raising=False)


@pytest.mark.parametrize("kind", ["regressor", "classifier", "forecaster"])
def test_a_model_saved_for_cuda_loads_on_the_cpu_where_there_is_no_gpu(
    kind, fitted, tmp_path, no_gpu
):
    from tsLSTM.devices import DeviceUnavailableError

    X, clf, reg = fitted
    if kind == "forecaster":
        series = np.sin(np.arange(50) / 3.0) + np.arange(50) / 25.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LSTMForecaster(window=6, horizon=2, ensemble_size=2, **FAST).fit(series)
        predict = lambda m: m.predict(y=series)  # noqa: E731
    else:
        model = clf if kind == "classifier" else reg
        predict = lambda m: m.predict_proba(X) if kind == "classifier" else m.predict(X)  # noqa: E731
    expected = predict(model)
    path = tmp_path / "model.tslstm"
    model.set_params(device="cuda").save(path)
    model.set_params(device="cpu")
    with pytest.warns(UserWarning, match="saved with device='cuda'; no CUDA GPU here: loaded on"):
        loaded = tsLSTM.load(path)
    assert loaded.device == "cpu"
    if kind == "forecaster":
        assert {m.device for m in [loaded.regressor_, *loaded._members]} == {"cpu"}
    np.testing.assert_array_equal(predict(loaded), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit device: no warning
        assert tsLSTM.load(path, device="cpu").device == "cpu"
        assert tsLSTM.load(path, device="auto").device == "auto"
    with pytest.raises(DeviceUnavailableError, match="device='cuda' was requested"):
        tsLSTM.load(path, device="cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        tsLSTM.load(path, device="gpu")


def test_a_model_saved_for_the_cpu_loads_as_saved(fitted, tmp_path, no_gpu):
    path = tmp_path / "model.tslstm"
    fitted[2].save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tsLSTM.load(path).device == "cpu"
