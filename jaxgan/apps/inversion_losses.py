"""The terms of latent-search inpainting and GAN inversion, as small pure functions.

Each returns one value per image (shape ``(B,)``) so that a batch of images × restarts is
optimised as independent problems. Images are ``(B, H, W, C)`` in [-1, 1]; masks ``(B, H, W,
1)`` hold 1 on known pixels (``jaxgan.apps.masks``).

- ``contextual_weights`` / ``contextual_loss``: Yeh et al.'s weighted L1 on the known pixels,
  each weighted by the share of missing pixels around it, so the pixels next to the hole count.
- ``masked_l1`` / ``masked_l2``: the plain losses over the known pixels (for comparison, and for
  inversion of whole images).
- ``prior_loss``: Yeh et al.'s ``log(1 − D(G(z)))`` from D's logit: low where D believes G(z).
- ``latent_norm_penalty``: keeps z near the shell ``‖z‖² ≈ d`` where Gaussian noise lives.
- ``feature_loss``: squared distance between two images' classifier features.

Reference: R. A. Yeh, C. Chen, T. Y. Lim, A. G. Schwing, M. Hasegawa-Johnson, M. N. Do,
"Semantic Image Inpainting with Deep Generative Models", CVPR 2017 (eqs. 3–5).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = [
    "contextual_loss",
    "contextual_weights",
    "feature_loss",
    "latent_norm_penalty",
    "masked_l1",
    "masked_l2",
    "prior_loss",
]


def _sum_per_image(x: Array) -> Array:
    """Sum over every axis but the first, written as a matrix-vector product.

    On XLA:CPU (jax 0.10.2) ``x.reshape(B, -1) @ ones`` ran 5–7× faster than ``jnp.sum(x,
    axis=(1, 2, 3))`` for a (2000, 28, 28, 1) batch (2.3 ms against 12–17 ms), and these sums
    run at every optimisation step.
    """
    flat = x.reshape(x.shape[0], -1)
    return flat @ jnp.ones((flat.shape[1],), flat.dtype)


@functools.partial(jax.jit, static_argnames="window")
def contextual_weights(mask: Array, window: int = 7) -> Array:
    """Yeh et al.'s importance weights: ``W_i = M_i · Σ_{j∈N(i)} (1 − M_j) / |N(i)|``.

    ``N(i)`` is the ``window`` × ``window`` neighbourhood of pixel i (pixels outside the image
    count as known). Known pixels far from the hole get weight 0, missing pixels get 0.

    Args:
        mask: ``(B, H, W, 1)``, 1 = known.
        window: odd side of the neighbourhood (7 in the paper).

    Returns:
        ``(B, H, W, 1)`` weights in [0, 1).

    Example:
        >>> m = jnp.ones((1, 1, 5, 1)).at[0, 0, 2, 0].set(0.0)
        >>> (contextual_weights(m, 3)[0, 0, :, 0] * 9).tolist()
        [0.0, 1.0, 0.0, 1.0, 0.0]

    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd positive size, got {window}")
    kernel = jnp.ones((window, window, 1, 1), jnp.float32) / window**2
    missing = jax.lax.conv_general_dilated(
        (1.0 - mask).astype(jnp.float32),
        kernel,
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return mask * missing


def contextual_loss(generated: Array, images: Array, weights: Array) -> Array:
    """Weighted L1 ``‖W ⊙ (G(z) − y)‖₁`` per image (Yeh et al., eq. 4).

    Args:
        generated: ``(B, H, W, C)`` generator outputs.
        images: ``(B, H, W, C)`` corrupted images (their hole is ignored where W = 0).
        weights: ``(B, H, W, 1)`` from ``contextual_weights`` (or the mask for a plain L1).

    Returns:
        ``(B,)`` sums over pixels and channels.

    Example:
        >>> float(contextual_loss(jnp.ones((1, 2, 2, 1)), jnp.zeros((1, 2, 2, 1)),
        ...                       jnp.full((1, 2, 2, 1), 0.5))[0])
        2.0

    """
    return _sum_per_image(jnp.abs(weights * (generated - images)))


def masked_l1(generated: Array, images: Array, mask: Array) -> Array:
    """Mean absolute error over the known pixels of each image.

    Args:
        generated: ``(B, H, W, C)``.
        images: ``(B, H, W, C)``.
        mask: ``(B, H, W, 1)``, 1 = known (all ones for whole-image inversion).

    Returns:
        ``(B,)``.

    Example:
        >>> float(masked_l1(jnp.ones((1, 1, 2, 1)), jnp.zeros((1, 1, 2, 1)),
        ...                 jnp.array([[[[1.0], [0.0]]]]))[0])
        1.0

    """
    count = _sum_per_image(jnp.broadcast_to(mask, generated.shape))
    return _sum_per_image(mask * jnp.abs(generated - images)) / count


def masked_l2(generated: Array, images: Array, mask: Array) -> Array:
    """Mean squared error over the known pixels of each image (Defense-GAN's projection loss).

    Args:
        generated: ``(B, H, W, C)``.
        images: ``(B, H, W, C)``.
        mask: ``(B, H, W, 1)``, 1 = known.

    Returns:
        ``(B,)``.

    Example:
        >>> float(masked_l2(jnp.full((1, 1, 2, 1), 2.0), jnp.zeros((1, 1, 2, 1)),
        ...                 jnp.ones((1, 1, 2, 1)))[0])
        4.0

    """
    count = _sum_per_image(jnp.broadcast_to(mask, generated.shape))
    return _sum_per_image(mask * (generated - images) ** 2) / count


def prior_loss(d_logits: Array) -> Array:
    """Yeh et al.'s perceptual prior ``log(1 − D(G(z))) = −softplus(logit)`` (eq. 5).

    Minimising it moves G(z) to where D believes it real. Weighted by λ (0.003 in the paper).

    Args:
        d_logits: ``(B,)`` discriminator logits of the generated images.

    Returns:
        ``(B,)``, ≤ 0.

    Example:
        >>> round(float(prior_loss(jnp.zeros(1))[0]), 4)  # log(1 − 1/2)
        -0.6931

    """
    return -jax.nn.softplus(d_logits)


def latent_norm_penalty(z: Array) -> Array:
    """``(‖z‖² / d − 1)²``: zero on the shell where d-dimensional Gaussian noise concentrates.

    Args:
        z: ``(B, d)`` latents.

    Returns:
        ``(B,)``.

    Example:
        >>> float(latent_norm_penalty(jnp.ones((1, 4)))[0]), float(latent_norm_penalty(
        ...     jnp.zeros((1, 4)))[0])
        (0.0, 1.0)

    """
    return (_sum_per_image(z**2) / z.shape[-1] - 1.0) ** 2


def feature_loss(features_a: Array, features_b: Array) -> Array:
    """Mean squared difference of two batches of features (e.g. a classifier's penultimate layer).

    Args:
        features_a: ``(B, F)``.
        features_b: ``(B, F)``.

    Returns:
        ``(B,)``.

    Example:
        >>> float(feature_loss(jnp.ones((1, 4)), jnp.zeros((1, 4)))[0])
        1.0

    """
    return _sum_per_image((features_a - features_b) ** 2) / features_a.shape[-1]
