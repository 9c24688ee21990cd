"""tsLSTM: time-series LSTM/GRU networks as Numba JIT kernels.

Importing the package is cheap: the estimators (and scikit-learn behind them) load on
first use of a name below, and kernels compile (or load from the numba cache) on their
first call.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "EpochInfo": "tsLSTM.estimators",
    "LSTMForecaster": "tsLSTM.forecasting",
    "SlidingWindowTransformer": "tsLSTM.windowing",
    "backtest": "tsLSTM.forecasting",
    "make_windows": "tsLSTM.windowing",
    "LSTMClassifier": "tsLSTM.estimators",
    "LSTMRegressor": "tsLSTM.estimators",
    "TrainingDivergedWarning": "tsLSTM.estimators",
    "load": "tsLSTM.persistence",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tsLSTM' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
