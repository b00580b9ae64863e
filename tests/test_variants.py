"""Conditional GANs, SN-ResNet, spectral norm, EMA, DiffAugment and packing."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxgan
from jaxgan import augment, models

KEY = jax.random.key(3)


def test_spectral_norm_estimate_converges_to_top_singular_value():
    layer = nnx.Linear(6, 4, rngs=nnx.Rngs(0))
    sn = models.spectral_norm(layer, rngs=nnx.Rngs(1))
    true_sigma = np.linalg.svd(np.asarray(layer.kernel[...]), compute_uv=False)[0]
    x = jnp.ones((2, 6))
    for _ in range(30):
        sn(x)  # training mode: one power-iteration step per call
    np.testing.assert_allclose(float(sn.sigma[...]), true_sigma, rtol=1e-3)
    # the weight used in the forward pass has spectral norm ≈ 1; the parameter is untouched
    normalised = np.asarray(sn.normalised_weight()[0])
    np.testing.assert_allclose(np.linalg.svd(normalised, compute_uv=False)[0], 1.0, rtol=1e-3)
    np.testing.assert_allclose(
        np.linalg.svd(np.asarray(layer.kernel[...]), compute_uv=False)[0], true_sigma
    )
    np.testing.assert_allclose(sn(x), (x @ normalised) + layer.bias[...][None, :], rtol=1e-5)
    sn.eval()
    frozen_u = np.asarray(sn.u[...])
    sn(x)
    np.testing.assert_array_equal(sn.u[...], frozen_u)  # evaluation mode keeps u


def test_sn_resnet_matches_the_sngan_cifar_sizes():
    # shapes only: nnx.eval_shape builds the modules without computing their weights
    g = nnx.eval_shape(lambda: models.ResNetGenerator(rngs=nnx.Rngs(0)))
    d = nnx.eval_shape(lambda: models.ResNetDiscriminator(rngs=nnx.Rngs(0)))

    def count(m):
        return sum(x.size for x in jax.tree.leaves(nnx.state(m, nnx.Param)))

    # SNGAN's CIFAR-10 ResNet: G ≈ 4.3 M, D ≈ 1.0 M parameters
    assert 4.2e6 < count(g) < 4.4e6
    assert 0.95e6 < count(d) < 1.1e6


def tiny_conditional_state(**overrides):
    """A width-4 conditional DCGAN: conditional BatchNorm in G, a projection D (the conditional
    SN-ResNet trains end to end in test_research_presets.py; this pair compiles faster)."""
    return jaxgan.create_state(
        lambda rngs: models.DCGANGenerator(latent_dim=8, width=4, num_classes=3, rngs=rngs),
        lambda rngs: models.DCGANDiscriminator(width=4, num_classes=3, rngs=rngs),
        key=jax.random.key(0),
        num_classes=3,
        loss="hinge",
        **overrides,
    )


@functools.cache
def conditional_run():
    """Two iterations of the conditional DCGAN with EMA 0.9 and DiffAugment, one fit call each.

    One compiled step covers conditioning, EMA and augmentation. Returns the final state, the
    two histories, the generator's parameters before, between and after, and the EMA between.
    """
    state = tiny_conditional_state(ema_decay=0.9, augment="translation,cutout")
    x = jax.random.uniform(KEY, (8, 28, 28, 1), minval=-1, maxval=1)
    y = jnp.array([0, 1, 2, 0, 1, 2, 0, 1])
    params, histories, emas = [jax.tree.map(np.asarray, state.generator.params)], [], []
    for _ in range(2):  # resumes: the second call continues at step 1
        state, history = jaxgan.fit(state, (x, y), steps=1, batch_size=4, loop="python")
        params.append(jax.tree.map(np.asarray, state.generator.params))
        emas.append(jax.tree.map(np.asarray, state.ema_params))
        histories.append(history)
    return state, histories, params, emas[0]


@functools.cache
def conditional_samples():
    """G(0) for classes 0, 1, 2 from the averaged and from the trained parameters: one program
    (eager generation compiles every layer's ops one by one)."""
    state = conditional_run()[0]

    def both(state, z, labels):
        return jaxgan.generate(state, z, labels), jaxgan.generate(state, z, labels, use_ema=False)

    return jax.jit(both)(state, jnp.zeros((3, 8)), jnp.array([0, 1, 2]))


def test_conditional_gan_with_projection_discriminator_trains():
    state, histories, _, _ = conditional_run()
    assert int(state.step) == 2
    assert all(np.all(np.isfinite(h["d_loss"])) for h in histories)
    fake, _ = conditional_samples()
    assert fake.shape == (3, 28, 28, 1)
    # labels change the output of a conditional generator: the same z (zeros) in every row, and
    # rows are independent (BatchNorm uses its running statistics when generating)
    assert not np.allclose(fake[0], fake[2])


def test_conditional_batches_need_labels_and_unconditional_refuse_them():
    state = tiny_conditional_state()
    x = jnp.zeros((4, 28, 28, 1))
    with pytest.raises(ValueError, match="conditional on 3 classes"):
        jaxgan.d_step(state, x, KEY)
    with pytest.raises(ValueError, match="labels must be integers"):
        jaxgan.generate(state, jnp.zeros((2, 8)), jnp.array([0.0, 1.0]))
    plain = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=KEY)
    with pytest.raises(ValueError, match="unconditional"):
        jaxgan.fit(
            plain, (jnp.zeros((8, 28, 28, 1)), jnp.zeros(8, jnp.int32)), steps=1, batch_size=4
        )


def test_ema_arithmetic_and_generate_uses_the_average():
    ema = jaxgan.ema_update({"w": jnp.array([1.0, 2.0])}, {"w": jnp.array([3.0, 6.0])}, 0.75)
    np.testing.assert_allclose(ema["w"], [1.5, 3.0])
    # EMA 0.9 of the conditional run: it starts at G's parameters, then follows each update
    state, _, (start, first, second), ema_between = conditional_run()
    expected = jax.tree.map(lambda s, p: 0.9 * s + 0.1 * p, start, first)
    for a, b in zip(jax.tree.leaves(ema_between), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    expected = jax.tree.map(lambda e, p: 0.9 * e + 0.1 * p, ema_between, second)
    for a, b in zip(jax.tree.leaves(state.ema_params), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    averaged, trained = conditional_samples()
    assert not np.allclose(averaged, trained)


# one compiled program per policy instead of one per primitive of the eager call
DIFF_AUGMENT = jax.jit(augment.diff_augment, static_argnums=2)


def test_diff_augment_is_random_per_image_differentiable_and_validated():
    x = jax.random.normal(KEY, (4, 16, 16, 3))
    a = DIFF_AUGMENT(x, jax.random.key(1), "translation,cutout")
    b = DIFF_AUGMENT(x, jax.random.key(2), "translation,cutout")
    assert a.shape == x.shape and not np.allclose(a, b)
    # cutout zeroes a square of half the side (≈ 1/4 of the pixels; fewer near the border)
    zero_fraction = float(jnp.mean(DIFF_AUGMENT(x, KEY, "cutout") == 0))
    assert 0.05 < zero_fraction <= 0.25
    grad = jax.jit(jax.grad(lambda v: jnp.sum(augment.diff_augment(v, KEY) ** 2)))(x)
    assert float(jnp.abs(grad).sum()) > 0
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        augment.diff_augment(x, KEY, "flip")


def test_translation_shifts_content_without_changing_it():
    x = jnp.zeros((1, 8, 8, 1)).at[0, 4, 4, 0].set(1.0)
    moved = augment.diff_augment(x, jax.random.key(5), "translation")
    assert float(moved.sum()) in (0.0, 1.0)  # one pixel, shifted (or shifted out of view)


def test_augmented_and_packed_steps_run():
    # DiffAugment rides on the conditional run above (one compiled step for all of it)
    state, histories, _, _ = conditional_run()
    assert state.config.augment == "translation,cutout"
    for h in histories:
        assert np.isfinite(h["d_loss"]).all() and np.isfinite(h["g_loss"]).all()
    packed = jaxgan.create_state(
        lambda rngs: models.ToyGenerator(hidden=8, depth=1, rngs=rngs),
        lambda rngs: models.ToyDiscriminator(in_dim=4, hidden=8, depth=1, rngs=rngs),
        key=KEY,
        pack=2,
    )
    _, m = jax.jit(jaxgan.train_update)(packed, jnp.zeros((6, 2)), KEY)
    assert np.isfinite(float(m["d_loss"]))


def test_pack_groups_consecutive_samples():
    np.testing.assert_array_equal(
        augment.pack(jnp.arange(8.0).reshape(4, 2), 2), [[0, 1, 2, 3], [4, 5, 6, 7]]
    )
    images = jnp.arange(4.0).reshape(4, 1, 1, 1)
    np.testing.assert_array_equal(augment.pack(images, 2)[:, 0, 0], [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="packs of 3"):
        augment.pack(jnp.zeros((4, 2)), 3)


def test_a_discriminator_not_built_for_packing_is_refused_when_the_state_is_made():
    # pack is the one knob: create_state checks that D takes pack samples packed together
    with pytest.raises(ValueError, match=r"pack=2: the discriminator cannot judge 2 samples"):
        jaxgan.create_state(
            lambda rngs: models.ToyGenerator(hidden=8, depth=1, rngs=rngs),
            lambda rngs: models.ToyDiscriminator(in_dim=2, hidden=8, depth=1, rngs=rngs),
            key=0,
            pack=2,
        )
