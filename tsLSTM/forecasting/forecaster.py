"""LSTMForecaster: one global recurrent model over the windows of every series."""

import copy
import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import hyperparams
from ..estimators import LSTMRegressor
from ..estimators._saving import SavedStateMixin, is_int
from .checks import FILL_METHODS, check_levels, check_real
from .covariates import KINDS, with_static
from .panel import CovariateSpec, interval_columns, quantile_column
from .readers import future_covariates, to_panel

# Network and training parameters passed through to the inner LSTMRegressor (the table
# in tsLSTM.hyperparams). RUNTIME_PARAMS (where and with how many threads the fitted
# network runs): ``set_params`` on the forecaster passes them on to its fitted regressor.
NETWORK_PARAMS = hyperparams.FORECASTER_PARAMS
RUNTIME_PARAMS = hyperparams.RUNTIME_PARAMS

_TINY = 1e-8

# Season length implied by a pandas frequency (its rule code's prefix), one step apart
_SEASONS = (("BY", 1), ("BA", 1), ("BH", 1), ("BQ", 4), ("Q", 4), ("BM", 12), ("SM", 24),
            ("M", 12), ("W", 52), ("B", 5), ("D", 7), ("h", 24), ("H", 24))  # fmt: skip


# Seasons tried on series whose time stamps carry no frequency (integers, arrays)
_CANDIDATE_SEASONS = (4, 7, 12, 24, 52)
# ... the smallest whose lag has at least this autocorrelation of the series' changes
# (median over the series): a season shows as changes that repeat
_SEASONAL_ACF = 0.5


def season_length_of(step):
    """Steps in a season for a time step (a pandas offset or period frequency): 12 for
    months, 4 for quarters, 52 for weeks, 7 for days, 5 for business days, 24 for
    hours; 1 (no season) for years, multiples such as ``'2M'`` and other offsets; None
    for integer steps (no frequency to read)."""
    code = getattr(step, "rule_code", None)
    if not isinstance(code, str):
        return None
    if getattr(step, "n", 1) != 1:
        return 1
    for prefix, m in _SEASONS:
        if code.startswith(prefix):
            return m
    return 1


class WindowCovariates(NamedTuple):
    """Covariates of a batch of input windows (None where the model has none).

    ``past`` (n, window, c) and ``future`` (n, steps, c): the future-known ones over the
    window and over the steps after it; ``hist`` (n, window, c_h): the past-only ones
    over the window; ``static`` (n, c_s): each window's series' static ones.
    """

    past: np.ndarray = None
    future: np.ndarray = None
    hist: np.ndarray = None
    static: np.ndarray = None


def _check_finite_forecasts(panel, *arrays):
    """ValueError naming the series whose forecasts (or bounds) are inf or NaN."""
    with np.errstate(invalid="ignore"):
        bad = np.zeros(panel.n_series, dtype=bool)
        for array in arrays:
            bad |= ~np.isfinite(array).all(axis=1)
    if not bad.any():
        return
    ids = [panel.ids[i] for i in np.flatnonzero(bad)]
    more = f" and {len(ids) - 1} more" if len(ids) > 1 else ""
    raise ValueError(
        f"the forecast of series {ids[0]!r}{more} is not finite (inf or NaN): its values "
        "are too large for float64 arithmetic; rescale the series (divide by a constant)"
    )


class LSTMForecaster(SavedStateMixin, BaseEstimator):
    __doc__ = (
        """Multi-step forecaster for one series or many: a global LSTM over sliding windows.

    ``fit`` pools the windows of every series into one training set for an
    :class:`~tsLSTM.LSTMRegressor`; ``predict`` forecasts the ``horizon`` steps after
    the end of each series, returned in the container ``y`` came in with the right
    future time stamps.

    The same on an already-parsed :class:`~tsLSTM.forecasting.panel.Panel` (what the
    ``tslstm`` command and :func:`~tsLSTM.backtest` use): :meth:`to_panel` reads a
    container with this forecaster's column names and ``fill`` rule,
    :meth:`fit_panel` trains on a panel, :meth:`predict_panel` returns the forecasts
    (and interval bounds) as arrays, one row per series, and ``Panel.output`` turns
    them into the panel's container.

    Parameters
    ----------
    window : int, default=24
        Past steps the network sees.
    horizon : int, default=1
        Steps to forecast.
    strategy : {'mimo', 'recursive'}, default='mimo'
        'mimo': one network output per horizon step, all at once. 'recursive': a
        one-step model fed its own forecasts (any horizon at predict time). 'mimo'
        stays the default: with the other defaults it forecast held-out real series
        better than 'recursive' on most of them, and fits faster.
    scaling : {'auto', 'window', 'series', None}, default='auto'
        'auto': a series whose values are all positive is modelled in logs, relative
        to the last value of each input window (the network sees log ratios, and its
        forecasts are ratios to that value, so a series and 1000 times it get the
        same forecast up to the factor); any other series relative to the window's
        last value, divided by the window's standard deviation. With a
        ``season_length_`` above 1 the targets are measured from the window's
        seasonal forecast instead of its last value (the last season's level plus the
        seasonal pattern averaged over the window's whole seasons): the network
        learns the deviation from that forecast. Averaging the pattern, rather than
        repeating the last season (seasonal naive), forecast most seasonal real data
        sets measured better (README). The default because on held-out real panels
        and series (yearly, quarterly, monthly) it beat 'window' broadly: trends and
        growth are ratios, and the level nearest the forecast is the last one.
        'window': every input window (and its targets) is centred on its mean and
        divided by its standard deviation (the default before). 'series': each
        series' mean and standard deviation over the training data. None: raw values
        (the regressor still standardises globally).
    fill : {None, 'ffill', 'interpolate', 'zero'}, default=None
        How to fill missing values; None raises an error naming the series.
    on_short : {'pad', 'warn', 'raise'}, default='pad'
        Series shorter than ``window + horizon`` (``window + 1`` for 'recursive').
        'pad': they train on shorter input windows (every prefix that leaves
        ``horizon`` targets; the network masks the padding) and a series shorter than
        ``window`` is forecast from all its values, so every series gets a forecast;
        only series too short to leave one target out of training are listed in
        ``short_series_``. The default: short series are common in real panels
        (yearly data) and a global model forecasts them better than leaving them
        out. 'warn': left out of training (listed in ``short_series_``), still
        forecast if they have ``window`` values. 'raise': a ValueError naming them.
    season_length : 'auto' or int, default='auto'
        Steps in a season, for the seasonal baseline of ``scaling='auto'``.
        'auto': implied by the time index (12 for months, 4 for quarters, 52 for
        weeks, 7 for days, 24 for hours; 1 for years); for integer time stamps and
        arrays, detected: the smallest of 4, 7, 12, 24, 52 (up to ``window``) at whose
        lag the series' changes (of their logs for positive series) have a median
        autocorrelation of at least 0.5, else 1 (a season shows as changes that
        repeat; this found the known season of every real series measured, and none
        on yearly data). 1: no seasonal baseline. The fitted value is
        ``season_length_``.
        Measured on held-out monthly and quarterly data, the seasonal baseline (with
        early stopping) forecast better than the last value on most series, by far
        on trending seasonal ones.
    early_stopping : bool or 'auto', default='auto'
        Hold out the latest ``validation_fraction`` of each series' windows (and the
        ``horizon - 1`` before them, whose targets would reach into theirs), stop when
        their loss has not improved by ``tol`` for ``n_iter_no_change`` epochs and
        keep the best epoch's weights. Only series with at least as many windows left
        to train on as they hold out take part; held-out windows are not trained on.
        'auto': so, when some series is long enough, else stop on the training loss
        (True warns then). The default because
        validating on the latest windows both forecast held-out real data better (the
        network stops near the seasonal or last-value baseline instead of
        overfitting small data) and trained several times faster. False: stop when the
        training loss has not improved by ``tol`` for ``n_iter_no_change`` epochs.
    ensemble_size : int, default=1
        Networks trained with different seeds (the first with ``random_state``) whose
        outputs are averaged: less variance between seeds, ``ensemble_size`` times
        the training time. 1 by default: with early stopping on the latest windows the
        seeds already agree closely, and averaging changed the accuracy little.
    calibration_fraction : float in [0, 1), default=0.0
        Fraction of each series' latest windows held out of training to calibrate
        :meth:`predict_interval` (split conformal). 0 disables intervals.
    id_col, time_col, target_col : str, default='unique_id', 'ds', 'y'
        Column names of long-format data.
    futr_exog_list : list of str, optional
        Future-known covariates (Nixtla's name): columns whose values are known for the
        forecast steps too (calendar, planned prices); ``predict`` needs them in ``X``
        for those steps. None: every column of ``X`` not named in another list.
    hist_exog_list : list of str, optional
        Past-only covariates: columns observed up to the forecast origin, never needed
        for the forecast steps (the network sees them over the input window, 0 after
        it). Not with ``strategy='recursive'``: its later steps would need their values
        beyond the origin (with ``horizon=1`` 'mimo' is the same model).
    stat_exog_list : list of str, optional
        Static covariates: one value per series, constant input channels. None: every
        column of a ``static`` frame.

        Each column is looked up in ``y``'s own long frame (static ones must be
        constant within each series), else in ``X`` (long: ``id_col``, ``time_col`` and
        columns; other containers: rows per step, an array's columns named ``x0``,
        ``x1``, ...), else in the ``static`` frame of ``fit``/``predict``. A column of
        non-numeric values (object, string or category dtype) is categorical: one-hot
        encoded over the categories seen at fit (``categories_``); a category unseen
        at fit is an error at predict. Bool columns are 0/1. Columns no list names
        (a long frame's extra columns) are left out with a warning.
"""
        + hyperparams.parameters_doc(NETWORK_PARAMS, header=False)
        + """
    Attributes
    ----------
    regressor_ : LSTMRegressor
        The trained network on windows.
    history_ : Panel
        The training series, the default history to forecast from.
    n_series_, n_windows_ : int
    short_series_ : list
        Series left out of training (shorter than :meth:`min_series_length`).
    season_length_ : int
        The season length used (see ``season_length``).
    conformal_scores_ : ndarray of shape (n_calibration, horizon) or None
        Scaled absolute errors on the calibration windows.
    n_covariates_ : int
        Future-known input channels (a categorical column gives one per category).
    covariate_names_ : list of str
        Their names (``'column=category'`` for categorical columns).
    futr_exog_, hist_exog_, stat_exog_ : list
        The covariate columns of each kind the model was fitted with.
    categories_ : dict
        The categories (as strings) of each categorical covariate column.
    """
    )

    _parameter_constraints = {
        **hyperparams.sklearn_constraints(NETWORK_PARAMS),
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "horizon": [Interval(numbers.Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"mimo", "recursive"})],
        "scaling": [StrOptions({"auto", "window", "series"}), None],
        "fill": [StrOptions(set(FILL_METHODS)), None],
        "on_short": [StrOptions({"pad", "warn", "raise"})],
        "ensemble_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "season_length": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "calibration_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "id_col": [str],
        "time_col": [str],
        "target_col": [str],
        "futr_exog_list": [list, tuple, None],
        "hist_exog_list": [list, tuple, None],
        "stat_exog_list": [list, tuple, None],
    }

    def __init__(
        self,
        window=24,
        horizon=1,
        strategy="mimo",
        scaling="auto",
        fill=None,
        on_short="pad",
        season_length="auto",
        ensemble_size=1,
        calibration_fraction=0.0,
        id_col="unique_id",
        time_col="ds",
        target_col="y",
        futr_exog_list=None,
        hist_exog_list=None,
        stat_exog_list=None,
        hidden_size=64,
        num_layers=1,
        cell="lstm",
        bidirectional=False,
        dropout=0.0,
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=32,
        max_epochs=200,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        clip_grad_norm=1.0,
        weight_decay=0.0,
        dtype="float32",
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.window = window
        self.horizon = horizon
        self.strategy = strategy
        self.scaling = scaling
        self.fill = fill
        self.on_short = on_short
        self.season_length = season_length
        self.ensemble_size = ensemble_size
        self.calibration_fraction = calibration_fraction
        self.id_col = id_col
        self.time_col = time_col
        self.target_col = target_col
        self.futr_exog_list = futr_exog_list
        self.hist_exog_list = hist_exog_list
        self.stat_exog_list = stat_exog_list
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip_grad_norm = clip_grad_norm
        self.weight_decay = weight_decay
        self.dtype = dtype
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # -- public API --------------------------------------------------------------------

    def fit(self, y, X=None, on_epoch=None, static=None):
        """Train one model on the windows of every series in ``y``.

        Parameters
        ----------
        y : 1-D array, pandas Series, wide DataFrame or long DataFrame
            The series (see the class docstring and the README); a long frame may hold
            covariate columns too. polars frames and series too (forecasts then come
            back as polars).
        X : array-like or DataFrame, optional
            Covariates per step, aligned with ``y`` (same container kind: rows per
            step; a long DataFrame with ``id_col``/``time_col`` for long ``y``; for a
            wide ``y``, one table shared by all series). Future-known unless named in
            ``hist_exog_list``.
        on_epoch : callable, optional
            Called after every training epoch with an
            :class:`~tsLSTM.estimators.EpochInfo` (progress bars, logging).
        static : DataFrame, optional
            Static covariates: one row per series, an ``id_col`` column (or the
            series ids as index) and the ``stat_exog_list`` columns (Nixtla's
            ``static_df``).
        """
        self._validate_params()
        spec = self.covariate_spec(fitted=False)
        panel = to_panel(y, X, self.id_col, self.time_col, self.target_col, self.fill,
                         static, spec)  # fmt: skip
        return self.fit_panel(panel, on_epoch=on_epoch)

    def to_panel(self, y, X=None, static=None):
        """Validate a series container (and covariates) into a :class:`Panel`.

        Uses this forecaster's ``id_col``, ``time_col``, ``target_col``, ``fill`` and
        covariate columns (:meth:`covariate_spec`: on a fitted forecaster the fitted
        columns and categories); the containers are those of :meth:`fit`.
        """
        self._validate_params()
        return to_panel(y, X, self.id_col, self.time_col, self.target_col, self.fill,
                        static, self.covariate_spec())  # fmt: skip

    def covariate_spec(self, fitted=None):
        """The covariate columns of each kind (and the categories of categorical ones).

        Fitted (the default on a fitted forecaster): the columns and categories the
        model was fitted with. Else the ``*_exog_list`` parameters; the categories are
        learned from the data.
        """
        if fitted is None:
            fitted = hasattr(self, "regressor_")
        if fitted:
            return CovariateSpec(tuple(self.futr_exog_), tuple(self.hist_exog_),
                                 tuple(self.stat_exog_), dict(self.categories_))  # fmt: skip
        lists = (self.futr_exog_list, self.hist_exog_list, self.stat_exog_list)
        return CovariateSpec(*(None if c is None else tuple(c) for c in lists))

    def min_series_length(self, purpose="fit"):
        """Fewest values a series needs: to train on (``'fit'``) or to forecast (``'predict'``).

        Full training windows take ``window + horizon`` values ('mimo') or
        ``window + 1`` ('recursive') and a forecast reads the last ``window`` values.
        With ``on_short='pad'`` a shorter series trains on shorter windows (from
        ``horizon + 1`` values, ``2`` for 'recursive') and is forecast from all its
        values (from ``1``).
        """
        pad = self.on_short == "pad"
        if purpose == "fit":
            return (1 if pad else self.window) + self._model_horizon()
        if purpose == "predict":
            return 1 if pad else self.window
        raise ValueError(f"purpose must be 'fit' or 'predict', got {purpose!r}")

    def set_params(self, **params):
        """Set parameters; ``device`` and ``n_jobs`` also apply to the fitted network.

        A fitted forecaster predicts where and with the threads it is set to now:
        ``set_params(device='cpu')`` lets a model trained on a GPU forecast without one.
        """
        super().set_params(**params)
        runtime = {name: getattr(self, name) for name in RUNTIME_PARAMS if name in params}
        if runtime and hasattr(self, "regressor_"):
            for regressor in [self.regressor_, *getattr(self, "_members", ())]:
                regressor.set_params(**runtime)
        return self

    def predict(self, horizon=None, X=None, y=None, static=None):
        """Forecast the steps after each series.

        Parameters
        ----------
        horizon : int, optional
            Steps to forecast; defaults to ``self.horizon`` (with 'mimo' at most that).
        X : array-like or DataFrame, optional
            Future-known covariates of the forecast steps (required if the model was
            fitted with some; Nixtla's ``futr_df``). When ``y`` is given as well, ``X``
            must also cover ``y``'s steps for the covariates ``y`` does not hold: by
            time stamp for pandas input, or as ``len(y) + horizon`` rows for an array.
        y : series container, optional
            Forecast from this history instead of the training data (a saved model
            applied to new data, a backtest without refitting).
        static : DataFrame, optional
            Static covariates of the series (as for :meth:`fit`); by default those of
            ``y``'s own frame or of the training data.

        Returns
        -------
        Forecasts in ``y``'s container type: an array of shape (horizon,), a Series,
        a wide DataFrame indexed by the future time stamps, or a long DataFrame with
        ``id_col``, ``time_col`` and ``y_hat``.
        """
        panel, cov_future, horizon = self._prediction_inputs(horizon, X, y, static)
        return panel.output(self.predict_panel(panel, horizon, cov_future))

    def predict_interval(self, coverage=0.9, horizon=None, X=None, y=None, static=None):
        """Forecasts with split-conformal prediction intervals.

        Needs ``calibration_fraction > 0`` at fit time. For each horizon step the
        interval half-width is the conformal quantile of the scaled absolute errors
        on the held-out calibration windows, times the forecast window's scale.

        Parameters
        ----------
        coverage : float or list of float in (0, 1), default=0.9
            Probability that an interval holds the actual value; a list gives one
            interval per level.
        horizon, X, y, static
            As for :meth:`predict`.

        Returns
        -------
        The container of :meth:`predict` with columns ``y_hat``, ``y_hat_lower`` and
        ``y_hat_upper`` for one coverage given as a number (an array of shape
        (horizon, 3) for array input). For a list, a pair per level after ``y_hat``,
        in the list's order, named with the coverage in percent: ``coverage=[0.8,
        0.95]`` gives ``y_hat``, ``y_hat_lower_80``, ``y_hat_upper_80``,
        ``y_hat_lower_95``, ``y_hat_upper_95`` (0.975 gives ``..._97.5``; an array of
        shape (horizon, 1 + 2 * len(coverage))).
        """
        self._check_coverage(coverage)
        panel, cov_future, horizon = self._prediction_inputs(horizon, X, y, static)
        forecasts, *bounds = self.predict_panel(panel, horizon, cov_future, coverage)
        # (lower, upper) for one coverage, {coverage: (lower, upper)} for a list
        return panel.output(forecasts, bounds[0] if isinstance(bounds[0], dict) else bounds)

    def predict_quantiles(self, alpha=(0.1, 0.5, 0.9), horizon=None, X=None, y=None,
                          static=None):  # fmt: skip
        """Quantile forecasts from the split-conformal intervals.

        The ``alpha`` quantile is the lower bound of the interval of coverage
        ``1 - 2 * alpha`` for ``alpha < 0.5``, the upper bound of the interval of
        coverage ``2 * alpha - 1`` for ``alpha > 0.5``, and the point forecast for
        ``alpha = 0.5``: conformal quantiles, symmetric about the forecast in the
        scaled space (in logs for a series modelled in logs), non-decreasing in
        ``alpha``. Needs ``calibration_fraction > 0`` at fit time; an ``alpha`` near 0
        or 1 needs many calibration windows (``1 - 2 * alpha`` coverage needs
        ``(1 - 2 * alpha) / (2 * alpha)``).

        Parameters
        ----------
        alpha : float or list of float in (0, 1), default=(0.1, 0.5, 0.9)
            Probabilities of the quantiles (sktime's name).
        horizon, X, y, static
            As for :meth:`predict`.

        Returns
        -------
        The container of :meth:`predict` with one column per ``alpha``, in its order,
        named ``y_hat_q0.1``, ``y_hat_q0.5``, ... (``q{alpha:g}``): an array of shape
        (horizon, len(alpha)) for array input, a DataFrame otherwise (long: with
        ``id_col`` and ``time_col``; wide: columns (series, name)).
        """
        alphas, _ = check_levels(alpha, "alpha", quantile_column)
        # the interval of each alpha (alpha and 1 - alpha share one); 0.5: the forecast
        coverages = {a: round(abs(1 - 2 * a), 12) for a in alphas if a != 0.5}
        levels = list(dict.fromkeys(coverages.values())) or [0.5]
        self._check_coverage(levels)
        for a, c in coverages.items():
            self._conformal_quantiles(c, f"alpha={a} (the bound at coverage={c:g})")
        panel, cov_future, horizon = self._prediction_inputs(horizon, X, y, static)
        forecasts, bounds = self.predict_panel(panel, horizon, cov_future, levels)
        columns = {
            quantile_column(a): (
                forecasts if a == 0.5 else bounds[coverages[a]][0 if a < 0.5 else 1]
            )
            for a in alphas
        }
        return panel.output_columns(columns)

    def fit_panel(self, panel, on_epoch=None):
        """Train on the series of a :class:`Panel` (see :meth:`to_panel`); returns self.

        ``on_epoch`` is called after every training epoch with an
        :class:`~tsLSTM.estimators.EpochInfo`.
        """
        self._validate_params()
        return self._fit_panel(panel, on_epoch)

    def predict_panel(self, panel, horizon=None, covariates=None, coverage=None):
        """Forecast every series of a :class:`Panel` from its last ``window`` values.

        Parameters
        ----------
        panel : Panel
            The histories (the training panel ``history_``, or new data read by
            :meth:`to_panel`).
        horizon : int, optional
            Steps to forecast; defaults to ``self.horizon`` (with 'mimo' at most that).
        covariates : ndarray of shape (n_series, horizon, n_covariates), optional
            Covariates of the forecast steps (required if the model was fitted with
            covariates); :func:`tsLSTM.forecasting.readers.future_covariates` aligns
            them from a container.
        coverage : float or list of float in (0, 1), optional
            Also return split-conformal interval bounds at this coverage, or at each
            of a list of levels (needs ``calibration_fraction > 0`` at fit time).

        Returns
        -------
        forecasts : ndarray of shape (n_series, horizon)
            Without ``coverage``.
        (forecasts, lower, upper) : tuple of three such arrays
            With one ``coverage`` given as a number. ``panel.output(forecasts,
            (lower, upper))`` gives the container of :meth:`predict_interval`.
        (forecasts, intervals) : tuple
            With a list of levels: ``intervals`` is a dict ``{coverage: (lower,
            upper)}`` in the list's order; ``panel.output(forecasts, intervals)``
            gives the container of :meth:`predict_interval`.

        Raises
        ------
        ValueError
            Naming the series, if a forecast or interval bound is not finite (values
            too large for float64: the scaling overflows). Never returns inf or NaN.
        """
        check_is_fitted(self, "regressor_")
        horizon = self._checked_horizon(horizon)
        if coverage is not None:
            self._check_coverage(coverage, horizon)
        if self.n_covariates_ and covariates is None:
            raise ValueError(
                f"the model was fitted with {self.n_covariates_} covariates: pass their "
                f"values for the {horizon} forecast steps"
            )
        if covariates is not None:
            check_real(np.asarray(covariates), "covariates")
            covariates = np.asarray(covariates, dtype=np.float64)
            expected = (panel.n_series, horizon, self.n_covariates_)
            if covariates.shape != expected:
                raise ValueError(f"covariates must have shape {expected}, got {covariates.shape}")
        spec = self.covariate_spec()
        for kind, names in (("hist", panel.past_covariate_names), ("stat", panel.static_names)):
            if names != spec.channels(kind):
                raise ValueError(
                    f"the panel's {kind}_exog covariates {names} are not the model's "
                    f"{spec.channels(kind)}: read it with the model's to_panel"
                )
        forecasts, scale = self._predict_panel(panel, horizon, covariates)
        if coverage is None:
            _check_finite_forecasts(panel, forecasts)
            return forecasts
        levels, scalar = check_levels(coverage, "coverage", interval_columns)
        intervals = {}
        for level in levels:
            half_width = self._conformal_quantiles(level)[:horizon][None, :] * scale[:, None]
            intervals[level] = forecasts - half_width, forecasts + half_width
        _check_finite_forecasts(panel, forecasts, *(b for pair in intervals.values() for b in pair))
        return (forecasts, *intervals[levels[0]]) if scalar else (forecasts, intervals)

    def save(self, path):
        """Save the fitted forecaster in tsLSTM's safe format (see ``tsLSTM.load``).

        The training series are not saved: a loaded forecaster forecasts from the
        history passed as ``predict(y=...)``.
        """
        super().save(path)

    # -- saved state (see estimators._saving.SavedStateMixin) ------------------------------

    _fitted_marker = "regressor_"
    _saved_attributes = (
        "n_series_", "n_windows_", "n_covariates_", "covariate_names_", "short_series_",
        "series_ids_", "season_length_", "futr_exog_", "hist_exog_", "stat_exog_",
        "categories_",
    )  # fmt: skip
    _saved_arrays = ("conformal_scores_", "_series_stats", "_member_params")

    def _fitted_state(self):
        attributes = {name: getattr(self, name) for name in self._saved_attributes}
        arrays = {
            f"fattr/{name}": getattr(self, name)
            for name in self._saved_arrays
            if getattr(self, name) is not None
        }
        return attributes, arrays, self.regressor_.__tslstm_record__()

    def _restore_fitted_state(self, record, source):
        if record.inner is None or record.inner.estimator != "LSTMRegressor":
            raise ValueError(f"{source}: a forecaster file needs its inner LSTMRegressor section")
        # files written before season_length_ existed: no seasonal baseline (as then);
        # before the covariate lists: numeric future-known covariates only
        names = record.attributes.get("covariate_names_")
        attributes = {"season_length_": 1, "futr_exog_": names, "hist_exog_": [],
                      "stat_exog_": [], "categories_": {}, **record.attributes}  # fmt: skip
        if set(attributes) != set(self._saved_attributes):
            raise ValueError(
                f"{source}: forecaster attributes {sorted(record.attributes)} are incomplete"
            )
        for name, value in attributes.items():
            setattr(self, name, value)
        if not (is_int(self.n_covariates_, 0) and isinstance(self.series_ids_, list)
                and isinstance(self.covariate_names_, list) and is_int(self.season_length_, 1)
                and len(self.covariate_names_) == self.n_covariates_
                and self._covariates_consistent()):  # fmt: skip
            raise ValueError(f"{source}: inconsistent forecaster attributes")
        arrays = dict(record.arrays)
        for name in self._saved_arrays:
            setattr(self, name, arrays.pop(f"fattr/{name}", None))
        if arrays:
            raise ValueError(f"{source}: unexpected members {sorted(arrays)}")
        scores = self.conformal_scores_
        if scores is not None and (scores.ndim != 2 or scores.dtype.kind != "f"):
            raise ValueError(f"{source}: conformal_scores_ must be a 2-D float array")
        stats = self._series_stats
        if (self.scaling == "series") != (stats is not None) or (
            stats is not None and stats.shape != (len(self.series_ids_), 2)
        ):
            raise ValueError(f"{source}: series statistics do not match scaling={self.scaling!r}")
        self.regressor_ = LSTMRegressor.__tslstm_from_record__(record.inner, source)
        members = self._member_params
        n_params = self.regressor_.model_.flat_params.shape
        if members is not None and (
            members.ndim != 2 or members.shape[1:] != n_params or members.dtype.kind != "f"
        ):
            raise ValueError(f"{source}: the ensemble's parameters do not match its network")
        self._members = []
        for row in [] if members is None else members:
            member = copy.deepcopy(self.regressor_)
            member.model_.flat_params[...] = row
            self._members.append(member)
        self.history_ = None  # pass y= to predict from a loaded model

    def _covariates_consistent(self):
        """The restored covariate lists and categories fit together."""
        categories = self.categories_
        return (
            all(isinstance(getattr(self, f"{kind}_exog_"), list) for kind in KINDS)
            and isinstance(categories, dict)
            and all(isinstance(c, list) and all(isinstance(v, str) for v in c)
                    for c in categories.values())
            and self.covariate_spec(True).channels("futr") == self.covariate_names_
        )  # fmt: skip

    # -- fitting -----------------------------------------------------------------------

    def _model_horizon(self):
        return self.horizon if self.strategy == "mimo" else 1

    def _check_coverage(self, coverage, horizon=None):
        check_is_fitted(self, "regressor_")
        if self.conformal_scores_ is None:
            raise ValueError("prediction intervals need calibration_fraction > 0 at fit time")
        check_levels(coverage, "coverage", interval_columns)
        if horizon is not None and horizon > self.conformal_scores_.shape[1]:
            raise ValueError(
                f"intervals are calibrated for at most horizon={self.conformal_scores_.shape[1]}"
            )

    def _checked_horizon(self, horizon):
        horizon = self.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, numbers.Integral) or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
        if self.strategy == "mimo" and horizon > self.horizon:
            raise ValueError(
                f"a 'mimo' model forecasts at most its fitted horizon={self.horizon} steps, "
                f"asked for {horizon}; refit with a larger horizon or use strategy='recursive'"
            )
        return int(horizon)

    def _fit_panel(self, panel, on_epoch=None):
        W, Hm, H = self.window, self._model_horizon(), self.horizon
        full = W + Hm
        minimum = self.min_series_length("fit")
        lengths = panel.lengths
        short = [(sid, n) for sid, n in zip(panel.ids, lengths, strict=True) if n < full]
        if short and self.on_short != "pad":
            detail = ", ".join(f"{sid!r} ({n})" for sid, n in short)
            message = f"series shorter than window + horizon = {full}: {detail}"
            if self.on_short == "raise" or len(short) == panel.n_series:
                raise ValueError(message + "; use a smaller window or on_short='pad'")
            warnings.warn(message + "; left out of training", UserWarning, stacklevel=3)
        spec = panel.spec or CovariateSpec(tuple(panel.covariate_names), (), (), {})
        if spec.hist and self.strategy == "recursive":
            raise ValueError(
                f"strategy='recursive' cannot use past-only covariates {list(spec.hist)}: "
                "its later steps would need their values beyond the forecast origin; use "
                "strategy='mimo' (with horizon=1 the same model) or name them in "
                "futr_exog_list if they are known ahead"
            )
        self.short_series_ = [sid for sid, n in short if n < minimum]
        self.n_series_ = panel.n_series
        self.series_ids_ = list(panel.ids)
        self.n_covariates_ = len(panel.covariate_names)
        self.covariate_names_ = list(panel.covariate_names)
        self.futr_exog_, self.hist_exog_ = list(spec.futr), list(spec.hist)
        self.stat_exog_, self.categories_ = list(spec.stat), dict(spec.categories or {})
        self._series_stats = self._series_statistics(panel)
        self.season_length_ = self._season_length(panel)

        # every window: its series, where its input ends (in the series), the input's length
        train, validation, calibration = [], [], []
        for i in range(panel.n_series):
            n = lengths[i]
            if n < minimum:
                continue
            if n < full:  # on_short='pad': the inputs v[:k] for every k the series allows
                k = np.arange(1, n - Hm + 1)
                train.append((np.full(len(k), i), k, k))
                continue
            last_train = n - W - Hm  # last start of a training window
            if self.calibration_fraction > 0 and n >= W + H:
                candidates = n - W - H + 1
                n_cal = math.ceil(self.calibration_fraction * candidates)
                first_cal = n - W - H - n_cal + 1
                ends = np.arange(first_cal, n - W - H + 1) + W
                calibration.append((np.full(len(ends), i), ends, np.full(len(ends), W)))
                last_train = min(last_train, first_cal - Hm)
            n_val = math.ceil(self.validation_fraction * (last_train + 1))
            if self.early_stopping and last_train - n_val - Hm + 1 >= n_val:
                # the latest windows validate (if as many are left to train on); no
                # training target reaches their targets
                first_val = last_train - n_val + 1
                ends = np.arange(first_val, last_train + 1) + W
                validation.append((np.full(len(ends), i), ends, np.full(len(ends), W)))
                last_train = first_val - Hm
            if last_train >= 0:
                ends = np.arange(last_train + 1) + W
                train.append((np.full(len(ends), i), ends, np.full(len(ends), W)))
        if not train:
            raise ValueError(
                "no training windows: the series are too short for calibration and validation"
            )
        log = self._log_series(panel)
        inputs, targets = self._training_set(panel, *self._plan(train), log)
        self.n_windows_ = len(inputs)
        params = {name: getattr(self, name) for name in NETWORK_PARAMS}
        params.update(hyperparams.FORECASTER_FIXED)  # estimator defaults of before
        validation_data = None
        if validation:
            validation_data = self._training_set(panel, *self._plan(validation), log)
        elif self.early_stopping is True:
            warnings.warn(
                "early_stopping: no series is long enough to hold out its latest windows "
                "for validation; training stops on the training loss",
                UserWarning, stacklevel=3,
            )  # fmt: skip
        params["early_stopping"] = bool(validation)
        with warnings.catch_warnings():
            # the windows are (n, window, features) by construction: no layout to doubt
            warnings.filterwarnings("ignore", r"X has shape \(n, ", UserWarning)
            self.regressor_ = LSTMRegressor(**params).fit(
                inputs, targets, on_epoch=on_epoch, validation_data=validation_data
            )
            self._members = []
            for seed in self._member_seeds():
                member = LSTMRegressor(**{**params, "random_state": seed})
                member.fit(inputs, targets, on_epoch=on_epoch, validation_data=validation_data)
                self._members.append(member)
        self._member_params = (
            np.stack([m.model_.flat_params for m in self._members]) if self._members else None
        )
        self.history_ = panel
        self.conformal_scores_ = (
            self._calibrate(panel, *self._plan(calibration), log) if calibration else None
        )
        return self

    def _member_seeds(self):
        """Seeds of the ensemble's members after the first (which uses random_state)."""
        k = self.ensemble_size - 1
        if k == 0:
            return []
        if self.random_state is None or isinstance(self.random_state, np.random.RandomState):
            return [self.random_state] * k  # fresh draws (a RandomState advances)
        return list(np.random.RandomState(self.random_state).randint(2**31 - 1, size=k))

    def _network_predict(self, X):
        """The mean output of the ensemble's networks."""
        out = self.regressor_.predict(X)
        for member in getattr(self, "_members", ()):
            out = out + member.predict(X)
        return out / (1 + len(getattr(self, "_members", ())))

    def _season_length(self, panel):
        if self.season_length != "auto":
            return int(self.season_length)
        lengths = [season_length_of(step) for step in panel.steps]
        m = max(set(lengths), key=lengths.count) if lengths else 1
        return self._detect_season_length(panel) if m is None else m

    def _detect_season_length(self, panel):
        """The season of series without a frequency: the smallest candidate (up to
        ``window``) at whose lag the changes of the series (of their logs for positive
        series) have a median autocorrelation of at least ``_SEASONAL_ACF``; else 1."""
        if self.scaling != "auto":
            return 1
        log = self._log_series(panel)
        changes = []
        for i in range(panel.n_series):
            v = panel.series(i)
            changes.append(np.diff(np.log(v) if log[i] else v))
        for m in _CANDIDATE_SEASONS:
            if m > self.window:
                break
            correlations = [
                np.corrcoef(d[m:], d[:-m])[0, 1]
                for d in changes
                if len(d) >= 3 * m and d[m:].std() > 0 and d[:-m].std() > 0
            ]
            if correlations and np.median(correlations) >= _SEASONAL_ACF:
                return m
        return 1

    @staticmethod
    def _plan(parts):
        """(series, ends, sizes) arrays from a list of such triples."""
        return tuple(np.concatenate([p[j] for p in parts]).astype(np.int64) for j in range(3))

    def _log_series(self, panel):
        """Which series ``scaling='auto'`` models in logs: those with only positive values."""
        if self.scaling != "auto":
            return np.zeros(panel.n_series, dtype=bool)
        with np.errstate(invalid="ignore"):
            return np.minimum.reduceat(panel.values, panel.indptr[:-1]) > 0

    def _series_statistics(self, panel):
        if self.scaling != "series":
            return None
        stats = np.empty((panel.n_series, 2))
        for i in range(panel.n_series):
            v = panel.series(i)
            stats[i] = v.mean(), v.std()
        return stats

    def _scale(self, windows, sizes, series_index, log):
        """Level and scale of each window (n,) by the ``scaling`` rule.

        ``windows`` (n, window) holds ``sizes`` values, then NaN. The network sees
        ``(g(x) - level) / scale`` with ``g = log`` on the rows where ``log``, else the
        identity.
        """
        n = len(windows)
        full = n == 0 or sizes.min() == windows.shape[1]
        if self.scaling == "window":
            if full:
                level, scale = windows.mean(axis=1), windows.std(axis=1)
            else:
                level, scale = np.nanmean(windows, axis=1), np.nanstd(windows, axis=1)
        elif self.scaling == "series":
            level, scale = self._series_stats[series_index].T
        elif self.scaling == "auto":
            last = windows[np.arange(n), sizes - 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                level = np.where(log, np.log(np.where(log, last, 1.0)), last)
            scale = np.where(log, 1.0, np.nanstd(windows, axis=1) if n else 1.0)
        else:
            return np.zeros(n), np.ones(n)
        scale = np.where(scale > _TINY * (1.0 + np.abs(level)), scale, 1.0)
        return level, scale

    @staticmethod
    def _to_z(x, log, level, scale):
        if log.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(log[:, None], np.log(np.where(log[:, None], x, 1.0)), x)
        level = level[:, None] if level.ndim == 1 else level
        return (x - level) / scale[:, None]

    @staticmethod
    def _from_z(z, log, level, scale):
        level = level[:, None] if level.ndim == 1 else level
        x = z * scale[:, None] + level
        if log.any():
            with np.errstate(over="ignore"):
                x = np.where(log[:, None], np.exp(x), x)
        return x

    def _baseline(self, windows, sizes, log, level, n_steps):
        """What a target is measured from (n, n_steps), in the scaling's units.

        With ``scaling='auto'`` and a ``season_length_`` m above 1, for a window that
        holds a whole season: the last season's mean level plus the seasonal pattern
        averaged over every whole season of the window (deviations from each season's
        mean). With one season in the window that is the seasonal naive forecast; with
        k seasons the pattern's noise shrinks by about sqrt(k). Else the window's last
        value; other scalings: ``level``. The network learns the deviation from it.
        """
        m = getattr(self, "season_length_", 1)
        base = np.repeat(level[:, None], n_steps, axis=1)
        if self.scaling != "auto" or m <= 1 or len(windows) == 0:
            return base
        g = windows
        if log.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(log[:, None], np.log(np.where(log[:, None], windows, 1.0)), windows)
        # the window's whole seasons, latest first: (n, seasons, m), NaN where none
        n = len(windows)
        seasons = sizes // m
        j = np.arange(1, max(int(seasons.max()), 1) + 1)
        idx = sizes[:, None, None] - j[None, :, None] * m + np.arange(m)[None, None, :]
        whole = (j[None, :] <= seasons[:, None])[:, :, None] & (idx >= 0)
        values = np.where(whole, g[np.arange(n)[:, None, None], np.clip(idx, 0, None)], 0.0)
        means = values.sum(axis=2) / m  # (n, seasons): each season's level (0 if none)
        deviations = np.where(whole, values - means[:, :, None], 0.0)
        pattern = deviations.sum(axis=1) / np.maximum(seasons, 1)[:, None]  # (n, m)
        forecast = means[:, :1] + pattern[:, np.arange(n_steps) % m]
        return np.where((seasons >= 1)[:, None], forecast, base)

    def _network_input(self, z, sizes, cov):
        """Network input: scaled target, and the covariates' channels.

        ``z`` (n, window) holds ``sizes`` values then NaN (padding the regressor
        masks). Channels: the scaled target, with future-known covariates a future flag
        and them, the past-only covariates, the static ones. With future-known
        covariates the sequence is ``sizes + Hm`` steps long: the future part has the
        target and past-only channels 0, the flag 1.
        """
        n, W = z.shape
        past = [z[:, :, None]]
        if cov.past is not None:
            past += [np.zeros((n, W, 1)), cov.past]
        if cov.hist is not None:
            past.append(cov.hist)
        if cov.static is not None:
            past.append(np.repeat(cov.static[:, None, :], W, axis=1))
        if len(past) == 1:
            return z[:, :, None]
        past = np.concatenate(past, axis=2)
        full = n == 0 or sizes.min() == W
        valid = np.arange(W)[None, :] < sizes[:, None]
        if cov.future is None:
            return past if full else np.where(valid[:, :, None], past, np.nan)
        Hm = cov.future.shape[1]
        future = [np.zeros((n, Hm, 1)), np.ones((n, Hm, 1)), cov.future]
        if cov.hist is not None:
            future.append(np.zeros((n, Hm, cov.hist.shape[2])))
        if cov.static is not None:
            future.append(np.repeat(cov.static[:, None, :], Hm, axis=1))
        future = np.concatenate(future, axis=2)
        if full:
            return np.concatenate([past, future], axis=1)
        out = np.full((n, W + Hm, past.shape[2]), np.nan)
        out[:, :W][valid] = past[valid]
        rows = np.repeat(np.arange(n), Hm)
        out[rows, (sizes[:, None] + np.arange(Hm)[None, :]).ravel()] = future.reshape(n * Hm, -1)
        return out

    def _gather(self, panel, series, ends, sizes, n_after):
        """Windows of ``sizes`` values of ``series`` before ``ends`` (NaN-padded to
        ``window``), the ``n_after`` values from ``ends``, and their covariates
        (:class:`WindowCovariates`)."""
        W = self.window
        first = panel.indptr[series] + ends  # position of the first value after the input
        steps = np.arange(W)
        valid = steps[None, :] < sizes[:, None]
        rows = np.where(valid, first[:, None] - sizes[:, None] + steps[None, :], first[:, None] - 1)
        windows = np.where(valid, panel.values[rows], np.nan)
        after_rows = first[:, None] + np.arange(n_after)[None, :]
        after = panel.values[after_rows]
        futr, hist, static = panel.covariates, panel.past_covariates, panel.static
        cov = WindowCovariates(
            None if futr is None else futr[rows], None if futr is None else futr[after_rows],
            None if hist is None else hist[rows], None if static is None else static[series],
        )  # fmt: skip
        return windows, after, cov

    def _training_set(self, panel, series, ends, sizes, log):
        Hm = self._model_horizon()
        windows, targets, cov = self._gather(panel, series, ends, sizes, Hm)
        log = log[series]
        level, scale = self._scale(windows, sizes, series, log)
        z = self._to_z(windows, log, level, scale)
        inputs = self._network_input(z, sizes, cov)
        base = self._baseline(windows, sizes, log, level, Hm)
        return inputs, self._to_z(targets, log, base, scale)

    def _calibrate(self, panel, series, ends, sizes, log):
        H = self.horizon
        windows, actual, cov = self._gather(panel, series, ends, sizes, H)
        forecasts, unit = self._forecast(windows, sizes, series, log[series], cov, H)
        return np.abs(actual - forecasts) / unit[:, None]

    def _conformal_quantiles(self, coverage, what=None):
        n = len(self.conformal_scores_)
        level = math.ceil((n + 1) * coverage) / n
        if level > 1:
            raise ValueError(
                f"{n} calibration windows cannot give {what or f'coverage={coverage}'}: needs "
                f"at least {math.ceil(coverage / (1 - coverage))}; raise calibration_fraction"
            )
        return np.quantile(self.conformal_scores_, level, axis=0, method="higher")

    # -- forecasting -------------------------------------------------------------------

    def _forecast(self, history, sizes, series_index, log, cov, horizon):
        """Forecast ``horizon`` steps after each row of ``history`` (n, window), whose
        first ``sizes`` values are the history (NaN after them); ``cov`` are their
        :class:`WindowCovariates` (``future``: those of the ``horizon`` steps).

        Returns the forecasts (n, horizon) and the scale of each history window (the
        unit of the conformal scores: the last value for a window modelled in logs).
        """
        W, n = self.window, len(history)
        level, scale = self._scale(history, sizes, series_index, log)
        unit = np.where(log, np.exp(level), scale)
        if self.strategy == "mimo":
            Hm = self.horizon
            z = self._to_z(history, log, level, scale)
            future = None if cov.future is None else cov.future[:, :Hm]
            out = self._network_predict(self._network_input(z, sizes, cov._replace(future=future)))
            out = out.reshape(n, Hm)[:, :horizon]
            base = self._baseline(history, sizes, log, level, Hm)[:, :horizon]
            return self._from_z(out, log, base, scale), unit
        rows = np.arange(n)
        values = np.concatenate([history, np.full((n, horizon), np.nan)], axis=1)
        covariates = None
        if cov.past is not None:
            covariates = np.concatenate([cov.past, np.zeros((n, horizon, cov.past.shape[2]))], 1)
            for k in range(horizon):  # the future right after each history
                covariates[rows, sizes + k] = cov.future[:, k]
        steps = np.arange(W)
        for k in range(horizon):
            end = sizes + k
            size = np.minimum(end, W)
            index = end[:, None] - size[:, None] + steps[None, :]
            valid = steps[None, :] < size[:, None]
            index = np.where(valid, index, end[:, None] - 1)
            past = np.where(valid, values[rows[:, None], index], np.nan)
            lvl, scl = self._scale(past, size, series_index, log)
            z = self._to_z(past, log, lvl, scl)
            step_cov = cov  # past-only covariates: refused for 'recursive' at fit
            if covariates is not None:
                step_cov = cov._replace(past=covariates[rows[:, None], index],
                                        future=covariates[rows, end][:, None, :])  # fmt: skip
            step = self._network_predict(self._network_input(z, size, step_cov))
            base = self._baseline(past, size, log, lvl, 1)
            values[rows, end] = self._from_z(step.reshape(n, 1), log, base, scl)[:, 0]
        return values[rows[:, None], sizes[:, None] + np.arange(horizon)[None, :]], unit

    def _prediction_inputs(self, horizon, X, y, static=None):
        check_is_fitted(self, "regressor_")
        horizon = self._checked_horizon(horizon)
        uses_covariates = self.n_covariates_ > 0
        uses_X = uses_covariates or bool(self.hist_exog_)
        if y is None and self.history_ is None:
            raise ValueError("this forecaster was loaded from a file: pass y, the history to "
                             "forecast from")  # fmt: skip
        if y is None:
            panel = self.history_
            if static is not None:
                panel = with_static(panel, static, self.covariate_spec(), self.id_col)
        elif uses_X and not hasattr(y, "index") and not hasattr(y, "columns"):
            if X is not None:
                check_real(np.asarray(X), "X")
            X_all = X if hasattr(X, "iloc") or X is None else np.asarray(X)
            X_all = X_all.iloc if hasattr(X_all, "iloc") else X_all
            n = len(np.asarray(y))
            needed = n + horizon if uses_covariates else n
            if X_all is None or len(X_all) < needed:
                rows = "len(y) + horizon" if uses_covariates else "len(y)"
                raise ValueError(f"X must have {rows} = {needed} rows")
            panel, X = self.to_panel(y, X_all[:n], static), X_all[n:]
        else:
            panel = self.to_panel(y, X if uses_X else None, static)
        if uses_covariates and len(panel.covariate_names) != self.n_covariates_:
            raise ValueError(
                f"X has {len(panel.covariate_names)} covariates, the model was fitted with "
                f"{self.n_covariates_}"
            )
        cov_future = future_covariates(panel, X, horizon) if uses_covariates else None
        return panel, cov_future, horizon

    def _predict_panel(self, panel, horizon, cov_future):
        """Forecasts (n_series, horizon) and window scales for every series of a panel."""
        W = self.window
        minimum = self.min_series_length("predict")
        short = [(sid, n) for sid, n in zip(panel.ids, panel.lengths, strict=True) if n < minimum]
        if short:
            raise ValueError(
                f"cannot forecast series shorter than window={W}: "
                + ", ".join(f"{sid!r} ({n})" for sid, n in short)
            )
        series = np.arange(panel.n_series)
        sizes = np.minimum(panel.lengths, W).astype(np.int64)
        history, _, cov = self._gather(panel, series, panel.lengths, sizes, 0)
        log = self._log_series(panel)
        series_index = self._series_index(panel)
        cov = cov._replace(future=cov_future)
        return self._forecast(history, sizes, series_index, log, cov, horizon)

    def _series_index(self, panel):
        """Rows of the series statistics for the series of ``panel`` (by id)."""
        if self.scaling != "series":
            return np.zeros(panel.n_series, dtype=int)
        known = {sid: i for i, sid in enumerate(self.series_ids_)}
        unknown = [sid for sid in panel.ids if sid not in known]
        if unknown:
            raise ValueError(
                f"scaling='series' knows only the training series; unknown: {unknown[:5]}"
            )
        return np.array([known[sid] for sid in panel.ids])
