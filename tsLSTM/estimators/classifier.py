"""LSTMClassifier: recurrent network + logits head trained with cross-entropy."""

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ..losses import binary_cross_entropy_with_logits, softmax_cross_entropy_with_logits
from ._base import BaseRecurrentEstimator, step_mask
from .regressor import _DOC_ATTRIBUTES, _DOC_PARAMETERS


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class LSTMClassifier(ClassifierMixin, BaseRecurrentEstimator):
    __doc__ = (
        """Recurrent network classifier (LSTM or GRU) with a cross-entropy loss.

    Two classes: one logit, sigmoid and binary cross-entropy. More: one logit per
    class, softmax and cross-entropy. Labels may be of any type (strings too).
    ``X`` is 2-D ``(n_samples, n_timesteps)`` for univariate sequences or 3-D
    ``(n_samples, n_timesteps, n_features)``, standardised per feature inside.
    """
        + _DOC_PARAMETERS
        + """    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss, multiplied into ``sample_weight``:
        ``{label: weight}``, or 'balanced' for ``n_samples / (n_classes * count)``.
    """
        + _DOC_ATTRIBUTES
        + """    classes_ : ndarray of shape (n_classes,)
        Class labels.
    """
    )

    _parameter_constraints = {
        **BaseRecurrentEstimator._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
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
        class_weight=None,
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
        self.class_weight = class_weight

    def partial_fit(self, X, y, classes=None, sample_weight=None, on_epoch=None):
        """One epoch over ``(X, y)``, continuing from the current weights.

        ``classes`` (all labels that will ever appear) is required on the first call.
        ``on_epoch`` is called with the epoch's :class:`~tsLSTM.estimators.EpochInfo`.
        """
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._partial_fit(X, y, sample_weight, classes, on_epoch=on_epoch)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns as ``classes_``.

        With ``output='sequence'``: (n_samples, n_timesteps, n_classes), or a list of
        per-sequence arrays for sequences of different lengths.
        """
        logits, lengths = self._network_outputs(X)
        if len(self.classes_) == 2:
            p = _sigmoid(logits[..., 0])
            proba = np.stack([1.0 - p, p], axis=-1)
        else:
            proba = _softmax(logits)
        return proba if self.output == "last" else self._per_sequence(proba, lengths)

    def predict(self, X):
        """Most probable class of every sequence (of every step with 'sequence')."""
        logits, lengths = self._network_outputs(X)
        labels = self.classes_[self._predict_indices(logits)]
        return labels if self.output == "last" else self._per_sequence(labels, lengths)

    def score(self, X, y, sample_weight=None):
        """Accuracy (over every valid step with ``output='sequence'``)."""
        if self.output == "last":
            return super().score(X, y, sample_weight)
        actual, predicted, weights = self._step_pairs(X, y, sample_weight, object)
        return float(np.average(predicted == actual, weights=weights))

    def _predict_indices(self, logits):
        if logits.shape[-1] == 1:
            return (logits[..., 0] > 0).astype(np.intp)
        return logits.argmax(axis=-1)

    # -- hooks -----------------------------------------------------------------------------

    def _encode_targets(self, y, first_call, classes, lengths, X=None, sample_weight=None):
        if self.output == "sequence":
            if self.class_weight is not None:
                raise ValueError("class_weight is not supported with output='sequence'")
            per_step = self._per_step_targets(y, lengths, None)
            valid = step_mask(lengths, per_step.shape[1])
            encoded = np.zeros(valid.shape, dtype=np.intp)
            encoded[valid] = self._encode_labels(per_step[valid], first_call, classes)
            return encoded
        y = column_or_1d(y, warn=True)
        return self._encode_labels(y, first_call, classes)

    def _encode_labels(self, y, first_call, classes):
        check_classification_targets(y)
        if first_call:
            labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(labels) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes to train, but "
                    f"the data contains only one class: {labels.tolist()[0]!r}"
                )
            self.classes_ = labels
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the classes of the first "
                f"partial_fit call {self.classes_.tolist()}"
            )
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not seen in the first fit: {unseen.tolist()} "
                f"(known classes: {self.classes_.tolist()})"
            )
        if isinstance(self.class_weight, dict):
            unknown = [k for k in self.class_weight if k not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(f"class_weight has labels that are not classes: {unknown}")
            for label, weight in self.class_weight.items():
                if not (isinstance(weight, numbers.Real) and np.isfinite(weight) and weight >= 0):
                    raise ValueError(
                        f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}"
                    )
        return np.searchsorted(self.classes_, y)

    def _class_weighted(self, targets, sample_weight):
        if self.class_weight is None:
            return sample_weight
        n_classes = len(self.classes_)
        if self.class_weight == "balanced":
            counts = np.bincount(targets, minlength=n_classes)
            weights = len(targets) / (n_classes * np.maximum(counts, 1))
        else:
            weights = np.array([self.class_weight.get(c, 1.0) for c in self.classes_.tolist()])
        return sample_weight * weights[targets]

    def _stratify(self, targets):
        return targets if self.output == "last" else None

    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _loss(self, targets, outputs, sample_weight):
        if outputs.shape[-1] == 1:
            return binary_cross_entropy_with_logits(targets[:, None], outputs, sample_weight)
        return softmax_cross_entropy_with_logits(targets, outputs, sample_weight)

    def _device_loss(self):
        return "bce" if len(self.classes_) == 2 else "softmax_ce"

    def _validation_score(self, outputs, targets, sample_weight, lengths):
        predicted = self._predict_indices(outputs)
        if self.output == "sequence":
            valid = step_mask(lengths, outputs.shape[1])
            sample_weight = np.broadcast_to(sample_weight[:, None], valid.shape)[valid]
            predicted, targets = predicted[valid], targets[valid]
        return float(np.average(predicted == targets, weights=sample_weight))

    # -- saved state -----------------------------------------------------------------------

    _saved_arrays = (*BaseRecurrentEstimator._saved_arrays, "classes_")

    def _restored_attribute_problems(self):
        problems = super()._restored_attribute_problems()
        problems.need("classes_", lambda v: isinstance(v, np.ndarray) and v.ndim == 1
                      and len(v) >= 2 and np.array_equal(np.unique(v), v),
                      "a sorted array of at least 2 distinct labels")  # fmt: skip
        return problems
