"""What a long run tells the user: progress of loops, and the first compilation.

:class:`ProgressBar` on a terminal is a bar redrawn in place that fits the terminal's
width. Anywhere else (stderr redirected to a file or a pipe, a CI log) it writes a
plain line at the start, at every tenth of the work, at least every ``LINE_INTERVAL``
seconds while work goes on, and at the end: a readable log of a few lines, not
thousands of ``\\r`` redraws. :func:`compile_notice` writes one line when the kernels
start compiling (a cold numba cache)."""

import contextlib
import os
import shutil
import sys
import time

LINE_INTERVAL = 30.0  # seconds: the longest silence of the line log while units finish
_BAR_WIDTH = 30
_MIN_BAR_WIDTH = 5


def is_terminal(stream):
    """Whether ``stream`` is an interactive terminal (False when it cannot tell)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def terminal_columns(stream):
    """The width of the terminal ``stream`` writes to (``COLUMNS`` wins, 80 if unknown)."""
    if "COLUMNS" not in os.environ:
        try:
            return os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            pass
    return shutil.get_terminal_size().columns


class ProgressBar:
    """Progress of ``total`` units: a bar on a terminal, a line per stage elsewhere.

    Parameters
    ----------
    total : int
        Number of units of work.
    description : str
        Printed before the bar or at the start of each line.
    unit : str, default=''
        The name of a unit, shown before the count (``'epoch 3/100'``).
    stream : file-like, default=sys.stderr
    enabled : bool, default=True
        When False every method is a no-op.
    min_interval : float, default=0.1
        Minimum seconds between redraws of the bar.
    delay : float, default=1.0
        Draw nothing until this many seconds have passed: short loops stay silent.

    Attributes
    ----------
    status : str
        Shown after the count (e.g. ``'loss 0.1234'``); set it before ``update``.
    """

    def __init__(
        self, total, description="", stream=None, enabled=True, min_interval=0.1, delay=1.0,
        unit="",
    ):  # fmt: skip
        self.total = max(int(total), 1)
        self.description = description
        self.unit = unit
        self.status = ""
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.min_interval = min_interval
        self.delay = delay
        self.done = 0
        self.terminal = enabled and is_terminal(self.stream)
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = 0  # characters of the bar on the terminal's line now
        self._logged = None  # ``done`` at the last line written (line mode)
        self._tenth = -1  # tenth of the work at the last line written

    def update(self, n=1):
        """Record ``n`` more units done and redraw (or log a line) when it is due."""
        if not self.enabled:
            return
        self.done = min(self.done + n, self.total)
        now = time.perf_counter()
        if now - self._start < self.delay:
            return
        if self.terminal:
            if now - self._last_draw >= self.min_interval or self.done == self.total:
                self._last_draw = now
                self._draw(now)
        elif (
            self._logged is None
            or 10 * self.done // self.total > self._tenth
            or now - self._last_draw >= LINE_INTERVAL
        ):
            self._line(now)

    def _counts(self):
        unit = f"{self.unit} " if self.unit else ""
        status = f", {self.status}" if self.status else ""
        return f"{unit}{self.done}/{self.total}{status}"

    def _line(self, now):
        self._last_draw = now
        self._logged = self.done
        self._tenth = 10 * self.done // self.total
        elapsed = now - self._start
        self.stream.write(f"{self.description}: {self._counts()}, {elapsed:.1f}s\n")
        self.stream.flush()

    def _draw(self, now):
        elapsed = now - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        times = f", {elapsed:.1f}s elapsed, eta {eta:.1f}s"
        room = terminal_columns(self.stream) - 1  # the last column can wrap the line
        width = min(_BAR_WIDTH, room - len(self.description + self._counts() + times) - 4)
        if width >= _MIN_BAR_WIDTH:
            filled = int(width * self.done / self.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}]"
            text = f"{self.description} {bar} {self._counts()}{times}"
        else:  # too narrow for a bar: the counts, and the times if they fit
            text = f"{self.description} {self._counts()}"
            text = (text + times if len(text + times) <= room else text)[: max(room, 0)]
        pad = " " * max(self._drawn - len(text), 0)  # cover a longer previous bar
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._drawn = len(text)

    def close(self):
        """Finish: erase the bar, or log the final count if the last line did not."""
        if not self.enabled or not self._last_draw:
            return
        if self.terminal:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0
        elif self._logged != self.done:
            self._line(time.perf_counter())
        self._last_draw = 0.0  # closed: a second close writes nothing


# -- the first compilation, announced ---------------------------------------------------

_announced = False  # the notice is written at most once per process


def _is_kernel(dispatcher):
    function = getattr(dispatcher, "py_func", None)
    return getattr(function, "__module__", "").startswith("tsLSTM.")


@contextlib.contextmanager
def compile_notice(stream=None, enabled=True):
    """Write one line to ``stream`` (stderr) when a tsLSTM kernel starts compiling.

    Numba raises its ``numba:compile`` event only when a kernel is not in memory and
    not in the cache: the line appears when the cache is cold (the first run, a new
    numba or tsLSTM version, a new ``NUMBA_CACHE_DIR``), the moment the seconds of
    compilation begin, and never on a run that loads the kernels from the cache. At
    most once per process.

    Parameters
    ----------
    stream : file-like, default=sys.stderr
    enabled : bool, default=True
        When False, nothing is watched or written.
    """
    if not enabled or _announced:
        yield
        return
    from numba.core import event

    class Notice(event.Listener):
        def on_start(self, ev):
            global _announced
            if not _announced and _is_kernel(ev.data.get("dispatcher")):
                _announced = True
                from .kernels._jit import JIT_OPTIONS

                when = "first run only" if JIT_OPTIONS["cache"] else "no numba cache: every run"
                out = sys.stderr if stream is None else stream
                out.write(f"compiling kernels ({when})...\n")
                out.flush()

        def on_end(self, ev):
            pass

    with event.install_listener("numba:compile", Notice()):
        yield
