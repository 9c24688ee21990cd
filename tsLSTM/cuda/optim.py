"""Optimizer steps on the device for the optimizers of :mod:`tsLSTM.optim`.

A :class:`DeviceOptimizer` wraps a host optimizer: hyper-parameters and the step
count are read from (and kept in) the host object, the state arrays (moments,
accumulators, momentum buffers) are uploaded once and copied back by
:meth:`DeviceOptimizer.download`. The scalar arithmetic is that of the CPU
optimizers (float64, then cast to the buffer dtype).
"""

from numba import cuda

from ..kernels.cuda import optim as kernels
from ..kernels.cuda._launch import grid_1d
from ..optim import SGD, Adagrad, Adam, RMSprop

_STATE = {
    SGD: ("momentum_buffer",),
    Adam: ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    RMSprop: ("square_avg", "grad_avg", "momentum_buffer"),
    Adagrad: ("state_sum",),
}


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
        self.kind = next(k for k in _STATE if isinstance(host, k))
        self.state = {name: cuda.to_device(getattr(host, name)) for name in _STATE[self.kind]}
        self._kernels = kernels.kernels(params.dtype)
        self._dt = self._kernels["dtype"]

    def download(self):
        """Copy the state arrays back into the host optimizer."""
        for name, array in self.state.items():
            array.copy_to_host(getattr(self.host, name))

    def step(self, clip, flags):
        """One update with the gradients multiplied by ``clip`` (see the kernels).

        ``flags[0]`` (a float64 device array) is set to 1 if a parameter became
        non-finite.
        """
        h, dt, s = self.host, self._dt, self.state
        h.n_steps += 1
        blocks, threads = grid_1d(self.params.shape[0])
        head = (self.params, self.grads, dt(clip))
        if self.kind is SGD:
            use_momentum = h.momentum != 0
            args = (
                s["momentum_buffer"], dt(-h.lr), dt(h.momentum), dt(1.0 - h.dampening),
                dt(h.weight_decay), h.weight_decay != 0.0, use_momentum, bool(h.nesterov),
                use_momentum and not h._buffer_started,
            )  # fmt: skip
            if use_momentum:
                h._buffer_started = True
        elif self.kind is Adam:
            t = float(h.n_steps)
            w1 = dt(1.0 - h.beta1)
            args = (
                s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"],
                dt(-(h.lr / (1.0 - h.beta1**t))), dt((1.0 - h.beta2**t) ** 0.5), w1,
                dt(1.0) - w1, abs(w1) < 0.5, dt(h.beta2), dt(1.0 - h.beta2), dt(h.eps),
                dt(h.weight_decay), dt(1.0 - h.lr * h.weight_decay), h.weight_decay != 0.0,
                bool(h._decoupled), bool(h.amsgrad),
            )  # fmt: skip
        elif self.kind is RMSprop:
            w = dt(1.0 - h.alpha)
            args = (
                s["square_avg"], s["grad_avg"], s["momentum_buffer"], dt(-h.lr), dt(h.alpha), w,
                dt(1.0) - w, abs(w) < 0.5, dt(h.eps), dt(h.weight_decay), dt(h.momentum),
                h.weight_decay != 0.0, h.momentum > 0.0, bool(h.centered),
            )  # fmt: skip
        else:
            clr = h.lr / (1.0 + (h.n_steps - 1.0) * h.lr_decay)
            args = (s["state_sum"], dt(-clr), dt(h.eps), dt(h.weight_decay), h.weight_decay != 0.0)
        kernel = self._kernels[self.kind.__name__.lower()]
        kernel[blocks, threads](*head, *args, flags)
