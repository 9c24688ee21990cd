"""Optimizer steps on the device for the optimizers of :mod:`tsLSTM.optim`.

A :class:`DeviceOptimizer` wraps a host optimizer: the host counts the steps and
computes each step's scalars (:meth:`tsLSTM.optim.Optimizer.next_step`); the state
arrays (its ``state_names``) are uploaded once and copied back by
:meth:`DeviceOptimizer.download`; the update rule is the host's
(:data:`tsLSTM.kernels.optim_rules.RULES`), run by one GPU thread per parameter.
"""

from numba import cuda

from ..kernels.gpu import optim as kernels
from ..kernels.gpu._launch import grid_1d


class DeviceOptimizer:
    """The update rule of ``host`` applied to device parameter and gradient buffers.

    Parameters
    ----------
    host : Optimizer
        An optimizer of :mod:`tsLSTM.optim` (SGD, Adam, AdamW, RMSprop, Adagrad).
    params, grads : device arrays, shape (n,)
        Flat buffers laid out as ``host.params`` and ``host.grads``.
    """

    def __init__(self, host, params, grads):
        self.host = host
        self.params, self.grads = params, grads
        self.state = {name: cuda.to_device(getattr(host, name)) for name in host.state_names}
        self._update = kernels.kernels(params.dtype)[host.rule]

    def download(self):
        """Copy the state arrays back into the host optimizer."""
        for name, array in self.state.items():
            array.copy_to_host(getattr(self.host, name))

    def step(self, clip, flags):
        """One update with the gradients multiplied by ``clip`` first.

        ``flags[0]`` (a float64 device array) is set to 1 if a parameter became
        non-finite.
        """
        scalars = self.host.next_step()
        blocks, threads = grid_1d(self.params.shape[0])
        clip = self.params.dtype.type(clip)
        state = tuple(self.state.values())
        self._update[blocks, threads](self.params, self.grads, clip, state, scalars, flags)
