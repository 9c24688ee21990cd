"""Parameters in one flat buffer, and PyTorch-compatible state dicts.

Every module keeps all of its parameters in one contiguous 1-D array
(``flat_params``) and their gradients in another of the same layout
(``flat_grads``); each named parameter is a view into them. Optimizer updates and
gradient clipping are then single fused loops over two arrays, whatever the model.

A container (a module with submodules) re-binds its children to slices of its own
buffers, so a whole model still has exactly one parameter buffer and one gradient
buffer. At the boundary, :meth:`Module.state_dict`, :meth:`Module.grad_dict` and
:meth:`Module.load_state_dict` speak PyTorch: the same keys, shapes and layout as the
equivalent ``torch.nn`` module, whatever layout is stored inside.
"""

import numbers
from dataclasses import dataclass
from math import prod

import numpy as np

from ..kernels.checks import all_finite

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_positive_int(value, name):
    """``value`` as an int; ValueError unless it is an integer >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_finite_array(X, name, dtype):
    """``X`` as an array of ``dtype``; ValueError if it is not numeric and finite."""
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from exc
    # dtype.kind: b(ool), i(nt), u(nsigned), f(loat); c(omplex) and the rest are refused
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "c":
            raise ValueError(f"{name} must be real, got complex values")
        raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    arr = arr.astype(dtype, copy=False)
    if not all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def check_dtype(dtype):
    """Return ``dtype`` as a numpy dtype if it is float32 or float64, else raise."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


@dataclass(frozen=True)
class ParameterSpec:
    """One named parameter.

    Attributes
    ----------
    name : str
        PyTorch's name for it (``weight_ih_l0``, ``bias``, ...).
    shape : tuple of int
        PyTorch's shape.
    transposed : bool
        Stored transposed inside the flat buffer (2-D weights that the kernels use
        as the right-hand side of row-major GEMMs).
    """

    name: str
    shape: tuple
    transposed: bool = False

    @property
    def size(self):
        return prod(self.shape)

    @property
    def stored_shape(self):
        return self.shape[::-1] if self.transposed else self.shape

    def to_torch(self, stored):
        """Copy of a stored array in PyTorch's layout."""
        return (stored.T if self.transposed else stored).copy()

    def assign(self, stored, value):
        """Write ``value`` (PyTorch layout) into the stored view."""
        stored[...] = value.T if self.transposed else value


class Module:
    """Base class: named parameters as views of one flat buffer.

    Subclasses declare their own parameters in :meth:`_parameter_specs` and their
    children in :meth:`_submodules`, then call :meth:`_allocate` (leaves) or
    :meth:`_adopt_children` (containers) from ``__init__``.
    """

    def __getstate__(self):
        # The named views are rebuilt on unpickling: pickled separately they would
        # become independent copies, detached from the flat buffers.
        state = dict(self.__dict__)
        # views and scratch buffers are not state
        scratch = ("_workspaces", "_all_steps", "_zeros", "_kernels", "_bounds",
                   "_weights_workspace")  # fmt: skip
        for key in ("_params", "_grads", "_by_direction", "_infer_plan", *scratch):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "flat_params" in state:
            self._bind(self.flat_params, self.flat_grads)

    def _parameter_specs(self):
        """The module's own parameters, in PyTorch's registration order."""
        return []

    def _submodules(self):
        """``(prefix, module)`` pairs of the children, in registration order."""
        return []

    # -- buffers ---------------------------------------------------------------

    @property
    def n_parameters(self):
        """Total number of scalar parameters, children included."""
        own = sum(spec.size for spec in self._parameter_specs())
        return own + sum(child.n_parameters for _, child in self._submodules())

    def _allocate(self):
        """Give a leaf module fresh zeroed buffers."""
        n = self.n_parameters
        self._bind(np.zeros(n, dtype=self.dtype), np.zeros(n, dtype=self.dtype))

    def _adopt_children(self):
        """Move the children's current values into one buffer owned by this module."""
        children = [child for _, child in self._submodules()]
        dtypes = {child.dtype for child in children}
        if len(dtypes) > 1:
            raise ValueError(f"submodules must share one dtype, got {sorted(map(str, dtypes))}")
        self.dtype = children[0].dtype
        own = np.zeros(sum(spec.size for spec in self._parameter_specs()), dtype=self.dtype)
        params = np.concatenate([own] + [child.flat_params for child in children])
        self._bind(params, np.zeros_like(params))

    def _bind(self, flat_params, flat_grads):
        """Point this module and its children at slices of the given buffers."""
        self.flat_params = flat_params
        self.flat_grads = flat_grads
        self._params, offset = self._own_views(flat_params)
        self._grads, _ = self._own_views(flat_grads)
        for _, child, (start, end) in self._child_slices(offset):
            child._bind(flat_params[start:end], flat_grads[start:end])

    def _own_views(self, flat):
        """Views of this module's own parameters in ``flat``, and where its children start."""
        views, offset = {}, 0
        for spec in self._parameter_specs():
            views[spec.name] = flat[offset : offset + spec.size].reshape(spec.stored_shape)
            offset += spec.size
        return views, offset

    def _child_slices(self, offset):
        """``(prefix, child, (start, end))`` of the children's parts of a flat buffer."""
        for prefix, child in self._submodules():
            end = offset + child.n_parameters
            yield prefix, child, (offset, end)
            offset = end

    def named_views(self, flat, prefix=""):
        """``{state-dict name: view}`` of any buffer laid out as ``flat_params``.

        Views have the stored shapes (2-D weights transposed). ``flat`` may be a
        numpy array or any array with slicing and ``reshape`` (a CUDA device array).
        """
        own, offset = self._own_views(flat)
        views = {prefix + name: view for name, view in own.items()}
        for child_prefix, child, (start, end) in self._child_slices(offset):
            views.update(child.named_views(flat[start:end], f"{prefix}{child_prefix}."))
        return views

    def clear_cache(self):
        """Drop what the last forward pass saved for backward, freeing its memory."""
        self._clear_own_cache()
        for _, child in self._submodules():
            child.clear_cache()

    def _clear_own_cache(self):
        pass

    def zero_grad(self):
        """Reset every accumulated gradient to zero."""
        self.flat_grads[...] = 0

    # -- PyTorch-compatible dictionaries -----------------------------------------

    def _named_specs(self, prefix=""):
        """Yield ``(full_name, module, spec)`` for every parameter, children included."""
        for spec in self._parameter_specs():
            yield prefix + spec.name, self, spec
        for child_prefix, child in self._submodules():
            yield from child._named_specs(f"{prefix}{child_prefix}.")

    def state_dict(self):
        """Parameters as a dict of numpy arrays with PyTorch's keys and shapes (copies)."""
        return {
            name: spec.to_torch(module._params[spec.name])
            for name, module, spec in self._named_specs()
        }

    def grad_dict(self):
        """Accumulated gradients under the keys and shapes of :meth:`state_dict`."""
        return {
            name: spec.to_torch(module._grads[spec.name])
            for name, module, spec in self._named_specs()
        }

    def load_state_dict(self, state_dict):
        """Load parameters from a PyTorch-style state dict.

        Every entry is checked before anything is written: with a missing, extra,
        wrongly shaped, non-numeric or non-finite entry a ``ValueError`` lists all
        problems and the module is left unchanged. Values may be numpy arrays or
        anything ``np.asarray`` accepts (``torch.Tensor`` included).
        """
        named = {name: (module, spec) for name, module, spec in self._named_specs()}
        try:
            keys = set(state_dict)
        except TypeError as exc:
            raise ValueError("state_dict must be a mapping of names to arrays") from exc
        problems = []
        missing = [name for name in named if name not in keys]
        unexpected = sorted(k for k in keys if k not in named)
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        values = {}
        for name, (_, spec) in named.items():
            if name not in keys:
                continue
            value = state_dict[name]
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.shape != spec.shape:
                problems.append(f"{name}: expected shape {spec.shape}, got {value.shape}")
            elif not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
                problems.append(f"{name}: expected real numbers, got dtype {value.dtype}")
            elif not np.all(np.isfinite(value)):
                problems.append(f"{name}: contains NaN or infinity")
            else:
                values[name] = value
        if problems:
            raise ValueError(
                f"cannot load state_dict into {type(self).__name__}: " + "; ".join(problems)
            )
        for name, value in values.items():
            module, spec = named[name]
            spec.assign(module._params[spec.name], value)
