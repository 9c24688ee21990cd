"""The layers of :mod:`tsLSTM.nn` with a ``device`` argument: ``tsLSTM.gpu.LSTM`` / ``GRU``.

With ``device='cpu'`` (or ``'auto'`` without a GPU) they are exactly
:class:`tsLSTM.nn.LSTM` and :class:`tsLSTM.nn.GRU`. On the GPU a layer keeps its
parameters and gradients in its host buffers (so ``state_dict``, optimizers and
pickling work unchanged): each forward pass uploads the parameters, runs the device
engine (:class:`~tsLSTM.gpu.recurrent.DeviceRecurrent`) and returns host arrays;
the matching backward pass adds the device gradients into ``flat_grads``.
Estimators avoid the per-call copies by training through :mod:`tsLSTM.gpu.training`.
"""

import numpy as np

from ..devices import resolve_device
from ..nn import recurrent as nn

__all__ = ["GRU", "LSTM"]


def _to_device(array):
    from numba import cuda

    return None if array is None else cuda.to_device(np.ascontiguousarray(array))


class _OnDevice:
    """Runs an :mod:`tsLSTM.nn` layer's passes on the device its ``device`` resolves to."""

    _on_cuda = False

    def _check_device(self, device):
        self._on_cuda = resolve_device(device) == "cuda"

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("_on_cuda"):
            state["_cache"] = None  # device arrays of a pending backward pass
        return state

    def __setstate__(self, state):
        if state.get("_on_cuda"):
            state["_on_cuda"] = resolve_device(state["device"]) == "cuda"
        super().__setstate__(state)

    def _run_forward(self, X, h0, c0, training, lengths, keep_output):
        """Time-major forward (see :meth:`tsLSTM.nn.LSTM._run_forward`), on the device.

        The cache of the pass is ``(buffers, engine)``: the device parameter and
        gradient buffers and the :class:`DeviceRecurrent` that ran it.
        """
        if not self._on_cuda:
            return super()._run_forward(X, h0, c0, training, lengths, keep_output)
        from ._views import DeviceBuffers  # numba.cuda only once a GPU is used
        from .recurrent import DeviceRecurrent

        buffers = DeviceBuffers(self)
        engine = DeviceRecurrent(self, buffers.p, buffers.g)
        seed = int(self._rng.randint(np.iinfo(np.int32).max)) if training and self.dropout else 0
        Y = engine.forward(
            _to_device(X), _to_device(lengths), _to_device(h0), _to_device(c0), training, seed
        )
        h_n, c_n = engine.final_states()
        self._cache = (buffers, engine)
        c_n = None if c_n is None else c_n.copy_to_host()
        return Y.copy_to_host(), h_n.copy_to_host(), c_n

    def _run_backward(self, d_output, d_h_n, d_c_n, input_grad):
        """Time-major backward of the last device forward pass: ``dX, dh0, dc0`` (host)."""
        if not self._on_cuda:
            return super()._run_backward(d_output, d_h_n, d_c_n, input_grad)
        if d_output is None:
            d_output = np.zeros(self._shapes[1], dtype=self.dtype)
        (buffers, engine), self._cache = self._cache, None
        dX, dh0, dc0 = engine.backward(_to_device(d_output), _to_device(d_h_n), _to_device(d_c_n))
        buffers.add_grads_to_host()
        dc0 = None if dc0 is None else dc0.copy_to_host()
        return (dX.copy_to_host() if input_grad else None), dh0.copy_to_host(), dc0

    def infer(self, X, return_sequences=False, lengths=None):
        if not self._on_cuda:
            return super().infer(X, return_sequences, lengths)
        output, h_n, _ = self._forward(X, None, None, False, lengths)
        self._cache = None
        if return_sequences:
            return output
        return h_n[-1] if self.num_directions == 1 else np.concatenate(h_n[-2:], axis=1)

    infer.__doc__ = nn._Recurrent.infer.__doc__


_DEVICE_DOC = """
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where forward and backward run. With 'cuda' (an NVIDIA GPU and
        ``tsLSTM[cuda]``; ``DeviceUnavailableError`` otherwise) each call copies the
        parameters to the GPU and returns host arrays, with gradients added into
        ``flat_grads``; 'auto' picks the GPU when present. Results equal the CPU's to
        rounding; dropout masks come from the GPU's own random stream.
"""


def _doc(cls):
    head, _, tail = cls.__doc__.partition("    device : {'cpu'}")
    return head + _DEVICE_DOC.lstrip("\n") + tail[tail.index("\n    Attributes") :]


class LSTM(_OnDevice, nn.LSTM):
    __doc__ = _doc(nn.LSTM)


class GRU(_OnDevice, nn.GRU):
    __doc__ = _doc(nn.GRU)
