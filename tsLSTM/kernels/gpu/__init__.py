"""``numba.cuda`` twins of the CPU kernels (optional: needs the ``numba-cuda`` package).

Nothing here is imported by ``import tsLSTM``: :mod:`tsLSTM.gpu` imports these
modules on the first use of ``device='cuda'``. Every module exposes a factory
``kernels(dtype)`` returning the kernels compiled for float32 or float64 as one
shape, a :class:`~tsLSTM.kernels.gpu.kernel_set.KernelSet` (by name:
``ks.gemm`` or ``ks["gemm"]``), so that
shared-memory tiles and literal constants have the buffers' dtype (a float64
literal in a float32 kernel would silently promote the arithmetic).

Conventions follow the CPU kernels: time-major ``(T, B, ...)`` arrays, transposed
weights ``W_ihT`` ``(I, G*H)`` and ``W_hhT`` ``(H, G*H)``, and ``(T + 1, B, H)`` state
buffers with the slot layout of :func:`tsLSTM.kernels._common.state_slots`.
"""
