"""LSTMRegressor: recurrent network + linear head trained with mean squared error."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ..losses import mean_squared_error
from ._base import BaseRecurrentEstimator, step_mask

_DOC_PARAMETERS = """
    Parameters
    ----------
    hidden_size : int, default=64
        Hidden units per recurrent layer and direction.
    num_layers : int, default=1
        Stacked recurrent layers.
    cell : {'lstm', 'gru'}, default='lstm'
    bidirectional : bool, default=False
    dropout : float in [0, 1), default=0.0
        Dropout between recurrent layers during training.
    optimizer : {'adam', 'adamw', 'sgd', 'rmsprop', 'adagrad'}, default='adam'
    learning_rate : float, default=1e-3
    batch_size : int, default=32
        Minibatch size (capped at the number of training samples).
    max_epochs : int, default=200
        Maximum passes over the training data per ``fit``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when the
        validation score has not improved by ``tol`` for ``n_iter_no_change`` epochs,
        and restore the weights of the best epoch. Without it, training stops when
        the training loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    clip_grad_norm : float or None, default=1.0
        Clip the global L2 norm of the gradient; None disables clipping.
    weight_decay : float, default=0.0
        L2 penalty (decoupled for 'adamw', whose torch default 0.01 is *not* applied:
        the value given here is used).
    dtype : {'float32', 'float64'}, default='float32'
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where to train and predict. 'cuda' runs the network, loss and optimizer on an
        NVIDIA GPU (needs ``tsLSTM[cuda]``; raises ``DeviceUnavailableError`` without
        one); 'auto' uses the GPU when available, else the CPU. The fitted model is
        the same either way (to rounding) and always saves and loads without a GPU;
        ``set_params(device='cpu')`` predicts on the CPU. The GPU path has no
        convolution kernels (``conv_filters`` needs 'cpu').
    n_jobs : int or None, default=None
        Threads for the CPU path, during ``fit`` and ``predict``: the recurrent layers
        split batches of more than 32 sequences into chunks that run on ``n_jobs``
        threads. None: every CPU available; -1 as well, -2 all but one. BLAS always
        runs on one thread, and results are bit-identical whatever ``n_jobs`` (see the
        README's "Reproducibility").
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffling, the validation split and dropout: the same
        seed and data give a bit-identical model on the same machine and libraries.
    verbose : int, default=0
        Print one line per epoch (loss, validation score, time) and, for epochs of
        50 or more minibatches, a progress bar on stderr.
    warm_start : bool, default=False
        Continue from the fitted network on the next ``fit`` (as MLP's warm_start).
"""

_DOC_ATTRIBUTES = """
    Attributes
    ----------
    model_ : tsLSTM.nn.SequenceModel
        The trained network (recurrent stack + dense head on the last step).
    loss_curve_ : list of float
        Training loss of every epoch.
    validation_scores_ : list of float or None
        Validation score of every epoch with early stopping.
    best_validation_score_ : float or None
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
