"""tsLSTM: time-series LSTM/GRU networks as Numba JIT kernels.

Importing the package compiles nothing: kernels are compiled (or loaded from the
numba cache) on first use.
"""

__version__ = "0.1.0"
