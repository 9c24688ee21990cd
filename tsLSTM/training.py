"""The engines that train and run a network, and the one place that picks them.

An estimator calls :func:`make_trainer` for its training loop and
:func:`network_outputs` for its predictions, with the device already resolved
(:func:`tsLSTM.devices.resolve_device`); neither it nor :mod:`tsLSTM.nn` knows more
of devices. ``'cpu'`` gets the host engine here (minibatches sliced from host
arrays, the network's ``forward`` / ``backward`` and the optimizer's ``step``),
``'cuda'`` the device engine of :mod:`tsLSTM.gpu` (imported on first use only).

Both trainers have the same methods, called by the estimator's epoch loop:
``begin_epoch(order)``, ``step(start, stop)`` (one update on ``order[start:stop]``;
the loss, or None if anything overflowed), ``end_epoch()`` (False if the last
update overflowed), ``validation_outputs()`` and ``finish()``.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._threads import chunk_threads
from .kernels.optim import sum_of_squares
from .optim import clip_grad_norm as _clip_grad_norm

__all__ = ["HostTrainer", "Loss", "make_trainer", "network_outputs", "train_step"]


class Loss(NamedTuple):
    """A training loss, described once for both engines.

    Attributes
    ----------
    function : callable
        ``(targets, outputs, sample_weight) -> (value, d_outputs)`` on host arrays
        (see :mod:`tsLSTM.losses`).
    kernel : str
        The same loss among the GPU loss kernels (:mod:`tsLSTM.kernels.gpu.losses`):
        ``'mse'``, ``'bce'`` or ``'softmax_ce'``.
    sequence : bool
        One target per time step (``output='sequence'``): padded steps get no loss.
    """

    function: Callable
    kernel: str
    sequence: bool = False

    def __call__(self, targets, outputs, sample_weight, lengths):
        """``(value, d_outputs)``; with ``sequence`` over the valid steps of every sequence."""
        if not self.sequence:
            return self.function(targets, outputs, sample_weight)
        valid = np.arange(outputs.shape[1])[None, :] < np.asarray(lengths)[:, None]
        weights = np.broadcast_to(sample_weight[:, None], valid.shape)[valid]
        loss, d_valid = self.function(targets[valid], outputs[valid], weights)
        d_outputs = np.zeros_like(outputs)
        d_outputs[valid] = d_valid
        return loss, d_outputs


def train_step(model, optimizer, loss, clip_grad_norm, X, targets, sample_weight, lengths):
    """One minibatch update on the host; returns the loss, or None if anything overflowed.

    Parameters
    ----------
    model : SequenceModel
    optimizer : Optimizer
        Bound to ``model``'s flat buffers.
    loss : Loss
    clip_grad_norm : float or None
        Largest gradient norm (see :func:`tsLSTM.optim.clip_grad_norm`).
    X, targets, sample_weight, lengths : ndarray
        The minibatch.
    """
    model.zero_grad()
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = model.forward(X, training=True, lengths=lengths)
        if not np.all(np.isfinite(outputs)):
            return None
        value, d_outputs = loss(targets, outputs, sample_weight, lengths)
        if not np.isfinite(value):
            return None
        try:
            model.backward(d_outputs, input_grad=False)
        except FloatingPointError:
            return None
        if clip_grad_norm is None:
            norm = np.sqrt(sum_of_squares(model.flat_grads))
        else:
            norm = _clip_grad_norm(model.flat_grads, clip_grad_norm)
        if not np.isfinite(norm):
            return None
        optimizer.step()
        if not np.all(np.isfinite(model.flat_params)):
            return None
    return value


class HostTrainer:
    """The CPU side of the training loop: minibatches sliced from host arrays.

    Parameters
    ----------
    model : SequenceModel
    step : callable
        ``(X, targets, sample_weight, lengths) -> loss or None``: one minibatch
        update (:func:`train_step` with the model, optimizer, loss and clipping
        bound).
    X, targets, sample_weight, lengths : ndarray
        The training data (see :class:`tsLSTM.gpu.training.DeviceTrainer`).
    validation : tuple or None
        ``(X_val, targets_val, weight_val, lengths_val)``.
    """

    def __init__(self, model, step, X, targets, sample_weight, lengths, validation=None):
        self.model, self.update = model, step
        self.X, self.targets, self.lengths = X, targets, lengths
        self.sample_weight = sample_weight
        self.validation = validation

    def begin_epoch(self, order):
        self.order = order

    def step(self, start, stop):
        """One update on ``order[start:stop]``; the loss, or None if anything overflowed."""
        idx = self.order[start:stop]
        return self.update(
            self.X[idx], self.targets[idx], self.sample_weight[idx], self.lengths[idx]
        )

    def end_epoch(self):
        self.model.clear_cache()
        return True

    def validation_outputs(self):
        X, _, _, lengths = self.validation
        return self.model.predict(X, lengths=lengths)

    def finish(self):
        pass


def make_trainer(
    device, X, targets, sample_weight, lengths, validation=None, *, model, optimizer, loss,
    clip_grad_norm, rng, host_step,
):  # fmt: skip
    """The trainer of ``model`` on ``device`` (``'cpu'`` or ``'cuda'``, already resolved).

    Parameters
    ----------
    device : {'cpu', 'cuda'}
    X : ndarray (n, T, F)
        Standardised training sequences (network dtype), zero-padded.
    targets : ndarray
        Network targets: (n, K) float or (n,) class indices; with a ``sequence``
        loss one per step, (n, T, K) or (n, T).
    sample_weight : ndarray (n,)
    lengths : ndarray of int64 (n,)
    validation : tuple or None
        ``(X_val, targets_val, weight_val, lengths_val)``.
    model : SequenceModel
    optimizer : Optimizer
        Bound to ``model``'s flat buffers; its state is updated on either device.
    loss : Loss
    clip_grad_norm : float or None
    rng : RandomState
        The training random state; the GPU draws its dropout seed from it.
    host_step : callable
        The host's minibatch update, ``(X, targets, sample_weight, lengths) -> loss
        or None`` (:func:`train_step` with the other arguments bound).
    """
    if device == "cuda":
        from .gpu.training import DeviceTrainer

        return DeviceTrainer(
            X, targets, sample_weight, lengths, validation, model=model, optimizer=optimizer,
            loss=loss.kernel, clip_grad_norm=clip_grad_norm, rng=rng,
        )  # fmt: skip
    return HostTrainer(model, host_step, X, targets, sample_weight, lengths, validation)


def network_outputs(device, model, X, lengths, n_jobs=None):
    """``model``'s outputs for batch-major ``X`` (n, T, F) on ``device`` (host array).

    On the CPU the inference kernels run in ``n_jobs`` threads (they call no BLAS).
    """
    if device == "cuda":
        from .gpu.model import DeviceSequenceModel

        return DeviceSequenceModel(model).predict(X, lengths=lengths)
    with chunk_threads(n_jobs):
        return model.predict(X, lengths=lengths)
