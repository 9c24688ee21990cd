"""Writing output files so that a failure or an interrupt never leaves a broken file.

:func:`write_file` is the one way tsLSTM writes a file (saved models, forecasts):

- A regular file (or a path that does not exist yet) is replaced atomically: the data
  go to a new temporary file in the same directory, created exclusively under a
  unique name (``O_CREAT | O_EXCL``, which never follows a symlink), flushed to disk,
  and renamed over the target. An existing file keeps its permission bits; a new one
  gets the umask's default, as ``open(path, 'w')`` would give it.
- A symlink is resolved deliberately: the file it points to is replaced (and the link
  stays a link), or written to if it is a device or a pipe.
- A character device, a FIFO or a socket (``/dev/null``, ``/dev/stdout``, a named
  pipe) is written directly: there is nothing to replace.
- The temporary file is removed on every exit path that Python sees: an exception,
  Ctrl-C (SIGINT) and SIGTERM (a handler is installed for the duration of the write,
  in the main thread). SIGKILL cannot be caught: it may leave a hidden
  ``.<name>.<random>.tmp`` beside the target, never a half-written target.
"""

import contextlib
import os
import signal
import stat
import tempfile
import threading
from pathlib import Path


class _Terminated(BaseException):
    """SIGTERM arrived while a file was being written."""


@contextlib.contextmanager
def _sigterm_raises():
    """Turn SIGTERM into an exception (so ``finally`` clauses run) while writing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):  # pragma: no cover - platforms without SIGTERM
        yield
        return
    if previous not in (signal.SIG_DFL, None):
        yield  # the application handles SIGTERM itself
        return

    def handler(signum, frame):
        raise _Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        # the temporary file is gone: now die of SIGTERM, as without the handler
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _umask_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_writable(path):
    """Raise ValueError unless ``path`` can be written by :func:`write_file`.

    Checked before long work (training), so that a bad output path fails at once:
    the directory exists and is writable, and the target is not a directory.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory")
    if target.exists() and not target.is_file():
        if not os.access(target, os.W_OK):
            raise ValueError(f"cannot write {path}: permission denied")
        return
    directory = target.parent
    if not directory.is_dir():
        raise ValueError(f"cannot write {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: the directory {directory} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"cannot write {path}: permission denied")


def write_file(path, write):
    """Write ``path`` through ``write(fileobj)`` (a binary file object); see module doc.

    Parameters
    ----------
    path : str or path-like
    write : callable
        Called once with a writable binary file object.
    """
    path = Path(path)
    target = Path(os.path.realpath(path))
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"cannot write {path}: it is a directory")
        with open(target, "wb") as stream:  # a device, FIFO or socket: write in place
            write(stream)
        return
    permissions = stat.S_IMODE(mode) if mode is not None else _umask_mode()
    with _sigterm_raises():
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as stream:
                write(stream)
                stream.flush()
                os.fchmod(stream.fileno(), permissions)
                os.fsync(stream.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
