"""Loading saved estimators: the registry of the classes a file may name.

The file format is :mod:`tsLSTM._archive`'s; each estimator writes and restores its
own fitted state (``save`` and the ``__tslstm_from_record__`` class method of
:class:`tsLSTM.estimators._saving.SavedStateMixin`). A file can only name one of the
classes below: loading builds that class from plain numbers and strings and executes
nothing stored in the file.
"""

import warnings

from . import _archive
from .devices import cuda_unavailable_reason, resolve_device
from .estimators import LSTMClassifier, LSTMRegressor
from .forecasting import LSTMForecaster

LOADABLE = {cls.__name__: cls for cls in (LSTMRegressor, LSTMClassifier, LSTMForecaster)}


def load(path, device=None):
    """Load an estimator saved with ``save``; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like
        A file written by ``LSTMRegressor.save``, ``LSTMClassifier.save`` or
        ``LSTMForecaster.save``.
    device : {None, 'cpu', 'cuda', 'auto'}, default=None
        Where the loaded estimator runs. None: where it was saved to run, except that
        a model saved with ``device='cuda'`` loads on the CPU, with a warning, where
        no CUDA GPU is usable. Otherwise the estimator's ``device`` is set to this
        (a forecaster passes it on to its networks).

    Returns
    -------
    LSTMRegressor, LSTMClassifier or LSTMForecaster
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is not a tsLSTM model, is truncated or tampered with, names a class
        that cannot be loaded, or was written by an incompatible format version; or
        for a ``device`` other than the above.
    DeviceUnavailableError
        For ``device='cuda'`` where no CUDA GPU is usable.
    """
    if device is not None:
        resolve_device(device)  # a bad name or a missing GPU fails before reading the file
    record = _archive.read(path)
    cls = LOADABLE.get(record.estimator)
    if cls is None:
        raise ValueError(f"{path}: unknown estimator {record.estimator!r}")
    estimator = cls.__tslstm_from_record__(record, path)
    if device is None and estimator.device == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            warnings.warn(
                f"{path}: saved with device='cuda'; no CUDA GPU here: loaded on the CPU "
                f"({reason}; load(path, device=...) chooses)",
                UserWarning,
                stacklevel=2,
            )
            device = "cpu"
    if device is not None:
        estimator.set_params(device=device)
    return estimator


def save_estimator(estimator, path):
    """Deprecated: call ``estimator.save(path)``."""
    warnings.warn(
        "tsLSTM.persistence.save_estimator is deprecated; call estimator.save(path)",
        FutureWarning,
        stacklevel=2,
    )
    estimator.save(path)
