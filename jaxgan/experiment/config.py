"""The run configuration: one nested, frozen ``TrainConfig``, validated once, with presets.

A ``TrainConfig`` holds a run's sections, each a frozen dataclass:

- ``data`` (``DataConfig``): dataset name, split, limit, example shape;
- ``model`` (``ModelConfig``): the model family (``jaxgan.models.FAMILIES``) and its keyword
  arguments, and whether it conditions on class labels;
- ``step`` (``jaxgan.StepConfig``, embedded as it is): the game, penalties, EMA, packing, precision;
- ``optim`` (``OptimConfig``): Adam's hyperparameters and the learning-rate schedule;
- ``schedule`` (``ScheduleConfig``): length, batch size, seed, loop form, devices;
- ``outputs`` (``OutputConfig``): logging, grids, checkpoints, the tracked metric.

Every field also has a flat name (``lr``, ``width``, ``n_critic``; ``data``, ``data_split``,
``data_limit`` and ``model`` for the data and model names), used by the CLI's ``--set
FIELD=VALUE``, by sweeps and by ``TrainConfig.replace``; dotted names (``optim.lr``) work too.
Presets are Python files in ``jaxgan/presets/`` (one ``CONFIG`` each, whose docstring says how
to run it; presets derive from each other with ``replace``). ``to_dict``/``from_dict``
round-trip a config through the run folder's ``config.json``; flat files written before the
nesting still load.

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
from jaxgan.models.registry import FAMILIES, family_fields
from jaxgan.state import StepConfig

MODELS = tuple(FAMILIES)
"""Model families a config can name (``jaxgan.models.FAMILIES``)."""

CONDITIONAL_MODELS = tuple(name for name, family in FAMILIES.items() if family.conditional)
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
        "log",
    }
)
"""Flat fields that may differ from the saved config when a run is resumed (length, outputs)."""

LOGS = ("tensorboard", "none")
"""What ``log`` may name: TensorBoard event files beside metrics.jsonl, or none."""

MAX_NUM_CLASSES = 100_000
"""The most classes a conditional run may have (as ``jaxgan.data`` allows)."""


class ConfigError(ValueError):
    """A configuration value, preset name or override that cannot be used (one-line message)."""


def _field(default: Any, help_text: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help_text})


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """What a run trains on.

    Example:
        >>> DataConfig(name="ring8", image_shape=(2,)).split
        'train'

    """

    name: str = _field("fashion_mnist_sample", "dataset name for jaxgan.data.load")
    split: str = _field(
        "train",
        "split trained on (stacked_mnist from the 10k MNIST test digits: test); evaluation "
        "compares with the same split",
    )
    limit: int | None = _field(None, "use only the first N training examples (None: all)")
    per_class: int | None = _field(
        None,
        "train on k labelled examples of every class, chosen by jaxgan.data.SUBSET_SEED (the "
        "same k images in every run; applied after data_limit); None: all",
    )
    image_shape: tuple[int, ...] | None = _field(
        (28, 28, 1), "shape of one example the model makes, e.g. 28,28,1 or 2 (None: from data)"
    )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The model family and the keyword arguments its builder reads (``jaxgan.models.FAMILIES``).

    Example:
        >>> ModelConfig(family="dcgan", width=16).width
        16

    """

    family: str = _field("mlp", f"model family: {', '.join(MODELS)}")
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
        f"({', '.join(CONDITIONAL_MODELS)}) or AC-GAN's D with conditioning=auxiliary; "
        "num_classes comes from the data unless set",
    )

    def options(self) -> dict[str, Any]:
        """Return the keyword arguments this family's builder reads.

        Returns:
            ``{field: value}`` for the fields of ``family_fields(family)``.

        Example:
            >>> ModelConfig(family="dcgan").options()["width"]
            64

        """
        return {name: getattr(self, name) for name in family_fields(self.family)}


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam for both players, and the learning-rate schedule.

    Example:
        >>> OptimConfig(lr=1e-3).d_learning_rate
        0.001

    """

    lr: float = _field(2e-4, "Adam learning rate of G (and of D unless d_lr is set)")
    d_lr: float | None = _field(None, "Adam learning rate of D (None: same as lr)")
    b1: float = _field(0.5, "Adam beta1")
    b2: float = _field(0.999, "Adam beta2")
    lr_schedule: str = _field(
        "constant",
        "constant, or linear: both players' updates shrink linearly to 0 over the run's steps",
    )

    @property
    def d_learning_rate(self) -> float:
        """The discriminator's learning rate (``d_lr``, or ``lr`` when unset)."""
        return self.lr if self.d_lr is None else self.d_lr


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """How long and how a run trains: length, batch, seed, loop form and devices.

    Example:
        >>> ScheduleConfig(steps=500).batch_size
        64

    """

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


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    """What a run writes: the metrics log, sample grids, checkpoints and the tracked metric.

    Example:
        >>> OutputConfig().checkpoint_every
        1000

    """

    log_every: int = _field(100, "iterations per row of metrics.jsonl")
    sample_every: int = _field(1000, "iterations between sample grids")
    checkpoint_every: int = _field(
        1000, "iterations between checkpoints (multiple of steps_per_call and log_every)"
    )
    keep_checkpoints: int = _field(3, "number of most recent checkpoints kept")
    track_metric: str | None = _field(
        None,
        "measure this metric at every sample grid and keep the best checkpoint in best/: "
        "fd or kid (images, classifier feature space), fid (TF-Inception; slow on a CPU), modes or "
        "high_quality (ring8/grid25); each measurement's wall time is logged (track_seconds)",
    )
    track_samples: int = _field(1000, "generated samples per tracked measurement")
    grid_size: int = _field(8, "sample grids show grid_size × grid_size images")
    scatter_points: int = _field(2500, "generated points in 2-D scatter plots")
    log: str = _field(
        "tensorboard",
        "tensorboard: also write TensorBoard event files (<run>/tensorboard); none: do not",
    )


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "step": StepConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "outputs": OutputConfig,
}
"""The sections of a ``TrainConfig``, in order."""

_ALIASES = {"data": "data.name", "data_split": "data.split", "data_limit": "data.limit",
            "model": "model.family"}  # fmt: skip


def _flat_paths() -> dict[str, str]:
    """Map each flat field name to its ``section.field`` path."""
    paths = dict(_ALIASES)
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            path = f"{section}.{f.name}"
            if path not in paths.values():
                paths.setdefault(f.name, path)
    return paths


FIELDS = _flat_paths()
"""Flat field name → ``section.field`` (what ``--set`` and sweeps accept)."""

_STEP_HELP = {
    "loss": f"GAN loss: {', '.join(LOSSES)}",
    "n_critic": "discriminator updates per generator update",
    "gradient_penalty": "WGAN-GP penalty weight (0: off)",
    "r1": "R1 penalty weight (0: off)",
    "latent_dim": "size of the noise vector z",
    "compute_dtype": "compute dtype, e.g. bfloat16 (None: float32)",
    "num_classes": "classes of a conditional run (None: from the training data's labels)",
    "ema_decay": "EMA of G's weights for sampling, e.g. 0.999 (0: off)",
    "augment": "DiffAugment policy for images, e.g. color,translation,cutout",
    "pack": "PacGAN packing: samples the discriminator judges jointly (D's input is built for it)",
    "reuse_fake": "G trains on the D update's fake batch, G's forward once (changes the algorithm)",
    "joint_d_call": "one D call on real and fake when D keeps no statistics (equal up to rounding)",
    "conditioning": "how a conditional D uses labels: projection, or auxiliary (AC-GAN; dcgan)",
    "ac_weight": "weight of AC-GAN's class cross-entropy in D's and G's losses (auxiliary only)",
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs, in sections; frozen and validated on construction.

    Build one from flat field names with ``TrainConfig.of(...)`` or derive one with
    ``config.replace(...)``; ``jaxgan train --help`` lists every field with its help text.

    Attributes:
        name: the run's name (the preset's name); used for the default --out.
        data: the ``DataConfig``.
        model: the ``ModelConfig``.
        step: the ``jaxgan.StepConfig`` the steps train with.
        optim: the ``OptimConfig``.
        schedule: the ``ScheduleConfig``.
        outputs: the ``OutputConfig``.

    Example:
        >>> cfg = TrainConfig.of(steps=500, lr=1e-4, n_critic=2)
        >>> cfg.schedule.steps, cfg.optim.lr, cfg.step.n_critic
        (500, 0.0001, 2)

    """

    name: str = "custom"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    step: StepConfig = dataclasses.field(default_factory=StepConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    outputs: OutputConfig = dataclasses.field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        for section, cls in SECTIONS.items():
            if not isinstance(getattr(self, section), cls):
                raise ConfigError(f"config section {section} must be a {cls.__name__}")
        _check_types(self)
        _check_values(self)

    @classmethod
    def of(cls, **fields: Any) -> TrainConfig:
        """Build a config from flat field names (defaults for the rest).

        Args:
            **fields: flat names (``lr``, ``data``, ``width``) or their values.

        Returns:
            The validated config.

        Example:
            >>> TrainConfig.of(model="dcgan", width=16).model.width
            16

        """
        return apply_overrides(cls(), fields)

    def replace(self, **fields: Any) -> TrainConfig:
        """Return this config with flat fields replaced (validated once, all together).

        Args:
            **fields: flat names and new values.

        Returns:
            A new config.

        Example:
            >>> TrainConfig().replace(lr=1e-3).optim.lr
            0.001

        """
        return apply_overrides(self, fields)

    def get(self, name: str) -> Any:
        """Return a field's value by its flat (``lr``) or dotted (``optim.lr``) name.

        Args:
            name: the field.

        Returns:
            Its value.

        Example:
            >>> TrainConfig().get("batch_size")
            64

        """
        if name == "name":
            return self.name
        section, field = _path(name).split(".")
        return getattr(getattr(self, section), field)

    @property
    def is_points(self) -> bool:
        """Whether the model makes 2-D-style points (a 1-D example shape) rather than images.

        Example:
            >>> TrainConfig.of(model="toy", image_shape=(2,)).is_points
            True

        """
        shape = self.data.image_shape
        return self.model.family == "toy" or (shape is not None and len(shape) == 1)


def flat_fields() -> tuple[str, ...]:
    """Return every flat field name, section by section.

    Returns:
        The names ``--set`` accepts, e.g. ``("name", "data", ..., "lr", ...)``.

    Example:
        >>> "lr" in flat_fields() and "data_split" in flat_fields()
        True

    """
    return ("name", *FIELDS)


def field_help() -> dict[str, str]:
    """Return each flat field's ``section.field``, type and help text (for ``--help``).

    Returns:
        A dict ``name -> "section.field (type): help"`` in section order.

    Example:
        >>> field_help()["lr"].startswith("optim.lr (float)")
        True

    """
    out = {"name": "name (str): run name (the preset's name); used for the default --out"}
    for flat, path in FIELDS.items():
        section, field = path.split(".")
        cls = SECTIONS[section]
        info = {f.name: f for f in dataclasses.fields(cls)}[field]
        text = info.metadata.get("help") or _STEP_HELP.get(field, "")
        out[flat] = f"{path} ({_type_name(_hints(cls)[field])}): {text}"
    return out


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
        >>> load_preset("seed-mlp").model.family
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


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


# -- overrides and (de)serialisation ---------------------------------------------------------------


def _path(name: str) -> str:
    """Return the ``section.field`` path of a flat or dotted field name (checked)."""
    if "." in name:
        section, _, field = name.partition(".")
        if section in SECTIONS and field in {f.name for f in dataclasses.fields(SECTIONS[section])}:
            return name
    elif name in FIELDS:
        return FIELDS[name]
    close = difflib.get_close_matches(name, list(flat_fields()), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"unknown config field {name!r}{hint} (see jaxgan train --help)")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings into typed field values (the CLI's ``--set``).

    Values are parsed by the field's type: ints, floats (``1e-4``), booleans (``true``/``false``),
    ``none`` for optional fields, and comma-separated tuples (``image_shape=32,32,3``). Keys are
    flat (``lr``) or dotted (``optim.lr``) names.

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
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like KEY=VALUE, e.g. lr=1e-4")
        if key == "name":
            out[key] = raw.strip()
            continue
        section, field = _path(key).split(".")
        out[key] = _parse_value(key, raw.strip(), _hints(SECTIONS[section])[field])
    return out


def apply_overrides(config: TrainConfig, overrides: Mapping[str, Any]) -> TrainConfig:
    """Return ``config`` with fields replaced (all at once, validated once).

    Setting ``steps`` clears ``epochs`` unless ``epochs`` is also given. Setting a model field
    that the config's model family does not read is an error (it would do nothing).

    Args:
        config: the base config.
        overrides: flat or dotted field name -> value (already typed, e.g. from
            ``parse_overrides``).

    Returns:
        A new validated ``TrainConfig``.

    Raises:
        ConfigError: unknown field, a field the model ignores, or an invalid result.

    Example:
        >>> apply_overrides(TrainConfig(), {"lr": 1e-3}).optim.lr
        0.001

    """
    return _replace(config, overrides, check_family=True)


def _replace(
    config: TrainConfig, overrides: Mapping[str, Any], *, check_family: bool
) -> TrainConfig:
    changes: dict[str, dict[str, Any]] = {}
    name = config.name
    for key, value in overrides.items():
        if key == "name":
            name = value
            continue
        section, field = _path(key).split(".")
        changes.setdefault(section, {})[field] = value
    schedule = changes.get("schedule", {})
    if "steps" in schedule and "epochs" not in schedule:
        schedule["epochs"] = None
    family = changes.get("model", {}).get("family", config.model.family)
    arch = {f for f in changes.get("model", {}) if f not in ("family", "conditional")}
    if check_family and family in FAMILIES:
        ignored = sorted(arch - set(family_fields(family)))
        if ignored:
            raise ConfigError(
                f"model {family!r} does not use {', '.join(ignored)}; it reads "
                f"{', '.join(family_fields(family))}"
            )
    try:
        sections = {
            section: dataclasses.replace(getattr(config, section), **fields)
            for section, fields in changes.items()
        }
        return dataclasses.replace(config, name=name, **sections)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:  # a section's own check, or a wrong-typed value
        raise ConfigError(str(err)) from None


def to_dict(config: TrainConfig) -> dict[str, Any]:
    """Convert a config to nested JSON-ready values (tuples become lists).

    Args:
        config: the config.

    Returns:
        ``{"name": ..., "data": {...}, "model": {...}, "step": {...}, ...}``.

    Example:
        >>> to_dict(TrainConfig())["data"]["image_shape"]
        [28, 28, 1]

    """
    out: dict[str, Any] = {"name": config.name}
    for section in SECTIONS:
        values = dataclasses.asdict(getattr(config, section))
        out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    return out


def flatten(config: TrainConfig) -> dict[str, Any]:
    """Return every field of a config by its flat name.

    Args:
        config: the config.

    Returns:
        ``{flat name: value}``.

    Example:
        >>> flatten(TrainConfig())["lr"]
        0.0002

    """
    return {name: config.get(name) for name in flat_fields()}


def from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Build a config from ``to_dict`` output (a run's ``config.json``), nested or flat.

    Flat files, as runs wrote them before the config was nested, load the same way: each key is
    a flat field name.

    Args:
        values: the JSON object; missing fields take their defaults.

    Returns:
        The validated ``TrainConfig``.

    Raises:
        ConfigError: unknown fields or invalid values.

    Example:
        >>> from_dict(to_dict(TrainConfig.of(lr=1e-3))) == TrainConfig.of(lr=1e-3)
        True
        >>> from_dict({"name": "old", "lr": 1e-3, "model": "mlp"}).optim.lr  # a flat file
        0.001

    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"a config must be a JSON object, got {type(values).__name__}")
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, Mapping):
            for field, item in value.items():
                flat[f"{key}.{field}"] = item
        else:
            flat[key] = value
    typed = {}
    for key, value in flat.items():
        if key != "name":
            section, field = _path(key).split(".")
            if _is_tuple_type(_hints(SECTIONS[section])[field]) and isinstance(value, list):
                value = tuple(value)
        typed[key] = value
    return _replace(TrainConfig(), typed, check_family=False)


def config_differences(a: TrainConfig, b: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """Return the flat fields whose values differ between two configs.

    Args:
        a: first config.
        b: second config.

    Returns:
        ``{flat name: (value in a, value in b)}``.

    Example:
        >>> config_differences(TrainConfig(), TrainConfig.of(lr=1e-3))
        {'lr': (0.0002, 0.001)}

    """
    left, right = flatten(a), flatten(b)
    return {k: (left[k], right[k]) for k in left if left[k] != right[k]}


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
        >>> resolve_steps(TrainConfig.of(epochs=2, batch_size=10), 105)
        20

    """
    schedule = config.schedule
    if schedule.epochs is None:
        return schedule.steps
    per_epoch = num_examples // (schedule.batch_size * config.step.n_critic)
    if per_epoch < 1:
        raise ConfigError(
            f"one epoch of {num_examples} examples holds no batch of "
            f"{schedule.batch_size * config.step.n_critic}; lower batch_size"
        )
    return max(1, round(schedule.epochs * per_epoch))


# -- validation ------------------------------------------------------------------------------------


def _check_types(config: TrainConfig) -> None:
    if not isinstance(config.name, str):
        raise ConfigError(f"config field name must be str, got {config.name!r}")
    for section, cls in SECTIONS.items():
        hints = _hints(cls)
        for f in dataclasses.fields(cls):
            value = getattr(getattr(config, section), f.name)
            if section == "step" and f.name == "loss" and not isinstance(value, str):
                raise ConfigError("a config's loss must be a name from jaxgan.losses.LOSSES")
            if not _matches(value, hints[f.name]):
                raise ConfigError(
                    f"config field {f.name} must be {_type_name(hints[f.name])}, got {value!r}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"config field {f.name} must be finite, got {value!r}")


def _check_model_family(c: TrainConfig) -> None:
    """Check what a model family can make: image sizes and class conditioning."""
    model, shape, step = c.model, c.data.image_shape, c.step
    _require(
        model.d_width is None or model.d_width >= 1,
        f"d_width must be ≥ 1 or none, got {model.d_width}",
    )
    if model.family == "resnet" and shape is not None and len(shape) == 3:
        size = "×".join(map(str, RESNET_IMAGE_SIZE))
        _require(
            tuple(shape[:2]) == RESNET_IMAGE_SIZE,
            f"model 'resnet' makes {size} images, got image_shape {shape}; "
            f"use {size} data such as cifar10 or another model",
        )
    if model.conditional:
        _require(
            model.family in CONDITIONAL_MODELS,
            f"conditional=true needs a model that takes labels ({', '.join(CONDITIONAL_MODELS)}), "
            f"not {model.family!r}; set model=dcgan or resnet, or conditional=false",
        )
        _require(step.pack == 1, "packing (pack > 1) cannot be combined with conditional=true")
    if step.conditioning == "auxiliary":
        _require(
            model.conditional,
            "conditioning=auxiliary (AC-GAN) needs a conditional run; set conditional=true",
        )
        auxiliary = [name for name, family in FAMILIES.items() if family.auxiliary]
        _require(
            FAMILIES[model.family].auxiliary,
            f"conditioning=auxiliary (AC-GAN) needs a model whose D has a classifier head "
            f"({', '.join(auxiliary)}), not {model.family!r}",
        )
    _require(
        step.num_classes is None or model.conditional,
        "num_classes applies only to conditional runs; set conditional=true or num_classes=none",
    )
    _require(
        step.num_classes is None or step.num_classes <= MAX_NUM_CLASSES,
        f"num_classes {step.num_classes} is more than {MAX_NUM_CLASSES:,} classes; set "
        "num_classes=none (from the data) or a smaller count",
    )


def _check_values(c: TrainConfig) -> None:
    data, model, optim, schedule, outputs, step = (
        c.data, c.model, c.optim, c.schedule, c.outputs, c.step
    )  # fmt: skip
    _require(
        bool(c.name) and "/" not in c.name and "\\" not in c.name and not c.name.startswith("."),
        f"name must be a plain name without path separators, got {c.name!r}",
    )
    _require(
        model.family in MODELS, f"model must be one of {', '.join(MODELS)}, got {model.family!r}"
    )
    _require(bool(data.name.strip()), "data must name a dataset, e.g. fashion_mnist_sample")
    _require(
        schedule.loop in ("auto", "scan", "python"),
        f"loop must be auto, scan or python, got {schedule.loop!r}",
    )
    devices = schedule.devices
    _require(
        devices is None or devices == "all" or (devices.isdigit() and int(devices) > 0),
        f"devices must be 'all' or a positive count, got {devices!r}",
    )
    _require(
        model.upsample in ("auto", "transpose", "subpixel"),
        f"upsample must be auto, transpose or subpixel, got {model.upsample!r}",
    )
    shape = data.image_shape
    if shape is not None:
        _require(
            len(shape) in (1, 3) and all(d >= 1 for d in shape),
            f"image_shape must be H,W,C or D with positive sizes, got {shape}",
        )
        if model.family == "toy":
            _require(
                len(shape) == 1,
                f"model 'toy' makes points: image_shape must be one number such as 2, got {shape}",
            )
        else:
            _require(
                len(shape) == 3,
                f"model {model.family!r} makes images: image_shape must be H,W,C, got {shape}",
            )
    _check_model_family(c)
    positive = {
        model: ("g_hidden", "d_hidden", "width", "kernel_size", "g_depth", "d_depth",
                "maxout_pieces"),
        schedule: ("steps", "batch_size", "steps_per_call"),
        outputs: ("log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                  "grid_size", "scatter_points", "track_samples"),
    }  # fmt: skip
    for section, names in positive.items():
        for name in names:
            value = getattr(section, name)
            _require(value >= 1, f"{name} must be ≥ 1, got {value}")
    for name in ("lr", "d_lr"):
        value = getattr(optim, name)
        _require(value is None or value > 0, f"{name} must be > 0, got {value}")
    for name in ("b1", "b2"):
        value = getattr(optim, name)
        _require(0 <= value < 1, f"{name} must be in [0, 1), got {value}")
    for name in ("g_dropout", "d_dropout"):
        value = getattr(model, name)
        _require(0 <= value < 1, f"{name} must be in [0, 1), got {value}")
    policy = parse_policy(step.augment)
    _require(not (policy and c.is_points), "augment (DiffAugment) works on images, not points")
    _require(
        schedule.epochs is None or schedule.epochs > 0, f"epochs must be > 0, got {schedule.epochs}"
    )
    _require(
        optim.lr_schedule in ("constant", "linear"),
        f"lr_schedule must be constant or linear, got {optim.lr_schedule!r}",
    )
    _require(
        optim.lr_schedule == "constant" or schedule.epochs is None,
        "lr_schedule=linear decays over steps: give steps (--steps) instead of epochs",
    )
    _require(
        data.split in ("train", "test"),
        f"data_split must be train or test, got {data.split!r}",
    )
    _require(
        data.limit is None or data.limit >= 1,
        f"data_limit must be ≥ 1 or none, got {data.limit}",
    )
    _require(
        data.per_class is None or data.per_class >= 1,
        f"per_class must be ≥ 1 or none, got {data.per_class}",
    )
    _require(
        0 <= schedule.seed < 2**32,
        f"seed must be below 2**32 = {2**32} (jax.random.key keeps 32 bits: seed "
        f"{schedule.seed} would repeat seed {schedule.seed % 2**32}), got {schedule.seed}",
    )
    _require(outputs.log in LOGS, f"log must be one of {', '.join(LOGS)}, got {outputs.log!r}")
    tracked = ("fd", "kid", "fid", "modes", "high_quality")
    _require(
        outputs.track_metric is None or outputs.track_metric in tracked,
        f"track_metric must be one of {', '.join(tracked)} or none, got {outputs.track_metric!r}",
    )
    _require(
        schedule.batch_size % step.pack == 0,
        f"batch_size {schedule.batch_size} must be a multiple of pack {step.pack}",
    )
    every = (outputs.checkpoint_every, outputs.sample_every, schedule.steps_per_call)
    _require(
        every[0] % every[2] == 0,
        f"checkpoint_every ({every[0]}) must be a multiple of steps_per_call ({every[2]}) so "
        "that resumed runs stay bit-exact",
    )
    _require(
        every[1] % every[2] == 0,
        f"sample_every ({every[1]}) must be a multiple of steps_per_call ({every[2]})",
    )
    _require(
        outputs.checkpoint_every % outputs.log_every == 0,
        f"checkpoint_every ({outputs.checkpoint_every}) must be a multiple of log_every "
        f"({outputs.log_every})",
    )
