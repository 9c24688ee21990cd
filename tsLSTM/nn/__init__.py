"""Layers with PyTorch-compatible parameters: recurrent stacks, dense head, models."""

from .linear import Linear
from .model import SequenceModel
from .module import Module
from .recurrent import GRU, LSTM

__all__ = ["GRU", "LSTM", "Linear", "Module", "SequenceModel"]
