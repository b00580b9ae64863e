"""Typed training configuration: the ``TrainConfig`` dataclass, presets and overrides.

A ``TrainConfig`` is a frozen dataclass that says everything a run needs: data, model, game,
optimiser, schedule and outputs. It validates itself on construction, so an invalid config never
exists. Presets are Python files in ``jaxgan/presets/`` (one ``CONFIG = TrainConfig(...)`` each,
whose docstring says how to run it); ``load_preset`` finds them by name, ``apply_overrides``
changes fields from ``KEY=VALUE`` strings (the CLI's ``--set``), and ``to_dict``/``from_dict``
round-trip a config through the run folder's ``config.json``.

This module holds no model or training code; ``jaxgan.experiment.build`` maps a config to
models.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import math
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jaxgan.augment import parse_policy
from jaxgan.losses import LOSSES

MODELS = ("mlp", "dcgan", "toy", "resnet")
"""Model families a config can name (see ``jaxgan.experiment.build.build_models``)."""

MODEL_FIELDS: dict[str, frozenset[str]] = {
    "mlp": frozenset({"g_hidden", "d_hidden", "g_dropout", "d_dropout"}),
    "dcgan": frozenset({"width", "kernel_size", "upsample", "d_dropout"}),
    "toy": frozenset({"g_hidden", "d_hidden", "g_depth", "d_depth", "maxout_pieces", "batch_norm"}),
    "resnet": frozenset({"width", "d_width"}),
}
"""The architecture fields each model family reads; the others are ignored by it."""

CONDITIONAL_MODELS = ("resnet",)
"""Model families that can condition on class labels (``conditional=True``)."""

RESNET_IMAGE_SIZE = (32, 32)
"""Height and width the SN-ResNet family makes (SNGAN's CIFAR-10 architecture)."""

RESUMABLE_FIELDS = frozenset(
    {
        "steps",
        "epochs",
        "log_every",
        "sample_every",
        "checkpoint_every",
        "keep_checkpoints",
        "devices",
    }
)
"""Fields that may differ from the saved config when a run is resumed (length and outputs)."""

_ALL_MODEL_FIELDS = frozenset().union(*MODEL_FIELDS.values())


class ConfigError(ValueError):
    """A configuration value, preset name or override that cannot be used (one-line message)."""


def _field(default: Any, help_text: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; frozen and validated on construction.

    Fields are grouped as data, model, game, optimiser, schedule and outputs; each field's help
    text is in its ``metadata["help"]`` (``jaxgan train --help`` lists them). Architecture fields
    apply to the model families named in ``MODEL_FIELDS``.

    Example:
        >>> cfg = TrainConfig(steps=500, lr=1e-4)
        >>> cfg.d_learning_rate
        0.0001

    """

    name: str = _field("custom", "run name (the preset's name); used for the default --out")
    # data
    data: str = _field("fashion_mnist_sample", "dataset name for jaxgan.data.load")
    data_limit: int | None = _field(None, "use only the first N training examples (None: all)")
    data_split: str = _field(
        "train",
        "split trained on (stacked_mnist from the 10k MNIST test digits: test); evaluation "
        "compares with the same split",
    )
    image_shape: tuple[int, ...] | None = _field(
        (28, 28, 1), "shape of one example the model makes, e.g. 28,28,1 or 2 (None: from data)"
    )
    # model
    model: str = _field("mlp", f"model family: {', '.join(MODELS)}")
    latent_dim: int = _field(100, "size of the noise vector z")
    g_hidden: int = _field(128, "generator hidden width (mlp, toy)")
    d_hidden: int = _field(128, "discriminator hidden width (mlp, toy)")
    g_dropout: float = _field(0.3, "generator dropout rate (mlp)")
    d_dropout: float = _field(0.0, "discriminator dropout rate (mlp, dcgan)")
    width: int = _field(
        64, "channels of the last G / first D convolution (dcgan); of every G block (resnet)"
    )
    d_width: int | None = _field(None, "channels of every D block (resnet; None: width)")
    kernel_size: int = _field(5, "convolution kernel size (dcgan)")
    upsample: str = _field("auto", "G up-sampling: auto, transpose or subpixel (dcgan)")
    g_depth: int = _field(4, "generator hidden layers (toy)")
    d_depth: int = _field(3, "discriminator maxout layers (toy)")
    maxout_pieces: int = _field(5, "pieces per maxout unit (toy)")
    batch_norm: bool = _field(True, "BatchNorm in the generator (toy)")
    conditional: bool = _field(
        False,
        "class-conditional GAN on the data's labels: conditional BatchNorm in G, projection D "
        f"({', '.join(CONDITIONAL_MODELS)})",
    )
    num_classes: int | None = _field(
        None, "classes of a conditional run (None: from the training data's labels)"
    )
    # game
    loss: str = _field("non_saturating", f"GAN loss: {', '.join(LOSSES)}")
    n_critic: int = _field(1, "discriminator updates per generator update")
    gradient_penalty: float = _field(0.0, "WGAN-GP penalty weight (0: off)")
    r1: float = _field(0.0, "R1 penalty weight (0: off)")
    pack: int = _field(1, "PacGAN packing: samples the discriminator judges jointly")
    ema_decay: float = _field(0.0, "EMA of G's weights for sampling, e.g. 0.999 (0: off)")
    augment: str = _field("", "DiffAugment policy for images, e.g. color,translation,cutout")
    compute_dtype: str | None = _field(None, "compute dtype, e.g. bfloat16 (None: float32)")
    # optimiser (Adam)
    lr: float = _field(2e-4, "Adam learning rate of G (and of D unless d_lr is set)")
    d_lr: float | None = _field(None, "Adam learning rate of D (None: same as lr)")
    b1: float = _field(0.5, "Adam beta1")
    b2: float = _field(0.999, "Adam beta2")
    lr_schedule: str = _field(
        "constant",
        "constant, or linear: both players' updates shrink linearly to 0 over the run's steps",
    )
    # schedule
    steps: int = _field(10_000, "training iterations (one G update each)")
    epochs: float | None = _field(None, "train this many passes over the data instead of steps")
    batch_size: int = _field(64, "examples per discriminator update")
    seed: int = _field(0, "seed of initialisation, data order, noise and sample grids")
    loop: str = _field("auto", "training loop form: auto, scan or python")
    steps_per_call: int = _field(100, "iterations per compiled call")
    devices: str | None = _field(
        None,
        "train data-parallel over this many devices ('all' or a count; batch_size is global "
        "and must divide by it); None: the default device",
    )
    # outputs
    log_every: int = _field(100, "iterations per row of metrics.jsonl")
    sample_every: int = _field(1000, "iterations between sample grids")
    checkpoint_every: int = _field(
        1000, "iterations between checkpoints (multiple of steps_per_call and log_every)"
    )
    keep_checkpoints: int = _field(3, "number of most recent checkpoints kept")
    track_metric: str | None = _field(
        None,
        "measure this metric at every sample grid and keep the best checkpoint in best/: "
        "fd or kid (images, classifier feature space), modes or high_quality (ring8/grid25)",
    )
    track_samples: int = _field(1000, "generated samples per tracked measurement")
    grid_size: int = _field(8, "sample grids show grid_size × grid_size images")
    scatter_points: int = _field(2500, "generated points in 2-D scatter plots")

    def __post_init__(self) -> None:
        _check_types(self)
        _check_values(self)

    @property
    def d_learning_rate(self) -> float:
        """The discriminator's learning rate (``d_lr``, or ``lr`` when unset).

        Returns:
            The learning rate as a float.

        Example:
            >>> TrainConfig(lr=1e-3, d_lr=4e-3).d_learning_rate
            0.004

        """
        return self.lr if self.d_lr is None else self.d_lr

    @property
    def is_points(self) -> bool:
        """Whether the model makes 2-D-style points (a 1-D example shape) rather than images.

        Returns:
            True for the toy family or a one-axis ``image_shape``.

        Example:
            >>> TrainConfig(model="toy", image_shape=(2,)).is_points
            True

        """
        return self.model == "toy" or (self.image_shape is not None and len(self.image_shape) == 1)


def field_help() -> dict[str, str]:
    """Return each ``TrainConfig`` field's name, type and help text (for ``--help``).

    Returns:
        A dict ``name -> "type: help"`` in declaration order.

    Example:
        >>> field_help()["lr"].startswith("float")
        True

    """
    hints = _hints()
    return {
        f.name: f"{_type_name(hints[f.name])}: {f.metadata['help']}"
        for f in dataclasses.fields(TrainConfig)
    }


# -- presets ---------------------------------------------------------------------------------------


def preset_names() -> tuple[str, ...]:
    """Return the names of the presets shipped in ``jaxgan/presets`` (hyphenated, sorted).

    Returns:
        e.g. ``("dcgan-cifar10", "dcgan-mnist", "grid25", "ring8", "seed-mlp")``.

    Example:
        >>> "seed-mlp" in preset_names()
        True

    """
    folder = Path(__file__).resolve().parents[1] / "presets"
    return tuple(
        sorted(p.stem.replace("_", "-") for p in folder.glob("*.py") if not p.stem.startswith("_"))
    )


def load_preset(name: str) -> TrainConfig:
    """Load a preset by name (``seed-mlp``) or from a Python file path (``my_preset.py``).

    A preset file defines ``CONFIG = TrainConfig(...)``. A path runs that file as Python: load
    only files you wrote or trust.

    Args:
        name: a name from ``preset_names()`` or the path of a ``.py`` file.

    Returns:
        The preset's ``TrainConfig``.

    Raises:
        ConfigError: unknown name, or a file without a ``TrainConfig`` named ``CONFIG``.

    Example:
        >>> load_preset("seed-mlp").model
        'mlp'

    """
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"preset file {name!r} does not exist")
        spec = importlib.util.spec_from_file_location(f"_jaxgan_preset_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot load preset file {name!r} as Python")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        if name not in preset_names():
            close = difflib.get_close_matches(name, preset_names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown preset {name!r}: choose one of {', '.join(preset_names())} "
                f"or give a .py file{hint}"
            )
        module = importlib.import_module(f"jaxgan.presets.{name.replace('-', '_')}")
    config = getattr(module, "CONFIG", None)
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"preset {name!r} must define CONFIG = TrainConfig(...)")
    return config


# -- overrides and (de)serialisation ---------------------------------------------------------------


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings into typed field values (the CLI's ``--set``).

    Values are parsed by the field's type: ints, floats (``1e-4``), booleans (``true``/``false``),
    ``none`` for optional fields, and comma-separated tuples (``image_shape=32,32,3``).

    Args:
        items: strings like ``"lr=1e-4"``.

    Returns:
        A dict of field name to typed value (later items win).

    Raises:
        ConfigError: malformed item, unknown field or a value of the wrong type.

    Example:
        >>> parse_overrides(["lr=1e-4", "image_shape=32,32,3", "d_lr=none"])
        {'lr': 0.0001, 'image_shape': (32, 32, 3), 'd_lr': None}

    """
    hints = _hints()
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like KEY=VALUE, e.g. lr=1e-4")
        _check_field_name(key)
        out[key] = _parse_value(key, raw.strip(), hints[key])
    return out


def apply_overrides(config: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """Return ``config`` with fields replaced (all at once, validated once).

    Setting ``steps`` clears ``epochs`` unless ``epochs`` is also given. Setting an architecture
    field that the config's model family does not read is an error (it would do nothing).

    Args:
        config: the base config.
        overrides: field name -> value (already typed, e.g. from ``parse_overrides``).

    Returns:
        A new validated ``TrainConfig``.

    Raises:
        ConfigError: unknown field, a field the model ignores, or an invalid result.

    Example:
        >>> apply_overrides(TrainConfig(), {"lr": 1e-3}).lr
        0.001

    """
    for key in overrides:
        _check_field_name(key)
    changes = dict(overrides)
    if "steps" in changes and "epochs" not in changes:
        changes["epochs"] = None
    model = changes.get("model", config.model)
    ignored = sorted(
        k for k in changes if k in _ALL_MODEL_FIELDS and k not in MODEL_FIELDS.get(model, ())
    )
    if ignored:
        raise ConfigError(
            f"model {model!r} does not use {', '.join(ignored)}; it reads "
            f"{', '.join(sorted(MODEL_FIELDS.get(model, ())))}"
        )
    try:
        return dataclasses.replace(config, **changes)
    except TypeError as err:  # a wrong-typed value from a library caller
        raise ConfigError(str(err)) from None


def to_dict(config: TrainConfig) -> dict[str, Any]:
    """Convert a config to JSON-ready plain values (tuples become lists).

    Args:
        config: the config.

    Returns:
        A dict with one entry per field.

    Example:
        >>> to_dict(TrainConfig())["image_shape"]
        [28, 28, 1]

    """
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Build a config from ``to_dict`` output (e.g. a run's ``config.json``).

    Args:
        values: field name -> JSON value; missing fields take their defaults.

    Returns:
        The validated ``TrainConfig``.

    Raises:
        ConfigError: unknown fields or invalid values.

    Example:
        >>> from_dict(to_dict(TrainConfig(lr=1e-3))) == TrainConfig(lr=1e-3)
        True

    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"a config must be a JSON object, got {type(values).__name__}")
    for key in values:
        _check_field_name(key)
    hints = _hints()
    fixed = {
        k: tuple(v) if _is_tuple_type(hints[k]) and isinstance(v, list) else v
        for k, v in values.items()
    }
    try:
        return TrainConfig(**fixed)
    except TypeError as err:
        raise ConfigError(str(err)) from None


def config_differences(a: TrainConfig, b: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Return the fields whose values differ between two configs.

    Args:
        a: first config.
        b: second config.

    Returns:
        ``{field: (value in a, value in b)}``.

    Example:
        >>> config_differences(TrainConfig(), TrainConfig(lr=1e-3))
        {'lr': (0.0002, 0.001)}

    """
    return {
        f.name: (getattr(a, f.name), getattr(b, f.name))
        for f in dataclasses.fields(TrainConfig)
        if getattr(a, f.name) != getattr(b, f.name)
    }


def resolve_steps(config: TrainConfig, num_examples: int) -> int:
    """Return the number of iterations a run trains: ``steps``, or ``epochs`` over the data.

    One epoch is ``num_examples // (batch_size · n_critic)`` iterations (``jaxgan.fit`` drops
    the remainder of each epoch).

    Args:
        config: the config.
        num_examples: training set size.

    Returns:
        The iteration count (≥ 1).

    Example:
        >>> resolve_steps(TrainConfig(epochs=2, batch_size=10), 105)
        20

    """
    if config.epochs is None:
        return config.steps
    per_epoch = num_examples // (config.batch_size * config.n_critic)
    if per_epoch < 1:
        raise ConfigError(
            f"one epoch of {num_examples} examples holds no batch of "
            f"{config.batch_size * config.n_critic}; lower batch_size"
        )
    return max(1, round(config.epochs * per_epoch))


# -- validation ------------------------------------------------------------------------------------


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(TrainConfig)


def _check_field_name(key: str) -> None:
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    if key not in names:
        close = difflib.get_close_matches(key, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown config field {key!r}{hint} (see jaxgan train --help)")


def _type_name(tp: Any) -> str:
    args = typing.get_args(tp)
    if _is_union(tp):
        return " | ".join(_type_name(a) for a in args)
    if typing.get_origin(tp) is tuple:
        return "tuple"
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_tuple_type(tp: Any) -> bool:
    options = typing.get_args(tp) if _is_union(tp) else (tp,)
    return any(typing.get_origin(o) is tuple for o in options)


def _parse_value(key: str, raw: str, tp: Any) -> Any:
    options = typing.get_args(tp) if _is_union(tp) else (tp,)
    if raw.lower() in ("none", "null") and type(None) in options:
        return None
    for option in options:
        try:
            if option is bool:
                if raw.lower() in ("true", "1", "yes", "on"):
                    return True
                if raw.lower() in ("false", "0", "no", "off"):
                    return False
                continue
            if option is int:
                return int(raw)
            if option is float:
                return float(raw)
            if option is str:
                return raw
            if typing.get_origin(option) is tuple:
                return tuple(int(p) for p in raw.split(",") if p.strip())
        except ValueError:
            continue
    raise ConfigError(f"{key}={raw!r} is not a valid {_type_name(tp)}")


def _matches(value: Any, tp: Any) -> bool:
    options = typing.get_args(tp) if _is_union(tp) else (tp,)
    for option in options:
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if option is str and isinstance(value, str):
            return True
        if typing.get_origin(option) is tuple and isinstance(value, tuple):
            return all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return False


def _check_types(config: TrainConfig) -> None:
    for name, tp in _hints().items():
        value = getattr(config, name)
        if not _matches(value, tp):
            raise ConfigError(f"config field {name} must be {_type_name(tp)}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config field {name} must be finite, got {value!r}")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_model_family(c: TrainConfig) -> None:
    """Check what a model family can make: image sizes and class conditioning."""
    _require(c.d_width is None or c.d_width >= 1, f"d_width must be ≥ 1 or none, got {c.d_width}")
    if c.model == "resnet" and c.image_shape is not None and len(c.image_shape) == 3:
        size = "×".join(map(str, RESNET_IMAGE_SIZE))
        _require(
            tuple(c.image_shape[:2]) == RESNET_IMAGE_SIZE,
            f"model 'resnet' makes {size} images, got image_shape {c.image_shape}; "
            f"use {size} data such as cifar10 or another model",
        )
    if c.conditional:
        _require(
            c.model in CONDITIONAL_MODELS,
            f"conditional=true needs a model that takes labels ({', '.join(CONDITIONAL_MODELS)}), "
            f"not {c.model!r}; set model=resnet or conditional=false",
        )
        _require(c.pack == 1, "packing (pack > 1) cannot be combined with conditional=true")
    _require(
        c.num_classes is None or c.conditional,
        "num_classes applies only to conditional runs; set conditional=true or num_classes=none",
    )
    _require(
        c.num_classes is None or c.num_classes >= 2,
        f"num_classes must be ≥ 2 or none, got {c.num_classes}",
    )


def _check_values(c: TrainConfig) -> None:
    _require(
        bool(c.name) and "/" not in c.name and "\\" not in c.name and not c.name.startswith("."),
        f"name must be a plain name without path separators, got {c.name!r}",
    )
    _require(c.model in MODELS, f"model must be one of {', '.join(MODELS)}, got {c.model!r}")
    _require(c.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}, got {c.loss!r}")
    _require(bool(c.data.strip()), "data must name a dataset, e.g. fashion_mnist_sample")
    _require(
        c.loop in ("auto", "scan", "python"), f"loop must be auto, scan or python, got {c.loop!r}"
    )
    _require(
        c.devices is None or c.devices == "all" or (c.devices.isdigit() and int(c.devices) > 0),
        f"devices must be 'all' or a positive count, got {c.devices!r}",
    )
    _require(
        c.upsample in ("auto", "transpose", "subpixel"),
        f"upsample must be auto, transpose or subpixel, got {c.upsample!r}",
    )
    _require(
        c.compute_dtype in (None, "float32", "bfloat16", "float16"),
        f"compute_dtype must be none, float32, bfloat16 or float16, got {c.compute_dtype!r}",
    )
    if c.image_shape is not None:
        _require(
            len(c.image_shape) in (1, 3) and all(d >= 1 for d in c.image_shape),
            f"image_shape must be H,W,C or D (positive), got {c.image_shape}",
        )
        if c.model == "toy":
            _require(
                len(c.image_shape) == 1,
                f"model 'toy' makes points: image_shape must be "
                f"one number such as 2, got {c.image_shape}",
            )
        else:
            _require(
                len(c.image_shape) == 3,
                f"model {c.model!r} makes images: image_shape must be H,W,C, got {c.image_shape}",
            )
    _check_model_family(c)
    positive = (
        "latent_dim",
        "g_hidden",
        "d_hidden",
        "width",
        "kernel_size",
        "g_depth",
        "d_depth",
        "maxout_pieces",
        "pack",
        "n_critic",
        "steps",
        "batch_size",
        "steps_per_call",
        "log_every",
        "sample_every",
        "checkpoint_every",
        "keep_checkpoints",
        "grid_size",
        "scatter_points",
        "track_samples",
    )
    for name in positive:
        value = getattr(c, name)
        _require(value >= 1, f"{name} must be ≥ 1, got {value}")
    for name in ("lr", "d_lr"):
        value = getattr(c, name)
        _require(value is None or value > 0, f"{name} must be > 0, got {value}")
    for name in ("b1", "b2"):
        value = getattr(c, name)
        _require(0 <= value < 1, f"{name} must be in [0, 1), got {value}")
    for name in ("g_dropout", "d_dropout"):
        value = getattr(c, name)
        _require(0 <= value < 1, f"{name} must be in [0, 1), got {value}")
    for name in ("gradient_penalty", "r1"):
        value = getattr(c, name)
        _require(value >= 0, f"{name} must be ≥ 0, got {value}")
    _require(0 <= c.ema_decay < 1, f"ema_decay must be in [0, 1), got {c.ema_decay}")
    try:
        policy = parse_policy(c.augment)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    _require(not (policy and c.is_points), "augment (DiffAugment) works on images, not points")
    _require(c.epochs is None or c.epochs > 0, f"epochs must be > 0, got {c.epochs}")
    _require(
        c.lr_schedule in ("constant", "linear"),
        f"lr_schedule must be constant or linear, got {c.lr_schedule!r}",
    )
    _require(
        c.lr_schedule == "constant" or c.epochs is None,
        "lr_schedule=linear decays over steps: give steps (--steps) instead of epochs",
    )
    _require(
        c.data_split in ("train", "test"),
        f"data_split must be train or test, got {c.data_split!r}",
    )
    _require(
        c.data_limit is None or c.data_limit >= 1,
        f"data_limit must be ≥ 1 or none, got {c.data_limit}",
    )
    _require(c.seed >= 0, f"seed must be ≥ 0, got {c.seed}")
    tracked = ("fd", "kid", "modes", "high_quality")
    _require(
        c.track_metric is None or c.track_metric in tracked,
        f"track_metric must be one of {', '.join(tracked)} or none, got {c.track_metric!r}",
    )
    _require(
        c.batch_size % c.pack == 0, f"batch_size {c.batch_size} must be a multiple of pack {c.pack}"
    )
    _require(
        c.checkpoint_every % c.steps_per_call == 0,
        f"checkpoint_every ({c.checkpoint_every}) must be a multiple of steps_per_call "
        f"({c.steps_per_call}) so that resumed runs stay bit-exact",
    )
    _require(
        c.sample_every % c.steps_per_call == 0,
        f"sample_every ({c.sample_every}) must be a multiple of steps_per_call "
        f"({c.steps_per_call})",
    )
    _require(
        c.checkpoint_every % c.log_every == 0,
        f"checkpoint_every ({c.checkpoint_every}) must be a multiple of log_every ({c.log_every})",
    )
