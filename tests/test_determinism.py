"""Same data, same seed, same answer: what the README's "Reproducibility" promises.

On one machine with one set of libraries:

- a prediction (estimators, forecasts, ``SequenceModel.predict``, a layer's ``infer``)
  is bit-identical whatever else is in the batch, in which order, whatever
  ``batch_size`` and ``n_jobs``;
- a fit is bit-identical from run to run and whatever ``n_jobs`` (``test_threads.py``);
- both are bit-identical whether numba compiled the kernels in this process (empty
  cache) or loaded them from its cache.

Under another OpenBLAS kernel (``OPENBLAS_CORETYPE``), and with numba's code for an
AVX2-only processor, predictions of a given model are still bit-identical (inference
calls no BLAS) and fits agree to a stated tolerance.

``tests/determinism_matrix.py`` (run by CI) runs these tests under every OpenBLAS core
type the processor can execute, with an empty and a warm numba cache (the older core
types with the cache the newest one filled).
"""

import json
import os
import subprocess
import sys
import textwrap
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor
from tsLSTM.nn import GRU, LSTM, Conv1dBlock, Linear, SequenceModel

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SUBSETS = [slice(0, 1), slice(3, 4), slice(5, 12), slice(30, 70), slice(1, 33)]


def _assert_rows_independent(predict, X, rng):
    """``predict`` of subsets, permutations and the whole batch agree bit for bit."""
    whole = predict(X)
    order = rng.permutation(len(X))
    np.testing.assert_array_equal(predict(X[order]), whole[order])
    for rows in SUBSETS:
        np.testing.assert_array_equal(predict(X[rows]), whole[rows])
    return whole


@pytest.mark.parametrize("cell", [LSTM, GRU])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True)])
def test_layer_inference_is_row_independent(cell, dtype, layers, bidirectional):
    rng = np.random.default_rng(0)
    rnn = cell(3, 20, num_layers=layers, bidirectional=bidirectional, dtype=dtype, random_state=0)
    X = rng.normal(size=(70, 9, 3)).astype(dtype)
    lengths = rng.integers(1, 10, size=70)
    for sequences in (False, True):
        _assert_rows_independent(partial(rnn.infer, return_sequences=sequences), X, rng)
    # variable lengths: rows keep their own lengths
    whole = rnn.infer(X, lengths=lengths)
    for rows in SUBSETS:
        np.testing.assert_array_equal(rnn.infer(X[rows], lengths=lengths[rows]), whole[rows])


@pytest.mark.parametrize("output", ["last", "sequence", "conv"])
def test_model_predict_is_row_independent_whatever_batch_size(output):
    rng = np.random.default_rng(1)
    frontend = []
    if output == "conv":
        frontend = [Conv1dBlock(2, 6, 3, padding=1, pool_size=2, random_state=0)]
    rnn = LSTM(6 if frontend else 2, 17, random_state=0)  # 4H = 68: a partial panel
    model = SequenceModel(
        rnn, Linear(17, 5, random_state=0), output="sequence" if output == "sequence" else "last",
        frontend=frontend,
    )  # fmt: skip
    X = rng.normal(size=(70, 12, 2)).astype(np.float32)
    whole = _assert_rows_independent(model.predict, X, rng)
    for batch_size in (1, 7, 64):
        np.testing.assert_array_equal(model.predict(X, batch_size=batch_size), whole)
    np.testing.assert_allclose(whole, model.forward(X), rtol=1e-5, atol=1e-6)  # same maths


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_estimator_predictions_are_row_independent(n_jobs):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(70, 10, 2))
    y = X[:, -3:, 0].sum(axis=1)
    params = {"hidden_size": 12, "max_epochs": 2, "random_state": 0, "n_jobs": n_jobs}
    reg = LSTMRegressor(**params).fit(X, y)
    clf = LSTMClassifier(cell="gru", bidirectional=True, **params).fit(X, np.digitize(y, [-1, 1]))
    for predict in (reg.predict, clf.predict, clf.predict_proba):
        _assert_rows_independent(predict, X, rng)
    ragged = [x[: 4 + i % 6] for i, x in enumerate(X)]  # variable-length sequences
    reg_ragged = LSTMRegressor(**params).fit(ragged, y)
    whole = reg_ragged.predict(ragged)
    for rows in SUBSETS:
        np.testing.assert_array_equal(reg_ragged.predict(ragged[rows]), whole[rows])


@pytest.mark.parametrize(
    "params",
    [
        {"batch_size": 70, "dropout": 0.2, "num_layers": 2},  # three chunks
        {"batch_size": 32, "hidden_size": 128},  # one chunk, split in two
        {"batch_size": 16, "cell": "gru", "bidirectional": True, "conv_filters": [4]},
        {"batch_size": 8, "dtype": "float64", "optimizer": "rmsprop"},
    ],
)
def test_fits_do_not_depend_on_n_jobs(params):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(70, 12, 2))
    y = X[:, -3:, 0].sum(axis=1)
    base = {"hidden_size": 16, "max_epochs": 2, "random_state": 0, **params}
    fits = [LSTMRegressor(**base, n_jobs=n).fit(X, y) for n in (1, 2, None)]
    for fit in fits[1:]:
        np.testing.assert_array_equal(fit.model_.flat_params, fits[0].model_.flat_params)
        assert fit.loss_curve_ == fits[0].loss_curve_


def _panel(n_series=40, n=60):
    rng = np.random.default_rng(3)
    t = np.arange(n)
    frames = [
        pd.DataFrame({
            "unique_id": f"s{i}", "ds": pd.date_range("2020-01-01", periods=n, freq="D"),
            "y": 10 * (i + 1) + 5 * np.sin(t / (3 + i % 5)) + rng.normal(size=n),
        })
        for i in range(n_series)
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("strategy", ["mimo", "recursive"])
def test_forecasts_do_not_depend_on_the_other_series(strategy):
    data = _panel()
    model = LSTMForecaster(window=12, horizon=3, strategy=strategy, hidden_size=20, max_epochs=2,
                           random_state=0).fit(data)  # fmt: skip
    whole = model.predict().set_index(["unique_id", "ds"])
    ids = data["unique_id"].unique()
    for subset in (ids[:1], ids[1:24], ids[24:], ids[::-1][:9]):
        part = model.predict(y=data[data["unique_id"].isin(subset)]).set_index(["unique_id", "ds"])
        pd.testing.assert_frame_equal(part, whole.loc[part.index], check_exact=True)


# -- fresh processes: numba's cache and OpenBLAS's kernels ---------------------------------

# Fits and predictions of several models, written to an .npz, with what numba compiled
# and loaded. In a process that compiles (empty cache) it also lists every call from
# a compiled tsLSTM kernel to another tsLSTM kernel: there must be none, since the
# JIT linker may bind such a call to either of two compiled copies of the callee
# (see tsLSTM.kernels._jit).
_PROGRAM = textwrap.dedent(
    """
    import json, re, sys
    import numpy as np
    import pandas as pd
    from numba.core.dispatcher import Dispatcher
    from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor
    from tsLSTM.nn import GRU, LSTM, Conv1dBlock, Linear, SequenceModel

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 12, 2))
    y = X[:, -3:, 0].sum(axis=1) + 0.1 * rng.normal(size=80)
    labels = np.digitize(y, [-1.0, 1.0])
    small = {"hidden_size": 16, "max_epochs": 3, "random_state": 0}
    models = {
        "lstm_f32_adam": LSTMRegressor(batch_size=16, **small),
        "lstm_f64_rmsprop": LSTMRegressor(dtype="float64", optimizer="rmsprop", **small),
        "lstm_f32_sgd_stacked": LSTMRegressor(num_layers=2, dropout=0.2, optimizer="sgd",
                                              batch_size=50, **small),
        "gru_f32_bidir_clf": LSTMClassifier(cell="gru", bidirectional=True, **small),
        "lstm_conv_f64_adagrad": LSTMRegressor(conv_filters=[4], dtype="float64",
                                               optimizer="adagrad", **small),
    }
    out = {}
    for name, est in models.items():
        fitted = est.fit(X, labels if "clf" in name else y)
        out[name + ".params"] = fitted.model_.flat_params.copy()
        out[name + ".predict"] = fitted.predict(X)
    # inference alone, with initial weights: no training, so no BLAS at all
    for dtype in (np.float32, np.float64):
        for cell in (LSTM, GRU):
            net = SequenceModel(
                cell(4, 16, num_layers=2, bidirectional=True, dtype=dtype, random_state=0),
                Linear(32, 3, dtype=dtype, random_state=0),
                frontend=[Conv1dBlock(2, 4, 3, padding=1, dtype=dtype, random_state=0)],
            )
            out[f"{cell.__name__}_{dtype.__name__}.infer"] = net.predict(X.astype(dtype))
    t = np.arange(60)
    panel = pd.DataFrame({
        "unique_id": np.repeat(["a", "b", "c"], 60),
        "ds": np.tile(pd.date_range("2020-01-01", periods=60, freq="D"), 3),
        "y": np.concatenate([10 * k + np.sin(t / (2 + k)) for k in range(3)]),
    })
    fc = LSTMForecaster(window=12, horizon=4, hidden_size=16, max_epochs=3,
                        random_state=0).fit(panel)
    out["forecast"] = fc.predict()["y_hat"].to_numpy()
    np.savez(sys.argv[1], **out)

    calls, hits, misses = [], 0, 0
    for modname, module in list(sys.modules.items()):
        if not modname.startswith("tsLSTM"):
            continue
        for attr, disp in vars(module).items():
            if not isinstance(disp, Dispatcher):
                continue
            hits += sum(disp.stats.cache_hits.values())
            misses += sum(disp.stats.cache_misses.values())
            own = f"{len(disp.py_func.__name__)}{disp.py_func.__name__}B"
            for sig in disp.signatures:
                try:
                    asm = disp.inspect_asm(sig)
                except Exception:  # loaded from the cache: no assembly to inspect
                    continue
                for ref in set(re.findall(r"\\$(_ZN6tsLSTM[\\w]+)", asm)):
                    if own not in ref:
                        calls.append(f"{modname}.{attr} -> {ref[:60]}")
    print(json.dumps({"hits": hits, "misses": misses, "calls": sorted(set(calls))}))
    """
)


def _run_program(path, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    environment.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(path)], env=environment, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    with np.load(path) as results:
        return report, dict(results)


def test_empty_and_warm_numba_cache_give_identical_results(tmp_path):
    cache = str(tmp_path / "numba_cache")
    cold_report, cold = _run_program(tmp_path / "cold.npz", NUMBA_CACHE_DIR=cache)
    warm_report, warm = _run_program(tmp_path / "warm.npz", NUMBA_CACHE_DIR=cache)
    assert cold_report["misses"] > 0, cold_report  # compiled in that process
    assert warm_report["misses"] == 0 and warm_report["hits"] > 0, warm_report  # all loaded
    assert cold_report["calls"] == [], "kernels calling other kernels (see tsLSTM.kernels._jit)"
    assert cold.keys() == warm.keys()
    for key in cold:
        np.testing.assert_array_equal(cold[key], warm[key], err_msg=key)


def _matrix():
    sys.path.insert(0, str(Path(__file__).parent))
    import determinism_matrix

    return determinism_matrix


def test_other_blas_kernels_and_vector_width_change_fits_to_rounding_only(tmp_path):
    """Another OpenBLAS kernel and, where this processor has AVX-512, numba code for an
    AVX2-only processor (a different machine as far as this machine can play one):
    the inference of a given network is bit-identical, and fitted models agree to
    rounding amplified by a few epochs of training (2e-7 of the largest value in
    float32 when this was written; the bound is 1e-4)."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        pytest.skip("OPENBLAS_CORETYPE is set for this machine: it is left as it is")
    matrix = _matrix()
    cores = matrix.blas_core_types()
    if len(cores) < 2:
        pytest.skip(f"only one OpenBLAS core type runs here: {cores}")
    other = {"OPENBLAS_CORETYPE": cores[1]}
    if "avx512f" in matrix.cpu_flags():
        other.update(matrix.AVX2_CODEGEN)
    first = _run_program(tmp_path / "first.npz", OPENBLAS_CORETYPE=cores[0])[1]
    second = _run_program(tmp_path / "second.npz", **other)[1]
    assert first.keys() == second.keys()
    for key in first:
        if key.endswith(".infer"):
            np.testing.assert_array_equal(first[key], second[key], err_msg=key)
        else:
            scale = np.abs(first[key]).max()
            np.testing.assert_allclose(first[key], second[key], rtol=0, atol=1e-4 * scale,
                                       err_msg=key)  # fmt: skip
