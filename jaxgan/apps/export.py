"""Export a trained GAN's samples as a labelled dataset that ``jaxgan.data.load`` reads back.

``export_run(run_dir, out, n=...)`` draws ``n`` samples with ``jaxgan.apps.synthetic`` (batch
``i`` from ``fold_in(key(seed), i)``), quantises them to uint8 as ``jaxgan.data.to_uint8_images``
does and writes them as the training split of:

- ``idx`` (default): a folder with ``train-images-idx3-ubyte`` and, for a conditional run,
  ``train-labels-idx1-ubyte`` (MNIST's files; load it as ``idx:<folder>``);
- ``npz``: one file with ``x_train`` and ``y_train`` (Keras' layout; load it as ``npz:<file>``).

``per_class=True`` gives exactly balanced labels (sample ``i`` is of class ``i mod K``; needs a
conditional run and ``n ≥ K``); otherwise a conditional run's labels are drawn uniformly as in
training and an unconditional run's export has no labels. ``export.json`` (inside the idx folder;
``<file>.json`` beside an npz file) records the run, its step, the seed, the truncation, the class
counts and a sha256 of the arrays. Everything is written under a temporary name and renamed into
place at the end, so an interrupted export never looks complete, and an existing output is only
replaced with ``overwrite=True`` (and only when it is an earlier export).

There is no tfds format: writing a tfds dataset needs TensorFlow's record writer, and jaxgan does
not depend on TensorFlow; idx and npz are read by ``jaxgan.data.load`` and by most other tools.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan.apps.synthetic import check_truncation, synthetic_batch
from jaxgan.data import encode_idx, to_uint8_images
from jaxgan.experiment.rundir import PathLike
from jaxgan.experiment.sample import load_run
from jaxgan.state import GANState

__all__ = [
    "FORMATS",
    "METADATA_FILE",
    "array_sha256",
    "export_run",
    "export_samples",
    "metadata_path",
]

FORMATS = ("idx", "npz")
"""The file formats ``export_run`` writes."""

METADATA_FILE = "export.json"
"""The metadata file inside an idx export folder (an npz export has ``<file>.json``)."""

MAX_EXPORT = 10_000_000
"""The most samples one export writes."""


def array_sha256(x: np.ndarray, y: np.ndarray | None) -> str:
    """Return the sha256 of an export's arrays: images then labels, C order, little-endian.

    Args:
        x: uint8 images.
        y: int labels or None.

    Returns:
        The hex digest; labels are hashed as little-endian int32.

    Example:
        >>> array_sha256(np.zeros((1, 2, 2, 1), np.uint8), None)[:12]
        'df3f619804a9'

    """
    digest = hashlib.sha256(np.ascontiguousarray(x, np.uint8).tobytes())
    if y is not None:
        digest.update(np.ascontiguousarray(y, "<i4").tobytes())
    return digest.hexdigest()


def export_samples(
    state: GANState,
    n: int,
    *,
    seed: int = 0,
    per_class: bool = False,
    truncation: float = 1.0,
    batch_size: int = 500,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Draw ``n`` uint8 samples (and labels) from a state, as ``export_run`` writes them.

    Args:
        state: a trained state.
        n: number of samples.
        seed: the noise seed (batch ``i`` uses ``fold_in(key(seed), i)``).
        per_class: exactly balanced labels (``i mod K``); needs a conditional state.
        truncation: ψ in (0, 1].
        batch_size: samples per compiled call.

    Returns:
        ``(uint8 images (n, H, W, C), int32 labels (n,) or None)``.

    Raises:
        ValueError: ``per_class`` with an unconditional state, ``n`` below the class count, or a
            truncation outside (0, 1].

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
        >>> x, y = export_samples(state, 5, batch_size=2)
        >>> x.shape, x.dtype, y
        ((5, 28, 28, 1), dtype('uint8'), None)

    """
    truncation = check_truncation(truncation)
    num_classes = state.config.num_classes
    _check_count(n, num_classes, per_class)
    key = jax.random.key(seed)
    size = min(batch_size, n)
    parts_x, parts_y = [], []
    for index in range(-(-n // size)):
        x, y = synthetic_batch(state, key, index, size, truncation, per_class)
        parts_x.append(to_uint8_images(np.asarray(x)))
        if y is not None:
            parts_y.append(np.asarray(y, np.int32))
    labels = np.concatenate(parts_y)[:n] if parts_y else None
    return np.concatenate(parts_x)[:n], labels


def _check_count(n: int, num_classes: int | None, per_class: bool) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_EXPORT:
        raise ValueError(f"n must be an integer from 1 to {MAX_EXPORT:,}, got {n!r}")
    if per_class and num_classes is None:
        raise ValueError(
            "--per-class needs a conditional run (its generator takes class labels); this run "
            "is unconditional: export without --per-class"
        )
    if per_class and n < num_classes:
        raise ValueError(
            f"n={n} is fewer than the {num_classes} classes: --per-class needs n ≥ {num_classes}"
        )


def export_run(
    run_dir: PathLike,
    out: PathLike,
    *,
    n: int,
    per_class: bool = False,
    truncation: float = 1.0,
    fmt: str = "idx",
    seed: int = 0,
    step: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write ``n`` samples of a run's checkpoint as a labelled dataset (see the module docstring).

    Args:
        run_dir: the run folder.
        out: the idx folder or the ``.npz`` file to write.
        n: number of samples.
        per_class: exactly balanced labels (conditional runs only).
        truncation: ψ in (0, 1].
        fmt: ``"idx"`` or ``"npz"``.
        seed: noise seed.
        step: checkpoint step (None: the latest).
        overwrite: replace an earlier export at ``out``.

    Returns:
        The metadata written beside the data (also: ``"load_as"``, the name for
        ``jaxgan.data.load``).

    Raises:
        ValueError: bad ``n``, ``fmt`` or truncation, ``per_class`` with an unconditional run.
        FileExistsError: ``out`` exists (without ``overwrite``, or not an earlier export).

    Example:
        >>> meta = export_run("runs/cdcgan", "runs/synthetic", n=60000,  # doctest: +SKIP
        ...                   per_class=True)
        >>> jaxgan.data.load(meta["load_as"]).x.shape  # doctest: +SKIP
        (60000, 28, 28, 1)

    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    truncation = check_truncation(truncation)
    out = Path(out)
    if fmt == "npz" and out.suffix != ".npz":
        raise ValueError(f"an npz export is one file ending in .npz, got {out}")
    _check_output(out, fmt, overwrite)
    start = time.perf_counter()
    config, state, _ = load_run(run_dir, step)
    _check_count(n, state.config.num_classes, per_class)
    x, y = export_samples(state, n, seed=seed, per_class=per_class, truncation=truncation)
    len_classes = state.config.num_classes or 0
    meta = {
        "run": str(Path(run_dir).resolve()),
        "run_name": config.name,
        "step": int(state.step),
        "seed": seed,
        "truncation": truncation,
        "n": n,
        "per_class": per_class,
        "num_classes": state.config.num_classes,
        "class_counts": None if y is None else np.bincount(y, minlength=len_classes).tolist(),
        "image_shape": list(x.shape[1:]),
        "format": fmt,
        "sha256": array_sha256(x, y),
        "load_as": f"{fmt}:{out.resolve()}",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    _write(out, fmt, x, y, meta, overwrite)
    meta["seconds"] = time.perf_counter() - start
    return meta


def metadata_path(out: PathLike, fmt: str) -> Path:
    """Return where an export's metadata lives: ``<folder>/export.json`` or ``<file>.json``.

    Args:
        out: the export's folder (idx) or file (npz).
        fmt: ``"idx"`` or ``"npz"``.

    Returns:
        The metadata file's path.

    Example:
        >>> metadata_path("runs/syn.npz", "npz").name
        'syn.npz.json'

    """
    out = Path(out)
    return out / METADATA_FILE if fmt == "idx" else out.with_name(out.name + ".json")


def _check_output(out: Path, fmt: str, overwrite: bool) -> None:
    if not out.exists():
        if not out.parent.is_dir():
            raise FileNotFoundError(f"the folder of {out} does not exist; create it first")
        return
    if not overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    if not metadata_path(out, fmt).is_file() or (fmt == "idx") != out.is_dir():
        raise FileExistsError(
            f"{out} exists and is not an earlier {fmt} export (no {metadata_path(out, fmt).name}); "
            "choose another --out"
        )


def _write(out: Path, fmt: str, x: np.ndarray, y, meta: dict[str, Any], overwrite: bool) -> None:
    """Write data and metadata under temporary names, then rename them into place."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    meta_text = json.dumps(meta, indent=2) + "\n"
    images = x[..., 0] if x.shape[-1] == 1 else x  # MNIST's (N, H, W) for one channel
    try:
        if fmt == "idx":
            tmp.mkdir()
            (tmp / "train-images-idx3-ubyte").write_bytes(encode_idx(images))
            if y is not None:
                label_dtype = np.uint8 if int(y.max(initial=0)) < 256 else np.int32
                (tmp / "train-labels-idx1-ubyte").write_bytes(encode_idx(y.astype(label_dtype)))
            (tmp / METADATA_FILE).write_text(meta_text)
        else:
            arrays = {"x_train": images} | ({} if y is None else {"y_train": y})
            with tmp.open("wb") as handle:
                np.savez(handle, **arrays)
        if overwrite and out.exists():
            _remove(out)
        if fmt == "npz":
            metadata_path(out, fmt).unlink(missing_ok=True)
        os.replace(tmp, out)
        if fmt == "npz":  # the metadata last: a data file without it is an unfinished export
            meta_tmp = tmp.with_name(tmp.name + ".json")
            meta_tmp.write_text(meta_text)
            os.replace(meta_tmp, metadata_path(out, fmt))
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
