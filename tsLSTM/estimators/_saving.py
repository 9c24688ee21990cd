"""``save`` and the two calls through which :func:`tsLSTM.load` restores an estimator.

An estimator that can be saved mixes in :class:`SavedStateMixin` and provides its own
fitted state: ``_fitted_state()`` returns what to store, ``_restore_fitted_state``
checks and installs it on a fresh instance. The file format is
:mod:`tsLSTM._archive`'s; the classes that may be loaded are listed in
:mod:`tsLSTM.persistence`.
"""

import numbers

import numpy as np

from .. import _archive
from .._archive import plain_array

__all__ = ["AttributeChecks", "SavedStateMixin", "is_int", "is_number", "plain_array"]


def _plain_params(estimator):
    """``get_params()`` with a seed kept as an int and a RandomState object dropped."""
    params = estimator.get_params()
    random_state = params.get("random_state")
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        params["random_state"] = int(random_state)
    elif random_state is not None:
        params["random_state"] = None  # a RandomState object is not data; drop it
    return params


class SavedStateMixin:
    """Saving to and restoring from tsLSTM's safe file format.

    Subclasses set ``_fitted_marker`` (the attribute a fitted instance has) and
    implement ``_fitted_state()`` -> ``(attributes, arrays, inner)`` and
    ``_restore_fitted_state(record, source)``.
    """

    _fitted_marker = "model_"
    # Parameters added after the format's first files, with the value that gives the
    # behaviour of before: a file that lacks one loads with this value, not the default.
    _absent_params = {}

    def save(self, path):
        """Save the fitted estimator to ``path`` in tsLSTM's safe format.

        The file holds arrays and JSON only (no pickle); :func:`tsLSTM.load` reads it
        back. See the README's "Saved model format".
        """
        if not hasattr(self, self._fitted_marker):
            raise ValueError(f"{type(self).__name__} is not fitted yet: nothing to save")
        _archive.write(self.__tslstm_record__(), path)

    def __tslstm_record__(self):
        """This fitted estimator as an :class:`tsLSTM._archive.Record`."""
        attributes, arrays, inner = self._fitted_state()
        return _archive.Record(type(self).__name__, _plain_params(self), attributes, arrays, inner)

    @classmethod
    def __tslstm_from_record__(cls, record, source):
        """A fitted instance rebuilt from ``record``; ValueError naming ``source`` if
        the record does not describe a valid fitted estimator of this class."""
        if record.estimator != cls.__name__:
            raise ValueError(f"{source}: expected a {cls.__name__}, got {record.estimator!r}")
        estimator = cls()
        try:
            estimator.set_params(**{**cls._absent_params, **record.params})
            estimator._validate_params()
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source}: invalid estimator parameters: {exc}") from exc
        estimator._restore_fitted_state(record, source)
        return estimator

    def _fitted_state(self):
        raise NotImplementedError

    def _restore_fitted_state(self, record, source):
        raise NotImplementedError


def is_int(value, minimum):
    """``value`` is a plain int (not a bool) of at least ``minimum``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def is_number(value):
    """``value`` is a plain int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class AttributeChecks(list):
    """The problems found in an estimator's restored fitted attributes (a list of str).

    Parameters
    ----------
    estimator : object
        The instance whose attributes are checked.
    """

    def __init__(self, estimator):
        super().__init__()
        self.estimator = estimator

    def need(self, name, ok, what):
        """Record a problem unless attribute ``name`` exists and ``ok(value)``."""
        if not hasattr(self.estimator, name):
            self.append(f"missing attribute {name}")
        elif not ok(getattr(self.estimator, name)):
            self.append(f"{name} must be {what}")

    def vector(self, name, size, positive=False):
        """Require a finite float array of shape ``(size,)`` (all > 0 if ``positive``)."""
        self.need(
            name,
            lambda v: isinstance(v, np.ndarray) and v.shape == (size,) and v.dtype.kind == "f"
            and np.all(np.isfinite(v)) and (not positive or np.all(v > 0)),
            f"a finite float array of shape ({size},)" + (" > 0" if positive else ""),
        )  # fmt: skip
