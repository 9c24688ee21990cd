"""Minibatch training of an estimator's network on the device.

The training data, sample weights, lengths and targets are uploaded once per fit;
each epoch uploads only the shuffled order (n integers) and each minibatch is
gathered on the device. One small read-back per minibatch (the loss, the squared
gradient norm and the non-finite flag) decides clipping and divergence on the host,
as in the host loop of :mod:`tsLSTM.training`, which creates this trainer.
"""

import math

import numpy as np
from numba import cuda

from ..kernels.gpu import linalg
from ..kernels.gpu import losses as loss_kernels
from ..kernels.gpu import optim as optim_kernels
from ..kernels.gpu._launch import grid_1d
from .model import DeviceSequenceModel
from .optim import DeviceOptimizer


class DeviceTrainer:
    """Trains ``model`` with ``optimizer``'s rule on the GPU.

    The arguments are those of :func:`tsLSTM.training.make_trainer`, with ``loss``
    the name of the GPU loss kernel.

    Parameters
    ----------
    X : ndarray (n, T, F)
        Standardised training sequences (network dtype), zero-padded.
    targets : ndarray
        Network targets: (n, K) float or (n,) class indices; with
        ``output='sequence'`` one per step, (n, T, K) or (n, T).
    sample_weight : ndarray (n,)
    lengths : ndarray of int64 (n,)
    validation : tuple or None
        ``(X_val, targets_val, weight_val, lengths_val)``, uploaded once too.
    model : SequenceModel
    optimizer : Optimizer
        Bound to ``model``'s flat buffers; its state is uploaded and copied back.
    loss : {'mse', 'bce', 'softmax_ce'}
        The loss kernel (:mod:`tsLSTM.kernels.gpu.losses`).
    clip_grad_norm : float or None
    rng : RandomState
        Draws the seed of the dropout masks (only with dropout between layers).
    """

    def __init__(
        self, X, targets, sample_weight, lengths, validation=None, *, model, optimizer, loss,
        clip_grad_norm, rng,
    ):  # fmt: skip
        self.model = DeviceSequenceModel(model)
        self.dtype = self.model.dtype
        self.clip_grad_norm = clip_grad_norm
        buffers = self.model.buffers
        self.optimizer = DeviceOptimizer(optimizer, buffers.params, buffers.grads)
        n, T = X.shape[:2]
        self.steps = T if self.model.sequence else 0
        self.X = cuda.to_device(np.ascontiguousarray(X, dtype=self.dtype))
        kind = loss
        flat = targets.reshape(n * T, -1) if self.steps else targets
        if kind == "mse":
            flat = flat.reshape(flat.shape[0], -1).astype(np.float64)
        else:
            flat = flat.reshape(-1).astype(np.int64)
        self.targets = cuda.to_device(np.ascontiguousarray(flat))
        self.weights = cuda.to_device(np.ascontiguousarray(sample_weight, dtype=np.float64))
        self.sample_weight = sample_weight
        self.lengths_host = np.ascontiguousarray(lengths, dtype=np.int64)
        self.lengths = cuda.to_device(self.lengths_host)
        self.loss = loss_kernels.kernels(self.dtype)[kind]
        self.scalars = linalg.zeros(3, np.float64)  # loss, squared grad norm, non-finite flag
        # Dropout masks come from the device's generator, seeded from the training
        # random state; without dropout nothing is drawn, so the shuffles (and the
        # whole fit) equal the CPU's.
        self.seed = 0
        if model.rnn.dropout and model.rnn.num_layers > 1:
            self.seed = int(rng.randint(np.iinfo(np.int32).max))
        self.validation = None
        if validation is not None:
            X_val, _, _, lengths_val = validation
            X_tm = np.ascontiguousarray(X_val.transpose(1, 0, 2), dtype=self.dtype)
            self.validation = (cuda.to_device(X_tm), cuda.to_device(lengths_val.astype(np.int64)))
        self._batches = {}

    def begin_epoch(self, order):
        self.order_host = order
        self.order = cuda.to_device(np.ascontiguousarray(order, dtype=np.int64))

    def _batch(self, size):
        """Preallocated time-major batch and lengths buffers, reused across batches."""
        if size not in self._batches:
            T, F = self.X.shape[1], self.X.shape[2]
            self._batches[size] = (
                cuda.device_array((T, size, F), dtype=self.dtype),
                cuda.device_array(size, dtype=np.int64),
            )
        return self._batches[size]

    def step(self, start, stop):
        """One update on ``order[start:stop]``; the loss, or None if anything overflowed."""
        Xb, lengths_b = self._batch(stop - start)
        linalg.gather_batch(self.X, self.order, start, self.lengths, Xb, lengths_b)
        self.model.buffers.zero_grad()
        out = self.model.forward(Xb, lengths_b, training=True, seed=self.seed)
        grad = cuda.device_array(out.shape, dtype=self.dtype)
        idx = self.order_host[start:stop]
        weights = self.sample_weight[idx]
        if self.steps:
            weights = weights * np.minimum(self.lengths_host[idx], self.steps)
        inv_weight_sum = 1.0 / weights.sum()
        linalg.fill(self.scalars[:2], 0)
        blocks, threads = grid_1d(out.shape[0])
        self.loss[blocks, threads](
            out, self.targets, self.weights, self.lengths, self.order, start, self.steps,
            inv_weight_sum, grad, self.scalars,
        )  # fmt: skip
        self.model.backward(grad)
        optim_kernels.sum_of_squares(self.model.buffers.grads, self.scalars[1:2])
        loss, sum_sq, non_finite = self.scalars.copy_to_host()
        norm = math.sqrt(sum_sq)
        if non_finite or not (math.isfinite(loss) and math.isfinite(norm)):
            return None
        clip = 1.0
        if self.clip_grad_norm is not None:
            clip = min(float(self.clip_grad_norm) / (norm + 1e-6), 1.0)
        self.optimizer.step(clip, self.scalars[2:])
        return loss

    def end_epoch(self):
        """Copy the parameters to the host; False if the last update overflowed."""
        if self.scalars.copy_to_host()[2]:
            return False
        self.model.buffers.download()
        return True

    def validation_outputs(self):
        """Network outputs on the validation sequences (host array)."""
        return self.model.predict_device(*self.validation)

    def finish(self):
        """Copy the optimizer state back to the host optimizer."""
        self.optimizer.download()
