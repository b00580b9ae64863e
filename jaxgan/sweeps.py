"""Sweep planning: seeds × hyperparameter values → the runs of an ensemble.

``plan_runs`` lists runs (``RunSpec``: index, seed, swept values), ``parse_sweep`` reads the
command line's ``name=v1,v2``, ``group_runs`` groups runs that can share one compiled program and
``slices`` cuts groups into pieces of at most K runs. ``run_keys`` derives a run's keys from its
seed, the same way for an ensemble member and for ``jaxgan train --seed``.

What a sweep can vary:

- optimiser hyperparameters kept in the optax state by ``optax.inject_hyperparams``
  (``OPTIMIZER_HYPERPARAMS``: lr, b1, b2, eps, with ``g_``/``d_`` prefixes for one player):
  per run, in one program, no recompilation;
- ``StepConfig`` fields (``STATIC_HYPERPARAMS``: derived from the dataclass) are static: runs are
  grouped per value, one compiled program per group;
- any other name is passed to ``build_state_fn(init_key, **{name: value})`` (architecture
  choices such as a PacGAN ``pack``), also one program per value.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

import jax
import numpy as np

from jaxgan.state import StepConfig

Array = jax.Array
Value = float | int | str | bool

OPTAX_NAMES = {"lr": "learning_rate", "learning_rate": "learning_rate", "b1": "b1", "b2": "b2",
                "eps": "eps", "eps_root": "eps_root"}  # fmt: skip

OPTIMIZER_HYPERPARAMS = frozenset(p + n for p in ("", "g_", "d_") for n in OPTAX_NAMES)
"""Sweep names set per run in the optax state (no prefix: both players)."""


_STATE_SHAPING = ("latent_dim", "num_classes", "pack", "ema_decay", "conditioning")

STATIC_HYPERPARAMS = tuple(
    f.name for f in dataclasses.fields(StepConfig) if f.name not in _STATE_SHAPING
)
"""``StepConfig`` fields a sweep sets on the built state: all but those that shape the state.

The others (``latent_dim``, ``num_classes``, ``pack``, ``ema_decay``, ``conditioning``) change the
models or the state's structure, so they go to ``build_state_fn`` like architecture choices.
"""


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


class RunKeys(NamedTuple):
    """The independent PRNG keys of a run, all derived from its seed.

    Attributes:
        init: model initialisation.
        train: the base key of training (data order, noise, dropout).
        noise: the fixed noise of the sample grids.

    """

    init: Array
    train: Array
    noise: Array


def run_keys(seed: int) -> RunKeys:
    """Derive the initialisation, training and sample-noise keys of the run with this seed.

    ``jax.random.split(jax.random.key(seed), 3)``: the same for ``jaxgan train --seed s`` and
    for the ensemble member with seed ``s``.

    Args:
        seed: a non-negative integer.

    Returns:
        A ``RunKeys``.

    Example:
        >>> keys = run_keys(0)
        >>> keys.init.shape
        ()

    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"a seed must be an integer, got {seed!r}")
    if not 0 <= int(seed) < 2**32:  # jax.random.key keeps 32 bits: 2**32 would repeat 0
        raise ValueError(f"a seed must be in [0, 2**32), got {seed}")
    return RunKeys(*jax.random.split(jax.random.key(int(seed)), 3))


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


def check_sweep_value(name: str, value: Any) -> Value:
    """Validate one sweep value for ``name`` and return it in its canonical Python type.

    Args:
        name: the swept name (an optimiser hyperparameter, a ``StepConfig`` field, or a
            keyword of the state builder).
        value: the value.

    Returns:
        The value as float, int, str or bool.

    Example:
        >>> check_sweep_value("n_critic", 5)
        5

    """
    if name == "seed":
        raise ValueError("seed is not a sweep name; pass seeds=... (the runs of every setting)")
    if not name.isidentifier():
        raise ValueError(f"sweep names are identifiers such as lr or n_critic, got {name!r}")
    number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if name in OPTIMIZER_HYPERPARAMS:
        if not number or not math.isfinite(value):
            raise TypeError(f"{name} values must be finite numbers, got {value!r}")
        base = OPTAX_NAMES[name[2:] if name[:2] in ("g_", "d_") else name]
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
        columns.append([check_sweep_value(name, v) for v in values])
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
        values.append(check_sweep_value(name, value))
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


def slices(groups: list[list[RunSpec]], size: int | None) -> list[list[RunSpec]]:
    """Cut every group into consecutive slices of at most ``size`` runs (None: keep whole).

    Args:
        groups: the groups of ``group_runs``.
        size: the most runs per slice, or None.

    Returns:
        The slices, in order.

    Example:
        >>> [len(s) for s in slices(group_runs(plan_runs(3)), 2)]
        [2, 1]

    """
    if size is None:
        return groups
    return [group[i : i + size] for group in groups for i in range(0, len(group), size)]
