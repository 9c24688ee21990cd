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

    def __init__(self):
        self._buffers = {}

    def empty(self, name, shape, dtype):
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` under ``name``."""
        dtype = np.dtype(dtype)
        size = prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = np.empty(size, dtype=dtype)
            self._buffers[name] = buffer
        return buffer[:size].reshape(shape)

    def zeros(self, name, shape, dtype):
        """As :meth:`empty`, filled with zeros."""
        array = self.empty(name, shape, dtype)
        array.fill(0)
        return array

    def clear(self):
        """Release every buffer."""
        self._buffers.clear()

    @property
    def nbytes(self):
        """Bytes held."""
        return sum(buffer.nbytes for buffer in self._buffers.values())
