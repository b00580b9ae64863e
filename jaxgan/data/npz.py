"""Read a labelled image set from one ``.npz`` file (Keras' ``mnist.npz`` layout).

The file holds ``x_train`` (uint8 images ``(N, H, W)`` or ``(N, H, W, C)``) and optionally
``y_train`` (integer labels), and the same for ``test``; ``jaxgan export --format npz`` writes
this layout. Arrays are read with ``allow_pickle=False``: a file can hold no code.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from jaxgan.data.dataset import DataFormatError, Dataset, DatasetUnavailableError, infer_num_classes


def load_npz(path: str | os.PathLike[str], split: str = "train", *, name: str | None = None):
    """Load split ``split`` of an ``.npz`` file holding ``x_<split>`` and ``y_<split>``.

    Args:
        path: the ``.npz`` file.
        split: ``"train"`` or ``"test"``.
        name: the name recorded in the `Dataset` (default ``"npz:<path>"``).

    Returns:
        A `Dataset` of uint8 NHWC images with int32 labels when ``y_<split>`` exists.

    Raises:
        DatasetUnavailableError: no such file, or no ``x_<split>`` in it.
        DataFormatError: not an npz file, non-uint8 images, or labels that do not fit.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "d.npz"
        >>> np.savez(path, x_train=np.zeros((3, 4, 4), np.uint8), y_train=np.array([0, 1, 1]))
        >>> ds = load_npz(path)
        >>> ds.x.shape, ds.num_classes
        ((3, 4, 4, 1), 2)

    """
    path = Path(path).expanduser()
    name = name or f"npz:{path}"
    if not path.is_file():
        raise DatasetUnavailableError(f"npz file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataFormatError(f"{path}: not a readable .npz file ({err})") from None
    x_key, y_key = f"x_{split}", f"y_{split}"
    if x_key not in arrays:
        raise DatasetUnavailableError(
            f"{path} holds no {x_key} (it has {', '.join(sorted(arrays)) or 'nothing'})"
        )
    images = arrays[x_key]
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataFormatError(
            f"{path}: {x_key} must be uint8 images (N, H, W[, C]), got {images.dtype} "
            f"{images.shape}"
        )
    images = images[..., None] if images.ndim == 3 else images
    labels = arrays.get(y_key)
    num_classes = None
    if labels is not None:
        if labels.shape != (len(images),):
            raise DataFormatError(
                f"{path}: {y_key} has shape {labels.shape}, expected ({len(images)},)"
            )
        num_classes = infer_num_classes(labels, f"{path} ({y_key})")
    return Dataset(images, labels, name, "image", num_classes, split)
