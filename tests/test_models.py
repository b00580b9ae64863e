import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jaxgan import models
from jaxgan.augment import pack


def n_params(module):
    return sum(x.size for x in jax.tree.leaves(nnx.state(module, nnx.Param)))


def test_seed_generator_is_exactly_the_founding_architecture():
    g = models.MLPGenerator(rngs=nnx.Rngs(0))
    assert g.hidden.kernel.shape == (100, 128)
    assert g.out.kernel.shape == (128, 784)
    assert g.dropout.rate == 0.3
    assert n_params(g) == 100 * 128 + 128 + 128 * 784 + 784
    out = g(jnp.zeros((3, 100)), rngs=nnx.Rngs(dropout=jax.random.key(1)))
    assert out.shape == (3, 28, 28, 1)
    assert float(jnp.abs(out).max()) <= 1.0


def test_seed_generator_dropout_is_active_only_in_training():
    g = models.MLPGenerator(rngs=nnx.Rngs(0))
    z = jax.random.normal(jax.random.key(0), (3, 100))  # the batch above: its programs again
    a = g(z, rngs=nnx.Rngs(dropout=jax.random.key(1)))
    b = g(z, rngs=nnx.Rngs(dropout=jax.random.key(2)))
    assert not np.allclose(a, b)
    g.eval()
    np.testing.assert_array_equal(g(z), g(z))


def test_seed_discriminator_outputs_one_logit():
    d = models.MLPDiscriminator(rngs=nnx.Rngs(0))
    assert d.hidden.kernel.shape == (784, 128)
    assert d.out.kernel.shape == (128, 1)
    assert d(jnp.zeros((5, 28, 28, 1))).shape == (5,)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_dcgan_shapes(shape):
    def build_and_call():
        g = models.DCGANGenerator(image_shape=shape, width=8, rngs=nnx.Rngs(0))
        d = models.DCGANDiscriminator(image_shape=shape, width=8, rngs=nnx.Rngs(0))
        x = g(jnp.zeros((2, 100)))
        return x, d(x, rngs=nnx.Rngs(dropout=jax.random.key(0)))

    # shapes only: traced abstractly, no weights or convolutions computed
    x, logits = nnx.eval_shape(build_and_call)
    assert x.shape == (2, *shape)
    assert logits.shape == (2,)


def test_dcgan_28_is_the_keras_tutorial_at_width_64():
    # shapes only: nnx.eval_shape builds the modules without computing their weights
    g = nnx.eval_shape(lambda: models.DCGANGenerator(rngs=nnx.Rngs(0)))
    assert g.project.kernel.shape == (100, 7 * 7 * 256)
    assert [u.kernel.shape for u in g.ups] == [(5, 5, 256, 128), (5, 5, 128, 64)]
    assert g.to_image.kernel.shape == (5, 5, 64, 1)
    d = nnx.eval_shape(lambda: models.DCGANDiscriminator(rngs=nnx.Rngs(0)))
    assert [c.kernel.shape for c in d.convs] == [(5, 5, 1, 64), (5, 5, 64, 128)]
    assert d.out.kernel.shape == (7 * 7 * 128, 1)


def test_dcgan_rejects_unsupported_size():
    with pytest.raises(ValueError, match="image sizes"):
        models.DCGANGenerator(image_shape=(30, 30, 1), rngs=nnx.Rngs(0))


@pytest.mark.parametrize("kernel_size", [3, 4, 5])
def test_subpixel_upsampling_equals_flax_conv_transpose(kernel_size):
    ref = nnx.ConvTranspose(3, 2, (kernel_size,) * 2, (2, 2), padding="SAME", rngs=nnx.Rngs(0))
    ref.bias[...] = jnp.arange(2.0)
    x = jax.random.normal(jax.random.key(0), (2, 7, 7, 3))
    for method in ("subpixel", "transpose"):
        up = models.UpConv(3, 2, kernel_size, 2, method=method, rngs=nnx.Rngs(1))
        up.kernel[...] = ref.kernel[...]
        up.bias[...] = ref.bias[...]
        np.testing.assert_allclose(up(x), ref(x), atol=1e-5)


def test_subpixel_gradients_match_transpose():
    x = jax.random.normal(jax.random.key(0), (2, 5, 5, 4))
    grads = []
    for method in ("subpixel", "transpose"):
        up = models.UpConv(4, 3, 5, 2, method=method, rngs=nnx.Rngs(0))
        graphdef, params = nnx.split(up)

        def loss(params, graphdef=graphdef):
            return jnp.sum(jnp.sin(nnx.merge(graphdef, params)(x)))

        grads.append(jax.tree.leaves(jax.jit(jax.grad(loss))(params)))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_toy_models_and_packing():
    def build_and_call():
        g = models.ToyGenerator(rngs=nnx.Rngs(0))
        d = models.ToyDiscriminator(in_dim=4, rngs=nnx.Rngs(0))  # PacGAN2: pairs of points
        with pytest.raises(ValueError, match="in_dim=2·m and pack=m"):
            d(jnp.zeros((6, 2)))  # unpacked points into a packed D
        return g(jnp.zeros((6, 2))), d(pack(jnp.zeros((6, 2)), 2))

    # shapes only: traced abstractly, no weights computed
    points, logits = nnx.eval_shape(build_and_call)
    assert points.shape == (6, 2)
    assert logits.shape == (3,)
