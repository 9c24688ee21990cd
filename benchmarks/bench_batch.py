"""Batch forecasting of many series: end to end with ``tslstm`` and model-only vs torch.

Usage::

    python benchmarks/bench_batch.py [--series 10000] [--length 120] [--horizon 12]
                                     [--threads 2] [--repeats 5] [--json out.json]

For each strategy (mimo, recursive) it trains a forecaster on a sample of the series
and saves it, then measures, on all series:

- end to end: ``tslstm forecast data.csv --model m.tslstm --output out.csv`` as a
  subprocess (start-up, reading the CSV, validation, forecasting, writing the CSV);
- model-only: the forecast from the prepared panel (scaling, network, unscaling);
- the same inference in PyTorch with the same weights in the same process, as a loop
  over series (one window at a time, as a per-series script does) and batched (all
  series in one tensor), with identical pre- and post-processing; the forecasts are
  checked to agree.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def make_data(n_series, length, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    level = rng.uniform(10, 1000, n_series)[:, None]
    season = rng.uniform(0.05, 0.3, n_series)[:, None] * level * np.sin(2 * np.pi * t / 12)
    trend = rng.normal(0, 0.002, n_series)[:, None] * level * t
    noise = rng.normal(0, 0.03, (n_series, length)) * level
    values = level + season + trend + noise
    return pd.DataFrame({
        "unique_id": np.repeat([f"series_{i:05d}" for i in range(n_series)], length),
        "ds": np.tile(pd.date_range("2010-01-01", periods=length, freq="MS"), n_series),
        "y": values.ravel().round(3),
    })  # fmt: skip


def median_s(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_network(torch, regressor):
    """torch LSTM + Linear holding the regressor's weights."""
    rnn = regressor.model_.rnn
    lstm = torch.nn.LSTM(rnn.input_size, rnn.hidden_size, rnn.num_layers, batch_first=True)
    head = torch.nn.Linear(rnn.hidden_size, regressor.model_.head.out_features)
    state = regressor.model_.state_dict()
    for module, prefix in ((lstm, "rnn."), (head, "head.")):
        module.load_state_dict(
            {k[len(prefix) :]: torch.tensor(v) for k, v in state.items() if k.startswith(prefix)}
        )

    def forward(z):  # z: scaled windows (n, W) -> network outputs in scaled units (n, Hm)
        x = (z[:, :, None] - regressor.x_mean_) / regressor.x_scale_
        with torch.inference_mode():
            _, (h_n, _) = lstm(torch.from_numpy(x.astype(np.float32)))
            y = head(h_n[-1]).numpy().astype(np.float64)
        return y * regressor.y_scale_ + regressor.y_mean_

    return forward


def torch_forecast(forecaster, forward, history, per_series):
    """The forecaster's inference with the network run by ``forward`` (torch)."""
    horizon, W = forecaster.horizon, forecaster.window
    rows = [slice(i, i + 1) for i in range(len(history))] if per_series else [slice(None)]
    out = np.empty((len(history), horizon))
    for r in rows:
        values = np.concatenate([history[r], np.empty((len(history[r]), horizon))], axis=1)
        steps = 1 if forecaster.strategy == "mimo" else horizon
        for k in range(steps):
            past = values[:, k : k + W]
            level, scale = forecaster._scale(past, None)
            y = forward((past - level[:, None]) / scale[:, None])
            if forecaster.strategy == "mimo":
                values[:, W:] = y * scale[:, None] + level[:, None]
            else:
                values[:, W + k] = y[:, 0] * scale + level
        out[r] = values[:, W:]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=120)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--train-series", type=int, default=500)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    from tsLSTM import LSTMForecaster
    from tsLSTM.forecasting.readers import to_panel

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(args.threads):
        tmp = Path(tmp)
        data = make_data(args.series, args.length)
        csv = tmp / "data.csv"
        data.to_csv(csv, index=False)
        csv_mb = csv.stat().st_size / 2**20
        train_ids = data.unique_id.unique()[: args.train_series]
        train = data[data.unique_id.isin(set(train_ids))]
        panel = to_panel(data)
        history = panel.values[panel.indptr[1:, None] - args.window + np.arange(args.window)]
        for strategy in ("mimo", "recursive"):
            forecaster = LSTMForecaster(
                window=args.window, horizon=args.horizon, strategy=strategy,
                hidden_size=args.hidden_size, learning_rate=0.005, max_epochs=10,
                batch_size=64, random_state=0,
            )  # fmt: skip
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                forecaster.fit(train)
            train_s = time.perf_counter() - start
            model_path = tmp / f"{strategy}.tslstm"
            forecaster.save(model_path)

            out_csv = tmp / f"forecast_{strategy}.csv"
            command = [sys.executable, "-m", "tsLSTM", "forecast", str(csv), "--horizon",
                       str(args.horizon), "--model", str(model_path), "--output", str(out_csv),
                       "--quiet"]  # fmt: skip
            end_to_end = []
            for _ in range(max(1, args.repeats // 2)):
                start = time.perf_counter()
                subprocess.run(command, check=True)
                end_to_end.append(time.perf_counter() - start)
            end_to_end_s = statistics.median(end_to_end)

            ours = forecaster.predict_panel(panel, args.horizon)
            ours_s = median_s(lambda f=forecaster: f.predict_panel(panel, args.horizon),
                              args.repeats)  # fmt: skip
            forward = torch_network(torch, forecaster.regressor_)
            batched = torch_forecast(forecaster, forward, history, per_series=False)
            np.testing.assert_allclose(batched, ours, rtol=1e-3, atol=1e-3 * np.abs(ours).max())
            batched_s = median_s(
                lambda f=forecaster, g=forward: torch_forecast(f, g, history, False), args.repeats
            )
            loop_s = median_s(
                lambda f=forecaster, g=forward: torch_forecast(f, g, history, True), 1
            )
            rows.append({
                "strategy": strategy, "series": args.series, "length": args.length,
                "horizon": args.horizon, "train_s": train_s, "end_to_end_s": end_to_end_s,
                "model_only_s": ours_s, "torch_loop_s": loop_s, "torch_batched_s": batched_s,
                "vs_torch_loop": loop_s / ours_s, "vs_torch_batched": batched_s / ours_s,
            })  # fmt: skip

    print(f"{args.series} series x {args.length} points ({csv_mb:.1f} MB CSV), horizon "
          f"{args.horizon}, window {args.window}, hidden {args.hidden_size}; {args.threads} "
          f"threads; torch {torch.__version__}; trained on {args.train_series} series")  # fmt: skip
    header = (f"{'strategy':10} {'train s':>8} {'end-to-end s':>13} {'model-only s':>13} "
              f"{'torch loop s':>13} {'torch batch s':>14} {'vs loop':>8} "
              f"{'vs batch':>9}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['strategy']:10} {r['train_s']:8.2f} {r['end_to_end_s']:13.2f} "
              f"{r['model_only_s']:13.3f} {r['torch_loop_s']:13.2f} "
              f"{r['torch_batched_s']:14.3f} {r['vs_torch_loop']:7.1f}x "
              f"{r['vs_torch_batched']:8.2f}x")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
