"""The saved-model file format: a ZIP archive of ``.npy`` arrays and one JSON document.

This module knows the format only, not the estimators: it writes and reads a
:class:`Record` (a class name, its parameters, its fitted attributes and arrays, and
optionally the record of an inner estimator). :mod:`tsLSTM.persistence` maps class
names to the classes that may be loaded, and each estimator turns itself into a record
and back.

``meta.json``
    ``format`` ("tsLSTM-model"), ``format_version``, ``tslstm_version``, ``estimator``
    (the class name), ``params``, ``attributes`` (JSON values), optionally ``inner``
    (the same three keys for an inner estimator), and ``arrays``: the SHA-256 of every
    array member.

array members
    ``<name>.npy`` in numpy's format, read with ``allow_pickle=False``; an inner
    record's arrays are stored as ``inner/<name>.npy``.

Reading refuses, with a ``ValueError`` naming the problem, a file that is not such an
archive or is truncated, an unknown format version, members that are missing,
unexpected, or whose bytes do not match their recorded SHA-256, and arrays that are not
plain numpy arrays. The SHA-256 values live in the same file: they catch corruption and
edits of one member, not a deliberate forgery of the whole file, which can still only
yield plain numbers and strings (nothing in it is executed).
"""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "tsLSTM-model"
FORMAT_VERSION = 1
_INNER = "inner/"


@dataclass
class Record:
    """What a file holds about one estimator.

    Attributes
    ----------
    estimator : str
        The class name.
    params : dict
        ``get_params()``, as plain JSON values.
    attributes : dict
        Fitted attributes with JSON values (numbers, strings, lists, dicts, None).
    arrays : dict of str to ndarray
        Array-valued state by member name (e.g. ``'param/head.bias'``).
    inner : Record or None
        An inner estimator's record (the forecaster's regressor).
    """

    estimator: str
    params: dict
    attributes: dict
    arrays: dict = field(default_factory=dict)
    inner: "Record | None" = None


# -- JSON values ---------------------------------------------------------------------


def to_json(value):
    """Plain-JSON form of a parameter or attribute value (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):  # keys may be labels of any JSON type: keep them typed
        return {"__items__": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"cannot save a value of type {type(value).__name__}: {value!r}")


def from_json(value):
    """Inverse of :func:`to_json`."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__float__"} and value["__float__"] in ("inf", "-inf", "nan"):
            return float(value["__float__"])
        if set(value) == {"__items__"}:
            return {from_json(k): from_json(v) for k, v in value["__items__"]}
        raise ValueError(f"unexpected JSON object {value!r}")
    return value


def plain_array(name, value):
    """``value`` as an array of numbers or strings; ValueError for mixed objects."""
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


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# -- writing ---------------------------------------------------------------------------


def _section(record):
    return {
        "estimator": record.estimator,
        "params": {name: to_json(value) for name, value in record.params.items()},
        "attributes": {name: to_json(value) for name, value in record.attributes.items()},
    }


def write(record, path):
    """Write ``record`` to ``path``; a failure leaves any previous file intact."""
    from . import __version__

    arrays = dict(record.arrays)
    section = _section(record)
    if record.inner is not None:
        section["inner"] = _section(record.inner)
        arrays.update({_INNER + name: value for name, value in record.inner.arrays.items()})
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


# -- reading ---------------------------------------------------------------------------


def _read_members(path):
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


def _checked_arrays(meta, contents, path):
    """The array members, each verified against its recorded SHA-256."""
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
    return arrays


def _record(section, arrays, path):
    for key in ("params", "attributes"):
        if not isinstance(section.get(key), dict):
            raise ValueError(f"{path}: meta.json has no valid {key!r} section")
    if not isinstance(section.get("estimator"), str):
        raise ValueError(f"{path}: unknown estimator {section.get('estimator')!r}")
    try:
        params = {name: from_json(value) for name, value in section["params"].items()}
        attributes = {name: from_json(value) for name, value in section["attributes"].items()}
    except ValueError as exc:
        raise ValueError(f"{path}: meta.json holds an unexpected value: {exc}") from exc
    return Record(section["estimator"], params, attributes, arrays)


def read(path):
    """The :class:`Record` stored in ``path``.

    Raises
    ------
    ValueError
        If the file is not a tsLSTM model, is truncated or tampered with, or was
        written by an incompatible format version.
    """
    meta, contents = _read_members(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path} is not a tsLSTM model file (format {found!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format version {version!r}; this tsLSTM reads version "
            f"{FORMAT_VERSION} (it was written by tsLSTM {meta.get('tslstm_version')})"
        )
    if not isinstance(meta.get("arrays"), dict):
        raise ValueError(f"{path}: meta.json has no valid 'arrays' section")
    arrays = _checked_arrays(meta, contents, path)
    outer = {name: a for name, a in arrays.items() if not name.startswith(_INNER)}
    record = _record(meta, outer, path)
    if "inner" in meta:
        if not isinstance(meta["inner"], dict):
            raise ValueError(f"{path}: meta.json has no valid 'inner' section")
        inner = {n[len(_INNER) :]: a for n, a in arrays.items() if n.startswith(_INNER)}
        record.inner = _record(meta["inner"], inner, path)
    elif len(outer) != len(arrays):
        raise ValueError(f"{path}: unexpected members {sorted(set(arrays) - set(outer))}")
    return record
