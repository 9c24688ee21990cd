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
  pipe) is written directly: there is nothing to replace. It is opened through the
  path as given, so a link to ``/proc/self/fd/1`` reaches the pipe it stands for.
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


def _stat_through_links(path):
    """``os.stat`` of what ``path`` names, symlinks followed; None if nothing is there.

    Stats the path itself rather than its ``realpath``: ``/dev/stdout`` and
    ``/proc/self/fd/1`` are links to a pipe whose "target" (``pipe:[1234]``) is no path.
    """
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def check_writable(path):
    """Raise ValueError unless ``path`` can be written by :func:`write_file`.

    Checked before long work (training), so that a bad output path fails at once:
    the directory exists and is writable, and the target is not a directory. Writable
    means a file can be created there: the check creates (and removes) an empty
    temporary file, as permission bits alone do not tell (root, read-only mounts,
    ``/proc``).
    """
    path = Path(path)
    try:
        status = _stat_through_links(path)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise ValueError(f"cannot write {path}: it is a directory")
    if status is not None and not stat.S_ISREG(status.st_mode):
        if not os.access(path, os.W_OK):
            raise ValueError(f"cannot write {path}: permission denied")
        return  # a device, FIFO or socket: written in place
    target = Path(os.path.realpath(path))
    directory = target.parent
    if not directory.is_dir():
        raise ValueError(f"cannot write {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: the directory {directory} is not writable")
    if status is not None and not os.access(target, os.W_OK):
        raise ValueError(f"cannot write {path}: permission denied")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ValueError(
            f"cannot write {path}: cannot create a file in {directory} ({exc.strerror or exc})"
        ) from exc
    os.close(fd)
    os.unlink(probe)


def write_file(path, write):
    """Write ``path`` through ``write(fileobj)`` (a binary file object); see module doc.

    Parameters
    ----------
    path : str or path-like
    write : callable
        Called once with a writable binary file object.
    """
    path = Path(path)
    status = _stat_through_links(path)
    mode = None if status is None else status.st_mode
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"cannot write {path}: it is a directory")
        # a device, FIFO or socket: write in place, opened through the path as given
        # (``/proc/self/fd/1`` reaches the pipe that its realpath cannot name)
        with open(path, "wb") as stream:
            write(stream)
        return
    target = Path(os.path.realpath(path))
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
