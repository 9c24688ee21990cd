"""Start-up costs and the numba cache, each measured in fresh processes.

- ``import tsLSTM`` is fast and compiles nothing (nor does importing every kernel).
- From a read-only install numba caches the kernels in the per-user cache directory
  (``$XDG_CACHE_HOME/numba``) without a warning, and a second process loads them all
  from there (no compilation, no new cache files).
- With a warm cache the first fit of a small model in a fresh process takes < 2 s.
- With neither the install nor the per-user directory writable the kernels still
  import and run (uncached), with one warning.

The read-only install is a copy of the package made read-only with ``chmod``. Root
ignores file modes, so as root the subprocesses drop the capabilities that let it
(``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``, ``CAP_FOWNER``); where that is not
possible the read-only tests skip (and fail under CI).
"""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tsLSTM

PACKAGE = Path(tsLSTM.__file__).parent

# Counts kernel compilations and cache loads of every numba dispatcher in tsLSTM.
_REPORT = textwrap.dedent(
    """
    def _numba_report():
        import sys
        from numba.core.dispatcher import Dispatcher
        compiled, hits, misses = [], 0, 0
        for name, module in list(sys.modules.items()):
            if not name.startswith("tsLSTM"):
                continue
            for attr, value in vars(module).items():
                if isinstance(value, Dispatcher) and value.signatures:
                    compiled.append(f"{name}.{attr}")
                    hits += sum(value.stats.cache_hits.values())
                    misses += sum(value.stats.cache_misses.values())
        return {"compiled": sorted(set(compiled)), "cache_hits": hits, "cache_misses": misses}
    """
)

_FIT = _REPORT + textwrap.dedent(
    """
    import json, time
    import numpy as np
    import tsLSTM
    from tsLSTM import LSTMRegressor

    X = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    y = X.sum(axis=1)
    model = LSTMRegressor(hidden_size=4, batch_size=8, max_epochs=1, random_state=0)
    start = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - start
    print(json.dumps({"fit_s": fit_s, "file": tsLSTM.__file__, **_numba_report()}))
    """
)


def _drop_root_file_capabilities():
    """In the child, before exec: make root obey file modes (Linux capabilities)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP; exec then drops it
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _set_writable(path, writable):
    for root, _, files in os.walk(path):
        for name in [root, *(os.path.join(root, f) for f in files)]:
            mode = os.stat(name).st_mode
            os.chmod(name, mode | 0o200 if writable else mode & ~0o222)


def _cache_files(path):
    """``{relative path: (size, mtime)}`` of the numba cache files under ``path``."""
    return {
        str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in Path(path).rglob("*")
        if p.suffix in (".nbi", ".nbc")
    }


class _Install:
    """A read-only copy of the package, and a fresh home directory to run it with."""

    def __init__(self, root):
        self.site = root / "site"
        self.package = self.site / "tsLSTM"
        self.home = root / "home"
        ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc")
        shutil.copytree(PACKAGE, self.package, ignore=ignore)
        self.home.mkdir()
        _set_writable(self.site, False)
        self.drop_caps = os.name == "posix" and os.geteuid() == 0 and sys.platform == "linux"
        probe = "open(__import__('tsLSTM').__file__ + '.probe', 'w')"
        try:
            proc = self.run(probe)
        except subprocess.SubprocessError:  # capabilities cannot be dropped here
            self.drop_caps = False
            proc = self.run(probe)
        self.readonly = proc.returncode != 0  # the subprocess cannot write into the copy

    def run(self, code, home=None):
        home = Path(home or self.home)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
        env.update(PYTHONPATH=str(self.site), HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900,
            preexec_fn=_drop_root_file_capabilities if self.drop_caps else None, cwd=self.home,
        )  # fmt: skip

    def cleanup(self):
        _set_writable(self.site, True)


@pytest.fixture(scope="module")
def install(tmp_path_factory):
    inst = _Install(tmp_path_factory.mktemp("readonly_install"))
    yield inst
    inst.cleanup()


def _fit(install):
    proc = install.run(_FIT)
    assert proc.returncode == 0, proc.stderr
    assert "cach" not in proc.stderr.lower(), proc.stderr  # no caching warnings
    assert "NumbaWarning" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(result["file"]).parent == install.package  # ran the copy, not the checkout
    return result


@pytest.fixture(scope="module")
def cold_fit(install):
    """The first-ever fit from the copy: compiles every kernel and caches it."""
    return _fit(install)


def test_import_compiles_nothing():
    code = _REPORT + textwrap.dedent(
        """
        import json, sys, time
        start = time.perf_counter()
        import tsLSTM
        import_s = time.perf_counter() - start
        kernels_at_import = [m for m in sys.modules if m.startswith("tsLSTM.kernels")]
        import importlib, pkgutil
        import tsLSTM.kernels
        for name in tsLSTM.__all__:  # the whole public API, and every CPU kernel module
            getattr(tsLSTM, name)
        for mod in pkgutil.iter_modules(tsLSTM.kernels.__path__, "tsLSTM.kernels."):
            if not mod.ispkg:
                importlib.import_module(mod.name)
        print(json.dumps({"import_s": import_s, "kernels_at_import": kernels_at_import,
                          **_numba_report()}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["import_s"] < 1.0, result
    assert result["kernels_at_import"] == []
    assert result["compiled"] == [], "importing tsLSTM compiled kernels"


def _cannot_make_readonly():
    """Skip on a developer machine; in CI the read-only checks must run."""
    message = "cannot make the copied package read-only for a subprocess here"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def test_readonly_install_caches_per_user(install, cold_fit):
    if not install.readonly:
        _cannot_make_readonly()
    assert cold_fit["cache_misses"] > 0 and cold_fit["compiled"]
    after_cold = _cache_files(install.home)  # ~/.cache/numba (~/Library/Caches on macOS)
    assert any(name.endswith(".nbi") for name in after_cold), "nothing cached per user"
    assert _cache_files(install.site) == {}, "numba wrote into the read-only install"

    warm = _fit(install)  # a second process: everything comes from the cache
    # callees compiled with their callers in the cold run are not even loaded now
    assert warm["compiled"] and set(warm["compiled"]) <= set(cold_fit["compiled"])
    assert warm["cache_misses"] == 0, warm
    assert warm["cache_hits"] >= len(warm["compiled"])
    assert _cache_files(install.home) == after_cold  # nothing new written


def test_warm_first_fit_is_fast(install, cold_fit):
    warm = _fit(install)  # fresh process, warm cache; times the fit() call only
    assert warm["cache_misses"] == 0, warm
    assert warm["fit_s"] < 2.0, f"first fit with a warm cache took {warm['fit_s']:.2f} s"
    assert warm["fit_s"] < cold_fit["fit_s"], (warm, cold_fit)


def test_no_writable_cache_directory_falls_back_to_uncached(install, tmp_path):
    if not install.readonly:
        _cannot_make_readonly()
    home = tmp_path / "readonly_home"
    home.mkdir()
    home.chmod(0o555)
    try:
        code = textwrap.dedent(
            """
            import numpy as np
            from tsLSTM.kernels import _jit, lstm
            from tsLSTM.kernels._common import add_column_sums
            db = np.zeros(2)
            add_column_sums(np.ones((3, 2)), db)  # compiles (uncached) and runs
            print(_jit.JIT_OPTIONS["cache"], lstm.lstm_forward._cache.__class__.__name__, db)
            """
        )
        proc = install.run(code, home=home)
    finally:
        home.chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:2] == ["False", "NullCache"]
    assert "[3. 3.]" in proc.stdout
    assert proc.stderr.count("NUMBA_CACHE_DIR") == 1, proc.stderr  # one warning
