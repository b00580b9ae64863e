"""The research recipes' building blocks: the linear lr schedule, Stacked MNIST evaluation,
chunked ensemble sampling, and the presets' documented setups."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgan
from jaxgan import cli, ensembles
from jaxgan.data import RING8_SIGMA, ring8_modes
from jaxgan.data.stacked import DEFAULT_STACKED_SIZE
from jaxgan.experiment import evaluators
from jaxgan.experiment.build import build_state, run_keys
from jaxgan.experiment.config import (
    ConfigError,
    TrainConfig,
    config_differences,
    flatten,
    load_preset,
)
from jaxgan.experiment.evaluate import evaluate_run
from jaxgan.experiment.rundir import resume_config
from jaxgan.metrics import mixture_metrics


def test_linear_schedule_scales_adam_updates_down_to_zero():
    # b1 = b2 = 0 makes Adam's update sign(g) * lr, so the schedule is visible exactly
    tx = jaxgan.default_optimizer(0.5, 0.0, 0.0, 4)
    params = {"w": jnp.zeros(())}
    opt_state = tx.init(params)
    updates = []
    for _ in range(6):
        update, opt_state = tx.update({"w": jnp.ones(())}, opt_state, params)
        updates.append(float(update["w"]))
    np.testing.assert_allclose(updates, [-0.5, -0.375, -0.25, -0.125, 0.0, 0.0], atol=1e-6)
    assert jaxgan.default_optimizer(0.5, 0.0, 0.0, 4) is tx  # cached: one compiled step
    with pytest.raises(ValueError, match="decay_steps"):
        jaxgan.default_optimizer(0.5, decay_steps=0)


def test_linear_schedule_decays_each_player_over_its_own_updates():
    config = load_preset("ring8-best").replace(steps=40, n_critic=2, lr_schedule="linear")
    state = jax.eval_shape(lambda: build_state(config, key=0))  # the transforms are static
    g_schedule = state.generator.tx
    d_schedule = state.discriminator.tx
    optim = config.optim
    assert g_schedule is jaxgan.default_optimizer(optim.lr, optim.b1, optim.b2, 40)
    assert d_schedule is jaxgan.default_optimizer(optim.d_learning_rate, optim.b1, optim.b2, 80)


def test_linear_schedule_needs_steps_and_a_fixed_length_on_resume():
    with pytest.raises(ConfigError, match="instead of epochs"):
        TrainConfig.of(lr_schedule="linear", epochs=3.0)
    with pytest.raises(ConfigError, match="constant or linear"):
        TrainConfig.of(lr_schedule="cosine")
    saved = TrainConfig.of(lr_schedule="linear", steps=1000)
    with pytest.raises(ConfigError, match="--steps 1000"):
        resume_config(saved, saved.replace(steps=2000))
    constant = TrainConfig.of(steps=1000)
    assert resume_config(constant, constant.replace(steps=2000)).schedule.steps == 2000


def test_stacked_mnist_evaluator_counts_triples_of_real_digits(shared_data):
    real = jaxgan.data.load(f"stacked_mnist:idx:{shared_data / 'mnist'}", "test", size=3000)
    evaluate = evaluators.stacked_mnist_evaluator()
    assert evaluate.num_samples == 26_000  # the published protocol's sample count
    images = real.x.astype(np.float32) / 127.5 - 1.0
    found = evaluate(images)
    # 3,000 uniform draws over 1,000 triples cover 1000·(1 − e^−3) ≈ 950 of them; the 99.35%
    # classifier misreads a few digits, which moves single triples, not the count
    assert 920 <= found["modes"] <= 980
    assert found["kl"] < 0.45
    collapsed = evaluate(np.repeat(images[:1], 500, axis=0))
    assert collapsed["modes"] == 1
    assert collapsed["kl"] == pytest.approx(np.log(1000), rel=1e-6)
    # one image: every channel shows one digit, so all of the KL is within-channel skew
    assert collapsed["channel_kl"] == pytest.approx(3 * np.log(10), rel=1e-6)
    assert found["channel_kl"] <= found["kl"]


def test_eval_of_a_stacked_mnist_run_reports_modes_and_both_kls(shared_data, tmp_path):
    run = tmp_path / "stacked"
    argv = [
        "train",
        "--preset",
        "stacked-mnist-dcgan",
        "--steps",
        "4",
        "--out",
        str(run),
        "--set",
        f"data=stacked_mnist:idx:{shared_data / 'mnist'}",
        "--set",
        "data_split=test",
        "--set",
        "data_limit=2000",
        "--set",
        "width=4",
        "--set",
        "steps_per_call=2",
        "--set",
        "log_every=2",
        "--set",
        "sample_every=4",
        "--set",
        "checkpoint_every=4",
        "--set",
        "loop=python",  # what "auto" picks for a DCGAN here, without the lowering it measures
        "--set",
        "log=none",  # TensorBoard is tests/test_tensorboard.py's
    ]
    assert cli.main(argv) == 0
    diversity = evaluate_run(run, num_samples=500)["diversity"]
    assert set(diversity) == {"modes", "kl", "channel_kl"}
    # the floor: 500 real triples, uniform over 1,000, cover 1000·(1 − e^−0.5) ≈ 393 of them
    assert 350 <= diversity["modes"]["floor"] <= 430
    for name in ("kl", "channel_kl"):
        assert np.isfinite(diversity[name]["value"]) and diversity[name]["floor"] >= 0
    assert diversity["channel_kl"]["value"] <= diversity["kl"]["value"] + 1e-9  # rounding


def test_sample_ensemble_in_chunks_equals_one_call():
    # the preset's own sizes: its initialisers' programs serve the ring8 comparison below too
    config = load_preset("ring8-best")
    stacked = ensembles.stack_states([build_state(config, 0), build_state(config, 1)])
    whole = ensembles.sample_ensemble(stacked, 3, 250, chunk_size=250)
    chunked = ensembles.sample_ensemble(stacked, 3, 250, chunk_size=64)
    assert chunked.shape == (2, 250, 2)
    # the same samples; XLA:CPU may round a matrix product of 64 rows differently from one of
    # 250 (seen on this project's AMD EPYC machines, already before the one-driver change)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_vanilla_toy_presets_are_pacgans_setup(name):
    f = flatten(load_preset(name))
    assert (f["latent_dim"], f["g_hidden"], f["g_depth"], f["batch_norm"]) == (2, 400, 4, True)
    assert (f["d_hidden"], f["d_depth"], f["maxout_pieces"], f["pack"]) == (200, 3, 5, 1)
    assert (f["lr"], f["b1"], f["batch_size"], f["epochs"]) == (1e-4, 0.8, 100, 400)
    assert f["loss"] == "non_saturating" and f["ema_decay"] == 0


@pytest.mark.parametrize(
    ("name", "g_size", "steps", "schedule"),
    [("ring8-best", (128, 3), 10_000, "constant"), ("grid25-best", (256, 4), 40_000, "linear")],
)
def test_best_toy_presets_are_the_documented_recipes(name, g_size, steps, schedule):
    f = flatten(load_preset(name))  # docs/results.md reports these settings over seeds 0-4
    assert (f["g_hidden"], f["g_depth"], f["batch_norm"], f["latent_dim"]) == (*g_size, False, 2)
    assert (f["d_hidden"], f["d_depth"], f["maxout_pieces"], f["pack"]) == (128, 2, 5, 1)
    assert (f["lr"], f["b1"], f["batch_size"], f["r1"]) == (1e-3, 0.5, 100, 0.1)
    assert f["ema_decay"] == 0.999
    assert (f["steps"], f["epochs"], f["lr_schedule"]) == (steps, None, schedule)


def test_stacked_remedy_differs_from_the_baseline_only_in_packing():
    base, remedy = load_preset("stacked-mnist-dcgan"), load_preset("stacked-mnist-pacgan2")
    f = flatten(base)
    assert (f["model"], f["latent_dim"], f["lr"], f["b1"], f["batch_size"], f["epochs"]) == (
        "dcgan",
        100,
        2e-4,
        0.5,
        64,
        50,
    )
    assert (base.data.name, base.data.image_shape) == ("stacked_mnist", (28, 28, 3))
    assert config_differences(base, remedy) == {
        "name": ("stacked-mnist-dcgan", "stacked-mnist-pacgan2"),
        "pack": (1, 2),
    }


def test_stacked_ttur_is_the_baseline_with_ttur_and_a_decay_of_the_same_length():
    base, ttur = load_preset("stacked-mnist-dcgan"), load_preset("stacked-mnist-ttur")
    schedule = base.schedule
    # 50 epochs × 128k images / batch 64
    baseline_iterations = schedule.epochs * DEFAULT_STACKED_SIZE // schedule.batch_size
    assert ttur.schedule.steps == baseline_iterations == 100_000
    assert config_differences(base, ttur) == {
        "name": ("stacked-mnist-dcgan", "stacked-mnist-ttur"),
        "lr": (2e-4, 1e-4),
        "d_lr": (None, 4e-4),
        "lr_schedule": ("constant", "linear"),
        "epochs": (50, None),
        "steps": (base.schedule.steps, 100_000),
    }


BUDGET_STEPS = 600
"""Iterations of the short ring8 comparison (vanilla's 4×400 BatchNorm G runs most of its time)."""


@pytest.mark.slow
def test_ring8_best_preset_beats_vanilla_at_an_equal_short_budget():
    # PacGAN's vanilla GAN needs its full 400k iterations to drop modes; at an equal short budget
    # both reach most of the 8 modes, and the difference is how many samples land on one (within
    # 3σ). The best preset's EMA (decay 0.999) averages over ~1,000 steps, longer than this whole
    # budget, so it is scaled to the budget (0.99); everything else is the preset.
    # Measured at 600 iterations with the tests' XLA flags (seeds 0, 1, 2): best 8/8 modes,
    # reverse KL 0.02, 0.11, 0.08, 5.8-6.3 % of samples within 3σ; vanilla 6, 6 and 5 modes,
    # reverse KL 0.56, 0.39, 0.68, 0.6-1.2 %. Shorter budgets do not keep the margins on every
    # seed: at 400 seed 1's reverse KL is 0.16 against vanilla's 0.26; at 300 the best preset
    # finds only 7 (seed 1) and 6 (seed 2) modes. (At 1,000 iterations its share within 3σ
    # reaches 40-49 %.)
    ring = jaxgan.data.load("ring8")
    found = {}
    for name, changes in (("ring8", {}), ("ring8-best", {"ema_decay": 0.99})):
        config = load_preset(name).replace(seed=0, **changes)
        keys = run_keys(config.schedule.seed)
        state, _ = jaxgan.fit(
            build_state(config, keys.init),
            ring.x,
            steps=BUDGET_STEPS,
            batch_size=100,
            key=keys.train,
            steps_per_call=100,
            loop="scan",  # what "auto" picks for both, without the lowering it measures
        )
        points = jaxgan.generate(state, jaxgan.sample_latent(keys.noise, 2500, 2))
        found[name] = mixture_metrics(np.asarray(points), ring8_modes(), RING8_SIGMA)
    best, vanilla = found["ring8-best"], found["ring8"]
    assert best["modes"] == 8
    assert best["modes"] >= vanilla["modes"]
    assert best["high_quality"] > 3 * vanilla["high_quality"]
    assert best["reverse_kl"] < vanilla["reverse_kl"] / 3
