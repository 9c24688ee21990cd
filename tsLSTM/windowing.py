"""Sliding windows: turn series into supervised (input window, future targets) pairs."""

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_series_array(values, name):
    arr = np.asarray(values)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):  # astype would drop the imaginary part with only a warning
        raise ValueError(f"{name} must be real-valued, got complex dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def make_windows(y, window, horizon=1, stride=1, X=None):
    """Supervised windows of a series: each input window and the values that follow it.

    Parameters
    ----------
    y : array-like of shape (n_steps,) or (n_steps, n_targets)
        The series (several aligned series for a multivariate target).
    window : int
        Number of past steps in every input window.
    horizon : int, default=1
        Number of future steps in every target.
    stride : int, default=1
        Step between the starts of consecutive windows.
    X : array-like of shape (n_steps,) or (n_steps, n_covariates), optional
        Covariates aligned with ``y``; appended to the input windows as extra
        features (the covariates of the input steps).

    Returns
    -------
    X_windows : ndarray of shape (n_windows, window, n_targets [+ n_covariates])
        Input windows, oldest step first. Without ``X`` this is a read-only view
        of ``y`` (no copy).
    Y_targets : ndarray of shape (n_windows, horizon) or (n_windows, horizon, n_targets)
        The ``horizon`` values after each window (read-only view of ``y``).

    Notes
    -----
    Window ``k`` covers ``y[k*stride : k*stride + window]`` and its target
    ``y[k*stride + window : k*stride + window + horizon]``; ``n_windows =
    (n_steps - window - horizon) // stride + 1``.

    Examples
    --------
    >>> Xw, Yw = make_windows(np.arange(6.0), window=3, horizon=2)
    >>> Xw[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.]])
    >>> Yw
    array([[3., 4.],
           [4., 5.]])
    """
    window = _check_int(window, "window")
    horizon = _check_int(horizon, "horizon")
    stride = _check_int(stride, "stride")
    y = _as_series_array(y, "y")
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D (n_steps, n_targets), got shape {y.shape}")
    univariate = y.ndim == 1
    y2 = y[:, None] if univariate else y
    n = y2.shape[0]
    if n < window + horizon:
        raise ValueError(
            f"a series of {n} steps is too short for window={window} + horizon={horizon}"
        )
    limit = n - horizon  # inputs may not reach into the last `horizon` steps
    inputs = sliding_window_view(y2[:limit], window, axis=0)[::stride]  # (n_w, k, window)
    inputs = inputs.transpose(0, 2, 1)
    targets = sliding_window_view(y2[window:], horizon, axis=0)[::stride].transpose(0, 2, 1)
    if univariate:
        targets = targets[:, :, 0]
    if X is not None:
        X = _as_series_array(X, "X")
        X2 = X[:, None] if X.ndim == 1 else X
        if X2.ndim != 2 or X2.shape[0] != n:
            raise ValueError(f"X must have one row per step of y ({n}), got shape {np.shape(X)}")
        covariates = sliding_window_view(X2[:limit], window, axis=0)[::stride]
        inputs = np.concatenate([inputs, covariates.transpose(0, 2, 1)], axis=2)
    return inputs, targets


class SlidingWindowTransformer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Turn a table of time steps into the window of past rows ending at each row.

    Input is 2-D, ``(n_steps, n_features)`` in time order; output is 3-D,
    ``(n_windows, window, n_features)``, the shape the recurrent estimators take, or
    with ``flatten=True`` 2-D, ``(n_windows, window * n_features)``: lag features for
    any tabular model.

    Parameters
    ----------
    window : int, default=10
        Rows per window (the row itself and the ``window - 1`` before it).
    stride : int, default=1
        Keep every ``stride``-th window (only with ``padding=None``).
    padding : {'edge', 'zero', None}, default='edge'
        'edge' or 'zero': one window per row (scikit-learn's contract: rows in, same
        rows out), the first ``window - 1`` completed by repeating the first row or
        with zeros, so the output stays aligned with ``y`` and the transformer can sit
        in a ``Pipeline`` before ``LSTMRegressor``. None: only complete windows,
        ``n_steps - window + 1`` of them (ending at rows ``window - 1, window, ...``),
        for use outside pipelines.
    flatten : bool, default=False
        Return each window as one row, ``windows.reshape(n_windows, window *
        n_features)``: oldest step first, the features of a step together; the columns
        are named by :meth:`get_feature_names_out`.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of a DataFrame given to ``fit``.

    Notes
    -----
    Windows reach back only within the data given to ``transform``: in
    cross-validation the first rows of a test fold are padded rather than filled
    from the training rows before them.

    ``set_output(transform='pandas'|'polars')`` (or a pipeline's) gives the flattened
    output as a data frame with those columns; the 3-D output passes through as an
    array, since a data frame cannot be 3-D. So a pipeline with this transformer
    before ``LSTMRegressor`` may be set to pandas output.
    """

    _parameter_constraints = {
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "stride": [Interval(numbers.Integral, 1, None, closed="left")],
        "padding": [StrOptions({"edge", "zero"}), None],
        "flatten": ["boolean"],
    }

    def __init__(self, window=10, stride=1, padding="edge", flatten=False):
        self.window = window
        self.stride = stride
        self.padding = padding
        self.flatten = flatten

    def fit(self, X, y=None):
        """Learn the number of features (and their names); returns self."""
        self._validate_params()
        if self.padding is not None and self.stride != 1:
            raise ValueError("padding keeps one window per row and needs stride=1")
        validate_data(self, X, reset=True)
        return self

    def transform(self, X):
        """Windows ending at each row (see the class docstring)."""
        check_is_fitted(self, "n_features_in_")
        original = X
        X = validate_data(self, X, reset=False)
        n = X.shape[0]
        if self.padding is None:
            if n < self.window:
                raise ValueError(
                    f"{n} rows are fewer than window={self.window}; use padding='edge' "
                    "to pad the first windows"
                )
            X_padded = X
        else:
            pad = np.repeat(X[:1], self.window - 1, axis=0)
            if self.padding == "zero":
                pad = np.zeros_like(pad)
            X_padded = np.concatenate([pad, X], axis=0)
        windows = sliding_window_view(X_padded, self.window, axis=0)[:: self.stride]
        windows = np.ascontiguousarray(windows.transpose(0, 2, 1))
        if not self.flatten:
            return windows
        flat = windows.reshape(len(windows), -1)
        container = _get_output_config("transform", self)["dense"]
        if container == "default":
            return flat
        if self.padding is None:  # fewer rows than the input: no index to keep
            original = flat
        return ADAPTERS_MANAGER.adapters[container].create_container(
            flat, original, columns=self.get_feature_names_out
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the flattened window's columns: ``'{feature}_lag{k}'``.

        ``k = window - 1, ..., 0`` (``lag0`` is the row itself), the features of a step
        together: the order of ``reshape(n_windows, window * n_features)``, also for the
        3-D output's entries. Features are named by ``feature_names_in_`` or
        ``x0, x1, ...``.
        """
        check_is_fitted(self, "n_features_in_")
        features = _check_feature_names_in(self, input_features)
        lags = range(self.window - 1, -1, -1)
        return np.asarray([f"{f}_lag{k}" for k in lags for f in features], dtype=object)

    def set_output(self, *, transform=None):
        """Set the container of ``transform``'s flattened output.

        Parameters
        ----------
        transform : {'default', 'pandas', 'polars'}, optional
            'pandas' or 'polars': with ``flatten=True`` a data frame with the columns of
            :meth:`get_feature_names_out`; the 3-D output stays an array. None: unchanged.

        Returns
        -------
        self
        """
        if transform is not None:
            self._sklearn_output_config = {"transform": transform}
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags
