"""LSTMRegressor: recurrent network + linear head trained with mean squared error."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions

from .. import hyperparams
from ..losses import mean_squared_error
from ._base import BaseRecurrentEstimator, step_mask
from ._saving import is_int

_DOC_PARAMETERS = hyperparams.parameters_doc(hyperparams.NETWORK_PARAMS)

# Penalties the ridge baseline chooses from (leave-one-out, on standardised inputs).
_BASELINE_ALPHAS = np.logspace(-4, 4, 17)

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
    conv_filters_ : list of int
        Filters of each block of the fitted convolutional front-end (``[]``: none), as
        ``conv_filters`` gave them or ``'auto'`` chose them.
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
        + """    baseline : {'ridge'} or None, default='ridge'
        'ridge': fit a ridge regression on the flattened sequence first (``RidgeCV``,
        every step and feature standardised, penalty chosen by leave-one-out
        cross-validation over ``np.logspace(-4, 4, 17)``) and train the network on its
        residual; predictions are the ridge's plus the network's. A linear map of the
        whole window is what a recurrent network finds hardest to learn from few
        samples (a spectrum, a profile), and the network then starts from the ridge's
        error rather than from predicting the mean (LSTNet's "highway" in spirit).
        Only for sequences of one length and ``output='last'``; otherwise, and with
        None, the network learns the targets alone. The ridge is fitted on the first
        ``fit`` / ``partial_fit`` and kept by warm starts; it costs a singular value
        decomposition of the (n_samples, n_timesteps * n_features) inputs. With
        ``early_stopping``, ``validation_scores_`` are the R² of the network's part
        (the residual), which ranks epochs as the R² of the sum would.
    """
        + _DOC_ATTRIBUTES
        + """    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Standardisation of the network's targets: ``y``, or its residual after the
        ridge baseline.
    n_outputs_ : int
    baseline_coef_ : ndarray of shape (n_timesteps_ * n_step_features_, n_outputs_) or None
        The ridge baseline's weights on the flattened raw sequence (None: no baseline).
    baseline_intercept_ : ndarray of shape (n_outputs_,) or None
    """
    )

    _parameter_constraints = {
        **BaseRecurrentEstimator._parameter_constraints,
        "baseline": [StrOptions({"ridge"}), None],
    }

    def __init__(
        self,
        hidden_size=64,
        num_layers=1,
        cell="lstm",
        bidirectional=False,
        dropout=0.0,
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=32,
        max_epochs=200,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        clip_grad_norm=1.0,
        weight_decay=0.0,
        dtype="float32",
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        output="last",
        conv_filters="auto",
        conv_kernel_size=3,
        conv_stride=1,
        pool_size=2,
        baseline="ridge",
    ):
        super().__init__(
            hidden_size=hidden_size, num_layers=num_layers, cell=cell,
            bidirectional=bidirectional, dropout=dropout, optimizer=optimizer,
            learning_rate=learning_rate, batch_size=batch_size, max_epochs=max_epochs,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, tol=tol, clip_grad_norm=clip_grad_norm,
            weight_decay=weight_decay, dtype=dtype, device=device, n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose, warm_start=warm_start, output=output, conv_filters=conv_filters,
            conv_kernel_size=conv_kernel_size, conv_stride=conv_stride, pool_size=pool_size,
        )  # fmt: skip
        self.baseline = baseline

    # files written before the ridge baseline existed load without it
    _absent_params = {"baseline": None}

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
            if getattr(self, "baseline_coef_", None) is not None:
                outputs = outputs + self._baseline_predict(self._validate_X(X, reset=False)[0])
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

    def _encode_targets(self, y, first_call, classes, lengths, X=None, sample_weight=None):
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
        if first_call:
            self._fit_baseline(X, Y, sample_weight, sequence)
        if getattr(self, "baseline_coef_", None) is not None:
            if X is None:
                raise TypeError("with the ridge baseline, targets are encoded with their X")
            Y = Y - self._baseline_predict(X)
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

    def _fit_baseline(self, X, Y, sample_weight, sequence):
        """The ridge baseline (``baseline='ridge'``) on the flattened sequences."""
        self.baseline_coef_ = self.baseline_intercept_ = None
        if self.baseline is None or sequence or self._variable_length:
            return
        top = sample_weight.max()
        if not top > 0:
            return  # no weight: fit refuses it below
        from sklearn.linear_model import RidgeCV

        # weights of mean 1 (unit weights unchanged): the penalty's scale does not depend on
        # theirs, and huge weights do not overflow the moments
        sample_weight = sample_weight / top
        sample_weight = sample_weight / sample_weight.mean()
        flat = X.reshape(len(X), -1).astype(np.float64)
        mean = np.average(flat, axis=0, weights=sample_weight)
        scale = np.sqrt(np.average((flat - mean) ** 2, axis=0, weights=sample_weight))
        scale = np.where(scale > 0, scale, 1.0)
        ridge = RidgeCV(alphas=_BASELINE_ALPHAS).fit((flat - mean) / scale, Y,
                                                     sample_weight=sample_weight)  # fmt: skip
        coef = np.atleast_2d(ridge.coef_).T / scale[:, None]  # on the raw flattened input
        self.baseline_coef_ = coef
        self.baseline_intercept_ = np.atleast_1d(ridge.intercept_) - mean @ coef

    def _baseline_predict(self, X):
        """The ridge baseline's predictions (n, n_outputs_) for 3-D ``X``.

        A row-by-row sum of products (no BLAS) over C-contiguous copies, so that each
        prediction is bit-identical whatever the other rows and whatever the input's
        memory layout (a strided window view, a list, a DataFrame), as the network's are:
        numpy's summation order depends on the strides it is given.
        """
        flat = np.ascontiguousarray(X.reshape(len(X), -1), dtype=np.float64)
        coef = np.ascontiguousarray(self.baseline_coef_, dtype=np.float64)
        return np.einsum("np,pk->nk", flat, coef) + self.baseline_intercept_

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
    _saved_arrays = (
        *BaseRecurrentEstimator._saved_arrays, "y_mean_", "y_scale_", "baseline_coef_",
        "baseline_intercept_",
    )  # fmt: skip

    def _restored_attribute_problems(self):
        problems = super()._restored_attribute_problems()
        problems.need("n_outputs_", lambda v: is_int(v, 1), "a positive integer")
        problems.need("_y_1d", lambda v: isinstance(v, bool), "a boolean")
        if not problems:
            problems.vector("y_mean_", self.n_outputs_)
            problems.vector("y_scale_", self.n_outputs_, positive=True)
        coef = getattr(self, "baseline_coef_", None)
        if coef is None:
            self.baseline_coef_ = self.baseline_intercept_ = None
        elif not problems:
            size = self.n_timesteps_ * self.n_step_features_
            problems.need("baseline_coef_", lambda v: isinstance(v, np.ndarray)
                          and v.shape == (size, self.n_outputs_) and v.dtype.kind == "f"
                          and np.all(np.isfinite(v)),
                          f"a finite float array of shape ({size}, {self.n_outputs_})")  # fmt: skip
            problems.vector("baseline_intercept_", self.n_outputs_)
        return problems
