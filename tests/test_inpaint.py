"""Inpainting and GAN inversion (jaxgan.apps): recovery, batching, compilation, masks, blending.

One small generator state and a few compiled solves are shared by the tests of this module.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxgan
from jaxgan.apps import (
    MaskError,
    check_mask,
    harmonic_fill,
    inpaint,
    invert,
    make_mask,
    paste,
    poisson_blend,
)
from jaxgan.apps import inversion as inversion_module
from jaxgan.apps.baselines import mean_fill, nearest_neighbour_fill
from jaxgan.apps.blend import laplacian
from jaxgan.apps.inpainting import score_images
from jaxgan.apps.inversion_losses import contextual_weights
from jaxgan.metrics.pixels import psnr, ssim


def on_host(result):
    """The result's arrays as numpy (indexing device arrays eagerly compiles a program each)."""
    return jax.tree.map(np.asarray, result)


def psnr_db(a, b):
    """PSNR of each image pair in [-1, 1] (range 2)."""
    mse = np.mean((np.asarray(a) - np.asarray(b)) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(4.0 / mse)


def jitted_state(generator, discriminator, **options):
    """``create_state`` under one ``jax.jit``: one program, not one per initialiser and shape."""
    return jax.jit(lambda: jaxgan.create_state(generator, discriminator, key=0, **options))()


@pytest.fixture(scope="module")
def mlp_state():
    return jitted_state(jaxgan.models.MLPGenerator, jaxgan.models.MLPDiscriminator)


@pytest.fixture(scope="module")
def own_samples(mlp_state):
    z = jaxgan.sample_latent(jax.random.key(1), 6, 100)
    return z, np.asarray(jaxgan.generate(mlp_state, z))  # numpy: slicing compiles nothing


# --- recovery, batching, compilation, purity -------------------------------------------------


def test_inverting_the_seed_mlps_own_samples_recovers_them(mlp_state, own_samples):
    _, target = own_samples
    before = jax.tree.map(np.array, mlp_state)
    result = invert(
        mlp_state,
        target,
        steps=400,  # 31.1 dB at the worst image (31.5 after 1,000 steps; restarts matter more)
        restarts=16,
        learning_rate=0.5,
        prior_weight=0.0,
        key=jax.random.key(0),
    )
    again = np.asarray(jaxgan.generate(mlp_state, result.z))
    result = on_host(result)
    assert (psnr_db(result.reconstruction, target) >= 30.0).all()
    # the reported best loss is the loss of the returned z
    np.testing.assert_allclose(
        result.loss, np.mean((again - target) ** 2, axis=(1, 2, 3)), rtol=1e-4, atol=1e-7
    )
    assert result.curve.shape == (400, 6) and result.restart_losses.shape == (6, 16)
    np.testing.assert_allclose(result.restart_losses.min(axis=1), result.loss, rtol=1e-6)
    # the train state is only read: every leaf is unchanged (and not donated)
    for old, new in zip(jax.tree.leaves(before), jax.tree.leaves(mlp_state), strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))


@pytest.fixture(scope="module")
def inpaint_case(own_samples):
    _, target = own_samples
    return target[:3], make_mask("center:10", target[:3].shape)


# every solve below uses 40 steps, 2 restarts and batches of 3 or 1 image: two compilations
OPTIONS = dict(steps=40, restarts=2)


def test_batched_results_equal_per_image_results(mlp_state, inpaint_case):
    images, mask = inpaint_case
    z0 = np.asarray(inversion_module.initial_latents(jax.random.key(3), 3, 2, 100))
    batched = on_host(inpaint(mlp_state, images, mask, z_init=z0, **OPTIONS))
    for i in (0, 2):
        one = on_host(
            inpaint(mlp_state, images[i : i + 1], mask[i : i + 1], z_init=z0[i : i + 1], **OPTIONS)
        )
        np.testing.assert_allclose(one.z[0], batched.z[i], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(one.blended[0], batched.blended[i], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(one.curve[:, 0], batched.curve[:, i], rtol=1e-4, atol=1e-6)
    # the host loop of one jitted step (conv nets on CPU) computes the same as lax.scan
    stepwise = on_host(inpaint(mlp_state, images, mask, z_init=z0, loop="python", **OPTIONS))
    np.testing.assert_allclose(stepwise.z, batched.z, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stepwise.curve, batched.curve, rtol=1e-4, atol=1e-6)
    # one image per call gives the results of one call: image i starts from fold_in(key, i)
    chunked = on_host(
        inpaint(mlp_state, images, mask, batch_size=1, key=jax.random.key(3), **OPTIONS)
    )
    np.testing.assert_allclose(chunked.z, batched.z, rtol=1e-4, atol=1e-5)
    assert chunked.curve.shape == (40, 3)


def test_no_recompilation_across_batches_and_traced_settings(mlp_state, inpaint_case):
    images, mask = inpaint_case
    inpaint(mlp_state, images, mask, **OPTIONS)  # compiled (also by the test above)
    compiled = inversion_module._solve._cache_size()
    other = np.flip(images, axis=2)
    inpaint(
        mlp_state,
        other,
        mask,
        learning_rate=0.02,
        prior_weight=0.1,
        latent_weight=0.5,
        key=jax.random.key(9),
        **OPTIONS,
    )
    seven = np.concatenate([images, other, images[:1]])
    inpaint(
        mlp_state, seven, np.concatenate([mask, mask, mask[:1]]), batch_size=3, **OPTIONS
    )  # 3 calls of 3 images, the last one padded
    assert inversion_module._solve._cache_size() == compiled
    # the host loop (conv nets on CPU) compiles its one step once as well
    inpaint(mlp_state, images, mask, loop="python", **OPTIONS)
    step_compiled = inversion_module._step_jit._cache_size()
    inpaint(mlp_state, other, mask, learning_rate=0.02, loop="python", **OPTIONS)
    assert inversion_module._step_jit._cache_size() == step_compiled


def test_inpainting_keeps_known_pixels_and_prefers_better_candidates(mlp_state, inpaint_case):
    images, mask = inpaint_case
    out = inpaint(mlp_state, images, mask, **OPTIONS)  # compiled by the tests above
    np.testing.assert_allclose(np.asarray(out.blended) * mask, images * mask, atol=1e-6)
    # the loss curve of the chosen candidate falls (blend="paste": test_conv_generators_invert)
    curve = np.asarray(out.curve)
    assert (curve[-1] < curve[0]).all()


class TinyConditionalGenerator(nnx.Module):
    """A user's own conditional NNX generator: z and a class embedding → 8×8 image."""

    def __init__(self, latent_dim: int = 4, num_classes: int = 3, *, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.embed = nnx.Embed(num_classes, 8, rngs=rngs)
        self.out = nnx.Linear(latent_dim + 8, 64, rngs=rngs)

    def __call__(self, z, labels):
        h = jnp.concatenate([z, 3.0 * self.embed(labels)], axis=-1)
        return jnp.tanh(self.out(h)).reshape(z.shape[0], 8, 8, 1)


class TinyConditionalDiscriminator(nnx.Module):
    def __init__(self, num_classes: int = 3, *, rngs: nnx.Rngs):
        self.out = nnx.Linear(64, 1, rngs=rngs)

    def __call__(self, x, labels):
        return self.out(x.reshape(x.shape[0], -1))[:, 0]


def test_a_users_conditional_generator_with_labels_known_or_searched():
    state = jitted_state(
        TinyConditionalGenerator, TinyConditionalDiscriminator, num_classes=3, latent_dim=4
    )
    z = jaxgan.sample_latent(jax.random.key(2), 3, 4)
    labels = np.array([2, 0, 1], np.int32)
    target = np.asarray(jaxgan.generate(state, z, labels))
    searched = invert(state, target, labels="search", steps=200, restarts=2, learning_rate=0.1)
    assert searched.labels.tolist() == [2, 0, 1]
    assert searched.restart_losses.shape == (3, 6)  # restarts × classes
    assert (psnr_db(searched.reconstruction, target) > 30).all()
    known = invert(state, target, labels=labels, steps=200, restarts=6, learning_rate=0.1)
    assert known.labels.tolist() == [2, 0, 1] and known.restart_losses.shape == (3, 6)
    with pytest.raises(ValueError, match="conditional on 3 classes: pass labels"):
        invert(state, target, steps=2)
    with pytest.raises(ValueError, match="labels must lie in"):
        invert(state, target, labels=np.array([0, 1, 3]), steps=2)


@pytest.mark.parametrize("family", ["dcgan", "resnet"])
def test_conv_generators_invert(family):
    if family == "dcgan":
        g = jaxgan.models.DCGANGenerator(latent_dim=8, width=4, rngs=nnx.Rngs(0))
        d = jaxgan.models.DCGANDiscriminator(width=4, rngs=nnx.Rngs(1))
        shape = (2, 28, 28, 1)
    else:
        g = jaxgan.models.ResNetGenerator(8, (32, 32, 3), 8, rngs=nnx.Rngs(0))
        d = jaxgan.models.ResNetDiscriminator((32, 32, 3), 8, rngs=nnx.Rngs(1))
        shape = (2, 32, 32, 3)
    state = jaxgan.create_state(g, d, latent_dim=8)
    # any images in [-1, 1] do (no eager generator call to compile op by op)
    target = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
    compiled = inversion_module._step_jit._cache_size()
    mask = make_mask("center", target.shape)
    out = inpaint(state, target, mask, steps=2, restarts=1, blend="paste")
    assert out.blended.shape == target.shape and np.isfinite(np.asarray(out.loss)).all()
    # paste: the known pixels are the image's, the hole is G(z)'s
    blended, hole = np.asarray(out.blended), 1.0 - mask
    np.testing.assert_allclose(blended * mask, target * mask, atol=1e-6)
    np.testing.assert_allclose(blended * hole, np.asarray(out.reconstruction) * hole, atol=1e-6)
    assert float(out.prior_loss[0]) < 0.0  # D's prior log(1 - D(G(z))) was evaluated
    assert inversion_module.choose_loop(state) == "python"  # convolutions on CPU
    # the host loop compiled its step once: the first step's carry has every later one's types
    assert inversion_module._step_jit._cache_size() == compiled + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(steps=0), "steps must be a positive integer"),
        (dict(restarts=-1), "restarts must be a positive integer"),
        (dict(images=np.full((2, 28, 28, 1), 1.5, np.float32)), "must lie in \\[-1, 1\\]"),
        (dict(images=np.zeros((2, 32, 32, 1), np.float32)), "do not fit the generator"),
        (dict(mask=np.ones((2, 20, 20))), "does not fit images"),
        (dict(mask=np.ones((28, 28))), "no missing pixel"),
        (dict(mask=np.zeros((28, 28))), "no known pixel"),
        (dict(labels=np.zeros(2, int)), "unconditional: pass no labels"),
        (dict(loss="huber"), "loss must be one of"),
        (dict(mask=None, loss="contextual"), "without a mask use loss='l1' or 'l2'"),
        (dict(feature_weight=1.0), "feature_weight needs classifier"),
    ],
)
def test_bad_input_is_one_line_errors(mlp_state, change, message):
    kwargs = dict(images=np.zeros((2, 28, 28, 1), np.float32), mask=np.ones((28, 28)) - np.eye(28))
    kwargs |= change
    images = kwargs.pop("images")
    with pytest.raises(ValueError, match=message) as info:
        invert(mlp_state, images, **kwargs)
    assert "\n" not in str(info.value)


# --- masks -------------------------------------------------------------------------------------


def test_masks_by_hand():
    shape = (3, 28, 28, 1)
    center = make_mask("center:8", shape)
    assert center.shape == shape and center.dtype == np.float32
    assert center[0, 10:18, 10:18].sum() == 0 and center.sum() == 3 * (784 - 64)
    assert make_mask("center", shape)[0, 7:21, 7:21].sum() == 0
    for side, hole in [
        ("left", np.s_[:, :14]),
        ("right", np.s_[:, 14:]),
        ("top", np.s_[:14]),
        ("bottom", np.s_[14:]),
    ]:
        mask = make_mask(f"half:{side}", shape)[0, ..., 0]
        assert mask[hole].sum() == 0 and mask.sum() == 392
    pixels = make_mask("pixels:0.5", shape, seed=3)
    assert (pixels.reshape(3, -1).sum(axis=1) == 392).all()
    assert not np.array_equal(pixels[0], pixels[1])  # each image its own pixels
    np.testing.assert_array_equal(pixels, make_mask("pixels:0.5", shape, seed=3))
    boxes = make_mask("boxes:2:5", shape, seed=1)
    assert ((784 - boxes.reshape(3, -1).sum(axis=1)) <= 50).all()


def test_mask_files_png_and_numpy(tmp_path):
    import PIL.Image

    hole = np.full((28, 28), 255, np.uint8)
    hole[5:9, 5:9] = 0
    PIL.Image.fromarray(hole).save(tmp_path / "m.png")
    mask = make_mask(f"file:{tmp_path / 'm.png'}", (2, 28, 28, 1))
    assert mask.shape == (2, 28, 28, 1) and mask[:, 5:9, 5:9].sum() == 0 and mask.sum() == 2 * 768
    np.save(tmp_path / "m.npy", (hole > 0)[None].repeat(2, axis=0))
    np.testing.assert_array_equal(make_mask(f"file:{tmp_path / 'm.npy'}", (2, 28, 28, 1)), mask)
    with pytest.raises(MaskError, match="does not fit images"):
        make_mask(f"file:{tmp_path / 'm.png'}", (2, 32, 32, 1))
    np.save(tmp_path / "bad.npy", np.full((28, 28), 0.5))
    with pytest.raises(MaskError, match="only 0"):
        make_mask(f"file:{tmp_path / 'bad.npy'}", (1, 28, 28, 1))
    with pytest.raises(MaskError, match="does not exist"):
        make_mask("file:/no/such/mask.png", (1, 28, 28, 1))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("circle", "unknown mask"),
        ("pixels:x", "malformed"),
        ("pixels:1.0", "leave known"),
        ("half:middle", "side must be"),
        ("center:40", "centre hole size"),
    ],
)
def test_bad_mask_specs(spec, message):
    with pytest.raises(MaskError, match=message):
        make_mask(spec, (1, 28, 28, 1))


def test_check_mask_accepts_shared_and_channel_masks():
    one = np.ones((4, 4)) - np.eye(4)
    assert check_mask(one, (2, 4, 4, 3)).shape == (2, 4, 4, 1)
    assert check_mask(np.repeat(one[None, :, :, None], 3, -1), (1, 4, 4, 3)).shape == (1, 4, 4, 1)
    with pytest.raises(MaskError, match="every channel"):
        check_mask(np.stack([one, 1 - one, one], -1)[None], (1, 4, 4, 3))


# --- losses, blending, baselines and metrics on hand-made cases ------------------------------


def test_contextual_weights_count_missing_neighbours():
    mask = np.ones((1, 5, 5, 1), np.float32)
    mask[0, 2, 2, 0] = 0.0
    weights = np.asarray(contextual_weights(mask, 3))[0, ..., 0] * 9
    expected = np.zeros((5, 5))
    expected[1:4, 1:4] = 1.0
    expected[2, 2] = 0.0  # a missing pixel has no weight
    np.testing.assert_allclose(weights, expected, atol=1e-6)


def test_poisson_blend_removes_an_offset_and_solves_the_discrete_equation():
    rng = np.random.default_rng(0)  # numpy inputs and checks: only the library compiles
    y = rng.uniform(-1, 1, (2, 9, 9, 1)).astype(np.float32)
    mask = make_mask("center:5", y.shape)
    hole = 1.0 - mask
    # a guide with the right gradients but the wrong level: the blend gives back y exactly
    np.testing.assert_allclose(poisson_blend(y, mask, y + 0.7), y, atol=1e-5)
    assert np.abs(np.asarray(paste(y, mask, y + 0.7)) - y).max() == pytest.approx(0.7)
    # any guide: the hole satisfies L x = L guide, the known pixels are untouched
    guide = rng.uniform(-1, 1, y.shape).astype(np.float32)
    x = np.asarray(poisson_blend(y, mask, guide))
    np.testing.assert_array_equal(x * mask, y * mask)
    laplacians = np.asarray(laplacian(np.concatenate([x, guide])))  # one call: one program
    np.testing.assert_allclose(hole * laplacians[:2], hole * laplacians[2:], atol=1e-4)


def test_harmonic_fill_interpolates_linearly_between_known_columns():
    ramp = np.tile(np.linspace(-1, 1, 8, dtype=np.float32), (1, 6, 1))[..., None]  # (1, 6, 8, 1)
    mask = np.ones_like(ramp)
    mask[:, :, 2:6] = 0.0
    np.testing.assert_allclose(harmonic_fill(ramp * mask, mask), ramp, atol=1e-5)


def test_baselines_by_hand():
    train = np.stack([np.full((4, 4, 1), v, np.float32) for v in (-1.0, 0.2, 0.9)])
    y = np.full((2, 4, 4, 1), 0.25, np.float32)
    y[1] = 0.8
    mask = make_mask("center:2", y.shape)
    nearest = np.asarray(nearest_neighbour_fill(y, mask, train, chunk_size=2))  # 2 chunks, 1 padded
    assert nearest[0, 1, 1, 0] == pytest.approx(0.2) and nearest[1, 1, 1, 0] == pytest.approx(0.9)
    assert np.asarray(mean_fill(y, mask, train))[0, 1, 1, 0] == pytest.approx(0.1 / 3)
    np.testing.assert_array_equal(nearest * mask, y * mask)


def test_ssim_and_psnr_match_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    a = rng.random((3, 28, 28, 1))
    b = np.clip(a + 0.15 * rng.normal(size=a.shape), 0, 1)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    ours = np.asarray(ssim(a32, b32))
    ref = [
        metrics.structural_similarity(a[i, ..., 0], b[i, ..., 0], data_range=1.0) for i in range(3)
    ]
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    _, full = metrics.structural_similarity(a[0, ..., 0], b[0, ..., 0], data_range=1.0, full=True)
    hole = make_mask("center:8", a.shape)
    region = 1.0 - hole
    ours_hole = np.asarray(ssim(a32, b32, region))[0]
    assert float(ours_hole) == pytest.approx(full[10:18, 10:18].mean(), abs=1e-5)
    ref_psnr = [metrics.peak_signal_noise_ratio(a[i], b[i], data_range=1.0) for i in range(3)]
    np.testing.assert_allclose(psnr(a32, b32), ref_psnr, rtol=1e-5)


def test_score_images_hole_and_whole():
    originals = np.zeros((2, 8, 8, 1), np.uint8)
    mask = make_mask("center:4", originals.shape)
    outputs = np.where(mask > 0, -1.0, 1.0).astype(np.float32)  # wrong only in the hole
    scores = score_images(originals, outputs, mask)
    assert scores["l1_hole"] == pytest.approx(1.0) and scores["l1"] == pytest.approx(16 / 64)
    assert scores["psnr_hole"] == pytest.approx(0.0, abs=1e-6)
    assert score_images(originals, -np.ones((2, 8, 8, 1)), mask)["psnr_hole"] == 60.0  # capped
