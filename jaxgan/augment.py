"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) and PacGAN packing.

DiffAugment applies the same family of random, differentiable transformations to real and
generated images before the discriminator sees them (in both the D and the G step), so D cannot
overfit a small dataset while G still receives gradients through the transformation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array
AUGMENTATIONS = ("color", "translation", "cutout")


def _color(x: Array, key: Array) -> Array:
    kb, ks, kc = jax.random.split(key, 3)
    b = x.shape[0]
    shape = (b,) + (1,) * (x.ndim - 1)
    x = x + (jax.random.uniform(kb, shape, x.dtype) - 0.5)  # brightness
    mean = jnp.mean(x, axis=-1, keepdims=True)
    x = (x - mean) * (jax.random.uniform(ks, shape, x.dtype) * 2.0) + mean  # saturation
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (jax.random.uniform(kc, shape, x.dtype) + 0.5) + mean  # contrast


def _translation(x: Array, key: Array, ratio: float = 0.125) -> Array:
    b, h, w, _ = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    kx, ky = jax.random.split(key)
    dy = jax.random.randint(ky, (b,), -sh, sh + 1)
    dx = jax.random.randint(kx, (b,), -sw, sw + 1)
    padded = jnp.pad(x, ((0, 0), (sh, sh), (sw, sw), (0, 0)))

    def shift(img, oy, ox):
        return jax.lax.dynamic_slice(img, (sh - oy, sw - ox, 0), (h, w, img.shape[-1]))

    return jax.vmap(shift)(padded, dy, dx)


def _cutout(x: Array, key: Array, ratio: float = 0.5) -> Array:
    b, h, w, _ = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ky, kx = jax.random.split(key)
    cy = jax.random.randint(ky, (b, 1, 1), 0, h + (1 - ch % 2))
    cx = jax.random.randint(kx, (b, 1, 1), 0, w + (1 - cw % 2))
    rows = jnp.arange(h)[None, :, None]
    cols = jnp.arange(w)[None, None, :]
    inside = (jnp.abs(rows - cy) < ch / 2) & (jnp.abs(cols - cx) < cw / 2)
    return x * (~inside)[..., None].astype(x.dtype)


_FUNCTIONS = {"color": _color, "translation": _translation, "cutout": _cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """Split a DiffAugment policy such as ``"color,translation,cutout"`` and validate it.

    Args:
        policy: comma-separated names from ``AUGMENTATIONS``; empty for none.

    Returns:
        The names as a tuple.

    Example:
        >>> parse_policy("translation,cutout")
        ('translation', 'cutout')
    """
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in _FUNCTIONS]
    if unknown:
        raise ValueError(
            f"unknown augmentation {unknown[0]!r}: use a comma list of {', '.join(AUGMENTATIONS)}"
        )
    return names


def diff_augment(x: Array, key: Array, policy: str = "color,translation,cutout") -> Array:
    """Apply DiffAugment's random differentiable transformations to a batch of NHWC images.

    Each image gets its own random brightness/saturation/contrast (``color``), shift by up to 1/8
    of its size with zero fill (``translation``) and a zeroed square of half its size
    (``cutout``); gradients flow to ``x``.

    Args:
        x: images (B, H, W, C).
        key: PRNG key.
        policy: comma-separated transformations, applied in order.

    Returns:
        Augmented images, same shape and dtype.

    Example:
        >>> x = jnp.ones((2, 8, 8, 3))
        >>> jax.eval_shape(diff_augment, x, jax.random.key(0)).shape  # shapes only
        (2, 8, 8, 3)
    """
    names = parse_policy(policy)
    if names and x.ndim != 4:
        raise ValueError(f"DiffAugment works on NHWC image batches, got shape {x.shape}")
    for name, k in zip(names, jax.random.split(key, max(len(names), 1)), strict=False):
        x = _FUNCTIONS[name](x, k)
    return x


def pack(x: Array, m: int) -> Array:
    """Group ``m`` consecutive samples into one (PacGAN, Lin et al. 2018), along the last axis.

    Args:
        x: samples (B, ..., C) with B divisible by ``m``.
        m: packing degree.

    Returns:
        (B/m, ..., m·C): e.g. points (B, 2) → (B/m, 2m); images (B, H, W, C) → (B/m, H, W, m·C).

    Example:
        >>> pack(jnp.arange(8.0).reshape(4, 2), 2).tolist()
        [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    """
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"batch of {x.shape[0]} does not split into packs of {m}")
    grouped = x.reshape((x.shape[0] // m, m, *x.shape[1:]))
    grouped = jnp.moveaxis(grouped, 1, -2)  # (B/m, ..., m, C)
    return grouped.reshape((*grouped.shape[:-2], -1))
