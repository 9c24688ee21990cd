"""``on_epoch``: the training loop reports every finished epoch to a callable."""

import dataclasses
import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from tsLSTM import EpochInfo, LSTMClassifier, LSTMRegressor


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _data(n=40):
    X = np.random.default_rng(0).standard_normal((n, 6, 2))
    return X, X[:, -2:, 0].sum(axis=1)


def test_fit_reports_every_epoch_as_the_fitted_attributes_record_it():
    X, y = _data()
    seen = []
    model = LSTMRegressor(hidden_size=4, batch_size=8, max_epochs=4, random_state=0)
    model.fit(X, y, on_epoch=seen.append)
    assert all(isinstance(info, EpochInfo) for info in seen)
    assert [info.epoch for info in seen] == [1, 2, 3, 4] == list(range(1, model.n_iter_ + 1))
    assert [info.loss for info in seen] == model.loss_curve_
    assert {(info.max_epochs, info.n_batches, info.n_samples) for info in seen} == {(4, 5, 40)}
    assert all(info.validation_score is None and info.seconds >= 0 for info in seen)
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].loss = 0.0
    assert "on_epoch" not in model.get_params()  # a fit argument, not a parameter
    clone(model)


def test_callback_changes_nothing_and_verbose_output_stays():
    X, y = _data()
    params = {"hidden_size": 4, "batch_size": 8, "max_epochs": 3, "random_state": 0}
    plain = LSTMRegressor(**params).fit(X, y)
    out = io.StringIO()
    with redirect_stdout(out):
        watched = LSTMRegressor(verbose=1, **params).fit(X, y, on_epoch=lambda info: None)
    np.testing.assert_array_equal(plain.predict(X), watched.predict(X))
    assert out.getvalue().count("Epoch ") == 3 and "Epoch 1: loss " in out.getvalue()


def test_validation_scores_and_early_stop_are_reported():
    X, y = _data(60)
    seen = []
    # batches of 4: the patience floor of 100 updates is 8 epochs
    model = LSTMRegressor(hidden_size=4, max_epochs=50, early_stopping=True, n_iter_no_change=2,
                          tol=10.0, batch_size=4, random_state=0)  # fmt: skip
    model.fit(X, y, on_epoch=seen.append)
    assert len(seen) == model.n_iter_ < 50  # stopped early: no report for epochs not run
    assert [info.validation_score for info in seen] == model.validation_scores_


def test_partial_fit_reports_its_one_epoch_and_counts_on():
    X, y = _data()
    seen = []
    model = LSTMClassifier(hidden_size=4, batch_size=16, random_state=0)
    labels = (y > 0).astype(int)
    model.partial_fit(X, labels, classes=[0, 1], on_epoch=seen.append)
    model.partial_fit(X, labels, on_epoch=seen.append)
    LSTMRegressor(hidden_size=4, random_state=0).partial_fit(X, y, on_epoch=seen.append)
    assert [(info.epoch, info.max_epochs) for info in seen] == [(1, 1), (2, 1), (1, 1)]
    assert [info.n_batches for info in seen] == [3, 3, 2]
