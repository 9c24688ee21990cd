"""The layer API for inference, side by side with PyTorch: ``forward`` of one window.

``tsLSTM.nn.LSTM(I, H).forward(x)`` saves every step's states and gates for a
backward pass; inside ``tsLSTM.nn.no_grad()`` it runs the inference kernels, as
``torch.no_grad()`` spares PyTorch its autograd graph. Medians of many calls, all
three in one process (float32, 2 threads for torch).

    python benchmarks/bench_layer.py
"""

import argparse

import numpy as np
from bench_engine import median_ms

from tsLSTM.nn import GRU, LSTM, no_grad

CASES = {  # cell, B, T, I, H, L
    "LSTM(1, 32), 1 window of 24": ("lstm", 1, 24, 1, 32, 1),
    "LSTM(8, 64, 2 layers), 1 window of 50": ("lstm", 1, 50, 8, 64, 2),
    "GRU(1, 32), 1 window of 24": ("gru", 1, 24, 1, 32, 1),
    "LSTM(1, 32), 256 windows of 24": ("lstm", 256, 24, 1, 32, 1),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    print("| case | forward (us) | forward in no_grad (us) | torch no_grad (us) "
          "| torch / no_grad |")  # fmt: skip
    print("|---|---|---|---|---|")
    for name, (cell, B, T, I, H, L) in CASES.items():
        ours = (LSTM if cell == "lstm" else GRU)(I, H, num_layers=L, random_state=0)
        theirs = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(
            I, H, num_layers=L, batch_first=True
        )
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
        x = np.random.default_rng(0).standard_normal((B, T, I)).astype(np.float32)
        xt = torch.from_numpy(x)

        def inferred(ours=ours, x=x):
            with no_grad():
                return ours.forward(x)

        def torch_forward(theirs=theirs, xt=xt):
            with torch.no_grad():
                return theirs(xt)

        np.testing.assert_allclose(inferred()[0], torch_forward()[0].numpy(), atol=1e-5)
        plain, fast, peer = (
            1e3 * median_ms(fn, args.repeats, warmup=5)
            for fn in (lambda ours=ours, x=x: ours.forward(x), inferred, torch_forward)
        )  # microseconds
        print(f"| {name} | {plain:.1f} | {fast:.1f} | {peer:.1f} | {peer / fast:.2f}x |")


if __name__ == "__main__":
    main()
