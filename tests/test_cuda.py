"""The GPU path (``device='cuda'``) against the CPU path.

Under the CUDA simulator (see ``conftest.py``) on tiny shapes: kernels, recurrent
layers, losses, optimizers and whole estimator fits must equal the CPU results
(float64 to 1e-10, float32 to 1e-5). CI installs numba-cuda; without it these tests
skip locally and fail in CI.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import require

require("numba_cuda")

from numba import config as numba_config  # noqa: E402
from numba import cuda  # noqa: E402

from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor, load  # noqa: E402
from tsLSTM.devices import DeviceUnavailableError, resolve_device  # noqa: E402
from tsLSTM.gpu import GRU, LSTM  # noqa: E402
from tsLSTM.optim import OPTIMIZERS  # noqa: E402

TOL = {np.float64: 1e-10, np.float32: 1e-5}

# The simulator's own random-number set-up cannot be compiled for the CPU (numba
# falls back to object mode) and relies on uint64 wrap-around: its warnings are noise.
pytestmark = [
    pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaWarning"),
    pytest.mark.filterwarnings("ignore:overflow encountered in scalar:RuntimeWarning"),
]


def _thread_safe_simulated_shared_memory():
    """Make the simulator's ``cuda.shared.array`` safe for concurrent threads.

    numba-cuda's simulator gives every thread of a block the same array by looking
    the call site up in a dict and creating the array when it is missing, without a
    lock: two threads can both miss and create *different* arrays, after which the
    block's "shared" tile is not shared and the kernel computes garbage (seen here in
    about 1 of 30 tiled GEMMs). Same logic, under a lock.
    """
    import threading
    import traceback

    from numba.cuda.simulator import kernelapi

    lock = threading.Lock()
    original = kernelapi.FakeCUDAShared.array

    def array(self, shape, dtype, alignment=None):
        if shape == 0:
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, kernelapi.types.Type):
            dtype = kernelapi.numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe())[-2][0:2]
        with lock:
            if caller not in self._allocations:
                self._allocations[caller] = np.empty(shape, dtype)
            return self._allocations[caller]

    kernelapi.FakeCUDAShared.array = array


if numba_config.ENABLE_CUDASIM:
    _thread_safe_simulated_shared_memory()


@pytest.fixture(autouse=True, scope="module")
def _fast_simulator():
    # The simulator polls its threads in a loop that holds the GIL: switching
    # threads often makes a launch several times faster.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


def assert_close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype])


# -- devices -----------------------------------------------------------------------


def test_resolve_device_uses_the_gpu_when_present():
    assert cuda.is_available()
    assert resolve_device("cuda") == resolve_device("auto") == "cuda"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("gpu")


def test_without_a_gpu_cuda_raises_and_auto_falls_back():
    script = """
        import numpy as np
        from tsLSTM import LSTMRegressor
        from tsLSTM.devices import DeviceUnavailableError, resolve_device
        assert resolve_device("auto") == "cpu"
        X = np.random.default_rng(0).normal(size=(6, 3))
        LSTMRegressor(hidden_size=2, max_epochs=1, device="auto").fit(X, X[:, 0])
        try:
            LSTMRegressor(hidden_size=2, max_epochs=1, device="cuda").fit(X, X[:, 0])
        except DeviceUnavailableError as exc:
            print(exc)
    """
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "device='cuda' was requested but no CUDA GPU or driver was found" in out.stdout


def test_without_numba_cuda_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(cuda, "implementation", "Built-in")
    with pytest.raises(DeviceUnavailableError, match=r"numba-cuda package is not installed"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"


# -- kernels ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_matches_numpy(dtype, trans_a, trans_b):
    from tsLSTM.kernels.gpu import linalg

    rng = np.random.default_rng(0)
    A = rng.normal(size=(7, 5) if trans_a else (5, 7)).astype(dtype)
    B = rng.normal(size=(6, 7) if trans_b else (7, 6)).astype(dtype)
    C0 = rng.normal(size=(5, 6)).astype(dtype)
    bias = rng.normal(size=6).astype(dtype)
    C = cuda.to_device(C0)
    linalg.matmul(cuda.to_device(A), cuda.to_device(B), C, cuda.to_device(bias), trans_a, trans_b,
                  accumulate=True)  # fmt: skip
    expected = C0 + (A.T if trans_a else A) @ (B.T if trans_b else B) + bias
    assert_close(C.copy_to_host(), expected, dtype)


# -- recurrent layers ------------------------------------------------------------------


def _layers(cls, dtype, **kwargs):
    """A CPU layer and a GPU layer with the same weights."""
    cpu = cls(3, 4, dtype=dtype, random_state=0, **kwargs)
    gpu = cls(3, 4, dtype=dtype, random_state=1, device="cuda", **kwargs)
    gpu.load_state_dict(cpu.state_dict())
    return cpu, gpu


def _run(layer, X, lengths, dY, d_h, h0, training=False):
    lstm = isinstance(layer, LSTM)
    layer.zero_grad()
    if lstm:
        out, (h_n, c_n) = layer.forward(X, h0, h0, training=training, lengths=lengths)
        dX, (dh0, dc0) = layer.backward(dY, d_h, d_h)
        return out, h_n, c_n, dX, dh0, dc0, layer.flat_grads.copy()
    out, h_n = layer.forward(X, h0, training=training, lengths=lengths)
    dX, dh0 = layer.backward(dY, d_h)
    return out, h_n, dX, dh0, layer.flat_grads.copy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_layer_forward_backward_match_cpu(dtype, cls, num_layers, bidirectional):
    cpu, gpu = _layers(cls, dtype, num_layers=num_layers, bidirectional=bidirectional)
    rng = np.random.default_rng(0)
    B, T, D = 3, 4, 2 if bidirectional else 1
    X = rng.normal(size=(B, T, 3)).astype(dtype)
    lengths = np.array([4, 2, 3])  # padded sequences too
    dY = rng.normal(size=(B, T, D * 4)).astype(dtype)
    d_h = rng.normal(size=(num_layers * D, B, 4)).astype(dtype)
    h0 = rng.normal(size=(num_layers * D, B, 4)).astype(dtype)
    for expected, actual in zip(
        _run(cpu, X, lengths, dY, d_h, h0), _run(gpu, X, lengths, dY, d_h, h0), strict=True
    ):
        assert_close(actual, expected, dtype)
    assert_close(gpu.infer(X, lengths=lengths), cpu.infer(X, lengths=lengths), dtype)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_dropout_between_layers_matches_the_cpu_with_the_same_masks(cls):
    cpu, gpu = _layers(cls, np.float64, num_layers=3, dropout=0.5)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 3, 3))
    dY = rng.normal(size=(2, 3, 4))
    gpu.zero_grad()
    out = gpu.forward(X, training=True)[0]
    engine = gpu._cache[1]
    masks = [m.copy_to_host() for m in engine.dropout_masks if m is not None]
    dX = gpu.backward(dY)[0]
    assert len(masks) == 2
    assert set(np.unique(np.concatenate(masks))) == {0.0, 2.0}  # keep 0.5 -> scale 2
    replay = iter(masks)
    cpu._dropout_mask = lambda shape: next(replay)
    cpu.zero_grad()
    expected_out = cpu.forward(X, training=True)[0]
    expected_dX = cpu.backward(dY)[0]
    assert_close(out, expected_out, np.float64)
    assert_close(dX, expected_dX, np.float64)
    assert_close(gpu.flat_grads, cpu.flat_grads, np.float64)


# -- optimizers and losses ---------------------------------------------------------------

OPTIMIZER_CASES = [
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("adam", {"amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"weight_decay": 0.1}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("adagrad", {"lr_decay": 0.1, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES)
def test_optimizer_steps_match_the_cpu(dtype, name, kwargs):
    from tsLSTM.gpu.optim import DeviceOptimizer
    from tsLSTM.optim import clip_grad_norm

    rng = np.random.default_rng(0)
    params = rng.normal(size=40).astype(dtype)
    grads = np.zeros_like(params)
    cpu = OPTIMIZERS[name](params, grads, lr=0.05, **kwargs)
    d_params, d_grads = cuda.to_device(params), cuda.to_device(grads)
    gpu = DeviceOptimizer(OPTIMIZERS[name](params.copy(), grads.copy(), lr=0.05, **kwargs),
                          d_params, d_grads)  # fmt: skip
    flags = cuda.to_device(np.zeros(1))
    for step in range(4):
        g = rng.normal(size=params.size).astype(dtype)
        grads[...] = g
        d_grads.copy_to_device(g)
        max_norm = 2.0 if step % 2 else 100.0  # clipped on odd steps
        norm = clip_grad_norm(grads, max_norm)
        cpu.step()
        gpu.step(min(max_norm / (norm + 1e-6), 1.0), flags)
    assert_close(d_params.copy_to_host(), params, dtype)
    gpu.download()
    for key, value in gpu.state.items():
        assert_close(getattr(gpu.host, key), getattr(cpu, key), dtype)
        assert value.shape == getattr(cpu, key).shape
    assert gpu.host.n_steps == cpu.n_steps == 4
    assert flags.copy_to_host()[0] == 0


@pytest.mark.parametrize("kind", ["mse", "bce", "softmax_ce"])
@pytest.mark.parametrize("sequence", [False, True])
def test_losses_match_the_cpu(kind, sequence):
    from tsLSTM.kernels.gpu.losses import kernels
    from tsLSTM.losses import LOSSES

    rng = np.random.default_rng(0)
    n, T, K = 6, 3, {"mse": 2, "bce": 1, "softmax_ce": 3}[kind]
    order = rng.permutation(n)
    start, B = 1, 4
    batch = order[start : start + B]
    weights = rng.uniform(0.5, 2, size=n)
    lengths = np.array([3, 1, 2, 3, 2, 1])
    if kind == "mse":
        targets = rng.normal(size=(n, T, K) if sequence else (n, K))
    else:
        targets = rng.integers(0, max(K, 2), size=(n, T) if sequence else n)
    if sequence:  # time-major rows (t, b), padded steps excluded
        out = rng.normal(size=(T * B, K))
        rows = [(t, b) for t in range(T) for b in range(B)]
        valid = np.array([t < lengths[batch[b]] for t, b in rows])
        y = np.array([targets[batch[b], t] for t, b in rows])[valid]
        w = np.array([weights[batch[b]] for t, b in rows])[valid]
        flat_targets = targets.reshape(n * T, -1) if kind == "mse" else targets.reshape(-1)
        expected_value, grad_valid = _cpu_loss(LOSSES[kind], y, out[valid], w, kind)
        expected_grad = np.zeros_like(out)
        expected_grad[valid] = grad_valid
    else:
        out = rng.normal(size=(B, K))
        flat_targets = targets
        expected_value, expected_grad = _cpu_loss(
            LOSSES[kind], targets[batch], out, weights[batch], kind
        )
        w = weights[batch]
    grad = cuda.device_array(out.shape)
    total = cuda.to_device(np.zeros(1))
    kernels(np.float64)[kind][1, 32](
        cuda.to_device(out), cuda.to_device(flat_targets.astype(np.float64 if kind == "mse"
                                                                 else np.int64)),
        cuda.to_device(weights), cuda.to_device(lengths), cuda.to_device(order), start,
        T if sequence else 0, 1.0 / w.sum(), grad, total,
    )  # fmt: skip
    assert_close(total.copy_to_host()[0], expected_value, np.float64)
    assert_close(grad.copy_to_host(), expected_grad, np.float64)


def _cpu_loss(loss, y, out, w, kind):
    if kind == "bce":
        return loss(y[:, None], out, w)
    return loss(y, out, w)


# -- estimators ------------------------------------------------------------------------------


def _data(n=8, T=4, F=2):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, T, F))
    return X, X.sum(axis=(1, 2))


def _fit_both(cls, X, y, **params):
    fitted = {}
    for device in ("cpu", "cuda"):
        model = cls(hidden_size=3, max_epochs=2, batch_size=4, random_state=0, device=device,
                    **params)  # fmt: skip
        fitted[device] = model.fit(X, y)
    return fitted["cpu"], fitted["cuda"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "params",
    [
        {"dtype": "float64"},
        {"dtype": "float32"},
        {
            "dtype": "float64",
            "cell": "gru",
            "num_layers": 2,
            "bidirectional": True,
            "optimizer": "rmsprop",
            "early_stopping": True,
            "validation_fraction": 0.25,
        },
    ],
)
def test_regressor_on_the_gpu_matches_the_cpu(params):
    X, y = _data()
    cpu, gpu = _fit_both(LSTMRegressor, X, y, **params)
    dtype = np.float64 if params["dtype"] == "float64" else np.float32
    assert_close(gpu.loss_curve_, cpu.loss_curve_, dtype)
    assert_close(gpu.model_.flat_params, cpu.model_.flat_params, dtype)
    assert_close(gpu.predict(X), cpu.predict(X), dtype)
    state = "square_avg" if params.get("optimizer") == "rmsprop" else "exp_avg_sq"
    assert_close(getattr(gpu._optimizer, state), getattr(cpu._optimizer, state), dtype)
    if params.get("early_stopping"):
        assert_close(gpu.validation_scores_, cpu.validation_scores_, dtype)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_huge_sample_weights_train_on_the_gpu_as_unit_weights():
    """The estimator rescales the weights before the device trainer sums them."""
    X, y = _data()
    cpu, gpu = _fit_both(LSTMRegressor, X, y, dtype="float64")
    huge = LSTMRegressor(**{**gpu.get_params(), "device": "cuda"})
    huge.fit(X, y, sample_weight=np.full(len(y), 1e308))
    assert np.all(np.isfinite(huge.loss_curve_))
    assert_close(huge.loss_curve_, cpu.loss_curve_, np.float64)
    assert_close(huge.model_.flat_params, cpu.model_.flat_params, np.float64)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_on_the_gpu_matches_the_cpu(n_classes):
    X, _ = _data()
    y = np.array(list("abc"[:n_classes]) * len(X))[: len(X)]
    cpu, gpu = _fit_both(LSTMClassifier, X, y, dtype="float64", class_weight="balanced")
    assert_close(gpu.model_.flat_params, cpu.model_.flat_params, np.float64)
    assert_close(gpu.predict_proba(X), cpu.predict_proba(X), np.float64)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_per_step_outputs_of_variable_length_sequences_match_the_cpu():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(t, 1)) for t in (4, 2, 3, 4, 1, 3)]
    y = [x[:, 0].cumsum() for x in X]
    cpu, gpu = _fit_both(LSTMRegressor, X, y, dtype="float64", output="sequence")
    assert_close(gpu.model_.flat_params, cpu.model_.flat_params, np.float64)
    for a, b in zip(gpu.predict(X), cpu.predict(X), strict=True):
        assert_close(a, b, np.float64)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dropout_fit_on_the_gpu_is_reproducible():
    X, y = _data()
    fits = [
        LSTMRegressor(hidden_size=3, num_layers=2, dropout=0.5, max_epochs=2, batch_size=4,
                      random_state=0, device="cuda").fit(X, y)
        for _ in range(2)
    ]  # fmt: skip
    np.testing.assert_array_equal(fits[0].model_.flat_params, fits[1].model_.flat_params)
    assert np.all(np.isfinite(fits[0].predict(X)))


def test_conv_front_end_needs_the_cpu():
    X, y = _data(T=8)
    model = LSTMRegressor(hidden_size=3, conv_filters=4, max_epochs=1, device="cuda")
    with pytest.raises(ValueError, match="conv_filters needs device='cpu'"):
        model.fit(X, y)
    assert not hasattr(model, "model_")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_forecaster_on_the_gpu_matches_the_cpu():
    series = np.sin(np.arange(40) / 3.0) + np.arange(40) / 20.0
    forecasts = []
    for device in ("cpu", "cuda"):
        model = LSTMForecaster(window=6, horizon=3, hidden_size=3, max_epochs=2, batch_size=16,
                               dtype="float64", random_state=0, device=device)  # fmt: skip
        forecasts.append(model.fit(series).predict())
    assert_close(forecasts[1], forecasts[0], np.float64)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_model_trained_on_the_gpu_loads_and_predicts_without_one(tmp_path):
    X, y = _data()
    model = LSTMRegressor(hidden_size=3, max_epochs=2, batch_size=4, random_state=0,
                          device="cuda").fit(X, y)  # fmt: skip
    path = tmp_path / "model.tslstm"
    model.save(path)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.predict(X))
    script = f"""
        import warnings
        import numpy as np
        from tsLSTM import load
        from tsLSTM.devices import DeviceUnavailableError
        try:
            load({str(path)!r}, device="cuda")
        except DeviceUnavailableError as exc:
            print("refused:", exc)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = load({str(path)!r})  # no GPU here: on the CPU, with a warning
        print("warned:", *[str(w.message) for w in caught])
        X = np.load({str(tmp_path / "X.npy")!r})
        np.testing.assert_allclose(model.predict(X), np.load({str(tmp_path / "expected.npy")!r}),
                                   rtol=1e-5, atol=1e-5)
        print("ok", model.device)
    """
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "refused: device='cuda' was requested" in out.stdout
    assert "saved with device='cuda'; no CUDA GPU here: loaded on the CPU" in out.stdout
    assert out.stdout.strip().endswith("ok cpu")
    assert load(path).get_params()["device"] == "cuda"


def test_gpu_benchmark_script_runs():
    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_gpu.py")
    out = subprocess.run(
        [sys.executable, script, "--smoke"], capture_output=True, text=True,
        env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split()[:4] == ["case", "kind", "GPU", "ms"]
    assert [line.split()[:2] for line in lines[2:4]] == [["smoke", "train"], ["smoke", "predict"]]


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad"])
def test_the_device_optimizer_takes_its_scalars_from_the_host_optimizer(name, monkeypatch):
    from tsLSTM.gpu.optim import DeviceOptimizer

    params = np.random.default_rng(0).normal(size=8)
    host = OPTIMIZERS[name](params.copy(), np.zeros_like(params), lr=0.1)
    calls = []
    original = type(host).next_step
    monkeypatch.setattr(type(host), "next_step", lambda self: calls.append(1) or original(self))
    d_params = cuda.to_device(params)
    gpu = DeviceOptimizer(host, d_params, cuda.to_device(np.ones_like(params)))
    gpu.step(1.0, cuda.to_device(np.zeros(1)))
    assert calls == [1] and host.n_steps == 1
    assert not np.array_equal(d_params.copy_to_host(), params)
