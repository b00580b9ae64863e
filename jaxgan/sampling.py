"""Batched generation: one function for a single state or a stack of runs.

``generate_batches`` feeds a generator fixed noise (and labels, for conditional GANs) in batches
of one compiled size, so any number of samples costs one compilation, and returns numpy. A
stacked state (``jaxgan.ensembles``) generates from every run at once with the same noise.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.state import GANState, generate

Array = jax.Array


def is_stacked(state: GANState) -> bool:
    """Whether a state is a stack of runs (its counters have a leading run axis).

    Args:
        state: a ``GANState``.

    Returns:
        True for a stack made by ``jaxgan.ensembles``.

    Example:
        >>> is_stacked(state)  # one run, built by jaxgan.create_state
        False

    """
    return np.ndim(state.g_updates) == 1


@functools.partial(jax.jit, static_argnames="stacked")
def _generate(state: GANState, z: Array, labels: Array | None, stacked: bool) -> Array:
    if stacked:
        return jax.vmap(generate, in_axes=(0, None, None))(state, z, labels)
    return generate(state, z, labels)


def generate_batches(
    state: GANState, z: Array, labels: np.ndarray | Array | None = None, *, batch_size: int = 512
) -> np.ndarray:
    """Generate ``G(z)`` in evaluation mode, ``batch_size`` rows per compiled call; numpy float32.

    The last batch is padded to ``batch_size`` (and the padding dropped), so every call of one
    batch size reuses one compiled program whatever the number of samples.

    Args:
        state: a ``GANState``, or a stack of runs (then every run sees the same ``z``).
        z: noise (N, latent_dim).
        labels: class labels (N,) for a conditional generator, else None.
        batch_size: rows per compiled call.

    Returns:
        (N, ...) samples, or (runs, N, ...) for a stack.

    Example:
        >>> import jaxgan
        >>> z = jaxgan.sample_latent(jax.random.key(1), 3, 100)  # state: a seed-style MLP GAN
        >>> generate_batches(state, z, batch_size=2).shape
        (3, 28, 28, 1)

    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    z = jnp.asarray(z)
    count = z.shape[0]
    stacked = is_stacked(state)
    size = min(batch_size, max(count, 1))
    parts = []
    for start in range(0, count, size):
        zs = z[start : start + size]
        ys = None if labels is None else jnp.asarray(labels[start : start + size])
        short = size - zs.shape[0]
        if short:
            zs = jnp.concatenate([zs, jnp.zeros((short, *zs.shape[1:]), zs.dtype)])
            ys = None if ys is None else jnp.concatenate([ys, jnp.zeros((short,), ys.dtype)])
        out = np.asarray(_generate(state, zs, ys, stacked))
        parts.append(out[:, : size - short] if stacked else out[: size - short])
    if not parts:
        raise ValueError("z holds no noise vectors; ask for at least one sample")
    return np.concatenate(parts, axis=1 if stacked else 0)
