"""The network and training parameters, defined once.

Every recurrent estimator (``LSTMRegressor``, ``LSTMClassifier``) takes the parameters
of :data:`PARAMETERS`; ``LSTMForecaster`` passes :data:`FORECASTER_PARAMS` through to
its inner regressor, and the ``tslstm`` command exposes :data:`CLI_PARAMS` as
options. From this one table come the estimators' ``_parameter_constraints``
(:func:`sklearn_constraints`), the Parameters sections of their docstrings
(:func:`parameters_doc`) and the command's options (:func:`add_cli_options`).
``__init__`` signatures stay written out, as scikit-learn requires; a test checks
them against the table.

This module imports nothing heavy (scikit-learn loads inside
:func:`sklearn_constraints` only), so ``tslstm --help`` stays quick.
"""

import numbers
import textwrap
from dataclasses import dataclass, field

# Declarative constraints, turned into scikit-learn's by :func:`sklearn_constraints`:
# ("int", low) / ("real", low, high, closed) intervals, ("options", names), the strings
# scikit-learn knows ("boolean", "random_state", "verbose"), types, and None.
OPTIMIZER_NAMES = ("adam", "adamw", "sgd", "rmsprop", "adagrad")


@dataclass(frozen=True)
class Param:
    """One parameter: its default, constraint, numpydoc entry and command-line option.

    ``doc`` is the numpydoc type line after ``name : `` and ``text`` the description.
    ``cli`` holds the ``argparse`` keywords of the ``tslstm`` option (``flag`` names
    it when it is not ``--name-with-dashes``), or None when the command does not
    expose the parameter.
    """

    name: str
    default: object
    constraint: tuple
    doc: str
    text: str = ""
    forecaster: bool = True  # passed through by LSTMForecaster
    cli: dict | None = field(default=None)

    @property
    def flag(self):
        return (self.cli or {}).get("flag", "--" + self.name.replace("_", "-"))


def positive_int(text):
    """``argparse`` type: an integer >= 1."""
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _float_or_none(text):
    return None if text.lower() == "none" else float(text)


PARAMETERS = (
    Param("hidden_size", 64, (("int", 1),), "int, default=64",
          "Hidden units per recurrent layer and direction.",
          cli={"type": positive_int}),
    Param("num_layers", 1, (("int", 1),), "int, default=1", "Stacked recurrent layers.",
          cli={"type": positive_int}),
    Param("cell", "lstm", (("options", ("lstm", "gru")),), "{'lstm', 'gru'}, default='lstm'",
          "Recurrent cell: LSTM or GRU (PyTorch's equations and gate order).",
          cli={"choices": ["lstm", "gru"]}),
    Param("bidirectional", False, ("boolean",), "bool, default=False",
          "Read every sequence in both directions (the outputs are concatenated).",
          cli={"action": "store_true"}),
    Param("dropout", 0.0, (("real", 0, 1, "left"),), "float in [0, 1), default=0.0",
          "Dropout between recurrent layers during training.", cli={"type": float}),
    Param("optimizer", "adam", (("options", OPTIMIZER_NAMES),),
          "{'adam', 'adamw', 'sgd', 'rmsprop', 'adagrad'}, default='adam'",
          "Optimizer, with ``torch.optim``'s defaults and formulas.",
          cli={"choices": list(OPTIMIZER_NAMES)}),
    Param("learning_rate", 1e-3, (("real", 0, None, "neither"),), "float, default=1e-3",
          "Step size of the optimizer.", cli={"type": float}),
    Param("batch_size", 32, (("int", 1),), "int, default=32",
          "Minibatch size (capped at the number of training samples).",
          cli={"type": positive_int}),
    Param("max_epochs", 200, (("int", 1),), "int, default=200",
          "Maximum passes over the training data per ``fit``.", cli={"type": positive_int}),
    Param("early_stopping", False, ("boolean",), "bool, default=False",
          "Hold out ``validation_fraction`` of the training data (stratified by class "
          "where possible; ``fit(validation_data=...)`` replaces it), stop when the "
          "validation *loss* has not improved by ``tol`` for ``n_iter_no_change`` epochs "
          "and at least 100 minibatch updates (an epoch of a small training set is one "
          "update, too few to leave the first epochs' plateau), and restore the weights "
          "of its best epoch (Keras' ``EarlyStopping`` with ``restore_best_weights``). "
          "The loss, not the accuracy, because it moves smoothly on a small split. "
          "Without it, training stops when the training loss has not improved by "
          "``tol`` for ``n_iter_no_change`` epochs.",
          forecaster=False),  # LSTMForecaster's own: the latest windows, 'auto' default
    Param("validation_fraction", 0.1, (("real", 0, 1, "neither"),),
          "float in (0, 1), default=0.1",
          "Fraction of the training data held out with ``early_stopping``.", cli={"type": float}),
    Param("n_iter_no_change", 10, (("int", 1),), "int, default=10",
          "Epochs without an improvement larger than ``tol`` before training stops.",
          cli={"type": positive_int}),
    Param("tol", 1e-4, (("real", 0, None, "left"),), "float, default=1e-4",
          "Smallest decrease of the training (or validation) loss that counts as an "
          "improvement.",
          cli={"type": float}),
    Param("clip_grad_norm", 1.0, (("real", 0, None, "neither"), None),
          "float or None, default=1.0",
          "Clip the global L2 norm of the gradient; None disables clipping.",
          cli={"type": _float_or_none, "metavar": "NORM|none"}),
    Param("weight_decay", 0.0, (("real", 0, None, "left"),), "float, default=0.0",
          "L2 penalty (decoupled for 'adamw', whose torch default 0.01 is *not* applied: the "
          "value given here is used).", cli={"type": float}),
    Param("dtype", "float32", (("options", ("float32", "float64")),),
          "{'float32', 'float64'}, default='float32'",
          "Floating-point type of the network's weights and arithmetic.",
          cli={"choices": ["float32", "float64"]}),
    Param("device", "cpu", (("options", ("cpu", "cuda", "auto")),),
          "{'cpu', 'cuda', 'auto'}, default='cpu'",
          "Where to train and predict. 'cuda' runs the network, loss and optimizer on an "
          "NVIDIA GPU (needs ``tsLSTM[cuda]``; raises ``DeviceUnavailableError`` without "
          "one); 'auto' uses the GPU when available, else the CPU. The fitted model is the "
          "same either way (to rounding) and always saves and loads without a GPU; "
          "``set_params(device='cpu')`` predicts on the CPU. The GPU path has no "
          "convolution kernels (``conv_filters`` needs 'cpu').",
          cli={"choices": ["cpu", "cuda", "auto"],
               "help": "train and predict on the CPU or an NVIDIA GPU"}),
    Param("n_jobs", None, (numbers.Integral, None), "int or None, default=None",
          "Threads for the CPU path, during ``fit`` and ``predict``: the recurrent layers "
          "split batches of more than 32 sequences into chunks that run on ``n_jobs`` "
          "threads. None: every CPU available; -1 as well, -2 all but one. BLAS always runs "
          "on one thread, and results are bit-identical whatever ``n_jobs`` (see the "
          "README's \"Reproducibility\").",
          cli={"type": int,
               "help": "CPU threads for batch chunks; results do not depend on it "
                       "[all CPUs]"}),
    Param("random_state", None, ("random_state",),
          "int, RandomState instance or None, default=None",
          "Seeds the weights, the shuffling, the validation split and dropout: the same seed "
          "and data give a bit-identical model on the same machine and libraries.",
          cli={"flag": "--seed", "type": int, "metavar": "SEED", "help": "random seed"}),
    Param("verbose", 0, ("verbose",), "int, default=0",
          "Print one line per epoch (loss, validation score, time) and, for epochs of 50 or "
          "more minibatches, a progress bar on stderr. ``fit(..., on_epoch=callback)`` "
          "reports the same to a function."),
    Param("warm_start", False, ("boolean",), "bool, default=False",
          "Continue from the fitted network on the next ``fit`` (as MLP's warm_start).",
          forecaster=False),
    Param("output", "last", (("options", ("last", "sequence")),),
          "{'last', 'sequence'}, default='last'",
          "'last': one prediction per sequence, from its last valid step. 'sequence': one "
          "per time step (Keras' ``return_sequences=True``); ``y`` then has a target per "
          "step.", forecaster=False),
    Param("conv_filters", "auto", (("int", 1), list, tuple, ("options", ("auto",)), None),
          "int, list of int, 'auto' or None, default='auto'",
          "Output channels of Conv1d -> ReLU -> MaxPool1d blocks before the recurrent "
          "stack, one block per entry (padding ``conv_kernel_size // 2``); None: no "
          "convolutional front-end. 'auto': blocks of 32 filters, one per pooling, until "
          "at most 24 steps reach the recurrent stack, so none for sequences of up to 24 "
          "steps, none with ``output='sequence'`` and none on the GPU path. An LSTM alone "
          "learns little from sequences of hundreds of steps (gradients through so many "
          "steps vanish, and small data sets give few updates); the front-end learns local "
          "shapes and shortens the sequence. The fitted front-end is ``conv_filters_``.",
          forecaster=False),
    Param("conv_kernel_size", 3, (("int", 1),), "int, default=3",
          "Kernel size of every convolution.", forecaster=False),
    Param("conv_stride", 1, (("int", 1),), "int, default=1", "Stride of every convolution.",
          forecaster=False),
    Param("pool_size", 2, (("int", 1),), "int, default=2",
          "Max-pooling window (and stride) after every convolution.", forecaster=False),
)  # fmt: skip

BY_NAME = {p.name: p for p in PARAMETERS}

# The parameters, in signature order, that every recurrent estimator takes.
NETWORK_PARAMS = tuple(p.name for p in PARAMETERS)
# Those LSTMForecaster takes too and passes through to its LSTMRegressor.
FORECASTER_PARAMS = tuple(p.name for p in PARAMETERS if p.forecaster)
# Estimator-only parameters whose default changed since LSTMForecaster first used its
# LSTMRegressor: the forecaster passes these old values, so its models stay the same.
FORECASTER_FIXED = {"conv_filters": None, "baseline": None}
# Those the ``tslstm`` command exposes as options (dest = parameter name).
CLI_PARAMS = tuple(p.name for p in PARAMETERS if p.cli is not None)
# Where and with how many threads a fitted network runs: not part of the model.
RUNTIME_PARAMS = ("device", "n_jobs")


def defaults(names=NETWORK_PARAMS):
    """``{name: default}`` of ``names``."""
    return {name: BY_NAME[name].default for name in names}


def sklearn_constraints(names=NETWORK_PARAMS):
    """``_parameter_constraints`` entries of ``names`` in scikit-learn's vocabulary."""
    from sklearn.utils._param_validation import Interval, StrOptions

    def convert(item):
        if isinstance(item, tuple) and item[0] == "int":
            return Interval(numbers.Integral, item[1], None, closed="left")
        if isinstance(item, tuple) and item[0] == "real":
            return Interval(numbers.Real, item[1], item[2], closed=item[3])
        if isinstance(item, tuple) and item[0] == "options":
            return StrOptions(set(item[1]))
        return item

    return {name: [convert(item) for item in BY_NAME[name].constraint] for name in names}


def parameter_doc(name):
    """The numpydoc entry of one parameter, indented for a class docstring."""
    p = BY_NAME[name]
    entry = f"    {p.name} : {p.doc}\n"
    if p.text:
        entry += textwrap.fill(p.text, 88, initial_indent=" " * 8, subsequent_indent=" " * 8)
        entry += "\n"
    return entry


def parameters_doc(names=NETWORK_PARAMS, header=True):
    """The numpydoc entries of ``names`` (with the ``Parameters`` header)."""
    head = "\n    Parameters\n    ----------\n" if header else ""
    return head + "".join(parameter_doc(name) for name in names)


def add_cli_options(group, names=CLI_PARAMS, defaults_override=None):
    """Add the options of ``names`` to an ``argparse`` group; dest is the parameter name.

    ``defaults_override`` replaces table defaults where the command wants others (its
    runs are short: fewer epochs, a higher learning rate).
    """
    defaults_override = defaults_override or {}
    for name in names:
        p = BY_NAME[name]
        kwargs = {key: value for key, value in p.cli.items() if key != "flag"}
        default = defaults_override.get(name, p.default)
        kwargs["help"] = kwargs.get("help") or _short_help(p)
        if kwargs.get("action") != "store_true":
            kwargs["default"] = default
            if default is not None or kwargs.get("type") is _float_or_none:
                kwargs["help"] += f" [{'none' if default is None else default}]"
        group.add_argument(p.flag, dest=name, **kwargs)


def _short_help(p):
    """The first sentence of the description (or the type line): the option's help."""
    text = p.text.split(". ")[0].split(" (")[0].split(":")[0].rstrip(".").replace("``", "")
    if text[1:2].islower():
        text = text[0].lower() + text[1:]
    return text.replace("%", "%%")
