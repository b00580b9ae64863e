import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses, penalties

R = jnp.array([2.0, -1.0])
F = jnp.array([0.5, -3.0])


def sig(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


def test_non_saturating_matches_binary_cross_entropy():
    expected = -np.mean(np.log(sig(R))) - np.mean(np.log(1 - sig(F)))
    np.testing.assert_allclose(losses.non_saturating_d_loss(R, F), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.non_saturating_g_loss(F), -np.mean(np.log(sig(F))), rtol=1e-6)


def test_minimax_generator_loss_is_log_one_minus_d():
    np.testing.assert_allclose(losses.minimax_g_loss(F), np.mean(np.log(1 - sig(F))), rtol=1e-6)


def test_hinge_values():
    # relu(1-2)=0, relu(1+1)=2 -> 1 ; relu(1.5)=1.5, relu(-2)=0 -> .75
    np.testing.assert_allclose(losses.hinge_d_loss(R, F), 1.75)
    np.testing.assert_allclose(losses.hinge_g_loss(F), 1.25)


def test_wasserstein_and_least_squares_values():
    np.testing.assert_allclose(losses.wasserstein_d_loss(R, F), -1.25 - 0.5)
    np.testing.assert_allclose(
        losses.least_squares_d_loss(R, F), 0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2
    )
    np.testing.assert_allclose(losses.least_squares_g_loss(F), 0.5 * (0.25 + 16) / 2)


def test_losses_are_stable_for_huge_logits():
    big = jnp.array([1e4, -1e4])
    for name, pair in losses.LOSSES.items():
        assert np.isfinite(pair.d_loss(big, -big)), name
        assert np.isfinite(pair.g_loss(big)), name


def test_get_loss_names_the_choices():
    assert losses.get_loss("hinge") is losses.LOSSES["hinge"]
    with pytest.raises(ValueError, match=r"choose one of.*hinge"):
        losses.get_loss("nonsaturating")


def jit_penalty(penalty, critic, *args):
    """``penalty(critic, *args)`` as one compiled program (eagerly, each op compiles its own)."""
    return jax.jit(penalty, static_argnums=0)(critic, *args)


def test_gradient_penalty_on_linear_critic_is_hand_computed():
    w = jnp.array([3.0, 4.0])  # |grad| = 5 everywhere

    def critic(x):
        return x @ w

    real = jnp.ones((4, 2))
    value = jit_penalty(penalties.gradient_penalty, critic, real, -real, jax.random.key(0))
    np.testing.assert_allclose(value, (5.0 - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_interpolates_per_sample():
    # critic = 0.5 * |x|^2 -> grad = x, norm = |x_hat|; x_hat = eps*real, fake = 0
    real = jnp.full((3, 1), 2.0)
    key = jax.random.key(1)
    eps = jax.random.uniform(key, (3, 1))
    expected = np.mean((np.abs(2.0 * np.asarray(eps[:, 0])) - 1.0) ** 2)
    value = jit_penalty(
        penalties.gradient_penalty, lambda x: 0.5 * jnp.sum(x**2, axis=1), real, 0 * real, key
    )
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_r1_penalty_hand_computed():
    # D(x) = sum(x^2) -> grad 2x; for x = [1, 2]: |grad|^2 = 4 + 16
    r1 = penalties.r1_penalty
    value = jit_penalty(r1, lambda x: jnp.sum(x**2, axis=1), jnp.array([[1.0, 2.0]]))
    np.testing.assert_allclose(value, 20.0)
    assert math.isclose(float(jit_penalty(r1, lambda x: x[:, 0] * 0, jnp.ones((2, 3)))), 0)
