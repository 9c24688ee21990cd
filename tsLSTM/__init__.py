"""tsLSTM: time-series LSTM/GRU networks as Numba JIT kernels.

Importing the package compiles nothing: kernels are compiled (or loaded from the
numba cache) on first use.
"""

from .estimators import LSTMClassifier, LSTMRegressor, TrainingDivergedWarning
from .persistence import load

__version__ = "0.1.0"

__all__ = ["LSTMClassifier", "LSTMRegressor", "TrainingDivergedWarning", "load"]
