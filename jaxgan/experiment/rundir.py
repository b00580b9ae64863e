"""The run folder: its layout, the config and metrics files, and the checks before writing.

A run folder holds::

    config.json        the resolved TrainConfig (JSON)
    metrics.jsonl      one strict-JSON row per log_every iterations (jaxgan.hooks.MetricsLog)
    samples/step_*.png sample grids from fixed noise (2-D data: scatter over real data)
    loss.png           loss curves
    checkpoints/<step> orbax checkpoints (the last keep_checkpoints of them)
    best/<step>        the best checkpoint by the tracked metric, with track.jsonl
    summary.json       written when the run ends
    tensorboard/       TensorBoard event files (jaxgan.experiment.board; unless log=none)

Nothing in an existing folder is changed until everything about a new run has been checked.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
from pathlib import Path
from typing import Any

from jaxgan.experiment.config import (
    RESUMABLE_FIELDS,
    ConfigError,
    TrainConfig,
    config_differences,
    from_dict,
    to_dict,
)
from jaxgan.experiment.lock import LOCK_FILE

PathLike = str | os.PathLike[str]

CONFIG_FILE = "config.json"

METRICS_FILE = "metrics.jsonl"

LOSS_PLOT = "loss.png"

SUMMARY_FILE = "summary.json"

SAMPLES_DIR = "samples"

CHECKPOINTS_DIR = "checkpoints"

BEST_DIR = "best"

TRACK_FILE = "track.jsonl"

TENSORBOARD_DIR = "tensorboard"

RUN_ENTRIES = frozenset(
    {
        CONFIG_FILE,
        METRICS_FILE,
        LOSS_PLOT,
        SUMMARY_FILE,
        SAMPLES_DIR,
        CHECKPOINTS_DIR,
        "sample.png",
        BEST_DIR,
        TRACK_FILE,
        "eval",
        TENSORBOARD_DIR,
    }
)
"""Names ``train`` writes into a run folder (``overwrite`` removes only these)."""

HIDDEN_ENTRIES = (LOCK_FILE, ".overwrite-")
"""Hidden names (or prefixes) jaxgan keeps in a run folder: the lock, an overwrite's leftovers."""


def _rate(it_per_s: float) -> str:
    return f"{it_per_s:.0f}" if it_per_s >= 10 else f"{it_per_s:.2g}"


@dataclasses.dataclass(frozen=True)
class TrainSummary:
    """What a finished (or resumed) run reports.

    Attributes:
        out_dir: the run folder.
        name: the config's name.
        start_step: the step training started (or resumed) from.
        step: the final step.
        wall_s: seconds spent in this call's training loop (compilation included).
        metrics: the last logged metric row (means over its interval).
        samples: path of the last sample grid (or scatter plot).

    """

    out_dir: Path
    name: str
    start_step: int
    step: int
    wall_s: float
    metrics: dict[str, float]
    samples: Path | None

    @property
    def it_per_s(self) -> float:
        """Iterations per second of this call, including compilation, sampling and saving."""
        done = self.step - self.start_step
        return done / self.wall_s if done and self.wall_s > 0 else 0.0

    def line(self) -> str:
        """Return the one-line report the CLI prints at the end of a run.

        Returns:
            e.g. ``"seed-mlp: 10000 steps in 40.1 s (249 it/s); d_loss 1.24 ... → runs/x"``.

        Example:
            >>> print(summary.line())  # doctest: +SKIP

        """
        m = self.metrics
        losses = ", ".join(
            f"{label} {m[key]:.3g}" if isinstance(m[key], int | float) else f"{label} nan"
            for key, label in (
                ("d_loss", "d_loss"),
                ("g_loss", "g_loss"),
                ("d_real", "D(x)"),
                ("d_fake", "D(G(z))"),
            )
            if key in m
        )
        timing = f"in {self.wall_s:.1f} s ({_rate(self.it_per_s)} it/s)"
        if self.step == self.start_step:
            what = f"{self.name}: already at step {self.step}, nothing to train"
        elif self.start_step:
            what = (
                f"{self.name}: resumed at step {self.start_step}, trained to {self.step} {timing}"
            )
        else:
            what = f"{self.name}: {self.step} steps {timing}"
        return f"{what}; {losses}; run folder: {self.out_dir}"

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready values (what ``summary.json`` holds).

        Returns:
            A dict with the attributes plus ``it_per_s``.

        Example:
            >>> summary.to_dict()["step"]  # doctest: +SKIP
            10000

        """
        out = dataclasses.asdict(self)
        out["out_dir"] = str(self.out_dir)
        out["samples"] = None if self.samples is None else str(self.samples)
        out["it_per_s"] = self.it_per_s
        return out


def default_out_dir(config: TrainConfig) -> Path:
    """Return a fresh run folder name: ``runs/<name>-<YYYYmmdd-HHMMSS>``.

    Args:
        config: the config (its ``name`` is used).

    Returns:
        A relative path.

    Example:
        >>> str(default_out_dir(TrainConfig(name="seed-mlp"))).startswith("runs/seed-mlp-")
        True

    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.name}-{stamp}"


def read_run_config(run_dir: PathLike) -> TrainConfig:
    """Read the ``config.json`` of a run folder.

    Args:
        run_dir: the run folder.

    Returns:
        The saved ``TrainConfig``.

    Raises:
        FileNotFoundError: no run folder or no config in it.
        ConfigError: the file is not a valid config.

    Example:
        >>> read_run_config("runs/seed-mlp-20250101-120000").name  # doctest: +SKIP
        'seed-mlp'

    """
    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a jaxgan run folder (no {CONFIG_FILE})")
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid JSON ({err})") from None
    return from_dict(values)


def read_metrics(run_dir: PathLike) -> list[dict[str, float]]:
    """Read the rows of a run's ``metrics.jsonl`` (a last line cut short by a kill is skipped).

    Args:
        run_dir: the run folder.

    Returns:
        The rows in order (empty when there is no log yet).

    Raises:
        ValueError: a damaged line (not UTF-8, not JSON, or a row without a positive integer
            ``step``); the message names the file and the line.

    Example:
        >>> read_metrics("runs/seed-mlp-20250101-120000")[-1]["step"]  # doctest: +SKIP
        10000

    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    rows = []
    for number, raw in enumerate(lines, 1):
        problem = None
        try:
            row = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            problem = "not UTF-8 text"
        except json.JSONDecodeError:
            if number == len(lines):
                break  # a line cut short by a killed process
            problem = "not JSON"
        if problem is None:
            step = row.get("step") if isinstance(row, dict) else None
            if isinstance(step, int) and not isinstance(step, bool) and step > 0:
                rows.append(row)
                continue
            problem = "not a row with a positive integer step"
        raise ValueError(
            f"{path} is damaged: line {number} is {problem}; repair or delete that line (or "
            "move the file away) and try again"
        )
    return rows


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written).

    Args:
        path: the file.
        text: its new content.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.txt"
        >>> write_text_atomically(path, "hi"); path.read_text()
        'hi'

    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_new_run_folder(out: Path, overwrite: bool) -> None:
    """Refuse folders that hold other things, and folders that cannot be written."""
    if out.exists():
        if not out.is_dir():
            raise NotADirectoryError(f"output path {out} is a file; choose a folder")
        entries = sorted(p.name for p in out.iterdir() if not p.name.startswith(HIDDEN_ENTRIES))
        if entries and not overwrite:
            raise FileExistsError(
                f"output folder {out} is not empty; continue it with --resume, replace it with "
                "--overwrite, or choose another --out"
            )
        foreign = [e for e in entries if e not in RUN_ENTRIES and not e.endswith(".tmp")]
        if foreign:
            raise FileExistsError(
                f"will not overwrite {out}: it holds files jaxgan did not write "
                f"({', '.join(foreign[:3])}); choose another --out"
            )
        if not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError(f"output folder {out} is not writable; choose another --out")
        return
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot create output folder {out}: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot create output folder {out}: {parent} is not writable")


def prepare_new_run_folder(out: Path, config: TrainConfig) -> None:
    """Empty an overwritten run folder (jaxgan's own entries only) and write the config."""
    if out.is_dir():
        for name in RUN_ENTRIES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out / CONFIG_FILE, json.dumps(to_dict(config), indent=2) + "\n")


def resume_config(saved: TrainConfig, given: TrainConfig) -> TrainConfig:
    """Return the config a resumed run continues with, refusing changes that break exactness.

    Only ``RESUMABLE_FIELDS`` (length and outputs) may differ from the saved config; shapes and
    classes resolved from the data are taken from the saved config.

    Args:
        saved: the run folder's config.
        given: the config asked for now.

    Returns:
        The config to continue with.

    Raises:
        ConfigError: a field outside ``RESUMABLE_FIELDS`` changed (the message names it).

    Example:
        >>> resume_config(TrainConfig(), TrainConfig.of(steps=20_000)).schedule.steps
        20000

    """
    if given.data.image_shape is None:
        given = given.replace(image_shape=saved.data.image_shape)
    if given.model.conditional and given.step.num_classes is None:
        given = given.replace(num_classes=saved.step.num_classes)
    changed = {
        k: v for k, v in config_differences(saved, given).items() if k not in RESUMABLE_FIELDS
    }
    if changed:
        key, (was, now) = next(iter(changed.items()))
        raise ConfigError(
            f"a resumed run keeps its config, but {key} is {now!r} here and {was!r} in the run "
            f"folder; only {', '.join(sorted(RESUMABLE_FIELDS))} may change"
        )
    steps = saved.schedule.steps
    if given.optim.lr_schedule == "linear" and given.schedule.steps != steps:
        raise ConfigError(
            f"lr_schedule=linear fixes the run's length at {steps} steps; resume with "
            f"--steps {steps}, or start a new run for a different length"
        )
    return given


def truncate_metrics(out: Path, step: int) -> None:
    """Drop log rows written after the checkpoint a run resumes from."""
    rows = [row for row in read_metrics(out) if row["step"] <= step]
    if (out / METRICS_FILE).exists():
        write_text_atomically(out / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in rows))


def read_track(out: Path, step: int) -> list[dict[str, Any]]:
    """Tracked-metric rows up to ``step`` (later ones, from before a resume, are dropped)."""
    path = out / TRACK_FILE
    if not path.exists():
        return []
    try:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows = [row for row in rows if row["step"] <= step]
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as err:
        raise ValueError(
            f"{path} is damaged ({type(err).__name__}); repair it or move it away and try again"
        ) from None
    write_text_atomically(path, "".join(json.dumps(row) + "\n" for row in rows))
    return rows
