import json
from pathlib import Path

import jax
import pytest

import jaxgan
from jaxgan.experiment import config as cfg
from jaxgan.experiment.build import build_state
from jaxgan.experiment.config import ConfigError, TrainConfig

REQUIRED_PRESETS = ("seed-mlp", "dcgan-mnist", "dcgan-cifar10", "ring8", "grid25")


def test_the_required_presets_exist_and_say_how_to_run_them():
    assert set(REQUIRED_PRESETS) <= set(cfg.preset_names())
    folder = Path(cfg.__file__).parents[1] / "presets"
    for name in cfg.preset_names():
        text = (folder / f"{name.replace('-', '_')}.py").read_text()
        assert text.startswith('"""Run: ``jaxgan train'), name
        assert f"--preset {name}" in text.splitlines()[0], name
        assert cfg.load_preset(name).name == name


def test_presets_pin_the_published_setups():
    seed = cfg.flatten(cfg.load_preset("seed-mlp"))
    assert (seed["model"], seed["data"], seed["image_shape"]) == (
        "mlp",
        "fashion_mnist_sample",
        (28, 28, 1),
    )
    assert (seed["lr"], seed["d_lr"], seed["b1"], seed["batch_size"]) == (2e-4, None, 0.5, 64)
    assert (seed["latent_dim"], seed["g_hidden"], seed["d_hidden"], seed["g_dropout"]) == (
        100,
        128,
        128,
        0.3,
    )
    for name in ("ring8", "grid25"):  # PacGAN, Lin et al. 2018 (../shared/ANCHORS.md)
        toy = cfg.flatten(cfg.load_preset(name))
        assert (toy["model"], toy["data"], toy["image_shape"], toy["latent_dim"]) == (
            "toy",
            name,
            (2,),
            2,
        )
        assert (toy["g_depth"], toy["g_hidden"], toy["batch_norm"]) == (4, 400, True)
        assert (toy["d_depth"], toy["d_hidden"], toy["maxout_pieces"]) == (3, 200, 5)
        assert (toy["lr"], toy["b1"], toy["batch_size"], toy["epochs"]) == (1e-4, 0.8, 100, 400)
    mnist, cifar = cfg.load_preset("dcgan-mnist"), cfg.load_preset("dcgan-cifar10")
    assert (mnist.model.family, mnist.data.name, mnist.data.image_shape) == (
        "dcgan",
        "mnist",
        (28, 28, 1),
    )
    assert (cifar.model.family, cifar.data.name, cifar.data.image_shape) == (
        "dcgan",
        "cifar10",
        (32, 32, 3),
    )


def test_the_config_is_nested_and_embeds_the_step_config():
    config = cfg.load_preset("sngan-cifar10")
    assert isinstance(config.step, jaxgan.StepConfig)  # the core's own dataclass, not a copy
    assert (config.step.loss, config.step.n_critic, config.optim.lr) == ("hinge", 5, 2e-4)
    # shapes only: the config is a static field of the state
    assert jax.eval_shape(lambda: build_state(config, key=0)).config == config.step
    # flat and dotted names reach the same field; unknown names get the closest suggestion
    assert config.replace(n_critic=2) == cfg.apply_overrides(config, {"step.n_critic": 2})
    assert config.get("optim.b2") == config.get("b2") == 0.9
    with pytest.raises(ConfigError, match="did you mean 'n_critic'"):
        config.replace(n_critics=2)
    # presets derive from each other: grid25 is ring8 on other data
    ring, grid = cfg.load_preset("ring8"), cfg.load_preset("grid25")
    assert cfg.config_differences(ring, grid) == {
        "name": ("ring8", "grid25"),
        "data": ("ring8", "grid25"),
    }


# every preset (REQUIRED_PRESETS among them) builds models that make its examples:
# test_research_presets.py::test_every_preset_traces_a_full_training_iteration_on_data_of_its_shape


@pytest.mark.parametrize("name", ["seed-mlp", "dcgan-mnist", "ring8"])
def test_packing_builds_a_discriminator_for_packed_samples(name):
    config = cfg.apply_overrides(cfg.load_preset(name), {"pack": 2, "ema_decay": 0.99})
    state = jax.eval_shape(lambda: build_state(config, key=0))
    assert (state.config.pack, state.config.ema_decay) == (2, 0.99)
    assert state.ema_params is not None  # samples come from the moving average
    packed = (3, *config.data.image_shape[:-1], 2 * config.data.image_shape[-1])
    x = jax.ShapeDtypeStruct(packed, jax.numpy.float32)
    logits = jax.eval_shape(
        lambda s, x: s.discriminator.apply(s.discriminator.params, x, train=False)[0], state, x
    )
    assert logits.shape == (3,)


def test_build_state_uses_the_configured_optimiser_and_game():
    # the tiny CLI run's sizes (tests/cli_args.py): the session has its initialisers compiled
    config = TrainConfig.of(lr=1e-3, d_lr=4e-3, b1=0.8, loss="hinge", n_critic=2, g_hidden=16)
    state = build_state(config.replace(d_hidden=16))
    assert float(state.generator.opt_state.hyperparams["learning_rate"]) == pytest.approx(1e-3)
    assert float(state.discriminator.opt_state.hyperparams["learning_rate"]) == pytest.approx(4e-3)
    assert float(state.discriminator.opt_state.hyperparams["b1"]) == pytest.approx(0.8)
    assert (state.config.loss, state.config.n_critic) == ("hinge", 2)
    same = build_state(config.replace(d_hidden=16))
    other_seed = build_state(config.replace(d_hidden=16, seed=1))
    kernel = lambda s: s.generator.params["hidden"]["kernel"][...]  # noqa: E731
    assert (kernel(state) == kernel(same)).all()
    assert not (kernel(state) == kernel(other_seed)).all()


def test_unknown_preset_names_the_valid_ones_and_suggests_the_closest():
    with pytest.raises(
        ConfigError, match=r"unknown preset 'ring9'.*seed-mlp.*did you mean 'ring8'"
    ):
        cfg.load_preset("ring9")


def test_a_preset_can_be_a_python_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(
        "from jaxgan.experiment.config import TrainConfig\nCONFIG = TrainConfig.of(name='mine')\n"
    )
    assert cfg.load_preset(str(path)).name == "mine"
    (tmp_path / "empty.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match="must define CONFIG"):
        cfg.load_preset(str(tmp_path / "empty.py"))


def test_overrides_are_parsed_by_field_type():
    parsed = cfg.parse_overrides(
        [
            "lr=1e-4",
            "batch_size=32",
            "batch_norm=false",
            "image_shape=32,32,3",
            "d_lr=none",
            "data=idx:/a=b",
            "epochs=2.5",
        ]
    )
    assert parsed == {
        "lr": 1e-4,
        "batch_size": 32,
        "batch_norm": False,
        "image_shape": (32, 32, 3),
        "d_lr": None,
        "data": "idx:/a=b",
        "epochs": 2.5,
    }
    assert isinstance(parsed["batch_size"], int)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("lr", "must look like KEY=VALUE"),
        ("learning_rate=1", "unknown config field 'learning_rate'"),
        ("btach_size=3", "did you mean 'batch_size'"),
        ("batch_size=many", "batch_size='many' is not a valid int"),
        ("lr=none", "lr='none' is not a valid float"),
    ],
)
def test_bad_overrides_get_one_line_errors(item, message):
    with pytest.raises(ConfigError, match=message) as err:
        cfg.parse_overrides([item])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lr": -1e-4}, "lr must be > 0"),
        ({"batch_size": 0}, "batch_size must be ≥ 1"),
        ({"b1": 1.0}, r"b1 must be in \[0, 1\)"),
        ({"loss": "wgan"}, "unknown loss 'wgan': choose one of"),  # StepConfig's own check
        ({"model": "gan"}, "model must be one of mlp, dcgan, toy, resnet"),
        ({"model": "resnet"}, "model 'resnet' makes 32×32 images"),
        ({"conditional": True}, "conditional=true needs a model that takes labels"),
        ({"checkpoint_every": 150}, "multiple of steps_per_call"),
        ({"steps": 0}, "steps must be ≥ 1"),
        ({"epochs": -1.0}, "epochs must be > 0"),
        ({"image_shape": (2,)}, "makes images"),
        ({"lr": float("nan")}, "must be finite"),
        ({"width": 32}, "model 'mlp' does not use width"),
        ({"batch_size": 2.5}, "batch_size must be int"),
        ({"batch_size": 63, "pack": 2}, "multiple of pack 2"),
        ({"augment": "blur"}, "unknown augmentation 'blur'"),
        ({"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\)"),
        ({"name": "../x"}, "plain name"),
    ],
)
def test_out_of_range_values_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message) as err:
        cfg.apply_overrides(cfg.load_preset("seed-mlp"), changes)
    assert "\n" not in str(err.value)


def test_setting_steps_clears_epochs_and_epochs_resolve_to_steps():
    ring = cfg.load_preset("ring8")
    assert cfg.resolve_steps(ring, 100_000) == 400_000  # 400 epochs of 1000 batches
    quick = cfg.apply_overrides(ring, {"steps": 500})
    assert (quick.schedule.steps, quick.schedule.epochs) == (500, None)
    assert cfg.resolve_steps(quick, 100_000) == 500
    assert cfg.resolve_steps(TrainConfig.of(epochs=1.5, batch_size=10, n_critic=2), 100) == 8
    with pytest.raises(ConfigError, match="lower batch_size"):
        cfg.resolve_steps(TrainConfig.of(epochs=1, batch_size=64), 10)


@pytest.mark.parametrize("name", cfg.preset_names())
def test_configs_round_trip_through_json(name):
    config = cfg.load_preset(name)
    again = cfg.from_dict(json.loads(json.dumps(cfg.to_dict(config))))
    assert again == config
    assert cfg.config_differences(config, again) == {}


def test_config_files_from_before_a_field_existed_still_load():
    old = cfg.to_dict(cfg.load_preset("dcgan-cifar10"))
    del old["model"]["d_width"], old["model"]["conditional"], old["step"]["num_classes"]
    assert cfg.from_dict(old) == cfg.load_preset("dcgan-cifar10")


def test_flat_config_files_of_runs_before_the_nesting_still_load():
    # the config.json a run folder held before the config was nested: one flat object
    flat = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.flatten(
        cfg.load_preset("ring8-best")).items()}  # fmt: skip
    assert "lr" in flat and "image_shape" in flat and "step" not in flat
    loaded = cfg.from_dict(json.loads(json.dumps(flat)))
    assert loaded == cfg.load_preset("ring8-best")
    del flat["conditional"], flat["num_classes"], flat["d_width"]  # older still
    assert cfg.from_dict(flat) == cfg.load_preset("ring8-best")


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ConfigError, match="unknown config field 'colour'"):
        cfg.from_dict({"colour": "red"})


def test_field_help_documents_every_field():
    helps = cfg.field_help()
    assert list(helps) == list(cfg.flat_fields())
    for name, text in helps.items():
        kind, _, words = text.partition(": ")
        assert kind and len(words) > 8, name  # "optim.b1 (float): Adam beta1"
