"""Read TensorBoard event files back, and cut them after a step (what a resumed run needs).

The reader needs no TensorBoard: it walks the records of a folder's event files in name order
(the order they were written) and parses them with tensorboardX's protocol buffers. A last
record cut short by a killed process is skipped.

Example:
    >>> import tempfile
    >>> from jaxgan.tboard import EventLog
    >>> log = EventLog(Path(tempfile.mkdtemp()))
    >>> log.scalars(10, {"d_loss": 0.5}); log.scalars(20, {"d_loss": 0.25}); log.close()
    >>> read_scalars(log.folder)["d_loss"]
    [(10, 0.5), (20, 0.25)]

"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jaxgan.tboard import EVENT_FILE_PREFIX, HPARAMS_TAG_PREFIX, tensorboardx


def event_files(folder: Path | str) -> list[Path]:
    """Return the event files directly in ``folder``, in the order they were written.

    Args:
        folder: a TensorBoard run folder.

    Returns:
        The files sorted by name (their names start with the second they were opened).

    Example:
        >>> event_files("/nonexistent")
        []

    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(EVENT_FILE_PREFIX))


def _records(path: Path) -> Iterator[bytes]:
    yield from _split(path.read_bytes())[0]


def _split(data: bytes) -> tuple[list[bytes], bool]:
    """Split a file's bytes into records; say whether it ends at a record's end."""
    records, at = [], 0
    while at + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        end = at + 12 + length + 4
        if end > len(data):
            break  # cut short by a killed process
        records.append(data[at + 12 : at + 12 + length])
        at = end
    return records, at == len(data)


def read_events(folder: Path | str) -> Iterator[Any]:
    """Yield every event of a run folder's event files, file by file, in written order.

    Args:
        folder: a TensorBoard run folder.

    Yields:
        ``Event`` protocol buffers (``step``, ``wall_time``, ``summary``).

    Example:
        >>> list(read_events("/nonexistent"))
        []

    """
    event_cls = tensorboardx().event_pb2.Event
    for path in event_files(folder):
        for record in _records(path):
            yield event_cls.FromString(record)


def read_scalars(folder: Path | str) -> dict[str, list[tuple[int, float]]]:
    """Return every scalar series of a run folder as ``(step, value)`` pairs in written order.

    Args:
        folder: a TensorBoard run folder.

    Returns:
        tag → ``[(step, value), ...]``.

    Example:
        >>> read_scalars("/nonexistent")
        {}

    """
    series: dict[str, list[tuple[int, float]]] = {}
    for event in read_events(folder):
        for value in event.summary.value:
            if value.WhichOneof("value") == "simple_value":
                series.setdefault(value.tag, []).append((int(event.step), value.simple_value))
    return series


def read_images(folder: Path | str) -> dict[str, list[tuple[int, bytes]]]:
    """Return every image series of a run folder as ``(step, PNG bytes)`` pairs.

    Args:
        folder: a TensorBoard run folder.

    Returns:
        tag → ``[(step, png), ...]``.

    Example:
        >>> read_images("/nonexistent")
        {}

    """
    series: dict[str, list[tuple[int, bytes]]] = {}
    for event in read_events(folder):
        for value in event.summary.value:
            if value.WhichOneof("value") == "image":
                png = value.image.encoded_image_string
                series.setdefault(value.tag, []).append((int(event.step), png))
    return series


def truncate_events(folder: Path | str, step: int) -> None:
    """Drop the events after ``step`` (and the hyperparameters) from a folder's event files.

    A run resumed from the checkpoint of ``step`` writes those steps again; cutting them first
    keeps every series' steps unique and increasing. The hyperparameters are dropped because
    the resumed run writes them again (its length may have changed). Files are rewritten
    through a temporary file and a rename; files left with no summary are removed.

    Args:
        folder: a TensorBoard run folder (absent: nothing to do).
        step: the last step to keep.

    Example:
        >>> truncate_events("/nonexistent", 100)

    """
    tbx = tensorboardx()
    crc = tbx.masked_crc32c
    for path in event_files(folder):
        records, whole = _split(path.read_bytes())
        kept, summaries = [], 0
        for record in records:
            event = tbx.event_pb2.Event.FromString(record)
            hparams = any(v.tag.startswith(HPARAMS_TAG_PREFIX) for v in event.summary.value)
            if event.step > step or hparams:
                continue
            summaries += event.HasField("summary")
            kept.append(record)
        if whole and len(kept) == len(records):
            continue
        if not summaries:
            path.unlink()
            continue
        tmp = path.with_name(".truncating.tmp")
        with open(tmp, "wb") as f:
            for record in kept:
                header = struct.pack("<Q", len(record))
                f.write(header + struct.pack("<I", crc(header)))
                f.write(record + struct.pack("<I", crc(record)))
        os.replace(tmp, path)
