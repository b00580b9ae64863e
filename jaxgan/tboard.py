"""TensorBoard event files written from the host: scalars, images, histograms, hyperparameters.

``EventLog`` is one TensorBoard run: a folder of event files, written synchronously (no
thread, no TensorFlow) with tensorboardX's protocol buffers. ``ScalarLog`` is the hook that
feeds a run's metrics to it, or each run's metrics of a stack to that run's own log, one call
late like ``jaxgan.hooks.MetricsLog``. A log that cannot be written warns once
(``TensorBoardWarning``) and turns itself off; training goes on. Reading the files back and
cutting them at a step (for a resumed run) is ``jaxgan.tbevents``.

Example:
    >>> import tempfile
    >>> log = EventLog(Path(tempfile.mkdtemp()))
    >>> log.scalars(10, {"d_loss": 0.7}); log.close()
    >>> len(list(log.folder.glob("events.out.tfevents.*")))
    1

"""

from __future__ import annotations

import contextlib
import io
import math
import socket
import struct
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan.loop import DeferredHook

EVENT_FILE_PREFIX = "events.out.tfevents."
"""How every TensorBoard event file's name begins."""

HPARAMS_TAG_PREFIX = "_hparams_/"
"""Tags of the hparams plugin's summaries (the run's hyperparameters)."""

HISTOGRAM_BINS = 30
"""Bins of a histogram summary."""

HParamValue = str | bool | int | float


class TensorBoardWarning(RuntimeWarning):
    """TensorBoard events could not be written; the run goes on without them."""


def tensorboardx() -> Any:
    """Import tensorboardX's protocol buffers and helpers, without letting it import torch.

    tensorboardX tries ``import torch`` when it is imported (only to accept torch tensors); with
    torch installed that costs seconds per process, so torch is hidden while it loads unless it
    is loaded already.

    Returns:
        A namespace with ``event_pb2``, ``summary_pb2``, ``summary`` (the helper functions) and
        ``masked_crc32c``.

    Example:
        >>> tensorboardx().event_pb2.Event(step=3).step
        3

    """
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
    try:
        from tensorboardX import summary
        from tensorboardX.proto import event_pb2, summary_pb2
        from tensorboardX.record_writer import masked_crc32c
    finally:
        if hide and sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return _Namespace(
        event_pb2=event_pb2, summary_pb2=summary_pb2, summary=summary, masked_crc32c=masked_crc32c
    )


class _Namespace:
    def __init__(self, **items: Any):
        self.__dict__.update(items)


def hparam_value(value: Any) -> HParamValue:
    """Turn a config value into one the hparams plugin shows: a number, bool or string.

    Args:
        value: any config value.

    Returns:
        Numbers and bools as they are, everything else (None, tuples) as its text.

    Example:
        >>> hparam_value(None), hparam_value((28, 28, 1)), hparam_value(2e-4)
        ('None', '28,28,1', 0.0002)

    """
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


class EventLog:
    """One TensorBoard run: an event file in ``folder``, written as each call comes.

    Every write is synchronous and flushed; a write that fails (the folder cannot be created or
    written) warns once with ``TensorBoardWarning`` and turns the log off (later calls do
    nothing), so a run never stops for its TensorBoard log.

    Args:
        folder: the run's TensorBoard folder (created).
        suffix: added to the event file's name (``name_suffix(step)`` keeps files of one
            second in the order they were written).
        enabled: False: open nothing and write nothing (a log that is off).

    Example:
        >>> import tempfile
        >>> log = EventLog(Path(tempfile.mkdtemp()) / "tb")
        >>> log.histogram("d_real", 5, np.linspace(0, 1, 10)); log.close()

    """

    def __init__(self, folder: Path | str, *, suffix: str = "", enabled: bool = True):
        self.folder = Path(folder)
        self.enabled = enabled
        self._file: io.BufferedWriter | None = None
        self._tbx = tensorboardx()
        if not enabled:
            return
        name = f"{EVENT_FILE_PREFIX}{int(time.time())}.{socket.gethostname()}{suffix}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = open(self.folder / name, "ab")  # noqa: SIM115  (closed by close())
            self._write(
                self._tbx.event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
            )
        except OSError as err:
            self._fail(err)

    @property
    def path(self) -> Path | None:
        """The event file being written (None when the log is off).

        Example:
            >>> log.path  # doctest: +SKIP
        """
        return None if self._file is None else Path(self._file.name)

    def _fail(self, err: OSError) -> None:
        if self.enabled:
            reason = err.strerror or type(err).__name__
            warnings.warn(
                f"cannot write TensorBoard events to {self.folder} ({reason}); the run goes on "
                "without TensorBoard",
                TensorBoardWarning,
                stacklevel=3,
            )
        self.enabled = False
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _write(self, event: Any) -> None:
        if self._file is None:
            return
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        crc = self._tbx.masked_crc32c
        try:
            self._file.write(
                header + struct.pack("<I", crc(header)) + data + struct.pack("<I", crc(data))
            )
            self._file.flush()
        except OSError as err:
            self._fail(err)

    def _summary(self, step: int, values: list[Any]) -> None:
        if self.enabled and values:
            summary = self._tbx.summary_pb2.Summary(value=values)
            self._write(
                self._tbx.event_pb2.Event(wall_time=time.time(), step=step, summary=summary)
            )

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Write scalars at ``step``; non-finite values are left out.

        Args:
            step: the training step.
            values: tag → number.

        Example:
            >>> log.scalars(100, {"d_loss": 0.7, "g_loss": float("nan")})  # doctest: +SKIP

        """
        value_cls = self._tbx.summary_pb2.Summary.Value
        items = [
            value_cls(tag=tag, simple_value=float(v))
            for tag, v in values.items()
            if v is not None and math.isfinite(float(v))
        ]
        self._summary(step, items)

    def image(self, tag: str, step: int, png: bytes | np.ndarray) -> None:
        """Write an image at ``step``: a PNG file's bytes, or an (H, W[, C]) uint8 array.

        Args:
            tag: the image's tag.
            step: the training step.
            png: encoded PNG bytes, or pixels (uint8, or floats in [0, 1]).

        Example:
            >>> log.image("samples", 100, np.zeros((4, 4, 3), np.uint8))  # doctest: +SKIP

        """
        if not self.enabled:
            return
        if not isinstance(png, bytes):
            png = _encode_png(np.asarray(png))
        height, width, channels = _png_size(png)
        image = self._tbx.summary_pb2.Summary.Image(
            height=height, width=width, colorspace=channels, encoded_image_string=png
        )
        self._summary(step, [self._tbx.summary_pb2.Summary.Value(tag=tag, image=image)])

    def histogram(self, tag: str, step: int, values: np.ndarray) -> None:
        """Write a histogram of ``values`` (non-finite ones left out) at ``step``.

        Args:
            tag: the histogram's tag.
            step: the training step.
            values: any shape.

        Example:
            >>> log.histogram("d_fake", 100, np.random.rand(64))  # doctest: +SKIP

        """
        values = np.asarray(values, np.float64).ravel()
        values = values[np.isfinite(values)]
        if not self.enabled or values.size == 0:
            return
        histo = self._tbx.summary.make_histogram(values, HISTOGRAM_BINS)
        self._summary(step, [self._tbx.summary_pb2.Summary.Value(tag=tag, histo=histo)])

    def hparams(self, values: Mapping[str, Any], metrics: Sequence[str]) -> None:
        """Write the run's hyperparameters for TensorBoard's hparams plugin (at step 0).

        Args:
            values: name → value (turned into numbers, bools or strings by ``hparam_value``).
            metrics: the scalar tags the hparams table shows beside them.

        Example:
            >>> log.hparams({"lr": 2e-4, "loss": "hinge"}, ["d_loss"])  # doctest: +SKIP

        """
        if not self.enabled:
            return
        hparams = {k: hparam_value(v) for k, v in values.items()}
        experiment, start, _ = self._tbx.summary.hparams(hparams, dict.fromkeys(metrics, 0.0))
        for summary in (experiment, start):
            self._write(self._tbx.event_pb2.Event(wall_time=time.time(), step=0, summary=summary))

    def close(self) -> None:
        """Close the event file (later writes do nothing).

        Example:
            >>> log.close()  # doctest: +SKIP

        """
        if self._file is not None:
            try:
                self._file.close()
            except OSError as err:
                self._fail(err)
            self._file = None
        self.enabled = False


def name_suffix(step: int) -> str:
    """Return an event file name suffix that sorts files written in one second by start step.

    Args:
        step: the step the writer starts at.

    Returns:
        e.g. ``".s000001000"``.

    Example:
        >>> name_suffix(20)
        '.s000000020'

    """
    return f".s{step:09d}"


def _encode_png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_size(png: bytes) -> tuple[int, int, int]:
    """Height, width and channel count of a PNG, from its header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG image")
    width, height, _, color = struct.unpack(">IIBB", png[16:26])
    return height, width, {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color, 3)


class ScalarLog(DeferredHook):
    """Write the mean of every metric over each ``every`` iterations as TensorBoard scalars.

    A row holds what ``jaxgan.hooks.MetricsLog`` writes to ``metrics.jsonl`` (each metric's
    mean, and ``it_per_s``), plus ``extras(step)``. For a stack of runs, pass one log per run:
    run ``i`` gets column ``i`` of every metric (and of every extra that is an array).

    Args:
        logs: one ``EventLog``, or one per run of a stack.
        every: iterations per row.
        extras: ``step -> {tag: number or per-run array}`` added to each row (e.g. the
            learning rates).

    Example:
        >>> import tempfile
        >>> logs = [EventLog(Path(tempfile.mkdtemp())) for _ in range(2)]
        >>> hook = ScalarLog(logs, every=2)
        >>> hook(2, None, {"d_loss": np.ones((2, 2)), "step": np.arange(1, 3)}); hook.flush()

    """

    def __init__(
        self,
        logs: EventLog | Sequence[EventLog],
        every: int,
        extras: Callable[[int], Mapping[str, Any]] | None = None,
    ):
        super().__init__()
        self.logs = [logs] if isinstance(logs, EventLog) else list(logs)
        self.every, self.extras = every, extras
        self.last_time = time.perf_counter()

    def handle(self, step: int, metrics: dict[str, np.ndarray]) -> None:
        """Write the row of the iterations ending at ``step`` to each run's log.

        Args:
            step: the row's last step.
            metrics: per-iteration metrics (shape (iterations,) or (iterations, runs)) and their
                ``step``.

        Example:
            >>> metrics = {"d_loss": np.ones((2, 2)), "step": np.arange(3, 5)}
            >>> hook.handle(4, metrics)  # doctest: +SKIP

        """
        now = time.perf_counter()
        rate = len(metrics["step"]) / max(now - self.last_time, 1e-9)
        self.last_time = now
        row: dict[str, Any] = {
            name: np.mean(np.asarray(values, np.float64), axis=0)
            for name, values in metrics.items()
            if name != "step"
        }
        row["it_per_s"] = rate
        self.write_row(step, row)

    def write_row(self, step: int, row: Mapping[str, Any]) -> None:
        """Write one row (and ``extras(step)``) to each run's log.

        Also usable on its own as ``MetricsLog(..., on_row=scalar_log.write_row)``, so a run's
        TensorBoard scalars are exactly its ``metrics.jsonl`` rows.

        Args:
            step: the row's step.
            row: name → number, or per-run list or array; None, NaN, ``step`` and ``time_s``
                are left out.

        Example:
            >>> hook.write_row(6, {"step": 6, "d_loss": [0.5, None]})  # doctest: +SKIP

        """
        values_of = {k: v for k, v in row.items() if k not in ("step", "time_s")}
        if self.extras is not None:
            values_of.update(self.extras(step))
        stacked = len(self.logs) > 1
        for i, log in enumerate(self.logs):
            values = {}
            for tag, value in values_of.items():
                flat = np.asarray(value, np.float64).reshape(-1)  # None becomes NaN
                values[tag] = float(flat[i] if stacked and flat.size > 1 else flat[0])
            log.scalars(step, values)
