"""Many GAN runs in one compiled program: N states stacked on a leading axis, trained under vmap.

A ``GANState`` is a pytree, so N of them stacked leaf by leaf form one state whose arrays have a
leading run axis; ``jax.vmap(train_update)`` trains them together in one compiled program, with the
dataset shared and each run's randomness its own. Building blocks, then the one-call driver:

- ``plan_runs`` / ``parse_sweep``: seeds × hyperparameter values → a list of ``RunSpec``;
- ``create_ensemble``: build N states in one vmapped call and set per-run hyperparameters
  (``stack_states`` stacks states built elsewhere);
- ``fit_ensemble``: ``jaxgan.fit`` for a stack; ``take_run`` slices run i out as a plain state;
- ``sample_ensemble`` / ``evaluate_ensemble``: samples and metrics of every run, mean ± s.e.;
- ``run_ensemble``: all of the above plus the summary tables and per-run sample plots.

Keys: the run with seed s initialises with ``init_key`` and trains with ``train_key`` of
``run_keys(s)`` (the keys ``jaxgan train --seed s`` uses). With ``data_order="per_run"`` (default)
each run reads the batches ``jaxgan.fit`` would read with its ``train_key``, so run i of an
ensemble is the run ``fit(build_state_fn(init_key), data, key=train_key)`` alone, to float
tolerance (vmap batches the matrix products differently). ``"shared"`` gives every run one data
order, so runs differ only by initialisation and noise.

What a sweep can vary:

- optimiser hyperparameters kept in the optax state by ``optax.inject_hyperparams``
  (``OPTIMIZER_HYPERPARAMS``: lr, b1, b2, eps, with ``g_``/``d_`` prefixes for one player):
  per run, in one program, no recompilation;
- ``StepConfig`` fields (``STATIC_HYPERPARAMS``: n_critic, gradient_penalty, r1, loss, ...) are
  static: runs are grouped per value, one compiled program per group;
- any other name is passed to ``build_state_fn(init_key, **{name: value})`` (architecture
  choices such as a PacGAN ``pack``), also one program per value.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import inspect
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.data.dataset import Dataset
from jaxgan.loop import (
    _DATA_STREAM,
    _prepare_data,
    _validate,
    as_training_array,
    batch_indices,
    choose_loop,
    run_chunks,
)
from jaxgan.state import GANState, StepConfig, generate, sample_latent
from jaxgan.steps import train_update

Array = jax.Array
Value = float | int | str | bool
BuildStateFn = Callable[..., GANState]
Evaluator = Callable[[np.ndarray], Mapping[str, float]]

_OPTAX_NAMES = {"lr": "learning_rate", "learning_rate": "learning_rate", "b1": "b1", "b2": "b2",
                "eps": "eps", "eps_root": "eps_root"}  # fmt: skip
OPTIMIZER_HYPERPARAMS = frozenset(p + n for p in ("", "g_", "d_") for n in _OPTAX_NAMES)
"""Sweep names set per run in the optax state (no prefix: both players)."""

STATIC_HYPERPARAMS = ("loss", "n_critic", "gradient_penalty", "r1", "compute_dtype", "augment")
"""``StepConfig`` fields a sweep may vary: one compiled program per value."""

_INJECTED = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
_TRAIN_METRICS = ("d_loss", "g_loss", "d_real", "d_fake")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of an ensemble: its index, seed and swept hyperparameter values.

    Attributes:
        index: position of the run in the whole ensemble (0-based).
        seed: the run's seed (see ``run_keys``).
        hyperparams: swept names → this run's values, e.g. ``{"lr": 1e-4}``.

    Example:
        >>> RunSpec(0, 3, {"lr": 1e-4, "n_critic": 5}).label
        'lr=0.0001,n_critic=5'

    """

    index: int
    seed: int
    hyperparams: Mapping[str, Value] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        """The run's sweep setting as ``name=value,...`` (``"default"`` without a sweep)."""
        return ",".join(f"{k}={v}" for k, v in self.hyperparams.items()) or "default"

    @property
    def optimizer(self) -> dict[str, Value]:
        """The optimiser hyperparameters of this run (set in the optax state)."""
        return {k: v for k, v in self.hyperparams.items() if k in OPTIMIZER_HYPERPARAMS}

    @property
    def static(self) -> dict[str, Value]:
        """The ``StepConfig`` overrides of this run."""
        return {k: v for k, v in self.hyperparams.items() if k in STATIC_HYPERPARAMS}

    @property
    def build(self) -> dict[str, Value]:
        """The keyword arguments this run passes to ``build_state_fn``."""
        return {
            k: v
            for k, v in self.hyperparams.items()
            if k not in OPTIMIZER_HYPERPARAMS and k not in STATIC_HYPERPARAMS
        }

    @property
    def group_key(self) -> tuple:
        """Runs with equal group keys share one compiled program."""
        return tuple(sorted({**self.static, **self.build}.items()))


# ----------------------------------------------------------------------------- planning


def run_keys(seed: int) -> tuple[Array, Array]:
    """Return the initialisation key and the training key of the run with this seed.

    The same derivation as ``jaxgan.run.run_keys`` (``jaxgan train --seed``): the first two of
    ``jax.random.split(jax.random.key(seed), 3)``.

    Args:
        seed: a non-negative integer.

    Returns:
        ``(init_key, train_key)``.

    Example:
        >>> init_key, train_key = run_keys(0)

    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"a seed must be an integer, got {seed!r}")
    init_key, train_key, _ = jax.random.split(jax.random.key(int(seed)), 3)
    return init_key, train_key


def _check_seeds(seeds: int | Sequence[int]) -> list[int]:
    kinds = "a positive integer (runs per setting) or a list of distinct integer seeds"
    if isinstance(seeds, bool | str):
        raise TypeError(f"seeds must be {kinds}, got {seeds!r}")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"seeds must be ≥ 1 (the number of runs per setting), got {seeds}")
        return list(range(int(seeds)))
    if not isinstance(seeds, Sequence | range | np.ndarray):
        raise TypeError(f"seeds must be {kinds}, got {seeds!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"seeds is empty; give {kinds}")
    if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in seeds):
        raise TypeError(f"seeds must be {kinds}, got {seeds!r}")
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and ≥ 0 (repeats train identical runs): {seeds}")
    return [int(s) for s in seeds]


def _check_value(name: str, value: Any) -> Value:
    """Validate one sweep value for ``name``; return it in its canonical Python type."""
    if name == "seed":
        raise ValueError("seed is not a sweep name; pass seeds=... (the runs of every setting)")
    if not name.isidentifier():
        raise ValueError(f"sweep names are identifiers such as lr or n_critic, got {name!r}")
    number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if name in OPTIMIZER_HYPERPARAMS:
        if not number or not math.isfinite(value):
            raise TypeError(f"{name} values must be finite numbers, got {value!r}")
        base = _OPTAX_NAMES[name[2:] if name[:2] in ("g_", "d_") else name]
        if (base == "learning_rate" and value <= 0) or value < 0:
            raise ValueError(f"{name} values must be > 0 (≥ 0 for eps), got {value!r}")
        if base in ("b1", "b2") and not value < 1:
            raise ValueError(f"{name} values must be in [0, 1), got {value!r}")
        return float(value)
    if name in STATIC_HYPERPARAMS:
        if name == "n_critic":
            if not (isinstance(value, int | np.integer) and number):
                raise TypeError(f"n_critic values must be positive integers, got {value!r}")
            value = int(value)
        if name in ("gradient_penalty", "r1"):
            if not number:
                raise TypeError(f"{name} values must be numbers ≥ 0, got {value!r}")
            value = float(value)
        if name in ("loss", "augment") and not isinstance(value, str):
            raise TypeError(f"{name} values must be strings, got {value!r}")
        StepConfig(**{name: value})  # raises its own one-line ValueError
        return value
    if not isinstance(value, int | float | str | bool | np.number):
        raise TypeError(f"{name} values must be numbers, strings or booleans, got {value!r}")
    return value.item() if isinstance(value, np.generic) else value


def plan_runs(
    seeds: int | Sequence[int],
    sweep: Mapping[str, Sequence[Any]] | None = None,
    *,
    combine: Literal["grid", "zip"] = "grid",
) -> list[RunSpec]:
    """List the runs of an ensemble: every sweep setting × every seed.

    All settings use the same seeds, so settings are compared on the same initialisations.

    Args:
        seeds: runs per setting (seeds ``0..n-1``) or a list of distinct seeds.
        sweep: name → values, e.g. ``{"lr": [1e-4, 2e-4]}``; see the module docstring for the
            three kinds of names.
        combine: ``"grid"``: every combination of the names' values; ``"zip"``: the i-th values
            of every name together (all lists must have one length).

    Returns:
        ``RunSpec``s ordered by setting, then seed.

    Example:
        >>> [(r.seed, r.hyperparams["lr"]) for r in plan_runs(2, {"lr": [1e-4, 2e-4]})]
        [(0, 0.0001), (1, 0.0001), (0, 0.0002), (1, 0.0002)]

    """
    seeds = _check_seeds(seeds)
    if sweep is not None and not isinstance(sweep, Mapping):
        raise TypeError(f"sweep must map names to lists of values, got {type(sweep).__name__}")
    sweep = dict(sweep or {})
    columns = []
    for name, values in sweep.items():
        if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
            raise TypeError(f"sweep {name!r} needs a list of values, got {values!r}")
        if len(values) == 0:
            raise ValueError(f"sweep {name!r} has no values; give at least one")
        columns.append([_check_value(name, v) for v in values])
    if combine == "grid":
        settings = list(itertools.product(*columns))
    elif combine == "zip":
        lengths = {name: len(column) for name, column in zip(sweep, columns, strict=True)}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"combine='zip' needs value lists of one length, got {lengths}")
        settings = list(zip(*columns, strict=True)) if columns else [()]
    else:
        raise ValueError(f"combine must be 'grid' or 'zip', got {combine!r}")
    return [
        RunSpec(i, seed, dict(zip(sweep, setting, strict=True)))
        for i, (setting, seed) in enumerate(itertools.product(settings, seeds))
    ]


def parse_sweep(text: str) -> tuple[str, list[Value]]:
    """Parse a command-line sweep ``name=v1,v2,...`` into a name and typed values.

    Each value becomes an int if it reads as one, else a float, else ``True``/``False``, else
    a string; then it is checked for its name (``lr`` must be a positive number, ...).

    Args:
        text: e.g. ``"lr=1e-4,2e-4,4e-4"``, ``"n_critic=1,5"``, ``"loss=hinge,wasserstein"``.

    Returns:
        ``(name, values)``.

    Example:
        >>> parse_sweep("lr=1e-4,2e-4")
        ('lr', [0.0001, 0.0002])

    """
    name, sep, rest = text.partition("=")
    name = name.strip()
    items = [item.strip() for item in rest.split(",")]
    if not sep or not name or not all(items):
        raise ValueError(f"a sweep is name=v1,v2,... (e.g. lr=1e-4,2e-4), got {text!r}")
    values = []
    for item in items:
        for parse in (int, float, {"true": True, "false": False}.__getitem__, str):
            try:
                value = parse(item.lower() if parse is not str else item)
                break
            except (ValueError, KeyError):
                continue
        values.append(_check_value(name, value))
    return name, values


def group_runs(runs: Sequence[RunSpec]) -> list[list[RunSpec]]:
    """Split runs into groups that can share one compiled program (equal static values).

    Args:
        runs: the planned runs.

    Returns:
        Groups in order of first appearance; runs keep their order inside a group.

    Example:
        >>> [len(g) for g in group_runs(plan_runs(2, {"n_critic": [1, 5], "lr": [1e-4, 2e-4]}))]
        [4, 4]

    """
    groups: dict[tuple, list[RunSpec]] = {}
    for run in runs:
        groups.setdefault(run.group_key, []).append(run)
    return list(groups.values())


def _slices(groups: list[list[RunSpec]], size: int | None) -> list[list[RunSpec]]:
    """Cut every group into consecutive slices of at most ``size`` runs (None: keep whole)."""
    if size is None:
        return groups
    return [group[i : i + size] for group in groups for i in range(0, len(group), size)]


# ----------------------------------------------------------------------------- stacks


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
        >>> stacked = stack_states([state_a, state_b])  # doctest: +SKIP

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
    stacked = [jnp.stack(column) for column in zip(*leaves, strict=True)]
    return jax.tree.unflatten(jax.tree.structure(first), stacked)


def ensemble_size(stacked: GANState) -> int:
    """Return the number of runs N in a stacked state.

    Args:
        stacked: an ensemble state (its counters have shape (N,)).

    Returns:
        N.

    Example:
        >>> ensemble_size(stacked)  # doctest: +SKIP
        10

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
        >>> samples = jaxgan.generate(take_run(stacked, 3), z)  # doctest: +SKIP

    """
    n = ensemble_size(stacked)
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise TypeError(f"run index must be an integer, got {index!r}")
    if not -n <= index < n:
        raise IndexError(f"run index {index} is out of range for an ensemble of {n} runs")
    return jax.tree.map(lambda leaf: leaf[index], stacked)


def _injected_states(opt_state: Any) -> list[Any]:
    nodes = jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, _INJECTED))
    return [node for node in nodes if isinstance(node, _INJECTED)]


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
        >>> stacked = set_hyperparams(stacked, lr=[1e-4, 2e-4, 4e-4])  # doctest: +SKIP

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
            _check_value(name, checked)
        players = ("generator", "discriminator")
        if name[:2] in ("g_", "d_"):
            players = ("generator",) if name[0] == "g" else ("discriminator",)
        optax_name = _OPTAX_NAMES[name[2:] if name[:2] in ("g_", "d_") else name]
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
        >>> get_hyperparams(stacked)["d_learning_rate"]  # doctest: +SKIP
        array([1.e-04, 2.e-04], dtype=float32)

    """
    out = {}
    for prefix, player in (("g", state.generator), ("d", state.discriminator)):
        for node in _injected_states(player.opt_state):
            for name, value in node.hyperparams.items():
                out[f"{prefix}_{name}"] = np.asarray(value)
    return out


def _check_build_fn(build_state_fn: BuildStateFn, names: Sequence[str]) -> None:
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
                f"({', '.join(sorted(_OPTAX_NAMES))}), no StepConfig field "
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
    _check_build_fn(build_state_fn, list(runs[0].build))
    keys = [run_keys(run.seed) for run in runs]
    init_keys = jnp.stack([k[0] for k in keys])
    stacked = _vmapped_build(build_state_fn, tuple(sorted(runs[0].build.items())))(init_keys)
    if runs[0].static:
        stacked = stacked.replace(config=dataclasses.replace(stacked.config, **runs[0].static))
    names = runs[0].optimizer
    if names:
        stacked = set_hyperparams(stacked, **{n: [r.hyperparams[n] for r in runs] for n in names})
    return stacked, jnp.stack([k[1] for k in keys])


# ----------------------------------------------------------------------------- training


def _ensemble_iteration(stacked: GANState, data, indices: Array, keys: Array):
    """One iteration of every run; indices (N, n_critic, B) per run or (n_critic, B) shared."""

    def gather(idx):
        return jax.tree.map(lambda a: a[idx.reshape(-1)], data)  # samples, or (samples, labels)

    if indices.ndim == 2:
        return jax.vmap(train_update, in_axes=(0, None, 0))(stacked, gather(indices), keys)
    return jax.vmap(lambda s, i, k: train_update(s, gather(i), k))(stacked, indices, keys)


@jax.jit(donate_argnums=0)
def _scan_chunk(stacked: GANState, data, indices: Array, active: Array, keys: Array):
    """``len(indices)`` ensemble iterations in one ``lax.scan``; masked ones are skipped."""

    def body(carry, inputs):
        idx, on = inputs
        new, metrics = _ensemble_iteration(carry, data, idx, keys)
        return jax.tree.map(lambda a, b: jnp.where(on, a, b), new, carry), metrics

    return jax.lax.scan(body, stacked, (indices, active))


@jax.jit(donate_argnums=0)
def _python_step(stacked: GANState, data, indices: Array, i: Array, keys: Array):
    """Ensemble iteration ``i`` of an index block (the Python-loop form)."""
    return _ensemble_iteration(stacked, data, indices[i], keys)


@jax.jit(static_argnames=("num_slots", "num_examples", "batch_size"))
def _chunk_indices(keys, data_key, first_slot, *, num_slots, num_examples, batch_size):
    """Batch indices of a chunk: (num_slots, N, B) from each run's key, or (num_slots, B)."""

    def of(key):
        key = jax.random.fold_in(key, _DATA_STREAM)
        return batch_indices(
            key, first_slot, num_slots=num_slots, num_examples=num_examples, batch_size=batch_size
        )

    if data_key is not None:
        return of(data_key)
    return jax.vmap(of)(keys).swapaxes(0, 1)


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
) -> tuple[GANState, dict[str, np.ndarray]]:
    """Train every run of an ensemble for ``steps`` iterations in one compiled program.

    ``jaxgan.fit`` for a stack: the same batches, keys and loop forms, vmapped over the runs;
    stopping and calling it again continues exactly. The input state is donated.

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
    data = _prepare_data(data)
    first = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), stacked)
    _validate(first, data, steps, batch_size, steps_per_call)
    counters = np.asarray(stacked.g_updates)
    if (counters != counters[0]).any():
        raise ValueError(f"runs are at different steps {counters.tolist()}; train them apart")
    if loop == "auto":
        loop = choose_loop(first, data, batch_size)
    if loop not in ("scan", "python"):
        raise ValueError(f"loop must be 'auto', 'scan' or 'python', got {loop!r}")
    n_critic = stacked.config.n_critic
    num_examples = jax.tree.leaves(data)[0].shape[0]

    def chunk_indices(first_slot: Array) -> Array:
        indices = _chunk_indices(
            keys,
            data_key,
            first_slot,
            num_slots=steps_per_call * n_critic,
            num_examples=num_examples,
            batch_size=batch_size,
        )
        # (steps_per_call, [N,] n_critic, B): iteration t reads slots t·n_critic ... +n_critic−1
        return jnp.moveaxis(indices.reshape((steps_per_call, n_critic, *indices.shape[1:])), 1, -2)

    return run_chunks(
        stacked,
        steps=steps,
        steps_per_call=steps_per_call,
        start=int(counters[0]),
        n_critic=n_critic,
        loop=loop,
        chunk_indices=chunk_indices,
        scan_chunk=lambda s, idx, active: _scan_chunk(s, data, idx, active, keys),
        python_step=lambda s, idx, i: _python_step(s, data, idx, i, keys),
        on_chunk=on_chunk,
    )


# ----------------------------------------------------------------------------- evaluation


@jax.jit
def _generate_all(stacked: GANState, z: Array, labels: Array | None) -> Array:
    return jax.vmap(generate, in_axes=(0, None, None))(stacked, z, labels)


def _auto_evaluator(name: str | None) -> Evaluator | None:
    """PacGAN's metrics for ``ring8``/``grid25``, mode count + KL for Stacked MNIST, else None."""
    if name in ("ring8", "grid25"):
        return mixture_evaluator(name)
    if name is not None and name.startswith("stacked_mnist"):
        return stacked_mnist_evaluator()
    return None


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
        chunk_size: samples per run generated in one call (bounds device memory; the result
            does not depend on it).

    Returns:
        float32 numpy array (N, num_samples, ...).

    Example:
        >>> sample_ensemble(stacked, 0, 2500).shape  # doctest: +SKIP
        (10, 2500, 2)

    """
    ensemble_size(stacked)
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    key = jax.random.key(key) if isinstance(key, int) else key
    z = sample_latent(key, num_samples, stacked.config.latent_dim)
    if labels is None and stacked.config.num_classes is not None:
        labels = jnp.arange(num_samples, dtype=jnp.int32) % stacked.config.num_classes
    chunks = []
    for start in range(0, num_samples, chunk_size):
        part = slice(start, start + chunk_size)
        chunks.append(
            np.asarray(_generate_all(stacked, z[part], None if labels is None else labels[part]))
        )
    return np.concatenate(chunks, axis=1)


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Return the mean and its standard error (sample std with N−1, over √N); NaN propagates.

    Args:
        values: per-run numbers.

    Returns:
        ``(mean, se)``; se is NaN for a single value.

    Example:
        >>> mean_and_se([1.0, 2.0, 3.0])
        (2.0, 0.5773502691896258)

    """
    x = np.asarray(values, np.float64)
    if x.size == 0:
        raise ValueError("mean_and_se needs at least one value")
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), se


def mixture_evaluator(name: str) -> Evaluator:
    """Return PacGAN's mode-collapse metrics of ``ring8``/``grid25`` as a per-run evaluator.

    Args:
        name: ``"ring8"`` or ``"grid25"``.

    Returns:
        ``samples (num, 2) -> {"modes", "high_quality", "reverse_kl"}`` (definitions in
        ``jaxgan.metrics.mixture_metrics``; PacGAN evaluates 2,500 samples).

    Example:
        >>> mixture_evaluator("ring8")(np.zeros((10, 2)))["modes"]
        0

    """
    from jaxgan.data import GRID25_SIGMA, RING8_SIGMA, grid25_modes, ring8_modes
    from jaxgan.metrics import mixture_metrics

    setups = {"ring8": (ring8_modes, RING8_SIGMA), "grid25": (grid25_modes, GRID25_SIGMA)}
    if name not in setups:
        raise ValueError(f"mixture metrics exist for {sorted(setups)}, got {name!r}")
    modes_fn, sigma = setups[name]
    modes = modes_fn()

    def evaluate(samples: np.ndarray) -> dict[str, float]:
        found = mixture_metrics(samples, modes, sigma)
        return {k: found[k] for k in ("modes", "high_quality", "reverse_kl")}

    evaluate.modes = modes  # type: ignore[attr-defined]  # marked in the scatter plots
    return evaluate


def stacked_mnist_evaluator(classifier: str = "mnist") -> Evaluator:
    """Return Stacked MNIST's mode count and KL (VEEGAN/PacGAN protocol) as a per-run evaluator.

    Each channel of a generated image is classified by a digit classifier; a mode is a digit
    triple, and the published protocol counts distinct triples in 26,000 samples and reports
    KL(p_gen ‖ uniform over 1,000) in nats (``jaxgan.metrics.stacked_mnist_modes``).

    Args:
        classifier: a ``jaxgan.metrics.load_classifier`` name or path (default: jaxgan's MNIST
            classifier, 99.35% on held-out MNIST test digits).

    Returns:
        ``images (num, 28, 28, 3) in [-1, 1] -> {"modes", "kl", "channel_kl"}``
        (``channel_kl``: the part of ``kl`` due to unbalanced digits within each channel).

    Example:
        >>> evaluate = stacked_mnist_evaluator()
        >>> sorted(evaluate(np.zeros((4, 28, 28, 3), np.float32)))
        ['channel_kl', 'kl', 'modes']

    """
    from jaxgan import metrics
    from jaxgan.metrics.modes import STACKED_MNIST_NUM_SAMPLES

    model = metrics.load_classifier(classifier)

    def evaluate(samples: np.ndarray) -> dict[str, float]:
        digits = metrics.stacked_mnist_digits(metrics.to_uint8(samples), model.predict)
        found = metrics.stacked_mnist_modes(digits)
        return {key: found[key] for key in ("modes", "kl", "channel_kl")}

    evaluate.num_samples = STACKED_MNIST_NUM_SAMPLES  # type: ignore[attr-defined]
    return evaluate


def evaluate_ensemble(
    stacked: GANState, evaluate: Evaluator, *, num_samples: int, key: Array | int = 0
) -> dict[str, Any]:
    """Evaluate every run with one metric function: per-run numbers and mean ± s.e.

    Args:
        stacked: an ensemble state.
        evaluate: ``samples (num_samples, ...) -> {metric: number}`` for one run, e.g.
            ``mixture_evaluator("ring8")``.
        num_samples: samples generated per run (PacGAN evaluates 2,500).
        key: key (or int seed) of the evaluation noise, shared by the runs.

    Returns:
        ``{"runs": [{metric: value} per run], "mean": {metric: float}, "se": {metric: float}}``.

    Example:
        >>> result = evaluate_ensemble(stacked, mixture_evaluator("ring8"), num_samples=2500)
        ...                            # doctest: +SKIP

    """
    runs = [dict(evaluate(s)) for s in sample_ensemble(stacked, key, num_samples)]
    stats = {name: mean_and_se([r[name] for r in runs]) for name in runs[0]}
    return {
        "runs": runs,
        "mean": {k: v[0] for k, v in stats.items()},
        "se": {k: v[1] for k, v in stats.items()},
    }


# ----------------------------------------------------------------------------- one call


def aggregate_runs(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[dict]:
    """Return mean ± s.e. of ``metrics`` over the seeds of each sweep setting.

    Args:
        rows: per-run rows with a ``"setting"`` label and the metric values.
        metrics: names of the numeric columns to aggregate.

    Returns:
        One row per setting: ``setting``, ``runs``, ``<metric>_mean``, ``<metric>_se``.

    Example:
        >>> aggregate_runs([{"setting": "a", "m": 1.0}, {"setting": "a", "m": 3.0}], ["m"])
        [{'setting': 'a', 'runs': 2, 'm_mean': 2.0, 'm_se': 1.0}]

    """
    settings: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        settings.setdefault(row["setting"], []).append(row)
    out = []
    for setting, members in settings.items():
        row: dict[str, Any] = {"setting": setting, "runs": len(members)}
        for name in metrics:
            row[f"{name}_mean"], row[f"{name}_se"] = mean_and_se([m[name] for m in members])
        out.append(row)
    return out


def _jsonable(value: Any) -> Any:
    """Nested summary → strict JSON values (NaN and inf become null)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _write_tables(out: Path, rows: list[dict], aggregate: list[dict], metrics: list[str]):
    """Write runs.csv, aggregate.csv and summary.md (aggregate table first, then the runs)."""
    for path, table in ((out / "runs.csv", rows), (out / "aggregate.csv", aggregate)):
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    cols = ["setting", "runs", *metrics]
    lines = ["## Mean ± s.e. over seeds", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "---|" * len(cols))
    for row in aggregate:
        cells = [row["setting"], str(row["runs"])]
        cells += [f"{_fmt(row[f'{m}_mean'])} ± {_fmt(row[f'{m}_se'])}" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Runs", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(_fmt(v) for v in row.values()) + " |" for row in rows]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def _save_plots(out: Path, samples: list[np.ndarray], titles: list[str], real, modes) -> None:
    """Per-run plots (jaxgan.viz) and one overview figure with a panel per run."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from jaxgan import viz

    for i, (fake, title) in enumerate(zip(samples, titles, strict=True)):
        path = out / "samples" / f"run_{i:03d}.png"
        if fake.ndim == 2:
            viz.save_scatter(fake, real, path, modes=modes, title=title)
        else:
            viz.save_image_grid(fake, path)
    cols = min(len(samples), 5)
    rows = math.ceil(len(samples) / cols)
    fig = Figure(figsize=(2.4 * cols, 2.4 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, fake, title in zip(axes, samples, titles, strict=False):
        ax.set_title(title, fontsize=7)
        if fake.ndim == 2:
            ax.scatter(real[:, 0], real[:, 1], s=1, c="0.75", linewidths=0)
            ax.scatter(fake[:, 0], fake[:, 1], s=1, c="tab:blue", linewidths=0)
            ax.set_aspect("equal", adjustable="datalim")
        else:
            grid = viz.image_grid(fake[:16])
            ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray")
    fig.savefig(out / "samples.png")


def run_ensemble(
    build_state_fn: BuildStateFn,
    data: Dataset | np.ndarray | Array | tuple[Any, Any],
    *,
    seeds: int | Sequence[int],
    steps: int,
    batch_size: int,
    out_dir: str | Path,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    combine: Literal["grid", "zip"] = "grid",
    evaluate: Evaluator | Literal["auto"] | None = "auto",
    num_samples: int | None = None,
    eval_seed: int = 0,
    data_order: Literal["per_run", "shared"] = "per_run",
    loop: Literal["auto", "scan", "python"] = "auto",
    steps_per_call: int = 100,
    plots: bool = True,
    overwrite: bool = False,
    runs_together: int | None = None,
    on_group: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train seeds × sweep settings as ensembles, evaluate every run, write one summary.

    Runs that share their static values train together in one compiled program (one per
    group), or ``runs_together`` at a time, one slice after another (slices of one size share
    their compiled program). Writes to ``out_dir``: ``summary.json`` (setup, per-run rows,
    mean ± s.e. per setting, per-slice timing), ``summary.md``, ``runs.csv``,
    ``aggregate.csv``, ``history.npz`` (each metric as an array (steps, runs)),
    ``samples.png`` (all runs) and ``samples/run_XXX.png``. Per-run training metrics are
    means over the last 10% of steps.

    Args:
        build_state_fn: ``(init_key, **build_values) -> GANState`` for one run (traceable).
        data: a ``jaxgan.data.Dataset`` (its labels are used for conditional GANs), an array
            (M, ...) of training examples or a ``(samples, labels)`` pair.
        seeds: runs per setting (seeds ``0..n-1``) or a list of seeds.
        steps: training iterations per run.
        batch_size: examples per D update.
        out_dir: output folder (created; must not hold a summary unless ``overwrite``).
        sweep: name → values (see ``plan_runs``), e.g. ``{"lr": [1e-4, 2e-4, 4e-4]}``.
        combine: ``"grid"`` or ``"zip"`` (see ``plan_runs``).
        evaluate: per-run metrics of generated samples; ``"auto"``: PacGAN's mixture metrics
            for the ``ring8``/``grid25`` datasets, none otherwise; None: training metrics only.
        num_samples: samples per run for evaluation and plots (default 2,500 for 2-D points,
            64 for images).
        eval_seed: seed of the evaluation noise (shared by all runs).
        data_order: ``"per_run"`` (run = ``fit`` with its own key) or ``"shared"`` (every run
            reads the first seed's order).
        loop: loop form, as in ``jaxgan.fit``.
        steps_per_call: iterations per compiled call.
        plots: write the sample plots.
        overwrite: replace an existing summary in ``out_dir``.
        runs_together: at most this many runs per vmapped program (None: a whole group). A
            run's result does not depend on it. On CPU, use 1 for conv nets: vmapped
            convolutions with per-run weights are slow there (3 runs of the width-16 Stacked
            MNIST DCGAN: 27 run-iterations/s in turn, 8 vmapped; docs/ensembles.md).
        on_group: called with each slice's timing entry (``summary["groups"]``) when it ends.

    Returns:
        The summary written to ``summary.json``: ``{"setup", "runs", "aggregate", "groups"}``.

    Example:
        >>> summary = run_ensemble(build_ring8, jaxgan.data.load("ring8"), seeds=10,
        ...                        steps=4000, batch_size=100, out_dir="runs/ring8_x10")
        ...                        # doctest: +SKIP

    """
    runs = plan_runs(seeds, sweep, combine=combine)
    _check_build_fn(build_state_fn, list(runs[0].build))
    if runs_together is not None and runs_together < 1:
        raise ValueError(f"runs_together must be at least 1 (or None), got {runs_together}")
    if data_order not in ("per_run", "shared"):
        raise ValueError(f"data_order must be 'per_run' or 'shared', got {data_order!r}")
    name = data.name if isinstance(data, Dataset) else None
    if evaluate == "auto":
        evaluate = _auto_evaluator(name)
    if evaluate is not None and not callable(evaluate):
        raise TypeError("evaluate must be a function samples -> {metric: value}, 'auto' or None")
    out = Path(out_dir)
    if (out / "summary.json").exists() and not overwrite:
        raise FileExistsError(f"{out} already holds an ensemble summary; pick another out_dir")
    if isinstance(data, Dataset):
        real = as_training_array(data.x)
        labels = None if data.y is None else jnp.asarray(data.y)
    elif isinstance(data, tuple | list):
        real, labels = _prepare_data(data)
    else:
        real, labels = as_training_array(data), None
    points = real.ndim == 2
    num_samples = num_samples or getattr(evaluate, "num_samples", 2500 if points else 64)
    out.mkdir(parents=True, exist_ok=True)

    rows: list[dict] = []
    samples: dict[int, np.ndarray] = {}
    history_out: dict[str, np.ndarray] = {}
    groups = []
    for group in _slices(group_runs(runs), runs_together):
        stacked, keys = create_ensemble(build_state_fn, group)
        conditional = stacked.config.num_classes is not None and labels is not None
        data_key = run_keys(runs[0].seed)[1] if data_order == "shared" else None
        started = time.perf_counter()
        stacked, history = fit_ensemble(
            stacked,
            (real, labels) if conditional else real,
            steps=steps,
            batch_size=batch_size,
            keys=keys,
            loop=loop,
            steps_per_call=steps_per_call,
            data_key=data_key,
        )
        seconds = time.perf_counter() - started
        groups.append(
            {
                "runs": [r.index for r in group],
                "static": dict(group[0].group_key),
                "seconds_with_compile": seconds,
                "run_iterations_per_second": len(group) * steps / seconds,
            }
        )
        if on_group is not None:
            on_group(groups[-1])
        group_samples = sample_ensemble(stacked, eval_seed, num_samples)
        window = max(1, steps // 10)
        for j, run in enumerate(group):
            row = {"run": run.index, "seed": run.seed, "setting": run.label, **run.hyperparams}
            for metric in _TRAIN_METRICS:
                row[metric] = float(history[metric][-window:, j].mean()) if steps else math.nan
            if evaluate is not None:
                row.update({k: float(v) for k, v in evaluate(group_samples[j]).items()})
            rows.append(row)
            samples[run.index] = group_samples[j]
        for metric, values in history.items():
            if metric != "step":
                column = history_out.setdefault(metric, np.full((steps, len(runs)), np.nan))
                column[:, [r.index for r in group]] = values
    rows.sort(key=lambda r: r["run"])
    metrics = [k for k in rows[0] if k not in ("run", "seed", "setting", *runs[0].hyperparams)]
    aggregate = aggregate_runs(rows, metrics)
    setup = {
        "data": name,
        "steps": steps,
        "batch_size": batch_size,
        "seeds": sorted({r.seed for r in runs}),
        "sweep": {k: list(v) for k, v in (sweep or {}).items()},
        "combine": combine,
        "data_order": data_order,
        "num_samples": num_samples,
        "eval_seed": eval_seed,
        "runs_together": runs_together,
    }
    summary = {"setup": setup, "runs": rows, "aggregate": aggregate, "groups": groups}
    (out / "summary.json").write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    _write_tables(out, rows, aggregate, metrics)
    np.savez(out / "history.npz", **history_out)
    if plots:
        background = np.asarray(real[:5000]) if points else None
        titles = [f"run {r['run']} (seed {r['seed']}) {r['setting']}" for r in rows]
        modes = getattr(evaluate, "modes", None)
        shown = [samples[r["run"]] if points else samples[r["run"]][:64] for r in rows]
        _save_plots(out, shown, titles, background, modes)
    return summary
