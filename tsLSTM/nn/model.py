"""A model as "recurrent stack + dense head"."""

import numbers

import numpy as np

from .._threads import (
    INFER_CHUNK_ROWS,
    MIN_SPLIT_ROWS,
    chunk_bounds,
    chunk_threads,
    parallel_map,
)
from ..kernels.checks import all_finite
from .conv import Conv1dBlock
from .linear import Linear
from .module import Module
from .recurrent import GRU, LSTM


class SequenceModel(Module):
    """A recurrent stack followed by a dense head, with one flat parameter buffer.

    Parameters
    ----------
    rnn : LSTM or GRU
        The recurrent stack; must be ``batch_first``.
    head : Linear
        Dense layer applied to the recurrent features.
    output : {'last', 'sequence'}, default='last'
        ``'last'`` (many-to-one): the head sees the top layer's final hidden state,
        for a bidirectional stack the forward direction's state after the last step
        concatenated with the reverse direction's after the first step (its final
        state), giving predictions of shape (B, out_features). ``'sequence'``
        (many-to-many): the head is applied at every step, giving (B, T, out_features).
    frontend : list of Conv1dBlock, optional
        Convolutional blocks applied before the recurrent stack (CNN-LSTM); they
        shorten the sequences (``Conv1dBlock.output_length``), and with ``lengths``
        the valid lengths are shortened alike.

    Notes
    -----
    State-dict keys are the children's prefixed with ``rnn.`` and ``head.`` (and
    ``frontend.0.``, ...), as a ``torch.nn.Module`` with attributes ``rnn``, ``head``
    and a ``ModuleList`` ``frontend`` would have them. The
    children are re-bound to slices of this model's buffers, so ``flat_params`` and
    ``flat_grads`` cover the whole model.
    """

    def __init__(self, rnn, head, output="last", frontend=None):
        if not isinstance(rnn, (LSTM, GRU)):
            raise ValueError(f"rnn must be an LSTM or GRU layer, got {type(rnn).__name__}")
        if not rnn.batch_first:
            raise ValueError("SequenceModel needs a batch_first recurrent stack")
        if not isinstance(head, Linear):
            raise ValueError(f"head must be a Linear layer, got {type(head).__name__}")
        features = rnn.num_directions * rnn.hidden_size
        if head.in_features != features:
            raise ValueError(
                f"head.in_features={head.in_features} does not match the recurrent "
                f"features num_directions * hidden_size = {features}"
            )
        if output not in ("last", "sequence"):
            raise ValueError(f"output must be 'last' or 'sequence', got {output!r}")
        frontend = list(frontend or [])
        channels = None
        for block in frontend:
            if not isinstance(block, Conv1dBlock):
                raise ValueError(f"frontend blocks must be Conv1dBlock, got {type(block).__name__}")
            if channels is not None and block.in_channels != channels:
                raise ValueError(f"frontend block with {block.in_channels} input channels "
                                 f"follows one with {channels} filters")  # fmt: skip
            channels = block.filters
        if channels is not None and rnn.input_size != channels:
            raise ValueError(
                f"rnn.input_size={rnn.input_size} does not match the front-end's {channels} filters"
            )
        if frontend and output == "sequence":
            raise ValueError("output='sequence' needs one output per input step: no frontend")
        self.rnn = rnn
        self.head = head
        self.output = output
        self.frontend = frontend
        self._adopt_children()

    @staticmethod
    def _prefixes(n_blocks):
        """The children's state-dict prefixes, in registration order."""
        return [*(f"frontend.{i}" for i in range(n_blocks)), "rnn", "head"]

    @classmethod
    def parameter_layout(cls, rnn, head, frontend=()):
        """``{state-dict key: ParameterSpec}`` of a model from its layers' layouts.

        ``rnn``, ``head`` and each entry of ``frontend`` are lists of
        :class:`~tsLSTM.nn.module.ParameterSpec` (the layers' ``parameter_layout``),
        so the model's keys and shapes are known before anything is allocated.
        """
        layouts = [*frontend, rnn, head]
        return {
            f"{prefix}.{spec.name}": spec
            for prefix, specs in zip(cls._prefixes(len(frontend)), layouts, strict=True)
            for spec in specs
        }

    def _submodules(self):
        children = [*self.frontend, self.rnn, self.head]
        return list(zip(self._prefixes(len(self.frontend)), children, strict=True))

    def _through_frontend(self, X, lengths):
        for block in self.frontend:
            X = block.forward(X)
            if lengths is not None:
                lengths = np.maximum(block.output_length(lengths), 1)
        return X, lengths

    def forward(self, X, training=False, lengths=None):
        """Predictions (pre-activation: raw values or logits) for a batch ``X`` (B, T, I).

        ``lengths`` gives the valid steps of right-padded sequences (see ``LSTM.forward``).
        """
        X, lengths = self._through_frontend(X, lengths)
        # the head's input, recurrent states, is checked where it came from: the
        # recurrent layer checks its input, the loss the predictions
        if self.output == "sequence":
            features = self.rnn._model_forward(X, training, lengths, True)
            return self.head.forward(features, validate=False)
        h_n = self.rnn._model_forward(X, training, lengths, False)
        D = self.rnn.num_directions
        features = h_n[-1] if D == 1 else np.concatenate([h_n[-2], h_n[-1]], axis=1)
        return self.head.forward(features, validate=False)

    def predict(self, X, batch_size=1024, lengths=None):
        """Inference with the inference-only kernels, in batches of ``batch_size``.

        Equal to :meth:`forward` up to rounding, without saving activations: memory
        is O(batch_size * H) (times T for ``output='sequence'`` or stacked layers).
        No product goes through BLAS, so each row of the result is bit-identical
        whatever the other rows, their order, ``batch_size`` or the thread count.

        More rows than ``batch_size`` (and no front-end) run as chunks of at most
        ``INFER_CHUNK_ROWS`` rows, each through the recurrent layer and the head on one
        thread, all on one pool (:func:`~tsLSTM._threads.parallel_map`): one thread's
        Python overlaps another's kernels, and the threads meet once, not once per
        batch. At most ``batch_size`` rows are in flight at a time.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        sequence = self.output == "sequence"
        if not self.frontend and len(X) <= batch_size:  # one batch: no slicing, no joining
            features = self.rnn.infer(X, sequence, lengths=lengths)
            return self.head.infer(features, validate=False)
        if not self.frontend:
            return self._predict_in_chunks(X, batch_size, lengths, sequence)
        chunks = []
        for start in range(0, len(X), batch_size):
            part = None if lengths is None else lengths[start : start + batch_size]
            inputs, part = self._through_frontend(X[start : start + batch_size], part)
            for block in self.frontend:
                block.clear_cache()
            features = self.rnn.infer(inputs, self.output == "sequence", lengths=part)
            chunks.append(self.head.infer(features, validate=False))
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=0)

    def _predict_in_chunks(self, X, batch_size, lengths, sequence):
        """:meth:`predict` of more than ``batch_size`` rows without a front-end."""
        # chunks of at most half a batch, so that two threads can share one batch
        rows = min(batch_size, INFER_CHUNK_ROWS, max(MIN_SPLIT_ROWS, -(-batch_size // 2)))
        bounds = chunk_bounds(len(X), 0, rows)

        def chunk(k):
            part = slice(bounds[k], bounds[k + 1])
            with chunk_threads(1):  # each chunk on the thread that takes it
                features = self.rnn.infer(
                    X[part], sequence, lengths=None if lengths is None else lengths[part]
                )
                return self.head.infer(features, validate=False)

        # chunks in flight: at most batch_size rows
        parts = parallel_map(chunk, len(bounds) - 1, max_threads=max(1, batch_size // rows))
        return np.concatenate(parts, axis=0)

    def backward(self, dY, input_grad=True):
        """Backpropagate ``dY`` (gradient w.r.t. the predictions).

        Parameter gradients are accumulated into ``flat_grads``. Returns ``dX``, the
        gradient w.r.t. the input, or None with ``input_grad=False`` (which saves the
        first recurrent layer's input-gradient products, as for a PyTorch input
        that does not require a gradient).
        """
        d_features = self.head.backward(dY)
        if not all_finite(d_features):
            raise FloatingPointError("the gradient overflowed in the dense head")
        rnn = self.rnn
        rnn_input_grad = input_grad or bool(self.frontend)  # the front-end needs it
        if self.output == "sequence":
            dX = rnn._backward(d_features, None, None, rnn_input_grad)[0]
        else:
            D, H = rnn.num_directions, rnn.hidden_size
            B = d_features.shape[0]
            one_state = rnn.num_layers * D == 1 and d_features.dtype == self.dtype
            if one_state and d_features.flags.c_contiguous:
                d_h_n = d_features.reshape(1, B, H)  # read only: the kernels copy it
            else:
                d_h_n = np.zeros((rnn.num_layers * D, B, H), dtype=self.dtype)
                for direction in range(D):
                    d_h_n[-D + direction] = d_features[:, direction * H : (direction + 1) * H]
            dX = rnn._backward(None, d_h_n, None, rnn_input_grad, checked=True)[0]
        for block in reversed(self.frontend):
            dX = block.backward(dX)
        return dX if input_grad else None

    def __repr__(self):
        return f"SequenceModel({self.rnn!r}, {self.head!r}, output={self.output!r})"
