"""Data parallelism on JAX's own runtime: a device mesh, shardings and multi-process start-up.

A ``DataParallel`` plan lays a run out over a ``jax.sharding.Mesh``: every batch is split along
the mesh's ``"data"`` axis (``NamedSharding(mesh, P("data"))``); parameters, BatchNorm
statistics and optimiser states are replicated on every device or, with ``shard_params=True``,
split along their largest divisible dimension (ZeRO/FSDP style: XLA gathers them where they are
used). The pure steps of ``jaxgan.steps`` run unchanged under ``jax.jit`` with these shardings;
XLA's SPMD partitioner inserts the collectives: the gradient all-reduce, and the all-reduce of
BatchNorm's batch moments, so BatchNorm statistics are global over the whole batch, exactly as
on one device. No ``pmap``, no communication code of our own.

The mesh axes run in ``AxisType.Auto`` mode (sharding propagation), so code written for one
device needs no annotations; ``jaxgan.steps.split_over_batch_axis`` marks values a step creates
itself (the latent batch) as split like the real batch.

Multi-process runs (many hosts, or several processes on one host) call
``initialize_distributed`` before anything else; ``jax.devices()`` then lists the devices of
every process and ``data_mesh("all")`` spans them all. Each process may load only its own rows
of the dataset (``local_rows``) and assemble the global array with ``global_dataset``.
See docs/many_devices.md.

Example:
    >>> mesh = data_mesh("all")  # doctest: +SKIP
    >>> state, history = jaxgan.fit(state, images, steps=1000, batch_size=256,
    ...                             mesh=mesh)  # doctest: +SKIP

"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxgan.steps import BATCH_AXIS

Array = jax.Array
State = TypeVar("State")
Update = Callable[[Any, Any, Array], tuple[Any, dict[str, Array]]]

DATA_AXIS = BATCH_AXIS
"""Name of the mesh axis that batches are split over."""

_log = logging.getLogger(__name__)


class CoordinatorTimeoutError(TimeoutError, ValueError):
    """The coordinator of a multi-process run did not answer in time."""


def data_mesh(devices: int | str | Sequence[jax.Device] = "all", *, axis: str = DATA_AXIS) -> Mesh:
    """Build a one-axis device mesh for data parallelism with ``jax.make_mesh``.

    Args:
        devices: ``"all"`` (every device of every process, ``jax.devices()``), a device count
            (an int, or its decimal string as given to a ``--devices`` flag; the first ``n``
            devices), or an explicit sequence of devices.
        axis: name of the mesh axis.

    Returns:
        A ``Mesh`` with the one axis ``axis`` in ``AxisType.Auto`` mode.

    Raises:
        ValueError: more devices asked for than are visible, or a count below 1.

    Example:
        >>> dict(data_mesh(1).shape)
        {'data': 1}

    """
    visible = jax.devices()
    if isinstance(devices, str):
        text = devices.strip().lower()
        if text == "all":
            devices = len(visible)
        elif text.isdigit():
            devices = int(text)
        else:
            raise ValueError(f"devices must be 'all' or a positive integer, got {devices!r}")
    if isinstance(devices, bool) or not isinstance(devices, int | Sequence):
        raise TypeError(f"devices must be 'all', an int or a sequence of devices, got {devices!r}")
    if isinstance(devices, int):
        if devices < 1:
            raise ValueError(f"a mesh needs at least one device, got {devices}")
        if devices > len(visible):
            raise ValueError(
                f"a mesh of {devices} devices was asked for but only {len(visible)} "
                f"{visible[0].platform} devices are visible; use 'all' or at most {len(visible)}"
            )
        chosen = visible[:devices]
    else:
        chosen = list(devices)
        if not chosen:
            raise ValueError("a mesh needs at least one device, got an empty device list")
    if len({d.process_index for d in chosen}) < jax.process_count():
        raise ValueError(
            f"the mesh's {len(chosen)} devices leave out some of the {jax.process_count()} "
            "processes; every process must own devices of the mesh (use 'all')"
        )
    return jax.make_mesh((len(chosen),), (axis,), (AxisType.Auto,), devices=chosen)


def _auto_axes(mesh: Mesh) -> Mesh:
    """Return the same mesh with every axis in ``AxisType.Auto`` mode (sharding propagation)."""
    if all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def _largest_divisible_dim(shape: tuple[int, ...], size: int) -> int | None:
    """Index of the largest dimension of ``shape`` divisible by ``size`` (None if none is)."""
    dims = [i for i, n in enumerate(shape) if n >= size and n % size == 0]
    return max(dims, key=lambda i: shape[i]) if dims else None


def _put(value: Any, sharding: NamedSharding) -> Array:
    """``jax.device_put`` that also works when ``sharding`` spans other processes' devices."""
    if sharding.is_fully_addressable:
        return jax.device_put(value, sharding)
    if jax.dtypes.issubdtype(getattr(value, "dtype", None), jax.dtypes.prng_key):
        data = _put(jax.random.key_data(value), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(value))
    host = np.asarray(value)  # every process holds the same value
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


@dataclasses.dataclass(frozen=True)
class DataParallel:
    """How a GAN run is laid out over a mesh: batches split, state replicated or sharded.

    Hashable, so it can be a static argument of ``jax.jit``; equal plans share compiled code.

    Attributes:
        mesh: the device mesh (its axes are used in ``AxisType.Auto`` mode).
        axis: the mesh axis that batches (and sharded parameters) are split over.
        shard_params: split parameters, BatchNorm statistics and optimiser states over
            ``axis``, each leaf along its largest dimension divisible by the axis size (other
            leaves stay replicated), instead of replicating them. Saves memory for large
            models; results are the same.

    Example:
        >>> DataParallel(data_mesh(1)).size
        1

    """

    mesh: Mesh
    axis: str = DATA_AXIS
    shard_params: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.mesh, Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh, got {type(self.mesh).__name__}")
        if self.axis not in self.mesh.axis_names:
            raise ValueError(
                f"mesh has axes {self.mesh.axis_names} but no {self.axis!r} axis to split batches "
                "over; build it with jaxgan.sharding.data_mesh()"
            )
        object.__setattr__(self, "mesh", _auto_axes(self.mesh))

    @property
    def size(self) -> int:
        """Number of devices along the data axis (the number of batch shards)."""
        return self.mesh.shape[self.axis]

    @property
    def batch_sharding(self) -> NamedSharding:
        """Sharding of a batch: the leading (example) dimension split over the data axis."""
        return NamedSharding(self.mesh, P(self.axis))

    @property
    def replicated(self) -> NamedSharding:
        """Sharding of a value held whole on every device of the mesh."""
        return NamedSharding(self.mesh, P())

    def check_batch(self, batch_size: int) -> None:
        """Raise a clear error unless ``batch_size`` splits evenly over the data axis.

        Args:
            batch_size: the global number of examples per D update.

        Raises:
            ValueError: ``batch_size`` is not a multiple of the device count.

        Example:
            >>> DataParallel(data_mesh(1)).check_batch(64)

        """
        if batch_size % self.size:
            below = max(batch_size // self.size, 1) * self.size
            raise ValueError(
                f"global batch_size {batch_size} does not split evenly over {self.size} devices; "
                f"use a multiple of {self.size} (e.g. {below}) or another device count"
            )

    def leaf_sharding(self, shape: tuple[int, ...]) -> NamedSharding:
        """Return the sharding of one state leaf of the given shape under this plan.

        Args:
            shape: the leaf's shape.

        Returns:
            Replicated, or (``shard_params``) split along its largest divisible dimension.

        Example:
            >>> DataParallel(data_mesh(1)).leaf_sharding((3, 4)).spec
            P()

        """
        dim = _largest_divisible_dim(shape, self.size) if self.shard_params else None
        if dim is None or self.size == 1:
            return self.replicated
        return NamedSharding(self.mesh, P(*([None] * dim), self.axis))

    def state_shardings(self, state: State) -> State:
        """Return a pytree like ``state`` holding each leaf's ``NamedSharding``.

        Args:
            state: a ``GANState`` (or any pytree of arrays or ``jax.ShapeDtypeStruct``).

        Returns:
            The pytree of shardings (for ``jax.jit``, ``jax.device_put`` or restore targets).

        Example:
            >>> shardings = plan.state_shardings(state)  # doctest: +SKIP

        """
        return jax.tree.map(lambda leaf: self.leaf_sharding(tuple(np.shape(leaf))), state)

    def place_state(self, state: State) -> State:
        """Put a state onto the mesh with this plan's shardings.

        In a multi-process run every process passes the same state (e.g. built from the same
        key); each keeps the pieces its devices hold.

        Args:
            state: a ``GANState`` on any device(s).

        Returns:
            The same values laid out over the mesh.

        Example:
            >>> state = plan.place_state(state)  # doctest: +SKIP

        """
        return jax.tree.map(_put, state, self.state_shardings(state))

    def place_data(self, data: Any) -> Any:
        """Put a training dataset onto the mesh: kept if it already lives there, else replicated.

        Args:
            data: the (N, ...) training array or a ``(samples, labels)`` pair; a global array
                from ``global_dataset`` (rows split over devices and processes) is kept.

        Returns:
            The dataset as ``jax.Array`` s on the mesh.

        Example:
            >>> data = plan.place_data(images)  # doctest: +SKIP

        """

        def place(array: Any) -> Array:
            sharding = getattr(array, "sharding", None)
            if isinstance(sharding, NamedSharding) and sharding.mesh == self.mesh:
                return array
            if isinstance(array, jax.Array) and not array.is_fully_addressable:
                raise ValueError(
                    "data lives on another mesh; build it with "
                    "jaxgan.sharding.global_dataset(rows, mesh) using the mesh given to fit"
                )
            return _put(array, self.replicated)

        return jax.tree.map(place, data)

    def replicate(self, value: Any) -> Any:
        """Put a small value (e.g. a PRNG key) whole on every device of the mesh.

        Args:
            value: an array or a pytree of arrays, the same in every process.

        Returns:
            The value with replicated sharding.

        Example:
            >>> key = plan.replicate(jax.random.key(0))  # doctest: +SKIP

        """
        return jax.tree.map(lambda leaf: _put(leaf, self.replicated), value)

    def constrain_batch(self, batch: Any) -> Any:
        """Inside ``jax.jit``: lay a batch out split over the data axis (``P("data")``).

        Args:
            batch: (B, ...) examples, or a pytree of them such as ``(samples, labels)``; B a
                multiple of the device count.

        Returns:
            The same values with sharding constraints.

        Example:
            >>> batch = plan.constrain_batch(data[indices])  # doctest: +SKIP

        """
        return jax.tree.map(
            lambda x: jax.lax.with_sharding_constraint(x, self.batch_sharding), batch
        )

    def constrain_state(self, state: State) -> State:
        """Inside ``jax.jit``: keep a state's layout equal to ``state_shardings``.

        A step's output state then has the layout of its input, so the next call reuses the
        compiled program.

        Args:
            state: the state computed by a step.

        Returns:
            The same values with sharding constraints.

        Example:
            >>> new_state = plan.constrain_state(new_state)  # doctest: +SKIP

        """
        return jax.lax.with_sharding_constraint(state, self.state_shardings(state))

    def wrap(self, update: Update) -> Update:
        """Return ``update`` with its batch split over the mesh and its output layout fixed.

        The result is pure and traceable with the same signature. It is traced inside JAX's
        mesh context of this plan's mesh, so values the step creates itself are split like the
        batch (``jaxgan.steps.split_over_batch_axis``); the new state keeps
        ``state_shardings`` and the metrics come out replicated (readable on every host).

        Args:
            update: a pure step ``(state, batch, key) -> (state, metrics)``, e.g.
                ``jaxgan.steps.train_update``.

        Returns:
            The sharded pure step.

        Example:
            >>> step = jax.jit(plan.wrap(jaxgan.d_update), donate_argnums=0)  # doctest: +SKIP

        """

        def sharded(state: Any, batch: Any, key: Array) -> tuple[Any, dict[str, Array]]:
            with jax.sharding.use_abstract_mesh(self.mesh.abstract_mesh):
                new_state, metrics = update(state, self.constrain_batch(batch), key)
            metrics = jax.lax.with_sharding_constraint(metrics, self.replicated)
            return self.constrain_state(new_state), metrics

        sharded.__name__ = f"sharded_{getattr(update, '__name__', 'update')}"
        sharded.__doc__ = update.__doc__
        return sharded

    def jit(self, update: Update) -> Update:
        """Compile a sharded step: ``jax.jit(self.wrap(update), donate_argnums=0)``.

        Place the state with ``place_state`` first; later calls reuse one compiled program.

        Args:
            update: a pure step, e.g. ``jaxgan.d_update``, ``jaxgan.g_update`` or
                ``jaxgan.train_update``.

        Returns:
            The jitted step; its input state is donated.

        Example:
            >>> d_step = plan.jit(jaxgan.d_update)  # doctest: +SKIP
            >>> state, metrics = d_step(plan.place_state(state), real, key)  # doctest: +SKIP

        """
        return jax.jit(self.wrap(update), donate_argnums=0)


def as_data_parallel(layout: Mesh | DataParallel) -> DataParallel:
    """Turn a mesh (replicated state) or a ``DataParallel`` plan into a plan.

    Args:
        layout: a ``jax.sharding.Mesh`` with a ``"data"`` axis, or a ``DataParallel``.

    Returns:
        A ``DataParallel`` plan.

    Example:
        >>> as_data_parallel(data_mesh(1)).shard_params
        False

    """
    if isinstance(layout, DataParallel):
        return layout
    if isinstance(layout, Mesh):
        return DataParallel(layout)
    raise TypeError(
        "mesh must be a jax.sharding.Mesh or a jaxgan.sharding.DataParallel, "
        f"got {type(layout).__name__}"
    )


def local_rows(num_examples: int, layout: Mesh | DataParallel) -> slice:
    """Return the rows of an (N, ...) dataset this process holds when rows are split over devices.

    Args:
        num_examples: the global dataset size N (a multiple of the data axis size).
        layout: the mesh or plan.

    Returns:
        A ``slice`` of the global rows this process should load.

    Example:
        >>> local_rows(10, data_mesh(1))
        slice(0, 10, None)

    """
    plan = as_data_parallel(layout)
    if num_examples % plan.size:
        raise ValueError(
            f"{num_examples} examples do not split evenly over {plan.size} devices; drop the "
            f"last {num_examples % plan.size} (or use a multiple of {plan.size})"
        )
    index_map = plan.batch_sharding.addressable_devices_indices_map((num_examples,))
    spans = sorted({index[0].indices(num_examples)[:2] for index in index_map.values()})
    for (_, stop), (start, _) in itertools.pairwise(spans):
        if stop != start:
            raise ValueError("this process's devices hold non-contiguous rows; use data_mesh()")
    return slice(spans[0][0], spans[-1][1])


def global_dataset(rows: Any, layout: Mesh | DataParallel) -> Any:
    """Build the global (N, ...) dataset from the rows this process holds (``local_rows``).

    Each process passes only its own rows; the result is one ``jax.Array`` (or a
    ``(samples, labels)`` pair of them) split over the data axis by rows, for
    ``fit(state, data, mesh=...)``. With one process pass all rows.

    Args:
        rows: this process's rows, ``data[local_rows(N, mesh)]`` (or a pair of them).
        layout: the mesh or plan.

    Returns:
        The global dataset, sharded ``P("data")`` along its rows.

    Example:
        >>> data = global_dataset(images[local_rows(len(images), mesh)], mesh)  # doctest: +SKIP

    """
    plan = as_data_parallel(layout)

    def build(local: Any) -> Array:
        local = np.asarray(local)
        total = local.shape[0] * jax.process_count() if local.ndim else 0
        if local.ndim == 0 or total % plan.size:
            raise ValueError(
                f"this process holds {local.shape[:1] or 0} rows; the global row count must be a "
                f"multiple of the {plan.size} devices (see jaxgan.sharding.local_rows)"
            )
        return jax.make_array_from_process_local_data(plan.batch_sharding, local)

    return jax.tree.map(build, rows)


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"coordinator_address must be 'host:port' (e.g. '127.0.0.1:8476'), got {address!r}"
        )
    return host.strip("[]"), int(port)


def _wait_for_coordinator(host: str, port: int, deadline: float) -> None:
    """Poll until a TCP connection to the coordinator succeeds; raise at ``deadline``."""
    reason: OSError | None = None
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            with socket.create_connection((host, port), timeout=min(remaining, 1.0)):
                return
        except OSError as error:
            reason = error
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0.0)))
    raise CoordinatorTimeoutError(
        f"no JAX coordinator answered at {host}:{port} ({reason}); start process 0 there, "
        "check the address and port (and firewalls), or raise timeout_s"
    )


def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout_s: float = 300.0,
    local_device_ids: Sequence[int] | None = None,
) -> None:
    """Join a multi-process JAX run (``jax.distributed.initialize``) with a bounded wait.

    Call it once per process before any other JAX call. With no arguments JAX detects the
    cluster itself (Cloud TPU pods, SLURM, Open MPI). Processes other than 0 first check that
    the coordinator answers on its port and raise ``CoordinatorTimeoutError`` after
    ``timeout_s`` (JAX itself would abort the process). Process 0 hosts the coordinator and
    waits up to ``timeout_s`` for the others; JAX aborts it with ``DEADLINE_EXCEEDED`` when
    they do not all join.

    Args:
        coordinator_address: ``"host:port"`` of process 0, e.g. ``"10.0.0.1:8476"``
            (default: the ``JAX_COORDINATOR_ADDRESS`` environment variable, else detected).
        num_processes: total number of processes.
        process_id: this process's index in ``[0, num_processes)``.
        timeout_s: seconds to wait for the coordinator and for every process to join.
        local_device_ids: devices of this host given to this process (e.g. one GPU each).

    Raises:
        CoordinatorTimeoutError: the coordinator did not answer within ``timeout_s``.
        ValueError: a malformed address, process count or id.

    Example:
        >>> initialize_distributed("10.0.0.1:8476", num_processes=2,
        ...                        process_id=1)  # doctest: +SKIP

    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0 seconds, got {timeout_s!r}")
    deadline = time.monotonic() + timeout_s
    if num_processes is not None and (
        isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1
    ):
        raise ValueError(f"num_processes must be a positive integer, got {num_processes!r}")
    if (
        process_id is not None
        and num_processes is not None
        and not (isinstance(process_id, int) and 0 <= process_id < num_processes)
    ):
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id!r}")
    address = coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS")
    if address:
        host, port = _split_address(address)
        if process_id not in (None, 0):
            _wait_for_coordinator(host, port, deadline)
    _log.info(
        "joining a %s-process JAX run via %s (waiting up to %.0f s)",
        num_processes,
        address or "cluster detection",
        timeout_s,
    )
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=local_device_ids,
        initialization_timeout=max(1, math.ceil(deadline - time.monotonic())),
    )
