import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxgan
from jaxgan import models


class Squeeze(nnx.Module):
    def __init__(self, inner):
        self.inner = inner

    def __call__(self, x):
        return self.inner(x)[:, 0]


def gaussian_gan(seed=0):
    return jaxgan.create_state(
        lambda rngs: models.MLP((4, 32, 32, 1), rngs=rngs),
        lambda rngs: Squeeze(models.MLP((1, 32, 32, 1), rngs=rngs)),
        key=jax.random.key(seed),
        latent_dim=4,
        g_optimizer=jaxgan.default_optimizer(1e-3, b1=0.5),
        d_optimizer=jaxgan.default_optimizer(1e-3, b1=0.5),
    )


def test_a_small_gan_learns_a_1d_gaussian():
    """Real behaviour: G's samples match N(1, 0.5²) in mean and spread after training.

    Measured with seeds 0-2: mean 0.95-1.07, std 0.515-0.526 (G starts near N(0, 0.1²)).
    """
    data = 1.0 + 0.5 * jax.random.normal(jax.random.key(1), (4096, 1))
    state, history = jaxgan.fit(gaussian_gan(), data, steps=2000, batch_size=128, key=5)
    fake = np.asarray(jaxgan.generate(state, jax.random.normal(jax.random.key(2), (4096, 4))))
    assert abs(fake.mean() - 1.0) < 0.15, fake.mean()
    assert abs(fake.std() - 0.5) < 0.1, fake.std()
    # the game stays balanced: D cannot separate real from fake at the end
    assert 0.3 < history["d_real"][-100:].mean() < 0.7


def test_batch_indices_are_epoch_permutations():
    idx = np.asarray(
        jaxgan.batch_indices(jax.random.key(0), 0, num_slots=6, num_examples=10, batch_size=3)
    )
    # 3 slots per epoch (remainder of 1 dropped): each epoch has 9 distinct examples
    for epoch in (idx[:3], idx[3:]):
        assert len(set(epoch.ravel())) == 9
    assert not np.array_equal(idx[:3], idx[3:])
    later = jaxgan.batch_indices(jax.random.key(0), 4, num_slots=2, num_examples=10, batch_size=3)
    np.testing.assert_array_equal(later, idx[4:6])


@pytest.mark.parametrize("loop", ["scan", "python"])
def test_stopping_and_resuming_gives_the_same_bits(loop):
    data = jax.random.normal(jax.random.key(1), (300, 1))
    whole, h = jaxgan.fit(
        gaussian_gan(), data, steps=25, batch_size=32, key=3, loop=loop, steps_per_call=10
    )
    part, h1 = jaxgan.fit(
        gaussian_gan(), data, steps=7, batch_size=32, key=3, loop=loop, steps_per_call=10
    )
    part, h2 = jaxgan.fit(part, data, steps=18, batch_size=32, key=3, loop=loop, steps_per_call=10)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(part), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(h["d_loss"], np.concatenate([h1["d_loss"], h2["d_loss"]]))
    np.testing.assert_array_equal(h["step"], np.arange(1, 26))


def test_scan_and_python_loops_train_the_same_run():
    data = jax.random.normal(jax.random.key(1), (300, 1))
    a, _ = jaxgan.fit(gaussian_gan(), data, steps=12, batch_size=32, loop="scan")
    b, _ = jaxgan.fit(gaussian_gan(), data, steps=12, batch_size=32, loop="python")
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_auto_loop_follows_the_cpu_measurements():
    mlp = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=jax.random.key(0))
    dcgan = jaxgan.create_state(
        models.DCGANGenerator, models.DCGANDiscriminator, key=jax.random.key(0)
    )
    images = jnp.zeros((256, 28, 28, 1))
    assert jaxgan.choose_loop(mlp, images, 64) == "scan"
    assert jaxgan.choose_loop(dcgan, images, 64) == "python"
    tiny_dcgan = jaxgan.create_state(
        lambda rngs: models.DCGANGenerator(width=8, rngs=rngs),
        lambda rngs: models.DCGANDiscriminator(width=8, rngs=rngs),
        key=jax.random.key(0),
    )
    assert jaxgan.choose_loop(tiny_dcgan, images, 64) == "python"  # few FLOPs, but convs


def test_on_chunk_reports_progress_and_uint8_images_are_accepted():
    seen = []
    state = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=jax.random.key(0))
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    state, history = jaxgan.fit(
        state,
        images,
        steps=5,
        batch_size=16,
        steps_per_call=2,
        on_chunk=lambda step, m: seen.append((step, len(m["d_loss"]))),
    )
    assert seen == [(2, 2), (4, 2), (5, 1)]
    assert set(history) >= {"step", "d_loss", "g_loss", "d_real", "d_fake"}


def test_fit_rejects_bad_input_with_clear_errors():
    state = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=jax.random.key(0))
    images = jnp.zeros((10, 28, 28, 1))
    with pytest.raises(ValueError, match="larger than the dataset"):
        jaxgan.fit(state, images, steps=1, batch_size=64)
    with pytest.raises(ValueError, match=r"\(32, 32, 3\).*\(28, 28, 1\)"):
        jaxgan.fit(state, jnp.zeros((10, 32, 32, 3)), steps=1, batch_size=4)
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        jaxgan.fit(state, images, steps=1, batch_size=0)
    with pytest.raises(ValueError, match="loop must be"):
        jaxgan.fit(state, images, steps=1, batch_size=4, loop="vmap")
    with pytest.raises(TypeError, match="uint8 images or floats"):
        jaxgan.fit(state, jnp.zeros((10, 28, 28, 1), jnp.int32), steps=1, batch_size=4)
