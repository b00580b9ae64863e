"""Many GAN runs in one compiled program: N states stacked on a leading axis, trained under vmap.

A ``GANState`` is a pytree, so N of them stacked leaf by leaf form one state whose arrays have a
leading run axis; ``jaxgan.fit`` trains such a stack with ``vmap(train_update)`` in one compiled
program (pass one key per run), with the dataset shared and each run's randomness its own; the
same driver, hooks, checkpoints and device mesh serve a stack as a single run.

- ``create_ensemble``: build N states in one vmapped call and set per-run hyperparameters
  (``stack_states`` stacks states built elsewhere); the runs come from ``jaxgan.sweeps``;
- ``fit_ensemble``: ``jaxgan.fit`` for a stack; ``take_run`` slices run i out as a plain state;
- ``sample_ensemble``: samples of every run from the same noise.

Keys: the run with seed s initialises with ``init`` and trains with ``train`` of
``jaxgan.sweeps.run_keys(s)`` (the keys ``jaxgan train --seed s`` uses), so run i of an ensemble
is the run ``fit(build_state_fn(init), data, key=train)`` alone, to float tolerance (vmap
batches the matrix products differently). Passing ``data_key`` gives every run one data order,
so runs differ only by initialisation and noise.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from jaxgan.loop import Hook, fit
from jaxgan.sampling import generate_batches
from jaxgan.sharding import DataParallel
from jaxgan.state import GANState, StepConfig, sample_latent
from jaxgan.sweeps import (
    OPTAX_NAMES,
    OPTIMIZER_HYPERPARAMS,
    STATIC_HYPERPARAMS,
    RunSpec,
    check_sweep_value,
    group_runs,
    parse_sweep,
    plan_runs,
    run_keys,
)
from jaxgan.xla_cpu import DEFAULT_CPU_CONVOLUTIONS

__all__ = [
    "OPTIMIZER_HYPERPARAMS",
    "STATIC_HYPERPARAMS",
    "RunSpec",
    "check_build_fn",
    "create_ensemble",
    "ensemble_size",
    "fit_ensemble",
    "get_hyperparams",
    "group_runs",
    "parse_sweep",
    "plan_runs",
    "run_keys",
    "sample_ensemble",
    "set_hyperparams",
    "stack_states",
    "take_run",
]

Array = jax.Array
BuildStateFn = Callable[..., GANState]

_INJECTED = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)


@jax.jit
def _stack_columns(columns: list[tuple[jax.Array, ...]]) -> list[jax.Array]:
    """Stack each column of leaves on a new leading axis, all in one compiled program.

    Stacking leaf by leaf would compile one small program per leaf shape.
    """
    return [jnp.stack(column) for column in columns]


@jax.jit
def _take(stacked: GANState, index: jax.Array) -> GANState:
    """Row ``index`` of every leaf, in one compiled program per state structure, any index."""
    return jax.tree.map(lambda leaf: leaf[index], stacked)


def stack_states(states: Sequence[GANState]) -> GANState:
    """Stack single-run states leaf by leaf into one ensemble state (leading run axis).

    The states must share their static parts (model graphs, ``StepConfig``) and array shapes.
    The optimiser transformation of the first state serves all runs, so optimisers may differ
    only in hyperparameters that ``optax.inject_hyperparams`` keeps in the state.

    Args:
        states: one or more ``GANState``s.

    Returns:
        A ``GANState`` whose every array has a leading axis of ``len(states)``.

    Example:
        >>> pair = stack_states([state, state])
        >>> pair.g_updates.shape
        (2,)

    """
    states = list(states)
    if not states or not all(isinstance(s, GANState) for s in states):
        raise TypeError("stack_states needs a non-empty list of GANStates")
    first = states[0]
    for i, other in enumerate(states[1:], start=1):
        if other.config != first.config:
            fields = [f.name for f in dataclasses.fields(StepConfig)]
            diff = [f for f in fields if getattr(other.config, f) != getattr(first.config, f)]
            raise ValueError(
                f"state {i} differs from state 0 in static StepConfig fields {diff}; such runs "
                "need separate ensembles (run_ensemble groups them)"
            )
        for name in ("generator", "discriminator"):
            a, b = getattr(first, name), getattr(other, name)
            if a.graphdef != b.graphdef or any(
                jax.tree.structure(getattr(a, f)) != jax.tree.structure(getattr(b, f))
                for f in ("params", "rest", "opt_state")
            ):
                raise ValueError(
                    f"state {i}'s {name} has another architecture or optimiser than state 0's; "
                    "only states built alike can be stacked"
                )
            if a.tx is not b.tx and not _injected_states(a.opt_state):
                raise ValueError(
                    f"state {i}'s {name} optimiser is another object that keeps no hyperparameters "
                    "in its state; reuse one optimiser or wrap it in optax.inject_hyperparams"
                )
    leaves = [jax.tree.leaves(s) for s in states]
    for i, these in enumerate(leaves[1:], start=1):
        for a, b in zip(leaves[0], these, strict=True):
            if a.shape != b.shape or a.dtype != b.dtype:
                raise ValueError(
                    f"state {i} has an array {b.dtype}{list(b.shape)} where state 0 has "
                    f"{a.dtype}{list(a.shape)}; build all runs with the same model sizes"
                )
    stacked = _stack_columns(list(zip(*leaves, strict=True)))
    return jax.tree.unflatten(jax.tree.structure(first), stacked)


def ensemble_size(stacked: GANState) -> int:
    """Return the number of runs N in a stacked state.

    Args:
        stacked: an ensemble state (its counters have shape (N,)).

    Returns:
        N.

    Example:
        >>> ensemble_size(stacked)
        2

    """
    shape = jnp.shape(stacked.g_updates)
    if len(shape) != 1:
        raise ValueError(
            f"expected an ensemble state with counters of shape (N,), got {shape}; "
            "build one with create_ensemble or stack_states"
        )
    return shape[0]


def take_run(stacked: GANState, index: int) -> GANState:
    """Slice run ``index`` out of an ensemble as an ordinary single-run ``GANState``.

    The result works with every single-state function: ``generate``, ``fit``, checkpointing.

    Args:
        stacked: an ensemble state.
        index: the run, ``0 <= index < N`` (negative indices count from the end).

    Returns:
        The run's state (copies of its arrays).

    Example:
        >>> int(take_run(stacked, 1).step)
        0

    """
    n = ensemble_size(stacked)
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise TypeError(f"run index must be an integer, got {index!r}")
    if not -n <= index < n:
        raise IndexError(f"run index {index} is out of range for an ensemble of {n} runs")
    return _take(stacked, index)


def _injected_states(opt_state: Any) -> list[Any]:
    nodes = jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, _INJECTED))
    return [node for node in nodes if isinstance(node, _INJECTED)]


def learning_rates(state: GANState) -> dict[str, np.ndarray]:
    """Return the learning rates kept in both players' optax states (``inject_hyperparams``).

    Args:
        state: a single-run state or an ensemble state.

    Returns:
        ``{"g": ..., "d": ...}``: a float64 array of shape () or (runs,) per player (NaN when
        the player's optimiser injects no learning rate).

    Example:
        >>> bool(np.isclose(learning_rates(state)["g"], 2e-4))  # create_state's default
        True

    """
    out = {}
    for name, player in (("g", state.generator), ("d", state.discriminator)):
        found = [s.hyperparams["learning_rate"] for s in _injected_states(player.opt_state)
                 if "learning_rate" in s.hyperparams]  # fmt: skip
        out[name] = np.asarray(found[0], np.float64) if found else np.float64(np.nan)
    return out


def _set_injected(opt_state: Any, name: str, value: np.ndarray, player: str) -> Any:
    """Replace hyperparameter ``name`` in every ``inject_hyperparams`` state of ``opt_state``."""
    found = []

    def replace(node):
        if not isinstance(node, _INJECTED) or name not in node.hyperparams:
            return node
        found.append(node)
        old = node.hyperparams[name]
        new = jnp.broadcast_to(jnp.asarray(value, old.dtype), old.shape)
        return node._replace(hyperparams={**node.hyperparams, name: new})

    opt_state = jax.tree.map(replace, opt_state, is_leaf=lambda x: isinstance(x, _INJECTED))
    if not found:
        names = sorted({k for s in _injected_states(opt_state) for k in s.hyperparams})
        raise ValueError(
            f"the {player}'s optimiser does not inject {name!r} (injected: {names or 'none'}); "
            "build it with optax.inject_hyperparams (jaxgan.default_optimizer does)"
        )
    return opt_state


def set_hyperparams(state: GANState, **values: float | Sequence[float] | Array) -> GANState:
    """Set optimiser hyperparameters kept in the optax state: one value per run, or one for all.

    Names are ``OPTIMIZER_HYPERPARAMS``: ``lr``, ``b1``, ``b2``, ``eps`` (both players) or with a
    ``g_``/``d_`` prefix (one player). No recompilation: the values are arrays of the state.

    Args:
        state: an ensemble state (or a single-run state, with scalar values).
        **values: a scalar (every run) or a length-N sequence (run i gets value i).

    Returns:
        The state with the new values (the input is not modified).

    Example:
        >>> tuned = set_hyperparams(stacked, lr=[1e-4, 4e-4])
        >>> get_hyperparams(tuned)["d_learning_rate"].astype(float).round(6).tolist()
        [0.0001, 0.0004]

    """
    batch_shape = jnp.shape(state.g_updates)
    for name, value in values.items():
        if name not in OPTIMIZER_HYPERPARAMS:
            raise ValueError(
                f"{name!r} is not an optimiser hyperparameter kept in the state; use one of "
                f"lr, b1, b2, eps (g_/d_ prefix for one player); StepConfig fields are static"
            )
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be numbers, got {value!r}")
        if array.ndim and array.shape != batch_shape:
            raise ValueError(
                f"{name} has {len(array)} values but the ensemble has "
                f"{batch_shape[0] if batch_shape else 1} run(s); give one value per run"
            )
        for checked in np.atleast_1d(array).tolist():
            check_sweep_value(name, checked)
        players = ("generator", "discriminator")
        if name[:2] in ("g_", "d_"):
            players = ("generator",) if name[0] == "g" else ("discriminator",)
        optax_name = OPTAX_NAMES[name[2:] if name[:2] in ("g_", "d_") else name]
        for player in players:
            old = getattr(state, player)
            opt_state = _set_injected(old.opt_state, optax_name, array, player)
            state = state.replace(**{player: old.replace(opt_state=opt_state)})
    return state


def get_hyperparams(state: GANState) -> dict[str, np.ndarray]:
    """Read the injected optimiser hyperparameters of both players (per run for an ensemble).

    Args:
        state: an ensemble or single-run state.

    Returns:
        ``{"g_learning_rate": array (N,), "d_b1": ..., ...}``.

    Example:
        >>> get_hyperparams(stacked)["g_learning_rate"].astype(float).round(6).tolist()
        [0.0002, 0.0002]

    """
    out = {}
    for prefix, player in (("g", state.generator), ("d", state.discriminator)):
        for node in _injected_states(player.opt_state):
            for name, value in node.hyperparams.items():
                out[f"{prefix}_{name}"] = np.asarray(value)
    return out


def check_build_fn(build_state_fn: BuildStateFn, names: Sequence[str]) -> None:
    """Check that a state builder is callable and takes every swept build argument.

    Args:
        build_state_fn: ``(init_key, **build_values) -> GANState``.
        names: the swept names passed to it.

    Raises:
        TypeError: not callable.
        ValueError: a name is no optimiser hyperparameter, ``StepConfig`` field or keyword.

    Example:
        >>> check_build_fn(lambda key, pack=1: None, ["pack"])

    """
    if not callable(build_state_fn):
        raise TypeError("build_state_fn must be a function init_key -> GANState")
    if not names:
        return
    params = inspect.signature(build_state_fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for name in names:
        if name not in params:
            raise ValueError(
                f"cannot sweep {name!r}: it is no optimiser hyperparameter "
                f"({', '.join(sorted(OPTAX_NAMES))}), no StepConfig field "
                f"({', '.join(STATIC_HYPERPARAMS)}) and no keyword of build_state_fn"
            )


@functools.lru_cache(maxsize=32)
def _vmapped_build(build_state_fn: BuildStateFn, build_items: tuple) -> Callable:
    """``build_state_fn`` vmapped over init keys and jitted, cached per function and arguments.

    The cache makes every ensemble built by one function share one traced state structure (the
    same optimiser objects), so training programs compiled for one also serve the next.
    """

    def build(key: Array) -> GANState:
        state = build_state_fn(key, **dict(build_items))
        if not isinstance(state, GANState):
            raise TypeError(f"build_state_fn must return a GANState, got {type(state).__name__}")
        return state

    return jax.jit(jax.vmap(build))


def create_ensemble(
    build_state_fn: BuildStateFn, runs: Sequence[RunSpec] | int | Sequence[int]
) -> tuple[GANState, Array]:
    """Build the states of runs that share one compiled program, stacked, hyperparameters set.

    All states are initialised in one vmapped, jitted call of ``build_state_fn`` over the runs'
    init keys (bit-identical to calling it per run), so it must be traceable (plain JAX, as
    ``jaxgan.create_state`` is). Like any jitted function it is traced once per ensemble size
    and build arguments, and its Python side effects happen only then; the traced optimisers
    are reused, so later ensembles of the same function train without recompiling.

    Args:
        build_state_fn: ``(init_key, **build_values) -> GANState`` for one run, e.g. a
            ``jaxgan.create_state`` call.
        runs: ``RunSpec``s of one ``group_runs`` group, or seeds (see ``plan_runs``).

    Returns:
        ``(stacked_state, train_keys)``; train_keys is the (N,) key array for ``fit_ensemble``.

    Example:
        >>> stacked, keys = create_ensemble(build, plan_runs(5))  # doctest: +SKIP

    """
    if isinstance(runs, int) or not all(isinstance(r, RunSpec) for r in runs):
        runs = plan_runs(runs)
    runs = list(runs)
    if not runs:
        raise ValueError("create_ensemble needs at least one run")
    if len({run.group_key for run in runs}) > 1:
        raise ValueError(
            "these runs differ in static values (StepConfig fields or build arguments); "
            "create one ensemble per group_runs(...) group"
        )
    check_build_fn(build_state_fn, list(runs[0].build))
    keys = [run_keys(run.seed) for run in runs]
    init_keys = jnp.stack([k[0] for k in keys])
    stacked = _vmapped_build(build_state_fn, tuple(sorted(runs[0].build.items())))(init_keys)
    if runs[0].static:
        stacked = stacked.replace(config=dataclasses.replace(stacked.config, **runs[0].static))
    names = runs[0].optimizer
    if names:
        stacked = set_hyperparams(stacked, **{n: [r.hyperparams[n] for r in runs] for n in names})
    return stacked, jnp.stack([k[1] for k in keys])


def fit_ensemble(
    stacked: GANState,
    data: np.ndarray | Array | tuple[Any, Any],
    *,
    steps: int,
    batch_size: int,
    keys: Array,
    loop: Literal["auto", "scan", "python"] = "auto",
    steps_per_call: int = 100,
    data_key: Array | None = None,
    on_chunk: Callable[[int, dict[str, np.ndarray]], None] | None = None,
    hooks: Sequence[Hook] = (),
    mesh: Mesh | DataParallel | None = None,
    on_nonfinite: Literal["stop", "warn"] | None = "stop",
    cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS,
) -> tuple[GANState, dict[str, np.ndarray]]:
    """Train every run of an ensemble for ``steps`` iterations in one compiled program.

    ``jaxgan.fit`` with one key per run: the same batches, keys, loop forms, hooks and mesh,
    vmapped over the runs; stopping and calling it again continues exactly. The input state is
    donated.

    Args:
        stacked: the ensemble state (all runs at the same step).
        data: (M, ...) training examples shared by all runs (uint8 images or floats), or a
            ``(samples, labels)`` pair for conditional GANs.
        steps: iterations per run.
        batch_size: examples per D update.
        keys: (N,) training keys, one per run (``create_ensemble`` returns them).
        loop: ``"auto"`` (chosen for one run as ``jaxgan.choose_loop`` does), ``"scan"`` or
            ``"python"``.
        steps_per_call: iterations per compiled call (scan) or per index block (python).
        data_key: None: each run reads the data in the order ``fit`` derives from its own key;
            a key: every run reads the order ``fit`` derives from this key.
        on_chunk: called on the host as ``on_chunk(step_after_chunk, chunk_metrics)``.
        hooks: hooks of ``jaxgan.hooks``, called with the stacked state.
        mesh: split every run's batch over this device mesh (see ``jaxgan.fit``).
        on_nonfinite: as in ``jaxgan.fit``; the error or warning names the runs that diverged.
        cpu_convolutions: XLA:CPU's convolution library, as in ``jaxgan.fit``.

    Returns:
        ``(stacked, history)``: history maps each metric to an array (steps, N), and ``"step"``
        to (steps,).

    Example:
        >>> stacked, history = fit_ensemble(stacked, x, steps=500, batch_size=100, keys=keys)
        ...                                 # doctest: +SKIP

    """
    n = ensemble_size(stacked)
    if not (isinstance(keys, jax.Array) and jnp.issubdtype(keys.dtype, jax.dtypes.prng_key)):
        raise TypeError("keys must be a typed PRNG key array, e.g. from create_ensemble")
    if keys.shape != (n,):
        raise ValueError(f"keys must have shape ({n},), one per run, got {keys.shape}")
    return fit(
        stacked,
        data,
        steps=steps,
        batch_size=batch_size,
        key=keys,
        loop=loop,
        steps_per_call=steps_per_call,
        hooks=hooks,
        on_chunk=on_chunk,
        mesh=mesh,
        data_key=data_key,
        on_nonfinite=on_nonfinite,
        cpu_convolutions=cpu_convolutions,
    )


def sample_ensemble(
    stacked: GANState,
    key: Array | int,
    num_samples: int,
    labels: Array | None = None,
    chunk_size: int = 2500,
) -> np.ndarray:
    """Generate ``num_samples`` from every run in one call (evaluation mode, the same z for all).

    Args:
        stacked: an ensemble state.
        key: key (or int seed) of the noise; run i's samples equal
            ``generate(take_run(stacked, i), sample_latent(key, num_samples, latent_dim))``.
        num_samples: samples per run.
        labels: class labels (num_samples,) for conditional GANs (default: classes in turn,
            ``arange(num_samples) % num_classes``); None for unconditional ones.
        chunk_size: samples per run generated in one call (bounds device memory; the samples
            are the same to float rounding whatever its value).

    Returns:
        float32 numpy array (N, num_samples, ...).

    Example:
        >>> sample_ensemble(stacked, 0, 5).shape
        (2, 5, 28, 28, 1)

    """
    ensemble_size(stacked)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    key = jax.random.key(key) if isinstance(key, int) else key
    z = sample_latent(key, num_samples, stacked.config.latent_dim)
    if labels is None and stacked.config.num_classes is not None:
        labels = jnp.arange(num_samples, dtype=jnp.int32) % stacked.config.num_classes
    return generate_batches(stacked, z, labels, batch_size=chunk_size)
