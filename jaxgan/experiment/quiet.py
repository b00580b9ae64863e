"""One line per failure: silence library noise, print jaxgan's warnings as single lines.

orbax and tensorstore report a failed read or write from their own threads, often long after
the error that matters (a missing ``manifest.ocdbt`` printed 74 "Event loop is closed"
tracebacks before the one line that said what happened), through ``sys.unraisablehook`` and
their loggers. ``quiet_libraries`` silences both while a command runs; ``one_line_warnings``
prints jaxgan's own warnings (divergence, risky settings) as ``<prefix>: warning: ...``.
``error_line`` turns an exception into the one line the CLI prints.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator

from jaxgan.experiment.guards import RunWarning
from jaxgan.hooks import DivergenceWarning
from jaxgan.loop import NonFiniteWarning
from jaxgan.tboard import TensorBoardWarning

NOISY_LOGGERS = ("absl", "asyncio", "orbax", "tensorstore", "jax._src.xla_bridge")
"""Loggers of the libraries whose background failures repeat what the one line says."""

OUR_WARNINGS = (RunWarning, DivergenceWarning, NonFiniteWarning, TensorBoardWarning)
"""The warnings ``one_line_warnings`` prints as one line each."""


@contextlib.contextmanager
def quiet_libraries(*, forever: bool = False) -> Iterator[None]:
    """Silence library logs and "unraisable" exceptions of background threads.

    Args:
        forever: keep them silent until the process exits (for a process's entry point,
            whose library threads may still report after the command returned).

    Yields:
        Nothing; on exit (unless ``forever``) the hooks and log levels are restored.

    Example:
        >>> with quiet_libraries():
        ...     logging.getLogger("orbax").getEffectiveLevel() == logging.CRITICAL
        True

    """
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        yield
    finally:
        if not forever:
            sys.unraisablehook = hook
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def one_line_warnings(prefix: str) -> Iterator[None]:
    """Print jaxgan's warnings as ``<prefix>: warning: <message>``, every time they occur.

    Args:
        prefix: e.g. ``"jaxgan train"``.

    Yields:
        Nothing; other warnings are shown as usual.

    Example:
        >>> with one_line_warnings("jaxgan train"):
        ...     warnings.warn("look", RunWarning)  # doctest: +SKIP

    """
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, OUR_WARNINGS):
                print(f"{prefix}: warning: {message}", file=sys.stderr, flush=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        for category in OUR_WARNINGS:
            warnings.simplefilter("always", category)
        yield


def out_of_memory(err: BaseException) -> bool:
    """Whether an error says that memory ran out (numpy, Python or XLA).

    Args:
        err: the exception.

    Returns:
        True for ``MemoryError`` or an XLA ``RESOURCE_EXHAUSTED`` / "Out of memory" error.

    Example:
        >>> out_of_memory(MemoryError()), out_of_memory(ValueError("bad"))
        (True, False)

    """
    text = str(err)
    return isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in text or "Out of memory" in text


def error_line(err: BaseException) -> str:
    """Return an error as one line (an out-of-memory error with what to lower).

    Args:
        err: the exception.

    Returns:
        Its message with whitespace runs joined, or its type's name.

    Example:
        >>> error_line(ValueError(" two   words "))
        'two words'

    """
    message = " ".join(str(err).split()) or type(err).__name__
    if out_of_memory(err):
        return f"out of memory ({message[:200]}); lower the batch size or the model size"
    return message
