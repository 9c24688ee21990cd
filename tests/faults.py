"""A reusable fault harness: crafted model files, write targets, signals, peak memory.

Each ``crafted_*`` function turns a valid saved model into a hostile or broken one;
``flip_each_byte`` sweeps single-byte corruptions; ``peak_rss_of_load`` loads a file in
a fresh process and reports how much memory the attempt took; ``interrupt_write``
signals a process in the middle of writing a file.
"""

import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def members(path):
    """``{name: bytes}`` of a zip archive, in order."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_members(path, items, compression=zipfile.ZIP_DEFLATED):
    """Write ``items`` (a dict or a list of (name, bytes) pairs) as a zip archive."""
    pairs = items.items() if isinstance(items, dict) else items
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in pairs:
            archive.writestr(name, data)


def resigned(items):
    """``items`` with ``meta.sha256`` recomputed for its ``meta.json``."""
    items = dict(items)
    items["meta.sha256"] = hashlib.sha256(items["meta.json"]).hexdigest().encode()
    return items


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def replace_array(items, name, data, shape=None, dtype=None):
    """Put ``data`` (``.npy`` bytes) in member ``name`` with a consistent meta.json."""
    meta = json.loads(items["meta.json"])
    entry = meta["arrays"][name]
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    if shape is not None:
        entry["shape"], entry["dtype"] = list(shape), np.dtype(dtype).str
    items = dict(items)
    items[name + ".npy"] = data
    items["meta.json"] = json.dumps(meta).encode()
    return resigned(items)


def crafted_meta(src, dst, params=None, attributes=None):
    """A consistently signed file whose ``meta.json`` claims other ``params`` or fitted
    ``attributes`` (e.g. ``hidden_size=8000``) over the original, small weights."""
    items = members(src)
    meta = json.loads(items["meta.json"])
    meta["params"].update(params or {})
    meta["attributes"].update(attributes or {})
    items["meta.json"] = json.dumps(meta).encode()
    write_members(dst, resigned(items))


def crafted_bomb(src, dst, megabytes=64):
    """An array member that inflates to ``megabytes`` of zeros (consistently signed)."""
    items = members(src)
    data = npy(np.zeros(megabytes << 17))  # float64: 8 bytes each
    write_members(dst, replace_array(items, "attr/x_mean_", data, (megabytes << 17,), "<f8"))


def crafted_large_array(src, dst, megabytes=48):
    """A consistently signed, incompressible ``x_mean_`` of ``megabytes``: it is read
    (the archive cannot know the estimator's shapes), then refused by the estimator."""
    items = members(src)
    values = np.random.default_rng(0).standard_normal(megabytes << 17)
    write_members(dst, replace_array(items, "attr/x_mean_", npy(values), values.shape, "<f8"))


def crafted_huge_header(src, dst):
    """An ``.npy`` header claiming 10^12 elements over a few bytes of data."""
    items = members(src)
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    data = buffer.getvalue() + b"\0" * 24  # the header (with numpy's magic), 3 values
    write_members(dst, replace_array(items, "attr/x_mean_", data, (10**12,), "<f8"))


def crafted_duplicate(src, dst, name="param/head.bias.npy"):
    """A second member of the same name holding other values (with its own hash)."""
    items = members(src)
    original = np.load(io.BytesIO(items[name]))
    other = npy(np.full_like(original, 1e6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        write_members(dst, [*items.items(), (name, other)])


def crafted_deep_json(src, dst, depth=200_000):
    """``meta.json`` nested ``depth`` lists deep."""
    items = members(src)
    items["meta.json"] = b"[" * depth + b"]" * depth
    write_members(dst, resigned(items), compression=zipfile.ZIP_STORED)  # under the ratio cap


def crafted_large_meta(src, dst, megabytes=20):
    """A ``meta.json`` of ``megabytes`` (a long list in an attribute)."""
    items = members(src)
    meta = json.loads(items["meta.json"])
    meta["attributes"]["loss_curve_"] = [0.0] * (megabytes << 18)
    items["meta.json"] = json.dumps(meta).encode()
    write_members(dst, resigned(items), compression=zipfile.ZIP_STORED)


def crafted_many_members(src, dst, count=5000):
    items = members(src)
    extra = [(f"attr/pad{i}.npy", npy(np.zeros(1))) for i in range(count)]
    write_members(dst, [*items.items(), *extra], compression=zipfile.ZIP_STORED)


def _patch_directory(path, name, offset_central, offset_local, fmt, value):
    """Overwrite a field of ``name``'s central and local zip headers in place."""
    data = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    struct.pack_into(fmt, data, info.header_offset + offset_local, value)
    encoded = name.encode()
    central = data.find(b"PK\x01\x02")
    while central != -1:
        length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + length] == encoded:
            struct.pack_into(fmt, data, central + offset_central, value)
            break
        central = data.find(b"PK\x01\x02", central + 4)
    open(path, "wb").write(bytes(data))


def crafted_compression(src, dst, method=99, name="meta.json"):
    """``name`` marked with compression ``method`` (numbers zipfile cannot read, too)."""
    write_members(dst, members(src))
    _patch_directory(dst, name, 10, 8, "<H", method)


def crafted_encrypted(src, dst, name="meta.json"):
    """``name`` flagged as encrypted."""
    write_members(dst, members(src))
    with zipfile.ZipFile(dst) as archive:
        flags = archive.getinfo(name).flag_bits
    _patch_directory(dst, name, 8, 6, "<H", flags | 0x1)


def flip_each_byte(data, stride=1):
    """Yield ``(position, corrupted bytes)`` with one byte inverted at a time."""
    for position in range(0, len(data), stride):
        corrupted = bytearray(data)
        corrupted[position] ^= 0xFF
        yield position, bytes(corrupted)


LOAD_ADDRESS_SPACE = 8 << 30  # bytes of address space a measured load may map


def peak_rss_of_load(path):
    """``(outcome, megabytes)``: the load's result type and the peak RSS it added.

    The load runs in a fresh process after tsLSTM's estimators are imported, with the
    RSS high-water mark reset just before it (Linux ``/proc/self/clear_refs``), so the
    figure is what the attempt itself allocated.
    """
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # the installed tsLSTM
        # a load that reads without bound (an old version on /dev/zero) stops here
        resource.setrlimit(resource.RLIMIT_AS, ({LOAD_ADDRESS_SPACE}, {LOAD_ADDRESS_SPACE}))
        import tsLSTM
        from tsLSTM import LSTMForecaster, LSTMRegressor  # noqa: F401  (imports done)
        import tsLSTM.persistence
        def status(key):  # kB, from /proc/self/status
            for line in open("/proc/self/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        base = status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the high-water mark VmHWM to the current RSS
        try:
            tsLSTM.load({str(path)!r})
            outcome = "loaded"
        except ValueError as exc:
            outcome = "ValueError: " + str(exc)[:200]
        except BaseException as exc:
            outcome = type(exc).__name__ + ": " + str(exc)[:200]
        print(outcome.replace("\\n", " "))
        print((status("VmHWM") - base) / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)  # fmt: skip
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or len(lines) < 2:
        return f"crashed ({out.returncode}): {out.stderr[-300:]}", float("nan")
    return lines[-2], float(lines[-1])


_WRITER = """
import sys, time
from tsLSTM._files import write_file
def slow(stream):
    stream.write(b"partial ")
    stream.flush()
    print("writing", flush=True)
    time.sleep(30)
    stream.write(b"never")
write_file(sys.argv[1], slow)
"""


def interrupt_write(path, signum):
    """Signal a process in the middle of ``write_file(path)``; its return code."""
    process = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    assert process.stdout.readline().strip() == "writing"
    time.sleep(0.05)
    process.send_signal(signum)
    try:
        process.wait(timeout=20)
    finally:
        process.kill()
    return process.returncode


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


# -- the tslstm command ---------------------------------------------------------------------


def run_cli(*args, cwd=None, **environ):
    """Run ``python -m tsLSTM ARGS`` as a user would; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", **environ)
    return subprocess.run([sys.executable, "-m", "tsLSTM", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env,
                          timeout=300)  # fmt: skip


_CLI_WRITER = """
import sys, time
import pandas as pd
from tsLSTM import cli
original = pd.DataFrame.to_csv
def slow_to_csv(self, path_or_buf=None, *args, **kwargs):
    if path_or_buf is None or path_or_buf is sys.stdout:
        return original(self, path_or_buf, *args, **kwargs)
    original(self, path_or_buf, *args, **kwargs)  # the whole table, then a pause
    path_or_buf.flush()
    print("writing", flush=True)
    time.sleep(30)
pd.DataFrame.to_csv = slow_to_csv
sys.exit(cli.main(sys.argv[1:]))
"""


def interrupt_cli_write(argv, signum):
    """Run ``tslstm ARGV`` with a CSV output that pauses once its table is written,
    signal it there; returns ``(returncode, stderr)``."""
    process = subprocess.Popen([sys.executable, "-c", _CLI_WRITER, *map(str, argv)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS="ignore"))  # fmt: skip
    line = process.stdout.readline().strip()
    if line != "writing":
        process.kill()
        raise AssertionError(f"the command did not reach its write: {process.stderr.read()}")
    time.sleep(0.05)
    process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    return process.returncode, stderr


# -- estimators: failures during fits, and their full state ----------------------------------


def estimator_state(estimator):
    """Everything a fit may change, copied: ``{attribute: comparable value}``.

    Arrays and lists are copied, the network gives its weights and gradients (and its
    identity), the optimizer its state arrays and step count, a RandomState its state.
    Compare two with :func:`assert_same_state`.
    """
    state = {}
    for name, value in vars(estimator).items():
        if isinstance(value, np.ndarray):
            value = ("array", value.copy())
        elif isinstance(value, list):
            value = ("list", id(value), list(value))
        elif hasattr(value, "flat_params"):  # the network
            value = ("model", id(value), value.flat_params.copy(), value.flat_grads.copy(),
                     value.rnn.dropout)  # fmt: skip
        elif hasattr(value, "state_names"):  # the optimizer
            value = ("optimizer", id(value), value.n_steps,
                     [getattr(value, n).copy() for n in value.state_names])  # fmt: skip
        elif isinstance(value, np.random.RandomState):
            value = ("rng", id(value), value.get_state())
        state[name] = value
    return state


def assert_same_state(before, after):
    """Two :func:`estimator_state` s are equal, arrays bit for bit."""
    assert before.keys() == after.keys(), sorted(set(before) ^ set(after))
    for name in before:
        a, b = before[name], after[name]
        try:
            np.testing.assert_equal(a, b)
        except AssertionError as exc:
            raise AssertionError(f"attribute {name} changed") from exc


class InjectedFailure(RuntimeError):
    """Raised by :func:`fail_in_step` inside a training step."""


def fail_in_step(monkeypatch, step_number):
    """Make the ``step_number``-th (1-based) minibatch update of the host trainer raise
    :class:`InjectedFailure`, after the earlier updates ran and changed the weights."""
    from tsLSTM.training import HostTrainer

    original = HostTrainer.step
    calls = {"n": 0}

    def step(self, start, stop):
        calls["n"] += 1
        if calls["n"] == step_number:
            raise InjectedFailure(f"injected failure in step {step_number}")
        return original(self, start, stop)

    monkeypatch.setattr(HostTrainer, "step", step)
    return calls
