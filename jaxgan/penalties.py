"""Discriminator regularisers: the WGAN-GP gradient penalty and the R1 penalty.

Each takes a function ``critic(x) -> logits`` (the discriminator with its parameters closed
over) so it composes with any model and is differentiated through by the D step.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def _per_sample_grad_sq_norm(critic: Callable[[Array], Array], x: Array) -> Array:
    """‖∇ₓ critic(x)_i‖² for each sample i (critic outputs are independent per sample)."""
    grads = jax.grad(lambda inputs: jnp.sum(critic(inputs)))(x)
    return jnp.sum(grads.reshape((x.shape[0], -1)) ** 2, axis=1)


def gradient_penalty(
    critic: Callable[[Array], Array], real: Array, fake: Array, key: Array, target: float = 1.0
) -> Array:
    """WGAN-GP penalty ``E[(‖∇ critic(x̂)‖ − target)²]`` at ``x̂ = εx + (1−ε)x̃`` (Gulrajani 2017).

    Args:
        critic: maps a batch to one output per sample.
        real: real batch (B, ...).
        fake: generated batch of the same shape (treated as a constant).
        key: PRNG key for the interpolation weights ε ~ U[0, 1], one per sample.
        target: the gradient norm to pull towards (1 in the paper).

    Returns:
        Scalar penalty (multiply by λ = 10 as in the paper).

    Example:
        >>> critic = lambda x: 3.0 * x.reshape((x.shape[0], -1)).sum(axis=1)
        >>> x = jnp.ones((4, 2))
        >>> float(gradient_penalty(critic, x, -x, jax.random.key(0)))  # (√18 − 1)²
        10.51...

    """
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype)
    mixed = eps * real + (1.0 - eps) * jax.lax.stop_gradient(fake)
    norms = jnp.sqrt(_per_sample_grad_sq_norm(critic, mixed) + 1e-12)
    return jnp.mean((norms - target) ** 2)


def r1_penalty(critic: Callable[[Array], Array], real: Array) -> Array:
    """R1 penalty ``E[‖∇ₓ D(x)‖²]`` on real data (Mescheder et al. 2018).

    Args:
        critic: maps a batch to one logit per sample.
        real: real batch (B, ...).

    Returns:
        Scalar penalty (the paper multiplies it by γ/2).

    Example:
        >>> critic = lambda x: 2.0 * x.sum(axis=1)
        >>> float(r1_penalty(critic, jnp.ones((3, 5))))  # 5 · 2²
        20.0

    """
    return jnp.mean(_per_sample_grad_sq_norm(critic, real))
