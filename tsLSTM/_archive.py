"""The saved-model file format: a ZIP archive of ``.npy`` arrays and one JSON document.

This module knows the format only, not the estimators: it writes and reads a
:class:`Record` (a class name, its parameters, its fitted attributes and arrays, and
optionally the record of an inner estimator). :mod:`tsLSTM.persistence` maps class
names to the classes that may be loaded, and each estimator turns itself into a record
and back.

``meta.json``
    ``format`` ("tsLSTM-model"), ``format_version``, ``tslstm_version``, ``estimator``
    (the class name), ``params``, ``attributes`` (JSON values), optionally ``inner``
    (the same three keys for an inner estimator), and ``arrays``: the SHA-256, dtype
    and shape of every array member.

``meta.sha256``
    The SHA-256 of ``meta.json``'s bytes (format 2; format 1 files have none).

array members
    ``<name>.npy`` in numpy's format; an inner record's arrays are stored as
    ``inner/<name>.npy``.

Reading refuses, with a ``ValueError`` naming the problem, anything but a regular file
holding such an archive: a truncated or corrupt file, an unknown format version,
duplicate, missing, unexpected, encrypted or oddly compressed members, members larger
than their recorded shapes allow or compressed beyond ``MAX_RATIO``, a ``meta.json``
over ``MAX_META_BYTES`` or nested too deeply, members whose bytes do not match their
SHA-256, and arrays that are not plain numbers or strings. Sizes are checked from the
zip directory and the ``.npy`` headers before anything is decompressed or allocated,
and every member is read with a cap. The SHA-256 values live in the same file: they
catch corruption and edits, not a deliberate forgery of the whole file, which can
still only yield plain numbers and strings (nothing in it is executed).
"""

import hashlib
import io
import json
import os
import stat
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ._files import write_file

FORMAT = "tsLSTM-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
_INNER = "inner/"
_META, _META_HASH = "meta.json", "meta.sha256"

MAX_META_BYTES = 16 << 20  # meta.json: parameters, attributes, one entry per array
MAX_MEMBERS = 4096
MAX_RATIO = 50  # uncompressed / compressed size of a member above _RATIO_FLOOR bytes
_RATIO_FLOOR = 1 << 16
_NPY_HEADER_MAX = 1 << 16  # numpy writes headers of a few hundred bytes
_CHUNK = 1 << 20
_ARRAY_KINDS = "biufU"  # bool, integers, floats, unicode strings


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
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    members = {name: _npy_bytes(value) for name, value in arrays.items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tslstm_version": __version__,
        **section,
        "arrays": {
            name: {
                "sha256": hashlib.sha256(members[name]).hexdigest(),
                "dtype": array.dtype.str,
                "shape": list(array.shape),
            }
            for name, array in arrays.items()
        },
    }
    meta_bytes = json.dumps(meta, indent=1).encode()

    def write_zip(stream):
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_META, meta_bytes)
            archive.writestr(_META_HASH, hashlib.sha256(meta_bytes).hexdigest())
            for name, data in members.items():
                archive.writestr(name + ".npy", data)

    write_file(path, write_zip)


# -- reading ---------------------------------------------------------------------------


def _open_regular(path):
    """``path`` opened for reading; ValueError unless it is a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if stat.S_ISDIR(mode):
        raise ValueError(f"{path} is a directory, not a tsLSTM model file")
    if not stat.S_ISREG(mode):
        raise ValueError(f"{path} is not a regular file (a device, pipe or socket)")
    return open(path, "rb")


def _directory(archive, path):
    """The archive's members by name, after checks on the zip directory alone."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValueError(f"{path}: {len(infos)} members, more than a model has ({MAX_MEMBERS})")
    members = {}
    for info in infos:
        name = info.filename
        if name in members:
            raise ValueError(f"{path}: the member {name} appears twice; the file was altered")
        if info.flag_bits & 0x1:
            raise ValueError(f"{path}: the member {name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(
                f"{path}: the member {name} uses compression method {info.compress_type} "
                "(tsLSTM writes deflate)"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > MAX_RATIO:
            raise ValueError(
                f"{path}: the member {name} expands {ratio:.0f} times (a zip bomb?); model "
                f"members expand at most {MAX_RATIO} times"
            )
        members[name] = info
    if _META not in members:
        raise ValueError(f"{path} is not a tsLSTM model file (no meta.json)")
    if members[_META].file_size > MAX_META_BYTES:
        raise ValueError(
            f"{path}: meta.json holds {members[_META].file_size} bytes, more than {MAX_META_BYTES}"
        )
    return members


def _read_member(archive, info, path):
    """A member's bytes (a bytearray), reading no more than its directory entry declares."""
    data = bytearray(info.file_size)
    try:
        with archive.open(info) as stream:
            n = 0
            while n < info.file_size:  # in chunks: no second copy of a large member
                chunk = stream.read(min(_CHUNK, info.file_size - n))
                if not chunk:
                    break
                data[n : n + len(chunk)] = chunk
                n += len(chunk)
            extra = stream.read(1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError,
            NotImplementedError) as exc:  # fmt: skip
        raise ValueError(f"{path}: the member {info.filename} cannot be read: {exc}") from exc
    except Exception as exc:  # zlib.error and the like: a corrupt stream
        raise ValueError(f"{path}: the member {info.filename} is corrupt: {exc}") from exc
    if n != info.file_size or extra:
        raise ValueError(f"{path}: the member {info.filename} is truncated or corrupt")
    return data


def _parse_meta(data, path):
    try:
        meta = json.loads(bytes(data))
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path}: meta.json is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ValueError(f"{path}: meta.json is nested too deeply") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path} is not a tsLSTM model file (format {found!r})")
    return meta


def _npy_array(data, entry, name, path):
    """The array in ``.npy`` bytes, its header checked against the bytes and ``entry``."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise ValueError(f"{path}: member {name} is not a plain numpy array: {exc}") from exc
    if dtype.kind not in _ARRAY_KINDS or dtype.hasobject or dtype.fields is not None:
        raise ValueError(f"{path}: member {name} is not a plain numpy array (dtype {dtype})")
    offset = stream.tell()
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if offset > _NPY_HEADER_MAX or len(data) - offset != count * dtype.itemsize:
        raise ValueError(
            f"{path}: member {name}'s header says {dtype} of shape {shape}, which does not "
            f"match its {len(data) - offset} bytes of data"
        )
    if "shape" in entry and (entry.get("shape") != list(shape) or entry.get("dtype") != dtype.str):
        raise ValueError(
            f"{path}: member {name} holds {dtype.str} of shape {list(shape)}, but meta.json "
            f"records {entry.get('dtype')!r} of shape {entry.get('shape')!r}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)  # writable: a bytearray
    return array.reshape(shape, order="F" if fortran else "C")


def _checked_arrays(meta, archive, members, path):
    """The array members, each verified against its recorded SHA-256 before parsing."""
    recorded = meta["arrays"]
    stored = {name[: -len(".npy")]: info for name, info in members.items() if name.endswith(".npy")}
    extra = set(members) - {_META, _META_HASH} - {name + ".npy" for name in stored}
    if set(stored) != set(recorded) or extra:
        raise ValueError(
            f"{path}: the archive's members {sorted(members)} do not match those recorded "
            f"in meta.json {sorted(recorded)}; the file was altered"
        )
    for name, info in stored.items():  # sizes first: nothing read yet
        entry = recorded[name]
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: meta.json's entry for {name} is not an object")
        shape, dtype = entry.get("shape"), entry.get("dtype")
        if shape is not None or meta["format_version"] >= 2:
            try:
                dtype = np.dtype(dtype)
                count = int(np.prod(shape, dtype=np.int64))
                if not all(isinstance(n, int) and n >= 0 for n in shape):
                    raise TypeError(shape)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{path}: meta.json's entry for {name} has no valid dtype and shape"
                ) from exc
            if info.file_size > _NPY_HEADER_MAX + count * dtype.itemsize:
                raise ValueError(
                    f"{path}: member {name} holds {info.file_size} bytes, more than its "
                    f"recorded shape {shape} of {dtype} needs"
                )
    arrays = {}
    for name, info in stored.items():
        data = _read_member(archive, info, path)
        if hashlib.sha256(data).hexdigest() != recorded[name].get("sha256"):
            raise ValueError(f"{path}: member {name} fails its SHA-256 check; the file was altered")
        arrays[name] = _npy_array(data, recorded[name], name, path)
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
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For anything else that is not a tsLSTM model file written by a compatible
        format version (see the module docstring).
    """
    with _open_regular(path) as stream:
        try:
            archive = zipfile.ZipFile(stream)
        except Exception as exc:  # BadZipFile, NotImplementedError (zip version), ...
            raise ValueError(
                f"{path} is not a tsLSTM model file, or it is truncated or corrupt: {exc}"
            ) from exc
        with archive:
            members = _directory(archive, path)
            meta_bytes = _read_member(archive, members[_META], path)
            meta = _parse_meta(meta_bytes, path)
            version = meta.get("format_version")
            if version not in READABLE_VERSIONS:
                raise ValueError(
                    f"{path} has model format version {version!r}; this tsLSTM reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))} (it was written by tsLSTM "
                    f"{meta.get('tslstm_version')})"
                )
            if version >= 2:
                if _META_HASH not in members:
                    raise ValueError(f"{path}: meta.json's SHA-256 ({_META_HASH}) is missing")
                digest = _read_member(archive, members[_META_HASH], path)
                if bytes(digest) != hashlib.sha256(meta_bytes).hexdigest().encode():
                    raise ValueError(
                        f"{path}: meta.json fails its SHA-256 check; the file was altered"
                    )
            elif _META_HASH in members:
                raise ValueError(f"{path}: a format 1 file with a {_META_HASH} member")
            if not isinstance(meta.get("arrays"), dict):
                raise ValueError(f"{path}: meta.json has no valid 'arrays' section")
            arrays = _checked_arrays(meta, archive, members, path)
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
