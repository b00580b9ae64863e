"""Checks that run before a run folder is touched, and the careful replacement of one.

``train`` and ``run_ensemble`` call these before they write anything, so bad input fails with
one line that says what to do and leaves no half-made folder behind:

- ``check_run_inputs``: the batch against the dataset, the tracked metric's sample count, the
  memory of sample grids, scatter plots and tracked samples, the seed range, the class count;
- ``check_resume_folder``: the entries a resumed run writes to are of the right kind, and its
  ``metrics.jsonl`` reads;
- ``check_resumed_config``: the run folder's ``config.json`` still describes the checkpoint it
  resumes from (an edited file is refused, naming the fields);
- ``check_overwrite`` / ``clear_entries``: ``--overwrite`` checks every entry it would delete
  first, then moves them all aside in one step and deletes them.

``config_warnings`` names settings that train but diverge by design.
"""

from __future__ import annotations

import math
import os
import shutil
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jaxgan.checkpoint import CorruptCheckpointError, RunCheckpoints
from jaxgan.experiment.build import grid_layout
from jaxgan.experiment.config import (
    RESUMABLE_FIELDS,
    ConfigError,
    TrainConfig,
    config_differences,
    from_dict,
)
from jaxgan.experiment.rundir import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    LOSS_PLOT,
    METRICS_FILE,
    SAMPLES_DIR,
    SUMMARY_FILE,
    TRACK_FILE,
    read_metrics,
)
from jaxgan.loop import finite_state

MAX_SEED = 2**32
"""Seeds must be below this: ``jax.random.key`` keeps 32 bits, so seed 2**32 repeats seed 0."""

MAX_SAMPLE_BYTES = 1 << 30
"""The most float32 bytes of samples a run generates at once (a grid, a scatter, a tracker)."""

TRASH_PREFIX = ".overwrite-"
"""Prefix of the hidden folder ``clear_entries`` moves a replaced run's entries into."""


class RunWarning(UserWarning):
    """A setting that trains but is known to diverge or mislead (printed as one line)."""


def check_seed(seed: int, count: int = 1) -> None:
    """Check that seeds ``seed .. seed + count - 1`` are distinct JAX keys.

    Args:
        seed: the first seed.
        count: how many consecutive seeds are used (an ensemble's ``--seeds``).

    Raises:
        ConfigError: a seed is negative or not below ``MAX_SEED``.

    Example:
        >>> check_seed(2**32 - 1)
        >>> check_seed(2**32)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        jaxgan.experiment.config.ConfigError: seed must be below 2**32 = 4294967296 (...

    """
    last = seed + count - 1
    if seed < 0 or last >= MAX_SEED:
        bad = seed if seed < 0 or seed >= MAX_SEED else last
        raise ConfigError(
            f"seed must be below 2**32 = {MAX_SEED} (jax.random.key keeps 32 bits: seed "
            f"{bad} would repeat seed {bad % MAX_SEED}), got {bad}"
            + ("" if bad == seed else f" (seed {seed} + {count} runs)")
        )


def check_run_inputs(config: TrainConfig, num_examples: int, *, seeds: int = 1) -> None:
    """Check what would otherwise fail only after training started (or eat the memory).

    Args:
        config: the run's config, resolved from its data (``load_training_data``).
        num_examples: the training set size.
        seeds: runs trained with consecutive seeds (an ensemble).

    Raises:
        ConfigError: a value that cannot work, with what to change.

    Example:
        >>> check_run_inputs(TrainConfig.of(batch_size=64), 5000)
        >>> check_run_inputs(TrainConfig.of(batch_size=100_000), 5000)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        jaxgan.experiment.config.ConfigError: batch_size 100000 is larger than the dataset ...

    """
    check_seed(config.schedule.seed, seeds)
    if config.schedule.batch_size > num_examples:
        raise ConfigError(
            f"batch_size {config.schedule.batch_size} is larger than the dataset ({num_examples} "
            "examples); lower --batch-size or use more data"
        )
    outputs = config.outputs
    if outputs.track_metric in ("fd", "kid", "fid"):
        if config.outputs.track_samples < 2:
            raise ConfigError(
                f"track_samples must be at least 2 for track_metric={config.outputs.track_metric} "
                f"(it estimates covariances), got {config.outputs.track_samples}"
            )
        if config.outputs.track_samples > num_examples:
            raise ConfigError(
                f"track_samples {outputs.track_samples} is more than the {num_examples} training "
                f"examples {outputs.track_metric} compares with; set track_samples ≤ {num_examples}"
            )
    sample = 4 * math.prod(config.data.image_shape or (1,))
    if config.is_points:
        _check_samples("scatter_points", config.outputs.scatter_points, sample, "scatter plots")
    else:
        num, columns = grid_layout(config)
        rows = num // columns
        what = f"sample grids of {rows}×{columns} images"
        _check_samples("grid_size", num, sample, what, classes=rows > config.outputs.grid_size)
    if config.outputs.track_metric is not None:
        _check_samples("track_samples", outputs.track_samples, sample, "each tracked measurement")


def _check_samples(field: str, num: int, sample_bytes: int, what: str, classes=False) -> None:
    size = num * sample_bytes
    if size > MAX_SAMPLE_BYTES:
        lower = "the class count (one grid row per class)" if classes else field
        raise ConfigError(
            f"{what} need {size / 2**30:.1f} GiB of samples at once (at most "
            f"{MAX_SAMPLE_BYTES / 2**30:.0f} GiB); lower {lower}"
        )


def config_warnings(config: TrainConfig) -> None:
    """Warn (``RunWarning``) about settings that train but diverge by design.

    Args:
        config: the run's config.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     config_warnings(TrainConfig.of(loss="wasserstein"))
        >>> "unbounded" in str(seen[0].message)
        True

    """
    step = config.step
    if step.loss == "wasserstein" and step.gradient_penalty == 0 and step.r1 == 0:
        warnings.warn(
            "loss=wasserstein without gradient_penalty or r1 leaves the critic unbounded: its "
            "loss drifts without limit; add --set gradient_penalty=10",
            RunWarning,
            stacklevel=2,
        )


_FILES = (CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, LOSS_PLOT, TRACK_FILE)
_FOLDERS = (SAMPLES_DIR, CHECKPOINTS_DIR, BEST_DIR)


def check_resume_folder(out: Path) -> None:
    """Check the entries a resumed run writes to, and that its metrics log reads.

    Args:
        out: the run folder.

    Raises:
        FileExistsError: an entry is a folder where jaxgan writes a file, or the reverse.
        PermissionError: the folder is not writable.
        ValueError: ``metrics.jsonl`` is damaged (the message names the file and line).

    Example:
        >>> check_resume_folder(Path("runs/a"))  # doctest: +SKIP

    """
    for name in _FILES:
        path = out / name
        if path.exists() and not path.is_file():
            raise FileExistsError(
                f"{path} is not a file but jaxgan writes its {name} there; move it away and "
                "try again"
            )
    for name in _FOLDERS:
        path = out / name
        if path.exists() and not path.is_dir():
            raise FileExistsError(
                f"{path} is not a folder but jaxgan writes its {name} there; move it away and "
                "try again"
            )
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"run folder {out} is not writable")
    read_metrics(out)


def check_resumed_config(config: TrainConfig, saved: Mapping[str, Any] | None, where: Path):
    """Refuse to resume when ``config.json`` no longer describes the checkpoint's run.

    A checkpoint records the config it was trained with. Fields outside ``RESUMABLE_FIELDS``
    (e.g. ``lr``, which the optimiser state carries) cannot change on resume: an edited
    ``config.json`` would misdescribe the run.

    Args:
        config: the config the run resumes with (from ``config.json`` and the command).
        saved: the ``config`` entry of the checkpoint's metadata (None: not recorded).
        where: the checkpoint, for the message.

    Raises:
        ConfigError: a field differs (the message names the fields and both values).

    Example:
        >>> from jaxgan.experiment.config import to_dict
        >>> check_resumed_config(TrainConfig(), to_dict(TrainConfig.of(lr=0.5)), Path("c/1"))
        ...                      # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        jaxgan.experiment.config.ConfigError: ... lr is 0.0002 in config.json but 0.5 in the ...

    """
    if saved is None:
        return
    try:
        trained = from_dict(saved)
    except ConfigError:
        return  # a config of another jaxgan version: the checkpoint's arrays are checked anyway
    changed = {
        k: v for k, v in config_differences(trained, config).items() if k not in RESUMABLE_FIELDS
    }
    if changed:
        fields = "; ".join(
            f"{k} is {now!r} in config.json but {was!r} in the checkpoint"
            for k, (was, now) in changed.items()
        )
        raise ConfigError(
            f"config.json no longer matches checkpoint {where}: {fields}; a resumed run keeps "
            f"its config (only {', '.join(sorted(RESUMABLE_FIELDS))} may change): restore "
            "config.json, or start a new run with --overwrite or another --out"
        )


def check_resumed_setup(setup: Mapping[str, Any], saved: Mapping[str, Any] | None, where: Path):
    """Refuse to resume an ensemble whose ``ensemble.json`` changed since a slice's checkpoint.

    Args:
        setup: the setup the ensemble resumes with.
        saved: the ``setup`` entry of the checkpoint's metadata (None: not recorded).
        where: the checkpoint, for the message.

    Raises:
        ConfigError: an entry differs (the message names it; config fields by name).

    Example:
        >>> check_resumed_setup({"steps": 10}, {"steps": 10}, Path("c/1"))

    """
    if saved is None:
        return
    changed = []
    for key in sorted(set(setup) | set(saved)):
        now, was = setup.get(key), saved.get(key)
        if key == "config" and isinstance(now, Mapping) and isinstance(was, Mapping):
            changed += [
                f"config.{k}"
                for k in sorted(set(now) | set(was))
                if now.get(k) != was.get(k) and k not in RESUMABLE_FIELDS
            ]
        elif now != was:
            changed.append(key)
    if changed:
        raise ConfigError(
            f"ensemble.json no longer matches checkpoint {where}: {', '.join(changed)} "
            "changed since it was saved; restore ensemble.json, or start a new ensemble with "
            "--overwrite or another --out"
        )


def last_good_checkpoint(checkpoints: RunCheckpoints, missing: str) -> str:
    """Name the newest checkpoint of a run that stopped on non-finite values (all are finite).

    Args:
        checkpoints: the run's (or slice's) open checkpoint folder.
        missing: what to say when no checkpoint was saved.

    Returns:
        ``"the last good checkpoint is <folder>/<step>"``, or ``missing``.

    Example:
        >>> import tempfile
        >>> with RunCheckpoints(tempfile.mkdtemp()) as saved:
        ...     last_good_checkpoint(saved, "no checkpoint was saved")
        'no checkpoint was saved'

    """
    latest = checkpoints.latest_step()
    if latest is None:
        return missing
    return f"the last good checkpoint is {checkpoints.directory / str(latest)}"


def check_finite_checkpoint(state: Any, where: Path) -> None:
    """Refuse to resume from a checkpoint that holds NaN or infinite values.

    jaxgan never saves one; an older version (or another tool) may have.

    Args:
        state: the restored state.
        where: the checkpoint, for the message.

    Raises:
        CorruptCheckpointError: a value is not finite.

    Example:
        >>> import numpy as np
        >>> check_finite_checkpoint({"w": np.zeros(2)}, Path("c/1"))

    """
    if not finite_state(state):
        raise CorruptCheckpointError(
            f"checkpoint {where} holds NaN or infinite values (saved by a run that diverged); "
            "move it away to resume from an earlier checkpoint"
        )


def check_overwrite(out: Path, names: Iterable[str]) -> None:
    """Check, before anything is deleted, that every entry ``--overwrite`` removes can go.

    Args:
        out: the run folder.
        names: the entries jaxgan wrote (only those present are checked).

    Raises:
        FileExistsError: an entry is a symbolic link (jaxgan never writes one).
        PermissionError: the folder, or a folder inside an entry, cannot be changed.

    Example:
        >>> check_overwrite(Path("runs/a"), ["samples"])  # doctest: +SKIP

    """
    if not out.is_dir():
        return
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot overwrite {out}: the folder is not writable")
    for name in sorted(names):
        path = out / name
        if path.is_symlink():
            raise FileExistsError(
                f"will not overwrite {out}: {name} is a symbolic link, which jaxgan never "
                "writes; remove it yourself or choose another --out"
            )
        if path.is_dir():
            for folder, _, _ in os.walk(path):
                if not os.access(folder, os.W_OK | os.X_OK):
                    raise PermissionError(
                        f"cannot overwrite {out}: {folder} is not writable; nothing was deleted"
                    )


def clear_entries(out: Path, names: Iterable[str]) -> None:
    """Remove entries of a run folder all or nothing: move them aside, then delete.

    Every present entry is renamed into one hidden folder first; if a rename fails, those
    already moved are put back and nothing is deleted. Call ``check_overwrite`` first.

    Args:
        out: the run folder.
        names: the entries to remove (absent ones are skipped).

    Raises:
        OSError: an entry could not be moved aside (everything is put back).

    Example:
        >>> clear_entries(Path("runs/a"), ["samples", "metrics.jsonl"])  # doctest: +SKIP

    """
    present = [name for name in sorted(names) if (out / name).exists() or (out / name).is_symlink()]
    if not present:
        return
    trash = out / f"{TRASH_PREFIX}{os.getpid()}"
    trash.mkdir()
    moved: list[str] = []
    try:
        for name in present:
            os.rename(out / name, trash / name)
            moved.append(name)
    except OSError as err:
        for name in reversed(moved):
            os.rename(trash / name, out / name)
        trash.rmdir()
        raise OSError(f"cannot overwrite {out}: {err.strerror} for {err.filename}") from None
    shutil.rmtree(trash)


def remove_leftover_trash(out: Path) -> None:
    """Delete what an overwrite killed midway left in its hidden folder.

    Args:
        out: the run folder.

    Example:
        >>> remove_leftover_trash(Path("runs/does-not-exist"))

    """
    if out.is_dir():
        for leftover in out.glob(f"{TRASH_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
