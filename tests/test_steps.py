import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxgan
from jaxgan import models

KEY = jax.random.key(42)
SGD = optax.sgd(0.1)
"""One optimiser object for the toy states: jit caches on it, so a new one would compile again."""
D_UPDATE = jax.jit(jaxgan.d_update)
G_UPDATE = jax.jit(jaxgan.g_update)
NO_DONATION = jax.jit(jaxgan.train_update)
"""Shared non-donating jits: tests that build the same state reuse one compiled program."""


def mlp_state(**overrides):
    return jaxgan.create_state(
        models.MLPGenerator, models.MLPDiscriminator, key=jax.random.key(0), **overrides
    )


def narrow_mlp_state():
    """The seed MLP with 16 hidden units: the state the docstring examples get (root conftest.py).

    ``NO_DONATION`` of it on 8 images is the program of ``train_update``'s example, so a test
    session compiles it once.
    """
    return jaxgan.create_state(
        lambda rngs: models.MLPGenerator(hidden=16, rngs=rngs),
        lambda rngs: models.MLPDiscriminator(hidden=16, rngs=rngs),
        key=jax.random.key(0),
    )


def real_batch(n=16, shape=(28, 28, 1)):
    return jax.random.uniform(jax.random.key(7), (n, *shape), minval=-1.0, maxval=1.0)


def leaves_equal(a, b):
    """Whether two trees hold the same arrays, bit for bit (compared in numpy: nothing compiled)."""
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    if len(la) != len(lb):
        return False
    return all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


def snapshot(tree):
    return jax.tree.map(lambda x: np.array(x, copy=True), tree)


def test_create_state_defaults_follow_dcgan():
    state = mlp_state()
    assert int(state.step) == 0 and int(state.d_updates) == 0
    for player in (state.generator, state.discriminator):
        hp = player.opt_state.hyperparams
        np.testing.assert_allclose(hp["learning_rate"], 2e-4)
        np.testing.assert_allclose(hp["b1"], 0.5)
    assert state.config.latent_dim == 100 and state.config.loss == "non_saturating"


def toy_state():
    """A tiny 2-D GAN (G with BatchNorm) built from module instances, SGD for both players."""
    return jaxgan.create_state(
        models.ToyGenerator(hidden=8, depth=1, rngs=nnx.Rngs(1)),
        models.ToyDiscriminator(hidden=8, depth=1, pieces=2, rngs=nnx.Rngs(2)),
        g_optimizer=SGD,
        d_optimizer=SGD,
    )


def toy_batch(n=16):
    return jax.random.normal(jax.random.key(7), (n, 2))


def test_create_state_accepts_built_modules_and_any_optax_transform():
    state = toy_state()
    assert state.generator.tx is SGD and state.discriminator.tx is SGD
    new, _ = D_UPDATE(state, toy_batch(), KEY)
    assert int(new.d_updates) == 1


def test_d_step_trains_only_the_discriminator():
    state = toy_state()
    before = snapshot(state)
    new, metrics = D_UPDATE(state, toy_batch(), KEY)
    assert leaves_equal(new.generator.params, before.generator.params)
    assert not leaves_equal(new.discriminator.params, before.discriminator.params)
    assert int(new.d_updates) == 1 and int(new.g_updates) == 0
    assert {"d_loss", "d_real", "d_fake", "d_grad_norm"} <= set(metrics)
    assert 0 < float(metrics["d_real"]) < 1 and float(metrics["d_grad_norm"]) > 0


def test_g_step_trains_only_the_generator():
    state = toy_state()
    before = snapshot(state)
    new, metrics = G_UPDATE(state, toy_batch(), KEY)
    assert leaves_equal(new.discriminator.params, before.discriminator.params)
    assert not leaves_equal(new.generator.params, before.generator.params)
    assert {"g_loss", "d_fake_g", "g_grad_norm"} <= set(metrics)


def test_non_donated_input_state_is_untouched():
    state = narrow_mlp_state()
    before = snapshot(state)
    NO_DONATION(state, real_batch(8), KEY)
    assert leaves_equal(state, before)


def test_donating_step_consumes_its_input():
    state = mlp_state()
    new, _ = jaxgan.train_step(state, real_batch(), KEY)
    assert int(new.step) == 1
    deleted = [x.is_deleted() for x in jax.tree.leaves(state)]
    assert any(deleted), "train_step should donate (reuse) the input state's buffers"


def test_second_call_does_not_recompile():
    # a user's own jit of the update (not donating) and the library's donating train_step
    state = narrow_mlp_state()
    state, _ = NO_DONATION(state, real_batch(8), KEY)
    size = NO_DONATION._cache_size()
    for _ in range(2):
        state, _ = NO_DONATION(state, real_batch(8), KEY)
    assert NO_DONATION._cache_size() == size
    state = mlp_state()
    state, _ = jaxgan.train_step(state, real_batch(), KEY)
    size = jaxgan.train_step._cache_size()
    for _ in range(2):
        state, _ = jaxgan.train_step(state, real_batch(), KEY)
    assert jaxgan.train_step._cache_size() == size
    # a second run built the same way reuses the compiled step
    jaxgan.train_step(mlp_state(), real_batch(), KEY)
    assert jaxgan.train_step._cache_size() == size


def test_same_key_same_bits_and_other_key_differs():
    results = []
    for key in (KEY, KEY, jax.random.key(1)):
        state, _ = jaxgan.train_step(mlp_state(), real_batch(), key)
        state, _ = jaxgan.train_step(state, real_batch(), key)
        results.append(state)
    assert leaves_equal(results[0], results[1])
    assert not leaves_equal(results[0].generator.params, results[2].generator.params)


def test_golden_values_after_one_iteration():
    """Pins the numerics of the seed MLP step (init, losses, Adam) on CPU."""
    state, m = jaxgan.train_step(mlp_state(), real_batch(), KEY)
    got = {k: float(v) for k, v in m.items()}
    for player in ("generator", "discriminator"):
        params = getattr(state, player).params
        got[player] = float(sum(np.abs(p).sum() for p in jax.tree.leaves(params)))
    for name, value in GOLDEN.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, err_msg=name)


# Recorded with jax 0.10.2 / flax 0.12.8 / optax 0.2.8 on x86-64 CPU (seed MLP, batch 16).
GOLDEN = {
    "d_loss": 1.367309808731079,
    "d_real": 0.4615474343299866,
    "d_fake": 0.43128663301467896,
    "d_grad_norm": 2.7702651023864746,
    "g_loss": 0.862912654876709,
    "d_fake_g": 0.4280916750431061,
    "g_grad_norm": 1.3316326141357422,
    "generator": 8354.134765625,
    "discriminator": 2956.329833984375,
}


# Each loss trains one full step; the other step options ride along on these steps (a new
# StepConfig compiles a new step), so every loss and every option is compiled once. The default
# loss is the library's donating train_step (the golden values' program); the four others train
# side by side in one jitted program (one compilation instead of four).
LOSS_OPTIONS = {
    "non_saturating": {},
    "minimax": {},
    "hinge": {"compute_dtype": "bfloat16"},
    "wasserstein": {"gradient_penalty": 10.0, "r1": 1.0, "n_critic": 2},
    "least_squares": {},
}


@functools.cache
def steps_with_losses():
    """One train step of the seed MLP per loss, with its options: ``{loss: (state, metrics)}``.

    The four non-default losses train in one program on one copy of the state (a loss and its
    options are static ``StepConfig`` fields, set inside), so what their steps share (the step
    keys, G's fake batch and D's forward pass in float32) is compiled once.
    """
    state = mlp_state()
    config = state.config
    real = real_batch(32)  # the first 16 rows for one D update, all 32 for n_critic=2

    def together(state, real, key):
        results = {}
        for loss, options in LOSS_OPTIONS.items():
            if loss != "non_saturating":
                step_state = state.replace(config=dataclasses.replace(config, loss=loss, **options))
                batch = real[: 16 * options.get("n_critic", 1)]
                results[loss] = jaxgan.train_update(step_state, batch, key)
        return results

    results = jax.jit(together)(state, real, KEY)
    results["non_saturating"] = jaxgan.train_step(state, real_batch(), KEY)
    return results


def step_with_loss(loss):
    """The step of ``loss`` from :func:`steps_with_losses`."""
    return steps_with_losses()[loss]


def test_every_loss_has_a_step_case():
    assert set(LOSS_OPTIONS) == set(jaxgan.LOSSES)


@pytest.mark.parametrize("loss", sorted(jaxgan.LOSSES))
def test_every_loss_trains_a_step(loss):
    state, m = step_with_loss(loss)
    assert state.config.loss == loss and int(state.g_updates) == 1
    assert all(np.isfinite(float(v)) for v in m.values())


def test_n_critic_runs_several_d_updates_per_iteration():
    state, _ = step_with_loss("wasserstein")
    assert state.config.n_critic == 2
    assert int(state.d_updates) == 2 and int(state.g_updates) == 1
    with pytest.raises(ValueError, match="n_critic=2"):
        jaxgan.train_step(state, real_batch(9), KEY)


def test_wgan_gp_and_r1_report_their_penalties():
    _, m = step_with_loss("wasserstein")
    assert float(m["gradient_penalty"]) >= 0 and float(m["r1"]) > 0


def test_bfloat16_compute_keeps_float32_parameters():
    state, m = step_with_loss("hinge")
    assert state.config.compute_dtype == "bfloat16"
    assert {x.dtype for x in jax.tree.leaves(state.generator.params)} == {jnp.dtype("float32")}
    assert np.isfinite(float(m["d_loss"]))


def test_batchnorm_statistics_change_only_for_the_trained_player():
    state = toy_state()
    g_rest = snapshot(state.generator.rest)
    assert jax.tree.leaves(g_rest), "the toy generator has BatchNorm statistics"
    state, _ = D_UPDATE(state, toy_batch(), KEY)
    assert leaves_equal(state.generator.rest, g_rest), "D step must not touch G's statistics"
    state, _ = G_UPDATE(state, toy_batch(), KEY)
    assert not leaves_equal(state.generator.rest, g_rest), "G step updates G's statistics"


class TinyG(nnx.Module):
    """A user-written generator without dropout (no rngs argument)."""

    def __init__(self, rngs: nnx.Rngs):
        self.latent_dim = 4
        self.linear = nnx.Linear(4, 2, rngs=rngs)

    def __call__(self, z):
        return self.linear(z)


class TinyD(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.linear = nnx.Linear(2, 1, rngs=rngs)

    def __call__(self, x, *, rngs=None):
        return self.linear(x)[:, 0]


def test_user_defined_module_pair_trains_with_the_same_steps():
    state = jaxgan.create_state(TinyG, TinyD, key=jax.random.key(0))
    assert state.config.latent_dim == 4 and not state.generator.takes_rngs
    data = jax.random.normal(jax.random.key(1), (64, 2))
    state, history = jaxgan.fit(state, data, steps=20, batch_size=16)
    assert int(state.step) == 20 and history["g_loss"].shape == (20,)
    assert jaxgan.generate(state, jnp.zeros((3, 4))).shape == (3, 2)


def test_bad_inputs_raise_clear_errors():
    state = mlp_state()
    with pytest.raises(ValueError, match=r"sample shape \(32, 32, 3\).*\(28, 28, 1\)"):
        jaxgan.d_step(state, real_batch(4, (32, 32, 3)), KEY)
    with pytest.raises(TypeError, match="to_model_input"):
        jaxgan.d_step(state, jnp.zeros((4, 28, 28, 1), jnp.uint8), KEY)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, 100\)"):
        jaxgan.generate(state, jnp.zeros((2, 64)))
    with pytest.raises(TypeError, match="typed PRNG key"):
        jaxgan.d_step(state, real_batch(4), jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="unknown loss"):
        mlp_state(loss="bce")
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        jaxgan.default_optimizer(-1e-4)
    with pytest.raises(ValueError, match="n_critic"):
        mlp_state(n_critic=0)
