"""``fit``: train on a dataset that lives on the device, many iterations per compiled call.

The dataset is placed on the device once. Batches are drawn by index on the device: each epoch is
a fresh permutation ``permutation(fold_in(data_key, epoch), N)`` (the remainder that does not fill
a batch is dropped), and iteration ``t`` reads the ``n_critic`` batch slots starting at
``t·n_critic``.
Everything is a function of the run's key and the state's counters, so stopping after any
iteration and calling ``fit`` again continues the exact same run.

Two loop forms run the same pure ``train_update``:

- ``"scan"``: ``steps_per_call`` iterations inside one ``lax.scan`` (one dispatch per call);
- ``"python"``: a Python loop over the jitted iteration (one dispatch per iteration).

``"auto"`` picks from measurements (benchmarks/RESULTS.md, ../shared/ANCHORS.md): scan on GPU
and TPU, where dispatch dominates small models; on CPU scan only for launch-bound models without
convolutions (below ``SCAN_FLOPS_LIMIT_CPU`` FLOPs per iteration, e.g. the seed MLP), since
XLA:CPU runs convolutions inside a loop body several times slower than as a top-level program
(≈9× for DCGAN at width 64, ≈5× at width 8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxgan.sharding import DataParallel, as_data_parallel
from jaxgan.state import GANState, check_labels
from jaxgan.steps import train_update

Array = jax.Array
LoopForm = Literal["auto", "scan", "python"]
History = dict[str, np.ndarray]

SCAN_FLOPS_LIMIT_CPU = 2e9
"""FLOPs per iteration below which ``loop="auto"`` scans on CPU."""

_DATA_STREAM = 2


def as_training_array(data: np.ndarray | Array) -> Array:
    """Put a dataset on the default device as float32, mapping uint8 images to [-1, 1].

    Args:
        data: (N, ...) array; uint8 is treated as images (x / 127.5 − 1), floats pass unchanged.

    Returns:
        A float32 ``jax.Array`` on the device.

    Example:
        >>> float(as_training_array(np.array([[0, 255]], np.uint8)).max())
        1.0

    """
    data = jnp.asarray(data)
    if data.dtype == jnp.uint8:
        return data.astype(jnp.float32) / 127.5 - 1.0
    if not jnp.issubdtype(data.dtype, jnp.floating):
        raise TypeError(f"training data must be uint8 images or floats, got dtype {data.dtype}")
    return data.astype(jnp.float32)


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


def _iteration(
    state: GANState,
    data: TrainingData,
    indices: Array,
    key: Array,
    plan: DataParallel | None = None,
):
    """Run one iteration reading its batch by indices (n_critic, B) from the on-device data."""
    flat = indices.reshape(-1)
    update = train_update if plan is None else plan.wrap(train_update)
    return update(state, jax.tree.map(lambda a: a[flat], data), key)


@jax.jit(donate_argnums=0, static_argnames="plan")
def _scan_chunk(
    state: GANState,
    data: TrainingData,
    indices: Array,
    active: Array,
    key: Array,
    plan: DataParallel | None = None,
):
    """Run ``len(indices)`` iterations in one ``lax.scan``, skipping those with ``active=False``.

    A fixed chunk length with a mask keeps one compiled program for every chunk, including the
    last partial one, so results do not depend on where chunks start (exact resume).
    """

    def body(carry, inputs):
        idx, on = inputs
        new, metrics = _iteration(carry, data, idx, key, plan)
        carry = jax.tree.map(lambda a, b: jnp.where(on, a, b), new, carry)
        return carry, metrics

    return jax.lax.scan(body, state, (indices, active))


@jax.jit(donate_argnums=0, static_argnames="plan")
def _python_step(
    state: GANState,
    data: TrainingData,
    indices: Array,
    i: Array,
    key: Array,
    plan: DataParallel | None = None,
):
    """Run iteration ``i`` of an index block (the Python-loop form)."""
    return _iteration(state, data, indices[i], key, plan)


def choose_loop(state: GANState, data: TrainingData, batch_size: int) -> Literal["scan", "python"]:
    """Pick the loop form ``fit(loop="auto")`` uses on the current default backend.

    Args:
        state: the training state.
        data: the training array (only its shape and dtype are used).
        batch_size: examples per D update.

    Returns:
        ``"scan"`` or ``"python"``.

    Example:
        >>> choose_loop(state, data, 64)  # doctest: +SKIP
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
    lowered = jax.jit(_iteration).lower(state, data, indices, jax.random.key(0))
    if "convolution" in lowered.as_text():
        return "python"  # conv steps inside an XLA:CPU loop body ran 5-9x slower (any width)
    flops = (lowered.cost_analysis() or {}).get("flops", float("inf"))
    return "scan" if flops < SCAN_FLOPS_LIMIT_CPU else "python"


def _prepare_data(data) -> TrainingData:
    """Put samples (and labels, for a ``(samples, labels)`` pair) on the device."""
    if isinstance(data, tuple | list):
        if len(data) != 2:
            raise ValueError("data must be samples or a (samples, labels) pair")
        return as_training_array(data[0]), jnp.asarray(data[1])
    return as_training_array(data)


def _validate(
    state: GANState, data: TrainingData, steps: int, batch_size: int, steps_per_call: int
):
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
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


def fit(
    state: GANState,
    data: np.ndarray | Array | tuple,
    *,
    steps: int,
    batch_size: int = 64,
    key: Array | int = 0,
    loop: LoopForm = "auto",
    steps_per_call: int = 100,
    on_chunk: Callable[[int, History], None] | None = None,
    mesh: Mesh | DataParallel | None = None,
) -> tuple[GANState, History]:
    """Train for ``steps`` iterations on an on-device dataset; return the new state and history.

    The input state is donated (do not reuse it). Metrics of a chunk are fetched to the host only
    after the next chunk has been dispatched, so the device never waits for the host.

    Args:
        state: the training state; training continues from ``state.step``.
        data: (N, ...) training examples: uint8 images or floats (images in [-1, 1]); for a
            conditional GAN a ``(samples, labels)`` pair.
        steps: number of iterations (each ``n_critic`` D updates + one G update).
        batch_size: examples per D update.
        key: the run's base key (or an int seed); pass the same key when resuming.
        loop: ``"auto"``, ``"scan"`` or ``"python"`` (see the module docstring).
        steps_per_call: iterations per compiled call (scan) or per index block (python).
        on_chunk: called on the host as ``on_chunk(step_after_chunk, chunk_metrics)``.
        mesh: train data-parallel over this device mesh (``jaxgan.sharding.data_mesh``), or
            by a ``jaxgan.sharding.DataParallel`` plan; ``batch_size`` is global and must
            divide by the device count. None trains on the default device.

    Returns:
        ``(state, history)``; history maps each metric name (and ``"step"``) to a numpy array
        with one value per iteration.

    Example:
        >>> state, history = fit(state, images, steps=1000, batch_size=64)  # doctest: +SKIP

    """
    if isinstance(key, int):
        key = jax.random.key(key)
    data = _prepare_data(data)
    _validate(state, data, steps, batch_size, steps_per_call)
    if loop == "auto":
        loop = choose_loop(state, data, batch_size)
    if loop not in ("scan", "python"):
        raise ValueError(f"loop must be 'auto', 'scan' or 'python', got {loop!r}")
    plan = None if mesh is None else as_data_parallel(mesh)
    if plan is not None:
        plan.check_batch(batch_size)
        state, data, key = plan.place_state(state), plan.place_data(data), plan.replicate(key)
    n_critic = state.config.n_critic
    data_key = jax.random.fold_in(key, _DATA_STREAM)
    num_examples = jax.tree.leaves(data)[0].shape[0]

    def chunk_indices(first_slot: Array) -> Array:
        return batch_indices(
            data_key,
            first_slot,
            num_slots=steps_per_call * n_critic,
            num_examples=num_examples,
            batch_size=batch_size,
        ).reshape((steps_per_call, n_critic, batch_size))

    return run_chunks(
        state,
        steps=steps,
        steps_per_call=steps_per_call,
        start=int(state.step),
        n_critic=n_critic,
        loop=loop,
        chunk_indices=chunk_indices,
        scan_chunk=lambda s, idx, active: _scan_chunk(s, data, idx, active, key, plan=plan),
        python_step=lambda s, idx, i: _python_step(s, data, idx, i, key, plan=plan),
        on_chunk=on_chunk,
    )


def run_chunks(
    state: Any,
    *,
    steps: int,
    steps_per_call: int,
    start: int,
    n_critic: int,
    loop: Literal["scan", "python"],
    chunk_indices: Callable[[Array], Array],
    scan_chunk: Callable[[Any, Array, Array], tuple[Any, dict[str, Array]]],
    python_step: Callable[[Any, Array, Array], tuple[Any, dict[str, Array]]],
    on_chunk: Callable[[int, History], None] | None = None,
) -> tuple[Any, History]:
    """Drive training chunk by chunk: the host loop shared by ``fit`` and ``fit_ensemble``.

    Each chunk reads ``chunk_indices(first_slot)`` (leading axis ``steps_per_call``) and runs
    either ``scan_chunk(state, indices, active)`` once or ``python_step(state, indices, i)`` per
    iteration. A chunk's metrics are fetched to the host only after the next chunk has been
    dispatched, so the device never waits for the host.

    Args:
        state: the (single or stacked) state; donated to the chunk functions.
        steps: iterations to run.
        steps_per_call: iterations per chunk (the compiled chunk length).
        start: the state's step before training.
        n_critic: batch slots per iteration.
        loop: ``"scan"`` or ``"python"``.
        chunk_indices: first batch slot (int32) → index block of the chunk.
        scan_chunk: runs a whole chunk; iterations with ``active=False`` are skipped.
        python_step: runs iteration ``i`` of the chunk.
        on_chunk: called on the host as ``on_chunk(step_after_chunk, chunk_metrics)``.

    Returns:
        ``(state, history)``: each metric (and ``"step"``) concatenated over iterations.

    Example:
        >>> state, history = run_chunks(state, steps=10, ...)  # doctest: +SKIP
    """
    pending: tuple[int, dict[str, Array]] | None = None
    history: dict[str, list[np.ndarray]] = {}

    def collect(done: tuple[int, dict[str, Array]]) -> None:
        end, metrics = done
        host = {name: np.asarray(value) for name, value in metrics.items()}
        count = len(next(iter(host.values())))
        host["step"] = np.arange(end - count + 1, end + 1)
        for name, value in host.items():
            history.setdefault(name, []).append(value)
        if on_chunk is not None:
            on_chunk(end, host)

    done_steps = 0
    while done_steps < steps:
        count = min(steps_per_call, steps - done_steps)
        indices = chunk_indices(jnp.asarray((start + done_steps) * n_critic, jnp.int32))
        if loop == "scan":
            active = jnp.arange(steps_per_call) < count
            state, metrics = scan_chunk(state, indices, active)
            metrics = jax.tree.map(lambda m, c=count: m[:c], metrics)
        else:
            per_step = []
            for i in range(count):
                state, m = python_step(state, indices, jnp.int32(i))
                per_step.append(m)
            metrics = jax.tree.map(lambda *ms: jnp.stack(ms), *per_step)
        done_steps += count
        if pending is not None:
            collect(pending)
        pending = (start + done_steps, metrics)
    if pending is not None:
        collect(pending)
    return state, {name: np.concatenate(parts) for name, parts in history.items()}
