"""Put an inpainted guess into the known pixels: pasting, Poisson blending and harmonic fill.

All functions take images ``(N, H, W, C)`` and a mask ``(N, H, W, 1)`` with 1 on known pixels
(``jaxgan.apps.masks``), are pure and jit-friendly, and never change a known pixel.

- ``paste``: known pixels from the image, the hole from the guess (Yeh et al.'s first step).
- ``poisson_blend``: gradient-domain blending (Pérez et al. 2003, used by Yeh et al. 2017): the
  hole takes the values ``x`` whose discrete Laplacian equals the guess's, with the known pixels
  as boundary values, so the guess's detail is kept and its offset from the surrounding pixels
  disappears. The linear system on the hole is solved by conjugate gradients (a fixed number of
  iterations under ``jax.jit``, every image its own system with its own step sizes).
- ``harmonic_fill``: the classic diffusion inpainting: the same solve with a zero guidance
  field (``Δx = 0`` in the hole), a baseline that knows nothing about the data.

The Laplacian is the 4-neighbour graph Laplacian of the image grid (neighbours outside the
image are left out, i.e. zero flux across the border).

Example:
    >>> y = jnp.ones((1, 4, 4, 1)); m = jnp.ones((1, 4, 4, 1)).at[:, 1:3, 1:3].set(0.0)
    >>> guess = jnp.full((1, 4, 4, 1), 5.0)   # right shape, wrong offset
    >>> float(poisson_blend(y, m, guess)[0, 1, 1, 0])  # the offset disappears
    1.0

"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = ["BLEND_METHODS", "blend", "harmonic_fill", "laplacian", "paste", "poisson_blend"]

BLEND_METHODS = ("paste", "poisson")
"""The ways ``blend`` can put a generator's reconstruction into the known pixels."""


@jax.jit
def paste(images: Array, mask: Array, fill: Array) -> Array:
    """Keep the known pixels of ``images`` and take the hole from ``fill``: ``M⊙y + (1−M)⊙g``.

    Args:
        images: ``(N, H, W, C)`` images (their hole pixels are ignored).
        mask: ``(N, H, W, 1)``, 1 = known.
        fill: ``(N, H, W, C)`` values for the hole (e.g. ``G(z)``).

    Returns:
        ``(N, H, W, C)``.

    Example:
        >>> paste(jnp.zeros((1, 1, 2, 1)), jnp.array([[[[1.0], [0.0]]]]),
        ...       jnp.ones((1, 1, 2, 1)))[0, 0, :, 0].tolist()
        [0.0, 1.0]

    """
    return mask * images + (1.0 - mask) * fill


@jax.jit
def laplacian(x: Array) -> Array:
    """Apply the 4-neighbour graph Laplacian ``Σ_q (x_p − x_q)`` over in-image neighbours q of p.

    Args:
        x: ``(N, H, W, C)``.

    Returns:
        ``(N, H, W, C)``; zero for a constant image.

    Example:
        >>> laplacian(jnp.zeros((1, 3, 3, 1)).at[0, 1, 1, 0].set(1.0))[0, :, :, 0].tolist()
        [[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]

    """
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    neighbours = (
        padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
    )
    return 4.0 * x - neighbours


def _per_image_dot(a: Array, b: Array) -> Array:
    """``Σ a·b`` over each image, as a matrix-vector product (XLA:CPU reduces slowly)."""
    flat = (a * b).reshape(a.shape[0], -1)
    return flat @ jnp.ones((flat.shape[1],), flat.dtype)


def _conjugate_gradients(operator, rhs: Array, x0: Array, iterations: int) -> Array:
    """Run ``iterations`` steps of CG on ``operator(x) = rhs``, each image its own SPD system."""

    def per_image(v):  # (N,) -> (N, 1, 1, 1), to scale images
        return v.reshape(-1, 1, 1, 1)

    r = rhs - operator(x0)
    state = (x0, r, r, _per_image_dot(r, r))

    def body(_, state):
        x, r, p, rr = state
        ap = operator(p)
        pap = _per_image_dot(p, ap)
        alpha = jnp.where(pap > 0, rr / jnp.where(pap > 0, pap, 1.0), 0.0)
        x = x + per_image(alpha) * p
        r = r - per_image(alpha) * ap
        rr_new = _per_image_dot(r, r)
        beta = jnp.where(rr > 0, rr_new / jnp.where(rr > 0, rr, 1.0), 0.0)
        return x, r, r + per_image(beta) * p, rr_new

    return jax.lax.fori_loop(0, iterations, body, state)[0]


@functools.partial(jax.jit, static_argnames="iterations")
def poisson_blend(images: Array, mask: Array, guide: Array, *, iterations: int = 100) -> Array:
    """Gradient-domain (Poisson) blending of ``guide`` into the hole of ``images``.

    Solves, for every image, ``(L x)_p = (L guide)_p`` at each hole pixel p with ``x = images``
    on the known pixels (``L`` = ``laplacian``): the minimiser of ``‖∇x − ∇guide‖²`` over the
    hole. The system restricted to the hole is symmetric positive definite whenever the image
    has a known pixel; conjugate gradients run ``iterations`` steps from ``paste(images, mask,
    guide)`` (on 28×28 images, 100 steps reach float32 precision for every mask of this
    module, a half-image hole included; larger holes need more).

    Args:
        images: ``(N, H, W, C)`` images; only their known pixels are read.
        mask: ``(N, H, W, 1)``, 1 = known.
        guide: ``(N, H, W, C)`` the guess whose gradients the hole takes (``G(z)``).
        iterations: conjugate-gradient steps (static).

    Returns:
        ``(N, H, W, C)`` blended images, equal to ``images`` on known pixels.

    Example:
        >>> y = jnp.zeros((1, 5, 5, 1)); m = jnp.ones((1, 5, 5, 1)).at[0, 2, 2].set(0.0)
        >>> float(poisson_blend(y, m, jnp.ones_like(y))[0, 2, 2, 0])  # a flat guide: zero
        0.0

    """
    hole = jnp.broadcast_to(1.0 - mask, images.shape)
    known = images * (1.0 - hole)

    def operator(u):  # L restricted to the hole, identity elsewhere
        return hole * laplacian(hole * u) + (1.0 - hole) * u

    rhs = hole * (laplacian(guide) - laplacian(known))
    return known + hole * _conjugate_gradients(operator, rhs, hole * guide, iterations)


def harmonic_fill(images: Array, mask: Array, *, iterations: int = 100) -> Array:
    """Classic diffusion inpainting: fill the hole with the harmonic interpolant of its border.

    ``Δx = 0`` in the hole with ``x = images`` on the known pixels (``poisson_blend`` with a
    flat guide). A baseline: it knows no data, only the surrounding pixels.

    Args:
        images: ``(N, H, W, C)`` images; only their known pixels are read.
        mask: ``(N, H, W, 1)``, 1 = known.
        iterations: conjugate-gradient steps.

    Returns:
        ``(N, H, W, C)`` filled images.

    Example:
        >>> y = jnp.array([[[[0.0], [9.0], [2.0]]]]); m = jnp.array([[[[1.0], [0.0], [1.0]]]])
        >>> float(harmonic_fill(y, m)[0, 0, 1, 0])  # the mean of its two neighbours
        1.0

    """
    return poisson_blend(images, mask, jnp.zeros_like(images), iterations=iterations)


def blend(
    images: Array, mask: Array, guide: Array, method: str = "poisson", *, iterations: int = 100
) -> Array:
    """Blend ``guide`` into the hole of ``images`` by ``method`` (``paste`` or ``poisson``).

    Args:
        images: ``(N, H, W, C)`` images.
        mask: ``(N, H, W, 1)``, 1 = known.
        guide: ``(N, H, W, C)`` reconstruction.
        method: one of ``BLEND_METHODS``.
        iterations: conjugate-gradient steps of the Poisson solve.

    Returns:
        ``(N, H, W, C)``.

    Example:
        >>> blend(jnp.zeros((1, 2, 2, 1)), jnp.ones((1, 2, 2, 1)), jnp.ones((1, 2, 2, 1)),
        ...       "paste").sum().item()
        0.0

    """
    if method == "paste":
        return paste(images, mask, guide)
    if method == "poisson":
        return poisson_blend(images, mask, guide, iterations=iterations)
    raise ValueError(f"blend method must be one of {', '.join(BLEND_METHODS)}, got {method!r}")
