"""The `Dataset` record every loader returns, the data layer's errors, and shape checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np

Kind = Literal["image", "points"]
SPLITS = ("train", "test")


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
        num_classes: number of label values (labels lie in ``[0, num_classes)``), or None.
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
        y = None if self.y is None else np.asarray(self.y)
        if y is not None:
            if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
                raise DataFormatError(
                    f"dataset {self.name!r}: labels must be integers of shape ({len(x)},), "
                    f"got {y.dtype} {y.shape}"
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
