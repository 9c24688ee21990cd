"""The optional GPU path: the driver code that runs networks on a CUDA GPU.

``device='cuda'`` runs the recurrent engine, the dense head, the losses and the
optimizer update on an NVIDIA GPU through the ``numba.cuda`` kernels of
:mod:`tsLSTM.kernels.gpu`; it needs the ``numba-cuda`` package
(``pip install "tsLSTM[cuda]"``) and a CUDA driver. Device selection is in
:mod:`tsLSTM.devices`, and :mod:`tsLSTM.training` is the one place that picks this
package's engines or the CPU's. Nothing imports ``numba.cuda`` until a device is
resolved, so CPU users pay nothing.

Modules, from the bottom up: ``_views`` (a module's flat buffers on the device),
``recurrent`` (the stacked, bidirectional LSTM/GRU engine), ``model`` (recurrent
stack + dense head), ``optim`` (the optimizers' update on device buffers),
``training`` (the device side of the training loop) and ``layers``: :class:`LSTM`
and :class:`GRU`, the layers of :mod:`tsLSTM.nn` with a ``device`` argument (as
stumpy keeps ``gpu_stump`` beside ``stump``).

Host arrays stay the source of truth between calls: a fit uploads the parameters,
the optimizer state and the training data once, trains on the device, and copies
the parameters back at the end of every epoch, so a model trained on the GPU is an
ordinary fitted estimator that saves, loads and predicts on a machine without one.
"""

from .layers import GRU, LSTM

__all__ = ["GRU", "LSTM"]
