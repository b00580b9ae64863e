import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgan
from jaxgan import ensembles, models
from jaxgan.ensembles import (
    create_ensemble,
    fit_ensemble,
    plan_runs,
    set_hyperparams,
    take_run,
)
from jaxgan.experiment import evaluators
from jaxgan.experiment.ensemble import run_ensemble

# jit caches on the static parts of a state (the optimisers among them): the single runs below
# pass this one explicitly; ensembles reuse the optimisers traced by ``create_ensemble``.
TX = jaxgan.default_optimizer(2e-4, b1=0.5)
# Every ensemble below has three runs (or one: the slices of ``runs_together``) and trains with
# the same chunk length and batch size, so the module compiles four training programs: three
# runs of ``build``, three with BatchNorm in G and n_critic=2, one run stacked, one run alone.
CHUNK = 4
SEEDS = [0, 1, 2]


def build(key, batch_norm=False, hidden=16, tx=None):
    """A tiny PacGAN-style toy GAN (2-D points), new default optimisers unless ``tx`` is given."""
    return jaxgan.create_state(
        functools.partial(models.ToyGenerator, hidden=hidden, depth=1, batch_norm=batch_norm),
        functools.partial(models.ToyDiscriminator, in_dim=4, hidden=hidden, depth=1, pieces=2),
        key=key,
        g_optimizer=tx,
        d_optimizer=tx,
        pack=2,
    )


@pytest.fixture(scope="module")
def points():
    return jaxgan.data.load("ring8", size=600)


def paired(seeds, lrs):
    """One run per (seed, learning rate) pair."""
    return [
        ensembles.RunSpec(i, s, {"lr": lr})
        for i, (s, lr) in enumerate(zip(seeds, lrs, strict=True))
    ]


def assert_trees_close(a, b, rtol=1e-4, atol=1e-5):
    for (path, x), y in zip(
        jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True
    ):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=jax.tree_util.keystr(path))


def test_run_i_of_an_ensemble_is_the_same_run_trained_alone(points):
    """Seeds, learning rates and D's β1 differ per run inside one program; each run equals fit."""
    runs = [
        ensembles.RunSpec(i, seed, {"lr": lr, "d_b1": b1})
        for i, (seed, lr, b1) in enumerate([(0, 1e-3, 0.5), (3, 3e-3, 0.8), (7, 1e-2, 0.0)])
    ]
    stacked, keys = create_ensemble(build, runs)
    stacked, history = fit_ensemble(
        stacked, points.x, steps=7, batch_size=50, keys=keys, loop="scan", steps_per_call=CHUNK
    )
    assert history["d_loss"].shape == (7, 3)
    np.testing.assert_array_equal(history["step"], np.arange(1, 8))
    for i, run in enumerate(runs):
        init_key, train_key, _ = ensembles.run_keys(run.seed)
        alone = set_hyperparams(build(init_key, tx=TX), lr=run.hyperparams["lr"])
        alone = set_hyperparams(alone, d_b1=run.hyperparams["d_b1"])
        alone, alone_history = jaxgan.fit(
            alone, points.x, steps=7, batch_size=50, key=train_key, loop="scan",
            steps_per_call=CHUNK,
        )  # fmt: skip
        assert_trees_close(take_run(stacked, i), alone)
        for name in ("d_loss", "g_loss", "d_real", "d_fake"):
            np.testing.assert_allclose(history[name][:, i], alone_history[name], rtol=1e-5)
    # the runs really differ (own seeds, own hyperparameters)
    assert not np.allclose(history["d_loss"][:, 0], history["d_loss"][:, 1])
    lrs = ensembles.get_hyperparams(stacked)
    np.testing.assert_allclose(lrs["g_learning_rate"], [1e-3, 3e-3, 1e-2])
    np.testing.assert_allclose(lrs["d_b1"], [0.5, 0.8, 0.0])
    np.testing.assert_allclose(lrs["g_b1"], [0.5, 0.5, 0.5])  # unchanged default


def test_no_recompilation_across_seeds_values_or_resumes(points):
    def train(stacked, keys, steps):
        return fit_ensemble(
            stacked, points.x, steps=steps, batch_size=50, keys=keys, loop="scan",
            steps_per_call=CHUNK,
        )  # fmt: skip

    stacked, keys = create_ensemble(build, paired([1, 2, 3], [1e-3, 2e-3, 3e-3]))
    whole, _ = train(stacked, keys, 6)  # 6 steps in chunks of 4: a full and a masked chunk
    compiled = jaxgan.loop._scan_chunk._cache_size(), jaxgan.loop._chunk_indices._cache_size()
    # other seeds and other learning rates: the same program
    other, other_keys = create_ensemble(build, paired([5, 9, 0], [4e-3, 5e-4, 1e-4]))
    other, _ = train(other, other_keys, 6)
    # changing hyperparameters of a trained stack and resuming: the same program, exact resume
    part, _ = create_ensemble(build, paired([1, 2, 3], [1e-3, 2e-3, 3e-3]))
    part, _ = train(part, keys, 2)
    part, _ = train(part, keys, 4)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(part), strict=True):
        np.testing.assert_array_equal(a, b)
    train(set_hyperparams(part, lr=[1e-5, 1e-5, 1e-5]), keys, 1)
    assert (jaxgan.loop._scan_chunk._cache_size(), jaxgan.loop._chunk_indices._cache_size()) == (
        compiled
    )


def test_stacked_state_memory_is_n_times_one_run_and_init_equals_each_run_alone():
    def nbytes(tree):
        return sum(leaf.nbytes for leaf in jax.tree.leaves(tree))

    single = build(ensembles.run_keys(11)[0], tx=TX)
    for seeds in ([4, 11, 5], [11]):  # the ensemble sizes the other tests train: 3 and 1
        stacked, keys = create_ensemble(build, seeds)
        n = len(seeds)
        assert nbytes(stacked) == n * nbytes(single)
        assert keys.shape == (n,)
        assert all(leaf.shape[0] == n for leaf in jax.tree.leaves(stacked))
    # built in one vmapped call, run 1 (seed 11) has the bits of the run built alone
    stacked, _ = create_ensemble(build, [4, 11, 5])
    for a, b in zip(jax.tree.leaves(take_run(stacked, 1)), jax.tree.leaves(single), strict=True):
        np.testing.assert_array_equal(a, b)


def test_data_order_per_run_follows_fit_and_shared_is_one_order():
    # the driver's chunk indices: (iterations, runs, n_critic, B) from each run's own data key
    keys = jnp.stack([ensembles.run_keys(s).train for s in (0, 1, 2)])
    data_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, 2)
    # the shapes of the fits above (600 points, batches of 50): the same compiled programs
    shape = dict(num_examples=600, batch_size=50)
    chunk = dict(steps_per_call=CHUNK, n_critic=1, **shape)
    per_run = jaxgan.loop._chunk_indices(data_keys, jnp.int32(3), **chunk)
    assert per_run.shape == (CHUNK, 3, 1, 50)
    for i in range(3):
        fit_order = jaxgan.batch_indices(data_keys[i], 3, num_slots=CHUNK, **shape)
        np.testing.assert_array_equal(per_run[:, i, 0], fit_order)
    assert not np.array_equal(per_run[:, 0], per_run[:, 1])
    shared = jaxgan.loop._chunk_indices(data_keys[1], jnp.int32(3), **chunk)
    np.testing.assert_array_equal(shared[:, 0], per_run[:, 1, 0])


def test_run_ensemble_writes_tables_and_plots_and_groups_static_values(points, tmp_path):
    traced = []

    def build_bn(key, batch_norm=False):
        traced.append(batch_norm)
        return build(key, batch_norm=batch_norm)

    summary = run_ensemble(
        build_bn, points, seeds=SEEDS, steps=3, batch_size=50, out_dir=tmp_path,
        sweep={"batch_norm": [False, True], "n_critic": [1, 2]}, combine="zip",
        steps_per_call=CHUNK, num_samples=100,
    )  # fmt: skip
    rows = summary["runs"]
    assert [(r["seed"], r["batch_norm"], r["n_critic"]) for r in rows] == [
        (0, False, 1), (1, False, 1), (2, False, 1), (0, True, 2), (1, True, 2), (2, True, 2)
    ]  # fmt: skip
    # one program per static setting: the build argument reaches build_state_fn
    assert traced == [False, True]
    assert [g["static"] for g in summary["groups"]] == [
        {"batch_norm": False, "n_critic": 1}, {"batch_norm": True, "n_critic": 2}
    ]  # fmt: skip
    # ring8 data: PacGAN's mixture metrics per run, mean ± s.e. per setting
    assert {"modes", "high_quality", "reverse_kl", "d_loss", "g_loss"} <= set(rows[0])
    assert len(summary["aggregate"]) == 2
    first = summary["aggregate"][0]
    values = [rows[0]["g_loss"], rows[1]["g_loss"], rows[2]["g_loss"]]
    assert first["setting"] == "batch_norm=False,n_critic=1" and first["runs"] == 3
    assert first["g_loss_mean"] == pytest.approx(np.mean(values))
    assert first["g_loss_se"] == pytest.approx(np.std(values, ddof=1) / np.sqrt(3))
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["setup"]["seeds"] == SEEDS and len(saved["runs"]) == 6
    assert (tmp_path / "runs.csv").read_text().count("\n") == 7
    assert "± " in (tmp_path / "summary.md").read_text()
    assert len(list((tmp_path / "samples").glob("run_*.png"))) == 6
    assert (tmp_path / "samples.png").stat().st_size > 0
    with np.load(tmp_path / "history.npz") as history:
        assert history["d_loss"].shape == (3, 6) and np.isfinite(history["d_loss"]).all()
    with pytest.raises(FileExistsError, match="already holds"):
        run_ensemble(build_bn, points, seeds=1, steps=1, batch_size=50, out_dir=tmp_path)


def test_runs_together_trains_slices_in_turn_with_the_same_results(points, tmp_path):
    """Slices of at most K runs give each run the result it gets in one vmapped program.

    K = 1: each run trains in a slice of its own (a stack of one), the whole group as one
    stack of three (the programs the other tests of this module train).
    """
    # plots are checked above; here only the numbers matter
    common = dict(
        seeds=SEEDS, steps=4, batch_size=50, steps_per_call=CHUNK, num_samples=100, plots=False
    )
    whole = run_ensemble(build, points, out_dir=tmp_path / "whole", **common)
    reported = []
    sliced = run_ensemble(
        build, points, out_dir=tmp_path / "sliced", runs_together=1, on_group=reported.append,
        **common,
    )  # fmt: skip
    assert [g["runs"] for g in sliced["groups"]] == [[0], [1], [2]]
    assert reported == sliced["groups"] and sliced["setup"]["runs_together"] == 1
    for a, b in zip(whole["runs"], sliced["runs"], strict=True):
        assert a["seed"] == b["seed"]
        for metric in ("d_loss", "g_loss", "modes", "high_quality"):
            assert b[metric] == pytest.approx(a[metric], rel=1e-4, abs=1e-5), metric
    with pytest.raises(ValueError, match="runs_together must be at least 1"):
        run_ensemble(build, points, out_dir=tmp_path / "bad", runs_together=0, **common)


def test_every_run_is_evaluated_in_one_call():
    stacked, _ = create_ensemble(build, [0, 3, 7])

    def centre(samples):
        return {"x": float(samples[:, 0].mean()), "y": float(samples[:, 1].mean())}

    result = evaluators.evaluate_ensemble(stacked, centre, num_samples=64, key=3)
    z = jaxgan.sample_latent(jax.random.key(3), 64, 2)
    for i in range(3):
        alone = np.asarray(jaxgan.generate(take_run(stacked, i), z))
        assert result["runs"][i]["x"] == pytest.approx(alone[:, 0].mean(), rel=1e-5, abs=1e-6)
    xs = [r["x"] for r in result["runs"]]
    assert result["mean"]["x"] == pytest.approx(np.mean(xs))
    assert result["se"]["x"] == pytest.approx(np.std(xs, ddof=1) / np.sqrt(3))
    ring = evaluators.mixture_evaluator("ring8")
    assert ring(jaxgan.data.ring8_modes())["modes"] == 8


def test_parse_sweep_reads_command_line_values():
    assert ensembles.parse_sweep("lr=1e-4,2e-4,4e-4") == ("lr", [1e-4, 2e-4, 4e-4])
    assert ensembles.parse_sweep("n_critic=1,5") == ("n_critic", [1, 5])
    assert ensembles.parse_sweep("loss=hinge,wasserstein") == ("loss", ["hinge", "wasserstein"])
    assert ensembles.parse_sweep("pack=1,2,4") == ("pack", [1, 2, 4])
    assert ensembles.parse_sweep("g_lr=1") == ("g_lr", [1.0])


def test_run_keys_are_the_first_splits_of_the_seed():
    # the one derivation used by `jaxgan train --seed 7` and by the ensemble member of seed 7
    keys = ensembles.run_keys(7)
    expected = jax.random.split(jax.random.key(7), 3)
    for got, want in zip(keys, expected, strict=True):
        np.testing.assert_array_equal(jax.random.key_data(got), jax.random.key_data(want))
    assert jaxgan.experiment.run_keys is ensembles.run_keys


@pytest.mark.parametrize(
    ("seeds", "sweep", "combine", "error", "match"),
    [
        (0, None, "grid", ValueError, "seeds must be ≥ 1"),
        ([], None, "grid", ValueError, "seeds is empty"),
        ([1, 1], None, "grid", ValueError, "distinct"),
        (True, None, "grid", TypeError, "positive integer"),
        ("3", None, "grid", TypeError, "positive integer"),
        (2, {"lr": [1e-4, 2e-4], "b1": [0.5]}, "zip", ValueError, "one length"),
        (2, {"lr": []}, "grid", ValueError, "no values"),
        (2, {"lr": 1e-4}, "grid", TypeError, "list of values"),
        (2, {"lr": ["fast"]}, "grid", TypeError, "finite numbers"),
        (2, {"lr": [True]}, "grid", TypeError, "finite numbers"),
        (2, {"lr": [-1e-4]}, "grid", ValueError, "> 0"),
        (2, {"b1": [1.0]}, "grid", ValueError, r"\[0, 1\)"),
        (2, {"n_critic": [1.5]}, "grid", TypeError, "positive integers"),
        (2, {"n_critic": [0]}, "grid", ValueError, "n_critic"),
        (2, {"gradient_penalty": ["x"]}, "grid", TypeError, "numbers ≥ 0"),
        (2, {"loss": ["nope"]}, "grid", ValueError, "nope"),
        (2, {"seed": [1, 2]}, "grid", ValueError, "seeds="),
        (2, {"hidden": [[1]]}, "grid", TypeError, "numbers, strings"),
        (2, {"lr": [1e-4]}, "all", ValueError, "combine must be"),
    ],
)
def test_plans_reject_bad_input_with_one_line_errors(seeds, sweep, combine, error, match):
    with pytest.raises(error, match=match) as info:
        plan_runs(seeds, sweep, combine=combine)
    assert "\n" not in str(info.value)


def test_ensemble_functions_reject_bad_input(points, tmp_path):
    stacked, keys = create_ensemble(build, [4, 11, 5])
    shapes = jax.eval_shape(build, jax.random.key(0))  # states without computing them
    with pytest.raises(ValueError, match="has 2 values but the ensemble has 3"):
        set_hyperparams(stacked, lr=[1e-4, 2e-4])
    with pytest.raises(ValueError, match="static"):
        set_hyperparams(stacked, n_critic=[1, 2, 1])
    with pytest.raises(TypeError, match="numbers"):
        set_hyperparams(stacked, lr=["a", "b", "c"])
    with pytest.raises(IndexError, match="out of range for an ensemble of 3"):
        take_run(stacked, 3)
    with pytest.raises(ValueError, match=r"keys must have shape \(3,\)"):
        fit_ensemble(stacked, points.x, steps=1, batch_size=10, keys=keys[:2])
    with pytest.raises(ValueError, match="counters of shape"):
        ensembles.ensemble_size(shapes)
    other = shapes.replace(config=jaxgan.StepConfig(latent_dim=2, n_critic=2, pack=2))
    with pytest.raises(ValueError, match=r"StepConfig fields \['n_critic'\]"):
        ensembles.stack_states([shapes, other])
    with pytest.raises(ValueError, match="state 1"):
        ensembles.stack_states([shapes, jax.eval_shape(lambda k: build(k, hidden=8), keys[0])])
    with pytest.raises(TypeError, match="non-empty list of GANStates"):
        ensembles.stack_states([])
    with pytest.raises(ValueError, match="no keyword of build_state_fn"):
        run_ensemble(
            lambda key: build(key),
            points,
            seeds=1,
            steps=1,
            batch_size=10,
            out_dir=tmp_path,
            sweep={"width": [1, 2]},
        )
    with pytest.raises(ValueError, match="differ in static values"):
        create_ensemble(build, plan_runs(1, {"n_critic": [1, 2]}))
    with pytest.raises(ValueError, match="name=v1,v2"):
        ensembles.parse_sweep("lr")
    with pytest.raises(TypeError, match="finite numbers"):
        ensembles.parse_sweep("lr=1e-4,fast")
    with pytest.raises(TypeError, match="positive integers"):
        ensembles.parse_sweep("n_critic=1,2.5")
