"""Pixel-space image metrics, per image and optionally over a region: PSNR, SSIM and L1.

Written in JAX (jit-friendly, batched). ``ssim`` follows scikit-image's
``structural_similarity`` with its defaults (7×7 uniform window, sample covariance, K1 = 0.01,
K2 = 0.03, borders mirrored as in ``scipy.ndimage``'s ``reflect`` mode); over the whole image it
averages the SSIM map with the 3-pixel border cropped, as scikit-image does, and over a region
it averages the (uncropped) map over the region's pixels. ``tests/test_inpaint.py`` checks it
against scikit-image. Images are ``(N, H, W, C)`` with values in ``[0, data_range]``; a region
is ``(N, H, W, 1)`` with 1 on the pixels that count (e.g. the hole of an inpainting mask).

Reference: Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment:
from error visibility to structural similarity", IEEE TIP 2004.

Example:
    >>> a = jnp.zeros((1, 8, 8, 1)); b = a.at[0, 0, 0, 0].set(0.5)
    >>> round(float(psnr(a, b, data_range=1.0)[0]), 2)   # MSE = 0.25 / 64
    24.08
    >>> float(ssim(a, a)[0])
    1.0

"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = ["mean_abs_error", "psnr", "ssim", "ssim_map"]


def _region_mean(values: Array, region: Array | None) -> Array:
    """Mean over (H, W, C) of each image, over the region's pixels only when given."""
    if region is None:
        return jnp.mean(values, axis=(1, 2, 3))
    weights = jnp.broadcast_to(region, values.shape).astype(values.dtype)
    return jnp.sum(values * weights, axis=(1, 2, 3)) / jnp.sum(weights, axis=(1, 2, 3))


@jax.jit
def mean_abs_error(a: Array, b: Array, region: Array | None = None) -> Array:
    """Mean absolute difference of each pair of images (over ``region`` when given).

    Args:
        a: ``(N, H, W, C)``.
        b: ``(N, H, W, C)``.
        region: ``(N, H, W, 1)`` 0/1 weights, or None for every pixel.

    Returns:
        ``(N,)``.

    Example:
        >>> mean_abs_error(jnp.zeros((1, 2, 2, 1)), jnp.ones((1, 2, 2, 1))).tolist()
        [1.0]

    """
    return _region_mean(jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32)), region)


@functools.partial(jax.jit, static_argnames="data_range")
def psnr(a: Array, b: Array, region: Array | None = None, *, data_range: float = 1.0) -> Array:
    """Peak signal-to-noise ratio ``10·log10(R² / MSE)`` of each pair (over ``region``).

    Args:
        a: ``(N, H, W, C)`` in ``[0, data_range]``.
        b: ``(N, H, W, C)``.
        region: ``(N, H, W, 1)`` 0/1 weights, or None for every pixel.
        data_range: the value range R.

    Returns:
        ``(N,)`` in dB (inf for identical images).

    Example:
        >>> round(float(psnr(jnp.zeros((1, 2, 2, 1)), jnp.full((1, 2, 2, 1), 0.1))[0]), 4)
        20.0

    """
    mse = _region_mean((a.astype(jnp.float32) - b.astype(jnp.float32)) ** 2, region)
    return 10.0 * jnp.log10(data_range**2 / mse)


def _box_mean(x: Array, win: int) -> Array:
    """Mean over a ``win`` × ``win`` window, borders mirrored (scipy ``reflect``)."""
    pad = win // 2
    padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    total = jax.lax.reduce_window(padded, 0.0, jax.lax.add, (1, win, win, 1), (1, 1, 1, 1), "VALID")
    return total / win**2


@functools.partial(jax.jit, static_argnames=("data_range", "win_size"))
def ssim_map(a: Array, b: Array, *, data_range: float = 1.0, win_size: int = 7) -> Array:
    """Compute the local SSIM of every pixel (scikit-image's ``full=True`` map).

    Args:
        a: ``(N, H, W, C)`` in ``[0, data_range]``.
        b: ``(N, H, W, C)``.
        data_range: the value range.
        win_size: odd side of the uniform window.

    Returns:
        ``(N, H, W, C)``.

    Example:
        >>> ssim_map(jnp.zeros((1, 9, 9, 1)), jnp.zeros((1, 9, 9, 1))).shape
        (1, 9, 9, 1)

    """
    a, b = a.astype(jnp.float32), b.astype(jnp.float32)
    cov_norm = win_size**2 / (win_size**2 - 1.0)  # sample covariance
    ux, uy = _box_mean(a, win_size), _box_mean(b, win_size)
    vx = cov_norm * (_box_mean(a * a, win_size) - ux * ux)
    vy = cov_norm * (_box_mean(b * b, win_size) - uy * uy)
    vxy = cov_norm * (_box_mean(a * b, win_size) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))


@functools.partial(jax.jit, static_argnames=("data_range", "win_size"))
def ssim(
    a: Array, b: Array, region: Array | None = None, *, data_range: float = 1.0, win_size: int = 7
) -> Array:
    """Mean structural similarity of each pair of images.

    Without a region: the SSIM map averaged with its ``win_size // 2`` border cropped (equal to
    ``skimage.metrics.structural_similarity(a, b, data_range=R, channel_axis=-1)``). With a
    region: the map averaged over the region's pixels.

    Args:
        a: ``(N, H, W, C)`` in ``[0, data_range]``.
        b: ``(N, H, W, C)``.
        region: ``(N, H, W, 1)`` 0/1 weights, or None.
        data_range: the value range.
        win_size: odd side of the uniform window.

    Returns:
        ``(N,)`` in [-1, 1].

    Example:
        >>> x = jnp.linspace(0, 1, 64).reshape(1, 8, 8, 1)
        >>> round(float(ssim(x, x)[0]), 3), round(float(ssim(x, 1.0 - x)[0]), 3)  # inverted
        (1.0, -0.955)

    """
    full = ssim_map(a, b, data_range=data_range, win_size=win_size)
    if region is not None:
        return _region_mean(full, region)
    pad = win_size // 2
    return jnp.mean(full[:, pad:-pad, pad:-pad], axis=(1, 2, 3))
