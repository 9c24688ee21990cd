"""Loading saved estimators: the registry of the classes a file may name.

The file format is :mod:`tsLSTM._archive`'s; each estimator writes and restores its
own fitted state (``save`` and the ``__tslstm_from_record__`` class method of
:class:`tsLSTM.estimators._saving.SavedStateMixin`). A file can only name one of the
classes below: loading builds that class from plain numbers and strings and executes
nothing stored in the file.
"""

import warnings

from . import _archive
from .estimators import LSTMClassifier, LSTMRegressor
from .forecasting import LSTMForecaster

LOADABLE = {cls.__name__: cls for cls in (LSTMRegressor, LSTMClassifier, LSTMForecaster)}


def load(path):
    """Load an estimator saved with ``save``; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like
        A file written by ``LSTMRegressor.save``, ``LSTMClassifier.save`` or
        ``LSTMForecaster.save``.

    Returns
    -------
    LSTMRegressor, LSTMClassifier or LSTMForecaster
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is not a tsLSTM model, is truncated or tampered with, names a class
        that cannot be loaded, or was written by an incompatible format version.
    """
    record = _archive.read(path)
    cls = LOADABLE.get(record.estimator)
    if cls is None:
        raise ValueError(f"{path}: unknown estimator {record.estimator!r}")
    return cls.__tslstm_from_record__(record, path)


def save_estimator(estimator, path):
    """Deprecated: call ``estimator.save(path)``."""
    warnings.warn(
        "tsLSTM.persistence.save_estimator is deprecated; call estimator.save(path)",
        FutureWarning,
        stacklevel=2,
    )
    estimator.save(path)
