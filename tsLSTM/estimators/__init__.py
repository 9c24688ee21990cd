"""scikit-learn estimators built on the recurrent engine."""

from ._base import TrainingDivergedWarning
from .callbacks import EpochInfo
from .classifier import LSTMClassifier
from .regressor import LSTMRegressor

__all__ = ["EpochInfo", "LSTMClassifier", "LSTMRegressor", "TrainingDivergedWarning"]
