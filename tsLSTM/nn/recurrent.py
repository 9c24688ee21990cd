"""Recurrent layers: stacked, optionally bidirectional LSTM and GRU.

The layers mirror ``torch.nn.LSTM`` and ``torch.nn.GRU`` (constructor arguments,
shapes of inputs, outputs and states, parameter names and initialisation) and add a
``backward`` that returns the input and initial-state gradients and accumulates the
parameter gradients. The per-direction work is done by the kernels in
:mod:`tsLSTM.kernels`; this module validates, lays out buffers, stacks layers and
directions, and applies dropout between layers. The layers run on the CPU; the
same layers with a ``device`` argument are :class:`tsLSTM.gpu.LSTM` and
:class:`tsLSTM.gpu.GRU`.
"""

import numbers
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

from .. import _threads
from .._threads import (
    INFER_CHUNK_ROWS,
    MIN_SPLIT_ROWS,
    chunk_bounds,
    parallel_map,
    single_threaded_blas,
    threads_in_effect,
)
from ..kernels.gemm import transpose_into
from ..kernels.gru import gru_backward, gru_forward, gru_infer
from ..kernels.gru_tiled import gru_backward_tiled, gru_forward_tiled
from ..kernels.lstm import lstm_backward, lstm_forward, lstm_infer
from ..kernels.lstm_tiled import (
    PRODUCTS_BLAS,
    lstm_backward_tiled,
    lstm_forward_tiled,
    products_plan,
    tiles_apply,
)
from .grad_mode import is_grad_enabled
from .module import Module, ParameterSpec, as_finite_array, check_dtype, check_positive_int
from .workspace import Workspace

__all__ = ["GRU", "LSTM", "Direction", "as_finite_array", "param_suffix"]


def param_suffix(layer, direction):
    """PyTorch's parameter-name suffix: ``_l0``, ``_l1_reverse``, ..."""
    return f"_l{layer}" + ("_reverse" if direction else "")


class Direction(NamedTuple):
    """One direction of one layer of a recurrent stack, as every engine walks it.

    Attributes
    ----------
    layer : int
    direction : int
        0 forward, 1 reverse.
    index : int
        ``layer * num_directions + direction``: its row in ``h0``, ``h_n``, ...
    suffix : str
        Its parameters' name suffix (:func:`param_suffix`).
    """

    layer: int
    direction: int
    index: int
    suffix: str

    @property
    def reverse(self):
        return self.direction == 1


# ``H_out`` of no steps, for an inference kernel whose outputs are not kept (the
# kernels read only its length)
_NO_STEPS = {np.dtype(t): np.empty((0, 0, 0), dtype=t) for t in (np.float32, np.float64)}


def _copy_into(ws, name, array):
    """A C-contiguous copy of ``array`` in the workspace buffer ``name``."""
    out = ws.empty(name, array.shape, array.dtype)
    np.copyto(out, array)
    return out


class _DirectionCache:
    """What one direction of one layer saved in the forward pass."""

    __slots__ = ("Cs", "G", "HN", "Hs")

    def __init__(self, Hs, Cs=None, G=None, HN=None):
        self.Hs, self.Cs, self.G, self.HN = Hs, Cs, G, HN


class _Recurrent(Module):
    """Shared driver of :class:`LSTM` and :class:`GRU`."""

    _n_gates = 0
    _has_cell_state = False
    device = "cpu"  # the class default of layers pickled before the argument existed

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        batch_first=True,
        dtype=np.float32,
        random_state=None,
        device="cpu",
    ):
        self._check_device(device)
        self.device = device
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.bidirectional = bool(bidirectional)
        if not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.dtype = check_dtype(dtype)
        self.num_directions = 2 if self.bidirectional else 1
        self.random_state = random_state
        self._rng = check_random_state(random_state)
        self._cache = None
        self._allocate()
        self.reset_parameters()

    def _check_device(self, device):
        """Only ``'cpu'``: the GPU runs :class:`tsLSTM.gpu.LSTM` / ``GRU``."""
        if device != "cpu":
            name = type(self).__name__
            raise ValueError(
                f"tsLSTM.nn.{name} runs on the CPU only (device='cpu'), got device={device!r}; "
                f"for 'cuda' or 'auto' use tsLSTM.gpu.{name}, which has the same signature"
            )

    # -- layout ------------------------------------------------------------------

    def directions(self, layer=None):
        """The :class:`Direction` s of ``layer`` (all layers when None), in PyTorch's order."""
        D = self.num_directions
        every = self._by_direction[2]
        return every if layer is None else every[layer * D : (layer + 1) * D]

    def dropout_after(self, layer):
        """Whether a training pass applies dropout to ``layer``'s output."""
        return self.dropout > 0 and layer < self.num_layers - 1

    # -- parameters ------------------------------------------------------------

    def _layer_input_size(self, layer):
        return self.input_size if layer == 0 else self.num_directions * self.hidden_size

    @classmethod
    def parameter_layout(cls, input_size, hidden_size, num_layers=1, bidirectional=False):
        """The :class:`ParameterSpec` s of a stack of these sizes, without building it.

        The layout of :meth:`state_dict` (PyTorch's names and shapes, in registration
        order); sizes are plain ints, so a layout that would not fit in memory can be
        measured (``sum(spec.size ...)``) before anything is allocated.
        """
        GH = cls._n_gates * hidden_size
        D = 2 if bidirectional else 1
        specs = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else D * hidden_size
            for direction in range(D):
                sfx = param_suffix(layer, direction)
                specs += [
                    ParameterSpec(f"weight_ih{sfx}", (GH, layer_input), True),
                    ParameterSpec(f"weight_hh{sfx}", (GH, hidden_size), True),
                    ParameterSpec(f"bias_ih{sfx}", (GH,)),
                    ParameterSpec(f"bias_hh{sfx}", (GH,)),
                ]
        return specs

    def _parameter_specs(self):
        return self.parameter_layout(
            self.input_size, self.hidden_size, self.num_layers, self.bidirectional
        )

    def reset_parameters(self):
        """PyTorch's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / np.sqrt(self.hidden_size)
        for spec in self._parameter_specs():
            value = self._rng.uniform(-bound, bound, size=spec.shape)
            spec.assign(self._params[spec.name], value)

    @staticmethod
    def _direction_views(views, sfx):
        """``W_ihT, W_hhT, b_ih, b_hh`` of the direction ``sfx`` in named ``views``."""
        v = views
        return v[f"weight_ih{sfx}"], v[f"weight_hh{sfx}"], v[f"bias_ih{sfx}"], v[f"bias_hh{sfx}"]

    def _bind(self, flat_params, flat_grads):
        super()._bind(flat_params, flat_grads)
        # every call walks the directions and looks their views up: built once here
        D = self.num_directions
        every = tuple(
            Direction(k, d, k * D + d, param_suffix(k, d))
            for k in range(self.num_layers)
            for d in range(D)
        )
        self._by_direction = (
            {d.suffix: self._direction_views(self._params, d.suffix) for d in every},
            {d.suffix: self._direction_views(self._grads, d.suffix) for d in every},
            every,
        )
        # inference's walk: per layer, (reverse, state row, weights) of each direction
        self._infer_plan = tuple(
            tuple((d.direction == 1, d.index, self._by_direction[0][d.suffix])
                  for d in every[k * D : (k + 1) * D])
            for k in range(self.num_layers)
        )  # fmt: skip

    def _weights(self, sfx):
        return self._by_direction[0][sfx]

    def _weight_grads(self, sfx, grads):
        if grads is self._grads:
            return self._by_direction[1][sfx]
        return self._direction_views(grads, sfx)

    # -- validation --------------------------------------------------------------

    def _to_time_major(self, arr):
        return np.ascontiguousarray(arr.transpose(1, 0, 2) if self.batch_first else arr)

    def _check_input(self, X):
        name = type(self).__name__
        X = as_finite_array(X, "X", self.dtype)
        if X.ndim != 3:
            layout = "(batch, time, features)" if self.batch_first else "(time, batch, features)"
            raise ValueError(
                f"{name} expects a 3-D input {layout}; got an array of shape {X.shape}. "
                "Reshape a single sequence to (1, time, features)."
            )
        if X.shape[2] != self.input_size:
            raise ValueError(
                f"{name} was built for input_size={self.input_size} features, "
                f"got input of shape {X.shape} with {X.shape[2]} features"
            )
        T, B = (X.shape[1], X.shape[0]) if self.batch_first else X.shape[:2]
        if B == 0:
            raise ValueError(f"{name} got an empty batch (input shape {X.shape})")
        if T == 0:
            raise ValueError(f"{name} got sequences with zero time steps (input shape {X.shape})")
        return self._to_time_major(X)

    def _check_state(self, state, name, batch, checked=False):
        """``state`` for the kernels, which only read it: zeros when None (the kept
        array of :meth:`_zero_states`), the array itself when ``checked`` (finite, of
        this dtype and shape: the caller built it)."""
        if state is None:
            return self._zero_states(batch)
        if checked:
            return state
        shape = (self.num_layers * self.num_directions, batch, self.hidden_size)
        state = as_finite_array(state, name, self.dtype)
        if state.shape != shape:
            raise ValueError(
                f"{name} must have shape (num_layers * num_directions, batch, hidden_size) "
                f"= {shape}, got {state.shape}"
            )
        return np.ascontiguousarray(state)

    def _check_lengths(self, lengths, B, T):
        """Valid steps per sequence as int64 (B,); all T when ``lengths`` is None.

        The kernels only read it; the all-``T`` array of the last ``(B, T)`` is kept.
        """
        if lengths is None:
            key, full = self.__dict__.get("_all_steps", (None, None))
            if key != (B, T):
                full = np.full(B, T, dtype=np.int64)
                self._all_steps = ((B, T), full)
            return full
        arr = np.asarray(lengths)
        if arr.shape != (B,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"lengths must be {B} integers (one per sequence), got {arr.dtype} of shape "
                f"{arr.shape}"
            )
        if arr.min() < 1 or arr.max() > T:
            raise ValueError(f"lengths must lie in [1, {T}] (the number of time steps)")
        return np.ascontiguousarray(arr, dtype=np.int64)

    @staticmethod
    def _zero_padding(output, lengths):
        """Zero a time-major output at padded steps (as PyTorch's packed sequences)."""
        T = output.shape[0]
        if lengths.min() < T:
            output = output * (np.arange(T)[:, None] < lengths[None, :])[:, :, None]
        return output

    # -- forward -------------------------------------------------------------------

    def _chunk_workspaces(self, n_chunks):
        """One :class:`Workspace` per batch chunk, kept from call to call."""
        spaces = self.__dict__.setdefault("_workspaces", [])
        spaces.extend(Workspace() for _ in range(n_chunks - len(spaces)))
        return spaces

    def _chunk_bounds(self, T, B, max_rows=None):
        """Batch chunks for ``B`` sequences of ``T`` steps (see ``_threads.chunk_bounds``);
        those of the last sizes asked for are kept (training asks for the same ones
        every step), with the chunking settings they were found under."""
        key = (T, B, max_rows, _threads.CHUNK_ROWS, _threads.SPLIT_MACS)
        kept = self.__dict__.get("_bounds")
        if kept is not None and kept[0] == key:
            return kept[1]
        if B < 2 * MIN_SPLIT_ROWS:  # never split: the products' size does not matter
            bounds = chunk_bounds(B, 0, max_rows)
        else:
            G, H, L = self._n_gates * self.hidden_size, self.hidden_size, self.num_layers
            inputs = self.input_size + (L - 1) * self.num_directions * H  # all layers' inputs
            macs = T * self.num_directions * G * (inputs + L * H)
            bounds = chunk_bounds(B, macs, max_rows)
        self._bounds = (key, bounds)
        return bounds

    def _run_forward(self, X, h0, c0, training, lengths, keep_output):
        """Time-major forward through all layers; returns output, h_n, c_n.

        Batches of more than ``CHUNK_ROWS`` sequences are split into balanced chunks
        that run through the whole stack in parallel (see :mod:`tsLSTM._threads`);
        BLAS (where the kernels call it) runs on one thread, so the result does not
        depend on the thread count.
        ``keep_output`` is ``'copy'`` (output in a new array), ``'view'`` (it may be a
        view of the layer's workspace, valid until the next call) or None (output is
        None: the caller needs only the final states).
        """
        T, B = X.shape[:2]
        D, H = self.num_directions, self.hidden_size
        masks = (None,) * self.num_layers
        if training and self.dropout > 0:
            masks = [
                self._dropout_mask((T, B, D * H)) if self.dropout_after(layer) else None
                for layer in range(self.num_layers)
            ]
        grad_enabled = is_grad_enabled()
        if not grad_enabled:
            self._cache = None  # nothing to backpropagate (as after torch.no_grad())
            if all(m is None for m in masks):  # dropout needs the training kernels
                return self._run_infer(X, h0, c0, lengths, keep_output is not None)
        bounds = self._chunk_bounds(T, B)
        spaces = self._chunk_workspaces(len(bounds) - 1)
        if len(bounds) == 2:
            with self._one_blas_thread():
                output, h_n, c_n, cache = self._forward_chunk(X, h0, c0, lengths, masks, spaces[0])
            self._cache = [(0, B, cache)]
            if keep_output == "copy":
                output = output.copy()
            elif keep_output is None:
                output = None  # not asked for: no padding to zero
        else:

            def chunk(k):
                rows = slice(bounds[k], bounds[k + 1])
                ws = spaces[k]
                return self._forward_chunk(
                    _copy_into(ws, "X", X[:, rows]), np.ascontiguousarray(h0[:, rows]),
                    None if c0 is None else np.ascontiguousarray(c0[:, rows]), lengths[rows],
                    [None if m is None else m[:, rows] for m in masks], ws,
                )  # fmt: skip

            with self._one_blas_thread():
                results = parallel_map(chunk, len(bounds) - 1)
            output = None
            if keep_output is not None:
                output = np.concatenate([r[0] for r in results], axis=1)
            h_n = np.concatenate([r[1] for r in results], axis=1)
            c_n = None if c0 is None else np.concatenate([r[2] for r in results], axis=1)
            self._cache = [(bounds[k], bounds[k + 1], r[3]) for k, r in enumerate(results)]
        if not grad_enabled:
            self._cache = None
        if output is not None:
            output = self._zero_padding(output, lengths)
        return output, h_n, c_n

    def _calls_blas(self):
        """Whether this stack's training kernels call BLAS (the GRU's always do)."""
        return True

    # the training kernels (forward, backward): with tsLSTM's tiles, with BLAS's products
    _TILED_KERNELS = _BLAS_KERNELS = None

    def _tiled(self):
        """Whether the training kernels use tsLSTM's own tiles for the recurrent
        products (:mod:`~tsLSTM.kernels.lstm_tiled`, :mod:`~tsLSTM.kernels.gru_tiled`)."""
        return tiles_apply(self.hidden_size, np.dtype(self.dtype).itemsize)

    def _training_kernels(self):
        """``(forward, backward)`` for this layer's sizes: the tiled kernels where
        :meth:`_tiled`, else BLAS's; found once."""
        kernels = self.__dict__.get("_kernels")
        if kernels is None:
            kernels = self._kernels = self._TILED_KERNELS if self._tiled() else self._BLAS_KERNELS
        return kernels

    def _one_blas_thread(self):
        """The context of a training pass: BLAS on one thread where the kernels call it
        (:func:`~tsLSTM._threads.single_threaded_blas`), nothing to set otherwise."""
        calls = self.__dict__.get("_kernels_call_blas")
        if calls is None:  # the sizes decide, so it is found once
            calls = self._kernels_call_blas = self._calls_blas()
        return single_threaded_blas() if calls else nullcontext()

    def _forward_chunk(self, X, h0, c0, lengths, masks, ws):
        """Forward of one batch chunk: ``output, h_n, c_n, cache`` (no padding zeroed).

        The output and the cache live in the chunk's workspace ``ws``.
        """
        T, B = X.shape[:2]
        D, H = self.num_directions, self.hidden_size
        states = np.empty((1 + self._has_cell_state, *h0.shape), dtype=h0.dtype)  # h_n, c_n
        h_n = states[0]
        c_n = states[1] if self._has_cell_state else None
        inputs, caches = [], []
        layer_input = X
        for layer in range(self.num_layers):
            outputs, layer_caches = [], []
            for _, direction, idx, sfx in self.directions(layer):
                reverse = direction == 1
                c0_dir = c0[idx] if self._has_cell_state else None
                cache = self._forward_direction(
                    layer_input, sfx, h0[idx], c0_dir, reverse, lengths, ws, f"{layer}.{direction}"
                )
                out_start = 0 if reverse else 1
                outputs.append(cache.Hs[out_start : out_start + T])
                last = 0 if reverse else T
                h_n[idx] = cache.Hs[last]
                if self._has_cell_state:
                    c_n[idx] = cache.Cs[last]
                layer_caches.append(cache)
            output = outputs[0]
            if D == 2:
                output = ws.empty(f"Y{layer}", (T, B, D * H), self.dtype)
                np.concatenate(outputs, axis=2, out=output)
            if masks[layer] is not None:
                output = np.multiply(
                    output, masks[layer], out=ws.empty(f"Ym{layer}", (T, B, D * H), self.dtype)
                )
            inputs.append(layer_input)
            caches.append(layer_caches)
            layer_input = output
        return layer_input, h_n, c_n, (inputs, caches, masks, lengths)

    def _dropout_mask(self, shape):
        """Inverted-dropout mask: ``1 / keep`` with probability ``keep``, else 0."""
        keep = 1.0 - self.dropout
        return ((self._rng.random_sample(shape) < keep) / keep).astype(self.dtype)

    def _forward_direction(self, X, sfx, h0, c0, reverse, lengths, ws, key):
        raise NotImplementedError

    def _clear_own_cache(self):
        self._cache = None
        for ws in self.__dict__.get("_workspaces", ()):
            ws.clear()
        if "_weights_workspace" in self.__dict__:
            self._weights_workspace.clear()

    # -- backward ------------------------------------------------------------------

    def _run_backward(self, d_output, d_h_n, d_c_n, input_grad):
        """Time-major backward through all layers; returns dX, dh0, dc0.

        ``dX`` is None unless ``input_grad``; ``d_output`` None means zeros. Chunks of
        the forward pass are backpropagated in parallel, each into its own gradient
        buffer; the buffers are then added in chunk order.
        """
        chunks, self._cache = self._cache, None
        spaces = self._chunk_workspaces(len(chunks))
        first_inputs = chunks[0][2][0]  # a chunk's cache: (inputs, caches, masks, lengths)
        T = first_inputs[0].shape[0]
        W_hh = self._contiguous_W_hh()
        if len(chunks) == 1:
            B = d_h_n.shape[1]
            dX = np.empty((T if input_grad else 0, B, self.input_size), dtype=self.dtype)
            with self._one_blas_thread():
                _, dh0, dc0 = self._backward_chunk(
                    chunks[0][2], d_output, d_h_n, d_c_n, self._grads, spaces[0], dX, W_hh
                )
            return (dX if input_grad else None), dh0, dc0

        def chunk(k):
            start, stop, cache = chunks[k]
            rows = slice(start, stop)
            ws = spaces[k]
            flat = ws.zeros("grads", self.flat_grads.shape, self.dtype)
            shape = (T if input_grad else 0, stop - start, self.input_size)
            result = self._backward_chunk(
                cache, None if d_output is None else _copy_into(ws, "d_output", d_output[:, rows]),
                np.ascontiguousarray(d_h_n[:, rows]),
                None if d_c_n is None else np.ascontiguousarray(d_c_n[:, rows]),
                self.named_views(flat), ws, ws.empty("dX", shape, self.dtype), W_hh,
            )  # fmt: skip
            return (*result, flat)

        with self._one_blas_thread():
            results = parallel_map(chunk, len(chunks))
        for result in results:
            self.flat_grads += result[3]
        dX = np.concatenate([r[0] for r in results], axis=1) if input_grad else None
        dh0 = np.concatenate([r[1] for r in results], axis=1)
        dc0 = None if d_c_n is None else np.concatenate([r[2] for r in results], axis=1)
        return dX, dh0, dc0

    def _contiguous_W_hh(self):
        """Each direction's ``W_hh`` (G * H, H), C-contiguous, by parameter suffix.

        The parameters hold its transpose; the backward kernels read it row-major. It is
        copied once per backward pass, for all the batch chunks, into a workspace of the
        layer's (the chunks only read it).
        """
        ws = self.__dict__.get("_weights_workspace")
        if ws is None:
            ws = self._weights_workspace = Workspace()
        copies = {}
        for d in self.directions():
            W_hhT = self._weights(d.suffix)[1]
            W_hh = ws.empty(f"W_hh{d.suffix}", W_hhT.shape[::-1], W_hhT.dtype)
            transpose_into(W_hhT, W_hh)
            copies[d.suffix] = W_hh
        return copies

    def _backward_chunk(self, cache, d_output, d_h_n, d_c_n, grads, ws, dX_input, W_hh):
        """Backward of one chunk, accumulating parameter gradients into ``grads`` views.

        ``d_output`` None means zeros; the first layer's input gradient is written
        into ``dX_input`` (not computed when it has zero length), which is returned.
        ``W_hh``: :meth:`_contiguous_W_hh`.
        """
        inputs, caches, masks, lengths = cache
        H, D = self.hidden_size, self.num_directions
        B = inputs[0].shape[1]
        states = np.empty((1 + self._has_cell_state, *d_h_n.shape), dtype=d_h_n.dtype)
        dh0 = states[0]
        dc0 = states[1] if self._has_cell_state else None
        dY = d_output
        if dY is None:  # zeros, read by the kernels as such without a buffer
            dY = np.empty((0, B, D * H), dtype=self.dtype)
        for layer in reversed(range(self.num_layers)):
            X = inputs[layer]
            if masks[layer] is not None and len(dY):
                dY = np.multiply(dY, masks[layer], out=ws.empty("dYm", dY.shape, self.dtype))
            dX = dX_input if layer == 0 else ws.empty(f"dX{layer}", X.shape, self.dtype)
            for _, direction, idx, sfx in self.directions(layer):
                dH = (
                    dY
                    if D == 1
                    else _copy_into(ws, "dH", dY[:, :, direction * H : (direction + 1) * H])
                )
                dX_dir = dX
                if direction == 1 and dX.shape[0]:
                    dX_dir = ws.empty("dX_reverse", dX.shape, self.dtype)
                dc_n = d_c_n[idx] if self._has_cell_state else None
                dh, dc = self._backward_direction(
                    X, sfx, caches[layer][direction], dH, d_h_n[idx], dc_n, direction == 1,
                    lengths, dX_dir, grads, ws, W_hh[sfx],
                )  # fmt: skip
                dh0[idx] = dh
                if self._has_cell_state:
                    dc0[idx] = dc
                if dX_dir is not dX:
                    dX += dX_dir
            dY = dX
        return dX_input, dh0, dc0

    def _backward_direction(
        self, X, sfx, cache, dH, dh_n, dc_n, reverse, lengths, dX, grads, ws, W_hh
    ):
        raise NotImplementedError

    # -- public API ----------------------------------------------------------------

    def _forward(self, X, h0, c0, training, lengths, keep_output="copy"):
        """Validated forward; ``keep_output`` as in :meth:`_run_forward`."""
        X = self._check_input(X)
        T, B = X.shape[:2]
        lengths = self._check_lengths(lengths, B, T)
        h0 = self._check_state(h0, "h0", B)
        if self._has_cell_state:
            c0 = self._check_state(c0, "c0", B)
        output, h_n, c_n = self._run_forward(X, h0, c0, training, lengths, keep_output)
        T, B = X.shape[:2]
        self._shapes = (X.shape, (T, B, self.num_directions * self.hidden_size))
        if self.batch_first and output is not None:
            output = output.transpose(1, 0, 2)
        return output, h_n, c_n

    def _model_forward(self, X, training, lengths, sequence):
        """The forward pass of :class:`~tsLSTM.nn.SequenceModel`.

        Returns the top layer's outputs (B, T, D * H) when ``sequence`` (a view of
        the layer's workspace, valid until the next call), else the final hidden
        states (num_layers * D, B, H); only what is returned is assembled.
        """
        output, h_n, _ = self._forward(
            X, None, None, training, lengths, keep_output="view" if sequence else None
        )
        return output if sequence else h_n

    def _backward(self, d_output, d_h_n, d_c_n, input_grad=True, checked=False):
        """Validated backward (``checked``: ``d_h_n`` and ``d_c_n`` are C-contiguous
        finite arrays of the right dtype and shape, as :class:`SequenceModel` builds
        them)."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward needs a forward pass first, outside "
                "no_grad() (each forward pass can be backpropagated once)"
            )
        (T, B, _), out_shape = self._shapes
        name = type(self).__name__
        if d_output is not None:
            d_output = as_finite_array(d_output, "d_output", self.dtype)
            expected = (B, T, out_shape[2]) if self.batch_first else out_shape
            if d_output.shape != expected:
                raise ValueError(
                    f"{name}.backward: d_output must have the output's shape {expected}, "
                    f"got {d_output.shape}"
                )
            d_output = self._to_time_major(d_output)
        d_h_n = self._check_state(d_h_n, "d_h_n", B, checked)
        if self._has_cell_state:
            d_c_n = self._check_state(d_c_n, "d_c_n", B, checked)
        dX, dh0, dc0 = self._run_backward(d_output, d_h_n, d_c_n, input_grad)
        if self.batch_first and dX is not None:
            dX = dX.transpose(1, 0, 2)
        return dX, dh0, dc0

    def infer(self, X, return_sequences=False, lengths=None):
        """Inference without saving anything for backward, from zero initial states.

        Each sequence's result depends on that sequence only: it is bit-identical
        whatever else is in the batch, in which order, and whatever the thread count
        (the products are :mod:`tsLSTM.kernels.gemm`'s, not BLAS's). ``forward``
        inside :func:`~tsLSTM.nn.no_grad` runs the same kernels and returns what
        ``forward`` returns.

        Parameters
        ----------
        X : array-like of shape (B, T, input_size)
            (``(T, B, input_size)`` when ``batch_first=False``.)
        return_sequences : bool, default=False
            Return the top layer's output at every step, as :meth:`forward` does;
            otherwise only its final state per direction.
        lengths : array-like of int of shape (B,), optional
            Valid steps of each right-padded sequence (see :meth:`LSTM.forward`).

        Returns
        -------
        ndarray of shape (B, T, D * H) or, by default, (B, D * H): the top layer's
        forward-direction state after the last step with (bidirectional) the
        reverse direction's after the first.
        """
        X = self._check_input(X)
        T, B, _ = X.shape
        lengths = self._check_lengths(lengths, B, T)
        zeros = self._zero_states(B)
        output, h_n, _ = self._run_infer(X, zeros, zeros, lengths, return_sequences)
        if return_sequences:
            return output.transpose(1, 0, 2) if self.batch_first else output
        D = self.num_directions
        return h_n[-1] if D == 1 else np.concatenate(h_n[-D:], axis=1)

    def _zero_states(self, B):
        """Zero states (num_layers * D, B, H) for the kernels, which only read them:
        the array of the last ``B`` is kept (not marked read-only, which numba would
        compile kernels for anew)."""
        zeros = self.__dict__.get("_zeros")
        if zeros is None or zeros.shape[1] != B:
            shape = (self.num_layers * self.num_directions, B, self.hidden_size)
            zeros = self._zeros = np.zeros(shape, dtype=self.dtype)
        return zeros

    def _run_infer(self, X, h0, c0, lengths, keep_output):
        """Time-major inference through all layers: ``output, h_n, c_n`` as
        :meth:`_run_forward` returns them (output None unless ``keep_output``), in
        parallel batch chunks for large batches."""
        T, B, _ = X.shape
        if B < 2 * MIN_SPLIT_ROWS:  # one chunk, whatever the products' size
            bounds = (0, B)
        elif threads_in_effect() == 1:  # no second thread to split a chunk for
            bounds = chunk_bounds(B, 0, INFER_CHUNK_ROWS)
        else:
            bounds = self._chunk_bounds(T, B, INFER_CHUNK_ROWS)
        if len(bounds) == 2:
            output, h_n, c_n = self._infer_chunk(X, h0, c0, lengths, keep_output)
        else:

            def chunk(k):
                rows = slice(bounds[k], bounds[k + 1])
                # the kernels take the states of the whole stack as C-contiguous arrays
                c0_rows = np.ascontiguousarray(c0[:, rows]) if self._has_cell_state else None
                return self._infer_chunk(
                    np.ascontiguousarray(X[:, rows]), np.ascontiguousarray(h0[:, rows]),
                    c0_rows, lengths[rows], keep_output,
                )  # fmt: skip

            results = parallel_map(chunk, len(bounds) - 1)
            output = np.concatenate([r[0] for r in results], axis=1) if keep_output else None
            h_n = np.concatenate([r[1] for r in results], axis=1)
            c_n = None
            if self._has_cell_state:
                c_n = np.concatenate([r[2] for r in results], axis=1)
        if keep_output:
            output = self._zero_padding(output, lengths)
        return output, h_n, c_n

    def _infer_chunk(self, X, h0, c0, lengths, keep_output):
        """Inference on time-major ``X`` from the states ``h0``, ``c0`` (num_layers * D,
        B, H): the top layer's outputs (T, B, D*H) or None, ``h_n`` and ``c_n``."""
        T, B, _ = X.shape
        H, L = self.hidden_size, self.num_layers
        lstm = self._has_cell_state
        states = np.empty((2 if lstm else 1, L * self.num_directions, B, H), dtype=self.dtype)
        h_n, c_n = states[0], (states[1] if lstm else None)
        no_output = _NO_STEPS[self.dtype]
        layer_input = X
        for layer, directions in enumerate(self._infer_plan):
            keep = keep_output or layer < L - 1
            outputs = []
            for reverse, idx, (W_ihT, W_hhT, b_ih, b_hh) in directions:
                H_out = np.empty((T, B, H), dtype=self.dtype) if keep else no_output
                if lstm:
                    lstm_infer(layer_input, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, lengths,
                               H_out, h_n, c_n, idx)  # fmt: skip
                else:
                    # h0[idx] of the (L * D, B, H) state array is contiguous
                    h_n[idx] = gru_infer(layer_input, W_ihT, W_hhT, b_ih, b_hh, h0[idx], reverse,
                                         lengths, H_out)  # fmt: skip
                outputs.append(H_out)
            if keep:
                layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=2)
        return (layer_input if keep_output else None), h_n, c_n

    def __repr__(self):
        extra = ""
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        if self.bidirectional:
            extra += ", bidirectional=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if self.dtype != np.float32:
            extra += f", dtype={self.dtype}"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra})"


_SIGNATURE_DOC = """
    Parameters
    ----------
    input_size : int
        Number of features of each time step.
    hidden_size : int
        Number of hidden units ``H`` per direction.
    num_layers : int, default=1
        Number of stacked recurrent layers.
    bidirectional : bool, default=False
        Add a reverse-direction pass per layer; outputs then have ``2 * H`` features.
    dropout : float, default=0.0
        Inverted dropout on the outputs of every layer but the last, applied when
        ``forward(..., training=True)``; masks come from the layer's random state.
    batch_first : bool, default=True
        Inputs and outputs are ``(batch, time, features)``; otherwise time-major.
    dtype : {np.float32, np.float64}, default=np.float32
        Floating-point type of parameters and computation.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the dropout masks.
    device : {'cpu'}, default='cpu'
        These layers run on the CPU; any other value raises ``ValueError``. For
        ``'cuda'`` or ``'auto'`` use :class:`tsLSTM.gpu.LSTM` / :class:`tsLSTM.gpu.GRU`
        (same signature).

    Attributes
    ----------
    flat_params, flat_grads : ndarray of shape (n_parameters,)
        All parameters and their accumulated gradients, each in one buffer.
"""


class LSTM(_Recurrent):
    __doc__ = (
        """Multi-layer long short-term memory network, compatible with ``torch.nn.LSTM``.

    Gate order i, f, g, o; parameter names ``weight_ih_l{k}``, ``weight_hh_l{k}``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (``_reverse`` for the backward direction).
    """
        + _SIGNATURE_DOC
    )

    _n_gates = 4
    _has_cell_state = True
    _TILED_KERNELS = (lstm_forward_tiled, lstm_backward_tiled)
    _BLAS_KERNELS = (lstm_forward, lstm_backward)

    def forward(self, X, h0=None, c0=None, training=False, lengths=None):
        """Run the network over a batch of sequences.

        Parameters
        ----------
        X : array-like of shape (B, T, input_size)
            Input (``(T, B, input_size)`` when ``batch_first=False``).
        h0, c0 : array-like of shape (num_layers * D, B, H), optional
            Initial states; zeros when omitted.
        training : bool, default=False
            Apply dropout between layers.
        lengths : array-like of int of shape (B,), optional
            Valid steps of each sequence when ``X`` is right-padded: padded steps are
            skipped (the reverse direction starts at each sequence's last valid step),
            outputs there are 0 and ``h_n``/``c_n`` are the states after the last
            valid step, as with ``torch.nn.utils.rnn.pack_padded_sequence``.

        Returns
        -------
        output : ndarray of shape (B, T, D * H)
            Top layer's hidden state at every step (both directions concatenated).
        (h_n, c_n) : tuple of ndarray of shape (num_layers * D, B, H)
            Final hidden and cell states of every layer and direction.
        """
        output, h_n, c_n = self._forward(X, h0, c0, training, lengths)
        return output, (h_n, c_n)

    def backward(self, d_output=None, d_h_n=None, d_c_n=None, input_grad=True):
        """Backpropagate through the last forward pass.

        Parameter gradients are accumulated into ``flat_grads`` (call
        :meth:`zero_grad` between steps, as in PyTorch).

        Parameters
        ----------
        d_output : array-like of shape of ``output``, optional
            Gradient of the loss w.r.t. the output; zeros when omitted.
        d_h_n, d_c_n : array-like of shape (num_layers * D, B, H), optional
            Gradients w.r.t. the final states; zeros when omitted.
        input_grad : bool, default=True
            Compute ``dX``. With False, ``dX`` is None and one matrix product per
            direction of the first layer is saved (as for a PyTorch input that does
            not require a gradient).

        Returns
        -------
        dX : ndarray of the input's shape, or None
        (dh0, dc0) : tuple of ndarray of shape (num_layers * D, B, H)
        """
        dX, dh0, dc0 = self._backward(d_output, d_h_n, d_c_n, input_grad)
        return dX, (dh0, dc0)

    def _calls_blas(self):
        """Only where the tiles do not apply, or where a layer's products over all
        ``T * B`` rows go to BLAS (:func:`~tsLSTM.kernels.lstm_tiled.products_plan`)."""
        if not self._tiled():
            return True
        inputs = (self._layer_input_size(k) for k in range(self.num_layers))
        return any(products_plan(self.hidden_size, n) == PRODUCTS_BLAS for n in inputs)

    def _forward_direction(self, X, sfx, h0, c0, reverse, lengths, ws, key):
        T, B, _ = X.shape
        H = self.hidden_size
        W_ihT, W_hhT, b_ih, b_hh = self._weights(sfx)
        Hs = ws.empty(f"Hs{key}", (T + 1, B, H), self.dtype)
        Cs = ws.empty(f"Cs{key}", (T + 1, B, H), self.dtype)
        G = ws.empty(f"G{key}", (T, B, 4 * H), self.dtype)
        forward = self._training_kernels()[0]
        forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, c0, reverse, lengths, Hs, Cs, G)
        return _DirectionCache(Hs, Cs, G)

    def _backward_direction(
        self, X, sfx, cache, dH, dh_n, dc_n, reverse, lengths, dX, grads, ws, W_hh
    ):
        W_ihT = self._weights(sfx)[0]
        dG = ws.empty("dG", cache.G.shape, self.dtype)
        return self._training_kernels()[1](
            X, W_ihT, W_hh, cache.Hs, cache.Cs, cache.G, dH, dh_n, dc_n, reverse, lengths, dG,
            *self._weight_grads(sfx, grads), dX,
        )  # fmt: skip


class GRU(_Recurrent):
    __doc__ = (
        """Multi-layer gated recurrent unit network, compatible with ``torch.nn.GRU``.

    Gate order r, z, n; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, as PyTorch.
    """
        + _SIGNATURE_DOC
    )

    _n_gates = 3
    _has_cell_state = False
    _TILED_KERNELS = (gru_forward_tiled, gru_backward_tiled)
    _BLAS_KERNELS = (gru_forward, gru_backward)

    def forward(self, X, h0=None, training=False, lengths=None):
        """Run the network over a batch of sequences.

        Parameters
        ----------
        X : array-like of shape (B, T, input_size)
            Input (``(T, B, input_size)`` when ``batch_first=False``).
        h0 : array-like of shape (num_layers * D, B, H), optional
            Initial hidden state; zeros when omitted.
        training : bool, default=False
            Apply dropout between layers.
        lengths : array-like of int of shape (B,), optional
            Valid steps of right-padded sequences (see :meth:`LSTM.forward`).

        Returns
        -------
        output : ndarray of shape (B, T, D * H)
        h_n : ndarray of shape (num_layers * D, B, H)
        """
        output, h_n, _ = self._forward(X, h0, None, training, lengths)
        return output, h_n

    def backward(self, d_output=None, d_h_n=None, input_grad=True):
        """Backpropagate through the last forward pass (see :meth:`LSTM.backward`).

        Returns
        -------
        dX : ndarray of the input's shape, or None with ``input_grad=False``
        dh0 : ndarray of shape (num_layers * D, B, H)
        """
        dX, dh0, _ = self._backward(d_output, d_h_n, None, input_grad)
        return dX, dh0

    def _forward_direction(self, X, sfx, h0, c0, reverse, lengths, ws, key):
        T, B, _ = X.shape
        H = self.hidden_size
        W_ihT, W_hhT, b_ih, b_hh = self._weights(sfx)
        Hs = ws.empty(f"Hs{key}", (T + 1, B, H), self.dtype)
        G = ws.empty(f"G{key}", (T, B, 3 * H), self.dtype)
        HN = ws.empty(f"HN{key}", (T, B, H), self.dtype)
        forward = self._training_kernels()[0]
        forward(X, W_ihT, W_hhT, b_ih, b_hh, h0, reverse, lengths, Hs, G, HN)
        return _DirectionCache(Hs, G=G, HN=HN)

    def _backward_direction(
        self, X, sfx, cache, dH, dh_n, dc_n, reverse, lengths, dX, grads, ws, W_hh
    ):
        W_ihT = self._weights(sfx)[0]
        dGx = ws.empty("dGx", cache.G.shape, self.dtype)
        dGh = ws.empty("dGh", cache.G.shape, self.dtype)
        dh0 = self._training_kernels()[1](
            X, W_ihT, W_hh, cache.Hs, cache.G, cache.HN, dH, dh_n, reverse, lengths, dGx, dGh,
            *self._weight_grads(sfx, grads), dX,
        )  # fmt: skip
        return dh0, None
