"""Run the determinism tests on every BLAS kernel and numba cache state this machine has.

OpenBLAS picks its kernels for the processor at run time, so one machine tests only
one set of them; ``OPENBLAS_CORETYPE`` forces another. This script runs the tests
that check tsLSTM's reproducibility promises (``test_determinism.py``,
``test_threads.py``, scikit-learn's invariance checks and the Dask backend):

- under each OpenBLAS core type the processor can execute (detected from its flags:
  SkylakeX needs AVX-512, Haswell AVX2 and FMA, Sandybridge AVX);
- on a processor with AVX-512, the second core type (Haswell) with numba generating
  code for an AVX2-only processor: the libraries of an AVX2 machine, as far as this
  one can play one;
- the two newest core types first with an empty numba cache (``NUMBA_CACHE_DIR`` a
  new directory), then again with the cache that run filled; older core types only
  with the cache the newest one filled under the same numba target. What numba
  compiles does not depend on the OpenBLAS core type, so a third empty-cache run
  would compile the same code again (two minutes of CI).

Where ``OPENBLAS_CORETYPE`` is already set (some machines set it because older
OpenBLAS builds fail on their processor), it is left as it is and only that core
type runs. CI runs this script after the test suite (the README's test command).

Usage: ``python tests/determinism_matrix.py [pytest options]``; exit status 0 when
every run passed.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# OpenBLAS core types (DYNAMIC_ARCH names) and the processor flags each needs, newest
# first.
CORE_TYPES = [
    ("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
    ("Haswell", {"avx2", "fma"}),
    ("Sandybridge", {"avx"}),
]

# numba's code for an AVX2-only x86-64 processor (a Haswell without AVX-512).
AVX2_CODEGEN = {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "-avx512f"}

TESTS = [
    "tests/test_determinism.py",
    "tests/test_threads.py",
    "tests/test_sklearn_compliance.py",
    "tests/test_cli.py::test_dask_backend_equals_single_process",
]
# scikit-learn's checks that predictions ignore the other rows; the cross-core test
# sets OPENBLAS_CORETYPE itself and runs in the main test suite.
SELECTION = "invariance or not sklearn_compatible"
DESELECT_ALWAYS = "other_blas_kernels_and_vector_width"
DESELECT_WARM = "empty_and_warm_numba_cache"  # makes its own empty cache: once is enough


def cpu_flags():
    """The processor's flags from ``/proc/cpuinfo`` (an empty set where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def blas_core_types():
    """OpenBLAS core types this processor can run, newest first."""
    flags = cpu_flags()
    return [name for name, needs in CORE_TYPES if needs <= flags]


def blas_architectures(env):
    """The kernels each loaded OpenBLAS reports in a process started with ``env``."""
    code = (
        "import numpy, scipy.linalg.cython_blas\n"
        "from threadpoolctl import threadpool_info\n"
        "print(sorted({i['architecture'] for i in threadpool_info() if i['user_api'] == 'blas'}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr.strip()


def configurations():
    """The runs: ``(label, environment changes, numba target, cold)``.

    ``cold``: the run goes through the tests with an empty numba cache of its own, then
    with the cache it filled; otherwise only with the cache that the first cold run of
    the same numba target (``'native'`` or ``'avx2'``) filled.
    """
    flags = cpu_flags()
    avx512 = "avx512f" in flags and "avx2" in flags
    preset = os.environ.get("OPENBLAS_CORETYPE")
    if preset:
        runs = [(f"OpenBLAS {preset} (preset)", {}, "native", True)]
        if avx512:
            runs.append((f"OpenBLAS {preset} (preset), numba AVX2 code", dict(AVX2_CODEGEN),
                         "avx2", True))  # fmt: skip
        return runs
    cores = blas_core_types()
    if not cores:  # not x86-64, or no flags to read: the native kernels only
        return [("OpenBLAS native", {}, "native", True)]
    runs = []
    for i, core in enumerate(cores):
        label, changes, target = f"OpenBLAS {core}", {"OPENBLAS_CORETYPE": core}, "native"
        if i == 1 and avx512:
            label, target = f"{label}, numba AVX2 code", "avx2"
            changes.update(AVX2_CODEGEN)
        runs.append((label, changes, target, i < 2))
    return runs


def main(pytest_args):
    results = []
    with tempfile.TemporaryDirectory(prefix="tslstm-determinism-") as tmp:
        filled = {}  # numba target -> the cache directory its first cold run filled
        for i, (label, changes, target, cold) in enumerate(configurations()):
            cache_dir = Path(tmp) / f"cache{i}" if cold else filled[target]
            filled.setdefault(target, cache_dir)
            env = {**os.environ, **changes, "NUMBA_CACHE_DIR": str(cache_dir)}
            if "OPENBLAS_CORETYPE" in changes:
                seen = blas_architectures(env)
                if changes["OPENBLAS_CORETYPE"] not in seen:
                    print(f"{label}: OpenBLAS runs {seen}, not the forced core type", flush=True)
                    results.append((label, "forcing", 1, 0.0))
                    continue
            for cache in ("empty", "warm") if cold else ("shared",):
                deselect = DESELECT_ALWAYS + (f" or {DESELECT_WARM}" if cache != "empty" else "")
                command = [
                    sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS,
                    "-k", f"({SELECTION}) and not ({deselect})", *pytest_args,
                ]  # fmt: skip
                print(f"== {label}, {cache} numba cache", flush=True)
                start = time.perf_counter()
                rc = subprocess.run(command, env=env, cwd=ROOT).returncode
                results.append((label, cache, rc, time.perf_counter() - start))
    print("\ndeterminism matrix (a 'shared' cache: the one an earlier run filled):")
    for label, cache, rc, seconds in results:
        status = "passed" if rc == 0 else f"FAILED (exit {rc})"
        print(f"  {label:38s} {cache + ' cache':12s} {status:18s} {seconds:6.1f} s")
    return 0 if results and all(rc == 0 for *_, rc, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
