"""GAN losses as small pure functions of discriminator logits.

Every discriminator loss takes ``(real_logits, fake_logits)`` and every generator loss takes
``fake_logits``; both return a scalar mean over the batch. Logits are the raw outputs of the
discriminator: for the probabilistic losses ``D(x) = sigmoid(logit)``. ``LOSSES`` maps a name to
its ``GANLoss`` pair; ``get_loss(name)`` raises a one-line error for an unknown name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


def non_saturating_d_loss(real_logits: Array, fake_logits: Array) -> Array:
    """Binary cross-entropy of D: ``−log D(x) − log(1 − D(G(z)))`` (Goodfellow et al. 2014).

    In logits: ``softplus(−r) + softplus(f)``. Shared by the minimax and non-saturating games.

    Args:
        real_logits: D's logits on real samples, shape (B,).
        fake_logits: D's logits on generated samples, shape (B,).

    Returns:
        Scalar mean loss.

    Example:
        >>> float(non_saturating_d_loss(jnp.zeros(2), jnp.zeros(2)))  # 2·log 2
        1.386...

    """
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_g_loss(fake_logits: Array) -> Array:
    """Compute the seed's generator loss ``−log D(G(z)) = softplus(−f)`` (non-saturating).

    Args:
        fake_logits: D's logits on generated samples.

    Returns:
        Scalar mean loss.

    Example:
        >>> float(non_saturating_g_loss(jnp.zeros(3)))  # log 2
        0.693...

    """
    return jnp.mean(jax.nn.softplus(-fake_logits))


def minimax_g_loss(fake_logits: Array) -> Array:
    """Compute the original saturating generator loss ``log(1 − D(G(z))) = −softplus(f)``.

    Args:
        fake_logits: D's logits on generated samples.

    Returns:
        Scalar mean loss (minimised by G).

    Example:
        >>> float(minimax_g_loss(jnp.zeros(3)))  # −log 2
        -0.693...

    """
    return -jnp.mean(jax.nn.softplus(fake_logits))


def hinge_d_loss(real_logits: Array, fake_logits: Array) -> Array:
    """Hinge loss of D: ``relu(1 − r) + relu(1 + f)`` (Lim & Ye 2017; SNGAN, BigGAN).

    Args:
        real_logits: D's outputs on real samples.
        fake_logits: D's outputs on generated samples.

    Returns:
        Scalar mean loss.

    Example:
        >>> float(hinge_d_loss(jnp.array([2.0, 0.5]), jnp.array([-2.0, 0.0])))
        0.75

    """
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def hinge_g_loss(fake_logits: Array) -> Array:
    """Compute the generator loss of the hinge game: ``−f``.

    Args:
        fake_logits: D's outputs on generated samples.

    Returns:
        Scalar mean loss.

    Example:
        >>> float(hinge_g_loss(jnp.array([1.0, 3.0])))
        -2.0

    """
    return -jnp.mean(fake_logits)


def wasserstein_d_loss(real_logits: Array, fake_logits: Array) -> Array:
    """Critic loss of WGAN: ``f − r`` (Arjovsky et al. 2017); pair it with a gradient penalty.

    Args:
        real_logits: critic values on real samples.
        fake_logits: critic values on generated samples.

    Returns:
        Scalar mean loss (the negated Wasserstein estimate).

    Example:
        >>> float(wasserstein_d_loss(jnp.array([3.0]), jnp.array([1.0])))
        -2.0

    """
    return jnp.mean(fake_logits) - jnp.mean(real_logits)


def least_squares_d_loss(real_logits: Array, fake_logits: Array) -> Array:
    """LSGAN loss of D with targets b=1 (real), a=0 (fake): ``½(r − 1)² + ½f²`` (Mao et al. 2017).

    Args:
        real_logits: D's outputs on real samples.
        fake_logits: D's outputs on generated samples.

    Returns:
        Scalar mean loss.

    Example:
        >>> float(least_squares_d_loss(jnp.array([0.0]), jnp.array([1.0])))
        1.0

    """
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits**2)


def least_squares_g_loss(fake_logits: Array) -> Array:
    """LSGAN loss of G with target c=1: ``½(f − 1)²``.

    Args:
        fake_logits: D's outputs on generated samples.

    Returns:
        Scalar mean loss.

    Example:
        >>> float(least_squares_g_loss(jnp.array([3.0])))
        2.0

    """
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)


def auxiliary_class_loss(class_logits: Array, labels: Array) -> Array:
    """AC-GAN's auxiliary classification loss: the mean cross-entropy ``−log p(y | x)``.

    ``p(· | x) = softmax(class_logits)`` is the discriminator's auxiliary classifier (Odena et
    al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"). ``jaxgan.steps``
    adds ``StepConfig.ac_weight`` times this loss on the *real* batch to D's loss and on the
    *generated* batch (with its conditioning labels) to G's loss, as PyTorch-StudioGAN's "ACGAN"
    does (``d_cond_mtd="AC"``, ``aux_cls_type="W/O"``: ``cond_lambda`` · CE(real) for D,
    ``cond_lambda`` · CE(fake) for G).

    Args:
        class_logits: the auxiliary head's logits, shape (B, num_classes).
        labels: integer class labels, shape (B,).

    Returns:
        Scalar mean loss (in nats).

    Example:
        >>> float(auxiliary_class_loss(jnp.zeros((2, 4)), jnp.array([0, 3])))  # log 4
        1.3862943649291992

    """
    log_p = jax.nn.log_softmax(class_logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=-1))


class GANLoss(NamedTuple):
    """A discriminator loss and the generator loss of the same game.

    Attributes:
        d_loss: ``(real_logits, fake_logits) -> scalar``.
        g_loss: ``fake_logits -> scalar``.

    """

    d_loss: Callable[[Array, Array], Array]
    g_loss: Callable[[Array], Array]


LOSSES: dict[str, GANLoss] = {
    "non_saturating": GANLoss(non_saturating_d_loss, non_saturating_g_loss),
    "minimax": GANLoss(non_saturating_d_loss, minimax_g_loss),
    "hinge": GANLoss(hinge_d_loss, hinge_g_loss),
    "wasserstein": GANLoss(wasserstein_d_loss, hinge_g_loss),
    "least_squares": GANLoss(least_squares_d_loss, least_squares_g_loss),
}


def get_loss(loss: str | GANLoss) -> GANLoss:
    """Look up a loss pair by name, or pass a ``GANLoss`` through unchanged.

    Args:
        loss: one of ``LOSSES`` (non_saturating, minimax, hinge, wasserstein, least_squares) or a
            user-made ``GANLoss``.

    Returns:
        The ``GANLoss`` pair.

    Example:
        >>> get_loss("hinge").g_loss(jnp.array([2.0])).item()
        -2.0

    """
    if isinstance(loss, GANLoss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(sorted(LOSSES))}")
    return LOSSES[loss]
