"""Named scratch buffers reused across calls."""

import numpy as np

from tsLSTM.nn.workspace import Workspace


def test_buffers_grow_and_are_reused():
    ws = Workspace()
    a = ws.empty("G", (4, 5), np.float32)
    assert a.shape == (4, 5) and a.dtype == np.float32 and a.flags.c_contiguous
    b = ws.empty("G", (2, 3), np.float32)  # smaller: the same memory
    assert np.shares_memory(a, b)
    c = ws.empty("G", (5, 5), np.float32)  # larger: a new buffer
    assert not np.shares_memory(a, c)
    assert np.shares_memory(c, ws.empty("G", (4, 5), np.float32))
    assert not np.shares_memory(c, ws.empty("H", (4, 5), np.float32))  # names are separate
    d = ws.empty("G", (5, 5), np.float64)  # another dtype: a new buffer
    assert d.dtype == np.float64
    assert ws.nbytes == d.nbytes + 4 * 5 * 4


def test_zeros_and_clear():
    ws = Workspace()
    ws.empty("x", (3,), np.float64)[...] = 7
    np.testing.assert_array_equal(ws.zeros("x", (3,), np.float64), 0)
    ws.clear()
    assert ws.nbytes == 0
    assert ws.empty("x", (0, 2), np.float32).shape == (0, 2)


def test_views_are_reused_until_the_buffer_is_replaced():
    ws = Workspace()
    a = ws.empty("G", (4, 5), np.float32)
    assert ws.empty("G", (4, 5), np.float32) is a  # the same request: the same view
    b = ws.empty("G", (8, 5), np.float32)  # the buffer grows: views of it are new
    c = ws.empty("G", (4, 5), np.float32)
    assert c is not a and np.shares_memory(b, c) and not np.shares_memory(a, c)
    for k in range(Workspace.MAX_VIEWS + 3):  # the kept views stay bounded
        assert ws.empty("G", (1, k % 8 + 1), np.float32).shape == (1, k % 8 + 1)
        ws.empty(f"n{k}", (2,), np.float64)
    assert len(ws._views) <= Workspace.MAX_VIEWS
    ws.clear()
    assert ws.empty("G", (4, 5), np.float32) is not c
