"""Layers with PyTorch-compatible parameters: recurrent stacks, dense head, models."""

from .conv import Conv1dBlock
from .grad_mode import is_grad_enabled, no_grad
from .linear import Linear
from .model import SequenceModel
from .module import Module
from .recurrent import GRU, LSTM

__all__ = [
    "GRU", "LSTM", "Conv1dBlock", "Linear", "Module", "SequenceModel", "is_grad_enabled",
    "no_grad",
]  # fmt: skip
