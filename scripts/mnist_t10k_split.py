"""Write MNIST's 10,000 t10k digits as a train/test ``.npz``, split as jaxgan's MNIST classifier.

Only the t10k images of MNIST are on this machine (no 60k training images), so MNIST studies
(``jaxgan augment-study --data npz:runs/mnist-t10k-split.npz``) need a split of those 10,000
digits. This script uses the one jaxgan's cached MNIST classifier was trained with
(``jaxgan/metrics/weights/mnist.json``): ``x_test`` = the 2,000 held-out digits listed in its
``test_indices`` (``np.random.default_rng(0).permutation(10000)[:2000]``, sorted), ``x_train`` = the
other 8,000, both in t10k order. The classifier thus never saw the test digits; it did see every
training digit. Run from the repository root:

    python scripts/mnist_t10k_split.py --data ../shared/data/mnist --out runs/mnist-t10k-split.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from jaxgan.data import load
from jaxgan.metrics.classifier import load_classifier


def split_indices(n: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(train, test)`` indices into t10k: the MNIST classifier's held-out test digits."""
    test = np.asarray(load_classifier("mnist").metadata["data_split"]["test_indices"], np.int64)
    train = np.setdiff1d(np.arange(n), test)
    return train, test


def main(argv: list[str] | None = None) -> None:
    """Read the t10k IDX files and write the 8,000 / 2,000 split as one ``.npz``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="MNIST IDX folder (t10k files)")
    parser.add_argument("--out", required=True, type=Path, help="the .npz to write")
    args = parser.parse_args(argv)
    digits = load(f"idx:{args.data}", "test")
    train, test = split_indices(len(digits))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        x_train=digits.x[train],
        y_train=digits.y[train],
        x_test=digits.x[test],
        y_test=digits.y[test],
    )
    counts = np.bincount(digits.y[train]).tolist()
    print(f"{args.out}: {len(train)} train (per class {counts}), {len(test)} test digits")


if __name__ == "__main__":
    main()
