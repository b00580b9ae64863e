"""Labelled subsets: ``k`` examples of every class, chosen by a fixed seed.

``per_class_subset(dataset, k)`` keeps ``k`` examples of each class. Which ones is decided by
``SUBSET_SEED`` (0) and the class alone: class ``c``'s examples are put in the order of
``np.random.default_rng([seed, c]).permutation`` and the first ``k`` kept. So the subset is the
same on every machine and for every experiment that asks for it (all arms of an augmentation
study train on the same images), and subsets are nested: the 10 per class are among the 100.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxgan.data.dataset import Dataset

SUBSET_SEED = 0
"""The seed that picks the examples of ``per_class_subset`` (fixed and documented)."""


def per_class_indices(labels: np.ndarray, k: int, num_classes: int, seed: int = SUBSET_SEED):
    """Return the indices of ``k`` examples of every class, in the data's own order.

    Args:
        labels: integer class labels ``(N,)``.
        k: examples to keep per class (≥ 1).
        num_classes: classes ``0..num_classes-1``; each must have at least ``k`` examples.
        seed: the choosing seed (default ``SUBSET_SEED``).

    Returns:
        Sorted int64 indices, ``k · num_classes`` of them.

    Raises:
        ValueError: ``k < 1``, or a class with fewer than ``k`` examples.

    Example:
        >>> per_class_indices(np.array([0, 1, 0, 1, 0]), 1, 2).tolist()
        [1, 4]

    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"per_class must be an integer ≥ 1, got {k!r}")
    labels = np.asarray(labels)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        if len(members) < k:
            raise ValueError(
                f"per_class={k} needs {k} examples of every class, but class {c} has "
                f"{len(members)}; lower per_class or use a larger split"
            )
        order = np.random.default_rng([seed, c]).permutation(len(members))
        chosen.append(members[order[:k]])
    return np.sort(np.concatenate(chosen))


def per_class_subset(dataset: Dataset, k: int, seed: int = SUBSET_SEED) -> Dataset:
    """Keep ``k`` labelled examples of every class (see the module docstring for which).

    Args:
        dataset: a labelled dataset.
        k: examples per class (≥ 1).
        seed: the choosing seed (default ``SUBSET_SEED``; keep it to compare experiments).

    Returns:
        A `Dataset` of ``k · num_classes`` examples, balanced, in the source's order.

    Raises:
        ValueError: unlabelled data, ``k < 1``, or a class with fewer than ``k`` examples.

    Example:
        >>> from jaxgan.data import load
        >>> small = per_class_subset(load("fashion_mnist_sample"), 3)
        >>> len(small), np.bincount(small.y).tolist()
        (30, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3])

    """
    if dataset.y is None or dataset.num_classes is None:
        raise ValueError(
            f"per_class needs labelled data, but dataset {dataset.name!r} has no labels; use a "
            "labelled dataset (e.g. an idx folder with train-labels-idx1-ubyte) or unset per_class"
        )
    keep = per_class_indices(dataset.y, k, dataset.num_classes, seed)
    return dataclasses.replace(dataset, x=dataset.x[keep], y=dataset.y[keep])
