"""Stacked MNIST: three digits per sample, one per channel, 1,000 modes (digit triples).

Labels are encoded as one int ``100·a + 10·b + c`` in [0, 1000), where a, b, c are the digits
in channels 0, 1, 2; `stacked_label_digits` turns them back into an (N, 3) array.
"""

from __future__ import annotations

import numpy as np

from jaxgan.data.dataset import SPLITS, Dataset

STACKED_NUM_MODES = 1000
DEFAULT_STACKED_SIZE = 128_000  # PacGAN / VEEGAN training set size


def stack_digits(
    images: np.ndarray, labels: np.ndarray, size: int, seed: int | np.random.SeedSequence
) -> tuple[np.ndarray, np.ndarray]:
    """Draw `size` triples of digit images independently (with replacement) and stack them.

    Args:
        images: uint8 single-channel digits of shape (N, H, W, 1).
        labels: their digit labels in [0, 10), shape (N,).
        size: number of stacked samples.
        seed: numpy seed (int or `SeedSequence`).

    Returns:
        ``(x, y)``: uint8 (size, H, W, 3) and int32 (size,) labels ``100·a + 10·b + c``.

    Example:
        >>> digits = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1).repeat(2, 1).repeat(2, 2)
        >>> x, y = stack_digits(digits, np.arange(10), size=5, seed=0)
        >>> bool((x[:, 0, 0, 0] == y // 100).all())
        True

    """
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(images), size=(size, 3))
    x = np.empty((size, *images.shape[1:3], 3), np.uint8)
    for channel in range(3):
        x[..., channel] = images[picks[:, channel], ..., 0]
    return x, stacked_labels(np.asarray(labels, np.int32)[picks])


def stacked_labels(digits: np.ndarray) -> np.ndarray:
    """Encode digit triples as Stacked MNIST labels ``100·a + 10·b + c`` (the mode ids).

    The inverse of `stacked_label_digits`; digits are not range-checked here.

    Args:
        digits: int array of shape (N, 3): the digit of channel 0, 1, 2.

    Returns:
        int32 array of shape (N,) with values in [0, 1000) for digits 0..9.

    Example:
        >>> stacked_labels(np.array([[0, 0, 7], [9, 0, 7]]))
        array([  7, 907], dtype=int32)

    """
    digits = np.asarray(digits)
    if digits.ndim != 2 or digits.shape[1] != 3:
        raise ValueError(f"digits must have shape (N, 3), one per channel, got {digits.shape}")
    return (digits.astype(np.int32) @ np.array([100, 10, 1], np.int32)).astype(np.int32)


def stacked_label_digits(labels: np.ndarray) -> np.ndarray:
    """Decode Stacked MNIST labels ``100·a + 10·b + c`` into their digits.

    Args:
        labels: int array of shape (N,) with values in [0, 1000).

    Returns:
        int32 array of shape (N, 3): the digit of channel 0, 1, 2.

    Example:
        >>> stacked_label_digits(np.array([7, 907]))
        array([[0, 0, 7],
               [9, 0, 7]], dtype=int32)

    """
    labels = np.asarray(labels, np.int32)
    return np.stack([labels // 100, labels // 10 % 10, labels % 10], axis=1)


def stacked_from(source: Dataset, split: str, *, size: int | None = None, seed: int = 0):
    """Build Stacked MNIST from any single-channel digit dataset.

    Args:
        source: a `Dataset` of uint8 (N, H, W, 1) images with labels in [0, 10), e.g.
            ``load("mnist", split)`` or ``load("idx:<folder>", split)``.
        split: the split name to record (also decorrelates train/test draws).
        size: number of samples (default 128,000, PacGAN's setup).
        seed: seed of the draw.

    Returns:
        An image `Dataset` with x uint8 (size, H, W, 3), y in [0, 1000), num_classes 1000.

    Raises:
        ValueError: the source is not single-channel images with labels in [0, 10).

    Example:
        >>> src = Dataset(np.zeros((10, 28, 28, 1), np.uint8), np.arange(10), "digits", "image", 10)
        >>> stacked_from(src, "train", size=8).x.shape
        (8, 28, 28, 3)

    """
    if source.kind != "image" or source.x.shape[-1] != 1 or source.y is None:
        raise ValueError(
            f"stacked_mnist needs labelled single-channel images, but source {source.name!r} has "
            f"x {source.x.shape} and {'no' if source.y is None else 'some'} labels; "
            "use a digit source such as 'mnist' or 'idx:<folder with MNIST files>'"
        )
    if len(source) == 0 or source.y.min() < 0 or source.y.max() > 9:
        raise ValueError(
            f"stacked_mnist needs digit labels 0..9, but source {source.name!r} has "
            f"{len(source)} examples with labels outside that range"
        )
    seq = np.random.SeedSequence([seed, SPLITS.index(split) if split in SPLITS else 2])
    x, y = stack_digits(source.x, source.y, DEFAULT_STACKED_SIZE if size is None else size, seq)
    return Dataset(x, y, f"stacked_mnist:{source.name}", "image", STACKED_NUM_MODES, split)
