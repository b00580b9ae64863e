"""From a config to a state: the models a config names, its optimisers, keys and data.

``build_state(config)`` is the one mapping from a ``TrainConfig`` to a ``GANState``: the CLI,
ensembles, notebooks and benchmarks all build states through it. ``load_training_data`` loads
the config's split and fills in what the data decides (image shape, class count).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from jaxgan import data, models
from jaxgan.experiment.config import ConfigError, TrainConfig
from jaxgan.state import GANState, create_state, default_optimizer
from jaxgan.sweeps import RunKeys, run_keys

__all__ = [
    "RunKeys",
    "build_models",
    "build_state",
    "class_row_labels",
    "grid_layout",
    "load_training_data",
    "run_keys",
]


def build_models(config: TrainConfig) -> tuple[Callable, Callable]:
    """Return the generator and discriminator factories (``rngs -> module``) a config names.

    The model family comes from ``jaxgan.models.FAMILIES`` with the config's options for it. A
    conditional config (``conditional=True``, ``model="resnet"``) gives SNGAN's generator with
    conditional BatchNorm and a projection discriminator over ``num_classes`` classes; the
    discriminator is built for ``pack`` samples at once (``StepConfig.pack``, the one knob).

    Args:
        config: a config with ``image_shape`` set (``load_training_data`` fills it from data),
            and ``num_classes`` too when it is conditional.

    Returns:
        ``(generator_factory, discriminator_factory)`` for ``jaxgan.create_state``.

    Raises:
        ConfigError: ``image_shape`` (or, for a conditional config, ``num_classes``) is unset.

    Example:
        >>> from flax import nnx
        >>> g, d = build_models(TrainConfig())
        >>> g(nnx.Rngs(0)).latent_dim
        100

    """
    shape = config.data.image_shape
    if shape is None:
        raise ConfigError("image_shape is unset; resolve it from the data with load_training_data")
    family = models.FAMILIES[config.model.family]
    step = config.step
    return family.build(
        shape,
        step.latent_dim,
        _num_classes(config),
        step.pack,
        step.conditioning,
        **config.model.options(),
    )


def _num_classes(config: TrainConfig) -> int | None:
    """Return the class count the models condition on (None for unconditional configs)."""
    if not config.model.conditional:
        return None
    if config.step.num_classes is None:
        raise ConfigError(
            "num_classes is unset for a conditional config; resolve it from the data with "
            "load_training_data or set num_classes"
        )
    return config.step.num_classes


def build_state(config: TrainConfig, key: jax.Array | int | None = None) -> GANState:
    """Build the initial ``GANState`` (models, Adam optimisers, ``StepConfig``) of a config.

    Notebooks, benchmarks and ensembles reuse this mapping from configs to models.

    Args:
        config: a config with ``image_shape`` set.
        key: initialisation key or int seed (default: ``run_keys(config.schedule.seed).init``).

    Returns:
        A fresh state at step 0.

    Example:
        >>> from jaxgan.experiment import load_preset
        >>> state = build_state(load_preset("seed-mlp"))
        >>> int(state.step)
        0

    """
    if key is None:
        key = run_keys(config.schedule.seed).init
    elif isinstance(key, int):
        key = jax.random.key(key)
    g_factory, d_factory = build_models(config)
    optim, steps = config.optim, config.schedule.steps
    # lr_schedule=linear: each optimiser decays over its own number of updates in the run
    linear = optim.lr_schedule == "linear"
    g_decay = steps if linear else None
    d_decay = steps * config.step.n_critic if linear else None
    return create_state(
        g_factory,
        d_factory,
        key=key,
        g_optimizer=default_optimizer(optim.lr, optim.b1, optim.b2, g_decay),
        d_optimizer=default_optimizer(optim.d_learning_rate, optim.b1, optim.b2, d_decay),
        config=config.step,  # the config's step section is the state's StepConfig, as it is
    )


def load_training_data(config: TrainConfig) -> tuple[TrainConfig, data.Dataset]:
    """Load the config's training split and check it fits the model's example shape.

    Args:
        config: the config; an unset ``image_shape`` is taken from the data, and so is an unset
            ``num_classes`` of a conditional config (from the labels). With ``per_class=k`` only
            ``k`` examples of every class are kept (``jaxgan.data.per_class_subset``).

    Returns:
        ``(config with image_shape (and num_classes) set, dataset)``.

    Raises:
        ValueError: unknown dataset, examples whose shape the model cannot make, or a
            conditional config whose data has no labels (or more classes than configured).
        FileNotFoundError: the dataset is not available offline.

    Example:
        >>> config, ds = load_training_data(TrainConfig.of(data_limit=128))
        >>> ds.x.shape
        (128, 28, 28, 1)
        >>> len(load_training_data(TrainConfig.of(per_class=5))[1])
        50

    """
    try:
        dataset = data.load(config.data.name, config.data.split, limit=config.data.limit)
    except data.DatasetUnavailableError as err:
        hint = _unavailable_hint(config.data.name)
        raise data.DatasetUnavailableError(f"{err}{hint}") from None
    if config.data.per_class is not None:  # the same k images of every class in every run
        dataset = data.per_class_subset(dataset, config.data.per_class)
    if config.data.image_shape is None:
        config = config.replace(image_shape=dataset.image_shape)
    if dataset.image_shape != config.data.image_shape:
        shape = ",".join(map(str, dataset.image_shape))
        family = config.model.family
        raise ValueError(
            f"dataset {config.data.name!r} has examples of shape {dataset.image_shape} but the "
            f"{family} model of {config.name!r} makes {config.data.image_shape}; choose data "
            f"of that shape or set image_shape={shape} (a {family} model must support it)"
        )
    if config.model.conditional:
        config = _with_data_classes(config, dataset)
    return config, dataset


def _unavailable_hint(name: str) -> str:
    """Return what a command-line user can do when a tfds dataset is not here."""
    if name.startswith(("idx:", "npz:", "stacked_mnist")):
        return ""
    return (
        "; jaxgan train reads tfds data from $TFDS_DATA_DIR (export it) or IDX files with "
        "--data idx:<folder>"
    )


def _with_data_classes(config: TrainConfig, dataset: data.Dataset) -> TrainConfig:
    """Set ``num_classes`` of a conditional config from the labels, checking that they fit."""
    if dataset.y is None or dataset.num_classes is None:
        raise ConfigError(
            f"conditional=true needs labelled data, but dataset {config.data.name!r} has no "
            "labels; use labelled data (e.g. an idx folder with train-labels-idx1-ubyte) or set "
            "conditional=false"
        )
    top = int(dataset.y.max()) + 1 if len(dataset.y) else 0  # bounded by jaxgan.data
    if config.step.num_classes is None:
        return config.replace(num_classes=max(dataset.num_classes, top))
    if top > config.step.num_classes:
        raise ConfigError(
            f"dataset {config.data.name!r} has labels up to {top - 1} but num_classes is "
            f"{config.step.num_classes}; set num_classes={top} or num_classes=none (from the data)"
        )
    return config


def class_row_labels(num: int, columns: int, num_classes: int) -> np.ndarray:
    """Labels that give a conditional sample grid one class per row (row index mod classes).

    Args:
        num: number of samples in the grid.
        columns: samples per row.
        num_classes: number of classes.

    Returns:
        int32 array (num,): sample ``i`` is of class ``(i // columns) % num_classes``.

    Example:
        >>> class_row_labels(6, 2, 2).tolist()
        [0, 0, 1, 1, 0, 0]

    """
    return ((np.arange(num) // columns) % num_classes).astype(np.int32)


def grid_layout(config: TrainConfig) -> tuple[int, int]:
    """Return ``(samples, columns)`` of a run's sample grids.

    Unconditional runs show ``grid_size × grid_size`` samples; conditional runs one class per
    row, with at least as many rows as classes so that every class appears.

    Args:
        config: the run's config (``num_classes`` set when conditional).

    Returns:
        The number of samples and of columns.

    Example:
        >>> grid_layout(TrainConfig.of(grid_size=4))
        (16, 4)

    """
    rows = size = config.outputs.grid_size
    if config.model.conditional and config.step.num_classes is not None:
        rows = max(rows, config.step.num_classes)
    return rows * size, size
