"""A dependency-free text progress bar for long loops (training epochs, forecasting)."""

import sys
import time


class ProgressBar:
    """Progress of ``total`` units, redrawn in place on a terminal-like stream.

    Parameters
    ----------
    total : int
        Number of units of work.
    description : str
        Printed before the bar.
    stream : file-like, default=sys.stderr
    enabled : bool, default=True
        When False every method is a no-op.
    min_interval : float, default=0.1
        Minimum seconds between redraws.
    delay : float, default=1.0
        Draw nothing until this many seconds have passed: short loops stay silent.
    """

    def __init__(
        self, total, description="", stream=None, enabled=True, min_interval=0.1, delay=1.0
    ):
        self.total = max(int(total), 1)
        self.description = description
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.min_interval = min_interval
        self.delay = delay
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, n=1):
        """Record ``n`` more units done and redraw if enough time has passed."""
        if not self.enabled:
            return
        self.done = min(self.done + n, self.total)
        now = time.perf_counter()
        if now - self._start < self.delay:
            return
        if now - self._last_draw >= self.min_interval or self.done == self.total:
            self._last_draw = now
            self._draw(now)

    def _draw(self, now):
        width = 30
        filled = int(width * self.done / self.total)
        elapsed = now - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(
            f"\r{self.description} [{bar}] {self.done}/{self.total} "
            f"{elapsed:5.1f}s elapsed, eta {eta:5.1f}s"
        )
        self.stream.flush()

    def close(self):
        """Finish the line (erase the bar)."""
        if self.enabled and self._last_draw:
            self.stream.write("\r" + " " * 90 + "\r")
            self.stream.flush()
