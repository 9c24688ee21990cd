"""make_windows and SlidingWindowTransformer: counts, alignment, views, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from tsLSTM import LSTMRegressor, SlidingWindowTransformer, make_windows


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 60), window=st.integers(1, 10), horizon=st.integers(1, 5),
    stride=st.integers(1, 4), k=st.integers(1, 3),
)  # fmt: skip
def test_make_windows_counts_and_alignment(n, window, horizon, stride, k):
    y = np.arange(n * k, dtype=float).reshape(n, k)  # row r holds r*k .. r*k + k - 1
    if n < window + horizon:
        with pytest.raises(ValueError, match="too short"):
            make_windows(y, window, horizon, stride)
        return
    Xw, Yw = make_windows(y, window, horizon, stride)
    n_windows = (n - window - horizon) // stride + 1
    assert Xw.shape == (n_windows, window, k) and Yw.shape == (n_windows, horizon, k)
    for j in range(n_windows):
        start = j * stride
        np.testing.assert_array_equal(Xw[j], y[start : start + window])
        np.testing.assert_array_equal(Yw[j], y[start + window : start + window + horizon])
    # the inverse: windows and targets together give back every covered step
    covered = np.concatenate([Xw[:, 0], Xw[-1, 1:], Yw[-1]]) if stride == 1 else None
    if covered is not None:
        np.testing.assert_array_equal(covered, y[: n_windows + window + horizon - 1])


def test_make_windows_univariate_views_and_covariates():
    y = np.arange(10.0)
    Xw, Yw = make_windows(y, window=4, horizon=2)
    assert Xw.shape == (5, 4, 1) and Yw.shape == (5, 2)
    assert np.shares_memory(Xw, y) and np.shares_memory(Yw, y)  # views, no copies
    assert not Xw.flags.writeable
    cov = np.column_stack([10 * y, 100 * y])
    Xc, Yc = make_windows(y, window=4, horizon=2, X=cov)
    assert Xc.shape == (5, 4, 3)
    np.testing.assert_array_equal(Xc[1, :, 1], 10 * y[1:5])
    np.testing.assert_array_equal(Yc, Yw)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"window": 0}, "window must be an integer >= 1"),
        ({"horizon": 0}, "horizon must be an integer >= 1"),
        ({"stride": 1.5}, "stride must be an integer"),
        ({"y": [1.0, np.nan, 2.0, 3.0]}, "NaN"),
        ({"y": ["a", "b", "c", "d"]}, "must be numeric"),
        ({"y": np.zeros((4, 2, 2))}, "1-D or 2-D"),
        ({"X": np.zeros(3)}, "one row per step"),
    ],
)
def test_make_windows_errors(kwargs, message):
    args = {"y": np.arange(6.0), "window": 2, "horizon": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_windows(**args)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 30), window=st.integers(1, 8), f=st.integers(1, 3))
def test_transformer_one_window_ending_at_each_row(n, window, f):
    X = np.arange(n * f, dtype=float).reshape(n, f)
    W = SlidingWindowTransformer(window).fit_transform(X)
    assert W.shape == (n, window, f)
    for r in range(n):
        np.testing.assert_array_equal(W[r, -1], X[r])  # ends at its own row
        for lag in range(window):
            np.testing.assert_array_equal(W[r, window - 1 - lag], X[max(r - lag, 0)])


def test_transformer_valid_mode_zero_padding_and_errors():
    X = np.arange(12.0).reshape(6, 2)
    valid = SlidingWindowTransformer(3, padding=None).fit_transform(X)
    assert valid.shape == (4, 3, 2)
    np.testing.assert_array_equal(valid[0], X[:3])
    strided = SlidingWindowTransformer(3, stride=2, padding=None).fit_transform(X)
    np.testing.assert_array_equal(strided[1], X[2:5])
    zero = SlidingWindowTransformer(3, padding="zero").fit_transform(X)
    np.testing.assert_array_equal(zero[0, :2], 0)
    with pytest.raises(ValueError, match="padding keeps one window per row"):
        SlidingWindowTransformer(3, stride=2).fit(X)
    with pytest.raises(ValueError, match="fewer than window=8"):
        SlidingWindowTransformer(8, padding=None).fit(X).transform(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        SlidingWindowTransformer(3).fit(X).transform(np.zeros((4, 3)))


def test_transformer_in_a_pipeline_before_the_regressor():
    rng = np.random.default_rng(0)
    t = np.arange(300)
    table = np.column_stack([np.sin(t / 4), rng.standard_normal(300)])
    y = np.roll(table[:, 0], -1)  # next value of the first column
    pipe = make_pipeline(
        SlidingWindowTransformer(window=8),
        LSTMRegressor(hidden_size=16, max_epochs=30, learning_rate=0.01, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(table[:250], y[:250])
    assert pipe.predict(table[250:]).shape == (50,)
    assert pipe.score(table[250:299], y[250:299]) > 0.9


def test_complex_input_is_refused_not_truncated():
    y = np.arange(10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        with pytest.raises(ValueError, match="y must be real-valued, got complex"):
            make_windows(y + 1j, 3)
        with pytest.raises(ValueError, match="X must be real-valued, got complex"):
            make_windows(y, 3, X=y + 2j)
        with pytest.raises(ValueError, match=r"[Cc]omplex"):
            SlidingWindowTransformer(window=3).fit(np.ones((5, 2)) + 1j)
        transformer = SlidingWindowTransformer(window=3).fit(np.ones((5, 2)))
        with pytest.raises(ValueError, match=r"[Cc]omplex"):
            transformer.transform(np.ones((5, 2)) + 1j)
