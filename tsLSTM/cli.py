"""The ``tslstm`` command: batch forecasting of every series in a file."""

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, hyperparams
from ._files import check_writable, write_file
from .devices import DeviceUnavailableError
from .hyperparams import positive_int

EXIT_OK = 0
EXIT_ERROR = 1  # nothing was written: bad input, bad model file, ...
EXIT_USAGE = 2  # wrong command line (argparse's own code)
EXIT_SKIPPED = 3  # output written, but some series were skipped (--on-error skip)

DATASETS = ("airline", "sunspots", "us_macro")

# The command's runs are short: defaults that differ from the estimators'.
CLI_DEFAULTS = {"max_epochs": 100, "learning_rate": 0.005, "batch_size": 64, "random_state": 0}

EPILOG = """\
input: a CSV or Parquet file in long format, one row per series and time step, with
  columns unique_id, ds (time stamp) and y (value); other names with --id-col,
  --time-col, --target-col. --dataset NAME uses bundled data instead. Covariate
  columns of the file: --futr-exog (known ahead: their forecast-step values come from
  --futr-file), --hist-exog (known up to the last step), --stat-exog (one value per
  series; or from --static-file); text columns are categorical.

examples:
  tslstm forecast --dataset airline --horizon 24
  tslstm forecast sales.csv --horizon 12 --window 36 --output forecasts.csv
  tslstm train sales.csv --horizon 12 --calibration-fraction 0.2 --save model.tslstm
  tslstm forecast sales.csv --horizon 12 --model model.tslstm --coverage 0.8 0.95
  tslstm train sales.csv --horizon 7 --futr-exog price,promo --stat-exog store_type \
      --save model.tslstm
  tslstm forecast sales.csv --horizon 7 --model model.tslstm --futr-file prices.csv
  tslstm backtest sales.csv --horizon 12 --n-windows 3 --calibration-fraction 0.2 \
      --coverage 0.9 --forecasts backtest.csv
  tslstm forecast sales.csv --horizon 12 --model model.tslstm --scheduler tcp://host:8786

exit codes:
  0  success
  1  error: nothing was written (bad input, missing columns, unreadable model, an
     output that cannot be written, ...); one line on stderr, never a traceback
  2  usage error (bad command line)
  3  output written, but some series were skipped (--on-error skip; listed on stderr)
"""

PARQUET_SUFFIXES = (".parquet", ".pq")


class CommandError(Exception):
    """A problem to report in one line and exit with EXIT_ERROR."""


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tslstm",
        description="Forecast every series in a file with one global LSTM (tsLSTM).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tslstm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    style = {"epilog": EPILOG, "formatter_class": argparse.RawDescriptionHelpFormatter}
    forecast = sub.add_parser("forecast", help="train (or load) a model, write forecasts", **style)
    backtest = sub.add_parser("backtest", help="rolling-origin evaluation, prints metrics", **style)
    train = sub.add_parser("train", help="train a model and save it (safe format)", **style)
    for p in (forecast, backtest, train):
        data = p.add_argument_group("data")
        data.add_argument("input", nargs="?", help="CSV or Parquet file (long format)")
        data.add_argument("--dataset", choices=DATASETS, help="bundled data instead of INPUT")
        data.add_argument("--id-col", default="unique_id", help="series id column [unique_id]")
        data.add_argument("--time-col", default="ds", help="time stamp column [ds]")
        data.add_argument("--target-col", default="y", help="value column [y]")
        data.add_argument("--fill", choices=["ffill", "interpolate", "zero"],
                          help="fill missing values instead of reporting them")  # fmt: skip
        data.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                          help="a bad series stops the run, or is skipped and listed")  # fmt: skip
        covariates = p.add_argument_group("covariates (comma-separated column names)")
        covariates.add_argument(
            "--futr-exog",
            type=_column_list,
            metavar="COLS",
            help="known ahead (calendar, planned prices): the file's "
            "values, and --futr-file's for the forecast steps",
        )
        covariates.add_argument(
            "--hist-exog", type=_column_list, metavar="COLS", help="known up to the last step only"
        )
        covariates.add_argument(
            "--stat-exog",
            type=_column_list,
            metavar="COLS",
            help="one value per series (in INPUT or --static-file)",
        )
        covariates.add_argument(
            "--static-file", metavar="PATH", help="CSV/Parquet: the id column and static columns"
        )
        if p is forecast:
            covariates.add_argument("--futr-file", metavar="PATH",
                                    help="CSV/Parquet: id, time stamp and the --futr-exog "
                                         "columns for the forecast steps (needed when the "
                                         "model has them)")  # fmt: skip
        p.add_argument("--horizon", type=positive_int, required=True, help="steps to forecast")
        p.add_argument("--quiet", action="store_true", help="no progress output")
        model = p.add_argument_group("model and training")
        if p is not train:
            model.add_argument("--model", help="load a saved model instead of training")
        model.add_argument("--window", type=positive_int, default=24, help="input steps [24]")
        model.add_argument("--strategy", choices=["mimo", "recursive"], default="mimo")
        model.add_argument("--scaling", choices=["auto", "window", "series", "none"],
                           default="auto",
                           help="input normalisation: 'auto' models positive series in "
                                "logs relative to the window's last value [auto]")  # fmt: skip
        model.add_argument("--on-short", choices=["pad", "warn", "raise"], default="pad",
                           help="series shorter than window + horizon: train on shorter "
                                "windows and forecast from what they have ('pad'), leave "
                                "them out of training ('warn'), or treat them as bad "
                                "series ('raise': --on-error decides) [pad]")  # fmt: skip
        model.add_argument("--season-length", type=_season_length, default="auto",
                           metavar="auto|M",
                           help="steps in a season for the seasonal baseline of "
                                "--scaling auto; 'auto': from the time stamps' frequency, "
                                "1: none [auto]")  # fmt: skip
        stopping = model.add_mutually_exclusive_group()
        stopping.add_argument("--early-stopping", dest="early_stopping", action="store_const",
                              const=True, default="auto",
                              help="hold out --validation-fraction of the windows (the latest "
                                   "of each series) and stop on their loss [auto: when the "
                                   "series are long enough]")  # fmt: skip
        stopping.add_argument("--no-early-stopping", dest="early_stopping",
                              action="store_const", const=False,
                              help="stop on the training loss")  # fmt: skip
        model.add_argument("--ensemble-size", type=positive_int, default=1,
                           help="average this many networks trained with different "
                                "seeds [1]")  # fmt: skip
        model.add_argument("--calibration-fraction", type=float, default=0.0,
                           help="hold out this fraction of the latest windows to calibrate "
                                "prediction intervals (needed for --coverage)")  # fmt: skip
        # every network and training parameter of the forecaster, from one table
        hyperparams.add_cli_options(model, hyperparams.CLI_PARAMS, CLI_DEFAULTS)
    forecast.add_argument("--coverage", type=float, nargs="+", metavar="LEVEL",
                          help="add y_hat_lower, y_hat_upper at this coverage; several "
                               "levels: y_hat_lower_80, y_hat_upper_80, ... per level "
                               "(needs --calibration-fraction)")  # fmt: skip
    forecast.add_argument("--output", "-o", help="output CSV or Parquet [stdout]")
    forecast.add_argument("--scheduler", help="Dask scheduler address: forecast on the cluster")
    forecast.add_argument("--partitions", type=positive_int,
                          help="Dask tasks [2 per worker]")  # fmt: skip
    forecast.add_argument("--scheduler-timeout", type=positive_float, default=10.0,
                          metavar="SECONDS",
                          help="give up on an unreachable scheduler after this [10]")  # fmt: skip
    backtest.add_argument("--n-windows", type=positive_int, default=3)
    backtest.add_argument("--step", type=positive_int, help="steps between origins [horizon]")
    backtest.add_argument("--no-refit", action="store_true", help="train once, at the 1st origin")
    backtest.add_argument("--season", type=positive_int, default=1,
                          help="seasonal period of the MASE denominator [1]")  # fmt: skip
    backtest.add_argument("--coverage", type=float, nargs="+", metavar="LEVEL",
                          help="also score intervals at these coverages: the fraction of "
                               "actual values inside and the mean width (needs "
                               "--calibration-fraction)")  # fmt: skip
    backtest.add_argument("--output", "-o", help="also write the per-series metrics here")
    backtest.add_argument("--forecasts", metavar="PATH",
                          help="also write every window's forecasts (CSV or Parquet): "
                               "unique_id, ds, cutoff, y, y_hat (and the intervals)")  # fmt: skip
    train.add_argument("--save", required=True, help="where to write the model")
    return parser


# -- input ----------------------------------------------------------------------------------


def _bundled(name, args):
    from .datasets import load_airline, load_sunspots, load_us_macro

    if name == "us_macro":
        frame = load_us_macro()
    else:
        series = load_airline() if name == "airline" else load_sunspots()
        frame = pd.DataFrame({"unique_id": name, "ds": series.index.to_timestamp(),
                              "y": series.to_numpy()})  # fmt: skip
    return frame.rename(
        columns={"unique_id": args.id_col, "ds": args.time_col, "y": args.target_col}
    )


def read_table(path, args, columns=None, what="input"):
    """A long frame from CSV or Parquet, rows labelled by their line in the file.

    ``columns``: those the file must have (default: id, time stamp and target).
    """
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"{what} {path} is a directory, not a CSV or Parquet file")
    if not path.exists():
        raise CommandError(f"{what} file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            try:
                frame = pd.read_parquet(path)
            except ImportError as exc:
                raise CommandError(
                    f"reading Parquet needs pyarrow: pip install 'tsLSTM[parquet]' ({exc})"
                ) from exc
            frame.index = np.arange(1, len(frame) + 1)  # row numbers
        else:
            frame = pd.read_csv(path, dtype={args.id_col: str}, skip_blank_lines=False)
            frame.index = np.arange(2, len(frame) + 2)  # line numbers (header is line 1)
    except pd.errors.EmptyDataError as exc:
        raise CommandError(f"{path} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    columns = (args.id_col, args.time_col, args.target_col) if columns is None else columns
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CommandError(
            f"{path}: missing column(s) {missing}; the file has {list(frame.columns)} "
            "(set --id-col, --time-col, --target-col)"
        )
    if len(frame) == 0:
        raise CommandError(f"{path} has no data rows")
    return frame


def load_data(args):
    if args.dataset and args.input:
        raise CommandError("give INPUT or --dataset, not both")
    if args.dataset:
        return _bundled(args.dataset, args)
    if not args.input:
        raise CommandError("no input: give a CSV/Parquet file or --dataset NAME")
    return read_table(args.input, args)


def _column_list(text):
    """``argparse`` type of --futr-exog and the like: comma-separated column names."""
    columns = [c.strip() for c in text.split(",")]
    if not all(columns):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return columns


def covariate_spec(args, model):
    """The covariate columns: the loaded model's, or those of the options."""
    from .forecasting.panel import CovariateSpec

    options = (args.futr_exog, args.hist_exog, args.stat_exog)
    if model is None:
        return CovariateSpec(*(None if c is None else tuple(c) for c in options))
    if any(c is not None for c in options):
        raise CommandError(
            "--futr-exog, --hist-exog and --stat-exog apply to training; the model uses "
            f"future-known {model.futr_exog_}, past-only {model.hist_exog_} and static "
            f"{model.stat_exog_} columns"
        )
    return model.covariate_spec()


def build_panel(frame, args, spec=None):
    """Validated panel and the list of skipped series ``(id, problem)``.

    Warnings (columns no covariate option names) are printed on stderr.
    """
    from .forecasting.readers import read_long

    on_error = "collect" if args.on_error == "skip" else "raise"
    static = None
    if args.static_file:
        static = read_table(args.static_file, args, (args.id_col,), "--static-file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            result = read_long(frame, None, args.id_col, args.time_col, args.target_col,
                               args.fill, on_error=on_error, static=static,
                               spec=spec)  # fmt: skip
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    for warning in caught:
        print(f"tslstm: warning: {_one_line(warning.message)}", file=sys.stderr)
    return result


def future_values(model, panel, args):
    """The future-known covariates of the forecast steps from --futr-file (or None)."""
    from .forecasting.readers import future_covariates

    if not model.n_covariates_:
        return None
    if not args.futr_file:
        raise CommandError(
            f"the model uses future-known covariates {model.futr_exog_}: pass --futr-file "
            "with their values for the forecast steps"
        )
    futr = read_table(args.futr_file, args, (args.id_col, args.time_col), "--futr-file")
    try:
        return future_covariates(panel, futr, args.horizon)
    except ValueError as exc:
        raise CommandError(f"--futr-file {args.futr_file}: {exc}") from exc


def _drop_short(panel, minimum, args, skipped, what):
    """Drop series with fewer than ``minimum`` values (skip mode) or fail."""
    short = [i for i, n in enumerate(panel.lengths) if n < minimum]
    if not short:
        return panel
    message = "series {!r} has {} values, fewer than " + what
    if args.on_error == "fail":
        i = short[0]
        raise CommandError(message.format(panel.ids[i], panel.lengths[i]) + f" ({minimum})")
    listed = {sid for sid, _ in skipped}
    for i in short:
        if panel.ids[i] not in listed:  # (a series too short to train on may be listed)
            text = message.format(panel.ids[i], panel.lengths[i]) + f" ({minimum})"
            skipped.append((panel.ids[i], text))
    keep = [i for i in range(panel.n_series) if i not in set(short)]
    if not keep:
        raise CommandError("every series is too short: " + skipped[-1][1])
    return panel.select(keep)


# -- model ----------------------------------------------------------------------------------


def _season_length(text):
    """``argparse`` type of --season-length: 'auto' or a positive integer."""
    return "auto" if text == "auto" else positive_int(text)


def make_forecaster(args, horizon):
    from .forecasting import LSTMForecaster

    if not 0 <= args.calibration_fraction < 1:
        raise CommandError("--calibration-fraction must be in [0, 1)")
    return LSTMForecaster(
        window=args.window, horizon=horizon, strategy=args.strategy,
        season_length=args.season_length, ensemble_size=args.ensemble_size,
        early_stopping=args.early_stopping,
        scaling=None if args.scaling == "none" else args.scaling, fill=args.fill,
        on_short=args.on_short,
        calibration_fraction=args.calibration_fraction, id_col=args.id_col,
        time_col=args.time_col, target_col=args.target_col, futr_exog_list=args.futr_exog,
        hist_exog_list=args.hist_exog, stat_exog_list=args.stat_exog, verbose=0,
        **{name: getattr(args, name) for name in hyperparams.CLI_PARAMS},
    )  # fmt: skip


def train_model(panel, args, skipped):
    forecaster = make_forecaster(args, args.horizon)
    if forecaster.on_short == "raise":  # a series too short is a bad series (--on-error)
        panel = _drop_short(panel, forecaster.min_series_length("fit"), args, skipped,
                            "window + horizon")  # fmt: skip
    _info(args, f"training on {panel.n_series} series ({int(panel.lengths.sum())} values)")
    progress = EpochProgress(args.max_epochs * args.ensemble_size, enabled=not args.quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence notes are not errors here
            forecaster.fit_panel(panel, on_epoch=progress)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        progress.close()
    _info(args, f"trained: {forecaster.n_windows_} windows, {progress.epochs} epochs")
    return forecaster


class BacktestProgress:
    """Progress of a backtest: a line per window on stderr, and each training's bar.

    ``window`` is the backtest's ``on_window`` callback, the instance its ``on_epoch``.
    """

    def __init__(self, args):
        self.args = args
        self.training = None

    def window(self, info):
        self.close()
        cutoff = info.cutoff
        if isinstance(cutoff, pd.Timestamp) and cutoff == cutoff.normalize():
            cutoff = cutoff.date()
        stage = "training" if info.refit else "forecasting"
        _info(self.args, f"backtest window {info.window + 1}/{info.n_windows} "
                         f"(cutoff {cutoff}): {stage}")  # fmt: skip
        if info.refit:
            total = self.args.max_epochs * self.args.ensemble_size
            self.training = EpochProgress(total, enabled=not self.args.quiet)

    def __call__(self, info):
        self.training(info)

    def close(self):
        if self.training is not None:
            self.training.close()
            self.training = None


class EpochProgress:
    """The training progress bar: an ``on_epoch`` callback that advances it by one epoch."""

    def __init__(self, max_epochs, enabled=True):
        from ._progress import ProgressBar

        self.bar = ProgressBar(max_epochs, "training", enabled=enabled, delay=0.0, unit="epoch")
        self.epochs = 0

    def __call__(self, info):
        self.epochs += 1
        self.bar.status = f"loss {info.loss:.6f}"
        self.bar.update()

    def close(self):
        self.bar.close()


def load_model(path, device):
    """The forecaster saved in ``path``, set to run on ``device`` (--device)."""
    from .forecasting import LSTMForecaster
    from .persistence import load

    try:
        model = load(path, device=device)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot load model {path}: {exc}") from exc
    if not isinstance(model, LSTMForecaster):
        raise CommandError(f"{path} holds a {type(model).__name__}, not an LSTMForecaster")
    return model


# -- output ---------------------------------------------------------------------------------


def _is_parquet(path):
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def check_output(path, what):
    """Fail before any training if ``path`` cannot be written (``what``: the option)."""
    if path is None:
        return
    try:
        check_writable(path)
    except ValueError as exc:
        raise CommandError(f"{what}: {exc}") from exc
    if what != "--save" and _is_parquet(path):
        from pandas.io.parquet import get_engine

        try:
            get_engine("auto")  # the engine ``to_parquet`` will use, at a version pandas takes
        except ImportError as exc:
            raise CommandError(
                f"{what} {path}: writing Parquet needs pyarrow, which is not installed (or "
                "is older than pandas needs): pip install 'tsLSTM[parquet]' (or write CSV)"
            ) from exc


def write_table(frame, path):
    """Write CSV/Parquet with :func:`tsLSTM._files.write_file`.

    A regular file is replaced atomically (a failure or SIGINT/SIGTERM leaves the old
    file and no temporary), a symlink is resolved (its target is replaced, the link
    stays), a device or FIFO (``/dev/null``, ``/dev/stdout``, a named pipe) is written in
    place, and an existing file keeps its permission bits.
    """
    if path is None:
        frame.to_csv(sys.stdout, index=False)
        return
    if _is_parquet(path):

        def write(stream):
            frame.to_parquet(stream, index=False)

    else:

        def write(stream):
            frame.to_csv(stream, index=False, encoding="utf-8")

    try:
        write_file(path, write)
    except Exception as exc:  # OSError, pyarrow's errors, ...: nothing was written
        raise CommandError(f"cannot write {path}: {exc}") from exc


def _info(args, message):
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


# -- commands -------------------------------------------------------------------------------


def coverage_levels(args):
    """--coverage as the forecaster takes it: None, one number, or a list of levels."""
    from .forecasting.checks import check_levels
    from .forecasting.panel import interval_columns

    if args.coverage is None:
        return None
    coverage = args.coverage[0] if len(args.coverage) == 1 else args.coverage
    try:
        check_levels(coverage, "--coverage", interval_columns)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return coverage


def _forecast_in_chunks(model, panel, horizon, coverage, args, futr=None):
    """Forecast all series, a few thousand at a time, with a progress bar (``futr``:
    the future-known covariates of the forecast steps, one row per series)."""
    from ._progress import ProgressBar

    chunk = 4096
    levels = None if coverage is None else np.atleast_1d(coverage).tolist()
    starts = list(range(0, panel.n_series, chunk))
    bar = ProgressBar(len(starts), "forecasting", enabled=not args.quiet, unit="chunk")
    forecasts, bounds = [], []  # per chunk: (n, horizon) and {level: (lower, upper)}
    for s in starts:
        rows = range(s, min(s + chunk, panel.n_series))
        part = panel.select(rows)
        covariates = None if futr is None else futr[rows.start : rows.stop]
        if levels is None:
            forecasts.append(model.predict_panel(part, horizon, covariates))
        else:
            y_hat, intervals = model.predict_panel(part, horizon, covariates, coverage=levels)
            forecasts.append(y_hat)
            bounds.append(intervals)
        bar.update()
    bar.close()
    if levels is None:
        return panel.output(np.concatenate(forecasts))
    intervals = {
        level: tuple(np.concatenate([b[level][j] for b in bounds]) for j in (0, 1))
        for level in levels
    }
    # one level given as a number: the unsuffixed columns y_hat_lower, y_hat_upper
    return panel.output(
        np.concatenate(forecasts), intervals if np.ndim(coverage) else intervals[levels[0]]
    )


def cmd_forecast(args, frame, panel, skipped, model=None):
    coverage = coverage_levels(args)
    if coverage is not None and model is None and not args.calibration_fraction > 0:
        raise CommandError("--coverage needs --calibration-fraction > 0")
    if model is not None:
        # the command's data options apply to the loaded model too (the Dask workers
        # read the series with the model's own parameters)
        model.set_params(n_jobs=args.n_jobs, id_col=args.id_col,
                         time_col=args.time_col, target_col=args.target_col,
                         fill=args.fill)  # fmt: skip
    else:
        model = train_model(panel, args, skipped)
    if coverage is not None and model.conformal_scores_ is None:
        raise CommandError("--coverage needs a model trained with --calibration-fraction > 0")
    panel = _drop_short(panel, model.min_series_length("predict"), args, skipped,
                        "the model's window")  # fmt: skip
    futr = future_values(model, panel, args)
    try:
        if args.scheduler:
            if coverage is not None:
                raise CommandError("--coverage is not available with --scheduler")
            if model.futr_exog_ or model.hist_exog_ or model.stat_exog_:
                raise CommandError("--scheduler forecasts models without covariates")
            from .forecasting.distributed import predict_dask

            kept = frame[frame[args.id_col].isin(set(panel.ids))]
            _info(args, f"forecasting {panel.n_series} series on {args.scheduler}")
            try:
                result = predict_dask(model, kept, args.horizon, scheduler=args.scheduler,
                                      n_partitions=args.partitions,
                                      timeout=args.scheduler_timeout)  # fmt: skip
            except (OSError, TimeoutError) as exc:
                raise CommandError(
                    f"cannot reach the Dask scheduler at {args.scheduler}: {exc}"
                ) from exc
        else:
            _info(args, f"forecasting {panel.n_series} series, horizon {args.horizon}")
            result = _forecast_in_chunks(model, panel, args.horizon, coverage, args, futr)
    except ImportError as exc:
        raise CommandError(str(exc)) from exc
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    write_table(result, args.output)
    if args.output:
        _info(args, f"wrote {len(result)} rows to {args.output}")


def cmd_train(args, frame, panel, skipped, model=None):
    model = train_model(panel, args, skipped)
    try:
        model.save(args.save)  # the model, not the training data
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot save the model to {args.save}: {exc}") from exc
    _info(args, f"saved the model to {args.save}")


def cmd_backtest(args, frame, panel, skipped, model=None):
    from .forecasting.backtest import backtest_panel, min_backtest_length

    if args.model:
        raise CommandError("backtest trains its own models; --model is not used here")
    coverage = coverage_levels(args)
    if coverage is not None and not args.calibration_fraction > 0:
        raise CommandError("--coverage needs --calibration-fraction > 0")
    step = args.step or args.horizon
    forecaster = make_forecaster(args, args.horizon)
    minimum = min_backtest_length(forecaster, args.horizon, args.n_windows, step)
    panel = _drop_short(panel, minimum, args, skipped, "window + horizon + backtest windows")
    _info(args, f"backtesting {panel.n_series} series, {args.n_windows} windows")
    progress = BacktestProgress(args)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result, forecasts = backtest_panel(
                forecaster, panel, args.horizon, args.n_windows, step, not args.no_refit,
                args.season, on_epoch=progress, coverage=coverage,
                return_forecasts=True, on_window=progress.window,
            )  # fmt: skip
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        progress.close()
    # mae, rmse, smape, mase (and coverage, width per interval level)
    metrics = [c for c in result.columns if c not in (args.id_col, "window", "cutoff")]
    per_series = result.groupby(args.id_col, sort=False)[metrics].mean()
    with pd.option_context("display.width", 120, "display.max_rows", 50):
        print(f"per-window mean over {panel.n_series} series:")
        print(result.groupby("window")[metrics].mean().round(4).to_string())
        print("\nper-series mean over windows:")
        print(per_series.round(4).to_string())
        print("\noverall mean: " + ", ".join(
            f"{m} {result[m].mean():.4f}" for m in metrics))  # fmt: skip
    if args.output:
        write_table(result, args.output)
    if args.forecasts:
        write_table(forecasts, args.forecasts)
        _info(args, f"wrote {len(forecasts)} forecasts to {args.forecasts}")


COMMANDS = {"forecast": cmd_forecast, "backtest": cmd_backtest, "train": cmd_train}


def check_outputs(args):
    """Every file the command will write can be written (before any training)."""
    check_output(getattr(args, "output", None), "--output")
    check_output(getattr(args, "save", None), "--save")
    check_output(getattr(args, "forecasts", None), "--forecasts")


# the forecaster's parameters in its messages, as the command's options
_OPTION_WORDS = (
    *((f"{kind}_exog_list", f"--{kind}-exog") for kind in ("futr", "hist", "stat")),
    ("fill='ffill', 'interpolate' or 'zero'", "--fill ffill|interpolate|zero"),
    *((f"strategy='{name}'", f"--strategy {name}") for name in ("mimo", "recursive")),
)


def _one_line(exc):
    """An exception's (or warning's) message on one line, in the command's words."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    for parameter, option in _OPTION_WORDS:
        text = text.replace(parameter, option)
    return text or type(exc).__name__


def main(argv=None):
    """Entry point of ``tslstm`` and ``python -m tsLSTM``; returns the exit code.

    Every failure is one line on stderr, ``tslstm: error: ...``, and exit code 1
    (2 for a bad command line, from argparse); never a traceback.
    """
    args = build_parser().parse_args(argv)
    skipped = []
    try:
        check_outputs(args)
        frame = load_data(args)
        # a loaded model reads the data with its own covariate columns
        model = (load_model(args.model, args.device)
                 if args.command == "forecast" and args.model else None)  # fmt: skip
        panel, problems = build_panel(frame, args, covariate_spec(args, model))
        skipped.extend(problems)
        from ._progress import compile_notice

        with compile_notice(enabled=not args.quiet):
            COMMANDS[args.command](args, frame, panel, skipped, model)
    except (CommandError, DeviceUnavailableError) as exc:
        print(f"tslstm: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tslstm: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # stdout closed early (``| head``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except MemoryError:
        print("tslstm: error: out of memory", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug or an unforeseen failure: still one line
        print(f"tslstm: error: unexpected {type(exc).__name__}: {_one_line(exc)}",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    if skipped:
        print(f"tslstm: skipped {len(skipped)} series:", file=sys.stderr)
        for sid, problem in skipped:
            problem = _one_line(problem)
            print(f"  {sid!r}: {problem}" if sid is not None else f"  {problem}", file=sys.stderr)
        return EXIT_SKIPPED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
