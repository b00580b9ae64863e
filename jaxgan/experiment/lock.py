"""One writer per run folder: an OS file lock that dies with the process that holds it.

``RunLock(folder)`` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<folder>/.jaxgan.lock`` and
writes its PID there. A second ``jaxgan train`` on the same folder (new run, ``--resume``,
``--overwrite``, single run or ensemble) fails at once with one line naming the holder's PID,
before it reads or changes anything. The kernel releases the lock when the holder exits, however
it exits (even SIGKILL), so there are no stale locks to clean up: the file itself may stay and
means nothing without a holder. Readers (``jaxgan sample``, ``jaxgan eval``) take no lock and
work while a run trains.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = ".jaxgan.lock"
"""The lock file in a run (or ensemble) folder."""


class RunFolderBusyError(OSError):
    """Another live process holds a run folder's lock."""


class RunLock:
    """Hold the exclusive lock of a run folder (a context manager).

    Args:
        folder: the run folder; it is created (with its parents) when missing.

    Raises:
        RunFolderBusyError: another process holds the lock (the message names its PID).

    Example:
        >>> import tempfile
        >>> with RunLock(Path(tempfile.mkdtemp()) / "run") as lock:
        ...     lock.path.name
        '.jaxgan.lock'

    """

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, or raise ``RunFolderBusyError`` at once if another process holds it.

        Example:
            >>> import tempfile
            >>> lock = RunLock(Path(tempfile.mkdtemp()) / "run"); lock.acquire(); lock.release()

        """
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunFolderBusyError(
                f"{self.folder} is in use by another jaxgan process{holder}; wait for it to "
                "finish (or stop it), or choose another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (the file stays; without a holder it locks nothing).

        Example:
            >>> RunLock("runs/none").release()

        """
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock


def _read_holder(fd: int) -> str:
    """Return " (pid N)" from a lock file, or "" when it names no process."""
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""
