"""Estimators with variable-length sequences, per-step outputs and a CNN front-end."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import tsLSTM
from tsLSTM import LSTMClassifier, LSTMRegressor

FAST = {"hidden_size": 16, "max_epochs": 25, "learning_rate": 0.01, "random_state": 0}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def ragged_sequences(n=200, seed=0):
    """Label: is the sequence's mean positive? Lengths 5..30, two features."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 31, n)
    y = rng.integers(0, 2, n)
    X = [
        rng.standard_normal((m, 2)) + (0.6 if label else -0.6)
        for m, label in zip(lengths, y, strict=True)
    ]
    return X, y, lengths


def nan_padded(X):
    T = max(len(x) for x in X)
    out = np.full((len(X), T, X[0].shape[1]), np.nan)
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return out


def test_variable_length_classification_list_equals_nan_padding(tmp_path):
    X, y, _ = ragged_sequences()
    clf = LSTMClassifier(**FAST).fit(X[:150], y[:150])
    assert clf.score(X[150:], y[150:]) > 0.9
    padded = nan_padded(X[150:])
    np.testing.assert_array_equal(clf.predict(padded), clf.predict(X[150:]))
    # padding is skipped: a sequence predicts the same alone and among longer ones
    np.testing.assert_allclose(clf.predict_proba([X[150], X[151]])[0],
                               clf.predict_proba([X[150], np.vstack([X[151]] * 3)])[0])  # fmt: skip
    clf.save(tmp_path / "m.tslstm")
    np.testing.assert_array_equal(tsLSTM.load(tmp_path / "m.tslstm").predict(X[150:]),
                                  clf.predict(X[150:]))  # fmt: skip
    bad = padded.copy()
    bad[0, 1, 0] = np.nan  # NaN inside a sequence, not trailing padding
    with pytest.raises(ValueError, match="NaN outside trailing padding"):
        clf.predict(bad)
    with pytest.raises(ValueError, match="same number of features"):
        clf.predict([np.zeros((3, 2)), np.zeros((4, 3))])


def test_sequence_output_regression_and_classification():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 12, 1))
    Y = np.cumsum(X[:, :, 0], axis=1) / 3  # a target at every step
    reg = LSTMRegressor(**{**FAST, "max_epochs": 40}, output="sequence").fit(X[:100], Y[:100])
    assert reg.predict(X[100:]).shape == (50, 12)
    assert reg.score(X[100:], Y[100:]) > 0.9
    assert reg.model_.head.out_features == 1 and reg.model_.output == "sequence"

    Xr, _, lengths = ragged_sequences(120)
    labels = [np.where(x[:, 0] > 0, "up", "down") for x in Xr]  # per-step labels
    clf = LSTMClassifier(**FAST, output="sequence").fit(Xr[:90], labels[:90])
    predicted = clf.predict(Xr[90:])
    assert [len(p) for p in predicted] == list(lengths[90:])
    assert set(np.concatenate(predicted)) <= {"up", "down"}
    assert clf.score(Xr[90:], labels[90:]) > 0.85
    proba = clf.predict_proba(Xr[90:])
    assert proba[0].shape == (lengths[90], 2)
    with pytest.raises(ValueError, match="sequence 0 has 3 steps, X's has"):
        clf.fit(Xr[:2], [np.array(["up"] * 3), np.array(["up"] * 3)])


def test_cnn_front_end_on_long_series():
    rng = np.random.default_rng(0)
    n, T = 160, 300
    t = np.arange(T)
    freq = rng.integers(0, 2, n)  # class: slow or fast oscillation under heavy noise
    X = np.sin(2 * np.pi * t[None, :] * np.where(freq, 0.08, 0.03)[:, None]
               + rng.uniform(0, 6, (n, 1))) + rng.standard_normal((n, T))  # fmt: skip
    clf = LSTMClassifier(**FAST, conv_filters=[8, 8], conv_kernel_size=5, pool_size=3)
    clf.fit(X[:120], freq[:120])
    blocks = clf.model_.frontend
    assert len(blocks) == 2 and blocks[0].filters == 8 and blocks[1].pool_size == 3
    assert "frontend.1.weight" in clf.model_.state_dict()
    assert clf.score(X[120:], freq[120:]) > 0.85
    with pytest.raises(ValueError, match="cannot be combined with conv_filters"):
        LSTMClassifier(conv_filters=4, output="sequence").fit(X[:10], np.tile(freq[:10], (T, 1)).T)
    with pytest.raises(ValueError, match="conv_filters must be positive integers"):
        LSTMClassifier(conv_filters=[4, 0]).fit(X[:10], freq[:10])
