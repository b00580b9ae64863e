"""Inpainting baselines that need no generator: the training mean, the nearest neighbour, diffusion.

Each takes the corrupted images ``(N, H, W, C)`` in [-1, 1] and the mask ``(N, H, W, 1)`` (1 =
known) and returns filled images whose known pixels are unchanged, so they are scored exactly
like the GAN's output:

- ``mean_fill``: the hole takes the per-pixel mean of the training images.
- ``nearest_neighbour_fill``: the hole takes the pixels of the training image closest to the
  corrupted one on its known pixels (squared distance over the known pixels only).
- ``jaxgan.apps.blend.harmonic_fill``: classic diffusion inpainting (``Δx = 0`` in the hole).

Example:
    >>> train = jnp.stack([jnp.full((2, 2, 1), v) for v in (-1.0, 0.5)])
    >>> y = jnp.full((1, 2, 2, 1), 0.4); m = jnp.ones((1, 2, 2, 1)).at[0, 0, 0].set(0.0)
    >>> float(nearest_neighbour_fill(y, m, train)[0, 0, 0, 0])   # from the image of 0.5s
    0.5
    >>> float(mean_fill(y, m, train)[0, 0, 0, 0])
    -0.25

"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.apps.blend import harmonic_fill, paste

Array = jax.Array

__all__ = [
    "BASELINES",
    "harmonic_fill",
    "mean_fill",
    "nearest_neighbour_fill",
    "nearest_neighbours",
]

BASELINES = ("mean", "nearest", "harmonic")
"""The baselines of ``jaxgan inpaint --baselines``: training mean, nearest neighbour, diffusion."""


@jax.jit
def mean_fill(images: Array, mask: Array, train_images: Array) -> Array:
    """Fill the hole with the per-pixel mean of the training images.

    Args:
        images: ``(N, H, W, C)`` in [-1, 1].
        mask: ``(N, H, W, 1)``, 1 = known.
        train_images: ``(T, H, W, C)`` in [-1, 1].

    Returns:
        ``(N, H, W, C)``.

    Example:
        >>> mean_fill(jnp.zeros((1, 1, 1, 1)), jnp.zeros((1, 1, 1, 1)),
        ...           jnp.ones((3, 1, 1, 1))).tolist()
        [[[[1.0]]]]

    """
    mean = jnp.mean(jnp.asarray(train_images, jnp.float32), axis=0, keepdims=True)
    return paste(images, mask, jnp.broadcast_to(mean, images.shape))


@jax.jit
def _chunk_distances(masked: Array, mask_c: Array, chunk: Array) -> Array:
    """``Σ_p M_p (y_p − t_p)²`` up to the per-image constant ``Σ M y²``: (N, chunk).

    ``mask_c`` is (N, P), or (1, P) when every image has the same mask (half the work).
    """
    return -2.0 * masked @ chunk.T + mask_c @ (chunk * chunk).T


def nearest_neighbours(
    images: Array, mask: Array, train_images: Array, *, chunk_size: int = 8192
) -> np.ndarray:
    """Index of the training image nearest to each image on its known pixels.

    The training set is scanned in chunks of one compiled size (the last is padded with
    copies of its first image), so memory stays ``N × chunk_size``.

    Args:
        images: ``(N, H, W, C)``.
        mask: ``(N, H, W, 1)``, 1 = known.
        train_images: ``(T, H, W, C)``, numpy or jax (float, same range as ``images``).
        chunk_size: training images compared per call.

    Returns:
        int ``(N,)`` indices into ``train_images``.

    Example:
        >>> nearest_neighbours(jnp.ones((1, 1, 2, 1)), jnp.ones((1, 1, 2, 1)),
        ...                    np.stack([np.zeros((1, 2, 1)), np.ones((1, 2, 1))])).tolist()
        [1]

    """
    n = images.shape[0]  # the small operands are prepared by numpy: no program per shape
    mask_c = np.broadcast_to(np.asarray(mask, np.float32), images.shape).reshape(n, -1)
    masked = mask_c * np.asarray(images, np.float32).reshape(n, -1)
    if (mask_c == mask_c[:1]).all():  # one mask for all: its term is one row
        mask_c = mask_c[:1]
    train = np.asarray(train_images, np.float32).reshape(len(train_images), -1)
    size = min(chunk_size, len(train))
    best = np.full(n, np.inf)
    index = np.zeros(n, np.int64)
    for start in range(0, len(train), size):
        chunk = train[start : start + size]
        if len(chunk) < size:
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], size - len(chunk), axis=0)])
        dist = np.asarray(_chunk_distances(masked, mask_c, chunk))
        local = dist.argmin(axis=1)
        value = dist[np.arange(n), local]
        better = value < best
        best = np.where(better, value, best)
        index = np.where(better, start + local, index)  # a padded copy never wins a tie
    return index


def nearest_neighbour_fill(
    images: Array, mask: Array, train_images: Array, *, chunk_size: int = 8192
) -> Array:
    """Fill the hole from the training image nearest on the known pixels.

    Args:
        images: ``(N, H, W, C)`` in [-1, 1].
        mask: ``(N, H, W, 1)``, 1 = known.
        train_images: ``(T, H, W, C)`` in [-1, 1].
        chunk_size: training images compared per compiled call.

    Returns:
        ``(N, H, W, C)``.

    Example:
        >>> nearest_neighbour_fill(jnp.zeros((1, 1, 2, 1)), jnp.array([[[[1.0], [0.0]]]]),
        ...                        np.ones((1, 1, 2, 1))).tolist()
        [[[[0.0], [1.0]]]]

    """
    index = nearest_neighbours(images, mask, train_images, chunk_size=chunk_size)
    return paste(images, mask, np.asarray(train_images, np.float32)[index])
