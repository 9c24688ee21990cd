"""Gradient mode: the counterpart of ``torch.no_grad()`` for the CPU layers.

Inside ``with no_grad():`` a recurrent layer's ``forward`` runs the inference kernels
(:func:`~tsLSTM.kernels.lstm.lstm_infer`, :func:`~tsLSTM.kernels.gru.gru_infer`): it
saves nothing for backpropagation, keeps two state buffers instead of every step's
states and gates, and its products are row-independent. A ``backward`` after such a
pass raises, as PyTorch does for a tensor computed without gradients. The mode is
per thread, as PyTorch's.
"""

import contextlib
import threading

_mode = threading.local()


def is_grad_enabled():
    """Whether forward passes save what ``backward`` needs (True outside ``no_grad``)."""
    return getattr(_mode, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Context manager: forward passes in this thread skip what backward would need."""
    previous = is_grad_enabled()
    _mode.enabled = False
    try:
        yield
    finally:
        _mode.enabled = previous
