"""What the recurrent estimators share: parameters, input checks, the training loop.

The chain follows scikit-learn's ``MLPClassifier``: ``fit`` / ``partial_fit`` ->
``_fit`` (validation, network and optimizer set-up) -> ``_fit_epochs`` (minibatch
loop, early stopping, convergence) -> the network's ``forward`` / ``backward`` and the
optimizer's ``step``. Subclasses supply the target encoding, the loss, the output
size and the score.
"""

import numbers
import time
import warnings

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from .. import hyperparams
from .._progress import ProgressBar, compile_notice
from .._threads import thread_limits
from ..devices import resolve_device
from ..nn import GRU, LSTM, Conv1dBlock, Linear, SequenceModel
from ..optim import OPTIMIZERS
from ..training import Loss, make_trainer, network_outputs, train_step
from ._saving import AttributeChecks, SavedStateMixin, is_int, is_number, plain_array
from .callbacks import EpochInfo


class TrainingDivergedWarning(RuntimeWarning):
    """Training stopped because it diverged; the estimator keeps usable weights.

    Two rules, checked after every minibatch and every epoch:

    - the outputs, loss, gradients or weights overflowed to NaN or infinity, or an
      epoch's loss is not finite: the weights from the start of that epoch are kept;
    - runaway: an epoch's loss exceeds ``DIVERGENCE_FACTOR`` (1000) times
      ``max(best epoch loss, loss of an all-zero output on the training data, 1)``.
      Targets are standardised, so a useless model has a loss of about 1 (mean squared
      error) or ln K (K classes); healthy training stays far below the bound, while a
      learning rate that is far too high sends the loss to 1e10 and more. The weights
      the best epoch of that fit started from are kept (the start of the diverging
      epoch when it is the fit's first).

    With ``early_stopping`` the best validation epoch's weights are restored in
    either case. The diverged epoch is not counted in ``n_iter_`` or ``loss_curve_``,
    and the optimizer's state from the diverged steps is dropped: a later
    ``partial_fit`` starts a fresh optimizer.
    """


# An epoch loss above DIVERGENCE_FACTOR * max(best loss, constant-output loss, 1) is
# runaway training (see TrainingDivergedWarning).
DIVERGENCE_FACTOR = 1e3
_OVERFLOW = "the outputs, loss, gradients or weights overflowed to NaN or infinity"


def diverged_loss_bound(best_loss, baseline):
    """The epoch loss above which training counts as runaway (see the warning)."""
    best = best_loss if np.isfinite(best_loss) else 0.0
    return DIVERGENCE_FACTOR * max(best, baseline, 1.0)


# Architecture parameters: a warm start or partial_fit must find them unchanged.
_ARCHITECTURE = (
    "hidden_size", "num_layers", "cell", "bidirectional", "dtype", "output", "conv_filters",
    "conv_kernel_size", "conv_stride", "pool_size",
)  # fmt: skip

# conv_filters='auto': filters per block, the longest sequence the recurrent stack reads
# without a front-end, and the most blocks (see BaseRecurrentEstimator._auto_conv_filters).
AUTO_CONV_FILTERS = 32
AUTO_CONV_STEPS = 24
AUTO_CONV_MAX_BLOCKS = 8

# Training stops only after ``n_iter_no_change`` epochs *and* this many minibatch
# updates without a better loss (training, or validation with early stopping): on a
# small training set an epoch is one or two updates, and ten of them cannot leave the
# plateau of the first epochs (a classifier at chance, ln 2).
MIN_PATIENCE_STEPS = 100

# Batches per epoch above which ``verbose`` also draws a progress bar.
_PROGRESS_BAR_MIN_BATCHES = 50


class _Snapshot:
    """Everything a fit may change of an estimator, to undo a fit that raises.

    The attribute dictionary (a shallow copy: a refit replaces objects), plus copies of
    what training changes in place: the network's weights and gradients and its
    dropout rate, the optimizer's state arrays and step count, the random states, and
    the lists ``loss_curve_`` / ``validation_scores_``. Memory: about one copy of the
    parameters per optimizer state array, plus two.
    """

    def __init__(self, estimator):
        self.attributes = dict(estimator.__dict__)
        self.lists = {k: list(v) for k, v in self.attributes.items() if type(v) is list}
        model = self.attributes.get("model_")
        self.model = None
        if model is not None:
            self.model = (model, model.flat_params.copy(), model.flat_grads.copy(),
                          model.rnn.dropout)  # fmt: skip
        optimizer = self.attributes.get("_optimizer")
        self.optimizer = None
        if optimizer is not None:
            state = {name: getattr(optimizer, name).copy() for name in optimizer.state_names}
            scalars = {k: v for k, v in vars(optimizer).items() if not isinstance(v, np.ndarray)}
            self.optimizer = (optimizer, state, scalars)
        generators = {self.attributes.get("_rng"), getattr(estimator, "random_state", None)}
        self.generators = [
            (g, g.get_state()) for g in generators if isinstance(g, np.random.RandomState)
        ]

    def restore(self, estimator):
        estimator.__dict__.clear()
        estimator.__dict__.update(self.attributes)
        for name, items in self.lists.items():
            self.attributes[name][:] = items
        if self.model is not None:
            model, params, grads, dropout = self.model
            model.flat_params[...] = params
            model.flat_grads[...] = grads
            model.rnn.dropout = dropout
            model.clear_cache()
        if self.optimizer is not None:
            optimizer, state, scalars = self.optimizer
            for name, value in state.items():
                getattr(optimizer, name)[...] = value
            vars(optimizer).update(scalars)
        for generator, state in self.generators:
            generator.set_state(state)


class BaseRecurrentEstimator(SavedStateMixin, BaseEstimator):
    """Shared implementation of :class:`LSTMRegressor` and :class:`LSTMClassifier`."""

    # constraints, defaults and docs of every parameter: tsLSTM.hyperparams
    _parameter_constraints = hyperparams.sklearn_constraints(hyperparams.NETWORK_PARAMS)

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
    ):
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip_grad_norm = clip_grad_norm
        self.weight_decay = weight_decay
        self.dtype = dtype
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.output = output
        self.conv_filters = conv_filters
        self.conv_kernel_size = conv_kernel_size
        self.conv_stride = conv_stride
        self.pool_size = pool_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags

    # -- subclass hooks ------------------------------------------------------------

    _y_numeric = False  # validate_data converts y to numbers (regression)

    def _encode_targets(self, y, first_call, classes, lengths, X=None, sample_weight=None):
        """Validate ``y``; return the network's targets. Sets target attributes.

        ``X`` (3-D, padded steps 0) and ``sample_weight`` are the validated inputs.
        """
        raise NotImplementedError

    def _loss(self, targets, outputs, sample_weight):
        """``(value, d_outputs)`` of the training loss."""
        raise NotImplementedError

    def _n_outputs(self):
        raise NotImplementedError

    def _device_loss(self):
        """Name of the GPU loss kernel matching :meth:`_loss` (see tsLSTM.kernels.gpu)."""
        raise NotImplementedError

    def _training_loss(self):
        """The loss of both engines (:class:`tsLSTM.training.Loss`)."""
        return Loss(self._loss, self._device_loss(), self.output == "sequence")

    def _validation_score(self, outputs, targets, sample_weight, lengths):
        """Weighted score of the network ``outputs`` on held-out sequences."""
        raise NotImplementedError

    def _stratify(self, targets):
        return None

    def _per_step_targets(self, y, lengths, dtype):
        """``output='sequence'`` targets as an array (n, T, ...) aligned with ``X``.

        ``y`` is an array with one entry per step (padded steps ignored) or a list of
        per-sequence arrays of the sequences' lengths.
        """
        n, T = len(lengths), int(lengths.max()) if len(lengths) else 0
        if isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) >= 1:
            if len(y) != n:
                raise ValueError(f"y has {len(y)} sequences, X has {n}")
            items = [real_array(v, f"y's sequence {i}", dtype) for i, v in enumerate(y)]
            for i, v in enumerate(items):
                if len(v) != lengths[i]:
                    raise ValueError(f"y's sequence {i} has {len(v)} steps, X's has {lengths[i]}")
            out = np.zeros((n, T, *items[0].shape[1:]), dtype=items[0].dtype)
            for i, v in enumerate(items):
                out[i, : len(v)] = v
            return out
        y = real_array(y, "y", dtype)
        if y.ndim < 2 or y.shape[0] != n or y.shape[1] < T:
            raise ValueError(
                f"with output='sequence', y needs one target per time step: shape (n_samples, "
                f"n_timesteps[, n_outputs]) = ({n}, {T}, ...), got {y.shape}"
            )
        return y[:, :T]

    def _step_pairs(self, X, y, sample_weight, dtype):
        """``(actual, predicted, weights)`` over the valid steps (``output='sequence'``)."""
        _, _, lengths = self._validate_X(X, reset=False)
        valid = step_mask(lengths, int(lengths.max()))
        predicted = self._per_step_targets(self.predict(X), lengths, dtype)[valid]
        actual = self._per_step_targets(y, lengths, dtype)[valid]
        weights = None
        if sample_weight is not None:
            weights = np.broadcast_to(np.asarray(sample_weight)[:, None], valid.shape)[valid]
        return actual, predicted, weights

    def _per_sequence(self, values, lengths):
        """Per-step predictions: an array when all sequences are whole, else a list."""
        if not getattr(self, "_variable_length", False):
            return values
        return [values[i, : lengths[i]] for i in range(len(values))]

    # -- input -------------------------------------------------------------------------

    def _validate_X(self, X, y=None, reset=True):
        """Validate ``X`` (and ``y``): returns 3-D ``X`` (n, T, F), ``y``, ``lengths``.

        2-D ``X`` holds univariate sequences ``(n_samples, n_timesteps)``; 3-D ``X``
        is ``(n_samples, n_timesteps, n_features)``. Sequences of different lengths
        come as a list of arrays or as a 3-D array right-padded with NaN: ``lengths``
        (int64, one per sample) gives their valid steps and padded steps become 0.
        """
        X, lengths = padded_sequences(X)
        _check_real(X, "X")
        if y is not None and self.output != "sequence":
            _check_real(y, "y")
        if reset:
            self._variable_length = lengths is not None
        fitted = (getattr(self, "n_timesteps_", None), getattr(self, "n_step_features_", None))
        if not reset and isinstance(X, np.ndarray) and X.shape[1:] == fitted[::-1] != fitted:
            raise ValueError(
                f"X has {fitted[1]} time steps of {fitted[0]} features, but "
                f"{type(self).__name__} was fitted on {fitted[0]} time steps of "
                f"{fitted[1]} features: its last two axes look swapped (aeon/sktime's "
                "(n_samples, n_channels, n_timesteps) layout?): pass X.transpose(0, 2, 1)"
            )
        kwargs = {"allow_nd": True, "dtype": [np.float64, np.float32], "reset": reset}
        variable = getattr(self, "_variable_length", False)
        if not reset and variable:
            X = check_array(X, allow_nd=True, dtype=[np.float64, np.float32])
        elif y is None or self.output == "sequence":
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, multi_output=True, y_numeric=self._y_numeric, **kwargs)
        if X.ndim not in (2, 3):
            raise ValueError(
                f"X must be 2-D (n_samples, n_timesteps) or 3-D (n_samples, n_timesteps, "
                f"n_features); got an array of shape {X.shape}"
            )
        X = X[:, :, None] if X.ndim == 2 else X
        if X.shape[1] == 0:
            raise ValueError(f"X has no time steps: shape {X.shape}")
        if X.shape[2] == 0:
            raise ValueError(f"X has no features: its time steps are empty (shape {X.shape})")
        if reset:
            if 1 < X.shape[1] < 10 < X.shape[2]:
                warnings.warn(_layout_hint(X.shape), UserWarning, stacklevel=5)  # at fit's caller
            self.n_timesteps_, self.n_step_features_ = X.shape[1], X.shape[2]
        elif X.shape[2] != self.n_step_features_ or (
            not variable and X.shape[1] != self.n_timesteps_
        ):
            raise ValueError(
                f"X has {X.shape[1]} time steps of {X.shape[2]} features, but "
                f"{type(self).__name__} was fitted on {self.n_timesteps_} time steps of "
                f"{self.n_step_features_} features"
            )
        if lengths is None:
            lengths = np.full(X.shape[0], X.shape[1], dtype=np.int64)
        return X, y, lengths

    def _standardise(self, X, lengths):
        """Scale ``X`` with the first fit's statistics (padded steps stay 0), network dtype."""
        Z = ((X - self.x_mean_) / self.x_scale_).astype(self.dtype)
        if lengths.min() < X.shape[1]:
            Z *= (np.arange(X.shape[1])[None, :] < lengths[:, None])[:, :, None]
        return Z

    def _learn_scaling(self, X, lengths):
        X = X.astype(np.float64, copy=False)
        X = X[np.arange(X.shape[1])[None, :] < lengths[:, None]][None]  # valid steps only
        with np.errstate(over="ignore", invalid="ignore"):
            mean, scale = X.mean(axis=(0, 1)), X.std(axis=(0, 1))
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
            raise ValueError("X has values too large to standardise (overflow in float64)")
        self.x_mean_ = mean
        self.x_scale_ = np.where(scale > 0, scale, 1.0)

    # -- network -------------------------------------------------------------------------

    def _conv_filters(self):
        """The front-end's filters: ``conv_filters`` resolved (``'auto'``: by length).

        Validates the parameter combination; the fitted network's front-end is
        ``conv_filters_``.
        """
        filters = self.conv_filters
        if isinstance(filters, str) and filters == "auto":
            return self._auto_conv_filters()
        if filters is None:
            return []
        filters = [filters] if isinstance(filters, numbers.Integral) else list(filters)
        if not filters or not all(
            isinstance(f, numbers.Integral) and not isinstance(f, bool) and f >= 1 for f in filters
        ):
            raise ValueError(f"conv_filters must be positive integers, got {self.conv_filters!r}")
        if self.output == "sequence":
            raise ValueError("output='sequence' cannot be combined with conv_filters")
        return [int(f) for f in filters]

    def _auto_conv_filters(self):
        """``conv_filters='auto'``: blocks of :data:`AUTO_CONV_FILTERS` filters, one per
        pooling, until at most :data:`AUTO_CONV_STEPS` steps reach the recurrent stack.

        None for ``output='sequence'`` (one output per input step), on the GPU path
        (no convolution kernels) and for sequences of at most ``AUTO_CONV_STEPS`` steps.
        """
        if self.output == "sequence" or resolve_device(self.device) == "cuda":
            return []
        k = self.conv_kernel_size
        length, blocks = int(self.n_timesteps_), 0
        while length > AUTO_CONV_STEPS and blocks < AUTO_CONV_MAX_BLOCKS:
            shorter = ((length + 2 * (k // 2) - k) // self.conv_stride + 1) // self.pool_size
            if not 1 <= shorter < length:
                break
            length, blocks = shorter, blocks + 1
        return [AUTO_CONV_FILTERS] * blocks

    def _network_spec(self, filters):
        """The network the parameters describe, without building it.

        ``(frontend, rnn, head)``: each layer a ``(class, size arguments)`` pair
        (``frontend`` a list of them), so that :meth:`_network_layout` can measure it
        from the layers' own ``parameter_layout`` and :meth:`_build_network` build it.
        """
        frontend, channels = [], self.n_step_features_
        for n_filters in filters:
            frontend.append((Conv1dBlock, {
                "in_channels": channels, "filters": n_filters,
                "kernel_size": self.conv_kernel_size, "stride": self.conv_stride,
                "padding": self.conv_kernel_size // 2, "pool_size": self.pool_size,
            }))  # fmt: skip
            channels = n_filters
        rnn = (LSTM if self.cell == "lstm" else GRU, {
            "input_size": channels, "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "bidirectional": self.bidirectional,
        })  # fmt: skip
        directions = 2 if self.bidirectional else 1
        head = (Linear, {"in_features": directions * self.hidden_size,
                         "out_features": self._n_outputs()})  # fmt: skip
        return frontend, rnn, head

    def _network_layout(self, filters):
        """``{state-dict key: ParameterSpec}`` of the network, nothing allocated."""
        frontend, (rnn_class, rnn_args), (head_class, head_args) = self._network_spec(filters)
        return SequenceModel.parameter_layout(
            rnn_class.parameter_layout(**rnn_args), head_class.parameter_layout(**head_args),
            [block_class.parameter_layout(**args) for block_class, args in frontend],
        )  # fmt: skip

    def _build_network(self, rng, filters):
        """``model_`` with a front-end of ``filters`` (its ``conv_filters_``)."""
        frontend, (rnn_class, rnn_args), (head_class, head_args) = self._network_spec(filters)
        blocks = [
            block_class(**args, dtype=self.dtype, random_state=rng)
            for block_class, args in frontend
        ]
        rnn = rnn_class(**rnn_args, dropout=self.dropout, dtype=self.dtype, random_state=rng)
        head = head_class(**head_args, dtype=self.dtype, random_state=rng)
        self.model_ = SequenceModel(rnn, head, output=self.output, frontend=blocks)
        self.conv_filters_ = [int(f) for f in filters]
        self._architecture = {name: getattr(self, name) for name in _ARCHITECTURE}

    def _make_optimizer(self):
        kwargs = {"lr": self.learning_rate}
        if self.weight_decay or self.optimizer == "adamw":
            kwargs["weight_decay"] = self.weight_decay
        return OPTIMIZERS[self.optimizer](self.model_.flat_params, self.model_.flat_grads, **kwargs)

    def _check_architecture_unchanged(self):
        changed = [
            f"{name}={getattr(self, name)!r} (fitted with {value!r})"
            for name, value in self._architecture.items()
            if getattr(self, name) != value
        ]
        if changed:
            raise ValueError(
                "warm_start / partial_fit continue training the fitted network, but these "
                "parameters changed: " + ", ".join(changed) + ". Refit with warm_start=False."
            )

    def _new_rng(self):
        """The training RandomState: shared by weights, shuffles, split and dropout."""
        rng = check_random_state(self.random_state)
        if isinstance(self.random_state, np.random.RandomState):
            return rng
        # an int or None: a private RandomState, so that refits repeat exactly
        return np.random.RandomState(rng.randint(np.iinfo(np.int32).max))

    # -- training --------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, on_epoch=None, validation_data=None):
        """Train on sequences ``X`` and targets ``y``; returns self.

        Parameters
        ----------
        X, y, sample_weight
            The training sequences, their targets and optional weights.
        on_epoch : callable, optional
            Called after every epoch with an :class:`~tsLSTM.estimators.EpochInfo`
            (progress bars, logging).
        validation_data : tuple, optional
            ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``, Keras-style:
            held-out data whose loss and score are recorded after every epoch
            (``validation_loss_curve_``, ``validation_scores_``). With
            ``early_stopping=True`` it replaces the random ``validation_fraction``
            split: training stops on its loss and keeps the best epoch's weights. A
            forecaster passes the latest windows in time here.

        With ``warm_start=True`` and a fitted network, training continues from it.
        """
        self._validate_params()
        with thread_limits(self.n_jobs):
            return self._fit(X, y, sample_weight, on_epoch=on_epoch,
                             validation_data=validation_data)  # fmt: skip

    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None, on_epoch=None,
             validation_data=None):  # fmt: skip
        """Validate, set up and train; a fit that raises changes nothing (transactional).

        A :class:`_Snapshot` of everything a fit may change is taken first; on any
        exception (bad input, a failure in the forward pass, Ctrl-C, a warning turned
        into an error) the estimator is put back exactly as it was: attributes,
        weights, optimizer state and random state.
        """
        snapshot = _Snapshot(self)
        try:
            with compile_notice(enabled=bool(self.verbose)):
                return self._fit_unguarded(
                    X, y, sample_weight, incremental, classes, on_epoch, validation_data
                )
        except BaseException:
            snapshot.restore(self)
            raise

    def _fit_unguarded(self, X, y, sample_weight, incremental, classes, on_epoch,
                       validation_data=None):  # fmt: skip
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        if issparse(y):
            raise ValueError(
                f"{type(self).__name__} needs dense targets, but y is a scipy.sparse "
                f"{type(y).__name__}; pass y.toarray()"
            )
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_call = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, y, lengths = self._validate_X(X, y, reset=first_call)
        self._conv_filters()  # parameter combinations, before anything changes
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        targets = self._encode_targets(y, first_call, classes, lengths, X, sample_weight)
        sample_weight = self._class_weighted(targets, sample_weight)
        with np.errstate(over="ignore"):  # huge weights: rescaled below
            positive = sample_weight.sum() > 0
        if not positive:
            raise ValueError("the sample weights (times class_weight) sum to zero")
        # The loss is a weighted mean (sum w_i l_i / sum w_i): dividing the weights by
        # their largest changes nothing but keeps huge weights from overflowing.
        sample_weight = sample_weight / sample_weight.max()
        device = resolve_device(self.device)
        if device == "cuda" and self._conv_filters():
            raise ValueError(
                "conv_filters needs device='cpu': the GPU path has no convolution kernels"
            )
        if first_call:
            self._learn_scaling(X, lengths)
        else:
            self._check_architecture_unchanged()
        X = self._standardise(X, lengths)
        rng = self._new_rng() if first_call else self._rng
        validation = None
        if validation_data is not None:
            validation = self._validation_set(validation_data)
        elif self.early_stopping:
            X, *validation, targets, sample_weight, lengths = self._split_validation(
                X, targets, sample_weight, lengths, rng
            )

        self._rng = rng
        if first_call:
            self._build_network(rng, self._conv_filters())
            self.loss_curve_ = []
            self.n_iter_ = 0
            self.t_ = 0
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None
            self.best_validation_loss_ = None
            self._optimizer = None
        self.model_.rnn.dropout = float(self.dropout)  # not architecture: may change
        if validation is not None:
            if self.validation_scores_ is None:
                self.validation_scores_ = []
            if getattr(self, "validation_loss_curve_", None) is None:  # older saved models
                self.validation_loss_curve_ = []
            # the best epoch is that of this fit: its validation data may differ
            self.best_validation_loss_ = np.inf
            self.best_validation_score_ = None
        self._best_params = None
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
        epochs = 1 if incremental else self.max_epochs
        loss = self._training_loss()
        baseline = self._constant_output_loss(loss, targets, sample_weight, lengths)
        trainer = make_trainer(
            device, X, targets, sample_weight, lengths, validation, model=self.model_,
            optimizer=self._optimizer, loss=loss, clip_grad_norm=self.clip_grad_norm,
            rng=self._rng, host_step=self._train_step,
        )  # fmt: skip
        try:
            diverged = self._fit_epochs(
                trainer, sample_weight, validation, epochs, incremental, on_epoch, baseline
            )
        finally:
            trainer.finish()
        if diverged:
            # the optimizer's moments come from the diverged steps (huge or not finite):
            # a later partial_fit starts a fresh optimizer (with the learning_rate of
            # then), as a fit always does
            self._optimizer = None
        if self._best_params is not None:
            self.model_.flat_params[...] = self._best_params  # the best epoch's weights
            self._best_params = None
        if validation is not None and not np.isfinite(self.best_validation_loss_):
            self.best_validation_loss_ = None  # no epoch had a finite validation loss
        return self

    def _validation_set(self, validation_data):
        """``validation_data`` -> ``(X_val, targets, weights, lengths)`` as trained on."""
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
                f"sample_weight_val), got {type(validation_data).__name__}"
                + (f" of length {len(validation_data)}" if hasattr(validation_data, "__len__")
                   else "")
            )  # fmt: skip
        X_val, y_val, *weight = validation_data
        try:
            X_val, y_val, lengths = self._validate_X(X_val, y_val, reset=False)
            targets = self._encode_targets(y_val, False, None, lengths, X_val)
            weight = _check_sample_weight(
                weight[0] if weight else None, X_val, dtype=np.float64, ensure_non_negative=True
            )
        except ValueError as exc:
            raise ValueError(f"validation_data: {exc}") from exc
        weight = self._class_weighted(targets, weight)
        if not weight.sum() > 0:
            raise ValueError("validation_data: the sample weights sum to zero")
        return self._standardise(X_val, lengths), targets, weight / weight.max(), lengths

    def _constant_output_loss(self, loss, targets, sample_weight, lengths):
        """The training loss of a network whose outputs are all 0 (a useless model).

        About 1 for standardised regression targets, ln 2 / ln K for classes: the scale
        against which :data:`DIVERGENCE_FACTOR` judges a runaway loss.
        """
        shape = (*targets.shape[: 2 if self.output == "sequence" else 1], self._n_outputs())
        with np.errstate(over="ignore", invalid="ignore"):
            value = loss(targets, np.zeros(shape, dtype=self.dtype), sample_weight, lengths)[0]
        return float(value) if np.isfinite(value) else 1.0

    def _partial_fit(self, X, y, sample_weight=None, classes=None, on_epoch=None):
        if not hasattr(self, "model_"):
            self._validate_params()
        with thread_limits(self.n_jobs):
            return self._fit(
                X, y, sample_weight, incremental=True, classes=classes, on_epoch=on_epoch
            )

    def _class_weighted(self, targets, sample_weight):
        return sample_weight

    def _split_validation(self, X, targets, sample_weight, lengths, rng):
        """``X_train, X_val, t_val, w_val, len_val, t_train, w_train, len_train``.

        Stratified by class where the data allow it. When ``validation_fraction`` of
        the samples is fewer than the classes (or leaves fewer training samples than
        classes), one sample per class is held out instead, if that is at most twice
        the samples asked for; else, and when a class has a single sample, the split is
        not stratified (holding out one of two samples of each of 52 classes halved
        the training data). Either adaptation warns.
        """
        n = X.shape[0]
        n_val = int(np.ceil(self.validation_fraction * n))
        stratify = self._stratify(targets)
        if stratify is not None:
            n_val, stratify = self._stratified_size(n, n_val, stratify)
        if n - n_val < 1 or n_val < 2:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} needs at "
                f"least 2 validation samples and 1 training sample; got {n} samples. Use more "
                "data, a larger validation_fraction, or early_stopping=False."
            )
        X_train, X_val, t_train, t_val, w_train, w_val, l_train, l_val = train_test_split(
            X, targets, sample_weight, lengths, test_size=n_val, random_state=rng,
            stratify=stratify,
        )  # fmt: skip
        return X_train, X_val, t_val, w_val, l_val, t_train, w_train, l_train

    def _stratified_size(self, n, n_val, labels):
        """``(n_val, labels or None)``: a validation size that stratifies, or no strata."""
        classes, counts = np.unique(labels, return_counts=True)
        k = len(classes)
        asked = f"validation_fraction={self.validation_fraction} of {n} samples"
        if counts.min() < 2:
            label = classes[counts.argmin()]
            label = self.classes_[label] if hasattr(self, "classes_") else label
            warnings.warn(
                f"early_stopping: class {label.item()!r} has a single sample, so "
                f"the {asked} is held out unstratified",
                UserWarning, stacklevel=6,
            )  # fmt: skip
            return n_val, None
        if k <= n_val <= n - k:
            return n_val, labels
        if 2 * k <= n and k <= 2 * n_val:
            warnings.warn(
                f"early_stopping: the {asked} ({n_val}) cannot hold out every one of the {k} "
                f"classes; holding out {k} samples, one per class",
                UserWarning, stacklevel=6,
            )  # fmt: skip
            return k, labels
        warnings.warn(
            f"early_stopping: a stratified split of {n} samples in {k} classes would hold "
            f"out {k} of them; holding out the {asked} ({n_val}) unstratified",
            UserWarning, stacklevel=6,
        )  # fmt: skip
        return n_val, None

    def _fit_epochs(
        self, trainer, sample_weight, validation, epochs, incremental, on_epoch=None,
        baseline=1.0,
    ):  # fmt: skip
        """Run up to ``epochs`` epochs; True if training diverged (and was stopped)."""
        model = self.model_
        n = sample_weight.shape[0]
        batch_size = min(self.batch_size, n)
        n_batches = -(-n // batch_size)
        total_weight = sample_weight.sum()
        objective = self._training_loss()
        no_improvement = stalled_steps = 0
        # the weights the lowest-loss epoch of this call started from: an epoch's loss
        # is measured on the weights it starts from and passes through, not on those
        # it ends with
        best_loss, best_start = np.inf, None
        for _ in range(epochs):
            start_time = time.perf_counter()
            order = self._rng.permutation(n)
            trainer.begin_epoch(order)
            last_good = model.flat_params.copy()
            epoch_loss = 0.0
            bar = ProgressBar(
                n_batches, f"epoch {self.n_iter_ + 1}", unit="batch",
                enabled=bool(self.verbose) and n_batches >= _PROGRESS_BAR_MIN_BATCHES,
            )  # fmt: skip
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                w = sample_weight[order[start:stop]]
                if w.sum() > 0:
                    loss = trainer.step(start, stop)
                    if loss is None:
                        bar.close()
                        return self._diverged(last_good, _OVERFLOW)
                    with np.errstate(over="ignore", invalid="ignore"):  # checked below
                        epoch_loss += loss * w.sum()
                bar.update()
            bar.close()
            if not trainer.end_epoch():
                return self._diverged(last_good, _OVERFLOW)
            with np.errstate(over="ignore", invalid="ignore"):
                epoch_loss = float(epoch_loss / total_weight)
            if not np.isfinite(epoch_loss):
                return self._diverged(last_good, f"the epoch's loss is {epoch_loss}")
            bound = diverged_loss_bound(self.best_loss_, baseline)
            if epoch_loss > bound:
                return self._diverged(
                    last_good if best_start is None else best_start,
                    f"the epoch's loss {epoch_loss:.4g} exceeds {DIVERGENCE_FACTOR:g} times "
                    f"max(best epoch loss, loss of a constant output, 1) = {bound:.4g}",
                    kept="the weights the best epoch of this fit started from"
                    if best_start is not None else None,
                )  # fmt: skip
            if epoch_loss < best_loss:
                best_loss, best_start = epoch_loss, last_good

            self.n_iter_ += 1
            self.t_ += n
            self.loss_curve_.append(epoch_loss)
            message = f"Epoch {self.n_iter_}: loss {self.loss_curve_[-1]:.6f}"
            score = None
            improved = self.loss_curve_[-1] < self.best_loss_ - self.tol
            if validation is not None:
                outputs = trainer.validation_outputs()
                score = self._validation_score(outputs, *validation[1:])
                _, targets, weights, lengths = validation
                with np.errstate(over="ignore", invalid="ignore"):
                    validation_loss = float(objective(targets, outputs, weights, lengths)[0])
                self.validation_scores_.append(score)
                self.validation_loss_curve_.append(validation_loss)
                message += f", validation loss {validation_loss:.6f}, score {score:.6f}"
                if self.early_stopping:
                    # Keras' rule: monitor the validation loss (smoother than accuracy
                    # on a small split), keep the weights of its best epoch
                    improved = validation_loss < self.best_validation_loss_ - self.tol
                if validation_loss < self.best_validation_loss_:
                    self.best_validation_loss_ = validation_loss
                    self.best_validation_score_ = score
                    if self.early_stopping:
                        self._best_params = model.flat_params.copy()
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            no_improvement = 0 if improved else no_improvement + 1
            stalled_steps = 0 if improved else stalled_steps + n_batches
            seconds = time.perf_counter() - start_time
            if self.verbose:
                print(f"{message}, {seconds:.2f} s", flush=True)
            if on_epoch is not None:
                on_epoch(EpochInfo(
                    epoch=self.n_iter_, max_epochs=epochs, loss=float(self.loss_curve_[-1]),
                    validation_score=None if score is None else float(score), seconds=seconds,
                    n_batches=n_batches, n_samples=n,
                ))  # fmt: skip
            if incremental:
                return False
            if no_improvement >= self.n_iter_no_change and stalled_steps >= MIN_PATIENCE_STEPS:
                if self.verbose:
                    on_validation = validation is not None and self.early_stopping
                    what = "Validation loss" if on_validation else "Training loss"
                    print(f"{what} did not improve more than tol={self.tol} for "
                          f"{self.n_iter_no_change} consecutive epochs. Stopping.")  # fmt: skip
                return False
        warnings.warn(
            f"{type(self).__name__}: max_epochs={self.max_epochs} reached and the "
            "optimization has not converged yet.",
            ConvergenceWarning,
            stacklevel=5,
        )
        return False

    def _train_step(self, X, targets, sample_weight, lengths):
        """One minibatch update on the host; returns the loss, or None if anything overflowed."""
        return train_step(
            self.model_, self._optimizer, self._training_loss(), self.clip_grad_norm, X,
            targets, sample_weight, lengths,
        )  # fmt: skip

    def _diverged(self, weights, reason, kept=None):
        """Stop training: keep ``weights`` (with early stopping, later the best epoch's).

        Returns True, what :meth:`_fit_epochs` returns when training diverged.
        """
        self.model_.flat_params[...] = weights
        self.model_.zero_grad()
        self.model_.clear_cache()
        kept = kept or "the weights from the start of that epoch"
        warnings.warn(
            f"{type(self).__name__}: training diverged in epoch {self.n_iter_ + 1} "
            f"({reason}); stopped and kept {kept} (or the best epoch's, with early "
            "stopping). Lower learning_rate or set clip_grad_norm.",
            TrainingDivergedWarning,
            stacklevel=6,
        )
        if not self.loss_curve_:
            self.loss_curve_.append(np.nan)
        return True

    # -- prediction ------------------------------------------------------------------------

    def _network_outputs(self, X):
        """``X`` -> raw network outputs (n, n_outputs) or (n, T, n_outputs), and lengths."""
        check_is_fitted(self, "model_")
        X, _, lengths = self._validate_X(X, reset=False)
        Z = self._standardise(X, lengths)
        device = resolve_device(self.device)
        outputs = network_outputs(device, self.model_, Z, lengths, self.n_jobs).astype(np.float64)
        if not np.all(np.isfinite(outputs)):
            raise RuntimeError(
                f"{type(self).__name__} produced non-finite outputs; the fitted weights are "
                "unusable (retrain with a lower learning_rate)"
            )
        return outputs, lengths

    # -- saved state (see _saving.SavedStateMixin) ----------------------------------------

    # Fitted attributes stored as JSON values / as arrays; the network's weights are
    # stored by state-dict key, and anything else is rebuilt on load.
    _saved_attributes = (
        "n_features_in_", "n_timesteps_", "n_step_features_", "n_iter_", "t_", "loss_curve_",
        "best_loss_", "validation_scores_", "best_validation_score_", "_variable_length",
        "validation_loss_curve_", "best_validation_loss_", "conv_filters_",
    )  # fmt: skip
    # saved attributes that files of older versions lack, and their value then
    _added_attributes = {"validation_loss_curve_": None, "best_validation_loss_": None}
    _saved_arrays = ("x_mean_", "x_scale_")

    def _fitted_state(self):
        attributes = {n: getattr(self, n) for n in self._saved_attributes if hasattr(self, n)}
        arrays = {f"param/{k}": v for k, v in self.model_.state_dict().items()}
        for name in self._saved_arrays:
            if getattr(self, name, None) is not None:
                arrays[f"attr/{name}"] = plain_array(name, getattr(self, name))
        return attributes, arrays, None

    def _restore_fitted_state(self, record, source):
        weights = {}
        for name, value in self._added_attributes.items():
            setattr(self, name, value)
        for name, value in record.attributes.items():
            if name not in self._saved_attributes:
                raise ValueError(f"{source}: unexpected attribute {name!r}")
            setattr(self, name, value)
        for name, value in record.arrays.items():
            kind, _, key = name.partition("/")
            if kind == "attr" and key in self._saved_arrays:
                setattr(self, key, value)
            elif kind == "param":
                weights[key] = value
            else:
                raise ValueError(f"{source}: unexpected member {name!r}")
        problems = self._restored_attribute_problems()
        if problems:
            raise ValueError(f"{source}: " + "; ".join(problems))
        try:
            # The parameters and attributes say how large the network is; check that
            # against the stored weights before building it, so that a small file
            # cannot make the loader allocate what it merely claims.
            filters = getattr(self, "conv_filters_", None)
            if filters is None:  # a file written before conv_filters_ was saved
                filters = self._conv_filters()
            mismatch = layout_mismatch(self._network_layout(filters), weights)
            if mismatch:
                raise ValueError(mismatch)
            self._rng = self._new_rng()
            self._best_params = None
            self._build_network(self._rng, filters)
            self.model_.load_state_dict(weights)
        except (AttributeError, KeyError, ValueError) as exc:
            raise ValueError(
                f"{source}: the stored network does not fit the estimator: {exc}"
            ) from exc
        self._optimizer = None

    def _restored_attribute_problems(self):
        """What is wrong with restored fitted attributes (type, shape, range); [] if none."""
        problems = AttributeChecks(self)
        for name in ("n_features_in_", "n_timesteps_", "n_step_features_"):
            problems.need(name, lambda v: is_int(v, 1), "a positive integer")
        for name in ("n_iter_", "t_"):
            problems.need(name, lambda v: is_int(v, 0), "a non-negative integer")
        problems.need("loss_curve_", lambda v: isinstance(v, list) and all(map(is_number, v)),
                      "a list of numbers")  # fmt: skip
        problems.need("best_loss_", is_number, "a number")
        problems.need("validation_scores_",
                      lambda v: v is None or (isinstance(v, list) and all(map(is_number, v))),
                      "None or a list of numbers")  # fmt: skip
        problems.need("validation_loss_curve_",
                      lambda v: v is None or (isinstance(v, list) and all(map(is_number, v))),
                      "None or a list of numbers")  # fmt: skip
        for name in ("best_validation_score_", "best_validation_loss_"):
            problems.need(name, lambda v: v is None or is_number(v), "None or a number")
        problems.need("_variable_length", lambda v: isinstance(v, bool), "a boolean")
        if hasattr(self, "conv_filters_"):  # absent from files of before 'auto'
            problems.need("conv_filters_", lambda v: isinstance(v, list) and len(v) <= 64
                          and all(is_int(f, 1) for f in v),
                          "a list of positive integers")  # fmt: skip
        if not problems:
            problems.vector("x_mean_", self.n_step_features_)
            problems.vector("x_scale_", self.n_step_features_, positive=True)
        return problems


def layout_mismatch(layout, weights):
    """How stored ``weights`` differ from a network ``layout``; "" if they match.

    ``layout`` is ``{key: ParameterSpec}`` (:meth:`SequenceModel.parameter_layout`),
    ``weights`` ``{key: array}``; only shapes are compared, nothing is allocated.
    """
    implied = sum(spec.size for spec in layout.values())
    stored = sum(int(np.size(value)) for value in weights.values())
    differences = [
        f"{key} has shape {tuple(np.shape(weights[key]))}, the parameters imply {spec.shape}"
        for key, spec in layout.items()
        if key in weights and tuple(np.shape(weights[key])) != spec.shape
    ]
    missing = [key for key in layout if key not in weights]
    extra = sorted(key for key in weights if key not in layout)
    if missing:
        differences.append(f"missing weights {missing[:5]}" + (" ..." if len(missing) > 5 else ""))
    if extra:
        differences.append(f"unexpected weights {extra[:5]}" + (" ..." if len(extra) > 5 else ""))
    if not differences:
        return ""
    return (
        f"the parameters and attributes imply {implied} weights, the file holds {stored}: "
        + "; ".join(differences[:6])
        + (" ..." if len(differences) > 6 else "")
    )


def _layout_hint(shape):
    """The warning for 3-D ``X`` that may be in aeon/sktime's channels-first layout."""
    return (
        f"X has shape (n, {shape[1]}, {shape[2]}): read as {shape[1]} time steps of "
        f"{shape[2]} features ((n_samples, n_timesteps, n_features)); if it is in "
        "aeon/sktime's (n_samples, n_channels, n_timesteps) layout, pass X.transpose(0, 2, 1)"
    )


def _ndim(values):
    """``np.ndim``, with a ragged nested list counted as a sequence (ndim 1)."""
    try:
        return np.ndim(values)
    except ValueError:
        return 1


def real_array(values, name, dtype=np.float64):
    """``values`` as a real array of ``dtype`` (None: as read); a ValueError naming
    ``name`` for ragged nesting, complex values, or (to a float ``dtype``) values that
    are not numbers, where numpy would give an obscure message or silently cast."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} is ragged: its rows have different lengths, so it is not an array ({exc})"
        ) from exc
    if array.dtype.kind == "c":
        raise ValueError(f"{name} must be real: Complex data not supported (dtype {array.dtype})")
    if dtype is None:
        return array
    if np.dtype(dtype).kind == "f" and array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got an array of dtype {array.dtype}")
    return array.astype(dtype, copy=False)


def _check_real(values, name):
    """ValueError for a ragged nested list (numpy's message would name no input) and for
    complex values (scikit-learn's message prints the whole array)."""
    if isinstance(values, (list, tuple)):
        real_array(values, name, dtype=None)
    elif getattr(getattr(values, "dtype", None), "kind", None) == "c":
        raise ValueError(f"{name} must be real: Complex data not supported (dtype {values.dtype})")


def step_mask(lengths, T):
    """``mask[i, t]``: step ``t`` of sequence ``i`` is valid (not padding)."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def padded_sequences(X):
    """Ragged or NaN-padded sequences -> (zero-padded float array, lengths or None).

    Accepts a list of arrays of different lengths (each (T_i,) or (T_i, F)) and 3-D
    arrays right-padded with NaN (a padded step is all-NaN, and only trailing steps may
    be padding). Anything else is returned unchanged with ``lengths=None``.
    """
    if isinstance(X, (list, tuple)) and len(X) and all(_ndim(x) >= 1 for x in X):
        sizes = {len(x) for x in X}
        if len(sizes) > 1:
            arrays = [real_array(x, f"X's sequence {i}") for i, x in enumerate(X)]
            arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
            if len({a.shape[1:] for a in arrays}) > 1 or arrays[0].ndim != 2:
                raise ValueError("sequences in X must all have the same number of features")
            if min(sizes) < 1:
                raise ValueError("X contains an empty sequence")
            padded = np.full((len(arrays), max(sizes), arrays[0].shape[1]), np.nan)
            for i, a in enumerate(arrays):
                padded[i, : len(a)] = a
            X = padded
    if not isinstance(X, np.ndarray) or X.ndim != 3 or X.dtype.kind != "f":
        return X, None
    nan = np.isnan(X)
    if not nan.any():
        return X, None
    padded_step = nan.all(axis=2)
    # the valid prefix ends before the trailing all-NaN steps
    trailing = np.argmin(padded_step[:, ::-1], axis=1)
    trailing[padded_step.all(axis=1)] = X.shape[1]
    lengths = X.shape[1] - trailing
    valid = step_mask(lengths, X.shape[1])
    if np.any(nan & valid[:, :, None]):
        raise ValueError(
            "X contains NaN outside trailing padding: only whole time steps at the end of "
            "a sequence may be NaN (padding of a shorter sequence)"
        )
    if lengths.min() < 1:
        raise ValueError("X contains a sequence with no valid time step (all NaN)")
    return np.where(valid[:, :, None], X, 0.0), lengths.astype(np.int64)
