"""jaxgan's one uint8 ↔ float pair: images to [-1, 1] for models, model outputs back to uint8.

`uint8_to_unit_range` is the pixel map itself (jit-friendly; the metrics' classifiers call it
inside their jitted forward pass), `to_model_input` moves a dataset to the device through it, and
`to_uint8_images` is the inverse quantisation, so training data, classifier inputs and saved or
scored samples share one value grid.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@jax.jit
def uint8_to_unit_range(images: jax.Array) -> jax.Array:
    """Map uint8 pixels to float32 in [-1, 1] as ``(x − 127.5) / 127.5``; jit-friendly.

    ``x − 127.5`` is exact in float32, so the map is odd around 127.5 (pixel ``255 − x`` gives
    exactly minus the value of pixel ``x``) and exact at the ends: 0 → −1.0, 255 → 1.0.

    Args:
        images: uint8 array of any shape (traced or concrete).

    Returns:
        float32 array of the same shape.

    Example:
        >>> uint8_to_unit_range(jnp.array([0, 255], jnp.uint8)).tolist()
        [-1.0, 1.0]

    """
    return (images.astype(jnp.float32) - 127.5) / 127.5


def to_model_input(x: Any, device: Any = None) -> jax.Array:
    """Put examples on the device as float32: uint8 images mapped to [-1, 1], floats as is.

    uint8 data is transferred as uint8 (4× less host→device traffic) and converted on the
    device by `uint8_to_unit_range`: 0 → −1.0, 255 → 1.0. Float data (toy points, images already
    scaled) is cast to float32 and passed through unchanged.

    Args:
        x: uint8 images (N, H, W, C) or float points/images, numpy or jax.
        device: a `jax.Device` or `jax.sharding.Sharding` to place the data on (default: JAX's
            default device).

    Returns:
        A float32 `jax.Array` of the same shape.

    Raises:
        TypeError: x is neither uint8 nor floating point.

    Example:
        >>> to_model_input(np.array([0, 255], np.uint8)).tolist()
        [-1.0, 1.0]

    """
    dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype
    if dtype == np.uint8:
        return uint8_to_unit_range(jax.device_put(x, device))
    if np.issubdtype(dtype, np.floating):
        if isinstance(x, jax.Array):
            return jax.device_put(x.astype(jnp.float32), device)
        return jax.device_put(np.asarray(x, np.float32), device)
    raise TypeError(
        f"to_model_input takes uint8 images or float arrays, got {dtype}; "
        "cast integer data to uint8 (images) or float32 (points) first"
    )


def to_uint8_images(x: Any, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Quantise float images to uint8 on the host, as saving them to PNG would.

    ``round((x − low) / (high − low) · 255)`` in float64, rounding half to even, clipped to
    0..255: with the default range −1 → 0 and 1 → 255, the inverse of `to_model_input`. Quantise
    generated images this way before image metrics so they see the same value grid as real data.

    Args:
        x: float images (numpy or jax); uint8 input is returned unchanged.
        value_range: the ``(low, high)`` that map to 0 and 255 (generators with tanh: (−1, 1)).

    Returns:
        A numpy uint8 array of the same shape.

    Raises:
        TypeError: x is neither uint8 nor floating point.
        ValueError: x holds NaN or infinite values (they have no pixel value; a generator
            that makes them has diverged).

    Example:
        >>> to_uint8_images(np.array([-1.0, 0.0, 1.0])).tolist()
        [0, 128, 255]

    """
    images = np.asarray(x)
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or float, got {images.dtype}")
    if not np.isfinite(images).all():
        bad = int(np.size(images) - np.isfinite(images).sum())
        raise ValueError(
            f"images hold {bad} NaN or infinite values of {images.size}: they have no pixel "
            "value (a generator that makes them has diverged)"
        )
    low, high = value_range
    scaled = (images.astype(np.float64) - low) / (high - low) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
