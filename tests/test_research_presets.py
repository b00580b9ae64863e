"""Research setups wired end to end: SN-ResNet, conditional GANs and the CIFAR-10 presets.

Compilation dominates on a 2-core CPU (the fused SN-ResNet iteration with n_critic 5 traces for
~17 s and compiles for ~40 s; a width-4 DCGAN preset needs ~25 s to initialise and compile), so
every preset traces one full-size training iteration (shapes and dtypes, no compilation) with
n_critic 1, and the SN-ResNet family trains for real at a small width as a conditional run
through ``jaxgan.experiment.train.train``. (The seed-mlp and 2-D presets train for real in
test_cli.py.)
"""

import functools
import gzip
import importlib
import shutil
import time

import jax
import jax.numpy as jnp
import numpy as np
import PIL.Image
import pytest

from jaxgan import cli, data, viz
from jaxgan.data import tfds_source
from jaxgan.experiment import build, evaluators, rundir
from jaxgan.experiment import config as cfg
from jaxgan.experiment import sample as run_sample
from jaxgan.experiment import train as run_train
from jaxgan.experiment.config import ConfigError, TrainConfig
from jaxgan.state import generate, sample_latent
from jaxgan.steps import train_update

SMALL = {
    "mlp": {"g_hidden": 8, "d_hidden": 8},
    "toy": {"g_hidden": 8, "d_hidden": 8},
    "dcgan": {"width": 4},
    "resnet": {"width": 8, "d_width": 8},
}
"""Per model family: the overrides that make a preset's models tiny (fast to compile)."""
CIFAR10_CLASSES = 10


def small(config: TrainConfig, **changes) -> TrainConfig:
    return cfg.apply_overrides(config, {**SMALL[config.model.family], **changes})


def with_data_classes(config: TrainConfig) -> TrainConfig:
    """What load_training_data resolves from the presets' own (CIFAR-10) labels."""
    if config.model.conditional and config.step.num_classes is None:
        return config.replace(num_classes=CIFAR10_CLASSES)
    return config


def synthetic_batch(config: TrainConfig, n: int):
    """Random examples of the preset's shape in [-1, 1] (with labels when conditional)."""
    x = jax.random.uniform(
        jax.random.key(7), (n, *config.data.image_shape), minval=-1.0, maxval=1.0
    )
    if not config.model.conditional:
        return x
    return x, jnp.arange(n, dtype=jnp.int32) % config.step.num_classes


@functools.cache
def preset_shapes(name: str):
    """A preset (n_critic 1, CIFAR-10's classes when conditional) and its state's shapes."""
    config = with_data_classes(cfg.apply_overrides(cfg.load_preset(name), {"n_critic": 1}))
    return config, jax.eval_shape(lambda: build.build_state(config, key=0))


def write_idx(folder, images, labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data.encode_idx(images)))
    if labels is not None:
        raw = data.encode_idx(labels.astype(np.uint8))
        (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw))
    return folder


def read_png(path):
    return np.asarray(PIL.Image.open(path).convert("RGB"))


# -- the presets -----------------------------------------------------------------------------------


def test_the_sngan_presets_pin_the_published_setup():
    for name in ("sngan-cifar10", "cgan-pd-cifar10"):
        c = cfg.load_preset(name)
        assert (c.model.family, c.data.name, c.data.image_shape) == (
            "resnet",
            "cifar10",
            (32, 32, 3),
        )
        assert (c.step.latent_dim, c.model.width, c.model.d_width) == (128, 256, 128)
        assert (c.step.loss, c.step.n_critic, c.optim.lr, c.optim.d_learning_rate) == (
            "hinge",
            5,
            2e-4,
            2e-4,
        )
        assert (
            c.optim.b1,
            c.optim.b2,
            c.schedule.batch_size,
            c.schedule.steps,
            c.schedule.epochs,
        ) == (0.0, 0.9, 64, 50_000, None)
        assert (c.step.ema_decay, c.step.augment, c.step.pack, c.step.num_classes) == (
            0.0,
            "",
            1,
            None,
        )
        assert c.optim.lr_schedule == "linear"  # as mimicry's SNGAN example (lr_decay='linear')
    assert not cfg.load_preset("sngan-cifar10").model.conditional
    assert cfg.load_preset("cgan-pd-cifar10").model.conditional


def test_cifar_preset_docstrings_name_their_published_targets():
    docs = {
        name: importlib.import_module(f"jaxgan.presets.{name.replace('-', '_')}").__doc__
        for name in ("sngan-cifar10", "cgan-pd-cifar10", "dcgan-cifar10")
    }
    for target in ("21.7", "16.8", "9.0", "GPU", "cifar10", "TFDS_DATA_DIR"):
        assert target in docs["sngan-cifar10"], target
    for target in ("10.8", "projection", "GPU", "labels"):
        assert target in docs["cgan-pd-cifar10"], target
    assert "48.3" in docs["dcgan-cifar10"]


def test_the_sngan_presets_build_sngans_parameter_counts():
    def count(tree):
        return sum(x.size for x in jax.tree.leaves(tree))

    # the shapes the per-preset test below traces (n_critic does not change a parameter)
    _, plain = preset_shapes("sngan-cifar10")
    # SNGAN's CIFAR-10 ResNet: G ≈ 4.3 M, D ≈ 1.0 M parameters
    assert 4.2e6 < count(plain.generator.params) < 4.4e6
    assert 0.95e6 < count(plain.discriminator.params) < 1.1e6
    _, cond = preset_shapes("cgan-pd-cifar10")
    assert cond.config.num_classes == CIFAR10_CLASSES
    # conditional BatchNorm: a scale and a shift per class in each of G's six block norms
    extra_g = count(cond.generator.params) - count(plain.generator.params)
    assert extra_g == 6 * 2 * 256 * (CIFAR10_CLASSES - 1)
    # projection: one 128-d embedding per class
    extra_d = count(cond.discriminator.params) - count(plain.discriminator.params)
    assert extra_d == 128 * CIFAR10_CLASSES


@pytest.mark.parametrize("name", cfg.preset_names())
def test_every_preset_traces_a_full_training_iteration_on_data_of_its_shape(name):
    """Every preset builds its models and optimisers, and G makes examples of the data's shape.

    Full size, shapes only; n_critic 1 because 5 D updates trace 10× slower (see the docstring).
    """
    config, state = preset_shapes(name)
    batch = synthetic_batch(config, config.schedule.batch_size)
    batch = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), batch)
    new_state, metrics = jax.eval_shape(train_update, state, batch, jax.random.key(0))
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    assert metrics["d_loss"].shape == () and metrics["g_loss"].shape == ()
    assert (state.config.loss, state.config.n_critic) == (config.step.loss, config.step.n_critic)
    assert state.config.latent_dim == config.step.latent_dim
    if config.optim.lr_schedule == "constant":  # a linear schedule chains a decay after Adam
        assert state.generator.opt_state.hyperparams["learning_rate"].shape == ()
    z = jax.ShapeDtypeStruct((3, config.step.latent_dim), jnp.float32)
    labels = jnp.zeros(3, jnp.int32) if config.model.conditional else None
    fake = jax.eval_shape(lambda s, z: generate(s, z, labels), state, z)
    assert fake.shape == (3, *config.data.image_shape)


# -- a conditional run, end to end -----------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled_cifar_like(tmp_path_factory):
    """A tiny IDX folder of six 32×32×3 images with 3 classes (labels 0, 1, 2, 0, 1, 2).

    Six, as many as the run's sample grid: TensorBoard's D outputs on the real batch and on the
    grid's fakes then have one shape and compile one program.
    """
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    return write_idx(tmp_path_factory.mktemp("cifar_like"), images, np.arange(6) % 3)


@pytest.fixture(scope="module")
def conditional_run(labelled_cifar_like, tmp_path_factory):
    config = small(
        cfg.load_preset("cgan-pd-cifar10"),
        data=f"idx:{labelled_cifar_like}",
        latent_dim=16,
        n_critic=1,  # the preset's 5 compiles for ~40 s on a 2-core CPU; 1 exercises the same code
        ema_decay=0.9,
        lr_schedule="constant",  # the resume test below lengthens the run
        batch_size=4,
        steps=2,
        steps_per_call=2,
        log_every=1,
        sample_every=2,
        checkpoint_every=2,
        grid_size=2,
        loop="python",
    )
    out = tmp_path_factory.mktemp("runs") / "cgan"
    summary = run_train.train(config, out)
    return config, out, summary


def test_a_conditional_run_takes_its_classes_from_the_labels_and_trains(conditional_run):
    config, out, summary = conditional_run
    assert config.step.num_classes is None and summary.step == 2
    saved = rundir.read_run_config(out)
    assert (saved.model.family, saved.model.conditional, saved.step.num_classes) == (
        "resnet",
        True,
        3,
    )
    _, state, _ = run_sample.load_run(out)
    assert state.config.num_classes == 3 and state.ema_params is not None
    rows = rundir.read_metrics(out)
    assert [r["step"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)


def test_conditional_grids_show_one_class_per_row_from_the_ema_weights(conditional_run):
    _, out, _ = conditional_run
    saved, state, _ = run_sample.load_run(out)
    num, columns = build.grid_layout(saved)
    assert (num, columns) == (6, 2)  # 3 classes need 3 rows of the 2-column grid
    labels = build.class_row_labels(num, columns, 3)
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 2, 2])
    z = sample_latent(build.run_keys(saved.schedule.seed).noise, num, saved.step.latent_dim)
    png = read_png(out / "samples" / "step_0000002.png")

    def grid(use_ema, y=labels):
        return viz.image_grid(generate(state, z, jnp.asarray(y), use_ema=use_ema), columns=2)

    np.testing.assert_array_equal(png, grid(use_ema=True))
    assert not np.array_equal(png, grid(use_ema=False))  # raw weights would look different
    assert not np.array_equal(png, grid(True, np.zeros(num, np.int32)))  # the labels matter
    # `jaxgan sample` (run.sample): the same noise in a square grid, again a class per row
    path = run_sample.sample(out, n=6)
    expected = viz.image_grid(
        generate(state, z, jnp.asarray(build.class_row_labels(6, 3, 3))), columns=3
    )
    np.testing.assert_array_equal(read_png(path), expected)


def test_evaluation_generates_balanced_classes_from_the_ema_weights(conditional_run):
    _, out, _ = conditional_run
    _, state, _ = run_sample.load_run(out)
    key = jax.random.key(4)
    fake = evaluators.generate_samples(state, 12, key, batch_size=6)
    parts = []
    for i in range(2):  # batch i: its own noise, labels continuing the balanced cycle
        z = sample_latent(jax.random.fold_in(key, i), 6, state.config.latent_dim)
        parts.append((z, jnp.arange(6 * i, 6 * i + 6, dtype=jnp.int32) % 3))
    np.testing.assert_array_equal(parts[1][1], [0, 1, 2, 0, 1, 2])
    ema = np.concatenate([generate(state, z, y) for z, y in parts])
    raw = np.concatenate([generate(state, z, y, use_ema=False) for z, y in parts])
    np.testing.assert_allclose(fake, ema, rtol=1e-6, atol=1e-6)
    assert not np.allclose(fake, raw)


def test_a_conditional_run_resumes_with_its_saved_classes(conditional_run, tmp_path):
    config, out, _ = conditional_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    summary = run_train.train(config.replace(steps=4), copy, resume=True)
    assert (summary.start_step, summary.step) == (2, 4)
    assert rundir.read_run_config(copy).step.num_classes == 3


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"conditional": True}, "conditional=true needs a model that takes labels"),
        ({"model": "toy", "image_shape": (2,), "conditional": True}, "or conditional=false"),
        ({"model": "resnet"}, "model 'resnet' makes 32×32 images"),
        ({"num_classes": 10}, "num_classes applies only to conditional runs"),
        (
            {"model": "resnet", "image_shape": (32, 32, 3), "conditional": True, "pack": 2},
            "packing",
        ),
        ({"model": "resnet", "d_width": 0}, "d_width must be ≥ 1"),
        ({"d_width": 8}, "model 'mlp' does not use d_width"),
    ],
)
def test_combinations_no_model_can_train_get_one_line_errors(changes, message):
    with pytest.raises(ConfigError, match=message) as err:
        cfg.apply_overrides(cfg.load_preset("seed-mlp"), changes)
    assert "\n" not in str(err.value)


def test_conditional_runs_need_labels_that_fit(labelled_cifar_like, tmp_path):
    images = np.zeros((8, 32, 32, 3), np.uint8)
    unlabelled = write_idx(tmp_path / "unlabelled", images)
    config = cfg.apply_overrides(cfg.load_preset("cgan-pd-cifar10"), {"data": f"idx:{unlabelled}"})
    with pytest.raises(ConfigError, match=r"needs labelled data.*conditional=false"):
        build.load_training_data(config)
    too_few = cfg.apply_overrides(config, {"data": f"idx:{labelled_cifar_like}", "num_classes": 2})
    with pytest.raises(ConfigError, match="labels up to 2 but num_classes is 2"):
        build.load_training_data(too_few)
    with pytest.raises(ConfigError, match="num_classes is unset"):
        build.build_state(config)  # a conditional config not yet resolved from its data


def test_training_cifar10_offline_fails_at_once_with_one_line_saying_what_to_do(
    tmp_path, monkeypatch, capsys
):
    import tensorflow_datasets as tfds

    # no prepared data and no TensorFlow to prepare it, whatever this machine has
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr(tfds_source, "has_tensorflow", lambda: False)
    out = tmp_path / "run"
    for name in ("sngan-cifar10", "cgan-pd-cifar10"):
        start = time.perf_counter()
        code = cli.main(["train", "--preset", name, "--out", str(out)])
        seconds = time.perf_counter() - start
        stdout, stderr = capsys.readouterr()
        assert code == 1 and stdout == "" and stderr.count("\n") == 1, stderr
        for hint in ("'cifar10' is not prepared", "TFDS_DATA_DIR", "idx:<folder>"):
            assert hint in stderr, hint
        assert seconds < 10 and not out.exists()


def test_grid_layout_shows_every_class():
    plain = TrainConfig.of(grid_size=8)
    assert build.grid_layout(plain) == (64, 8)
    conditional = TrainConfig.of(
        model="resnet", image_shape=(32, 32, 3), conditional=True, num_classes=10, grid_size=8
    )
    assert build.grid_layout(conditional) == (80, 8)
    labels = build.class_row_labels(80, 8, 10).reshape(10, 8)
    np.testing.assert_array_equal(labels, np.repeat(np.arange(10)[:, None], 8, axis=1))
