"""Train a jaxgan dataset classifier and cache its weights (.npz + .json with sha256).

The training itself is library code (``jaxgan.apps.classifier``); this script picks the data and
the per-dataset settings and writes the files with ``jaxgan.metrics.classifier.save_classifier``.
How the cached weights in jaxgan/metrics/weights/ were produced (from the repository root):

    python scripts/train_classifier.py --dataset mnist --data ../shared/data/mnist
    python scripts/train_classifier.py --dataset fashion_mnist --data ../shared/data/fashion_mnist

IDX folders are read with ``jaxgan.data.load("idx:<folder>")``. MNIST: only the 10k t10k
images exist offline (no 60k train images), so the classifier trains on 8,000 of them and is
tested on the other 2,000 (random split, seed 0; the held-out indices are stored in the metadata).
``--dev`` carves a further 1,000-image validation set out of the training part and reports
accuracy on it, never touching the test split (use it to choose settings).
Fashion-MNIST: the standard 60k train / 10k test files.
CIFAR-10 (32×32 RGB): ``--dataset cifar10 --data cifar10.npz`` with uint8 arrays ``x_train``
(N, 32, 32, 3), ``y_train``, ``x_test``, ``y_test``; no cached weights exist (no data offline).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
from pathlib import Path

import jax
import numpy as np

from jaxgan.apps.classifier import AugmentConfig, ClassifierConfig, feature_rms, train_classifier
from jaxgan.data import load
from jaxgan.metrics.classifier import (
    WEIGHTS_DIR,
    Classifier,
    ClassifierArchitecture,
    save_classifier,
)

# Per-dataset defaults: architecture, augmentation and epochs sized for ~5 min of 2-core CPU time.
PRESETS = {
    "mnist": dict(architecture=ClassifierArchitecture(), epochs=30,
                  augment=AugmentConfig(rotate_degrees=12.0, scale=0.1, translate=2.5)),
    "fashion_mnist": dict(architecture=ClassifierArchitecture(), epochs=3,
                          augment=AugmentConfig(rotate_degrees=0.0, scale=0.0, translate=2.0,
                                                hflip=True)),
    "cifar10": dict(architecture=ClassifierArchitecture(image_size=32, channels=3,
                                                        widths=(32, 64, 128)),
                    epochs=30, augment=AugmentConfig(rotate_degrees=0.0, scale=0.0,
                                                     translate=3.0, hflip=True)),
}
MNIST_SPLIT_SEED, MNIST_TEST_SIZE, DEV_SIZE = 0, 2000, 1000


def _idx_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    dataset = load(f"idx:{folder}", split=split)
    return dataset.x, dataset.y.astype(np.int32)


def load_splits(dataset: str, data: Path, dev: bool) -> tuple[dict, dict]:
    """Return ``({"train": (x, y), "eval": (x, y)}, split description)`` for a dataset."""
    if dataset == "mnist":
        x, y = _idx_split(data, "test")
        order = np.random.default_rng(MNIST_SPLIT_SEED).permutation(len(x))
        test_idx, train_idx = np.sort(order[:MNIST_TEST_SIZE]), np.sort(order[MNIST_TEST_SIZE:])
        split = {"source": "MNIST t10k-images/t10k-labels only (the 60k MNIST training images are "
                           "not available offline)",
                 "train": f"{len(train_idx)} t10k images (all except the held-out ones)",
                 "test": f"{len(test_idx)} held-out t10k images: "
                         f"np.random.default_rng({MNIST_SPLIT_SEED}).permutation(10000)"
                         f"[:{MNIST_TEST_SIZE}], listed in test_indices",
                 "test_indices": test_idx.tolist()}
        train, test = (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])
    elif dataset == "fashion_mnist":
        train, test = _idx_split(data, "train"), _idx_split(data, "test")
        split = {"source": "Fashion-MNIST IDX files", "train": "60,000 train images",
                 "test": "10,000 t10k images"}
    elif dataset == "cifar10":
        with np.load(data, allow_pickle=False) as arrays:
            train = (arrays["x_train"], arrays["y_train"].reshape(-1).astype(np.int32))
            test = (arrays["x_test"], arrays["y_test"].reshape(-1).astype(np.int32))
        split = {"source": f"CIFAR-10 arrays from {data.name}", "train": f"{len(train[0])} x_train",
                 "test": f"{len(test[0])} x_test"}
    else:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(PRESETS)}")
    if dev:  # validation carved from the training part; the test split stays unseen
        order = np.random.default_rng(1).permutation(len(train[0]))
        val, rest = order[:DEV_SIZE], order[DEV_SIZE:]
        test, train = (train[0][val], train[1][val]), (train[0][rest], train[1][rest])
        split = {"dev": f"{len(rest)} train / {len(val)} validation images from the train part"}
    return {"train": train, "eval": test}, split


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, train, evaluate on the held-out split and write the weight files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=sorted(PRESETS))
    parser.add_argument("--data", required=True, type=Path,
                        help="IDX folder (mnist, fashion_mnist) or .npz file (cifar10)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, help="use only this many training images (smoke runs)")
    parser.add_argument("--dev", action="store_true",
                        help="evaluate on a validation split of the train part; do not save")
    args = parser.parse_args(argv)
    preset = PRESETS[args.dataset]
    train_cfg = ClassifierConfig(epochs=args.epochs or preset["epochs"],
                                 batch_size=args.batch_size, learning_rate=args.lr,
                                 augment=preset["augment"], seed=args.seed)
    splits, split = load_splits(args.dataset, args.data, args.dev)
    (x, y), (x_eval, y_eval) = splits["train"], splits["eval"]
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    print(f"{args.dataset}: train {x.shape}, eval {x_eval.shape}; {train_cfg}", flush=True)
    start = time.perf_counter()
    graphdef, params = train_classifier(x, y, preset["architecture"], train_cfg,
                                        log=lambda s: print(s, flush=True))
    seconds = time.perf_counter() - start
    clf = Classifier(preset["architecture"], graphdef, params)
    rms = feature_rms(clf, x)
    accuracy = {"train": clf.accuracy(x, y), "validation" if args.dev else "test":
                clf.accuracy(x_eval, y_eval)}
    print(f"trained in {seconds:.1f} s; accuracy {accuracy}", flush=True)
    if args.dev:
        return
    metadata = {
        "dataset": args.dataset, "accuracy": accuracy, "data_split": split,
        "training": {"seconds": round(seconds, 1), "train_config": dataclasses.asdict(train_cfg),
                     "device": str(jax.devices()[0]), "jax": jax.__version__},
        "command": "python " + " ".join(shlex.quote(a) for a in [
            "scripts/train_classifier.py", *(sys.argv[1:] if argv is None else argv)]),
        "features": "128-d penultimate dense layer before its ReLU, times feature_scale",
        "feature_scale": 1.0 / rms,
    }
    path = save_classifier(graphdef, params, preset["architecture"], args.out, args.dataset,
                           metadata)
    print(f"wrote {path} and {path.with_suffix('.npz')}")


if __name__ == "__main__":
    main()
