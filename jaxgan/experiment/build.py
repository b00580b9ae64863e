"""From a config to a state: the models a config names, its optimisers, keys and data.

``build_state(config)`` is the one mapping from a ``TrainConfig`` to a ``GANState``: the CLI,
ensembles, notebooks and benchmarks all build states through it. ``load_training_data`` loads
the config's split and fills in what the data decides (image shape, class count).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import numpy as np

from jaxgan import data, models
from jaxgan.experiment.config import ConfigError, TrainConfig
from jaxgan.state import GANState, StepConfig, create_state, default_optimizer
from jaxgan.sweeps import RunKeys, run_keys

__all__ = [
    "RunKeys",
    "build_models",
    "build_state",
    "class_row_labels",
    "grid_layout",
    "load_training_data",
    "run_keys",
    "step_config",
]

def build_models(config: TrainConfig) -> tuple[Callable, Callable]:
    """Return the generator and discriminator factories (``rngs -> module``) a config names.

    A conditional config (``conditional=True``, ``model="resnet"``) gives SNGAN's generator with
    conditional BatchNorm and a projection discriminator over ``num_classes`` classes.

    Args:
        config: a config with ``image_shape`` set (``load_training_data`` fills it from data),
            and ``num_classes`` too when it is conditional.

    Returns:
        ``(generator_factory, discriminator_factory)`` for ``jaxgan.create_state``.

    Raises:
        ConfigError: ``image_shape`` (or, for a conditional config, ``num_classes``) is unset.

    Example:
        >>> g, d = build_models(TrainConfig())
        >>> g(flax.nnx.Rngs(0)).latent_dim  # doctest: +SKIP
        100

    """
    shape = config.image_shape
    if shape is None:
        raise ConfigError("image_shape is unset; resolve it from the data with load_training_data")
    c = config
    num_classes = _num_classes(config)
    # the discriminator judges `pack` samples stacked along the last axis (jaxgan.augment.pack)
    d_shape = (*shape[:-1], shape[-1] * c.pack)
    if c.model == "resnet":
        d_width = c.width if c.d_width is None else c.d_width
        return (
            lambda rngs: models.ResNetGenerator(
                c.latent_dim, shape, c.width, num_classes, rngs=rngs
            ),
            lambda rngs: models.ResNetDiscriminator(d_shape, d_width, num_classes, rngs=rngs),
        )
    if c.model == "mlp":
        return (
            lambda rngs: models.MLPGenerator(
                c.latent_dim, c.g_hidden, c.g_dropout, shape, rngs=rngs
            ),
            lambda rngs: models.MLPDiscriminator(d_shape, c.d_hidden, c.d_dropout, rngs=rngs),
        )
    if c.model == "dcgan":
        return (
            lambda rngs: models.DCGANGenerator(
                c.latent_dim, shape, c.width, c.kernel_size, c.upsample, rngs=rngs
            ),
            lambda rngs: models.DCGANDiscriminator(
                d_shape, c.width, c.kernel_size, c.d_dropout, rngs=rngs
            ),
        )
    return (
        lambda rngs: models.ToyGenerator(
            c.latent_dim, c.g_hidden, c.g_depth, c.batch_norm, shape[0], rngs=rngs
        ),
        lambda rngs: models.ToyDiscriminator(
            d_shape[0], c.d_hidden, c.d_depth, c.maxout_pieces, rngs=rngs
        ),
    )

def _num_classes(config: TrainConfig) -> int | None:
    """Return the class count the models condition on (None for unconditional configs)."""
    if not config.conditional:
        return None
    if config.num_classes is None:
        raise ConfigError(
            "num_classes is unset for a conditional config; resolve it from the data with "
            "load_training_data or set num_classes"
        )
    return config.num_classes



def step_config(config: TrainConfig) -> StepConfig:
    """Return the ``StepConfig`` a run's steps train with (the config's ``step`` section).

    Args:
        config: the run's config (``num_classes`` resolved for conditional runs).

    Returns:
        The ``StepConfig``.

    Example:
        >>> step_config(TrainConfig(loss="hinge")).loss
        'hinge'

    """
    return StepConfig(
        loss=config.loss,
        n_critic=config.n_critic,
        gradient_penalty=config.gradient_penalty,
        r1=config.r1,
        latent_dim=config.latent_dim,
        compute_dtype=config.compute_dtype,
        ema_decay=config.ema_decay,
        augment=config.augment,
        pack=config.pack,
        num_classes=_num_classes(config),
    )


def build_state(config: TrainConfig, key: jax.Array | int | None = None) -> GANState:
    """Build the initial ``GANState`` (models, Adam optimisers, ``StepConfig``) of a config.

    Notebooks, benchmarks and ensembles reuse this mapping from configs to models.

    Args:
        config: a config with ``image_shape`` set.
        key: initialisation key or int seed (default: ``run_keys(config).init``).

    Returns:
        A fresh state at step 0.

    Example:
        >>> state = build_state(load_preset("seed-mlp"))
        >>> int(state.step)
        0

    """
    if key is None:
        key = run_keys(config.seed).init
    elif isinstance(key, int):
        key = jax.random.key(key)
    g_factory, d_factory = build_models(config)
    # lr_schedule=linear: each optimiser decays over its own number of updates in the run
    linear = config.lr_schedule == "linear"
    g_decay = config.steps if linear else None
    d_decay = config.steps * config.n_critic if linear else None
    return create_state(
        g_factory,
        d_factory,
        key=key,
        g_optimizer=default_optimizer(config.lr, config.b1, config.b2, g_decay),
        d_optimizer=default_optimizer(config.d_learning_rate, config.b1, config.b2, d_decay),
        config=step_config(config),
    )

def load_training_data(config: TrainConfig) -> tuple[TrainConfig, data.Dataset]:
    """Load the config's training split and check it fits the model's example shape.

    Args:
        config: the config; an unset ``image_shape`` is taken from the data, and so is an unset
            ``num_classes`` of a conditional config (from the labels).

    Returns:
        ``(config with image_shape (and num_classes) set, dataset)``.

    Raises:
        ValueError: unknown dataset, examples whose shape the model cannot make, or a
            conditional config whose data has no labels (or more classes than configured).
        FileNotFoundError: the dataset is not available offline.

    Example:
        >>> config, ds = load_training_data(TrainConfig(data_limit=128))
        >>> ds.x.shape
        (128, 28, 28, 1)

    """
    try:
        dataset = data.load(config.data, config.data_split, limit=config.data_limit)
    except data.DatasetUnavailableError as err:
        raise data.DatasetUnavailableError(f"{err}{_unavailable_hint(config.data)}") from None
    if config.image_shape is None:
        config = dataclasses.replace(config, image_shape=dataset.image_shape)
    if dataset.image_shape != config.image_shape:
        shape = ",".join(map(str, dataset.image_shape))
        raise ValueError(
            f"dataset {config.data!r} has examples of shape {dataset.image_shape} but the "
            f"{config.model} model of {config.name!r} makes {config.image_shape}; choose data "
            f"of that shape or set image_shape={shape} (a {config.model} model must support it)"
        )
    if config.conditional:
        config = _with_data_classes(config, dataset)
    return config, dataset

def _unavailable_hint(name: str) -> str:
    """Return what a command-line user can do when a tfds dataset is not here."""
    if name.startswith(("idx:", "stacked_mnist")):
        return ""
    return (
        "; jaxgan train reads tfds data from $TFDS_DATA_DIR (export it) or IDX files with "
        "--data idx:<folder>"
    )

def _with_data_classes(config: TrainConfig, dataset: data.Dataset) -> TrainConfig:
    """Set ``num_classes`` of a conditional config from the labels, checking that they fit."""
    if dataset.y is None or dataset.num_classes is None:
        raise ConfigError(
            f"conditional=true needs labelled data, but dataset {config.data!r} has no labels; "
            "use labelled data (e.g. an idx folder with train-labels-idx1-ubyte) or set "
            "conditional=false"
        )
    top = int(dataset.y.max()) + 1 if len(dataset.y) else 0
    if config.num_classes is None:
        return dataclasses.replace(config, num_classes=max(dataset.num_classes, top))
    if top > config.num_classes:
        raise ConfigError(
            f"dataset {config.data!r} has labels up to {top - 1} but num_classes is "
            f"{config.num_classes}; set num_classes={top} or num_classes=none (from the data)"
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
        >>> grid_layout(TrainConfig(grid_size=4))
        (16, 4)

    """
    rows = config.grid_size
    if config.conditional and config.num_classes is not None:
        rows = max(rows, config.num_classes)
    return rows * config.grid_size, config.grid_size
