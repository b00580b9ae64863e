"""Train jaxgan's dataset classifiers (the CNN of ``jaxgan.metrics.classifier``) with AdamW.

This is the one code path that produces classifier weights: ``scripts/train_classifier.py``
calls :func:`train_classifier`, :func:`feature_rms` and
``jaxgan.metrics.classifier.save_classifier`` to write the checksummed files that
``jaxgan.metrics.load_classifier`` reads, and studies that train small classifiers (e.g. on
augmented data) call the same functions. One jitted, pure step
``(state, uint8 images, labels, key) -> (state, metrics)``, compiled once per setup (the seed is
its ``key`` argument, so the seeds of a study share it); pixels enter through
``jaxgan.data.uint8_to_unit_range``, the map the loaded classifiers apply.

Example:
    >>> x, y = np.zeros((16, 28, 28, 1), np.uint8), np.arange(16) % 10
    >>> config = ClassifierConfig(epochs=1, batch_size=8, augment=None)
    >>> graphdef, params = train_classifier(  # doctest: +SKIP
    ...     x, y, ClassifierArchitecture(), config, log=None)
    >>> Classifier(ClassifierArchitecture(), graphdef, params).predict(x).shape  # doctest: +SKIP
    (16,)

"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import lru_cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxgan.data import uint8_to_unit_range
from jaxgan.metrics.classifier import Classifier, ClassifierArchitecture, ClassifierCNN

__all__ = [
    "AugmentConfig",
    "ClassifierConfig",
    "augment_images",
    "feature_rms",
    "train_classifier",
]


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Random affine augmentation applied per training image.

    Attributes:
        rotate_degrees: rotation drawn from ±this.
        scale: zoom factor drawn from 1 ± this.
        translate: shift in pixels drawn from ±this per axis.
        hflip: flip horizontally with probability 1/2.
        elastic: standard deviation in pixels of a smooth random displacement field (a 4×4 grid
            of Gaussian offsets, bicubically upsampled); 0 disables it.

    Example:
        >>> AugmentConfig(rotate_degrees=0.0).translate
        2.0

    """

    rotate_degrees: float = 10.0
    scale: float = 0.1
    translate: float = 2.0
    hflip: bool = False
    elastic: float = 0.0


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """How :func:`train_classifier` trains: optimiser, schedule, augmentation and seed.

    Attributes:
        epochs: passes over the training set.
        batch_size: images per step.
        learning_rate: peak AdamW learning rate (warm-up then cosine decay to 0).
        weight_decay: AdamW decoupled weight decay.
        augment: augmentation, or None for none.
        seed: seed of initialisation, shuffling, dropout and augmentation.

    Example:
        >>> ClassifierConfig(epochs=1).batch_size
        128

    """

    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    augment: AugmentConfig | None = AugmentConfig()
    seed: int = 0


def augment_images(key: jax.Array, images: jax.Array, config: AugmentConfig) -> jax.Array:
    """Warp every image by its own random rotation, zoom, shift, flip and elastic field.

    Args:
        key: PRNG key.
        images: float images ``(B, H, W, C)``.
        config: augmentation ranges.

    Returns:
        Augmented images of the same shape; pixels sampled outside repeat the border.

    Example:
        >>> x = jnp.zeros((2, 28, 28, 1))
        >>> augment_images(jax.random.key(0), x, AugmentConfig()).shape  # doctest: +SKIP
        (2, 28, 28, 1)

    """
    b, h, w, c = images.shape
    k_rot, k_scale, k_shift, k_flip, k_elastic = jax.random.split(key, 5)
    angle = jnp.deg2rad(
        jax.random.uniform(k_rot, (b,), minval=-1.0, maxval=1.0) * config.rotate_degrees
    )
    zoom = 1.0 + config.scale * jax.random.uniform(k_scale, (b,), minval=-1.0, maxval=1.0)
    shift = config.translate * jax.random.uniform(k_shift, (b, 2), minval=-1.0, maxval=1.0)
    flip = jax.random.bernoulli(k_flip, 0.5, (b,)) & config.hflip
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij"
    )
    coarse = config.elastic * jax.random.normal(k_elastic, (b, 4, 4, 2))
    field = jax.image.resize(coarse, (b, h, w, 2), method="cubic")

    def warp(image, a, s, t, f, dyx):
        y, x = yy - cy - t[0], xx - cx - t[1]
        x = jnp.where(f, -x, x)
        src_y = (jnp.cos(a) * y - jnp.sin(a) * x) / s + cy + dyx[..., 0]
        src_x = (jnp.sin(a) * y + jnp.cos(a) * x) / s + cx + dyx[..., 1]
        sample = partial(
            jax.scipy.ndimage.map_coordinates, coordinates=[src_y, src_x], order=1, mode="nearest"
        )
        return jnp.stack([sample(image[..., ch]) for ch in range(c)], axis=-1)

    return jax.vmap(warp)(images, angle, zoom, shift, flip, field)


class _TrainState(NamedTuple):
    params: nnx.State
    opt_state: optax.OptState
    step: jax.Array


@lru_cache(maxsize=8)
def _train_step(
    graphdef: nnx.GraphDef,
    learning_rate: float,
    weight_decay: float,
    warmup_steps: int,
    total_steps: int,
    augment: AugmentConfig | None,
) -> tuple[optax.GradientTransformation, Callable]:
    """Build AdamW with its schedule and the jitted ``(state, images, labels, key)`` step.

    Cached per setup, so classifiers that differ only in their seed (the seeds of a study's arm)
    share one compiled step: the seed enters as the ``key`` argument, not as a constant.
    """
    schedule = optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, total_steps)
    tx = optax.adamw(schedule, weight_decay=weight_decay)

    def loss_fn(params, x, y, step_key):
        model = nnx.merge(graphdef, params)
        _, logits = model(x, rngs=nnx.Rngs(dropout=step_key), deterministic=False)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def step(state: _TrainState, images: jax.Array, labels: jax.Array, key: jax.Array):
        step_key = jax.random.fold_in(key, state.step)
        x = uint8_to_unit_range(images)
        if augment is not None:
            x = augment_images(jax.random.fold_in(step_key, 1), x, augment)
        (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, x, labels, jax.random.fold_in(step_key, 2)
        )
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return _TrainState(params, opt_state, state.step + 1), {"loss": loss, "accuracy": acc}

    return tx, jax.jit(step, donate_argnums=0)


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    architecture: ClassifierArchitecture,
    config: ClassifierConfig,
    *,
    log: Callable[[str], None] | None = print,
) -> tuple[nnx.GraphDef, nnx.State]:
    """Train a :class:`ClassifierCNN` with AdamW, augmentation and dropout (one jitted step).

    Args:
        images: uint8 training images ``(N, H, W, C)`` (or ``(N, H, W)`` for one channel).
        labels: integer labels ``(N,)``.
        architecture: the network to train.
        config: how to train it.
        log: called with one line per epoch; None for silence.

    Returns:
        ``(graphdef, params)`` of the trained model; wrap them in
        ``jaxgan.metrics.classifier.Classifier`` to use it, or save them with
        ``jaxgan.metrics.classifier.save_classifier``.

    Example:
        >>> x, y = np.zeros((16, 28, 28, 1), np.uint8), np.arange(16) % 10
        >>> graphdef, params = train_classifier(  # doctest: +SKIP
        ...     x, y, ClassifierArchitecture(), ClassifierConfig(epochs=1, batch_size=8), log=None)

    """
    images = architecture.check_images(images)
    labels = np.asarray(labels).astype(np.int32)
    num_classes = architecture.num_classes
    if labels.shape != (len(images),) or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must be ({len(images)},) ints in [0, {num_classes}), got shape {labels.shape}"
        )
    steps_per_epoch = len(images) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"batch_size {config.batch_size} exceeds the {len(images)} training images"
        )
    total = steps_per_epoch * config.epochs
    key = jax.random.key(config.seed)
    model = ClassifierCNN(architecture, rngs=nnx.Rngs(jax.random.fold_in(key, 0)))
    graphdef, params = nnx.split(model)
    tx, step = _train_step(
        graphdef,
        config.learning_rate,
        config.weight_decay,
        min(500, total // 10 + 1),
        total,
        config.augment,
    )
    state = _TrainState(params, tx.init(params), jnp.zeros((), jnp.int32))
    step_key = jax.random.fold_in(key, 1)
    order_rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        start, order = time.perf_counter(), order_rng.permutation(len(images))
        metrics = []
        for i in range(steps_per_epoch):
            batch = order[i * config.batch_size : (i + 1) * config.batch_size]
            state, m = step(state, images[batch], labels[batch], step_key)
            metrics.append(m)
        if log is not None:
            mean = jax.tree.map(lambda *v: float(np.mean(v)), *metrics)
            log(
                f"epoch {epoch + 1}/{config.epochs}: loss {mean['loss']:.4f} "
                f"train-acc {mean['accuracy']:.4f} ({time.perf_counter() - start:.1f} s)"
            )
    return graphdef, state.params


def feature_rms(classifier: Classifier, images: np.ndarray) -> float:
    """Root-mean-square entry of the classifier's raw (unscaled) features on ``images``.

    ``scripts/train_classifier.py`` stores ``1 / feature_rms(model, training_images)`` as the
    weights' ``feature_scale``.

    Args:
        classifier: the classifier (its recorded ``feature_scale`` is ignored).
        images: uint8 images, normally the training set.

    Returns:
        ``sqrt(mean(raw_features²))``.

    Example:
        >>> from jaxgan.metrics.classifier import load_classifier
        >>> feature_rms(load_classifier("mnist"), images)  # doctest: +SKIP
        6.8...

    """
    raw = dataclasses.replace(classifier, metadata={**classifier.metadata, "feature_scale": 1.0})
    features = raw.features(images).astype(np.float64)
    return float(np.sqrt(np.mean(features**2)))
