"""A :class:`~tsLSTM.nn.SequenceModel` (recurrent stack + dense head) on the device."""

import numpy as np
from numba import cuda

from ..kernels.gpu import linalg
from ._views import DeviceBuffers
from .recurrent import DeviceRecurrent


class DeviceSequenceModel:
    """Forward, backward and prediction of a host ``SequenceModel`` on the GPU.

    The parameters are uploaded at construction and copied back by
    ``buffers.download()``; gradients accumulate in a device buffer.

    Parameters
    ----------
    model : SequenceModel
        Without a convolutional front-end (the GPU path has no convolution kernels).
    """

    def __init__(self, model):
        if model.frontend:
            raise ValueError(
                "the GPU path has no convolution kernels: a model with a convolutional "
                "front-end (conv_filters) runs on device='cpu' only"
            )
        self.model = model
        self.dtype = np.dtype(model.dtype)
        self.buffers = DeviceBuffers(model)
        p, g = self.buffers.p, self.buffers.g
        self.rnn = DeviceRecurrent(model.rnn, p, g, prefix="rnn.")
        self.W, self.b = p["head.weight"], p["head.bias"]  # W stored as (in, out)
        self.dW, self.db = g["head.weight"], g["head.bias"]
        self.sequence = model.output == "sequence"
        self._features = None

    def forward(self, X, lengths, training=False, seed=0):
        """Outputs for time-major device ``X`` (T, B, I): (B, K), or (T*B, K) time-major
        rows for ``output='sequence'``."""
        T, B, _ = X.shape
        rnn = self.rnn
        DH = rnn.D * rnn.H
        Y = rnn.forward(X, lengths, training=training, seed=seed)
        if self.sequence:
            features = Y.reshape(T * B, DH)
        else:
            features = cuda.device_array((B, DH), dtype=self.dtype)
            for direction in range(rnn.D):
                h_n = rnn.final_state(rnn.L - 1, direction)
                linalg.copy_columns(h_n, 0, features, direction * rnn.H, rnn.H)
        out = cuda.device_array((features.shape[0], self.W.shape[1]), dtype=self.dtype)
        linalg.matmul(features, self.W, out, bias=self.b)
        self._features = features
        return out

    def backward(self, d_out):
        """Backpropagate ``d_out`` (the outputs' gradient) into the gradient buffer."""
        features, self._features = self._features, None
        rnn = self.rnn
        linalg.matmul(features, d_out, self.dW, trans_a=True, accumulate=True)
        linalg.add_column_sums(d_out, self.db)
        d_features = cuda.device_array(features.shape, dtype=self.dtype)
        linalg.matmul(d_out, self.W, d_features, trans_b=True)
        if self.sequence:
            T = rnn.cache[0][0].shape[0]
            rnn.backward(d_features.reshape(T, features.shape[0] // T, features.shape[1]))
            return
        B = features.shape[0]
        d_h_n = linalg.zeros((rnn.L * rnn.D, B, rnn.H), self.dtype)
        for direction in range(rnn.D):
            top = (rnn.L - 1) * rnn.D + direction
            linalg.copy_columns(d_features, direction * rnn.H, d_h_n[top], 0, rnn.H)
        rnn.backward(None, d_h_n)

    def predict_device(self, X, lengths):
        """Outputs for a time-major device batch, copied to the host: (B, K) or (B, T, K)."""
        T, B, _ = X.shape
        out = self.forward(X, lengths).copy_to_host()
        self.rnn.cache = None
        self._features = None
        if self.sequence:
            return out.reshape(T, B, -1).transpose(1, 0, 2)
        return out

    def predict(self, X, lengths=None, batch_size=4096):
        """Outputs for host ``X`` (n, T, I), batch-major, in batches of ``batch_size``."""
        n, T, _ = X.shape
        if lengths is None:
            lengths = np.full(n, T, dtype=np.int64)
        chunks = []
        for start in range(0, n, batch_size):
            part = np.ascontiguousarray(X[start : start + batch_size].transpose(1, 0, 2))
            d_lengths = cuda.to_device(np.asarray(lengths[start : start + batch_size], np.int64))
            chunks.append(self.predict_device(cuda.to_device(part.astype(self.dtype)), d_lengths))
        return np.concatenate(chunks, axis=0)
