"""The Fashion-MNIST sample shipped inside the package, so training works offline.

5,000 train and 1,000 test images (class-balanced, 28×28×1, labels 0–9), stored as gzip IDX
files in ``jaxgan/data/bundled/``. Built by ``scripts/make_bundled_sample.py``; Fashion-MNIST is
© Zalando SE, MIT licence (see ``bundled/LICENSE``).
"""

from __future__ import annotations

from pathlib import Path

import importlib_resources

from jaxgan.data.dataset import Dataset, DatasetUnavailableError
from jaxgan.data.idx import find_idx_file, load_idx

SAMPLE_NAME = "fashion_mnist_sample"
SAMPLE_PREFIX = f"{SAMPLE_NAME}-"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def bundled_dir() -> Path:
    """Return the folder that holds the bundled sample's files.

    Returns:
        Path of ``jaxgan/data/bundled`` inside the installed package.

    Example:
        >>> (bundled_dir() / "LICENSE").is_file()
        True

    """
    return Path(str(importlib_resources.files("jaxgan.data") / "bundled"))


def load_fashion_mnist_sample(split: str = "train") -> Dataset:
    """Load the bundled Fashion-MNIST sample (no network, no TensorFlow).

    Args:
        split: ``"train"`` (5,000 images) or ``"test"`` (1,000 images).

    Returns:
        A `Dataset` of uint8 images (N, 28, 28, 1) and int32 labels in [0, 10).

    Raises:
        DatasetUnavailableError: the package was installed without its data files.

    Example:
        >>> ds = load_fashion_mnist_sample("test")
        >>> ds.x.shape, ds.num_classes
        ((1000, 28, 28, 1), 10)

    """
    folder = bundled_dir()
    if find_idx_file(folder, split, "images", SAMPLE_PREFIX) is None:
        raise DatasetUnavailableError(
            f"the bundled sample is missing from {folder}: reinstall jaxgan with its package data "
            "(pip install --force-reinstall jaxgan)"
        )
    return load_idx(folder, split, name=SAMPLE_NAME, prefix=SAMPLE_PREFIX)
