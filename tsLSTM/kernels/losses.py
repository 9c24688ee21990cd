"""The squared error's value and gradient in one compiled pass.

:func:`tsLSTM.losses.mean_squared_error` runs once per training batch on the output
layer's values; in numpy its float64 arithmetic took about ten calls and temporaries,
more than the dense head's products for a batch of 32 one-output windows. Here one
loop computes what those calls computed, operation for operation: the gradient has
the same bits, and the value is summed in a fixed order (numpy summed it with BLAS's
``ddot``, whose order depends on the BLAS kernel).
"""

from numba import njit

from ._jit import JIT_OPTIONS

# No fastmath: no fused multiply-add, so every operation rounds as numpy's did.
_OPTIONS = {"cache": JIT_OPTIONS["cache"], "nogil": True, "error_model": "numpy"}


@njit(**_OPTIONS)
def squared_error(y_true, y_pred, coef, grad):
    """The weighted mean squared error of ``y_pred`` and its gradient.

    .. math::

        L = \\sum_i c_i \\frac{1}{K} \\sum_k d_{ik}^2, \\qquad
        \\frac{\\partial L}{\\partial \\hat y_{ik}} = (2 d_{ik}) \\frac{c_i}{K},
        \\qquad d_{ik} = \\hat y_{ik} - y_{ik},

    in float64: the outputs summed in order per sample (divided by ``K`` when
    ``K > 1``), then the samples in order.

    Parameters
    ----------
    y_true : ndarray of float64, shape (N, K)
    y_pred : ndarray, shape (N, K)
        float32 or float64.
    coef : ndarray of float64, shape (N,)
        The samples' weights ``c_i``, summing to 1.
    grad : ndarray, shape (N, K)
        Output: the gradient, rounded to ``grad``'s type.

    Returns
    -------
    float
        The loss.
    """
    N, K = y_pred.shape
    value = 0.0
    for i in range(N):
        scale = coef[i] / K
        per_sample = 0.0
        for k in range(K):
            d = float(y_pred[i, k]) - y_true[i, k]
            per_sample += d * d
            grad[i, k] = (2.0 * d) * scale
        if K > 1:
            per_sample /= K
        value += coef[i] * per_sample
    return value
