"""GAN inversion and semantic inpainting by latent search, as one compiled program.

``invert(state, images, mask=...)`` looks for the ``z`` whose ``G(z)`` matches the known pixels
of every image and still looks real to D (Yeh et al., CVPR 2017): it minimises

    L(z) = L_rec(G(z), y, M) + λ_p · log(1 − D(G(z))) + λ_z · (‖z‖²/d − 1)²
           + λ_f · ‖f(M⊙G(z)) − f(M⊙y)‖²

from several random starts per image, keeps the best start, and blends ``G(z)`` into the known
pixels (``jaxgan.apps.blend``). ``L_rec`` is Yeh's weighted L1 (``contextual``), a plain
``l1`` or ``l2`` over the known pixels; ``f`` is an optional classifier's feature map.

Everything for one batch is one ``jax.jit`` call: the images × restarts (× classes, for a
conditional generator whose labels are searched) are one flat batch through G and D in
evaluation mode, ``jax.vmap`` gives every candidate its own optax optimiser state, a
``lax.scan`` runs the optimisation steps, and the best candidate per image is picked on the
device. Calls with the same batch size, steps and options reuse one compiled program;
``batch_size=`` splits many images into such calls. The train state is only read. On XLA:CPU,
convolutional generators run the same steps as a host loop of one jitted step instead
(``choose_loop``, the rule ``jaxgan.fit`` follows), which is faster there
(benchmarks/RESULTS.md).

Example:
    >>> import jaxgan
    >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator, jaxgan.models.MLPDiscriminator,
    ...                             key=0)
    >>> target = jaxgan.generate(state, jaxgan.sample_latent(jax.random.key(1), 3, 100))
    >>> mask = jaxgan.apps.make_mask("center:10", target.shape)
    >>> result = inpaint(state, target, mask, steps=40, restarts=2, key=jax.random.key(0))
    >>> result.blended.shape, result.z.shape, result.restart_losses.shape
    ((3, 28, 28, 1), (3, 100), (3, 2))

"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jaxgan.apps import inversion_losses as losses
from jaxgan.apps.blend import BLEND_METHODS, blend
from jaxgan.apps.masks import check_mask
from jaxgan.data import uint8_to_unit_range
from jaxgan.state import GANState, adversarial_logits, discriminator_labels

Array = jax.Array

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "InversionResult",
    "choose_loop",
    "initial_latents",
    "inpaint",
    "invert",
]

LOSSES = ("contextual", "l1", "l2")
"""Reconstruction losses on the known pixels: Yeh's weighted L1, plain L1, plain L2."""

OPTIMIZERS = ("adam", "sgd")
"""Optimiser names ``invert`` builds (``optimizer=`` also takes any optax transformation)."""


class InversionResult(NamedTuple):
    """What ``invert`` / ``inpaint`` found for each image (arrays with a leading image axis).

    Attributes:
        z: ``(N, d)`` the best latent per image.
        labels: ``(N,)`` the class each image was inverted with (conditional generators), else
            None.
        reconstruction: ``(N, H, W, C)`` ``G(z)``.
        blended: ``(N, H, W, C)`` the known pixels with the reconstruction blended into the
            hole (``G(z)`` itself when every pixel is known).
        loss: ``(N,)`` total objective of the best candidate.
        reconstruction_loss: ``(N,)`` its ``L_rec`` term (before weighting).
        prior_loss: ``(N,)`` its ``log(1 − D(G(z)))`` term (before ``prior_weight``).
        restart_losses: ``(N, K)`` best objective reached by each candidate (restarts, × classes
            when labels are searched).
        curve: ``(steps, N)`` the objective of each image's chosen candidate at every step.
    """

    z: Array
    labels: Array | None
    reconstruction: Array
    blended: Array
    loss: Array
    reconstruction_loss: Array
    prior_loss: Array
    restart_losses: Array
    curve: Array


class _Spec(NamedTuple):
    """The static part of a solve: what changes the compiled program."""

    steps: int
    loss: str
    window: int
    optimizer: Any  # a name from OPTIMIZERS or an optax transformation
    blend: str
    blend_iterations: int
    use_prior: bool
    features: nnx.GraphDef | None


@functools.cache
def _named_optimizer(name: str) -> optax.GradientTransformation:
    """Return the named optimiser with an injectable (traced) learning rate; one per name."""
    if name == "adam":
        return optax.inject_hyperparams(optax.adam)(learning_rate=0.05)
    if name == "sgd":
        return optax.inject_hyperparams(optax.sgd)(learning_rate=0.05, momentum=0.9)
    raise ValueError(
        f"optimizer must be one of {', '.join(OPTIMIZERS)} or an optax transformation, got {name!r}"
    )


@functools.partial(jax.jit, static_argnames=("num_images", "candidates", "latent_dim"))
def initial_latents(
    key: Array, num_images: int, candidates: int, latent_dim: int, *, start: int = 0
) -> Array:
    """Draw the starting points ``z ~ N(0, I)`` of every image and candidate.

    Image i draws from ``fold_in(key, start + i)``, so its starts do not depend on the batch it
    is solved in: a dataset split into batches gives the same starts as one big call. One
    compiled program per ``(num_images, candidates, latent_dim)``; ``start`` is traced.

    Args:
        key: PRNG key.
        num_images: number of images N.
        candidates: starts per image K.
        latent_dim: size of z.
        start: global index of the first image.

    Returns:
        float32 ``(N, K, latent_dim)``.

    Example:
        >>> z = initial_latents(jax.random.key(0), 3, 2, 5)
        >>> bool(jnp.array_equal(z[2], initial_latents(jax.random.key(0), 1, 2, 5, start=2)[0]))
        True

    """
    indices = start + jnp.arange(num_images)
    return jax.vmap(
        lambda i: jax.random.normal(jax.random.fold_in(key, i), (candidates, latent_dim))
    )(indices)


def _generator_params(state: GANState):
    return state.ema_params if state.ema_params is not None else state.generator.params


class _Problem(NamedTuple):
    """The traced inputs of one batch (everything but the latents and the static spec)."""

    state: GANState
    images: Array
    mask: Array
    labels: Array | None  # (N, K) class of every candidate, or None
    hyper: dict[str, Array]
    feature_params: nnx.State | None


def _optimizer(spec: _Spec) -> optax.GradientTransformation:
    if isinstance(spec.optimizer, str):
        return _named_optimizer(spec.optimizer)
    return spec.optimizer


def _objective(problem: _Problem, spec: _Spec, n: int, k: int) -> Callable:
    """Build ``objective(z_flat) -> (total, (total, rec, prior))`` over N·K flat candidates."""
    state, images, mask, labels, hyper, feature_params = problem
    g_params = _generator_params(state)
    flat_labels = None if labels is None else labels.reshape(n * k)
    weights = losses.contextual_weights(mask, spec.window) if spec.loss == "contextual" else mask
    # every candidate of image i is compared with image i: one flat batch of N·K problems
    targets = jnp.repeat(images, k, axis=0)
    weights = jnp.repeat(weights, k, axis=0)
    if spec.features is not None:
        classifier = nnx.merge(spec.features, feature_params)
        target_features = jnp.repeat(classifier(mask * images)[0], k, axis=0)
        flat_mask = jnp.repeat(mask, k, axis=0)

    def objective(z_flat):
        fake, _ = state.generator.apply(g_params, z_flat, flat_labels, train=False)
        fake = fake.astype(jnp.float32)
        if spec.loss == "contextual":
            rec = losses.contextual_loss(fake, targets, weights)
        elif spec.loss == "l1":
            rec = losses.masked_l1(fake, targets, weights)
        else:
            rec = losses.masked_l2(fake, targets, weights)
        total = rec + hyper["latent_weight"] * losses.latent_norm_penalty(z_flat)
        prior = jnp.zeros_like(rec)
        if spec.use_prior:
            out, _ = state.discriminator.apply(
                state.discriminator.params,
                fake,
                discriminator_labels(state, flat_labels),
                train=False,
            )
            prior = losses.prior_loss(adversarial_logits(state, out).astype(jnp.float32))
            total = total + hyper["prior_weight"] * prior
        if spec.features is not None:
            features = classifier(flat_mask * fake)[0]
            total = total + hyper["feature_weight"] * losses.feature_loss(features, target_features)
        return total, (total, rec, prior)

    return objective


def _init(z0: Array, problem: _Problem, spec: _Spec):
    """Build the loop carry: flat latents, an optimiser state per candidate, the best point."""
    n, k, d = z0.shape
    z = z0.reshape(n * k, d)
    opt_state = jax.vmap(_optimizer(spec).init)(z)
    # float32, not weakly typed: the host loop's first step then gets the types every later
    # step gets (a weak type would compile _step_jit a second time)
    inf = jnp.full((n * k,), jnp.inf, jnp.float32)
    return z, opt_state, (z, inf, inf, inf)


def _step(carry, t: Array, problem: _Problem, spec: _Spec, n: int, k: int):
    """One optimisation step of every candidate; returns the new carry and their objectives."""
    z, opt_state, best = carry
    objective = _objective(problem, spec, n, k)

    def summed(z_flat):
        total, aux = objective(z_flat)
        return jnp.sum(total), aux

    if isinstance(spec.optimizer, str):  # cosine decay of the learning rate to 0
        scale = 0.5 * (1.0 + jnp.cos(jnp.pi * t / spec.steps))
        opt_state.hyperparams["learning_rate"] = jnp.broadcast_to(
            problem.hyper["learning_rate"] * scale, (n * k,)
        )
    (_, terms), grads = jax.value_and_grad(summed, has_aux=True)(z)
    better = terms[0] < best[1]  # keep the best point each candidate has visited
    best = (
        jnp.where(better[:, None], z, best[0]),
        *(jnp.where(better, new, old) for new, old in zip(terms, best[1:], strict=True)),
    )
    updates, opt_state = jax.vmap(_optimizer(spec).update)(grads, opt_state, z)
    return (optax.apply_updates(z, updates), opt_state, best), terms[0]


def _finish(best, curves: Array, problem: _Problem, spec: _Spec, n: int, k: int) -> InversionResult:
    """Pick each image's best candidate, generate and blend it."""
    state, images, mask, labels = problem[:4]
    best_z, total, rec, prior = (v.reshape(n, k, *v.shape[1:]) for v in best)
    choice = jnp.argmin(total, axis=1)
    rows = jnp.arange(n)
    z_best = best_z[rows, choice]
    labels_best = None if labels is None else labels[rows, choice]
    reconstruction, _ = state.generator.apply(
        _generator_params(state), z_best, labels_best, train=False
    )
    reconstruction = reconstruction.astype(jnp.float32)
    if spec.blend == "none":  # whole-image inversion: nothing to blend into
        blended = reconstruction
    else:
        blended = blend(images, mask, reconstruction, spec.blend, iterations=spec.blend_iterations)
    return InversionResult(
        z=z_best,
        labels=labels_best,
        reconstruction=reconstruction,
        blended=blended,
        loss=total[rows, choice],
        reconstruction_loss=rec[rows, choice],
        prior_loss=prior[rows, choice],
        restart_losses=total,
        curve=curves.reshape(spec.steps, n, k)[:, rows, choice],
    )


@functools.partial(jax.jit, static_argnames="spec")
def _solve(z0: Array, problem: _Problem, spec: _Spec) -> InversionResult:
    """One batch in one program: ``lax.scan`` over the steps (the default form)."""
    n, k, _ = z0.shape

    def step(carry, t):
        return _step(carry, t, problem, spec, n, k)

    steps = jnp.arange(spec.steps, dtype=jnp.float32)
    (_, _, best), curves = jax.lax.scan(step, _init(z0, problem, spec), steps)
    return _finish(best, curves, problem, spec, n, k)


_init_jit = jax.jit(_init, static_argnames="spec")
_step_jit = jax.jit(_step, static_argnames=("spec", "n", "k"), donate_argnums=0)


@functools.partial(jax.jit, static_argnames=("spec", "n", "k"))
def _finish_jit(best, curves: list[Array], problem: _Problem, spec: _Spec, n: int, k: int):
    return _finish(best, jnp.stack(curves), problem, spec, n, k)


def _solve_stepwise(z0: Array, problem: _Problem, spec: _Spec) -> InversionResult:
    """Solve as ``_solve`` does, with the steps as a host loop of one jitted step.

    On XLA:CPU a convolutional generator runs several times faster this way than inside
    ``lax.scan`` (benchmarks/RESULTS.md, ``inpaint_speed.py --loop``), as ``jaxgan.fit`` found
    for training. No value is read back in the loop, so the host never waits for the device
    between steps.
    """
    n, k, _ = z0.shape
    carry = _init_jit(z0, problem, spec)
    curves = []
    for t in range(spec.steps):
        carry, total = _step_jit(carry, jnp.float32(t), problem, spec, n, k)
        curves.append(total)
    return _finish_jit(carry[2], curves, problem, spec, n, k)


_LOOP_CHOICES: dict[Any, str] = {}


def choose_loop(state: GANState) -> str:
    """Pick the loop form of ``invert(loop="auto")``: ``"python"`` for conv nets on CPU, else scan.

    The rule of ``jaxgan.fit``: XLA:CPU runs convolutions inside ``lax.scan`` far slower than
    a host loop of one compiled step, so a CPU backend with a generator or discriminator that
    convolves gets the host loop; everything else (GPU, TPU, MLPs) gets one ``lax.scan``.

    Args:
        state: the GAN state.

    Returns:
        ``"scan"`` or ``"python"``.

    Example:
        >>> import jaxgan
        >>> choose_loop(jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                                 jaxgan.models.MLPDiscriminator, key=0))
        'scan'

    """
    if jax.default_backend() != "cpu":
        return "scan"
    signature = jax.tree.structure(state)
    if signature not in _LOOP_CHOICES:
        z = jax.ShapeDtypeStruct((1, state.config.latent_dim), jnp.float32)
        y = None if state.config.num_classes is None else jax.ShapeDtypeStruct((1,), jnp.int32)

        def forward(state, z, y):  # G, and D where it judges single images
            fake, _ = state.generator.apply(state.generator.params, z, y, train=False)
            if state.config.pack > 1:
                return fake
            disc = state.discriminator
            return disc.apply(disc.params, fake, discriminator_labels(state, y), train=False)

        text = jax.jit(forward).lower(state, z, y).as_text()
        _LOOP_CHOICES[signature] = "python" if "convolution" in text else "scan"
    return _LOOP_CHOICES[signature]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_images(state: GANState, images: Any) -> np.ndarray:
    """Images as float32 numpy in [-1, 1], checked against the generator's output shape."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = np.asarray(uint8_to_unit_range(images))
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be floats in [-1, 1] or uint8, got {images.dtype}")
    images = images.astype(np.float32)
    if images.ndim == 3:
        images = images[..., None]
    z = jax.ShapeDtypeStruct((1, state.config.latent_dim), jnp.float32)
    labels = None
    if state.config.num_classes is not None:
        labels = jax.ShapeDtypeStruct((1,), jnp.int32)
    out = jax.eval_shape(
        lambda z, y: state.generator.apply(state.generator.params, z, y, train=False)[0],
        z,
        labels,
    )
    if images.ndim != 4 or images.shape[1:] != out.shape[1:] or len(images) == 0:
        raise ValueError(
            f"images of shape {images.shape} do not fit the generator, which makes "
            f"(N, {', '.join(map(str, out.shape[1:]))}); resize them or use a matching run"
        )
    if not np.isfinite(images).all() or images.min() < -1.0 - 1e-5 or images.max() > 1.0 + 1e-5:
        raise ValueError(
            f"images must lie in [-1, 1] like the generator's output, got values in "
            f"[{np.nanmin(images):.3g}, {np.nanmax(images):.3g}]; map uint8 pixels with "
            "jaxgan.data.to_model_input"
        )
    return np.clip(images, -1.0, 1.0)


def _candidate_labels(state: GANState, labels: Any, n: int, restarts: int) -> np.ndarray | None:
    """Labels (N, K) of every candidate: known labels repeated, or every class per restart."""
    num_classes = state.config.num_classes
    if num_classes is None:
        if labels is not None:
            raise ValueError("this generator is unconditional: pass no labels")
        return None
    if labels is None:
        raise ValueError(
            f"this generator is conditional on {num_classes} classes: pass labels= (N,) class "
            "ids, or labels='search' to try every class and keep the best"
        )
    if isinstance(labels, str):
        if labels != "search":
            raise ValueError(f"labels must be class ids or 'search', got {labels!r}")
        return np.tile(np.arange(num_classes, dtype=np.int32), (n, restarts))
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {n} integer class ids, got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}"
        )
    return np.repeat(labels.astype(np.int32)[:, None], restarts, axis=1)


def invert(
    state: GANState,
    images: Any,
    *,
    mask: Any = None,
    labels: Any = None,
    steps: int = 300,
    restarts: int = 4,
    optimizer: str | optax.GradientTransformation = "adam",
    learning_rate: float = 0.1,
    loss: str | None = None,
    prior_weight: float = 0.003,
    latent_weight: float = 0.0,
    feature_weight: float = 0.0,
    classifier: Any = None,
    window: int = 7,
    blend: str = "poisson",
    blend_iterations: int = 100,
    key: Array | None = None,
    z_init: Any = None,
    batch_size: int | None = None,
    loop: str = "auto",
    on_batch: Callable[[int], None] | None = None,
) -> InversionResult:
    """Find, for every image, the latent whose generation best explains its known pixels.

    Without a mask this is GAN inversion (projection of whole images, as in Defense-GAN or
    TF-GAN's latent GAN estimator); with one it is Yeh et al.'s semantic inpainting.

    Args:
        state: a trained ``GANState`` (only read; EMA parameters are used when it has them).
        images: ``(N, H, W, C)`` floats in [-1, 1] (or uint8), the shape G makes.
        mask: ``(N, H, W, 1)`` (or any shape ``jaxgan.apps.check_mask`` accepts), 1 = known;
            None for whole-image inversion.
        labels: for a conditional generator: ``(N,)`` class ids, or ``"search"`` to try every
            class (restarts × classes candidates) and keep the best; None otherwise.
        steps: optimisation steps (static: a new value compiles a new program).
        restarts: random starts per image.
        optimizer: ``"adam"`` or ``"sgd"`` (learning rate traced: changing it does not
            recompile), or an optax transformation applied to each candidate on its own.
        learning_rate: peak step size of a named optimiser, decayed to 0 along a cosine over
            the steps.
        loss: ``"contextual"`` (Yeh's weighted L1, the default with a mask), ``"l1"`` or
            ``"l2"`` (the default without a mask) over the known pixels.
        prior_weight: λ of D's prior ``log(1 − D(G(z)))`` (Yeh: 0.003); 0 skips D.
        latent_weight: weight of ``(‖z‖²/d − 1)²``.
        feature_weight: weight of the squared distance of ``classifier`` features of the masked
            images (needs ``classifier``, a ``jaxgan.metrics.Classifier``).
        classifier: the feature space of ``feature_weight``.
        window: neighbourhood of the contextual weights.
        blend: ``"poisson"`` or ``"paste"`` (ignored without a mask).
        blend_iterations: conjugate-gradient steps of the Poisson blend.
        key: PRNG key of the starts (default ``jax.random.key(0)``); image i starts from
            ``fold_in(key, i)`` (see ``initial_latents``).
        z_init: ``(N, K, d)`` starting latents instead of random ones.
        batch_size: solve this many images per compiled call (the last call is padded), to
            bound memory; None solves all at once.
        loop: ``"scan"`` (all steps in one program), ``"python"`` (a host loop of one jitted
            step) or ``"auto"`` (``choose_loop``: the host loop for conv nets on CPU).
        on_batch: called with the number of images done after each call (progress bars).

    Returns:
        An ``InversionResult`` of numpy-convertible device arrays.

    Raises:
        ValueError: non-positive steps/restarts, images outside [-1, 1] or of the wrong size, a
            mask that does not fit them or has no known / no missing pixel, missing or extra
            labels, an unknown loss, optimiser or blend.

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=0)
        >>> z = jaxgan.sample_latent(jax.random.key(1), 2, 100)
        >>> result = invert(state, jaxgan.generate(state, z), steps=10, restarts=1)
        >>> result.reconstruction.shape, result.curve.shape
        ((2, 28, 28, 1), (10, 2))

    """
    steps = _positive_int("steps", steps)
    restarts = _positive_int("restarts", restarts)
    blend_iterations = _positive_int("blend_iterations", blend_iterations)
    images = _check_images(state, images)
    n = len(images)
    if mask is None:
        mask_array = np.ones((n, *images.shape[1:3], 1), np.float32)
        loss = loss or "l2"
        if loss == "contextual":
            raise ValueError(
                "the contextual loss weighs pixels by their distance to a hole; "
                "without a mask use loss='l1' or 'l2'"
            )
        blend = "none"
    else:
        mask_array = check_mask(mask, images.shape)
        loss = loss or "contextual"
        if blend not in BLEND_METHODS:
            raise ValueError(f"blend must be one of {', '.join(BLEND_METHODS)}, got {blend!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if isinstance(optimizer, str):
        _named_optimizer(optimizer)
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(
            f"optimizer must be a name ({', '.join(OPTIMIZERS)}) or an optax "
            f"GradientTransformation, got {type(optimizer).__name__}"
        )
    if state.config.pack > 1 and prior_weight:
        raise ValueError(
            "D judges packed groups (PacGAN), so it cannot score one image: set prior_weight=0"
        )
    if feature_weight and classifier is None:
        raise ValueError(
            "feature_weight needs classifier=, e.g. jaxgan.metrics.load_classifier('fashion_mnist')"
        )
    cand_labels = _candidate_labels(state, labels, n, restarts)
    k = restarts if cand_labels is None else cand_labels.shape[1]
    key = jax.random.key(0) if key is None else key
    if z_init is not None:
        z_init = np.asarray(z_init, np.float32)
        if z_init.shape != (n, k, state.config.latent_dim):
            raise ValueError(
                f"z_init must have shape {(n, k, state.config.latent_dim)}, got {z_init.shape}"
            )
    spec = _Spec(
        steps=steps,
        loss=loss,
        window=window,
        optimizer=optimizer,
        blend=blend,
        blend_iterations=blend_iterations,
        use_prior=bool(prior_weight),
        features=None if not feature_weight else classifier.graphdef,
    )
    hyper = {
        "learning_rate": jnp.float32(learning_rate),
        "prior_weight": jnp.float32(prior_weight),
        "latent_weight": jnp.float32(latent_weight),
        "feature_weight": jnp.float32(
            feature_weight * (classifier.feature_scale**2 if feature_weight else 1.0)
        ),
    }
    feature_params = classifier.params if feature_weight else None
    if loop not in ("auto", "scan", "python"):
        raise ValueError(f"loop must be 'auto', 'scan' or 'python', got {loop!r}")
    loop = choose_loop(state) if loop == "auto" else loop
    solve = _solve if loop == "scan" else _solve_stepwise
    size = n if batch_size is None else min(_positive_int("batch_size", batch_size), n)
    parts = []
    for start in range(0, n, size):
        stop = min(start + size, n)
        pad = size - (stop - start)

        def padded(array, start=start, stop=stop, pad=pad):
            chunk = array[start:stop]
            return chunk if not pad else np.concatenate([chunk, np.repeat(chunk[:1], pad, 0)])

        if z_init is None:
            z0 = initial_latents(key, size, k, state.config.latent_dim, start=start)
        else:
            z0 = jnp.asarray(padded(z_init))
        problem = _Problem(
            state,
            jnp.asarray(padded(images)),
            jnp.asarray(padded(mask_array)),
            None if cand_labels is None else jnp.asarray(padded(cand_labels)),
            hyper,
            feature_params,
        )
        result = solve(z0, problem, spec)
        if pad:
            result = _take(result, size - pad)
        parts.append(result)
        if on_batch is not None:
            on_batch(stop)
    return parts[0] if len(parts) == 1 else _concatenate(parts)


@functools.partial(jax.jit, static_argnames="count")
def _take(result: InversionResult, count: int) -> InversionResult:
    """Return the first ``count`` images of a result (one program, not one slice per field)."""
    return InversionResult(
        *(
            None if v is None else (v[:, :count] if name == "curve" else v[:count])
            for name, v in zip(InversionResult._fields, result, strict=True)
        )
    )


@jax.jit
def _concatenate(parts: list[InversionResult]) -> InversionResult:
    """Join results of consecutive batches along the image axis (in one program)."""
    fields = []
    for index, name in enumerate(InversionResult._fields):
        values = [part[index] for part in parts]
        if values[0] is None:
            fields.append(None)
        else:
            fields.append(jnp.concatenate(values, axis=1 if name == "curve" else 0))
    return InversionResult(*fields)


def inpaint(state: GANState, images: Any, mask: Any, **options: Any) -> InversionResult:
    """Semantic inpainting (Yeh et al. 2017): ``invert`` with a mask, then blending.

    Defaults: Yeh's contextual loss, prior weight 0.003, Poisson blending, 4 restarts of 300
    Adam steps. Any option of ``invert`` may be given.

    Args:
        state: a trained ``GANState`` (only read).
        images: ``(N, H, W, C)`` in [-1, 1] (their hole pixels are ignored).
        mask: 1 = known, 0 = missing; see ``jaxgan.apps.make_mask``.
        **options: keyword options of ``invert``.

    Returns:
        An ``InversionResult``; ``.blended`` is the inpainted image.

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=0)
        >>> y = jnp.zeros((1, 28, 28, 1))
        >>> mask = jaxgan.apps.make_mask("half:left", y.shape)
        >>> out = inpaint(state, y, mask, steps=40, restarts=2)
        >>> bool(jnp.all(out.blended[:, :, 14:] == y[:, :, 14:]))  # known pixels kept
        True

    """
    if mask is None:
        raise ValueError("inpaint needs a mask (1 = known); for whole images use invert")
    return invert(state, images, mask=mask, **options)
