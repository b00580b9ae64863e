"""Stop a training run cleanly on SIGTERM or SIGINT: finish the chunk, save, exit 143 / 130.

``GracefulSignals`` replaces the handlers of SIGTERM and SIGINT while a run trains. The first
signal only sets a flag; the ``StopOnSignal`` hook (``every=None``: it runs after every chunk
of ``jaxgan.fit``, after the other hooks) sees it, writes a checkpoint of the step reached and
raises ``RunInterruptedError``, whose ``exit_code`` is ``128 + signal`` (143 for SIGTERM, 130 for
SIGINT) and whose one-line message says how to continue. Nothing is raised in the middle of a
compilation, a device call or a checkpoint write.

A second signal exits at once (``os._exit``, same exit code), even while the main thread is
inside a long C++ call such as a compilation: CPython's C-level handler writes every delivered
signal to a wakeup socket, and a small thread reading it counts them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jaxgan.loop import Metrics, finite_state

SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""The signals a training run turns into a clean stop."""


class RunInterruptedError(Exception):
    """A run stopped on a signal after saving what it could; ``exit_code`` is 128 + signal.

    Attributes:
        signum: the signal received.
        step: the step the run stopped at.
        exit_code: the process exit status to use (143 for SIGTERM, 130 for SIGINT).

    Example:
        >>> RunInterruptedError("stopped", signum=signal.SIGTERM, step=5).exit_code
        143

    """

    def __init__(self, message: str, *, signum: int, step: int | None):
        super().__init__(message)
        self.signum, self.step = signum, step
        self.exit_code = 128 + int(signum)


def signal_name(signum: int) -> str:
    """Return a signal's name, e.g. ``"SIGTERM"``.

    Args:
        signum: a signal number.

    Returns:
        The name, or ``"signal N"``.

    Example:
        >>> signal_name(signal.SIGINT)
        'SIGINT'

    """
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class GracefulSignals:
    """While active, SIGTERM and SIGINT request a stop instead of killing the process.

    Outside the main thread (where Python cannot install handlers) it does nothing, and a
    signal the process was started ignoring (SIGINT of a background job, ``nohup``) stays
    ignored. Signals that arrive before it is entered (while Python imports and a run checks
    its input, before it touches its folder) act as usual: nothing has been written then.

    Args:
        at_once: called with the signal number on a second signal, from a helper thread; it
            returns the one-line message printed before the process exits at once.
        signals: the signals to handle.

    Example:
        >>> with GracefulSignals() as stop:
        ...     stop.received is None
        True

    """

    def __init__(
        self,
        at_once: Callable[[int], str] | None = None,
        signals: Sequence[int] = SIGNALS,
    ):
        self.at_once, self.signals = at_once, tuple(int(s) for s in signals)
        self.received: int | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._old: dict[int, Any] = {}
        self._old_fd: int | None = None
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GracefulSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        self._sockets = (reader, writer)
        self._old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for signum in self.signals:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # e.g. SIGINT of a background job
                self._old[signum] = signal.signal(signum, _ignore_here)
        self._thread = threading.Thread(
            target=self._watch, args=(reader,), name="jaxgan-signals", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sockets is None:
            return
        for signum, old in self._old.items():
            signal.signal(signum, old)
        signal.set_wakeup_fd(-1 if self._old_fd is None else self._old_fd)
        reader, writer = self._sockets
        writer.close()  # the watcher reads end-of-file and returns
        if self._thread is not None:
            self._thread.join(timeout=5)
        reader.close()
        self._sockets = self._thread = None
        self._old = {}

    def raise_if_received(self, what: str, when: str = "before training started") -> None:
        """Raise ``RunInterruptedError`` now if a signal arrived (e.g. before a run writes).

        Args:
            what: what the message says happened, e.g. ``"nothing was written"``.
            when: when it stopped.

        Raises:
            RunInterruptedError: a signal arrived.

        Example:
            >>> GracefulSignals().raise_if_received("nothing was written")

        """
        if self.received is not None:
            raise RunInterruptedError(
                f"stopped by {signal_name(self.received)} {when}; {what}",
                signum=self.received,
                step=None,
            )

    def _watch(self, reader: socket.socket) -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in self.signals:
                    self._note(signum)

    def _note(self, signum: int) -> None:
        with self._lock:
            self._count += 1
            if self.received is None:
                self.received = signum
            if self._count < 2:
                return
        message = f"second {signal_name(signum)}: stopping at once"
        if self.at_once is not None:
            with contextlib.suppress(Exception):  # exit anyway, with the plain message
                message = self.at_once(signum)
        os.write(2, f"jaxgan: {message}\n".encode(errors="replace"))
        os._exit(128 + signum)


def _ignore_here(signum: int, frame: Any) -> None:
    """Python-level handler: the watcher thread counts the signal from the wakeup socket."""


class StopOnSignal:
    """A hook that ends training after the chunk in which a signal arrived, saving first.

    Put it last in the hook list: the other hooks of that step (the log, a regular checkpoint,
    a sample grid) run first. It saves a checkpoint of the step reached through ``save`` (a
    ``jaxgan.hooks.Checkpoint``, which skips a step already saved), unless the state is not
    finite, then raises ``RunInterruptedError``.

    Args:
        signals: the active ``GracefulSignals``.
        save: a ``jaxgan.hooks.Checkpoint`` hook (its ``checkpoints`` list the saved steps).
        resume: how to continue, e.g. ``"jaxgan train --resume --out runs/a"``.

    Example:
        >>> hook = StopOnSignal(stop, checkpoint_hook, "jaxgan train --resume --out runs/a")
        ...                     # doctest: +SKIP

    """

    every = None

    def __init__(self, signals: GracefulSignals, save: Any, resume: str):
        self.signals, self.save, self.resume = signals, save, resume

    def __call__(self, step: int, state: Any, metrics: Metrics) -> None:
        """Save and raise ``RunInterruptedError`` if a signal arrived; otherwise do nothing.

        Args:
            step: the step reached.
            state: the state at ``step``.
            metrics: passed on to ``save``.

        Raises:
            RunInterruptedError: a signal arrived.

        Example:
            >>> hook(100, state, {})  # doctest: +SKIP

        """
        signum = self.signals.received
        if signum is None:
            return
        name = signal_name(signum)
        if finite_state(state):
            self.save(step, state, metrics)
            raise RunInterruptedError(
                f"stopped by {name} at step {step}, checkpoint saved; continue with: {self.resume}",
                signum=signum,
                step=step,
            )
        latest = self.save.checkpoints.latest_step()
        then = (
            f"the last checkpoint is step {latest}; continue with: {self.resume}"
            if latest is not None
            else "there is no checkpoint to continue from"
        )
        raise RunInterruptedError(
            f"stopped by {name} at step {step} without saving (the state is not finite); {then}",
            signum=signum,
            step=step,
        )


def stop_advice(out: Path, checkpoint_dirs: Sequence[Path], resume: str, restart: str) -> str:
    """Say how to continue after a stop that could not save (the second signal).

    Args:
        out: the run folder.
        checkpoint_dirs: the folders whose numbered entries are checkpoints.
        resume: the command that resumes, e.g. ``"jaxgan train --resume --out runs/a"``.
        restart: the command that starts over, e.g. ``"jaxgan train --overwrite --out runs/a"``.

    Returns:
        One line.

    Example:
        >>> stop_advice(Path("runs/none"), [], "resume", "restart")
        'stopped at once; nothing was written to runs/none'

    """
    found = [
        int(p.name) for folder in checkpoint_dirs for p in folder.glob("*") if p.name.isdigit()
    ]
    if found:
        return f"stopped at once; continue from the checkpoint of step {max(found)} with: {resume}"
    if out.is_dir() and any(not p.name.startswith(".") for p in out.iterdir()):
        return f"stopped at once before the first checkpoint; start again with: {restart}"
    return f"stopped at once; nothing was written to {out}"
