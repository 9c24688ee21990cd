"""Saving and loading fitted estimators in a format that loading cannot execute.

A saved model is a ZIP archive of ``.npy`` arrays (numpy's format, read with
``allow_pickle=False``) plus one JSON document, ``meta``:

``meta``
    ``format`` ("tsLSTM-model"), ``format_version``, ``tslstm_version``,
    ``estimator`` (class name, from a fixed list), ``params`` (``get_params()``),
    ``attributes`` (JSON-able fitted attributes), and ``arrays``: for each array
    member its dtype, shape and SHA-256.

array members
    ``param/<state-dict key>`` for the network's weights in PyTorch's layout, and
    ``attr/<name>`` for array-valued fitted attributes (scaling statistics,
    ``classes_``).

Loading refuses, with a ``ValueError`` naming the problem, a file that is not such an
archive or is truncated, an unknown format version or estimator, members that are
missing, unexpected, or whose bytes do not match their recorded SHA-256, fitted
attributes of the wrong type, shape or range, and parameters or weights that the
estimator would not accept. The SHA-256 values live in the same file: they catch
corruption and edits of one member, not a deliberate forgery of the whole file, which
can still only yield a model made of plain numbers (nothing in it is executed).
"""

import hashlib
import io
import json
import numbers
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "tsLSTM-model"
FORMAT_VERSION = 1

# Fitted attributes stored as JSON / as arrays; anything else is rebuilt on load.
_JSON_ATTRIBUTES = (
    "n_features_in_", "n_timesteps_", "n_step_features_", "n_iter_", "t_", "loss_curve_",
    "best_loss_", "validation_scores_", "best_validation_score_", "n_outputs_", "_y_1d",
    "_variable_length",
)  # fmt: skip
_ARRAY_ATTRIBUTES = ("x_mean_", "x_scale_", "y_mean_", "y_scale_", "classes_")
_FORECASTER_JSON_ATTRIBUTES = (
    "n_series_", "n_windows_", "n_covariates_", "covariate_names_", "short_series_",
    "series_ids_",
)  # fmt: skip


def _estimator_classes():
    from .estimators import LSTMClassifier, LSTMRegressor
    from .forecasting import LSTMForecaster

    return {cls.__name__: cls for cls in (LSTMRegressor, LSTMClassifier, LSTMForecaster)}


def _to_json(value):
    """Plain-JSON form of a parameter or attribute value (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):  # keys may be labels of any JSON type: keep them typed
        return {"__items__": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"cannot save a value of type {type(value).__name__}: {value!r}")


def _from_json(value):
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__float__"} and value["__float__"] in ("inf", "-inf", "nan"):
            return float(value["__float__"])
        if set(value) == {"__items__"}:
            return {_from_json(k): _from_json(v) for k, v in value["__items__"]}
        raise ValueError(f"unexpected JSON object {value!r}")
    return value


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _json_params(estimator):
    params = estimator.get_params()
    random_state = params.get("random_state")
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        params["random_state"] = int(random_state)
    elif random_state is not None:
        params["random_state"] = None  # a RandomState object is not data; drop it
    return {name: _to_json(value) for name, value in params.items()}


def _plain_array(name, value):
    value = np.asarray(value)
    if value.dtype == object:
        try:
            value = np.array(value.tolist())
        except (TypeError, ValueError):
            pass
        if value.dtype == object:
            raise ValueError(
                f"cannot save {name} of mixed or non-primitive types: {value.tolist()}"
            )
    return value


def _describe(estimator):
    """``(section, arrays)`` of a fitted LSTMRegressor / LSTMClassifier."""
    arrays = {f"param/{k}": v for k, v in estimator.model_.state_dict().items()}
    for name in _ARRAY_ATTRIBUTES:
        if hasattr(estimator, name):
            arrays[f"attr/{name}"] = _plain_array(name, getattr(estimator, name))
    section = {
        "estimator": type(estimator).__name__,
        "params": _json_params(estimator),
        "attributes": {
            name: _to_json(getattr(estimator, name))
            for name in _JSON_ATTRIBUTES
            if hasattr(estimator, name)
        },
    }
    return section, arrays


def _describe_forecaster(forecaster):
    section = {
        "estimator": "LSTMForecaster",
        "params": _json_params(forecaster),
        "attributes": {
            name: _to_json(getattr(forecaster, name)) for name in _FORECASTER_JSON_ATTRIBUTES
        },
    }
    arrays = {}
    for name in ("conformal_scores_", "_series_stats"):
        if getattr(forecaster, name) is not None:
            arrays[f"fattr/{name}"] = getattr(forecaster, name)
    inner, inner_arrays = _describe(forecaster.regressor_)
    section["inner"] = inner
    arrays.update({f"inner/{k}": v for k, v in inner_arrays.items()})
    return section, arrays


def save_estimator(estimator, path):
    """Write a fitted estimator to ``path`` (see the module docstring for the format)."""
    from . import __version__

    fitted = "regressor_" if type(estimator).__name__ == "LSTMForecaster" else "model_"
    if not hasattr(estimator, fitted):
        raise ValueError(f"{type(estimator).__name__} is not fitted yet: nothing to save")
    if fitted == "regressor_":
        section, arrays = _describe_forecaster(estimator)
    else:
        section, arrays = _describe(estimator)
    members = {name: _npy_bytes(value) for name, value in arrays.items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tslstm_version": __version__,
        **section,
        "arrays": {
            name: {"sha256": hashlib.sha256(data).hexdigest()} for name, data in members.items()
        },
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.json", json.dumps(meta, indent=1))
            for name, data in members.items():
                archive.writestr(name + ".npy", data)
        tmp.replace(path)  # atomic: a failure leaves any previous file intact
    finally:
        tmp.unlink(missing_ok=True)


def _read_archive(path):
    try:
        with zipfile.ZipFile(path) as archive:
            contents = {info.filename: archive.read(info) for info in archive.infolist()}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ValueError(
            f"{path} is not a tsLSTM model file, or it is truncated or corrupt: {exc}"
        ) from exc
    if "meta.json" not in contents:
        raise ValueError(f"{path} is not a tsLSTM model file (no meta.json)")
    try:
        meta = json.loads(contents.pop("meta.json"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: meta.json is not valid JSON: {exc}") from exc
    return meta, contents


def load(path):
    """Load an estimator saved with ``save``; nothing in the file is executed.

    Raises
    ------
    ValueError
        If the file is not a tsLSTM model, is truncated or tampered with, or was
        written by an incompatible format version.
    """
    meta, contents = _read_archive(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tsLSTM model file (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format version {version!r}; this tsLSTM reads version "
            f"{FORMAT_VERSION} (it was written by tsLSTM {meta.get('tslstm_version')})"
        )
    for key in ("params", "attributes", "arrays"):
        if not isinstance(meta.get(key), dict):
            raise ValueError(f"{path}: meta.json has no valid {key!r} section")
    classes = _estimator_classes()
    if meta.get("estimator") not in classes:
        raise ValueError(f"{path}: unknown estimator {meta.get('estimator')!r}")
    recorded = meta["arrays"]
    stored = {name[: -len(".npy")]: data for name, data in contents.items()}
    if set(stored) != set(recorded) or len(stored) != len(contents):
        raise ValueError(
            f"{path}: the archive's members {sorted(contents)} do not match those recorded "
            f"in meta.json {sorted(recorded)}; the file was altered"
        )
    arrays = {}
    for name, data in stored.items():
        entry = recorded[name]
        if not isinstance(entry, dict) or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise ValueError(f"{path}: member {name} fails its SHA-256 check; the file was altered")
        try:
            arrays[name] = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path}: member {name} is not a plain numpy array: {exc}") from exc

    if meta["estimator"] == "LSTMForecaster":
        return _restore_forecaster(meta, arrays, path)
    return _restore(meta, arrays, path)


def _restore(section, arrays, path):
    """An LSTMRegressor / LSTMClassifier from its meta section and arrays."""
    classes = _estimator_classes()
    if section.get("estimator") not in classes or section["estimator"] == "LSTMForecaster":
        raise ValueError(f"{path}: unknown estimator {section.get('estimator')!r}")
    for key in ("params", "attributes"):
        if not isinstance(section.get(key), dict):
            raise ValueError(f"{path}: meta.json has no valid {key!r} section")
    estimator = _with_params(classes[section["estimator"]], section, path)
    for name, value in section["attributes"].items():
        if name not in _JSON_ATTRIBUTES:
            raise ValueError(f"{path}: unexpected attribute {name!r}")
        setattr(estimator, name, _from_json(value))
    for name, value in arrays.items():
        kind, _, key = name.partition("/")
        if kind == "attr":
            if key not in _ARRAY_ATTRIBUTES:
                raise ValueError(f"{path}: unexpected attribute {key!r}")
            setattr(estimator, key, value)
        elif kind != "param":
            raise ValueError(f"{path}: unexpected member {name!r}")
    _check_fitted_attributes(estimator, path)
    try:
        estimator._rng = estimator._new_rng()
        estimator._best_params = None
        estimator._build_network(estimator._rng)
        estimator.model_.load_state_dict(
            {k.partition("/")[2]: v for k, v in arrays.items() if k.startswith("param/")}
        )
    except (AttributeError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: the stored network does not fit the estimator: {exc}") from exc
    estimator._optimizer = None
    return estimator


def _with_params(cls, section, path):
    estimator = cls()
    try:
        estimator.set_params(**{k: _from_json(v) for k, v in section["params"].items()})
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: invalid estimator parameters: {exc}") from exc
    return estimator


def _restore_forecaster(meta, arrays, path):
    from .forecasting import LSTMForecaster

    inner = meta.get("inner")
    if not isinstance(inner, dict) or inner.get("estimator") != "LSTMRegressor":
        raise ValueError(f"{path}: a forecaster file needs its inner LSTMRegressor section")
    forecaster = _with_params(LSTMForecaster, meta, path)
    attributes = meta["attributes"]
    if set(attributes) != set(_FORECASTER_JSON_ATTRIBUTES):
        raise ValueError(f"{path}: forecaster attributes {sorted(attributes)} are incomplete")
    for name, value in attributes.items():
        setattr(forecaster, name, _from_json(value))
    if not (_is_int(forecaster.n_covariates_, 0) and isinstance(forecaster.series_ids_, list)
            and len(forecaster.covariate_names_) == forecaster.n_covariates_):  # fmt: skip
        raise ValueError(f"{path}: inconsistent forecaster attributes")
    forecaster.conformal_scores_ = arrays.pop("fattr/conformal_scores_", None)
    forecaster._series_stats = arrays.pop("fattr/_series_stats", None)
    if forecaster.conformal_scores_ is not None and (
        forecaster.conformal_scores_.ndim != 2 or forecaster.conformal_scores_.dtype.kind != "f"
    ):
        raise ValueError(f"{path}: conformal_scores_ must be a 2-D float array")
    if (forecaster.scaling == "series") != (forecaster._series_stats is not None) or (
        forecaster._series_stats is not None
        and forecaster._series_stats.shape != (len(forecaster.series_ids_), 2)
    ):
        raise ValueError(f"{path}: series statistics do not match scaling={forecaster.scaling!r}")
    inner_arrays = {}
    for name, value in arrays.items():
        if not name.startswith("inner/"):
            raise ValueError(f"{path}: unexpected member {name!r}")
        inner_arrays[name[len("inner/") :]] = value
    forecaster.regressor_ = _restore(inner, inner_arrays, path)
    forecaster.history_ = None  # pass y= to predict from a loaded model
    return forecaster


def _is_int(value, minimum):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_fitted_attributes(estimator, path):
    """Refuse fitted attributes of the wrong type, shape or range."""
    problems = []

    def need(name, ok, what):
        if not hasattr(estimator, name):
            problems.append(f"missing attribute {name}")
        elif not ok(getattr(estimator, name)):
            problems.append(f"{name} must be {what}")

    for name in ("n_features_in_", "n_timesteps_", "n_step_features_"):
        need(name, lambda v: _is_int(v, 1), "a positive integer")
    for name in ("n_iter_", "t_"):
        need(name, lambda v: _is_int(v, 0), "a non-negative integer")
    need("loss_curve_", lambda v: isinstance(v, list) and all(map(_is_number, v)),
         "a list of numbers")  # fmt: skip
    need("best_loss_", _is_number, "a number")
    need("validation_scores_", lambda v: v is None or (
        isinstance(v, list) and all(map(_is_number, v))), "None or a list of numbers")  # fmt: skip
    need("best_validation_score_", lambda v: v is None or _is_number(v), "None or a number")
    need("_variable_length", lambda v: isinstance(v, bool), "a boolean")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    F = estimator.n_step_features_

    def vector(name, size, positive=False):
        need(name, lambda v: isinstance(v, np.ndarray) and v.shape == (size,)
             and v.dtype.kind == "f" and np.all(np.isfinite(v)) and (not positive or np.all(v > 0)),
             f"a finite float array of shape ({size},)" + (" > 0" if positive else ""))  # fmt: skip

    vector("x_mean_", F)
    vector("x_scale_", F, positive=True)
    if type(estimator).__name__ == "LSTMRegressor":
        need("n_outputs_", lambda v: _is_int(v, 1), "a positive integer")
        need("_y_1d", lambda v: isinstance(v, bool), "a boolean")
        if not problems:
            vector("y_mean_", estimator.n_outputs_)
            vector("y_scale_", estimator.n_outputs_, positive=True)
    else:
        need("classes_", lambda v: isinstance(v, np.ndarray) and v.ndim == 1 and len(v) >= 2
             and np.array_equal(np.unique(v), v),
             "a sorted array of at least 2 distinct labels")  # fmt: skip
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
