"""``device='cuda'`` for the layers of :mod:`tsLSTM.nn`.

A layer on the GPU keeps its parameters and gradients in its host buffers (so
``state_dict``, optimizers and pickling work unchanged): each forward pass uploads
the parameters, runs the device engine and returns host arrays; the matching
backward pass adds the device gradients into ``flat_grads``. Estimators avoid the
per-call copies by training through :mod:`tsLSTM.cuda.training` instead.
"""

import numpy as np
from numba import cuda

from ._views import DeviceBuffers
from .recurrent import DeviceRecurrent


def _to_device(array):
    return None if array is None else cuda.to_device(np.ascontiguousarray(array))


def recurrent_forward(rnn, X, h0, c0, training, lengths):
    """Forward of ``rnn`` on time-major host ``X``: ``output, h_n, c_n, run``.

    ``run`` is what :func:`recurrent_backward` needs.
    """
    buffers = DeviceBuffers(rnn)
    engine = DeviceRecurrent(rnn, buffers.p, buffers.g)
    seed = int(rnn._rng.randint(np.iinfo(np.int32).max)) if training and rnn.dropout else 0
    Y = engine.forward(
        _to_device(X), _to_device(lengths), _to_device(h0), _to_device(c0), training, seed
    )
    h_n, c_n = engine.final_states()
    c_n = None if c_n is None else c_n.copy_to_host()
    return Y.copy_to_host(), h_n.copy_to_host(), c_n, (buffers, engine)


def recurrent_backward(run, d_output, d_h_n, d_c_n):
    """Backward of the pass that returned ``run``: ``dX, dh0, dc0`` on the host."""
    buffers, engine = run
    dX, dh0, dc0 = engine.backward(_to_device(d_output), _to_device(d_h_n), _to_device(d_c_n))
    buffers.add_grads_to_host()
    return dX.copy_to_host(), dh0.copy_to_host(), None if dc0 is None else dc0.copy_to_host()
