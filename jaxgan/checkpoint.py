"""Orbax checkpoints of a ``GANState``: atomic save, keep the last N, restore, find the latest.

What is saved is the state's pytree: both players' parameters, non-parameter variables
(BatchNorm statistics) and optimiser states, and the update counters, plus a small JSON record
(``metadata``: step, config, ...). The static parts (graph definitions, optimisers,
``StepConfig``) are not saved: rebuild a template state from the run's config
(``jaxgan.experiment.build_state``) and restore the arrays into it.

Layout: ``<directory>/<step>/state`` (arrays, OCDBT) and ``<directory>/<step>/meta`` (JSON).
Orbax writes each step into a temporary folder and renames it when complete, so a process killed
mid-save leaves no half-written step folder (the temporary one is removed on the next open).

Integrity: each save records a sha256 of the state's arrays (every leaf's path, dtype, shape and
bytes, in path order) in the metadata; ``restore`` recomputes it and refuses a checkpoint whose
files changed since, naming the latest earlier checkpoint that still verifies. Checkpoints of
older jaxgan versions, saved without a digest, restore unverified. Rotation (``keep``) runs after
a successful save and never deletes the checkpoint just saved (nor anything when a save fails).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxgan.state import GANState


class CheckpointNotFoundError(FileNotFoundError):
    """No checkpoint (or no checkpoint of the requested step) exists in a folder."""


class CorruptCheckpointError(ValueError):
    """A checkpoint exists but cannot be read, or does not match the state it is restored into."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (e.g. the disk is full); nothing was rotated out."""


DIGEST_KEY = "state_sha256"
"""The metadata entry that holds the digest of a checkpoint's arrays (``state_digest``)."""

_DELETING = ".deleting-"
"""Prefix of a step folder being deleted by rotation (renamed first, so deletion is atomic)."""


def _host_leaf(leaf: Any) -> np.ndarray:
    """One leaf as host bytes: a replicated multi-process array is read from its local copy."""
    if isinstance(leaf, jax.Array):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        if not leaf.is_fully_addressable:
            if not leaf.is_fully_replicated:
                raise ValueError("the array is split over processes")
            leaf = leaf.addressable_data(0)
    return np.ascontiguousarray(np.asarray(leaf))


def state_digest(state: Any) -> str:
    """Return the sha256 of a state's arrays: each leaf's path, dtype, shape and bytes.

    Leaves are taken in the order of their paths, so the digest depends only on the names and
    contents of the arrays (not on where they live or how the pytree is flattened).

    Args:
        state: a pytree of arrays (e.g. a ``GANState``).

    Returns:
        The hex digest.

    Raises:
        ValueError: a leaf is split over processes (it cannot be read here).

    Example:
        >>> state_digest({"w": np.zeros(2, np.float32)})[:12]
        '5768890864c0'

    """
    digest = hashlib.sha256()
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    for name, leaf in sorted((".".join(_path_names(path)), leaf) for path, leaf in leaves):
        array = _host_leaf(leaf)
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = text[0] if text else type(err).__name__
    return first if len(first) <= 200 else first[:197] + "..."


def _write_reason(err: BaseException) -> str:
    """Return the operating system's words for a failed write ("No space left on device")."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in errno.errorcode:
            return os.strerror(seen.errno)
        seen = seen.__cause__ or seen.__context__
    text = str(err)
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES):
        if os.strerror(code) in text:
            return os.strerror(code)
    return _one_line(err)


def _path_names(path: tuple[Any, ...]) -> tuple[str, ...]:
    names = []
    for entry in path:
        for attr in ("name", "key", "idx"):
            if hasattr(entry, attr):
                names.append(str(getattr(entry, attr)))
                break
        else:
            names.append(str(entry))
    return tuple(names)


def _leaf_specs(tree: Any) -> dict[tuple[str, ...], tuple[tuple[int, ...], str]]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        _path_names(path): (tuple(leaf.shape), str(np.dtype(leaf.dtype))) for path, leaf in leaves
    }


def _like_template(restored: GANState, template: GANState) -> GANState:
    """Leave restored arrays uncommitted where the template's are (the usual single-device case).

    Orbax commits restored arrays to a device; ``jax.jit`` caches compiled functions separately
    for committed and uncommitted inputs, so without this a restored state would recompile every
    step function a fresh state already compiled in the same process.
    """

    def match(new: jax.Array, old: Any) -> jax.Array:
        if isinstance(old, jax.Array) and not old.committed and new.committed:
            return jax.device_put(np.asarray(new))
        return new

    return jax.tree.map(match, restored, template)


class RunCheckpoints:
    """The checkpoints of one run: save, list, restore (a thin layer over an orbax manager).

    Args:
        directory: the checkpoints folder (created on the first save unless ``read_only``).
        keep: how many of the most recent checkpoints to keep (older ones are deleted after a
            successful save; nothing is deleted on error).
        read_only: open an existing folder only for reading.

    Example:
        >>> with RunCheckpoints("runs/a/checkpoints", keep=3) as ckpts:  # doctest: +SKIP
        ...     ckpts.save(1000, state, {"step": 1000})
        ...     state, meta = ckpts.restore(template)

    """

    def __init__(
        self, directory: str | os.PathLike[str], *, keep: int = 3, read_only: bool = False
    ):
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be a positive integer, got {keep!r}")
        self.directory = Path(directory).absolute()
        if read_only and not self.directory.is_dir():
            raise CheckpointNotFoundError(f"no checkpoint folder at {self.directory}")
        self.keep = keep
        self._template: Any = None
        if not read_only:
            for leftover in self.directory.glob(f"{_DELETING}*"):  # a rotation cut short
                shutil.rmtree(leftover, ignore_errors=True)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=None,  # rotation is ours (``_rotate``): never the step just saved
            create=not read_only,
            read_only=read_only,
            cleanup_tmp_directories=not read_only,
            enable_async_checkpointing=False,
        )
        handlers = {"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
        self._manager = ocp.CheckpointManager(
            self.directory, item_handlers=handlers, options=options
        )

    def __enter__(self) -> RunCheckpoints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the orbax manager (waits for nothing: saves are synchronous).

        Example:
            >>> ckpts.close()  # doctest: +SKIP

        """
        self._manager.close()

    def steps(self) -> list[int]:
        """Return the steps that have a checkpoint folder, ascending.

        Returns:
            A sorted list of step numbers (complete or not: ``restore`` checks integrity).

        Example:
            >>> RunCheckpoints("runs/a/checkpoints").steps()  # doctest: +SKIP
            [8000, 9000, 10000]

        """
        self._manager.reload()
        return sorted(int(s) for s in self._manager.all_steps())

    def latest_step(self) -> int | None:
        """Return the newest checkpointed step, or None when there is none.

        Returns:
            The largest step number, or None.

        Example:
            >>> RunCheckpoints("runs/a/checkpoints").latest_step()  # doctest: +SKIP
            10000

        """
        steps = self.steps()
        return steps[-1] if steps else None

    def save(self, step: int, state: GANState, metadata: dict[str, Any] | None = None) -> Path:
        """Save ``state`` (its arrays) and a JSON ``metadata`` record as checkpoint ``step``.

        Args:
            step: the step number (must be new for this folder).
            state: the training state; its static fields are not saved.
            metadata: JSON-serialisable record stored beside the arrays (e.g. step, config).

        Returns:
            The folder of the new checkpoint.

        Raises:
            ValueError: ``step`` is negative or already saved.

        Example:
            >>> ckpts.save(1000, state, {"step": 1000})  # doctest: +SKIP

        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"checkpoint step must be a non-negative integer, got {step!r}")
        if step in self.steps():
            raise ValueError(f"checkpoint step {step} already exists in {self.directory}")
        meta = dict(metadata or {})
        with contextlib.suppress(ValueError):  # arrays split over processes: no digest
            meta[DIGEST_KEY] = state_digest(state)
        try:
            saved = self._manager.save(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                ),
                force=True,  # also a step older than the newest (a resumed run's best/)
            )
            self._manager.wait_until_finished()
            if not saved:
                raise RuntimeError("orbax skipped the save")
        except Exception as err:
            earlier = [s for s in self.steps() if s != step]
            then = (
                f"checkpoint {earlier[-1]} is intact: free space (or fix the folder) and resume "
                "from it (--resume)"
                if earlier
                else "there is no earlier checkpoint: free space (or fix the folder) and start "
                "again (--overwrite)"
            )
            raise CheckpointWriteError(
                f"could not write checkpoint {self.directory / str(step)} ({_write_reason(err)}); "
                f"{then}"
            ) from None
        self._rotate(step)
        return self.directory / str(step)

    def keep_newest(self, step: int) -> None:
        """Apply rotation as if ``step`` (which must exist) had just been saved.

        Used when a save is skipped because that step exists already (a resumed run reaching
        a best checkpoint it saved before it was stopped), so the folder ends as if saved now.

        Args:
            step: an existing step, kept whatever its age.

        Example:
            >>> best.keep_newest(1500)  # doctest: +SKIP

        """
        self._existing_step(step)
        self._rotate(step)

    def _rotate(self, saved: int) -> None:
        """Delete all but the newest ``keep`` steps, never ``saved``; rename, then delete."""
        steps = self.steps()
        kept = set(steps[-self.keep :]) | {saved}
        for step in steps:
            if step not in kept:
                folder = self.directory / str(step)
                doomed = self.directory / f"{_DELETING}{step}-{os.getpid()}"
                folder.rename(doomed)  # a kill from here on leaves no half-deleted step
                shutil.rmtree(doomed, ignore_errors=True)
        self._manager.reload()

    def read_metadata(self, step: int | None = None) -> dict[str, Any]:
        """Read only the JSON record of a checkpoint (no arrays).

        Args:
            step: the step to read; None for the latest.

        Returns:
            The metadata dict saved with the checkpoint.

        Raises:
            CheckpointNotFoundError: no such checkpoint.
            CorruptCheckpointError: the record cannot be read.

        Example:
            >>> ckpts.read_metadata()["step"]  # doctest: +SKIP
            10000

        """
        step = self._existing_step(step)
        try:
            restored = self._manager.restore(
                step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )
        except Exception as err:
            raise CorruptCheckpointError(self._corrupt_message(step, err)) from None
        meta = restored.meta
        if not isinstance(meta, dict):
            raise CorruptCheckpointError(self._corrupt_message(step, "its metadata is missing"))
        meta.pop(DIGEST_KEY, None)
        return meta

    def restore(self, template: GANState, step: int | None = None) -> tuple[GANState, dict]:
        """Restore checkpoint ``step`` into the structure of ``template``.

        ``template`` supplies the static parts and the expected shapes and dtypes; it is built
        from the run's config (``jaxgan.experiment.build_state``). Its arrays are not modified.

        Args:
            template: a state with the same structure as the saved one.
            step: the step to restore; None for the latest.

        Returns:
            ``(state, metadata)``.

        Raises:
            CheckpointNotFoundError: no checkpoint (of that step).
            CorruptCheckpointError: unreadable files, arrays that do not fit ``template``
                (e.g. the config changed since the save), or arrays that do not match the
                digest recorded when they were saved. The message names the latest earlier
                checkpoint that restores and verifies.

        Example:
            >>> state, meta = RunCheckpoints(path).restore(build_state(config))  # doctest: +SKIP

        """
        step = self._existing_step(step)
        self._template = template  # to name the latest checkpoint that verifies, on error
        state, meta = self._restore(template, step)
        recorded = meta.pop(DIGEST_KEY, None)
        if recorded is not None and state_digest(state) != recorded:
            raise CorruptCheckpointError(
                self._corrupt_message(
                    step, "its arrays do not match the sha256 recorded when it was saved"
                )
            )
        return state, meta

    def _restore(self, template: GANState, step: int) -> tuple[GANState, dict]:
        self._check_structure(step, template)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        try:
            restored = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
                ),
            )
        except Exception as err:
            raise CorruptCheckpointError(self._corrupt_message(step, err)) from None
        state, meta = _like_template(restored.state, template), restored.meta
        if not isinstance(meta, dict):
            raise CorruptCheckpointError(self._corrupt_message(step, "its metadata is missing"))
        at = np.unique(np.asarray(state.step)).tolist()  # one step, or one per run of a stack
        if len(at) != 1 or at[0] != int(meta.get("step", at[0])):
            raise CorruptCheckpointError(
                self._corrupt_message(
                    step, f"its state is at step {at}, its record says {meta.get('step')}"
                )
            )
        return state, meta

    def _existing_step(self, step: int | None) -> int:
        steps = self.steps()
        if not steps:
            raise CheckpointNotFoundError(f"no checkpoint in {self.directory}")
        if step is None:
            return steps[-1]
        if step not in steps:
            raise CheckpointNotFoundError(
                f"no checkpoint of step {step} in {self.directory}; saved steps: "
                f"{', '.join(map(str, steps))}"
            )
        return step

    def _check_structure(self, step: int, template: GANState) -> None:
        try:
            saved_tree = self._manager.item_metadata(step)["state"]
            if saved_tree is None:
                raise ValueError("its array metadata is missing")
            saved = _leaf_specs(saved_tree)
        except Exception as err:
            raise CorruptCheckpointError(self._corrupt_message(step, err)) from None
        expected = _leaf_specs(template)
        for name, spec in expected.items():
            if name not in saved:
                raise CorruptCheckpointError(
                    f"checkpoint {self.directory / str(step)} has no array {'.'.join(name)}: it "
                    "was saved for another model or config"
                )
            if saved[name] != spec:
                raise CorruptCheckpointError(
                    f"checkpoint {self.directory / str(step)} stores {'.'.join(name)} as "
                    f"{saved[name][0]} {saved[name][1]} but the config builds {spec[0]} "
                    f"{spec[1]}: it was saved for another model or config"
                )
        extra = sorted(set(saved) - set(expected))
        if extra:
            raise CorruptCheckpointError(
                f"checkpoint {self.directory / str(step)} holds arrays the config does not build "
                f"(e.g. {'.'.join(extra[0])}): it was saved for another model or config"
            )

    def _corrupt_message(self, step: int, err: BaseException | str) -> str:
        reason = err if isinstance(err, str) else _one_line(err)
        earlier = [s for s in self.steps() if s < step]
        hint = ""
        if earlier:
            good = self._latest_verified(earlier)
            hint = f"; earlier checkpoints: {', '.join(map(str, earlier))}" + (
                f"; the latest that verifies is {good} (move the broken folder away to resume "
                "from it)"
                if good is not None
                else "; none of them verifies"
            )
        return f"checkpoint {self.directory / str(step)} is corrupt or incomplete ({reason}){hint}"

    def _latest_verified(self, steps: list[int]) -> int | None:
        """Return the newest of ``steps`` that restores and matches its digest (error path)."""
        template, self._template = self._template, None  # no search within the search
        try:
            if template is None:
                return steps[-1]
            for step in reversed(steps):
                try:
                    state, meta = self._restore(template, step)
                except CorruptCheckpointError:
                    continue
                recorded = meta.get(DIGEST_KEY)
                if recorded is None or state_digest(state) == recorded:
                    return step
            return None
        finally:
            self._template = template


def save_checkpoint(
    directory: str | os.PathLike[str],
    step: int,
    state: GANState,
    metadata: dict[str, Any] | None = None,
    *,
    keep: int = 3,
) -> Path:
    """Save one checkpoint (opening the folder, saving, closing); see ``RunCheckpoints.save``.

    Args:
        directory: the checkpoints folder.
        step: the step number.
        state: the training state.
        metadata: JSON record stored with it.
        keep: keep only this many most recent checkpoints.

    Returns:
        The folder of the new checkpoint.

    Example:
        >>> save_checkpoint("runs/a/checkpoints", 1000, state)  # doctest: +SKIP

    """
    with RunCheckpoints(directory, keep=keep) as ckpts:
        return ckpts.save(step, state, metadata)


def restore_checkpoint(
    directory: str | os.PathLike[str], template: GANState, step: int | None = None
) -> tuple[GANState, dict[str, Any]]:
    """Restore a checkpoint into ``template``'s structure; see ``RunCheckpoints.restore``.

    Args:
        directory: the checkpoints folder.
        template: a state built from the same config.
        step: the step to restore; None for the latest.

    Returns:
        ``(state, metadata)``.

    Example:
        >>> state, meta = restore_checkpoint("runs/a/checkpoints", template)  # doctest: +SKIP

    """
    with RunCheckpoints(directory, read_only=True) as ckpts:
        return ckpts.restore(template, step)


def latest_step(directory: str | os.PathLike[str]) -> int | None:
    """Return the newest checkpointed step in ``directory``, or None (also when it is missing).

    Args:
        directory: the checkpoints folder.

    Returns:
        The largest saved step, or None.

    Example:
        >>> latest_step("runs/does-not-exist") is None
        True

    """
    if not Path(directory).is_dir():
        return None
    with RunCheckpoints(directory, read_only=True) as ckpts:
        return ckpts.latest_step()
