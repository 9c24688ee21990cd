"""Dense (fully connected) layer, compatible with ``torch.nn.Linear``."""

import numpy as np
from sklearn.utils import check_random_state

from ..kernels.gemm import affine_rows
from .module import Module, ParameterSpec, as_finite_array, check_dtype, check_positive_int


class Linear(Module):
    """Affine map ``y = x W^T + b`` over the last axis of the input.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output feature axes.
    dtype : {np.float32, np.float64}, default=np.float32
    random_state : int, RandomState instance or None, default=None
        Seeds PyTorch's initialisation, ``U(-1/sqrt(in_features), 1/sqrt(in_features))``
        for weight and bias.

    Notes
    -----
    State-dict keys ``weight`` (out_features, in_features) and ``bias``
    (out_features,), as ``torch.nn.Linear``; the weight is stored transposed.
    """

    def __init__(self, in_features, out_features, dtype=np.float32, random_state=None):
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        self.dtype = check_dtype(dtype)
        self.random_state = random_state
        self._rng = check_random_state(random_state)
        self._X = None
        self._allocate()
        self.reset_parameters()

    @staticmethod
    def parameter_layout(in_features, out_features):
        """The :class:`ParameterSpec` s of a layer of these sizes, without building it."""
        return [
            ParameterSpec("weight", (out_features, in_features), True),
            ParameterSpec("bias", (out_features,)),
        ]

    def _parameter_specs(self):
        return self.parameter_layout(self.in_features, self.out_features)

    def reset_parameters(self):
        """PyTorch's initialisation (see the class docstring)."""
        bound = 1.0 / np.sqrt(self.in_features)
        for spec in self._parameter_specs():
            spec.assign(self._params[spec.name], self._rng.uniform(-bound, bound, spec.shape))

    def _check_features(self, X):
        """``X`` as a finite array of the layer's dtype with ``in_features`` on its last
        axis; ValueError otherwise."""
        X = as_finite_array(X, "X", self.dtype)
        if X.ndim < 1 or X.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expects inputs with {self.in_features} features on the last axis, "
                f"got shape {X.shape}"
            )
        return X

    def forward(self, X, validate=True):
        """``X @ W^T + b`` for ``X`` of shape (..., in_features).

        ``validate=False`` skips the checks of ``X`` (numeric, finite, of the layer's
        dtype and width), for a caller that passes tsLSTM's own layers' output (see
        :meth:`infer`).
        """
        if validate:
            X = self._check_features(X)
        self._X = X
        return X @ self._params["weight"] + self._params["bias"]

    def infer(self, X, validate=True):
        """``X @ W^T + b`` for inference: no cache, each row independent of the others.

        The product is :func:`~tsLSTM.kernels.gemm.affine_rows` rather than BLAS, so a
        row's result depends on that row only, not on the rest of the batch. Equal to
        :meth:`forward` up to rounding.

        Parameters
        ----------
        X : array-like of shape (..., in_features)
        validate : bool, default=True
            Check that ``X`` is numeric, finite and of the right shape. A caller that
            passes an array of the layer's dtype computed by tsLSTM's own layers from
            validated input (as :meth:`SequenceModel.predict` does) may skip it.
        """
        if validate:
            X = self._check_features(X)
        rows = np.ascontiguousarray(X if X.ndim == 2 else X.reshape(-1, self.in_features))
        out = np.empty((rows.shape[0], self.out_features), dtype=self.dtype)
        affine_rows(rows, self._params["weight"], self._params["bias"], out)
        return out if X.ndim == 2 else out.reshape(*X.shape[:-1], self.out_features)

    def _clear_own_cache(self):
        self._X = None

    def backward(self, dY):
        """Accumulate ``dW``, ``db`` and return ``dX`` for the last forward pass."""
        if self._X is None:
            raise RuntimeError("Linear.backward needs a forward pass first")
        X, self._X = self._X, None
        dY = as_finite_array(dY, "dY", self.dtype)
        expected = (*X.shape[:-1], self.out_features)
        if dY.shape != expected:
            raise ValueError(f"Linear.backward: dY must have shape {expected}, got {dY.shape}")
        X2 = X.reshape(-1, self.in_features)
        dY2 = dY.reshape(-1, self.out_features)
        self._grads["weight"] += X2.T @ dY2
        self._grads["bias"] += dY2.sum(axis=0, dtype=np.float64).astype(self.dtype)
        return dY @ self._params["weight"].T

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"
