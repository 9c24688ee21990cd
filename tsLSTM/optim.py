"""Optimizers and gradient clipping over one flat parameter buffer.

Each optimizer is bound at construction to a network's flat parameter array and its
flat gradient array (1-D, contiguous, same shape and float dtype) and updates the
parameters in place on :meth:`Optimizer.step`, with one fused loop from
:mod:`tsLSTM.kernels.optim`. An optimizer owns its state arrays (``state_names``)
and the scalars of each step (:meth:`Optimizer.next_step`: bias corrections, decayed
learning rate, casts to the buffers' dtype); the GPU path (:mod:`tsLSTM.gpu.optim`)
applies the same update rule with the same scalars. Defaults and update formulas
are those of ``torch.optim`` (CPU, ``foreach=False``), so the same gradients give the same
trajectory as PyTorch to rounding.

Scalar hyper-parameters are plain attributes read at every step (a schedule may
change ``opt.lr`` between steps); state arrays are allocated once, at construction.

Examples
--------
>>> import numpy as np
>>> params = np.zeros(3)
>>> grads = np.ones(3)
>>> opt = SGD(params, grads, lr=0.1)
>>> opt.step()
>>> params
array([-0.1, -0.1, -0.1])
"""

import math

import numpy as np

from tsLSTM.kernels import optim_rules as rules
from tsLSTM.kernels.optim import STEPS, scale_, sum_of_squares

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm",
]


def _check_flat(name, a):
    """Raise ValueError unless ``a`` is a 1-D C-contiguous float32/float64 array."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if a.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name} must have dtype float32 or float64, got {a.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be contiguous")


def _check_buffers(params, grads):
    """Validate the flat parameter and gradient buffers of an optimizer."""
    _check_flat("params", params)
    _check_flat("grads", grads)
    if not params.flags.writeable:
        raise ValueError("params must be writeable")
    if params.shape != grads.shape:
        raise ValueError(
            f"params and grads must have the same shape, got {params.shape} and {grads.shape}"
        )
    if params.dtype != grads.dtype:
        raise ValueError(
            f"params and grads must have the same dtype, got {params.dtype} and {grads.dtype}"
        )


def _check_non_negative(name, value):
    """Raise ValueError unless ``value`` is a number >= 0 (NaN is rejected)."""
    if not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value}")


class Optimizer:
    """Base class: an update rule bound to a flat parameter and gradient buffer.

    Parameters
    ----------
    params : ndarray, shape (n,)
        Flat parameter buffer (float32 or float64, contiguous), updated in place.
    grads : ndarray, shape (n,)
        Flat gradient buffer of the same shape and dtype, read by :meth:`step`.

    Attributes
    ----------
    params, grads : ndarray
        The bound buffers.
    n_steps : int
        Number of steps taken (torch's ``state["step"]``).
    rule : str
        The update rule (:data:`tsLSTM.kernels.optim_rules.RULES`).
    state_names : tuple of str
        The state arrays, in the order the update rule takes them.
    """

    rule = None
    state_names = ()

    def __init__(self, params, grads):
        _check_buffers(params, grads)
        self.params = params
        self.grads = grads
        self.n_steps = 0

    def _zeros(self):
        """A new state array shaped and typed like the parameters."""
        return np.zeros_like(self.params)

    def _empty(self):
        """A zero-length placeholder for state an option does not use."""
        return np.zeros(0, dtype=self.params.dtype)

    @property
    def state(self):
        """The state arrays, a tuple in the order of ``state_names``."""
        return tuple(getattr(self, name) for name in self.state_names)

    def step(self):
        """Update ``params`` in place from the current ``grads``."""
        STEPS[self.rule](self.params, self.grads, self.state, self.next_step())

    def next_step(self):
        """Count one more step and return its scalars, in the buffers' dtype.

        The scalar arithmetic of the step (float64, then cast) lives here only: the
        CPU kernels and the GPU path (:mod:`tsLSTM.gpu.optim`) both apply
        :data:`tsLSTM.kernels.optim_rules.RULES` ``[self.rule]`` with these values.
        Hyper-parameters are read now, so a schedule may change them between steps.
        """
        self.n_steps += 1
        return self._scalars(self.params.dtype.type)

    def _scalars(self, dt):
        """The scalars tuple of one step (``n_steps`` already counted), cast with ``dt``."""
        raise NotImplementedError

    def __repr__(self):
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyper_parameters().items())
        return f"{type(self).__name__}(n={self.params.size}, dtype={self.params.dtype}, {hyper})"

    def _hyper_parameters(self):
        return {}


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum, as ``torch.optim.SGD``.

    With :math:`d_t = g_t + \lambda p_{t-1}` (``weight_decay`` :math:`\lambda`),
    momentum :math:`\mu` and dampening :math:`\tau`:

    .. math::

        b_1 = d_1, \qquad b_t = \mu b_{t-1} + (1 - \tau) d_t, \\
        p_t = p_{t-1} - \mathrm{lr}\,(d_t + \mu b_t) \ \text{(Nesterov)}
        \quad\text{or}\quad p_t = p_{t-1} - \mathrm{lr}\, b_t,

    and :math:`p_t = p_{t-1} - \mathrm{lr}\, d_t` when :math:`\mu = 0`.

    Parameters
    ----------
    params, grads : ndarray, shape (n,)
        Flat parameter and gradient buffers (see :class:`Optimizer`).
    lr : float, default=1e-3
        Learning rate.
    momentum : float, default=0.0
        Momentum factor.
    dampening : float, default=0.0
        Dampening for momentum.
    weight_decay : float, default=0.0
        L2 penalty.
    nesterov : bool, default=False
        Nesterov momentum; requires ``momentum > 0`` and ``dampening == 0``.

    Attributes
    ----------
    momentum_buffer : ndarray, shape (n,)
        The momentum buffer :math:`b` (allocated even when ``momentum == 0`` so the
        momentum may be changed between steps).
    """

    def __init__(
        self, params, grads, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False
    ):
        super().__init__(params, grads)
        _check_non_negative("learning rate", lr)
        _check_non_negative("momentum", momentum)
        _check_non_negative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        self.momentum_buffer = self._zeros()
        self._buffer_started = False

    rule = "sgd"
    state_names = ("momentum_buffer",)

    def _scalars(self, dt):
        use_momentum = self.momentum != 0
        first = use_momentum and not self._buffer_started
        if use_momentum:
            self._buffer_started = True
        weight_decay = float(self.weight_decay)
        return rules.SGDScalars(
            dt(-float(self.lr)), dt(self.momentum), dt(1.0 - float(self.dampening)),
            dt(weight_decay), weight_decay != 0.0, use_momentum, bool(self.nesterov), first,
        )  # fmt: skip

    def _hyper_parameters(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
        }


def _check_betas(betas):
    """Validate an Adam ``betas`` pair and return it as two floats."""
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair of floats, got {betas!r}") from None
    for index, beta in enumerate((beta1, beta2)):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
    return float(beta1), float(beta2)


class Adam(Optimizer):
    r"""Adam (optionally AMSGrad), as ``torch.optim.Adam``.

    With :math:`g_t \leftarrow g_t + \lambda p_{t-1}` (``weight_decay`` :math:`\lambda`):

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        \hat v_t = \max(\hat v_{t-1}, v_t) \ \text{(AMSGrad, else } \hat v_t = v_t), \\
        p_t = p_{t-1} - \frac{\mathrm{lr}}{1 - \beta_1^t}\,
              \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}.

    Parameters
    ----------
    params, grads : ndarray, shape (n,)
        Flat parameter and gradient buffers (see :class:`Optimizer`).
    lr : float, default=1e-3
        Learning rate.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates :math:`\beta_1, \beta_2` of the moment averages, each in [0, 1).
    eps : float, default=1e-8
        Term added to the denominator.
    weight_decay : float, default=0.0
        L2 penalty added to the gradient.
    amsgrad : bool, default=False
        Use the AMSGrad variant; fixed at construction.

    Attributes
    ----------
    exp_avg, exp_avg_sq : ndarray, shape (n,)
        The moment averages :math:`m` and :math:`v`.
    max_exp_avg_sq : ndarray, shape (n,) or (0,)
        :math:`\hat v` for AMSGrad (empty otherwise).
    """

    _decoupled = False

    def __init__(
        self, params, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False
    ):
        super().__init__(params, grads)
        _check_non_negative("learning rate", lr)
        _check_non_negative("epsilon", eps)
        self.beta1, self.beta2 = _check_betas(betas)
        _check_non_negative("weight_decay", weight_decay)
        self.lr = lr
        self.eps = eps
        self.weight_decay = weight_decay
        self._amsgrad = bool(amsgrad)
        self.exp_avg = self._zeros()
        self.exp_avg_sq = self._zeros()
        self.max_exp_avg_sq = self._zeros() if self._amsgrad else self._empty()

    @property
    def betas(self):
        """The pair ``(beta1, beta2)``."""
        return (self.beta1, self.beta2)

    @property
    def amsgrad(self):
        """Whether the AMSGrad variant is used (fixed at construction)."""
        return self._amsgrad

    rule = "adam"
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def _scalars(self, dt):
        lr, beta1, beta2 = float(self.lr), float(self.beta1), float(self.beta2)
        weight_decay, t = float(self.weight_decay), float(self.n_steps)
        # the scalars that do not depend on the step, cast once per set of values
        key = (dt, lr, beta1, beta2, float(self.eps), weight_decay)
        cached = self.__dict__.get("_fixed_scalars")
        if cached is None or cached[0] != key:
            w1 = dt(1.0 - beta1)
            fixed = (
                w1, dt(1.0) - w1, bool(abs(w1) < 0.5), dt(beta2), dt(1.0 - beta2),
                dt(self.eps), dt(weight_decay), dt(1.0 - lr * weight_decay),
                weight_decay != 0.0, self._decoupled, self._amsgrad,
            )  # fmt: skip
            cached = self._fixed_scalars = (key, fixed)
        return rules.AdamScalars(
            dt(-(lr / (1.0 - beta1**t))), dt(math.sqrt(1.0 - beta2**t)), *cached[1]
        )

    def _hyper_parameters(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Each step first decays the parameters, :math:`p \leftarrow p\,(1 - \mathrm{lr}\,\lambda)`,
    then applies the :class:`Adam` update to the unmodified gradient:

    .. math::

        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
        p_t = p_{t-1}(1 - \mathrm{lr}\,\lambda) - \frac{\mathrm{lr}}{1 - \beta_1^t}\,
              \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}.

    Parameters
    ----------
    params, grads : ndarray, shape (n,)
        Flat parameter and gradient buffers (see :class:`Optimizer`).
    lr : float, default=1e-3
        Learning rate.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the moment averages, each in [0, 1).
    eps : float, default=1e-8
        Term added to the denominator.
    weight_decay : float, default=1e-2
        Decoupled weight decay rate :math:`\lambda`.
    amsgrad : bool, default=False
        Use the AMSGrad variant; fixed at construction.
    """

    _decoupled = True

    def __init__(
        self, params, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False
    ):
        super().__init__(
            params, grads, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )


class RMSprop(Optimizer):
    r"""RMSprop (optionally centered, with momentum), as ``torch.optim.RMSprop``.

    With :math:`g_t \leftarrow g_t + \lambda p_{t-1}` (``weight_decay`` :math:`\lambda`):

    .. math::

        s_t = \alpha s_{t-1} + (1 - \alpha) g_t^2, \qquad
        \bar g_t = \alpha \bar g_{t-1} + (1 - \alpha) g_t \ \text{(centered)}, \\
        a_t = \sqrt{s_t - \bar g_t^2} + \epsilon \ \text{(centered)}, \qquad
        a_t = \sqrt{s_t} + \epsilon \ \text{(otherwise)}, \\
        b_t = \mu b_{t-1} + g_t / a_t, \quad p_t = p_{t-1} - \mathrm{lr}\, b_t
        \quad (\mu > 0), \qquad p_t = p_{t-1} - \mathrm{lr}\, g_t / a_t \quad (\mu = 0).

    Parameters
    ----------
    params, grads : ndarray, shape (n,)
        Flat parameter and gradient buffers (see :class:`Optimizer`).
    lr : float, default=1e-2
        Learning rate.
    alpha : float, default=0.99
        Smoothing constant :math:`\alpha`.
    eps : float, default=1e-8
        Term added to the denominator.
    weight_decay : float, default=0.0
        L2 penalty.
    momentum : float, default=0.0
        Momentum factor :math:`\mu`.
    centered : bool, default=False
        Normalise by the estimated variance of the gradient; fixed at construction.

    Attributes
    ----------
    square_avg : ndarray, shape (n,)
        :math:`s`.
    grad_avg : ndarray, shape (n,) or (0,)
        :math:`\bar g` when centered (empty otherwise).
    momentum_buffer : ndarray, shape (n,)
        :math:`b` (allocated even when ``momentum == 0``).
    """

    def __init__(
        self,
        params,
        grads,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
    ):
        super().__init__(params, grads)
        _check_non_negative("learning rate", lr)
        _check_non_negative("epsilon", eps)
        _check_non_negative("momentum", momentum)
        _check_non_negative("weight_decay", weight_decay)
        _check_non_negative("alpha", alpha)
        self.lr = lr
        self.alpha = alpha
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum = momentum
        self._centered = bool(centered)
        self.square_avg = self._zeros()
        self.grad_avg = self._zeros() if self._centered else self._empty()
        self.momentum_buffer = self._zeros()

    @property
    def centered(self):
        """Whether the centered variant is used (fixed at construction)."""
        return self._centered

    rule = "rmsprop"
    state_names = ("square_avg", "grad_avg", "momentum_buffer")

    def _scalars(self, dt):
        alpha, weight_decay, momentum = (
            float(self.alpha),
            float(self.weight_decay),
            float(self.momentum),
        )
        w = dt(1.0 - alpha)
        return rules.RMSpropScalars(
            dt(-float(self.lr)), dt(alpha), w, dt(1.0) - w, bool(abs(w) < 0.5), dt(self.eps),
            dt(weight_decay), dt(momentum), weight_decay != 0.0, momentum > 0.0, self._centered,
        )  # fmt: skip

    def _hyper_parameters(self):
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad``.

    With :math:`g_t \leftarrow g_t + \lambda p_{t-1}` (``weight_decay`` :math:`\lambda`)
    and :math:`s_0` = ``initial_accumulator_value``:

    .. math::

        \eta_t = \frac{\mathrm{lr}}{1 + (t - 1)\,\mathrm{lr\_decay}}, \qquad
        s_t = s_{t-1} + g_t^2, \qquad
        p_t = p_{t-1} - \eta_t \frac{g_t}{\sqrt{s_t} + \epsilon}.

    Parameters
    ----------
    params, grads : ndarray, shape (n,)
        Flat parameter and gradient buffers (see :class:`Optimizer`).
    lr : float, default=1e-2
        Learning rate.
    lr_decay : float, default=0.0
        Learning-rate decay.
    weight_decay : float, default=0.0
        L2 penalty.
    initial_accumulator_value : float, default=0.0
        Starting value of the squared-gradient accumulator.
    eps : float, default=1e-10
        Term added to the denominator.

    Attributes
    ----------
    state_sum : ndarray, shape (n,)
        The accumulator :math:`s`.
    """

    def __init__(
        self,
        params,
        grads,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
    ):
        super().__init__(params, grads)
        _check_non_negative("learning rate", lr)
        _check_non_negative("lr_decay", lr_decay)
        _check_non_negative("weight_decay", weight_decay)
        _check_non_negative("initial_accumulator_value", initial_accumulator_value)
        _check_non_negative("epsilon", eps)
        self.lr = lr
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.initial_accumulator_value = initial_accumulator_value
        self.eps = eps
        self.state_sum = np.full_like(self.params, initial_accumulator_value)

    rule = "adagrad"
    state_names = ("state_sum",)

    def _scalars(self, dt):
        lr, weight_decay = float(self.lr), float(self.weight_decay)
        clr = lr / (1.0 + (float(self.n_steps) - 1.0) * float(self.lr_decay))
        return rules.AdagradScalars(dt(-clr), dt(self.eps), dt(weight_decay), weight_decay != 0.0)

    def _hyper_parameters(self):
        return {
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def clip_grad_norm(grads, max_norm):
    r"""Scale a flat gradient buffer in place so its L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: with the total norm
    :math:`\|g\|_2` computed in float64,

    .. math::

        g \leftarrow g \cdot \min\!\left(\frac{\mathrm{max\_norm}}{\|g\|_2 + 10^{-6}},\ 1\right),

    the product being taken even when the factor is 1 (a NaN norm therefore makes
    every gradient NaN, as in torch).

    Parameters
    ----------
    grads : ndarray, shape (n,)
        Flat gradient buffer (float32 or float64, contiguous), scaled in place.
    max_norm : float
        Largest allowed norm, > 0.

    Returns
    -------
    float
        The total norm of ``grads`` before clipping.
    """
    _check_flat("grads", grads)
    if not max_norm > 0.0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    total_norm = math.sqrt(sum_of_squares(grads))
    clip_coef = min(float(max_norm) / (total_norm + 1e-6), 1.0)
    scale_(grads, clip_coef)
    return total_norm
