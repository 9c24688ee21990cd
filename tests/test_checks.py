"""The compiled finiteness check that every layer's input validation runs."""

import numpy as np
import pytest

from tsLSTM.kernels.checks import all_finite
from tsLSTM.nn import LSTM


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_every_nan_and_infinity(dtype):
    a = np.zeros((3, 5, 2), dtype)
    assert all_finite(a)
    for bad in (np.nan, -np.nan, np.inf, -np.inf):
        for index in [(0, 0, 0), (1, 2, 1), (2, 4, 1)]:  # first, middle, last element
            b = a.copy()
            b[index] = bad
            assert not all_finite(b)
            assert not all_finite(b.transpose(2, 0, 1))  # any layout
            assert not all_finite(b[:, ::-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_accepts_every_finite_value(dtype):
    info = np.finfo(dtype)
    extremes = [info.max, -info.max, info.tiny, -info.tiny, info.smallest_subnormal, -0.0, 0.0]
    assert all_finite(np.array(extremes, dtype))
    assert all_finite(np.zeros(0, dtype))  # nothing to find
    assert all_finite(np.array(1.5, dtype))  # 0-d
    rng = np.random.default_rng(0)
    assert all_finite(np.clip(rng.standard_normal(1000), -5, 5).astype(dtype) * (info.max / 10))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_layers_name_a_non_finite_input(bad):
    X = np.zeros((2, 3, 1), np.float32)
    X[1, 2, 0] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        LSTM(1, 4).forward(X)
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        LSTM(1, 4).infer(X)


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_all_finite_other_floating_types_take_numpy(dtype):
    assert all_finite(np.ones(5, dtype))
    assert not all_finite(np.array([1.0, np.inf], dtype))
    assert not all_finite(np.array([np.nan, 1.0], dtype))
