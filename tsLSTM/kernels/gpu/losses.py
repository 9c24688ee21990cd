"""Training losses on the GPU: value and gradient w.r.t. the network output.

One thread per output row. With ``steps == 0`` (many-to-one) row ``r`` of a
minibatch is sample ``n = order[start + r]`` and target row ``n``; with ``steps = T``
(``output='sequence'``) the rows are time-major, row ``r`` is step ``t = r // B`` of
sample ``n = order[start + r % B]`` and target row ``n * T + t``, and padded steps
(``t >= lengths[n]``) get no loss and a zero gradient. A row's coefficient is
``w_n * inv_weight_sum`` (the weighted mean of :mod:`tsLSTM.losses`). Every
kernel writes the gradient and adds the row's loss, in float64, to ``total[0]``.
Formulas are those of :mod:`tsLSTM.losses`.
"""

import math
from functools import cache

import numpy as np
from numba import cuda

from .kernel_set import KernelSet


@cache
def kernels(dtype):
    """The loss kernels ``mse``, ``bce`` and ``softmax_ce`` compiled for ``dtype``."""
    dt = np.dtype(dtype).type

    @cuda.jit(device=True, inline=True)
    def locate(R, lengths, order, start, steps, r):
        """``(sample, target row, valid)`` of output row ``r``."""
        if steps == 0:
            n = order[start + r]
            return n, n, True
        B = R // steps
        t = r // B
        n = order[start + r % B]
        return n, n * steps + t, t < lengths[n]

    @cuda.jit
    def mse(out, targets, weights, lengths, order, start, steps, inv_weight_sum, grad, total):
        """Targets (n, K) float: ``l = c / K * sum (o - y)^2``, ``grad = 2 c / K (o - y)``."""
        r = cuda.grid(1)
        R, K = out.shape
        if r < R:
            n, row, valid = locate(R, lengths, order, start, steps, r)
            if not valid:
                for k in range(K):
                    grad[r, k] = dt(0.0)
                return
            c = weights[n] * inv_weight_sum / K
            acc = 0.0
            for k in range(K):
                diff = np.float64(out[r, k]) - targets[row, k]
                acc += diff * diff
                grad[r, k] = dt(2.0 * c * diff)
            cuda.atomic.add(total, 0, c * acc)

    @cuda.jit
    def bce(out, targets, weights, lengths, order, start, steps, inv_weight_sum, grad, total):
        """Targets (n,) in [0, 1], one logit: ``max(z, 0) - z y + log1p(exp(-|z|))``."""
        r = cuda.grid(1)
        if r < out.shape[0]:
            n, row, valid = locate(out.shape[0], lengths, order, start, steps, r)
            if not valid:
                grad[r, 0] = dt(0.0)
                return
            c = weights[n] * inv_weight_sum
            z = np.float64(out[r, 0])
            y = np.float64(targets[row])
            e = math.exp(-abs(z))
            p = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
            grad[r, 0] = dt(c * (p - y))
            cuda.atomic.add(total, 0, c * (max(z, 0.0) - z * y + math.log1p(e)))

    @cuda.jit
    def softmax_ce(
        out, targets, weights, lengths, order, start, steps, inv_weight_sum, grad, total
    ):
        """Class-index targets (n,): ``-log softmax(z)[y]``, ``grad = c (p - onehot)``."""
        r = cuda.grid(1)
        R, K = out.shape
        if r < R:
            n, row, valid = locate(R, lengths, order, start, steps, r)
            if not valid:
                for k in range(K):
                    grad[r, k] = dt(0.0)
                return
            c = weights[n] * inv_weight_sum
            y = targets[row]
            m = np.float64(out[r, 0])
            for k in range(1, K):
                m = max(m, np.float64(out[r, k]))
            s = 0.0
            for k in range(K):
                s += math.exp(np.float64(out[r, k]) - m)
            log_s = math.log(s)
            for k in range(K):
                log_p = np.float64(out[r, k]) - m - log_s
                p = math.exp(log_p)
                if k == y:
                    cuda.atomic.add(total, 0, -c * log_p)
                    p -= 1.0
                grad[r, k] = dt(c * p)

    return KernelSet(dtype, mse=mse, bce=bce, softmax_ce=softmax_ce)
