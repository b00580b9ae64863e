"""The `Dataset` record every loader returns, the data layer's errors, and shape checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np

Kind = Literal["image", "points"]
SPLITS = ("train", "test")
# The most classes a labelled dataset may have. Labels are class indices 0..K-1 and K sizes the
# class embeddings of conditional models, so one stray huge label (e.g. 2**31 - 1) would otherwise
# ask for a table of billions of rows. 100,000 is far above the largest common image label sets
# (ImageNet-21k has 21,843 classes).
MAX_NUM_CLASSES = 100_000


class UnknownDatasetError(ValueError):
    """A dataset name that `jaxgan.data.load` does not know (the message lists the valid ones)."""


class DatasetUnavailableError(FileNotFoundError):
    """A known dataset whose data is not on this machine and cannot be fetched right now."""


class DataFormatError(ValueError):
    """A data file that exists but is corrupt, truncated or not in the expected format."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """An in-memory dataset: examples, optional integer labels and what they are.

    Arrays are stored read-only so a `Dataset` can be shared freely (copy before editing).

    Attributes:
        x: uint8 images of shape (N, H, W, C) for ``kind="image"``; float32 points of shape
            (N, 2) for ``kind="points"``.
        y: int32 labels of shape (N,), or None when the source has no labels.
        name: the name the dataset was loaded by (e.g. ``"fashion_mnist_sample"``).
        kind: ``"image"`` or ``"points"``.
        num_classes: number of label values, 1 to ``MAX_NUM_CLASSES``, or None; when set, every
            label lies in ``[0, num_classes)`` (checked). Not every class has to occur: a subset
            of a split may miss some.
        split: the split the examples come from (``"train"`` or ``"test"`` for built-ins).

    Example:
        >>> ds = Dataset(np.zeros((2, 28, 28, 1), np.uint8), np.array([0, 1]), "toy", "image", 2)
        >>> len(ds), ds.image_shape
        (2, (28, 28, 1))

    """

    x: np.ndarray
    y: np.ndarray | None
    name: str
    kind: Kind
    num_classes: int | None = None
    split: str = "train"

    def __post_init__(self) -> None:
        x = np.asarray(self.x)
        if self.kind == "image":
            if x.dtype != np.uint8 or x.ndim != 4:
                raise DataFormatError(
                    f"dataset {self.name!r}: images must be uint8 of shape (N, H, W, C), "
                    f"got {x.dtype} {x.shape}"
                )
        elif self.kind == "points":
            if x.dtype != np.float32 or x.ndim != 2:
                raise DataFormatError(
                    f"dataset {self.name!r}: points must be float32 of shape (N, D), "
                    f"got {x.dtype} {x.shape}"
                )
        else:
            raise ValueError(f"dataset kind must be 'image' or 'points', got {self.kind!r}")
        if 0 in x.shape[1:]:
            raise DataFormatError(
                f"dataset {self.name!r}: examples of shape {x.shape[1:]} hold no values (an "
                "axis of size 0); the data is damaged or was written with the wrong header"
            )
        k = self.num_classes
        if k is not None and (
            isinstance(k, bool)
            or not isinstance(k, int | np.integer)
            or not 1 <= k <= MAX_NUM_CLASSES
        ):
            raise DataFormatError(
                f"dataset {self.name!r}: num_classes must be an integer from 1 to "
                f"{MAX_NUM_CLASSES} or None, got {k!r}"
            )
        y = None if self.y is None else np.asarray(self.y)
        if y is not None:
            if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
                raise DataFormatError(
                    f"dataset {self.name!r}: labels must be integers of shape ({len(x)},), "
                    f"got {y.dtype} {y.shape}"
                )
            low, high = (int(y.min()), int(y.max())) if len(y) else (0, 0)
            top = np.iinfo(np.int32).max + 1 if k is None else int(k)
            if low < 0 or high >= top:
                raise DataFormatError(
                    f"dataset {self.name!r}: labels span {low}..{high} but must be class indices "
                    f"in [0, {top}); remap them to 0..K-1 (np.unique(y, return_inverse=True)[1])"
                    + ("" if k is None else " or set num_classes to match")
                )
            y = y.astype(np.int32, copy=False)
        object.__setattr__(self, "x", _read_only(x))
        object.__setattr__(self, "y", None if y is None else _read_only(y))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:
        y = "None" if self.y is None else f"{self.y.dtype}{list(self.y.shape)}"
        return (
            f"Dataset(name={self.name!r}, split={self.split!r}, kind={self.kind!r}, "
            f"x={self.x.dtype}{list(self.x.shape)}, y={y}, num_classes={self.num_classes})"
        )

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one example: (H, W, C) for images, (D,) for points.

        Returns:
            The per-example shape.

        Example:
            >>> Dataset(np.zeros((3, 2), np.float32), None, "pts", "points").image_shape
            (2,)

        """
        return tuple(int(d) for d in self.x.shape[1:])

    def take(self, limit: int | None) -> Dataset:
        """Return the first `limit` examples (all of them when `limit` is None or larger).

        Args:
            limit: how many examples to keep, or None for all.

        Returns:
            A new `Dataset` sharing memory with this one.

        Example:
            >>> ds = Dataset(np.zeros((5, 2), np.float32), None, "pts", "points")
            >>> len(ds.take(3))
            3

        """
        if limit is None or limit >= len(self):
            return self
        y = None if self.y is None else self.y[:limit]
        return dataclasses.replace(self, x=self.x[:limit], y=y)


def infer_num_classes(labels: np.ndarray, source: str) -> int | None:
    """Return the class count of integer labels, ``max(labels) + 1``, after bounding it.

    Labels must be class indices ``0..K-1`` with ``K ≤ MAX_NUM_CLASSES``; they need not all
    occur (a subset of a split may miss classes), but a label far beyond the rest is refused
    rather than turned into a class count of billions.

    Args:
        labels: integer labels of any shape.
        source: the dataset or file the labels come from, named in errors.

    Returns:
        ``max(labels) + 1``, or None when there are no labels.

    Raises:
        DataFormatError: non-integer or negative labels, or a label ≥ ``MAX_NUM_CLASSES``.

    Example:
        >>> infer_num_classes(np.array([0, 3, 1]), "toy")
        4
        >>> infer_num_classes(np.array([0, 2**31 - 1]), "toy")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        jaxgan.data.dataset.DataFormatError: toy: label 2147483647 is not a class index...

    """
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError(f"{source}: labels must be integers, got {labels.dtype}")
    if labels.size == 0:
        return None
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise DataFormatError(f"{source}: labels must be non-negative class indices, found {low}")
    if high >= MAX_NUM_CLASSES:
        raise DataFormatError(
            f"{source}: label {high} is not a class index below {MAX_NUM_CLASSES} (the most "
            "classes jaxgan supports); remap the labels to 0..K-1, e.g. with "
            "np.unique(labels, return_inverse=True)[1]"
        )
    return high + 1


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def check_image_shape(images: np.ndarray, expected_hwc: Sequence[int], *, what: str = "model"):
    """Check that a batch of images has the per-example shape a model was built for.

    Args:
        images: array of shape (N, H, W, C) (numpy or jax).
        expected_hwc: the (H, W, C) the model expects.
        what: how to name the consumer in the error (e.g. ``"DCGAN generator"``).

    Returns:
        `images`, unchanged, so the call can be chained.

    Raises:
        ValueError: a one-line message naming both shapes and how to fix the mismatch.

    Example:
        >>> x = np.zeros((4, 28, 28, 1), np.uint8)
        >>> check_image_shape(x, (28, 28, 1)).shape
        (4, 28, 28, 1)

    """
    expected = tuple(int(d) for d in expected_hwc)
    shape = tuple(int(d) for d in getattr(images, "shape", ()))
    if len(expected) != 3:
        raise ValueError(f"expected_hwc must be (height, width, channels), got {expected}")
    if len(shape) != 4:
        raise ValueError(
            f"images for the {what} must have shape (N, H, W, C), got {shape}; "
            "add a batch or channel axis (e.g. x[..., None]) before training"
        )
    if shape[1:] != expected:
        hint = (
            "convert grayscale/RGB channels"
            if shape[1:3] == expected[:2]
            else f"pick a dataset of that size or build the model for image_shape={shape[1:]}"
        )
        raise ValueError(
            f"images have shape {shape[1:]} per example but the {what} expects {expected}: {hint}"
        )
    return images
