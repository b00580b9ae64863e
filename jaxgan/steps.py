"""The pure training steps: ``(state, batch, key) -> (new_state, metrics)``.

``d_update``/``g_update``/``train_update`` are the pure functions; ``d_step``/``g_step``/
``train_step`` are the same functions under ``jax.jit`` with the state donated (its buffers are
reused for the new state, so do not use the input state after calling them; call the ``*_update``
functions under your own ``jax.jit`` to keep it). On the CPU backend they are compiled with
Eigen's convolutions instead of YNNPACK (faster there; ``jaxgan.xla_cpu``); pass
``cpu_convolutions="ynnpack"`` to a call for XLA's default library.

Randomness: step keys are ``fold_in(fold_in(key, player), updates)`` where ``updates`` is the
player's update counter stored in the state, so passing the run's one base key every time gives a
reproducible and exactly resumable run.

BatchNorm statistics: each step updates only the statistics of the player it trains. In the D
step the generator runs in training mode (batch statistics) but its running averages are left
unchanged; in the G step the same holds for D. A D with non-parameter state (BatchNorm
statistics, spectral-norm vectors) sees the real and the fake batch in two separate calls (as in
the PyTorch DCGAN example), so its statistics never mix them; a D without any judges both in one
call (``StepConfig.joint_d_call``, on by default; the same values up to float rounding).

Work per iteration: ``train_update`` with ``StepConfig.reuse_fake`` runs G's forward pass once
(the last D update keeps its VJP for the G update); by default the G update draws fresh noise and
runs G again. docs/speed.md says what each option changes and what it saves.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import PartitionSpec

from jaxgan.augment import diff_augment, pack
from jaxgan.losses import auxiliary_class_loss, get_loss
from jaxgan.penalties import gradient_penalty, r1_penalty
from jaxgan.state import GANState, check_labels, discriminator_labels, sample_latent
from jaxgan.xla_cpu import jit

Array = jax.Array
Metrics = dict[str, Array]

_D_STREAM, _G_STREAM = 0, 1

BATCH_AXIS = "data"
"""The mesh axis that batches are split over when a step is traced inside a mesh context."""


def split_over_batch_axis(x: Any) -> Any:
    """Lay examples a step creates itself (such as ``z``) out like the real batch.

    Inside JAX's mesh context (``jax.sharding.use_abstract_mesh`` / ``jax.set_mesh``, as
    ``jaxgan.sharding.DataParallel`` sets while it traces a step) with a ``"data"`` axis, each
    leaf's leading (example) dimension is split over that axis, so the generator runs on each
    device's share only. Outside a mesh context it returns ``x`` unchanged.

    Args:
        x: an array whose leading dimension is the batch, or a pytree of them (None allowed).

    Returns:
        ``x``, with sharding constraints inside a mesh context.

    Example:
        >>> split_over_batch_axis(jnp.zeros((4, 2))).shape
        (4, 2)
    """
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or BATCH_AXIS not in mesh.axis_names or mesh.shape[BATCH_AXIS] == 1:
        return x
    size = mesh.shape[BATCH_AXIS]

    def constrain(leaf: Array) -> Array:
        if leaf.ndim == 0 or leaf.shape[0] % size:
            return leaf
        return jax.lax.with_sharding_constraint(leaf, PartitionSpec(BATCH_AXIS))

    return jax.tree.map(constrain, x)


def _step_key(key: Array, stream: int, counter: Array) -> Array:
    if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError("key must be a typed PRNG key from jax.random.key(seed)")
    return jax.random.fold_in(jax.random.fold_in(key, stream), counter)


def _check_real_batch(real: Array, sample_shape: tuple[int, ...]) -> None:
    """Raise a one-line error when a real batch cannot be judged by this discriminator."""
    if not jnp.issubdtype(real.dtype, jnp.floating):
        raise TypeError(
            f"real batch has dtype {real.dtype}; convert images to float in [-1, 1] first "
            "(jaxgan.data.to_model_input does it for uint8)"
        )
    if tuple(real.shape[1:]) != tuple(sample_shape):
        raise ValueError(
            f"real batch has sample shape {tuple(real.shape[1:])} but the generator makes "
            f"{tuple(sample_shape)}; pick a model for this data or reshape the data"
        )


Batch = Array | tuple[Array, Array]


def split_batch(batch: Batch, state: GANState) -> tuple[Array, Array | None]:
    """Return ``(samples, labels)`` of a batch, checking it fits the state's conditioning.

    Args:
        batch: samples, or ``(samples, labels)`` for a conditional GAN.
        state: the training state.

    Returns:
        The samples and the integer labels (``None`` for unconditional GANs).

    Raises:
        ValueError: a batch that is not samples or a pair, has no batch axis or no examples, or
            whose labels do not fit the state.

    Example:
        >>> x, y = split_batch(real, state)  # an unconditional GAN: no labels
        >>> x.shape, y
        ((8, 28, 28, 1), None)
    """
    if isinstance(batch, tuple | list):
        if len(batch) != 2:
            raise ValueError("a batch is either samples or a (samples, labels) pair")
        x, labels = batch
    else:
        x, labels = batch, None
    shape = tuple(getattr(x, "shape", ()))
    if not shape or shape[0] == 0:
        raise ValueError(
            f"a training batch needs at least one example along axis 0, got shape {shape}; "
            "check the batch size and that the dataset is not empty"
        )
    check_labels(state, labels, x.shape[0])
    return x, labels


def _fake_labels(state: GANState, key: Array, batch_size: int) -> Array | None:
    """Labels for generated samples: uniform over the classes (None when unconditional)."""
    num_classes = state.config.num_classes
    if num_classes is None:
        return None
    return jax.random.randint(key, (batch_size,), 0, num_classes)


def _discriminator_view(state: GANState, x: Array, key: Array) -> Array:
    """Prepare what D sees of a batch: DiffAugment (when configured), then PacGAN packing."""
    cfg = state.config
    if cfg.augment:
        x = diff_augment(x, key, cfg.augment)
    return pack(x, cfg.pack)


def _packed_labels(state: GANState, labels: Array | None) -> Array | None:
    if labels is not None and state.config.pack > 1:
        raise ValueError("packing (pack > 1) is not supported together with class labels")
    return labels


def _d_keys(key: Array, counter: Array) -> Array:
    """Split the nine keys of D update number ``counter``: z, labels, G dropout, then D's."""
    return jax.random.split(_step_key(key, _D_STREAM, counter), 9)


def _fake_batch(
    state: GANState, params: nnx.State, keys: Array, batch_size: int
) -> tuple[tuple[Array, nnx.State], Array | None]:
    """``((G(z), G's new non-parameter state), fake labels)`` from keys (z, labels, dropout)."""
    kz, ky, kg = keys[0], keys[1], keys[2]
    z = split_over_batch_axis(sample_latent(kz, batch_size, state.config.latent_dim))
    labels = _fake_labels(state, ky, batch_size)
    gen = state.generator
    out = gen.apply(params, z, labels, key=kg, compute_dtype=state.config.compute_dtype)
    return out, labels


def _fake_batch_with_vjp(
    state: GANState, keys: Array, batch_size: int
) -> tuple[Array, Any, nnx.State, Array | None]:
    """G's forward pass on the fake batch of ``keys``, kept for backpropagation.

    Returns ``(fake, pullback, G's new non-parameter state, fake labels)``; ``pullback`` maps a
    cotangent of ``fake`` to the gradient with respect to G's parameters.
    """

    def forward(params):
        (fake, rest), labels = _fake_batch(state, params, keys, batch_size)
        return fake, (rest, labels)

    fake, pullback, (rest, labels) = jax.vjp(forward, state.generator.params, has_aux=True)
    return fake, pullback, rest, labels


def _joint_d_call(state: GANState) -> bool:
    """Whether the D update may judge real and fake in one call (D keeps no statistics)."""
    return state.config.joint_d_call and not jax.tree.leaves(state.discriminator.rest)


def _interleave(a: Array | None, b: Array | None) -> Array | None:
    """``[a0, b0, a1, b1, ...]``: one batch whose rows stay on the devices of ``a``'s and ``b``'s.

    Interleaving (rather than concatenating) keeps row ``i`` of both inputs next to each other,
    so under data parallelism every device's share of the joint batch is its own share of ``a``
    and ``b``: no rows move between devices.
    """
    if a is None or b is None:
        return None
    both = jnp.stack([a, b], axis=1)
    return split_over_batch_axis(both.reshape((-1, *a.shape[1:])))


def d_update(state: GANState, batch: Batch, key: Array) -> tuple[GANState, Metrics]:
    """One discriminator update on a real batch and an equally large generated batch.

    Args:
        state: the training state (not modified).
        batch: real samples (B, ...) as floats (images in [-1, 1]), or ``(samples, labels)``
            for a conditional GAN.
        key: the run's base PRNG key; the step key is folded from ``state.d_updates``.

    Returns:
        ``(new_state, metrics)`` with ``d_loss``, ``d_real`` (mean D(x)), ``d_fake``
        (mean D(G(z))), ``d_grad_norm`` and, when enabled, ``gradient_penalty`` / ``r1``. An
        AC-GAN (``conditioning="auxiliary"``) adds ``ac_weight · ac_d_ce`` to ``d_loss``, where
        ``ac_d_ce`` is the auxiliary classifier's cross-entropy on the real labels (Odena et al.
        2017 also train it on the fake labels; like PyTorch-StudioGAN's "ACGAN" we do not: a
        classifier taught on early, unreadable samples learns their labels instead of the
        classes), and logs ``ac_d_ce``, ``ac_d_real_accuracy`` and ``ac_d_fake_accuracy`` (how
        often D classifies real / generated images as their labels).

    Example:
        >>> new, m = jax.jit(d_update)(state, real, jax.random.key(0))
        >>> int(new.d_updates), sorted(m)[:2]
        (1, ['d_fake', 'd_grad_norm'])
    """
    real, real_labels = split_over_batch_axis(split_batch(batch, state))
    keys = _d_keys(key, state.d_updates)
    gen = state.generator
    (fake, _), fake_labels = _fake_batch(state, gen.params, keys, real.shape[0])
    return _d_update_on(state, real, real_labels, fake, fake_labels, keys)


def _d_update_on(
    state: GANState,
    real: Array,
    real_labels: Array | None,
    fake: Array,
    fake_labels: Array | None,
    keys: Array,
) -> tuple[GANState, Metrics]:
    """Run ``d_update``'s D update on a given fake batch (G's output for ``keys[:3]``)."""
    cfg = state.config
    loss = get_loss(cfg.loss)
    disc = state.discriminator
    kreal, kfake, kpen, keps, kaug_real, kaug_fake = (keys[i] for i in range(3, 9))
    _check_real_batch(real, fake.shape[1:])
    fake = jax.lax.stop_gradient(fake).astype(real.dtype)
    real_view = _discriminator_view(state, real, kaug_real)
    fake_view = _discriminator_view(state, fake, kaug_fake)
    real_labels = _packed_labels(state, real_labels)
    fake_labels = _packed_labels(state, fake_labels)
    joint = _joint_d_call(state)
    aux = cfg.auxiliary  # AC-GAN: D(x) -> (logits, class logits); D is called without labels

    def loss_fn(params):
        def critic(x, labels, k, player=disc):
            """``(logits, class logits or None, D's new non-parameter state)``."""
            labels = discriminator_labels(state, labels)
            out, rest = player.apply(params, x, labels, key=k, compute_dtype=cfg.compute_dtype)
            out, classes = (out[0], out[1].astype(jnp.float32)) if aux else (out, None)
            return out.astype(jnp.float32), classes, rest

        if joint:  # no statistics to keep apart: one call on both batches
            logits, classes, rest = critic(
                _interleave(real_view, fake_view), _interleave(real_labels, fake_labels), kreal
            )
            logits = logits.reshape((real_view.shape[0], 2, *logits.shape[1:]))
            real_logits, fake_logits = logits[:, 0], logits[:, 1]
            after_real = disc
            if aux:
                classes = classes.reshape((real_view.shape[0], 2, -1))
                real_classes, fake_classes = classes[:, 0], classes[:, 1]
        else:
            real_logits, real_classes, rest = critic(real_view, real_labels, kreal)
            after_real = disc.replace(rest=rest)
            fake_logits, fake_classes, rest = critic(fake_view, fake_labels, kfake, after_real)
        total = loss.d_loss(real_logits, fake_logits)
        extras = {}
        if aux:  # D learns the classes of real images only (PyTorch-StudioGAN's "ACGAN")
            extras = _ac_d_terms(real_classes, real_labels, fake_classes, fake_labels)
            total = total + cfg.ac_weight * extras["ac_d_ce"]
        if cfg.gradient_penalty > 0:
            # interpolate between real and fake as D sees them, with the real labels
            extras["gradient_penalty"] = gradient_penalty(
                lambda x: critic(x, real_labels, kpen, after_real)[0], real_view, fake_view, keps
            )
            total = total + cfg.gradient_penalty * extras["gradient_penalty"]
        if cfg.r1 > 0:
            extras["r1"] = r1_penalty(
                lambda x: critic(x, real_labels, kpen, after_real)[0], real_view
            )
            total = total + cfg.r1 * extras["r1"]
        return total, (real_logits, fake_logits, rest, extras)

    (d_loss, (real_logits, fake_logits, rest, extras)), grads = jax.value_and_grad(
        loss_fn, has_aux=True
    )(disc.params)
    new_disc = disc.apply_gradients(grads).replace(rest=rest)
    metrics = {
        "d_loss": d_loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
        "d_grad_norm": optax.tree.norm(grads),
        **extras,
    }
    return state.replace(discriminator=new_disc, d_updates=state.d_updates + 1), metrics


def _class_accuracy(class_logits: Array, labels: Array) -> Array:
    """Return the share of rows whose largest class logit is at their label."""
    return jnp.mean(jnp.argmax(class_logits, axis=-1) == labels)


def _ac_d_terms(
    real_classes: Array, real_labels: Array, fake_classes: Array, fake_labels: Array
) -> Metrics:
    """AC-GAN's D metrics: the cross-entropy on real labels (D's class loss) and accuracies."""
    return {
        "ac_d_ce": auxiliary_class_loss(real_classes, real_labels),
        "ac_d_real_accuracy": _class_accuracy(real_classes, real_labels),
        "ac_d_fake_accuracy": _class_accuracy(jax.lax.stop_gradient(fake_classes), fake_labels),
    }


def ema_update(ema: nnx.State, params: nnx.State, decay: float) -> nnx.State:
    """Exponential moving average ``decay · ema + (1 − decay) · params``, leaf by leaf.

    Args:
        ema: the running average.
        params: the new parameters.
        decay: weight of the old average, in [0, 1).

    Returns:
        The new average (same structure).

    Example:
        >>> ema_update({"w": jnp.zeros(2)}, {"w": jnp.ones(2)}, 0.9)["w"]
        Array([0.1, 0.1], dtype=float32)
    """
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def g_update(state: GANState, batch: Batch, key: Array) -> tuple[GANState, Metrics]:
    """One generator update against the current discriminator (and the EMA update, if kept).

    With ``config.reuse_fake`` the generated batch is the one the last D update drew (its z,
    labels and dropout key, from the key of D update ``d_updates - 1``) instead of fresh noise.

    Args:
        state: the training state (not modified).
        batch: the real batch of this iteration; only its size is used (G makes as many), and
            its dtype and sample shape are checked against the generator's output as in
            ``d_update``.
        key: the run's base PRNG key; the step key is folded from ``state.g_updates``.

    Returns:
        ``(new_state, metrics)`` with ``g_loss``, ``d_fake_g`` (mean D(G(z)) seen by G) and
        ``g_grad_norm``. An AC-GAN adds ``ac_weight · ac_g_ce`` to ``g_loss``, the auxiliary
        classifier's cross-entropy on G's samples and their conditioning labels, and logs
        ``ac_g_ce`` and ``ac_g_accuracy``.

    Example:
        >>> new, m = jax.jit(g_update)(state, real, jax.random.key(0))
        >>> int(new.g_updates), "g_loss" in m
        (1, True)
    """
    real = split_batch(batch, state)[0]
    g_keys = jax.random.split(_step_key(key, _G_STREAM, state.g_updates), 5)
    fake_keys = _d_keys(key, state.d_updates - 1) if state.config.reuse_fake else g_keys
    generated = _fake_batch_with_vjp(state, fake_keys, real.shape[0])
    return _g_update_on(state, real, generated, g_keys)


def _g_update_on(
    state: GANState,
    real: Array,
    generated: tuple[Array, Any, nnx.State, Array | None],
    g_keys: Array,
) -> tuple[GANState, Metrics]:
    """Run the G update on ``_fake_batch_with_vjp``'s output (G's pass and its pullback)."""
    fake, pullback, g_rest, fake_labels = generated
    cfg = state.config
    loss = get_loss(cfg.loss)
    gen, disc = state.generator, state.discriminator
    kd, kaug = g_keys[3], g_keys[4]
    _check_real_batch(real, fake.shape[1:])  # static shapes: checked once, while tracing
    labels = _packed_labels(state, fake_labels)
    aux = cfg.auxiliary  # AC-GAN: D(x) -> (logits, class logits); G is also scored on the class

    def loss_of_fake(fake):
        view = _discriminator_view(state, fake, kaug)
        fake_logits, _ = disc.apply(
            disc.params,
            view,
            discriminator_labels(state, labels),
            key=kd,
            compute_dtype=cfg.compute_dtype,
        )
        if not aux:
            fake_logits = fake_logits.astype(jnp.float32)
            return loss.g_loss(fake_logits), (fake_logits, {})
        fake_logits, fake_classes = (o.astype(jnp.float32) for o in fake_logits)
        ce = auxiliary_class_loss(fake_classes, labels)
        terms = {"ac_g_ce": ce, "ac_g_accuracy": _class_accuracy(fake_classes, labels)}
        return loss.g_loss(fake_logits) + cfg.ac_weight * ce, (fake_logits, terms)

    (g_loss, (fake_logits, ac_metrics)), fake_grad = jax.value_and_grad(loss_of_fake, has_aux=True)(
        fake
    )
    (grads,) = pullback(fake_grad)
    new_gen = gen.apply_gradients(grads).replace(rest=g_rest)
    ema = state.ema_params
    if ema is not None:
        ema = ema_update(ema, new_gen.params, cfg.ema_decay)
    metrics = {
        "g_loss": g_loss,
        "d_fake_g": jnp.mean(jax.nn.sigmoid(fake_logits)),
        "g_grad_norm": optax.tree.norm(grads),
        **ac_metrics,
    }
    new_state = state.replace(generator=new_gen, g_updates=state.g_updates + 1, ema_params=ema)
    return new_state, metrics


def train_update(state: GANState, batch: Batch, key: Array) -> tuple[GANState, Metrics]:
    """One full iteration: ``n_critic`` D updates, then one G update.

    With ``config.reuse_fake`` the last D update computes G's forward pass once, with its VJP,
    and the G update trains through that same forward pass: the same values as ``d_update``
    then ``g_update`` with ``reuse_fake``, one generator forward pass fewer.

    Args:
        state: the training state (not modified).
        batch: ``n_critic · B`` real samples (or ``(samples, labels)``); D update ``i`` uses the
            ``i``-th block of ``B``.
        key: the run's base PRNG key.

    Returns:
        ``(new_state, metrics)``: the last D update's metrics merged with the G update's.

    Example:
        >>> new, m = jax.jit(train_update)(state, real, jax.random.key(0))
        >>> int(new.step), "d_loss" in m and "g_loss" in m
        (1, True)
    """
    n_critic = state.config.n_critic
    x, labels = split_batch(batch, state)
    if x.shape[0] % n_critic:
        raise ValueError(
            f"batch of {x.shape[0]} does not split into n_critic={n_critic} equal D batches"
        )

    def block(i: int) -> Batch:
        size = x.shape[0] // n_critic
        xs = x[i * size : (i + 1) * size]
        return xs if labels is None else (xs, labels[i * size : (i + 1) * size])

    if not state.config.reuse_fake:
        metrics: Metrics = {}
        for i in range(n_critic):
            state, metrics = d_update(state, block(i), key)
        state, g_metrics = g_update(state, block(0), key)
        return state, {**metrics, **g_metrics}
    for i in range(n_critic - 1):
        state, _ = d_update(state, block(i), key)
    real, real_labels = split_over_batch_axis(split_batch(block(n_critic - 1), state))
    keys = _d_keys(key, state.d_updates)
    generated = _fake_batch_with_vjp(state, keys, real.shape[0])
    fake, fake_labels = generated[0], generated[3]
    state, metrics = _d_update_on(state, real, real_labels, fake, fake_labels, keys)
    g_keys = jax.random.split(_step_key(key, _G_STREAM, state.g_updates), 5)
    state, g_metrics = _g_update_on(state, real, generated, g_keys)
    return state, {**metrics, **g_metrics}


d_step = jit(d_update, donate_argnums=0)
d_step.__doc__ = "``d_update`` compiled with ``jax.jit``, state donated. " + (
    d_update.__doc__ or ""
)
g_step = jit(g_update, donate_argnums=0)
g_step.__doc__ = "``g_update`` compiled with ``jax.jit``, state donated. " + (
    g_update.__doc__ or ""
)
train_step = jit(train_update, donate_argnums=0)
train_step.__doc__ = "``train_update`` compiled, state donated. " + (train_update.__doc__ or "")
