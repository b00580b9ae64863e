"""AC-GAN (``StepConfig.conditioning="auxiliary"``): its losses, gradients, errors and config.

The losses are checked against a hand-written AC-GAN objective (adversarial loss plus
``ac_weight`` times the class cross-entropy, written as ``logsumexp − logit[y]``), and the
updates against that objective's gradient through SGD (new parameters = old − lr · gradient).
Tiny dense players (4-feature "images", 3 classes) keep every program small; the DCGAN
discriminator's AC head is covered by its doctest (``jaxgan.models.dcgan``).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxgan
from jaxgan import steps
from jaxgan.ensembles import stack_states
from jaxgan.experiment import config as cfg
from jaxgan.losses import non_saturating_d_loss, non_saturating_g_loss

KEY = jax.random.key(3)
CLASSES = 3
SGD = optax.sgd(1.0)  # one object: states built with it can be stacked (vmapped)


class CondG(nnx.Module):
    """z(4) + embed(label) → Dense 4 → tanh: deterministic, no statistics."""

    def __init__(self, rngs: nnx.Rngs):
        self.latent_dim, self.num_classes = 4, CLASSES
        self.embed = nnx.Embed(CLASSES, 4, rngs=rngs)
        self.out = nnx.Linear(4, 4, rngs=rngs)

    def __call__(self, z, labels, *, rngs=None):
        return jnp.tanh(self.out(z + self.embed(labels)))


class ACD(nnx.Module):
    """4 → Dense 8 → ReLU → (adversarial logit, 3 class logits): an AC-GAN discriminator."""

    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(4, 8, rngs=rngs)
        self.adv = nnx.Linear(8, 1, rngs=rngs)
        self.classify = nnx.Linear(8, CLASSES, rngs=rngs)

    def __call__(self, x, *, rngs=None):
        h = jax.nn.relu(self.hidden(x))
        return self.adv(h)[:, 0], self.classify(h)


class ProjectionD(nnx.Module):
    """A conditional D without a classifier head: one logit per sample."""

    def __init__(self, rngs: nnx.Rngs):
        self.linear = nnx.Linear(4, 1, rngs=rngs)

    def __call__(self, x, labels=None, *, rngs=None):
        return self.linear(x)[:, 0]


def ac_state(g_optimizer=SGD, key=0, **config):
    return jaxgan.create_state(
        CondG,
        ACD,
        key=key,
        g_optimizer=g_optimizer,
        d_optimizer=SGD,
        num_classes=CLASSES,
        conditioning="auxiliary",
        **config,
    )


BATCH = (jax.random.normal(jax.random.key(7), (8, 4)), jnp.arange(8, dtype=jnp.int32) % CLASSES)


def hand_ce(class_logits, labels):
    """Cross-entropy written independently of jaxgan: logsumexp(logits) − logits[label]."""
    picked = class_logits[jnp.arange(labels.shape[0]), labels]
    return jnp.mean(jax.scipy.special.logsumexp(class_logits, axis=1) - picked)


def disc_out(state, d_params, x):
    return state.discriminator.apply(d_params, x, train=False)[0]


@pytest.fixture(scope="module")
def d_check():
    """One program: ``d_update`` (joint and two D calls) and the hand objective's gradient."""
    state = ac_state(ac_weight=0.5)
    two_calls = state.replace(config=dataclasses.replace(state.config, joint_d_call=False))

    def run(state, two_calls, batch):
        x, y = batch
        keys = steps._d_keys(KEY, state.d_updates)
        (fake, _), fake_labels = steps._fake_batch(state, state.generator.params, keys, 8)

        def objective(p):
            (r_adv, r_cls), (f_adv, _) = disc_out(state, p, x), disc_out(state, p, fake)
            return non_saturating_d_loss(r_adv, f_adv) + 0.5 * hand_ce(r_cls, y)

        loss, grads = jax.value_and_grad(objective)(state.discriminator.params)
        real_cls = disc_out(state, state.discriminator.params, x)[1]
        fake_cls = disc_out(state, state.discriminator.params, fake)[1]
        accuracies = (
            jnp.mean(jnp.argmax(real_cls, 1) == y),
            jnp.mean(jnp.argmax(fake_cls, 1) == fake_labels),
        )
        return (
            steps.d_update(state, batch, KEY),
            steps.d_update(two_calls, batch, KEY),
            loss,
            grads,
            hand_ce(real_cls, y),
            accuracies,
        )

    return state, jax.jit(run)(state, two_calls, BATCH)


def test_ac_d_loss_is_adversarial_plus_weighted_real_label_cross_entropy(d_check):
    state, ((new, m), (new_two, m_two), loss, grads, ce, (real_acc, fake_acc)) = d_check
    np.testing.assert_allclose(m["d_loss"], loss, rtol=1e-6)
    np.testing.assert_allclose(m["ac_d_ce"], ce, rtol=1e-6)
    assert float(m["ac_d_ce"]) > 0.5  # a fresh 3-class head: near log 3, not a trivial 0
    np.testing.assert_allclose(m["ac_d_real_accuracy"], real_acc)
    np.testing.assert_allclose(m["ac_d_fake_accuracy"], fake_acc)
    # SGD(1): the update is exactly minus the gradient of the hand-written objective
    expected = jax.tree.map(lambda p, g: p - g, state.discriminator.params, grads)
    # and one joint D call on real and fake equals two calls, class terms included
    for params in (new.discriminator.params, new_two.discriminator.params):
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for name in m:
        np.testing.assert_allclose(m[name], m_two[name], rtol=1e-5, err_msg=name)


@pytest.fixture(scope="module")
def g_check():
    """One program: ``g_update`` and the hand objective, before and after, on G's batch."""
    state = ac_state(optax.sgd(0.05), ac_weight=2.0)

    def run(state, batch):
        g_keys = jax.random.split(steps._step_key(KEY, steps._G_STREAM, state.g_updates), 5)

        def parts(g_params):
            (fake, _), labels = steps._fake_batch(state, g_params, g_keys, 8)
            adv, classes = disc_out(state, state.discriminator.params, fake)
            return non_saturating_g_loss(adv), hand_ce(classes, labels)

        new, m = steps.g_update(state, batch, KEY)
        return m, parts(state.generator.params), parts(new.generator.params)

    return jax.jit(run)(state, BATCH)


def test_ac_g_loss_adds_the_class_cross_entropy_of_its_labels(g_check):
    m, (adv, ce), _ = g_check
    np.testing.assert_allclose(m["g_loss"], adv + 2.0 * ce, rtol=1e-6)
    np.testing.assert_allclose(m["ac_g_ce"], ce, rtol=1e-6)
    assert 0 <= float(m["ac_g_accuracy"]) <= 1


def test_the_g_step_moves_its_samples_toward_their_labels(g_check):
    _, (adv, ce), (adv_after, ce_after) = g_check
    assert float(ce_after) < float(ce)  # D's classifier finds G's labels more likely
    assert float(adv_after + 2.0 * ce_after) < float(adv + 2.0 * ce)


def test_vmapped_fused_ac_updates_equal_a_run_alone():
    states = [ac_state(key=seed, reuse_fake=True) for seed in (0, 1)]

    def run(stacked, alone):
        together = jax.vmap(steps.train_update, in_axes=(0, None, None))(stacked, BATCH, KEY)
        return together, steps.train_update(alone, BATCH, KEY)

    (_, m), (_, m1) = jax.jit(run)(stack_states(states), states[1])
    assert {"ac_d_ce", "ac_d_real_accuracy", "ac_g_ce", "g_loss", "d_loss"} <= set(m)
    for name in m:  # run 1 of the ensemble is run 1 trained alone
        np.testing.assert_allclose(m[name][1], m1[name], rtol=1e-5, err_msg=name)
    assert not np.allclose(m["d_loss"][0], m["d_loss"][1])  # two different runs


def test_bad_ac_setups_raise_one_line_errors():
    cases = [
        (lambda: jaxgan.StepConfig(conditioning="acgan"), "conditioning must be one of"),
        (lambda: jaxgan.StepConfig(ac_weight=-1.0), "ac_weight must be ≥ 0"),
        (
            lambda: jaxgan.StepConfig(num_classes=3, conditioning="auxiliary", pack=2),
            "cannot be combined with pack",
        ),
        (
            lambda: jaxgan.create_state(CondG, ACD, key=0, conditioning="auxiliary"),
            "needs a conditional GAN",
        ),
        (
            lambda: jaxgan.create_state(
                CondG, ProjectionD, key=0, num_classes=CLASSES, conditioning="auxiliary"
            ),
            "classifier head",
        ),
    ]  # fmt: skip
    for make, message in cases:
        with pytest.raises(ValueError, match=message) as err:
            make()
        assert "\n" not in str(err.value)
    d = jaxgan.models.DCGANDiscriminator
    with pytest.raises(ValueError, match="conditioning must be"):
        d(width=2, num_classes=3, conditioning="aux", rngs=nnx.Rngs(0))


def test_config_validates_and_round_trips_ac_gan():
    ac = cfg.load_preset("cdcgan-mnist").replace(conditioning="auxiliary", ac_weight=0.5)
    assert ac.step.conditioning == "auxiliary" and ac.step.ac_weight == 0.5
    assert cfg.from_dict(cfg.to_dict(ac)) == ac
    assert cfg.parse_overrides(["conditioning=auxiliary"]) == {"conditioning": "auxiliary"}
    bad = [
        ({"conditioning": "classifier"}, "conditioning must be one of"),
        ({"conditioning": "auxiliary"}, "needs a conditional run"),
        ({"conditioning": "auxiliary", "conditional": True, "model": "resnet",
          "image_shape": (32, 32, 3)}, "classifier head"),
    ]  # fmt: skip
    for fields, message in bad:
        with pytest.raises(cfg.ConfigError, match=message) as err:
            cfg.TrainConfig.of(**fields)
        assert "\n" not in str(err.value)


def test_augment_study_takes_a_gan_seed_and_refuses_one_in_gan_set():
    from jaxgan.apps.augment_study import StudyConfig
    from jaxgan.cli import build_parser

    args = build_parser().parse_args(
        ["augment-study", "--gan-seed", "1", "--gan-set", "conditioning=auxiliary", "--out", "x"]
    )
    assert args.gan_seed == 1 and args.gan_overrides == ["conditioning=auxiliary"]
    with pytest.raises(ValueError, match="gan_seed"):
        StudyConfig(gan_overrides={"seed": 1})
