"""Fresh synthetic training data from a trained GAN, on the device: ``(x, y)`` batches, no files.

``synthetic_batch(state, key, index, batch_size)`` is one jitted, pure draw: batch ``index`` takes
its noise from ``fold_in(key, index)``, so any batch can be drawn again, in any order, and two
streams with different keys never share noise. A conditional generator gets labels: balanced
(``(index · batch_size + arange(batch_size)) mod num_classes``, every class equally often over
whole cycles) or, with ``balanced=False``, uniform draws as in training. ``synthetic_stream``
yields those batches one after another, as uint8 images (the same map as
``jaxgan.data.to_uint8_images``, computed on the device in float32) so that a JAX training loop
can mix them with real uint8 data; ``jaxgan export`` writes the same draws to files.

Truncation ψ ∈ (0, 1] scales the noise, ``z = ψ · z``: samples move towards the generator's
typical output (better quality, less diversity); ψ = 1 is the untruncated model.

Example:
    >>> import jaxgan
    >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
    ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
    >>> x, y = next(synthetic_stream(state, jax.random.key(1), 4))
    >>> x.shape, x.dtype, y
    ((4, 28, 28, 1), dtype('uint8'), None)

"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import partial

import jax
import jax.numpy as jnp

from jaxgan.state import GANState, generate, sample_latent

Array = jax.Array

__all__ = ["check_truncation", "quantise", "synthetic_batch", "synthetic_stream"]


def check_truncation(truncation: float) -> float:
    """Check a truncation ψ: a number in (0, 1].

    Args:
        truncation: the factor the noise is scaled by.

    Returns:
        ``truncation`` as a float.

    Raises:
        ValueError: outside (0, 1] or not a number.

    Example:
        >>> check_truncation(0.7)
        0.7

    """
    if isinstance(truncation, bool) or not isinstance(truncation, int | float):
        raise ValueError(f"truncation must be a number in (0, 1], got {truncation!r}")
    if not 0 < truncation <= 1:
        raise ValueError(
            f"truncation must be in (0, 1] (1: no truncation; 0.5: half the noise), "
            f"got {truncation}"
        )
    return float(truncation)


def quantise(images: Array) -> Array:
    """Map float images in [-1, 1] to uint8 pixels on the device (round half to even, clipped).

    Args:
        images: float images, e.g. a generator's tanh output.

    Returns:
        uint8 images of the same shape: −1 → 0, 1 → 255.

    Example:
        >>> quantise(jnp.array([-1.0, 0.0, 1.0])).tolist()
        [0, 128, 255]

    """
    scaled = (images.astype(jnp.float32) + 1.0) * 127.5
    return jnp.clip(jnp.round(scaled), 0, 255).astype(jnp.uint8)


@partial(jax.jit, static_argnames=("batch_size", "balanced"))
def synthetic_batch(
    state: GANState,
    key: Array,
    index: int | Array,
    batch_size: int,
    truncation: float | Array = 1.0,
    balanced: bool = True,
) -> tuple[Array, Array | None]:
    """Draw batch number ``index`` of synthetic examples: pure, jitted, keyed by ``fold_in``.

    Args:
        state: a trained ``GANState`` (EMA weights are used when it keeps them).
        key: the stream's PRNG key.
        index: the batch number (traced: one compilation serves every batch).
        batch_size: examples per batch (static).
        truncation: ψ in (0, 1], the factor on the noise (checked by the callers).
        balanced: conditional runs: cycle through the classes (True) or draw labels uniformly.

    Returns:
        ``(images float32 in [-1, 1], labels int32 (batch_size,) or None when unconditional)``.

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
        >>> synthetic_batch(state, jax.random.key(1), 0, 2)[0].shape
        (2, 28, 28, 1)

    """
    batch_key = jax.random.fold_in(key, index)
    noise_key = jax.random.fold_in(batch_key, 0)
    z = truncation * sample_latent(noise_key, batch_size, state.config.latent_dim)
    labels = None
    num_classes = state.config.num_classes
    if num_classes is not None:
        if balanced:
            labels = (index * batch_size + jnp.arange(batch_size)) % num_classes
        else:
            labels = jax.random.randint(
                jax.random.fold_in(batch_key, 1), (batch_size,), 0, num_classes
            )
        labels = labels.astype(jnp.int32)
    return generate(state, z, labels), labels


def synthetic_stream(
    state: GANState,
    key: Array,
    batch_size: int,
    *,
    truncation: float = 1.0,
    balanced: bool = True,
    uint8: bool = True,
    start: int = 0,
    count: int | None = None,
) -> Iterator[tuple[Array, Array | None]]:
    """Yield fresh synthetic ``(x, y)`` batches on the device, batch ``start`` onwards.

    Args:
        state: a trained ``GANState``.
        key: the stream's PRNG key (batch ``i`` uses ``fold_in(key, i)``).
        batch_size: examples per batch.
        truncation: ψ in (0, 1].
        balanced: conditional runs: balanced labels (True) or uniform draws.
        uint8: yield uint8 images (as ``jaxgan.data`` holds real ones); False: float in [-1, 1].
        start: the first batch number (resume a stream where it stopped).
        count: stop after this many batches (None: never stop).

    Returns:
        An iterator of ``(images, labels or None)`` device arrays.

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
        >>> len(list(synthetic_stream(state, jax.random.key(1), 2, count=3)))
        3

    """
    truncation = check_truncation(truncation)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    numbers = itertools.count(start) if count is None else range(start, start + count)
    for index in numbers:
        x, y = synthetic_batch(state, key, index, batch_size, truncation, balanced)
        yield (quantise(x) if uint8 else x), y
