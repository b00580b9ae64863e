"""The step options that save work: one joint D call, and G reusing D's fake batch.

Each test pins an equivalence the docs claim (StepConfig's docstring, docs/speed.md): a joint D
call equals two calls; the fused ``train_step`` with ``reuse_fake`` equals ``d_step`` then
``g_step`` with ``reuse_fake``; and ``reuse_fake`` really trains G on the samples D judged.
Gradients are compared through SGD with learning rate 1 (new parameters = old − gradient), since
Adam's first step turns any rounding difference of a near-zero gradient into a ±lr step.
"""

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

KEY = jax.random.key(5)
SGD = optax.sgd(1.0)


def real_batch(n=8, shape=(28, 28, 1)):
    return jax.random.uniform(jax.random.key(7), (n, *shape), minval=-1.0, maxval=1.0)


class SmallG(nnx.Module):
    """z(8) → Dense 16 → BatchNorm → ReLU → Dropout(0.3) → Dense 4: statistics and dropout."""

    def __init__(self, rngs: nnx.Rngs):
        self.latent_dim = 8
        self.hidden = nnx.Linear(8, 16, rngs=rngs)
        self.norm = nnx.BatchNorm(16, rngs=rngs)
        self.dropout = nnx.Dropout(0.3)
        self.out = nnx.Linear(16, 4, rngs=rngs)

    def __call__(self, z, *, rngs=None):
        return self.out(self.dropout(jax.nn.relu(self.norm(self.hidden(z))), rngs=rngs))


class SmallD(nnx.Module):
    """4 → Dense 16 → LeakyReLU → Dropout → logit: no statistics, random masks (rate > 0)."""

    def __init__(self, rngs: nnx.Rngs, dropout: float = 0.3):
        self.hidden = nnx.Linear(4, 16, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x, *, rngs=None):
        return self.out(self.dropout(jax.nn.leaky_relu(self.hidden(x), 0.2), rngs=rngs))[:, 0]


def small_state(**config):
    """SmallG against SmallD, SGD(1) for both."""
    return jaxgan.create_state(
        SmallG, SmallD, key=jax.random.key(0), g_optimizer=SGD, d_optimizer=SGD, **config
    )


def small_batch(n=8):
    return jax.random.normal(jax.random.key(7), (n, 4))


def with_config(state, **changes):
    return state.replace(config=dataclasses.replace(state.config, **changes))


def joint_then_two_calls(state, batch):
    """``d_update`` of ``state`` with ``joint_d_call`` on, then off, on one batch."""
    return tuple(
        jaxgan.d_update(with_config(state, joint_d_call=joint), batch, KEY)
        for joint in (True, False)
    )


def joint_and_two_calls(state, batch):
    """:func:`joint_then_two_calls` as one program on one copy of the state.

    The parts both forms share (the step keys, G's fake batch) are then the same computation,
    which XLA compiles and runs once.
    """
    return jax.jit(joint_then_two_calls)(state, batch)


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.mark.parametrize("model", ["dense", "dcgan"])
def test_one_joint_d_call_equals_two_calls(model):
    if model == "dense":  # computed beside the reuse_fake checks below, on their state
        state = no_dropout_state()
        (joint, m_joint), (two, m_two) = no_dropout_runs()["joint_and_two_calls"]
    else:  # a conv D without dropout (dropout would draw other masks, as documented); G is a
        # small dense one, as only D's calls differ
        state = jaxgan.create_state(
            lambda rngs: models.MLPGenerator(latent_dim=8, hidden=16, rngs=rngs),
            lambda rngs: models.DCGANDiscriminator(width=4, dropout=0.0, rngs=rngs),
            key=jax.random.key(0),
            g_optimizer=SGD,
            d_optimizer=SGD,
        )
        (joint, m_joint), (two, m_two) = joint_and_two_calls(state, real_batch())
    assert state.config.joint_d_call and not jax.tree.leaves(state.discriminator.rest)
    assert m_joint.keys() == m_two.keys()
    for name in m_joint:
        np.testing.assert_allclose(m_joint[name], m_two[name], rtol=1e-5, err_msg=name)
    # SGD(1): the parameter change is the gradient
    assert_trees_close(joint.discriminator.params, two.discriminator.params)


def test_joint_d_call_also_serves_penalties_and_packing():
    state = jaxgan.create_state(
        models.MLPGenerator,
        lambda rngs: models.MLPDiscriminator((28, 28, 2), rngs=rngs),
        key=jax.random.key(0),
        g_optimizer=SGD,
        d_optimizer=SGD,
        loss="wasserstein",
        gradient_penalty=10.0,
        r1=1.0,
        pack=2,
    )
    (joint, m_joint), (two, m_two) = joint_and_two_calls(state, real_batch(16))
    for name in ("d_loss", "d_real", "d_fake", "gradient_penalty", "r1"):
        np.testing.assert_allclose(m_joint[name], m_two[name], rtol=1e-5, err_msg=name)
    assert_trees_close(joint.discriminator.params, two.discriminator.params)


class CondG(nnx.Module):
    """A class-conditional generator: z(8) and a one-hot label → 4 values."""

    def __init__(self, rngs: nnx.Rngs):
        self.latent_dim = 8
        self.linear = nnx.Linear(8 + 3, 4, rngs=rngs)

    def __call__(self, z, labels, *, rngs=None):
        return self.linear(jnp.concatenate([z, jax.nn.one_hot(labels, 3)], axis=1))


class CondD(nnx.Module):
    """A projection discriminator without statistics: the labels pick each row's weights."""

    def __init__(self, rngs: nnx.Rngs):
        self.linear = nnx.Linear(4, 8, rngs=rngs)
        self.embed = nnx.Embed(3, 8, rngs=rngs)

    def __call__(self, x, labels, *, rngs=None):
        return jnp.sum(jax.nn.relu(self.linear(x)) * self.embed(labels), axis=1)


def test_joint_d_call_keeps_each_sample_with_its_label():
    state = jaxgan.create_state(
        CondG, CondD, key=0, g_optimizer=SGD, d_optimizer=SGD, num_classes=3
    )
    batch = (small_batch(16), jnp.arange(16) % 3)
    (joint, m_joint), (two, m_two) = joint_and_two_calls(state, batch)
    for name in m_joint:
        np.testing.assert_allclose(m_joint[name], m_two[name], rtol=1e-5, err_msg=name)
    assert_trees_close(joint.discriminator.params, two.discriminator.params)


class NormD(nnx.Module):
    """A discriminator with BatchNorm: its statistics must see real and fake apart."""

    def __init__(self, rngs: nnx.Rngs):
        self.linear = nnx.Linear(784, 8, rngs=rngs)
        self.norm = nnx.BatchNorm(8, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x, *, rngs=None):
        return self.out(jax.nn.relu(self.norm(self.linear(x.reshape((x.shape[0], -1))))))[:, 0]


def test_a_discriminator_with_statistics_is_always_called_twice():
    state = jaxgan.create_state(models.MLPGenerator, NormD, key=jax.random.key(0))
    assert state.config.joint_d_call and jax.tree.leaves(state.discriminator.rest)
    # the default configuration (joint_d_call on) against two calls
    (default, m_default), (two, m_two) = joint_and_two_calls(state, real_batch(16))
    # the same computation: identical bits, statistics updated by two calls (real, then fake)
    for a, b in zip(jax.tree.leaves(default), jax.tree.leaves(two), strict=True):
        np.testing.assert_array_equal(a, b)
    assert all(bool(m_default[k] == m_two[k]) for k in m_default)


def d_steps_then_g_step(state, real, key):
    """``n_critic`` calls of ``d_update``, then ``g_update``: the two-step form of an iteration."""
    n_critic, size = state.config.n_critic, real.shape[0] // state.config.n_critic
    metrics = {}
    for i in range(n_critic):
        state, metrics = jaxgan.d_update(state, real[size * i : size * (i + 1)], key)
    state, g_metrics = jaxgan.g_update(state, real[:size], key)
    return state, {**metrics, **g_metrics}


@functools.cache
def fused_and_apart():
    """``{n_critic: (fused iteration, two-step iteration)}`` with ``reuse_fake``, n_critic 1 and 2.

    One program on one copy of the state; each result is ``(state, metrics)``.
    """

    def run(state, real):
        results = {}
        for n_critic in (1, 2):
            config = with_config(state, n_critic=n_critic)
            batch = real[: 8 * n_critic]
            results[n_critic] = (
                jaxgan.train_update(config, batch, KEY),
                d_steps_then_g_step(config, batch, KEY),
            )
        return results

    return jax.jit(run)(small_state(reuse_fake=True), small_batch(16))


@pytest.mark.parametrize("n_critic", [1, 2])
def test_fused_reuse_fake_iteration_equals_d_step_then_g_step(n_critic):
    """The fused form runs G's forward pass once; d_update then g_update run it twice."""
    (fused, m_fused), (apart, m_apart) = fused_and_apart()[n_critic]
    assert fused.config.reuse_fake and fused.config.n_critic == n_critic
    assert set(m_fused) == set(m_apart)
    for name in m_fused:
        np.testing.assert_allclose(m_fused[name], m_apart[name], rtol=1e-5, err_msg=name)
    # SGD(1): equal parameters mean equal gradients; G's BatchNorm statistics come from the
    # same forward pass
    assert_trees_close(fused.generator.params, apart.generator.params)
    assert_trees_close(fused.discriminator.params, apart.discriminator.params)
    assert_trees_close(fused.generator.rest, apart.generator.rest)
    assert (int(fused.d_updates), int(fused.g_updates)) == (n_critic, 1)


FROZEN = optax.sgd(0.0)
N_CRITIC = 2
"""Two D updates per iteration in the reuse_fake checks below, so "the last" is not also "the
first" (n_critic 1 is the same code path, and the fused equivalence above runs it)."""


def no_dropout_state():
    """SmallG against SmallD without dropout, SGD(1) for both."""
    return jaxgan.create_state(
        SmallG, lambda rngs: SmallD(rngs, dropout=0.0), key=0, g_optimizer=SGD, d_optimizer=SGD
    )


def frozen(state):
    """``state`` with D frozen by SGD(0) (G's SGD(1) plays no part) and ``N_CRITIC`` D updates."""
    return with_config(
        state.replace(discriminator=state.discriminator.replace(tx=FROZEN)), n_critic=N_CRITIC
    )


@functools.cache
def no_dropout_runs():
    """What the joint-call and reuse_fake checks compute on :func:`no_dropout_state`.

    ``joint_and_two_calls``: its ``d_update`` with one joint D call, then two calls;
    ``reused``/``fresh``: the metrics of one iteration of the frozen-D state with and without
    ``reuse_fake``; ``two_steps``: the D update metrics (the last one) and G update metrics of
    ``d_update`` then ``g_update`` with ``reuse_fake``. One program on one copy of the state:
    the first D update of the frozen runs and the joint call differ only by D's optimiser.
    """

    def run(state, real):
        joint = joint_then_two_calls(state, real[:16])
        fixed = frozen(state)
        reused = with_config(fixed, reuse_fake=True)
        two_steps = reused
        for i in range(N_CRITIC):
            two_steps, d_metrics = jaxgan.d_update(two_steps, real[16 * i : 16 * (i + 1)], KEY)
        _, g_metrics = jaxgan.g_update(two_steps, real[:16], KEY)
        return {
            "joint_and_two_calls": joint,
            "reused": jaxgan.train_update(reused, real, KEY)[1],
            "fresh": jaxgan.train_update(fixed, real, KEY)[1],
            "two_steps": (d_metrics, g_metrics),
        }

    return jax.jit(run)(no_dropout_state(), small_batch(16 * N_CRITIC))


def test_reuse_fake_trains_g_on_the_batch_the_last_d_update_judged():
    """With D frozen (SGD(0)) and no dropout in D, G must see exactly what D saw."""
    runs = no_dropout_runs()
    reused, fresh = runs["reused"], runs["fresh"]
    # d_fake: mean D(G(z)) over the last D update's batch; d_fake_g: what the G update saw
    np.testing.assert_allclose(reused["d_fake_g"], reused["d_fake"], rtol=1e-6)
    assert abs(float(fresh["d_fake_g"]) - float(fresh["d_fake"])) > 1e-4  # fresh noise
    # the two-step form draws the same batch again from the last D update's key
    d_metrics, g_metrics = runs["two_steps"]
    np.testing.assert_allclose(g_metrics["d_fake_g"], d_metrics["d_fake"], rtol=1e-6)


def test_defaults_keep_the_exact_algorithm_and_reuse_fake_is_opt_in():
    config = jaxgan.StepConfig()
    assert not config.reuse_fake and config.joint_d_call
    assert not frozen(no_dropout_state()).config.reuse_fake
    # the same state and batch: the default draws G's batch afresh, reuse_fake does not
    m_reuse, m_default = no_dropout_runs()["reused"], no_dropout_runs()["fresh"]
    assert float(m_default["g_loss"]) != float(m_reuse["g_loss"])


def test_reuse_fake_runs_resume_exactly():
    state = small_state(reuse_fake=True)
    data = small_batch(32)
    whole, _ = jaxgan.fit(state, data, steps=4, batch_size=8, key=3, loop="python")
    part, _ = jaxgan.fit(
        small_state(reuse_fake=True),
        data,
        steps=1,
        batch_size=8,
        key=3,
        loop="python",
    )
    part, _ = jaxgan.fit(part, data, steps=3, batch_size=8, key=3, loop="python")
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(part), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_option_values_raise_one_line_errors():
    with pytest.raises(ValueError, match="reuse_fake must be True or False, got 'yes'"):
        jaxgan.StepConfig(reuse_fake="yes")
    with pytest.raises(ValueError, match="joint_d_call must be True or False, got 1"):
        jaxgan.StepConfig(joint_d_call=1)
