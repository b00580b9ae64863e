"""The training driver: compiled chunks of one pure update, and hooks on the host between them.

``fit`` is the one host loop of jaxgan. It places the dataset on the device once and runs chunks
of ``jaxgan.steps.train_update``, transformed by a ``Layout``: as is, split over a device mesh
(``jaxgan.sharding.DataParallel``), ``vmap``-ped over a stack of runs (``jaxgan.ensembles``), or
both. Between chunks it calls hooks ``hook(step, state, metrics)`` (``jaxgan.hooks``: metrics
log, progress bar, checkpoints, sample grids, metric tracking), which see the state exactly at
the steps they ask for.

Batches are drawn by index on the device: each epoch is a fresh permutation
``permutation(fold_in(data_key, epoch), N)`` (the remainder that does not fill a batch is
dropped), and iteration ``t`` reads the ``n_critic`` batch slots starting at ``t·n_critic``.
Everything is a function of the run's key and the state's counters, so stopping after any
iteration and calling ``fit`` again continues the exact same run.

Divergence is caught on the device: every iteration adds a flag, "all of this step's losses and
gradient norms are finite", to its metrics. The host reads the flags one chunk late with the
other metrics (no extra wait), and before every hook that writes the state (checkpoints, sample
grids: ``hook.needs_finite``), where it also checks the state itself. ``on_nonfinite="stop"``
raises ``NonFiniteError`` naming the first bad step; ``"warn"`` warns once and skips those hooks
while the state is not finite. Either way no non-finite state is handed to them.

Two loop forms run the same pure update:

- ``"scan"``: ``steps_per_call`` iterations inside one ``lax.scan`` (one dispatch per call);
- ``"python"``: a Python loop over the jitted iteration (one dispatch per iteration).

``"auto"`` picks scan on GPU and TPU, where dispatch dominates small models; on CPU scan only for
models without convolutions below ``SCAN_FLOPS_LIMIT_CPU`` FLOPs per iteration (e.g. the seed
MLP), since XLA:CPU runs convolutions inside a loop body several times slower than as a top-level
program (measurements in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxgan.data import to_model_input, uint8_to_unit_range
from jaxgan.sharding import DataParallel, as_data_parallel
from jaxgan.state import GANState, check_labels
from jaxgan.steps import train_update
from jaxgan.xla_cpu import DEFAULT_CPU_CONVOLUTIONS, check_cpu_convolutions
from jaxgan.xla_cpu import jit as cpu_jit

Array = jax.Array
LoopForm = Literal["auto", "scan", "python"]
History = dict[str, np.ndarray]
Metrics = dict[str, Any]
"""A hook's metrics: each metric as a device array with one row per iteration, and ``"step"``."""

SCAN_FLOPS_LIMIT_CPU = 2e9
"""FLOPs per iteration below which ``loop="auto"`` scans on CPU."""

FINITE = "finite"
"""The per-iteration flag the driver adds on the device: all of the step's metrics are finite."""

NonFinitePolicy = Literal["stop", "warn"] | None


class NonFiniteError(FloatingPointError):
    """Training produced a non-finite loss, gradient norm or state (``on_nonfinite="stop"``).

    Attributes:
        step: the first step whose metrics (or state) are not finite.
        runs: the runs of a stack that diverged (None for a single run).

    Example:
        >>> NonFiniteError("training diverged at step 3", step=3).step
        3

    """

    def __init__(self, message: str, *, step: int, runs: list[int] | None = None):
        super().__init__(message)
        self.step, self.runs = step, runs


class NonFiniteWarning(RuntimeWarning):
    """Training produced non-finite values and goes on (``on_nonfinite="warn"``)."""


_DATA_STREAM = 2


class Hook(Protocol):
    """What ``fit`` calls between chunks: ``hook(step, state, metrics)``.

    ``every``: the hook's period in iterations (``fit`` ends a chunk at each multiple and at the
    last step, and calls the hook there); None calls it after every chunk. ``state`` is the live
    state (device arrays, donated to the next chunk: copy what you keep); reading it waits for
    the chunk. ``metrics`` holds the iterations since the hook's previous call. An optional
    ``flush()`` runs when ``fit`` returns (and on the way out of an error). A hook with a true
    ``needs_finite`` attribute (checkpoints, sample grids) is called only when the metrics so
    far and the state are finite.
    """

    every: int | None

    def __call__(self, step: int, state: Any, metrics: Metrics) -> None:
        """Act at ``step``."""


@jax.jit(static_argnames=("num_slots", "num_examples", "batch_size"))
def batch_indices(
    data_key: Array, first_slot: Array, *, num_slots: int, num_examples: int, batch_size: int
) -> Array:
    """Dataset indices of ``num_slots`` consecutive batch slots, shape (num_slots, batch_size).

    Slot ``b`` belongs to epoch ``b // per_epoch`` (``per_epoch = num_examples // batch_size``)
    and reads that epoch's permutation at position ``b % per_epoch``.

    Args:
        data_key: key of the data order.
        first_slot: index of the first slot (int32 scalar).
        num_slots: number of slots to return (static).
        num_examples: dataset size N (static).
        batch_size: examples per slot (static).

    Returns:
        int32 array (num_slots, batch_size).

    Example:
        >>> batch_indices(jax.random.key(0), 0, num_slots=2, num_examples=10, batch_size=4).shape
        (2, 4)

    """
    per_epoch = num_examples // batch_size
    num_epochs = math.ceil(num_slots / per_epoch) + 1
    first_epoch = first_slot // per_epoch
    perms = jax.vmap(
        lambda e: jax.random.permutation(jax.random.fold_in(data_key, e), num_examples)[
            : per_epoch * batch_size
        ]
    )(first_epoch + jnp.arange(num_epochs))
    slots = perms.reshape((num_epochs * per_epoch, batch_size))
    return jax.lax.dynamic_slice_in_dim(slots, first_slot - first_epoch * per_epoch, num_slots)


TrainingData = Array | tuple[Array, Array]


@dataclasses.dataclass(frozen=True)
class Layout:
    """How the one pure ``train_update`` is transformed for a call of the driver.

    Hashable, so it is a static argument of the compiled chunk functions; equal layouts share
    compiled code.

    Attributes:
        plan: split every batch over a device mesh (``jaxgan.sharding.DataParallel``), or None.
        runs: the state is a stack of runs (``jaxgan.ensembles``): ``vmap`` over its leading axis.
        check_finite: add the per-iteration ``FINITE`` flag to the metrics.

    Example:
        >>> Layout(runs=True).update is not None
        True

    """

    plan: DataParallel | None = None
    runs: bool = False
    check_finite: bool = True

    @property
    def update(self) -> Callable[[Any, Any, Array], tuple[Any, dict[str, Array]]]:
        """``train_update`` under this layout's data-parallel plan (the run axis is added later)."""
        return train_update if self.plan is None else self.plan.wrap(train_update)


def _iteration(state: Any, data: TrainingData, indices: Array, key: Array, layout: Layout):
    """Run one iteration reading its batch by indices from the on-device data.

    ``indices`` is (n_critic, B) for one run or for runs sharing one data order, and
    (N, n_critic, B) for N runs with their own orders.
    """
    update = layout.update

    def one(s: Any, idx: Array, k: Array):
        new, metrics = update(s, jax.tree.map(lambda a: a[idx.reshape(-1)], data), k)
        if layout.check_finite:
            flags = [jnp.isfinite(value).all() for value in metrics.values()]
            metrics = {**metrics, FINITE: jnp.stack(flags).all()}
        return new, metrics

    if not layout.runs:
        return one(state, indices, key)
    return jax.vmap(one, in_axes=(0, 0 if indices.ndim == 3 else None, 0))(state, indices, key)


@functools.partial(cpu_jit, donate_argnums=0, static_argnames="layout")
def _scan_chunk(
    state: Any, data: TrainingData, indices: Array, active: Array, key: Array, layout: Layout
):
    """Run ``len(indices)`` iterations in one ``lax.scan``, skipping those with ``active=False``.

    A fixed chunk length with a mask keeps one compiled program for every chunk, including the
    last partial one, so results do not depend on where chunks start (exact resume).
    """

    def body(carry, inputs):
        idx, on = inputs
        new, metrics = _iteration(carry, data, idx, key, layout)
        carry = jax.tree.map(lambda a, b: jnp.where(on, a, b), new, carry)
        return carry, metrics

    return jax.lax.scan(body, state, (indices, active))


@functools.partial(cpu_jit, donate_argnums=0, static_argnames="layout")
def _python_step(
    state: Any, data: TrainingData, indices: Array, i: Array, key: Array, layout: Layout
):
    """Run iteration ``i`` of an index block (the Python-loop form)."""
    return _iteration(state, data, indices[i], key, layout)


@jax.jit(static_argnames=("steps_per_call", "n_critic", "num_examples", "batch_size"))
def _chunk_indices(
    data_keys: Array,
    first_slot: Array,
    *,
    steps_per_call: int,
    n_critic: int,
    num_examples: int,
    batch_size: int,
) -> Array:
    """Batch indices of a chunk: (steps_per_call, [N,] n_critic, B).

    One data key gives one order; an (N,) array of keys gives each run its own order.
    """

    def of(key: Array) -> Array:
        return batch_indices(
            key,
            first_slot,
            num_slots=steps_per_call * n_critic,
            num_examples=num_examples,
            batch_size=batch_size,
        ).reshape((steps_per_call, n_critic, batch_size))

    if data_keys.ndim == 0:
        return of(data_keys)
    return jnp.moveaxis(jax.vmap(of)(data_keys), 0, 1)  # iteration axis first, then runs


def choose_loop(state: GANState, data: TrainingData, batch_size: int) -> Literal["scan", "python"]:
    """Pick the loop form ``fit(loop="auto")`` uses on the current default backend.

    Args:
        state: the training state.
        data: the training array (only its shape and dtype are used).
        batch_size: examples per D update.

    Returns:
        ``"scan"`` or ``"python"``.

    Example:
        >>> choose_loop(state, np.zeros((128, 28, 28, 1), np.float32), 64)  # CPU, an MLP
        'scan'

    """
    if jax.default_backend() != "cpu":
        return "scan"
    signature = (
        jax.tree.structure(state),
        tuple((x.shape, x.dtype) for x in jax.tree.leaves((state, data))),
        batch_size,
    )
    if signature not in _LOOP_CHOICES:
        _LOOP_CHOICES[signature] = _measured_choice(state, data, batch_size)
    return _LOOP_CHOICES[signature]


_LOOP_CHOICES: dict[tuple, Literal["scan", "python"]] = {}
"""``choose_loop`` decisions by state structure, shapes and batch size (lowering costs ~50 ms)."""


def _measured_choice(
    state: GANState, data: TrainingData, batch_size: int
) -> Literal["scan", "python"]:
    """Apply the CPU rule of ``choose_loop`` to the lowered iteration."""
    indices = jax.ShapeDtypeStruct((state.config.n_critic, batch_size), jnp.int32)
    lowered = jax.jit(_iteration, static_argnames="layout").lower(
        state, data, indices, jax.random.key(0), layout=Layout()
    )
    if "convolution" in lowered.as_text():
        return "python"  # XLA:CPU runs convolutions inside a loop body slower (RESULTS.md)
    flops = (lowered.cost_analysis() or {}).get("flops", float("inf"))
    return "scan" if flops < SCAN_FLOPS_LIMIT_CPU else "python"


def _prepare_data(data) -> TrainingData:
    """Put samples (and labels, for a ``(samples, labels)`` pair) on the device."""
    if isinstance(data, tuple | list):
        if len(data) != 2:
            raise ValueError("data must be samples or a (samples, labels) pair")
        return _as_training_array(data[0]), jnp.asarray(data[1])
    return _as_training_array(data)


def _as_training_array(data: Any) -> Array:
    if isinstance(data, jax.Array):  # keep its placement (e.g. rows split over processes)
        if data.dtype == jnp.uint8:
            return uint8_to_unit_range(data)
        if jnp.issubdtype(data.dtype, jnp.floating):
            return data.astype(jnp.float32)
    try:
        return to_model_input(data)
    except TypeError:
        raise TypeError(
            f"training data must be uint8 images or floats, got dtype {np.asarray(data).dtype}"
        ) from None


def _validate(
    state: GANState, data: TrainingData, steps: int, batch_size: int, steps_per_call: int
):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(steps_per_call, int) or steps_per_call < 1:
        raise ValueError(f"steps_per_call must be a positive integer, got {steps_per_call!r}")
    data, labels = data if isinstance(data, tuple) else (data, None)
    check_labels(state, labels, data.shape[0])
    if data.ndim < 2:
        raise ValueError(
            f"data must have shape (N, ...) with one row per example, got {data.shape}"
        )
    if batch_size > data.shape[0]:
        raise ValueError(
            f"batch_size {batch_size} is larger than the dataset ({data.shape[0]} examples); "
            "lower --batch-size or use more data"
        )
    z = jax.ShapeDtypeStruct((1, state.config.latent_dim), jnp.float32)
    fake_labels = None if labels is None else jax.ShapeDtypeStruct((1,), jnp.int32)
    fake = jax.eval_shape(
        lambda s, z, y: s.generator.apply(s.generator.params, z, y, train=False)[0],
        state,
        z,
        fake_labels,
    )
    if tuple(fake.shape[1:]) != tuple(data.shape[1:]):
        raise ValueError(
            f"data examples have shape {tuple(data.shape[1:])} but the generator makes "
            f"{tuple(fake.shape[1:])}; choose a model for this data (e.g. image_shape=...)"
        )


def _as_keys(key: Array | int) -> Array:
    """Return a typed PRNG key (or (N,) keys, one per run) from a key or an int seed."""
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
        raise TypeError(f"key must be an int seed or a typed key from jax.random.key, got {key!r}")
    if key.ndim > 1:
        raise ValueError(f"key must be one key or (N,) keys, one per run, got shape {key.shape}")
    return key


def _one_run(stacked: Any) -> Any:
    """Return the shapes of one run of a stacked state (for validation and the loop choice)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), stacked)


def _check_stack(state: GANState, keys: Array) -> GANState:
    """Check that ``state`` stacks one run per key, all at one step; return one run's shapes."""
    sizes = {leaf.shape[0] if leaf.ndim else None for leaf in jax.tree.leaves(state)}
    if sizes != {keys.shape[0]}:
        raise ValueError(
            f"{keys.shape[0]} keys need a state stacked over {keys.shape[0]} runs "
            "(jaxgan.ensembles.create_ensemble / stack_states), got leading sizes "
            f"{sorted(s for s in sizes if s is not None)}"
        )
    counters = np.asarray(state.g_updates)
    if (counters != counters[0]).any():
        raise ValueError(f"runs are at different steps {counters.tolist()}; train them apart")
    return _one_run(state)


def fit(
    state: GANState,
    data: np.ndarray | Array | tuple,
    *,
    steps: int,
    batch_size: int = 64,
    key: Array | int = 0,
    loop: LoopForm = "auto",
    steps_per_call: int = 100,
    hooks: Sequence[Hook] = (),
    on_chunk: Callable[[int, History], None] | None = None,
    mesh: Mesh | DataParallel | None = None,
    data_key: Array | None = None,
    on_nonfinite: NonFinitePolicy = "stop",
    cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS,
) -> tuple[GANState, History]:
    """Train for ``steps`` iterations on an on-device dataset; return the new state and history.

    The one training driver of jaxgan: the host runs compiled chunks of the pure
    ``jaxgan.steps.train_update`` (under a data-parallel plan with ``mesh``, ``vmap``-ped over
    runs when ``key`` holds one key per run of a stacked state) and calls ``hooks`` between
    chunks. Chunks end at every multiple of each hook's ``every`` and at the last step, so a
    hook sees the state exactly at its step. The input state is donated (do not reuse it).
    Metrics of a chunk are fetched to the host only after the next chunk has been dispatched.

    Args:
        state: the training state (or a stack of N runs); training continues from its step.
        data: (M, ...) training examples: uint8 images or floats (images in [-1, 1]); for a
            conditional GAN a ``(samples, labels)`` pair. Runs of a stack share it.
        steps: number of iterations (each ``n_critic`` D updates + one G update).
        batch_size: examples per D update (global over the mesh).
        key: the run's base key or an int seed (pass the same key when resuming); for a stack,
            an (N,) key array, one per run.
        loop: ``"auto"``, ``"scan"`` or ``"python"`` (see the module docstring).
        steps_per_call: iterations per compiled call (scan) or per index block (python).
        hooks: ``jaxgan.hooks`` objects (or any ``Hook``), called as
            ``hook(step, state, metrics)`` on the host; ``hook.flush()`` runs at the end.
        on_chunk: called on the host as ``on_chunk(step_after_chunk, chunk_metrics)`` with
            numpy metrics, one chunk late (a shorthand for a metrics-only hook).
        mesh: train data-parallel over this device mesh (``jaxgan.sharding.data_mesh``) or
            by a ``jaxgan.sharding.DataParallel`` plan; ``batch_size`` must divide by the
            device count. None trains on the default device.
        data_key: read the data in the order derived from this key instead of from ``key``
            (for a stack: every run reads this one order).
        on_nonfinite: what a non-finite loss, gradient norm or state does: ``"stop"`` raises
            ``NonFiniteError`` naming the first bad step (one chunk late, or before a hook
            that writes the state); ``"warn"`` warns once (``NonFiniteWarning``), trains on and
            skips hooks with ``needs_finite`` while the state is not finite; None computes no
            flags (for measurements).
        cpu_convolutions: XLA:CPU's convolution library for the compiled chunks (other
            backends ignore it): ``"eigen"`` (the default; faster on the CPUs measured) or
            ``"ynnpack"`` (XLA's own default). They agree to float32 rounding
            (``jaxgan.xla_cpu``).

    Returns:
        ``(state, history)``; history maps each metric name to a numpy array with one value per
        iteration (shape (steps, N) for a stack), and ``"step"`` to the steps.

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
        >>> images = np.zeros((128, 28, 28, 1), np.uint8)
        >>> state, history = fit(state, images, steps=3, batch_size=32, key=1)
        >>> history["step"].tolist()
        [1, 2, 3]

    """
    keys = _as_keys(key)
    runs = keys.ndim == 1
    data = _prepare_data(data)
    one = _check_stack(state, keys) if runs else state
    _validate(one, data, steps, batch_size, steps_per_call)
    if on_nonfinite not in ("stop", "warn", None):
        raise ValueError(f"on_nonfinite must be 'stop', 'warn' or None, got {on_nonfinite!r}")
    check_cpu_convolutions(cpu_convolutions)
    if loop not in ("auto", "scan", "python"):
        raise ValueError(f"loop must be 'auto', 'scan' or 'python', got {loop!r}")
    plan = None if mesh is None else as_data_parallel(mesh)
    if plan is not None:
        plan.check_batch(batch_size)  # before choose_loop, which lowers an iteration
    if loop == "auto":
        loop = choose_loop(one, data, batch_size)
    if plan is not None:
        state, data, keys = plan.place_state(state), plan.place_data(data), plan.replicate(keys)
    order = keys if data_key is None else _as_keys(data_key)
    if order.ndim:
        data_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(order, _DATA_STREAM)
    else:
        data_keys = jax.random.fold_in(order, _DATA_STREAM)
    start = int(np.asarray(state.g_updates).reshape(-1)[0])
    n_critic = one.config.n_critic
    num_examples = jax.tree.leaves(data)[0].shape[0]
    layout = Layout(plan, runs, check_finite=on_nonfinite is not None)
    all_hooks = list(hooks) if on_chunk is None else [*hooks, ChunkCallback(on_chunk)]
    for hook in all_hooks:
        _check_hook(hook)
    guard = _FiniteGuard(on_nonfinite, runs)

    def indices(first_step: int) -> Array:
        first_slot = jnp.asarray(first_step * n_critic, jnp.int32)
        return _chunk_indices(
            data_keys,
            first_slot,
            steps_per_call=steps_per_call,
            n_critic=n_critic,
            num_examples=num_examples,
            batch_size=batch_size,
        )

    pending: tuple[int, dict[str, Array]] | None = None
    history: dict[str, list[np.ndarray]] = {}
    windows: dict[int, list[dict[str, Array]]] = {id(hook): [] for hook in all_hooks}

    def collect(done: tuple[int, dict[str, Array]]) -> None:
        end, metrics = done
        host = _host(end, metrics)
        guard.check_chunk(end, host)
        for name, value in host.items():
            history.setdefault(name, []).append(value)

    step, end = start, start + steps
    try:
        while step < end:
            stop = _next_stop(step, end, steps_per_call, all_hooks)
            count = stop - step
            block = indices(step)
            if loop == "scan":
                active = jnp.arange(steps_per_call) < count
                state, metrics = _scan_chunk(
                    state,
                    data,
                    block,
                    active,
                    keys,
                    layout=layout,
                    cpu_convolutions=cpu_convolutions,
                )
                metrics = jax.tree.map(lambda m, c=count: m[:c], metrics)
            else:
                per_step = []
                for i in range(count):
                    state, m = _python_step(
                        state,
                        data,
                        block,
                        jnp.int32(i),
                        keys,
                        layout=layout,
                        cpu_convolutions=cpu_convolutions,
                    )
                    per_step.append(m)
                metrics = jax.tree.map(lambda *ms: jnp.stack(ms), *per_step)
            step = stop
            guard.add_chunk(step, metrics)
            if pending is not None:
                collect(pending)
            pending = (step, metrics)
            visible = {k: v for k, v in metrics.items() if k != FINITE}
            for hook in all_hooks:
                windows[id(hook)].append(visible)
                if _due(hook, step, end):
                    writes = getattr(hook, "needs_finite", False)
                    if not writes or guard.state_is_finite(step, state):
                        hook(step, state, _window(step, windows[id(hook)]))
                    windows[id(hook)] = []
        if pending is not None:
            collect(pending)
    except BaseException:
        _flush_quietly(all_hooks)  # keep what the hooks hold (e.g. the log rows up to the error)
        raise
    for hook in all_hooks:
        flush = getattr(hook, "flush", None)
        if flush is not None:
            flush()
    return state, {name: np.concatenate(parts) for name, parts in history.items()}


def _flush_quietly(hooks: Sequence[Hook]) -> None:
    """Flush every hook on the way out of an error; their own errors must not hide it."""
    for hook in hooks:
        flush = getattr(hook, "flush", None)
        if flush is not None:
            with contextlib.suppress(Exception):  # the error being raised is the one to report
                flush()


#: Most elements :func:`_finite_runs` concatenates into one buffer (64 MiB of float32): few
#: reductions to compile, and a bounded transient copy however large the state.
_FINITE_BUCKET = 1 << 24


@jax.jit
def _finite_runs(state: Any) -> Array:
    """Whether every float of the state is finite: a scalar, or one flag per run of a stack.

    Leaves of one dtype are concatenated into buckets of at most :data:`_FINITE_BUCKET` elements
    and each bucket is reduced once: a reduction per leaf made the program 6–13× slower to
    compile (a DCGAN state has 73 leaves) for the same result.
    """
    runs = np.ndim(getattr(state, "g_updates", 0)) == 1  # a stack of runs: one flag each
    buckets: dict[Any, list[list[Array]]] = {}
    for x in jax.tree.leaves(state):
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            continue
        rows = x.reshape((x.shape[0], -1)) if runs else x.reshape(-1)
        same_dtype = buckets.setdefault(x.dtype, [[]])
        if same_dtype[-1] and sum(b.size for b in same_dtype[-1]) + rows.size > _FINITE_BUCKET:
            same_dtype.append([])
        same_dtype[-1].append(rows)
    flags = [
        jnp.isfinite(jnp.concatenate(bucket, axis=-1)).all(-1)
        for same_dtype in buckets.values()
        for bucket in same_dtype
    ]
    return jnp.stack(flags).all(0)


def finite_state(state: Any) -> bool:
    """Whether every float array of a state (every run of a stack) is finite.

    One reduction on the device; used before a state is written.

    Args:
        state: a ``GANState`` or a stack of runs.

    Returns:
        True when no parameter, statistic or optimiser value is NaN or infinite.

    Example:
        >>> finite_state(state)  # a state just built by jaxgan.create_state
        True

    """
    return bool(np.asarray(_finite_runs(state)).all())


class _FiniteGuard:
    """Apply ``fit``'s ``on_nonfinite`` policy to the per-iteration flags and to the state."""

    def __init__(self, policy: NonFinitePolicy, runs: bool):
        self.policy, self.runs = policy, runs
        self.unchecked: list[tuple[int, dict[str, Array]]] = []  # chunks: (last step, metrics)
        self.warned = False

    def add_chunk(self, end: int, metrics: dict[str, Array]) -> None:
        if self.policy is not None:
            self.unchecked.append((end, metrics))

    def check_chunk(self, end: int, host: History) -> None:
        """Check a chunk's flags, already on the host with its metrics (one chunk late)."""
        if self.policy is None:
            return
        self.unchecked = [(e, m) for e, m in self.unchecked if e > end]
        self._check(host)

    def state_is_finite(self, step: int, state: Any) -> bool:
        """Before a hook that writes the state: check every chunk so far, then the state."""
        if self.policy is None:
            return True
        for end, metrics in self.unchecked:
            if not np.asarray(metrics[FINITE]).all():
                return self._check(_host(end, metrics))
        self.unchecked = []
        finite = np.asarray(_finite_runs(state))
        if finite.all():
            return True
        runs = np.flatnonzero(~finite).tolist() if self.runs else None
        self._diverged(step, runs, "the parameters or optimiser state are not finite")
        return False

    def _check(self, host: History) -> bool:
        flags = np.asarray(host.pop(FINITE))
        if flags.all():
            return True
        row = int(np.argmin(flags.reshape(len(flags), -1).all(-1)))
        runs = np.flatnonzero(~flags[row]).tolist() if self.runs else None
        names = [
            f"{name} {np.ravel(values[row])[~np.isfinite(np.ravel(values[row]))][0]}"
            for name, values in host.items()
            if name != "step" and not np.isfinite(values[row]).all()
        ]
        self._diverged(int(host["step"][row]), runs, ", ".join(names) or "a metric not finite")
        return False

    def _diverged(self, step: int, runs: list[int] | None, what: str) -> None:
        who = (
            "training"
            if runs is None
            else f"run{'s' if len(runs) > 1 else ''} " + ", ".join(map(str, runs))
        )
        message = f"{who} diverged at step {step} ({what})"
        if self.policy == "stop":
            raise NonFiniteError(message, step=step, runs=runs)
        if not self.warned:
            warnings.warn(
                f"{message}; training goes on (on_nonfinite='warn') but no state is written "
                "while it is not finite",
                NonFiniteWarning,
                stacklevel=4,
            )
            self.warned = True


def _check_hook(hook: Any) -> None:
    every = getattr(hook, "every", None)
    if not callable(hook):
        raise TypeError(f"a hook must be callable as hook(step, state, metrics), got {hook!r}")
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"hook.every must be a positive integer or None, got {every!r}")


def _next_stop(step: int, end: int, steps_per_call: int, hooks: Sequence[Hook]) -> int:
    """Return where the next chunk ends: steps_per_call on at most, at hook periods and the end."""
    stops = [end, step + steps_per_call]
    for hook in hooks:
        every = getattr(hook, "every", None)
        if every is not None:
            stops.append((step // every + 1) * every)
    return min(stops)


def _due(hook: Hook, step: int, end: int) -> bool:
    every = getattr(hook, "every", None)
    return every is None or step % every == 0 or step == end


def _window(step: int, chunks: list[dict[str, Array]]) -> Metrics:
    """Merge the chunk metrics since a hook's last call (device arrays) and add their steps."""
    merged = chunks[0]
    if len(chunks) > 1:
        merged = jax.tree.map(lambda *c: jnp.concatenate(c), *chunks)
    count = len(next(iter(merged.values())))
    return {**merged, "step": np.arange(step - count + 1, step + 1)}


def _host(end: int, metrics: dict[str, Array]) -> History:
    """Fetch a chunk's metrics to numpy, adding the steps they belong to."""
    host = {name: np.asarray(value) for name, value in metrics.items()}
    count = len(next(iter(host.values())))
    host["step"] = np.arange(end - count + 1, end + 1)
    return host


class DeferredHook:
    """A hook that handles each call's metrics on its next call, or at ``flush``.

    Fetching a chunk's metrics waits for that chunk; handling them one call late keeps the
    device busy. Subclasses implement ``handle(step, metrics)`` with numpy metrics.

    Example:
        >>> class Last(DeferredHook):
        ...     def handle(self, step, metrics):
        ...         print(step, metrics["d_loss"].tolist())
        >>> hook = Last()
        >>> hook(2, None, {"d_loss": jnp.zeros(2), "step": np.arange(1, 3)})
        >>> hook.flush()
        2 [0.0, 0.0]

    """

    every: int | None = None

    def __init__(self) -> None:
        self._pending: tuple[int, Metrics] | None = None

    def __call__(self, step: int, state: Any, metrics: Metrics) -> None:
        """Handle the previous call's metrics and keep this call's for the next one."""
        self.flush()
        self._pending = (step, metrics)

    def flush(self) -> None:
        """Handle the metrics still held (the driver calls this at the end of ``fit``)."""
        if self._pending is not None:
            step, metrics = self._pending
            self._pending = None
            self.handle(step, {name: np.asarray(value) for name, value in metrics.items()})

    def handle(self, step: int, metrics: History) -> None:
        """Act on the numpy metrics of the iterations ending at ``step``."""
        raise NotImplementedError


class ChunkCallback(DeferredHook):
    """A hook that hands each chunk's metrics, as numpy, to a function one chunk late.

    Args:
        fn: called as ``fn(step_after_chunk, metrics)``.

    Example:
        >>> seen = []
        >>> hook = ChunkCallback(lambda step, m: seen.append(step))
        >>> hook(2, None, {"d_loss": jnp.zeros(2), "step": np.arange(1, 3)}); seen
        []
        >>> hook.flush(); seen
        [2]

    """

    def __init__(self, fn: Callable[[int, History], None]):
        super().__init__()
        self.fn = fn

    def handle(self, step: int, metrics: History) -> None:
        """Call the function."""
        self.fn(step, metrics)
