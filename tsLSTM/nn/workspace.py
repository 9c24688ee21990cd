"""Buffers that a layer reuses from one call to the next.

A training step of a recurrent layer needs tens of megabytes of scratch memory
(states, gate activations and their gradients for every step). Allocated afresh on
every call, that memory comes back from the operating system as new pages, and the
first write to each page is a page fault (the README's "Measurements behind the
design" gives the cost). A :class:`Workspace` keeps one growable buffer per name
instead, so after the first step the same memory is written again and no page is
faulted in.

Arrays handed out by a workspace are valid until the same name is asked for again;
whatever leaves the layer (outputs, input gradients) must be a copy or a fresh array.
"""

from math import prod

import numpy as np


class Workspace:
    """Named scratch arrays reused across calls.

    Each name owns a 1-D buffer that grows to the largest size asked for (so a
    smaller last minibatch reuses it too) and is never shrunk; :meth:`clear` drops
    them all.

    Examples
    --------
    >>> ws = Workspace()
    >>> a = ws.empty("G", (2, 3), np.float32)
    >>> b = ws.empty("G", (1, 3), np.float32)
    >>> np.shares_memory(a, b)
    True
    """

    # views kept for reuse (see empty); past this many, they are dropped and rebuilt
    MAX_VIEWS = 64

    def __init__(self):
        self._buffers = {}
        self._views = {}  # (name, shape, dtype) -> the view of the name's buffer

    def empty(self, name, shape, dtype):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` under ``name``.

        The same request returns the same view object as long as the name's buffer
        is not replaced (every training step asks for the same arrays).
        """
        key = (name, shape, dtype)
        view = self._views.get(key)
        if view is not None:
            return view
        dtype = np.dtype(dtype)
        size = prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = np.empty(size, dtype=dtype)
            self._buffers[name] = buffer
            self._views = {k: v for k, v in self._views.items() if k[0] != name}
        view = buffer[:size].reshape(shape)
        if len(self._views) >= self.MAX_VIEWS:
            self._views.clear()
        self._views[key] = view
        return view

    def zeros(self, name, shape, dtype):
        """As :meth:`empty`, filled with zeros."""
        array = self.empty(name, shape, dtype)
        array.fill(0)
        return array

    def clear(self):
        """Release every buffer."""
        self._buffers.clear()
        self._views.clear()

    @property
    def nbytes(self):
        """Bytes held."""
        return sum(buffer.nbytes for buffer in self._buffers.values())
