"""Build jaxgan's bundled Fashion-MNIST sample from the original IDX files.

Run from the repository root (reproducible: same inputs -> byte-identical outputs):

    python scripts/make_bundled_sample.py --source ../shared/data/fashion_mnist

The source files must be the original Fashion-MNIST release (their sha256 are checked against
the values tensorflow-datasets registers for fashion_mnist). The script keeps a class-balanced,
seeded subset (500 train and 100 test images per class, in original order) and writes them as
gzip IDX files named ``fashion_mnist_sample-<original name>`` into ``jaxgan/data/bundled/``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

import numpy as np

from jaxgan.data.idx import encode_idx, read_idx

# sha256 of the original files, as registered in tensorflow-datasets url_checksums/fashion_mnist.
SOURCE_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
PER_CLASS = {"train": 500, "t10k": 100}
SEED = 20170825  # Fashion-MNIST's arXiv submission date; any fixed value works.
PREFIX = "fashion_mnist_sample-"


def check_sources(source: Path) -> None:
    """Verify that `source` holds the four original files with their registered sha256.

    Args:
        source: folder with the original Fashion-MNIST ``*.gz`` files.

    Raises:
        ValueError: a file is missing or differs from the original release.

    Example:
        >>> check_sources(Path("../shared/data/fashion_mnist"))  # doctest: +SKIP

    """
    for name, expected in SOURCE_SHA256.items():
        path = source / name
        if not path.is_file():
            raise ValueError(f"missing {path}: pass --source with the original files")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != expected:
            raise ValueError(f"{path} has sha256 {digest}, expected {expected} (original release)")


def balanced_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Pick `per_class` indices of each label value at random, returned in ascending order.

    Args:
        labels: integer labels of the full split.
        per_class: how many examples to keep per class.
        seed: seed of the numpy generator.

    Returns:
        Sorted int64 indices into `labels`.

    Example:
        >>> balanced_indices(np.array([0, 1, 0, 1, 0, 1]), 2, 0).shape
        (4,)

    """
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
        for c in np.unique(labels)
    ]
    return np.sort(np.concatenate(chosen))


def write_gzip_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` as a gzip IDX file with a fixed timestamp (byte-reproducible).

    Args:
        path: output file.
        array: the array to store.

    Example:
        >>> write_gzip_idx(Path("/tmp/x-idx1-ubyte.gz"), np.arange(3, dtype=np.uint8))

    """
    path.write_bytes(gzip.compress(encode_idx(array), compresslevel=9, mtime=0))


def main() -> None:
    """Build the sample and print each output file's size and sha256.

    Example:
        >>> main()  # doctest: +SKIP

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("../shared/data/fashion_mnist"))
    parser.add_argument("--out", type=Path, default=Path("jaxgan/data/bundled"))
    args = parser.parse_args()
    check_sources(args.source)
    for offset, (stem, per_class) in enumerate(PER_CLASS.items()):
        images = read_idx(args.source / f"{stem}-images-idx3-ubyte.gz")
        labels = read_idx(args.source / f"{stem}-labels-idx1-ubyte.gz")
        keep = balanced_indices(labels, per_class, SEED + offset)
        for kind, array in (("images-idx3", images[keep]), ("labels-idx1", labels[keep])):
            out = args.out / f"{PREFIX}{stem}-{kind}-ubyte.gz"
            write_gzip_idx(out, array)
            digest = hashlib.sha256(out.read_bytes()).hexdigest()
            print(f"{out}  {array.shape}  {out.stat().st_size:,} bytes  sha256 {digest}")


if __name__ == "__main__":
    main()
