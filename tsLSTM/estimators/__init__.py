"""scikit-learn estimators built on the recurrent engine."""

from ._base import TrainingDivergedWarning
from .classifier import LSTMClassifier
from .regressor import LSTMRegressor

__all__ = ["LSTMClassifier", "LSTMRegressor", "TrainingDivergedWarning"]
