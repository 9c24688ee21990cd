"""LSTMRegressor: recurrent network + linear head trained with mean squared error."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from .. import hyperparams
from ..losses import mean_squared_error
from ._base import BaseRecurrentEstimator, step_mask
from ._saving import is_int

_DOC_PARAMETERS = hyperparams.parameters_doc(hyperparams.NETWORK_PARAMS)

_DOC_ATTRIBUTES = """
    Attributes
    ----------
    model_ : tsLSTM.nn.SequenceModel
        The trained network (recurrent stack + dense head on the last step).
    loss_curve_ : list of float
        Training loss of every epoch.
    validation_scores_, validation_loss_curve_ : list of float or None
        Validation score (R^2 for the regressor, accuracy for the classifier) and
        validation loss of every epoch, with early stopping or ``validation_data``.
    best_validation_loss_, best_validation_score_ : float or None
        The lowest validation loss of the last fit and the score of that epoch (whose
        weights ``early_stopping`` keeps).
    best_loss_ : float
    n_iter_ : int
        Epochs run (accumulates over warm starts and partial_fit calls).
    t_ : int
        Training samples seen.
    n_features_in_ : int
        ``X.shape[1]`` at fit time, scikit-learn's convention: the number of time
        steps ``n_timesteps_``.
    n_timesteps_, n_step_features_ : int
        Sequence length and features per step the network was built for.
    x_mean_, x_scale_ : ndarray of shape (n_step_features_,)
        Per-feature standardisation learned on the first fit and applied to every
        input (the network sees standardised sequences).
"""


class LSTMRegressor(RegressorMixin, BaseRecurrentEstimator):
    __doc__ = (
        """Recurrent network regressor (LSTM or GRU) with a mean-squared-error loss.

    ``X`` is 2-D ``(n_samples, n_timesteps)`` for univariate sequences or 3-D
    ``(n_samples, n_timesteps, n_features)``; ``y`` is 1-D or 2-D (multi-output).
    Inputs are standardised per feature and targets per output inside the estimator,
    so raw data trains well; predictions are in the original units.
    """
        + _DOC_PARAMETERS
        + _DOC_ATTRIBUTES
        + """    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Target standardisation.
    n_outputs_ : int
    """
    )

    _parameter_constraints = {**BaseRecurrentEstimator._parameter_constraints}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def partial_fit(self, X, y, sample_weight=None, on_epoch=None):
        """One epoch over ``(X, y)``, continuing from the current weights.

        ``on_epoch`` is called with the epoch's :class:`~tsLSTM.estimators.EpochInfo`.
        """
        return self._partial_fit(X, y, sample_weight, on_epoch=on_epoch)

    def predict(self, X):
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs_).

        With ``output='sequence'``: (n_samples, n_timesteps[, n_outputs_]), or a list
        of per-sequence arrays for sequences of different lengths.
        """
        outputs, lengths = self._network_outputs(X)
        with np.errstate(over="ignore"):
            outputs = outputs * self.y_scale_ + self.y_mean_
        if not np.all(np.isfinite(outputs)):
            raise RuntimeError("predictions overflow float64 after undoing the target scaling")
        if self._y_1d:
            outputs = outputs[..., 0]
        return outputs if self.output == "last" else self._per_sequence(outputs, lengths)

    def score(self, X, y, sample_weight=None):
        """R² of the predictions (over every valid step with ``output='sequence'``)."""
        if self.output == "last":
            return super().score(X, y, sample_weight)
        actual, predicted, weights = self._step_pairs(X, y, sample_weight, np.float64)
        return r2_score(actual, predicted, sample_weight=weights)

    # -- hooks -----------------------------------------------------------------------------

    _y_numeric = True

    def _encode_targets(self, y, first_call, classes, lengths):
        sequence = self.output == "sequence"
        if sequence:
            y = self._per_step_targets(y, lengths, np.float64)
            valid = step_mask(lengths, y.shape[1])
            if not np.all(np.isfinite(y[valid])):
                raise ValueError("y contains NaN or infinity at valid time steps")
            y = np.where(valid.reshape(valid.shape + (1,) * (y.ndim - 2)), y, 0.0)
        else:
            y = np.asarray(y, dtype=np.float64)
        base_ndim = 2 if sequence else 1
        if y.ndim not in (base_ndim, base_ndim + 1):
            raise ValueError(f"y must be {base_ndim}-D or {base_ndim + 1}-D, got shape {y.shape}")
        y_1d = y.ndim == base_ndim
        Y = y[..., None] if y_1d else y
        flat = Y[step_mask(lengths, Y.shape[1])] if sequence else Y
        if first_call:
            with np.errstate(over="ignore", invalid="ignore"):
                mean, scale = flat.mean(axis=0), flat.std(axis=0)
            if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
                raise ValueError("y has values too large to standardise (overflow in float64)")
            self._y_1d = y_1d
            self.n_outputs_ = Y.shape[-1]
            self.y_mean_ = mean
            self.y_scale_ = np.where(scale > 0, scale, 1.0)
        elif Y.shape[-1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[-1]} outputs, but {type(self).__name__} was fitted with "
                f"{self.n_outputs_}"
            )
        return ((Y - self.y_mean_) / self.y_scale_).astype(self.dtype)

    def _n_outputs(self):
        return self.n_outputs_

    def _loss(self, targets, outputs, sample_weight):
        return mean_squared_error(targets, outputs, sample_weight)

    def _device_loss(self):
        return "mse"

    def _validation_score(self, outputs, targets, sample_weight, lengths):
        # R^2 is invariant to the target standardisation: score in network units
        outputs = outputs.astype(np.float64)
        if self.output == "sequence":
            valid = step_mask(lengths, outputs.shape[1])
            sample_weight = np.broadcast_to(sample_weight[:, None], valid.shape)[valid]
            targets, outputs = targets[valid], outputs[valid]
        return r2_score(targets, outputs, sample_weight=sample_weight)

    # -- saved state -----------------------------------------------------------------------

    _saved_attributes = (*BaseRecurrentEstimator._saved_attributes, "n_outputs_", "_y_1d")
    _saved_arrays = (*BaseRecurrentEstimator._saved_arrays, "y_mean_", "y_scale_")

    def _restored_attribute_problems(self):
        problems = super()._restored_attribute_problems()
        problems.need("n_outputs_", lambda v: is_int(v, 1), "a positive integer")
        problems.need("_y_1d", lambda v: isinstance(v, bool), "a boolean")
        if not problems:
            problems.vector("y_mean_", self.n_outputs_)
            problems.vector("y_scale_", self.n_outputs_, positive=True)
        return problems
