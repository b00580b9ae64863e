"""The immutable training state and the pure apply functions of both players.

``GANState`` is one pytree: parameters, non-parameter state (BatchNorm statistics), optax states
and update counters for the generator and the discriminator. Graph definitions, optimisers and
the ``StepConfig`` are static fields (part of the tree structure, not leaves). Change a state only
through ``.replace(...)`` or the steps in ``jaxgan.steps``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct

from jaxgan.augment import pack, parse_policy
from jaxgan.losses import GANLoss, get_loss

Array = jax.Array
ModuleOrFactory = nnx.Module | Callable[[nnx.Rngs], nnx.Module]


CONDITIONINGS = ("projection", "auxiliary")
"""How a conditional discriminator may use the labels (``StepConfig.conditioning``)."""


@dataclasses.dataclass(frozen=True)
class StepConfig:
    """How the steps train: the game, the penalties, the schedule and the precision.

    Attributes:
        loss: a name from ``jaxgan.losses.LOSSES`` or a ``GANLoss``.
        n_critic: discriminator updates per generator update.
        gradient_penalty: weight λ of the WGAN-GP penalty (0 disables it).
        r1: weight of the R1 penalty γ/2 on real data (0 disables it).
        latent_dim: size of the noise vector z fed to the generator.
        compute_dtype: dtype for forward/backward compute, e.g. ``"bfloat16"``; parameters and
            optimiser states stay float32 (mixed precision). ``None`` keeps float32. bf16 is for
            GPU/TPU (on CPU it is slower than f32; benchmarks/RESULTS.md).
        num_classes: for class-conditional GANs: batches are ``(x, labels)``, the generator is
            called ``G(z, labels)`` and the discriminator ``D(x, labels)``; fake labels are drawn
            uniformly. ``None`` for unconditional GANs.
        ema_decay: keep an exponential moving average of the generator's parameters with this
            decay (e.g. 0.999); ``generate`` uses it. 0 disables it.
        augment: DiffAugment policy applied to real and fake samples before D, e.g.
            ``"color,translation,cutout"``; empty disables it.
        pack: PacGAN's packing degree m: D judges m samples concatenated along the last axis.
            The one knob of packing: ``jaxgan.experiment.build_state`` builds D for m× input
            channels from it, and ``create_state`` refuses a D that cannot judge packed samples.
            1 disables it.
        reuse_fake: the G update trains on the fake batch that the iteration's (last) D update
            drew: the same z, fake labels and G dropout key, through G's current parameters
            (unchanged since that D update), so the gradient flows as in the PyTorch DCGAN
            example. ``train_step`` then runs G's forward pass once per iteration (the D update
            keeps its VJP for the G update) instead of twice. It changes the algorithm: by default
            the G update draws fresh noise, independent of D's batch; with it, G's gradient is
            taken on the very samples D has just learnt to reject. With ``n_critic > 1`` the
            last D update's batch is reused. A ``g_step`` called alone recomputes that batch from
            the last D update's key (bit for bit the samples ``d_step`` drew, if the batch sizes
            match). Off by default.
        joint_d_call: when D keeps no non-parameter state (no BatchNorm statistics, no
            spectral-norm vectors), the D update judges the real and the fake batch in one D
            call on both (interleaved: real 0, fake 0, real 1, ...) instead of two calls; both
            give the same logits, losses and gradients, up to float rounding. When D uses
            dropout, the masks of both batches come from one key instead of two (the same
            distribution, other bits). With non-parameter state in D, two calls are always
            used, so that statistics never mix real and fake samples. On by default.
        conditioning: how a conditional discriminator (``num_classes`` set) uses the labels, one
            of ``CONDITIONINGS``: ``"projection"`` (Miyato & Koyama 2018: ``D(x, labels)`` gives
            one logit) or ``"auxiliary"`` (AC-GAN, Odena et al. 2017: ``D(x)`` gives
            ``(logits (B,), class_logits (B, num_classes))``, an unconditional adversarial logit
            and an auxiliary classifier; the steps add ``ac_weight`` times the classifier's
            cross-entropy on real images to D's loss and on generated images to G's). Ignored by
            unconditional GANs. ``jaxgan.experiment.build_state`` builds D for it.
        ac_weight: λ of the AC-GAN class terms (≥ 0; ``conditioning="auxiliary"`` only).
    """

    loss: str | GANLoss = "non_saturating"
    n_critic: int = 1
    gradient_penalty: float = 0.0
    r1: float = 0.0
    latent_dim: int = 100
    compute_dtype: str | None = None
    num_classes: int | None = None
    ema_decay: float = 0.0
    augment: str = ""
    pack: int = 1
    reuse_fake: bool = False
    joint_d_call: bool = True
    conditioning: str = "projection"
    ac_weight: float = 1.0

    def __post_init__(self) -> None:
        get_loss(self.loss)  # validates the name
        if not isinstance(self.n_critic, int) or self.n_critic < 1:
            raise ValueError(f"n_critic must be a positive integer, got {self.n_critic!r}")
        if self.gradient_penalty < 0 or self.r1 < 0:
            raise ValueError("penalty weights gradient_penalty and r1 must be ≥ 0")
        if not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if self.num_classes is not None and (
            not isinstance(self.num_classes, int) or self.num_classes < 2
        ):
            raise ValueError(f"num_classes must be an integer ≥ 2 or None, got {self.num_classes}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        parse_policy(self.augment)
        if not isinstance(self.pack, int) or self.pack < 1:
            raise ValueError(f"pack must be a positive integer, got {self.pack!r}")
        for name in ("reuse_fake", "joint_d_call"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(
                f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {self.conditioning!r}"
            )
        if not self.ac_weight >= 0:
            raise ValueError(f"ac_weight must be ≥ 0, got {self.ac_weight!r}")
        if self.auxiliary and self.pack > 1:
            raise ValueError("conditioning='auxiliary' (AC-GAN) cannot be combined with pack > 1")
        if self.compute_dtype not in (None, "float32", "bfloat16", "float16"):
            raise ValueError(
                f"compute_dtype must be None, 'float32', 'bfloat16' or 'float16', "
                f"got {self.compute_dtype!r}"
            )

    @property
    def auxiliary(self) -> bool:
        """Whether D is an AC-GAN discriminator (conditional, ``conditioning="auxiliary"``).

        Example:
            >>> StepConfig(num_classes=10, conditioning="auxiliary").auxiliary
            True
            >>> StepConfig(conditioning="auxiliary").auxiliary  # unconditional: no classes
            False

        """
        return self.num_classes is not None and self.conditioning == "auxiliary"


class Player(struct.PyTreeNode):
    """One player's (G's or D's) trainable world: module graph, variables and optimiser.

    Attributes:
        params: the ``nnx.Param`` state (differentiated).
        rest: every other variable (BatchNorm statistics), possibly empty.
        opt_state: the optax state of ``tx``.
        graphdef: static NNX graph definition of the module.
        tx: static optax transformation.
        takes_rngs: static; whether the module's ``__call__`` accepts ``rngs=``.
    """

    params: nnx.State
    rest: nnx.State
    opt_state: optax.OptState
    graphdef: nnx.GraphDef = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)
    takes_rngs: bool = struct.field(pytree_node=False, default=True)

    def module(self, train: bool = True) -> nnx.Module:
        """Rebuild the NNX module from the graph definition and the current variables.

        Args:
            train: put Dropout/BatchNorm in training mode (else evaluation mode).

        Returns:
            A fresh module; mutating it does not change this player.

        Example:
            >>> model = state.generator.module(train=False)
            >>> type(model).__name__
            'MLPGenerator'
        """
        model = nnx.merge(self.graphdef, self.params, self.rest, copy=True)
        if train:
            model.train()
        else:
            model.eval()
        return model

    def apply(
        self,
        params: nnx.State,
        inputs: Array,
        labels: Array | None = None,
        *,
        key: Array | None = None,
        train: bool = True,
        compute_dtype: Any = None,
    ) -> tuple[Array, nnx.State]:
        """Pure forward pass: ``(params, inputs) -> (outputs, updated non-parameter state)``.

        ``params`` is passed separately so it can be differentiated. No variable of this player is
        mutated; updated BatchNorm statistics come back as the second output.

        Args:
            params: parameters to use (usually ``self.params``).
            inputs: a batch.
            labels: class labels (B,) for conditional modules, passed as ``module(x, labels)``.
            key: PRNG key for dropout (required when ``train`` and the module uses dropout).
            train: training mode (batch statistics, dropout) or evaluation mode.
            compute_dtype: cast parameters and inputs to this dtype for the computation.

        Returns:
            ``(outputs, new_rest)``.

        Example:
            >>> z = sample_latent(jax.random.key(0), 4, 100)
            >>> out, rest = state.generator.apply(state.generator.params, z, train=False)
            >>> out.shape
            (4, 28, 28, 1)
        """
        if compute_dtype is not None:
            params = jax.tree.map(lambda p: p.astype(compute_dtype), params)
            inputs = inputs.astype(compute_dtype)
        model = nnx.merge(self.graphdef, params, self.rest, copy=True)
        if train:
            model.train()
        else:
            model.eval()
        args = (inputs,) if labels is None else (inputs, labels)
        if self.takes_rngs:
            rngs = nnx.Rngs(dropout=key) if key is not None else None
            outputs = model(*args, rngs=rngs)
        else:
            outputs = model(*args)
        _, _, new_rest = nnx.split(model, nnx.Param, ...)
        return outputs, new_rest

    def apply_gradients(self, grads: nnx.State) -> Player:
        """Return a new player after one optax update with ``grads``.

        Args:
            grads: gradients with the structure of ``params``.

        Returns:
            The updated player (this one is unchanged).

        Example:
            >>> new = state.discriminator.apply_gradients(grads)  # doctest: +SKIP
        """
        updates, opt_state = self.tx.update(grads, self.opt_state, self.params)
        return self.replace(params=optax.apply_updates(self.params, updates), opt_state=opt_state)


class GANState(struct.PyTreeNode):
    """Immutable state of one GAN training run.

    Attributes:
        generator: the generator ``Player``.
        discriminator: the discriminator ``Player``.
        g_updates: number of generator updates done (int32 scalar); the run's step.
        d_updates: number of discriminator updates done (int32 scalar).
        ema_params: exponential moving average of the generator's parameters (``None`` unless
            ``config.ema_decay > 0``).
        config: static ``StepConfig``.
    """

    generator: Player
    discriminator: Player
    g_updates: Array
    d_updates: Array
    ema_params: nnx.State | None = None
    config: StepConfig = struct.field(pytree_node=False, default=StepConfig())

    @property
    def step(self) -> Array:
        """The number of completed training iterations (generator updates)."""
        return self.g_updates


def _accepts_rngs(module: nnx.Module) -> bool:
    try:
        params = inspect.signature(type(module).__call__).parameters
    except (TypeError, ValueError):
        return False
    return "rngs" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _player(module: nnx.Module, tx: optax.GradientTransformation) -> Player:
    if not isinstance(module, nnx.Module):
        raise TypeError(f"expected a flax.nnx.Module, got {type(module).__name__}")
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    if not jax.tree.leaves(params):
        raise ValueError(f"{type(module).__name__} has no nnx.Param to train")
    return Player(
        params=params,
        rest=rest,
        opt_state=tx.init(params),
        graphdef=graphdef,
        tx=tx,
        takes_rngs=_accepts_rngs(module),
    )


@functools.cache
def default_optimizer(
    learning_rate: float = 2e-4,
    b1: float = 0.5,
    b2: float = 0.999,
    decay_steps: int | None = None,
):
    """DCGAN's optimiser: Adam(lr 2e-4, β1 0.5, β2 0.999) with the learning rate injectable.

    The hyperparameters are wrapped in ``optax.inject_hyperparams`` so they live in the optimiser
    state as arrays: changing them needs no recompilation (and they can be vmapped over). Equal
    arguments return the same (stateless) transformation object, so two states built alike share
    one compiled step instead of compiling twice.

    Args:
        learning_rate: Adam step size (> 0).
        b1: first-moment decay in [0, 1).
        b2: second-moment decay in [0, 1).
        decay_steps: if set, Adam's updates are also scaled by a factor that falls linearly from
            1 to 0 over this many updates of this optimiser (and stays 0 after), so the players
            settle at the end of a run; the learning rate stays injectable.

    Returns:
        An ``optax.GradientTransformation``.

    Example:
        >>> tx = default_optimizer(1e-4)
        >>> decayed = default_optimizer(1e-3, decay_steps=10_000)
    """
    if not learning_rate > 0:
        raise ValueError(f"learning rate must be > 0, got {learning_rate!r}")
    for name, beta in (("b1", b1), ("b2", b2)):
        if not 0 <= beta < 1:
            raise ValueError(f"Adam {name} must be in [0, 1), got {beta!r}")
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate, b1=b1, b2=b2)
    if decay_steps is None:
        return adam
    if isinstance(decay_steps, bool) or not isinstance(decay_steps, int) or decay_steps < 1:
        raise ValueError(f"decay_steps must be a positive integer or None, got {decay_steps!r}")
    return optax.chain(adam, optax.scale_by_schedule(optax.linear_schedule(1.0, 0.0, decay_steps)))


def create_state(
    generator: ModuleOrFactory,
    discriminator: ModuleOrFactory,
    *,
    key: Array | None = None,
    g_optimizer: optax.GradientTransformation | None = None,
    d_optimizer: optax.GradientTransformation | None = None,
    config: StepConfig | None = None,
    **config_overrides: Any,
) -> GANState:
    """Build the initial ``GANState`` from two Flax NNX modules (or module factories).

    Args:
        generator: an NNX module mapping z (B, latent_dim) to samples, or a factory
            ``rngs -> module`` called with ``nnx.Rngs(fold_in(key, 0))``.
        discriminator: an NNX module mapping samples to one logit each, or a factory
            (called with ``nnx.Rngs(fold_in(key, 1))``).
        key: initialisation key (``jax.random.key(seed)``) or an int seed, which is turned into
            ``jax.random.key(seed)``; required when a factory is given.
        g_optimizer: optax transformation for G (default: ``default_optimizer()``).
        d_optimizer: optax transformation for D (default: ``default_optimizer()``).
        config: a ``StepConfig``; ``latent_dim`` defaults to the generator's ``latent_dim``.
        **config_overrides: fields of ``StepConfig`` to set, e.g. ``loss="hinge"``.

    Returns:
        A fresh ``GANState`` with zero update counters.

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
        >>> int(state.step)
        0
        >>> same = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                            jaxgan.models.MLPDiscriminator, key=0)  # an int seed
        >>> leaves = jax.tree.leaves((same.generator.params, state.generator.params))
        >>> half = len(leaves) // 2
        >>> all(bool(jnp.array_equal(a, b)) for a, b in zip(leaves[:half], leaves[half:]))
        True
    """
    key = _as_init_key(key)
    modules = []
    for index, made in enumerate((generator, discriminator)):
        if not isinstance(made, nnx.Module):
            if not callable(made):
                raise TypeError(f"expected an nnx.Module or a factory, got {type(made).__name__}")
            if key is None:
                raise ValueError("create_state needs key= to build modules from factories")
            made = made(rngs=nnx.Rngs(jax.random.fold_in(key, index)))
        modules.append(made)
    g_module, d_module = modules
    config = config or StepConfig(latent_dim=getattr(g_module, "latent_dim", 100))
    if config_overrides:
        config = dataclasses.replace(config, **config_overrides)
    generator_player = _player(g_module, g_optimizer or default_optimizer())
    state = GANState(
        generator=generator_player,
        discriminator=_player(d_module, d_optimizer or default_optimizer()),
        g_updates=jnp.zeros((), jnp.int32),
        d_updates=jnp.zeros((), jnp.int32),
        ema_params=(
            jax.tree.map(jnp.copy, generator_player.params) if config.ema_decay > 0 else None
        ),
        config=config,
    )
    if config.pack > 1:
        _check_packed_discriminator(state)
    if config.conditioning == "auxiliary":
        _check_auxiliary_discriminator(state)
    return state


def _check_auxiliary_discriminator(state: GANState) -> None:
    """Raise a one-line error unless D is an AC-GAN discriminator of ``num_classes`` classes."""
    cfg = state.config
    if cfg.num_classes is None:
        raise ValueError(
            "conditioning='auxiliary' (AC-GAN) needs a conditional GAN: set num_classes"
        )
    z = jax.ShapeDtypeStruct((2, cfg.latent_dim), jnp.float32)
    y = jax.ShapeDtypeStruct((2,), jnp.int32)

    def judge(s: GANState, z: Array, y: Array) -> Any:
        fake, _ = s.generator.apply(s.generator.params, z, y, train=False)
        return s.discriminator.apply(s.discriminator.params, fake, train=False)[0]

    try:
        out = jax.eval_shape(judge, state, z, y)
    except Exception as err:  # the module's own error, whatever its type
        raise ValueError(
            "conditioning='auxiliary' (AC-GAN): the discriminator cannot judge images without "
            f"labels ({type(err).__name__}: {err}); build it with an auxiliary classifier"
        ) from None
    shapes = [getattr(o, "shape", None) for o in out] if isinstance(out, tuple) else None
    if shapes != [(2,), (2, cfg.num_classes)]:
        got = shapes if shapes is not None else getattr(out, "shape", type(out).__name__)
        raise ValueError(
            "conditioning='auxiliary' (AC-GAN) needs a discriminator with a classifier head "
            f"that returns (logits (B,), class_logits (B, {cfg.num_classes})), got {got}; build "
            "it with conditioning='auxiliary' (e.g. DCGANDiscriminator)"
        )


def adversarial_logits(state: GANState, outputs: Any) -> Array:
    """Return the real/fake logits of a discriminator's outputs (AC-GAN's first output).

    Args:
        state: the training state (``config.conditioning`` says what D returns).
        outputs: what ``state.discriminator.apply`` returned first.

    Returns:
        The logits, one per sample.

    Example:
        >>> adversarial_logits(state, jnp.zeros(3)).shape  # any D but AC-GAN's: as it is
        (3,)

    """
    return outputs[0] if state.config.auxiliary else outputs


def discriminator_labels(state: GANState, labels: Array | None) -> Array | None:
    """Return the labels D is called with: none for AC-GAN (it classifies), else ``labels``.

    Args:
        state: the training state.
        labels: the batch's labels, or None.

    Returns:
        ``labels``, or None when D is an AC-GAN discriminator.

    Example:
        >>> discriminator_labels(state, None) is None
        True

    """
    return None if state.config.auxiliary else labels


def _check_packed_discriminator(state: GANState) -> None:
    """Raise a one-line error unless D judges ``pack`` generated samples packed together."""
    cfg = state.config
    labels = None if cfg.num_classes is None else jax.ShapeDtypeStruct((cfg.pack,), jnp.int32)
    z = jax.ShapeDtypeStruct((cfg.pack, cfg.latent_dim), jnp.float32)

    def judge(s: GANState, z: Array, y: Array | None) -> Array:
        fake, _ = s.generator.apply(s.generator.params, z, y, train=False)
        return s.discriminator.apply(s.discriminator.params, pack(fake, cfg.pack), train=False)[0]

    try:
        fake = jax.eval_shape(
            lambda s, z, y: s.generator.apply(s.generator.params, z, y, train=False)[0],
            state,
            z,
            labels,
        )
        logits = jax.eval_shape(judge, state, z, labels)
    except Exception as err:  # the module's own shape error, whatever its type
        raise ValueError(
            f"pack={cfg.pack}: the discriminator cannot judge {cfg.pack} samples packed along "
            "their last axis; build it for pack × the sample channels (e.g. "
            f"in_dim={cfg.pack}·d for points) ({type(err).__name__})"
        ) from None
    if logits.shape != (1,):
        raise ValueError(
            f"pack={cfg.pack}: the discriminator gives {logits.shape} for one pack of "
            f"{fake.shape[1:]} samples; it must give one logit per pack"
        )


def _as_init_key(key: Any) -> Array | None:
    """Return ``key`` as a PRNG key: ints become ``jax.random.key(seed)``, keys pass through."""
    if key is None:
        return None
    if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key)  # jax.random.key(seed)
        or (key.dtype == jnp.uint32 and key.shape == (2,))  # legacy jax.random.PRNGKey(seed)
    ):
        return key
    what = type(key).__name__
    if hasattr(key, "dtype") and hasattr(key, "shape"):
        what += f" of dtype {key.dtype} and shape {tuple(key.shape)}"
    raise TypeError(
        f"create_state needs key= a PRNG key such as jax.random.key(0) or an int seed, got {what}"
    )


def sample_latent(key: Array, batch_size: int, latent_dim: int) -> Array:
    """Draw generator noise z ~ N(0, I) of shape (batch_size, latent_dim).

    Sizes are static (Python ints, also under ``jax.jit``) and are checked before tracing.

    Args:
        key: PRNG key.
        batch_size: number of vectors (≥ 0).
        latent_dim: size of each vector (≥ 1).

    Returns:
        float32 array (batch_size, latent_dim).

    Raises:
        ValueError: a negative ``batch_size`` or a ``latent_dim`` below 1.

    Example:
        >>> sample_latent(jax.random.key(0), 4, 100).shape
        (4, 100)
    """
    for name, value, low in (("batch_size", batch_size, 0), ("latent_dim", latent_dim, 1)):
        if isinstance(value, int | np.integer) and value < low:  # static sizes only
            raise ValueError(
                f"sample_latent needs an integer {name} ≥ {low}, got {value!r}; pass the number "
                f"of {'noise vectors' if low == 0 else 'noise dimensions'} as a Python int"
            )
    return jax.random.normal(key, (batch_size, latent_dim), jnp.float32)


@functools.partial(jax.jit, static_argnames=("train", "use_ema"))
def generate(
    state: GANState,
    z: Array,
    labels: Array | None = None,
    *,
    key: Array | None = None,
    train: bool = False,
    use_ema: bool = True,
) -> Array:
    """Pure generator apply: samples ``G(z)`` in evaluation mode (running BatchNorm statistics).

    Jitted: a call outside ``jax.jit`` runs one compiled program per state structure and shapes
    instead of dispatching the generator op by op; inside a jitted function it is inlined.

    Args:
        state: the training state.
        z: noise (B, latent_dim).
        labels: class labels (B,) for a conditional generator.
        key: dropout key, only used with ``train=True``.
        train: use training mode (batch statistics, dropout) instead.
        use_ema: use the moving-average parameters when the state keeps them.

    Returns:
        Generated samples, float32, e.g. (B, 28, 28, 1) in [-1, 1].

    Example:
        >>> fake = generate(state, sample_latent(jax.random.key(1), 16, 100))
        >>> fake.shape, bool(abs(fake).max() <= 1)
        ((16, 28, 28, 1), True)
    """
    latent_dim = state.config.latent_dim
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"z must have shape (batch, {latent_dim}), got {tuple(z.shape)}")
    check_labels(state, labels, z.shape[0])
    params = state.generator.params
    if use_ema and state.ema_params is not None:
        params = state.ema_params
    out, _ = state.generator.apply(params, z, labels, key=key, train=train)
    return out.astype(jnp.float32)


def check_labels(state: GANState, labels: Array | None, batch_size: int) -> None:
    """Raise a one-line error when labels do not fit the state's (un)conditional setup.

    Args:
        state: the training state (``config.num_classes`` says whether labels are needed).
        labels: the labels given, or ``None``.
        batch_size: the number of samples they must label.

    Example:
        >>> check_labels(state, None, 64)  # unconditional: fine
    """
    num_classes = state.config.num_classes
    if num_classes is None:
        if labels is not None:
            raise ValueError("this GAN is unconditional: pass no labels (or set num_classes)")
        return
    if labels is None:
        raise ValueError(
            f"this GAN is conditional on {num_classes} classes: pass labels, e.g. (samples, labels)"
        )
    if labels.shape != (batch_size,) or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(
            f"labels must be integers of shape ({batch_size},), got {labels.dtype} {labels.shape}"
        )


@jax.jit
def discriminate(state: GANState, x: Array, labels: Array | None = None) -> Array:
    """Pure discriminator apply in evaluation mode: the probability ``D(x) = sigmoid(logit)``.

    Jitted, as :func:`generate`: one compiled program per state structure and shapes.

    Args:
        state: the training state.
        x: a batch of samples.
        labels: class labels for a conditional discriminator.

    Returns:
        float32 probabilities, one per sample (per packed group for PacGAN discriminators).

    Example:
        >>> p = discriminate(state, real)
        >>> p.shape
        (8,)
    """
    check_labels(state, labels, x.shape[0])
    disc = state.discriminator
    out, _ = disc.apply(disc.params, x, discriminator_labels(state, labels), train=False)
    return jax.nn.sigmoid(adversarial_logits(state, out).astype(jnp.float32))
