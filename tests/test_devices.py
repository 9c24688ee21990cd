"""The one-way GPU architecture: nn knows no device, optimizers own their step scalars.

Runs without a GPU and without numba-cuda (the device side is tested in test_cuda.py).
"""

import math
import subprocess
import sys

import numpy as np
import pytest

from tsLSTM.kernels import optim_rules
from tsLSTM.nn import GRU, LSTM
from tsLSTM.optim import OPTIMIZERS, Adagrad, Adam


@pytest.mark.parametrize("cls", [LSTM, GRU])
@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_nn_layers_run_on_the_cpu_and_name_the_gpu_layers(cls, device):
    assert cls(2, 3, device="cpu").device == "cpu"
    with pytest.raises(ValueError, match=rf"use tsLSTM\.gpu\.{cls.__name__}"):
        cls(2, 3, device=device)


def test_nn_and_the_cpu_path_import_no_gpu_code():
    script = """
        import sys
        import numpy as np
        import tsLSTM.nn
        from tsLSTM import LSTMRegressor
        X = np.random.default_rng(0).normal(size=(8, 4))
        LSTMRegressor(hidden_size=2, max_epochs=1).fit(X, X[:, 0]).predict(X)
        print(sorted(m for m in sys.modules if m.startswith(("tsLSTM.gpu", "tsLSTM.kernels.gpu"))))
    """
    out = subprocess.run(
        [sys.executable, "-c", "\n".join(line[8:] for line in script.splitlines())],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_old_cuda_module_is_a_deprecated_alias():
    import tsLSTM.cuda
    from tsLSTM import devices

    with pytest.warns(DeprecationWarning, match="tsLSTM.devices.DeviceUnavailableError"):
        assert tsLSTM.cuda.DeviceUnavailableError is devices.DeviceUnavailableError
    with pytest.warns(DeprecationWarning):
        assert tsLSTM.cuda.resolve_device is devices.resolve_device


def test_adam_owns_its_bias_corrections():
    params, grads = np.zeros(3, np.float32), np.ones(3, np.float32)
    opt = Adam(params, grads, lr=0.01, betas=(0.8, 0.9))
    opt.step()
    scalars = opt.next_step()  # the scalars of step 2
    assert opt.n_steps == 2
    assert isinstance(scalars, optim_rules.AdamScalars)
    assert scalars.neg_step_size == np.float32(-(0.01 / (1 - 0.8**2)))
    assert scalars.bias_correction2_sqrt == np.float32(math.sqrt(1 - 0.9**2))
    assert scalars.neg_step_size.dtype == np.float32


def test_adagrad_decays_its_learning_rate_per_step():
    opt = Adagrad(np.zeros(2), np.ones(2), lr=0.1, lr_decay=0.5)
    assert [opt.next_step().neg_clr for _ in range(3)] == [-0.1, -0.1 / 1.5, -0.1 / 2.0]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_step_goes_through_next_step_and_its_rule(name, monkeypatch):
    rng = np.random.default_rng(0)
    params, grads = rng.normal(size=5), rng.normal(size=5)
    opt = OPTIMIZERS[name](params, grads, lr=0.1)
    reference = OPTIMIZERS[name](params.copy(), grads, lr=0.1)
    calls = []
    original = type(opt).next_step
    monkeypatch.setattr(type(opt), "next_step", lambda self: calls.append(1) or original(self))
    opt.step()
    assert calls == [1] and opt.n_steps == 1
    # the same update by hand: the rule applied with the step's scalars
    optim_rules.RULES[reference.rule](reference.params, grads, reference.state, original(reference))
    np.testing.assert_array_equal(params, reference.params)
