"""Forecasting: the global LSTM forecaster, its data layer, and backtests."""

from .backtest import backtest
from .forecaster import LSTMForecaster

__all__ = ["LSTMForecaster", "backtest"]
