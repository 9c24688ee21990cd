"""Convolutional front-end: Conv1d -> ReLU -> MaxPool1d blocks before the recurrent stack."""

import numpy as np
from sklearn.utils import check_random_state

from ..kernels.conv import (
    conv1d_relu_backward,
    conv1d_relu_forward,
    maxpool_backward,
    maxpool_forward,
)
from .module import Module, ParameterSpec, as_finite_array, check_dtype, check_positive_int


class Conv1dBlock(Module):
    """``MaxPool1d(pool_size)(ReLU(Conv1d(X)))`` on batch-first, channels-last input.

    Equal to ``torch.nn.Sequential(Conv1d(in_channels, filters, kernel_size, stride,
    padding), ReLU(), MaxPool1d(pool_size))`` applied to ``X.transpose(1, 2)``, with
    the same ``weight`` (filters, in_channels, kernel_size) and ``bias`` keys.

    Parameters
    ----------
    in_channels, filters, kernel_size : int
    stride : int, default=1
    padding : int, default=0
        Zeros added at both ends of the time axis.
    pool_size : int, default=1
        Max-pooling window and stride (1: no pooling).
    dtype : {np.float32, np.float64}, default=np.float32
    random_state : int, RandomState instance or None
        Seeds PyTorch's initialisation, ``U(-1/sqrt(in_channels * kernel_size), ...)``.
    """

    def __init__(self, in_channels, filters, kernel_size, stride=1, padding=0, pool_size=1,
                 dtype=np.float32, random_state=None):  # fmt: skip
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.stride = check_positive_int(stride, "stride")
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"padding must be a non-negative integer, got {padding!r}")
        self.padding = int(padding)
        self.pool_size = check_positive_int(pool_size, "pool_size")
        self.dtype = check_dtype(dtype)
        self._rng = check_random_state(random_state)
        self._cache = None
        self._allocate()
        bound = 1.0 / np.sqrt(self.in_channels * self.kernel_size)
        for spec in self._parameter_specs():
            spec.assign(self._params[spec.name], self._rng.uniform(-bound, bound, spec.shape))

    @staticmethod
    def parameter_layout(in_channels, filters, kernel_size, stride=1, padding=0, pool_size=1):
        """The :class:`ParameterSpec` s of a block of these sizes, without building it
        (``stride``, ``padding`` and ``pool_size`` hold no parameters)."""
        return [
            ParameterSpec("weight", (filters, in_channels, kernel_size)),
            ParameterSpec("bias", (filters,)),
        ]

    def _parameter_specs(self):
        return self.parameter_layout(self.in_channels, self.filters, self.kernel_size)

    def output_length(self, length):
        """Steps out of the block for ``length`` steps in (array-friendly)."""
        conv = (np.asarray(length) + 2 * self.padding - self.kernel_size) // self.stride + 1
        return conv // self.pool_size

    def forward(self, X):
        """``(B, L, in_channels)`` -> ``(B, output_length(L), filters)``."""
        X = as_finite_array(X, "X", self.dtype)
        if X.ndim != 3 or X.shape[2] != self.in_channels:
            raise ValueError(
                f"Conv1dBlock expects (batch, time, {self.in_channels}) input, got {X.shape}"
            )
        B, L, C = X.shape
        if self.output_length(L) < 1:
            raise ValueError(
                f"sequences of {L} steps are too short for kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, pool_size={self.pool_size}"
            )
        Xp = np.zeros((B, L + 2 * self.padding, C), dtype=self.dtype)
        Xp[:, self.padding : self.padding + L] = X
        L_conv = (L + 2 * self.padding - self.kernel_size) // self.stride + 1
        K = self.kernel_size
        W2 = self._params["weight"].reshape(self.filters, C * K)
        cols = np.empty((B * L_conv, C * K), dtype=self.dtype)
        Y = np.empty((B, L_conv, self.filters), dtype=self.dtype)
        conv1d_relu_forward(Xp, W2, self._params["bias"], K, self.stride, cols, Y)
        if self.pool_size == 1:
            self._cache = (X.shape, cols, Y, None)
            return Y
        L_pool = L_conv // self.pool_size
        P = np.empty((B, L_pool, self.filters), dtype=self.dtype)
        argmax = np.empty((B, L_pool, self.filters), dtype=np.int64)
        maxpool_forward(Y, self.pool_size, P, argmax)
        self._cache = (X.shape, cols, Y, argmax)
        return P

    def backward(self, dP):
        """Accumulate the parameter gradients; return ``dX``."""
        if self._cache is None:
            raise RuntimeError("Conv1dBlock.backward needs a forward pass first")
        (B, L, C), cols, Y, argmax = self._cache
        self._cache = None
        dP = as_finite_array(dP, "dP", self.dtype)
        if argmax is None:
            dY = dP.copy()
        else:
            dY = np.empty_like(Y)
            maxpool_backward(np.ascontiguousarray(dP), argmax, dY)
        K = self.kernel_size
        W2 = self._params["weight"].reshape(self.filters, C * K)
        dW2 = self._grads["weight"].reshape(self.filters, C * K)
        dXp = np.empty((B, L + 2 * self.padding, C), dtype=self.dtype)
        conv1d_relu_backward(dY, Y, cols, W2, K, self.stride, dW2, self._grads["bias"], dXp)
        return dXp[:, self.padding : self.padding + L]

    def _clear_own_cache(self):
        self._cache = None

    def __repr__(self):
        return (
            f"Conv1dBlock({self.in_channels}, {self.filters}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, pool_size={self.pool_size})"
        )
