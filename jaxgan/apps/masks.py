"""Inpainting masks: which pixels of an image are known (1) and which are missing (0).

Every mask here is a float32 numpy array ``(N, H, W, 1)`` (one channel, shared by all image
channels) with 1 on known pixels and 0 in the hole, the convention of Yeh et al. (2017), whose
``M ⊙ y`` is the visible part of the corrupted image ``y``. Masks are made on the host from a
seed, so the same command always inpaints the same holes, and are checked against the images
before any optimisation: same batch and spatial size, and every image keeps at least one known
and one missing pixel.

Example:
    >>> make_mask("center:4", (2, 8, 8, 1))[0, 2:6, 2:6, 0].sum()
    np.float32(0.0)
    >>> float(make_mask("pixels:0.5", (1, 28, 28, 1), seed=0).mean())
    0.5

"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = [
    "MASK_KINDS",
    "MaskError",
    "box_mask",
    "center_mask",
    "check_mask",
    "half_mask",
    "load_mask",
    "make_mask",
    "pixel_mask",
]

MASK_KINDS = ("center", "center:S", "boxes", "boxes:K:S", "pixels:F", "half:SIDE", "file:PATH")
"""The mask specifications ``make_mask`` (and ``jaxgan inpaint --mask``) understands."""

_SIDES = ("left", "right", "top", "bottom")


class MaskError(ValueError):
    """A mask that cannot be used with the images: wrong shape, or no known / missing pixel."""


def _shape(images_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(images_shape) != 4:
        raise MaskError(f"images must be (N, H, W, C), got shape {tuple(images_shape)}")
    n, h, w, _ = images_shape
    return n, h, w


def center_mask(images_shape: tuple[int, ...], size: int | None = None) -> np.ndarray:
    """Cut a centred square hole of ``size`` × ``size`` pixels in every image.

    Args:
        images_shape: ``(N, H, W, C)`` of the images.
        size: side of the hole (default: half the smaller image side, 14 for 28×28).

    Returns:
        float32 mask ``(N, H, W, 1)``, 1 = known.

    Example:
        >>> center_mask((1, 6, 6, 1), 2)[0, :, :, 0].astype(int).tolist()[2]
        [1, 1, 0, 0, 1, 1]

    """
    n, h, w = _shape(images_shape)
    size = min(h, w) // 2 if size is None else size
    if not 0 < size < min(h, w):
        raise MaskError(f"centre hole size must be in 1..{min(h, w) - 1} for {h}×{w}, got {size}")
    mask = np.ones((n, h, w, 1), np.float32)
    top, left = (h - size) // 2, (w - size) // 2
    mask[:, top : top + size, left : left + size] = 0.0
    return mask


def box_mask(
    images_shape: tuple[int, ...], boxes: int = 3, size: int = 8, *, seed: int = 0
) -> np.ndarray:
    """``boxes`` square holes of ``size`` pixels at random places (they may overlap).

    Args:
        images_shape: ``(N, H, W, C)`` of the images.
        boxes: holes per image.
        size: side of each hole.
        seed: numpy seed of the positions.

    Returns:
        float32 mask ``(N, H, W, 1)``, 1 = known.

    Example:
        >>> float(box_mask((1, 28, 28, 1), 1, 8).sum())
        720.0

    """
    n, h, w = _shape(images_shape)
    if boxes < 1 or not 0 < size < min(h, w):
        raise MaskError(f"boxes needs ≥ 1 box of side 1..{min(h, w) - 1}, got {boxes}×{size}")
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, h - size + 1, (n, boxes))
    lefts = rng.integers(0, w - size + 1, (n, boxes))
    mask = np.ones((n, h, w, 1), np.float32)
    for i in range(n):
        for top, left in zip(tops[i], lefts[i], strict=True):
            mask[i, top : top + size, left : left + size] = 0.0
    return mask


def pixel_mask(images_shape: tuple[int, ...], drop: float = 0.5, *, seed: int = 0) -> np.ndarray:
    """Drop exactly ``round(drop · H · W)`` random pixels of each image.

    Args:
        images_shape: ``(N, H, W, C)`` of the images.
        drop: fraction of missing pixels, in (0, 1).
        seed: numpy seed of the pixel choice.

    Returns:
        float32 mask ``(N, H, W, 1)``, 1 = known.

    Example:
        >>> float(pixel_mask((3, 10, 10, 1), 0.25).sum())
        225.0

    """
    n, h, w = _shape(images_shape)
    missing = round(drop * h * w)
    if not 0 < missing < h * w:
        raise MaskError(f"pixels: drop fraction must leave known and missing pixels, got {drop}")
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n, h * w)), axis=1)
    mask = np.ones((n, h * w), np.float32)
    np.put_along_axis(mask, order[:, :missing], 0.0, axis=1)
    return mask.reshape(n, h, w, 1)


def half_mask(images_shape: tuple[int, ...], side: str = "left") -> np.ndarray:
    """Hide one half of every image: ``left``, ``right``, ``top`` or ``bottom``.

    Args:
        images_shape: ``(N, H, W, C)`` of the images.
        side: the half that is missing.

    Returns:
        float32 mask ``(N, H, W, 1)``, 1 = known.

    Example:
        >>> half_mask((1, 2, 4, 1), "left")[0, 0, :, 0].tolist()
        [0.0, 0.0, 1.0, 1.0]

    """
    n, h, w = _shape(images_shape)
    mask = np.ones((n, h, w, 1), np.float32)
    if side == "left":
        mask[:, :, : w // 2] = 0.0
    elif side == "right":
        mask[:, :, w // 2 :] = 0.0
    elif side == "top":
        mask[:, : h // 2] = 0.0
    elif side == "bottom":
        mask[:, h // 2 :] = 0.0
    else:
        raise MaskError(f"half: side must be one of {', '.join(_SIDES)}, got {side!r}")
    return mask


def load_mask(path: str | os.PathLike[str], images_shape: tuple[int, ...]) -> np.ndarray:
    """Read a user's mask from a PNG (white = known, black = missing) or a numpy file.

    A PNG is converted to grayscale and thresholded at half intensity. A ``.npy`` file (or the
    first array of a ``.npz``) holds values in {0, 1}, shaped ``(H, W)``, ``(H, W, 1)`` (one mask
    for every image) or ``(N, H, W[, 1])`` (one per image).

    Args:
        path: the file.
        images_shape: ``(N, H, W, C)`` of the images it must fit.

    Returns:
        float32 mask ``(N, H, W, 1)``, 1 = known.

    Raises:
        MaskError: unreadable file, values other than 0/1, or a shape that does not fit.

    Example:
        >>> np.save("/tmp/jaxgan_mask.npy", np.eye(4))
        >>> load_mask("/tmp/jaxgan_mask.npy", (2, 4, 4, 1)).shape
        (2, 4, 4, 1)

    """
    path = Path(path)
    if not path.is_file():
        raise MaskError(f"mask file {path} does not exist; pass file:<path to .png/.npy/.npz>")
    suffix = path.suffix.lower()
    if suffix == ".png":
        import PIL.Image

        with PIL.Image.open(path) as image:
            gray = np.asarray(image.convert("L"), np.float32)
        array = (gray >= 128).astype(np.float32)
    elif suffix in (".npy", ".npz"):
        try:
            loaded = np.load(path, allow_pickle=False)
            array = loaded[loaded.files[0]] if suffix == ".npz" else loaded
        except (ValueError, OSError, IndexError) as err:
            raise MaskError(f"cannot read mask {path}: {err}") from None
        array = np.asarray(array)
        if array.dtype == bool:
            array = array.astype(np.float32)
        if not np.issubdtype(array.dtype, np.number) or not np.isin(array, (0, 1)).all():
            raise MaskError(f"mask {path} must hold only 0 (missing) and 1 (known)")
    else:
        raise MaskError(f"mask file must be .png, .npy or .npz, got {path.name}")
    return check_mask(array.astype(np.float32), images_shape)


def check_mask(mask: np.ndarray, images_shape: tuple[int, ...]) -> np.ndarray:
    """Check a mask against the images and return it as float32 ``(N, H, W, 1)``.

    Accepted shapes: ``(H, W)``, ``(H, W, 1)``, ``(N, H, W)``, ``(N, H, W, 1)`` and
    ``(N, H, W, C)`` with every channel equal. Values must be 0 or 1.

    Args:
        mask: the mask (numpy or jax), 1 = known, 0 = missing.
        images_shape: ``(N, H, W, C)`` of the images.

    Returns:
        float32 ``(N, H, W, 1)``.

    Raises:
        MaskError: the shape does not fit, values other than 0/1, or an image whose mask has
            no missing pixel (nothing to inpaint) or no known pixel (nothing to match).

    Example:
        >>> check_mask(np.ones((2, 2)), (1, 2, 2, 3))
        Traceback (most recent call last):
        ...
        jaxgan.apps.masks.MaskError: mask has no missing pixel in image 0: nothing to inpaint; ...

    """
    n, h, w = _shape(images_shape)
    mask = np.asarray(mask, np.float32)
    original = mask.shape
    if mask.ndim == 2:
        mask = mask[None, :, :, None]
    elif mask.ndim == 3:
        mask = mask[None] if mask.shape[-1] == 1 and mask.shape[:2] == (h, w) else mask[..., None]
    if mask.ndim == 4 and mask.shape[-1] > 1:
        if not (mask == mask[..., :1]).all():
            raise MaskError("a mask with channels must be equal in every channel")
        mask = mask[..., :1]
    if mask.ndim != 4 or mask.shape[1:3] != (h, w) or mask.shape[0] not in (1, n):
        raise MaskError(
            f"mask of shape {original} does not fit images {tuple(images_shape)}: give (H, W) = "
            f"({h}, {w}) for all images or ({n}, {h}, {w}, 1) for each"
        )
    if not np.isin(mask, (0.0, 1.0)).all():
        raise MaskError("mask values must be 0 (missing) or 1 (known)")
    mask = np.broadcast_to(mask, (n, h, w, 1)).copy()
    known = mask.reshape(n, -1).sum(axis=1)
    if (known == h * w).any():
        first = int(np.argmax(known == h * w))
        raise MaskError(
            f"mask has no missing pixel in image {first}: nothing to inpaint; use jaxgan invert "
            "(or mask=None) to project whole images"
        )
    if (known == 0).any():
        first = int(np.argmax(known == 0))
        raise MaskError(
            f"mask has no known pixel in image {first}: nothing to match the "
            "generator to; keep some pixels"
        )
    return mask


def make_mask(spec: str, images_shape: tuple[int, ...], *, seed: int = 0) -> np.ndarray:
    """Build a mask from a specification (the ``--mask`` of ``jaxgan inpaint``).

    Specifications: ``center`` (half the side) or ``center:S`` (an S×S hole); ``boxes`` (3
    boxes of 8) or ``boxes:K:S``; ``pixels:F`` (drop a fraction F of the pixels);
    ``half:left|right|top|bottom``; ``file:PATH`` (a PNG or numpy mask, see ``load_mask``).

    Args:
        spec: the specification.
        images_shape: ``(N, H, W, C)`` of the images.
        seed: seed of the random kinds (boxes, pixels).

    Returns:
        float32 mask ``(N, H, W, 1)``, 1 = known, checked with ``check_mask``.

    Raises:
        MaskError: an unknown or malformed specification.

    Example:
        >>> make_mask("half:top", (1, 4, 4, 1))[0, :, 0, 0].tolist()
        [0.0, 0.0, 1.0, 1.0]

    """
    kind, _, arg = spec.partition(":")
    try:
        if kind == "center":
            mask = center_mask(images_shape, int(arg) if arg else None)
        elif kind == "boxes":
            count, _, size = arg.partition(":") if arg else ("3", "", "8")
            mask = box_mask(images_shape, int(count), int(size or 8), seed=seed)
        elif kind == "pixels":
            mask = pixel_mask(images_shape, float(arg or 0.5), seed=seed)
        elif kind == "half":
            mask = half_mask(images_shape, arg or "left")
        elif kind == "file":
            return load_mask(arg, images_shape)
        else:
            raise MaskError(f"unknown mask {spec!r}; use one of {', '.join(MASK_KINDS)}")
    except ValueError as err:
        if isinstance(err, MaskError):
            raise
        raise MaskError(
            f"malformed mask {spec!r} ({err}); use one of {', '.join(MASK_KINDS)}"
        ) from None
    return check_mask(mask, images_shape)
