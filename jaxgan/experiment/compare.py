"""Compare runs side by side: curves overlaid, final and best metrics, last sample grids.

``compare_runs(paths, out)`` reads run folders (``metrics.jsonl``, ``track.jsonl``,
``samples/``) and ensemble folders (each member from ``history.npz``, ``summary.json`` and
``samples/run_XXX.png``), writes one PNG (the losses and D's outputs of every run overlaid,
then each run's last grid) and returns the runs' records; ``markdown_table`` turns them into
the table ``jaxgan compare`` prints.

Example:
    >>> records = compare_runs(["runs/a", "runs/b"], "compare.png")  # doctest: +SKIP
    >>> print(markdown_table(records))  # doctest: +SKIP

"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan.experiment.board import member_name
from jaxgan.experiment.ensemble import SETUP_FILE
from jaxgan.experiment.evaluators import TRACKED
from jaxgan.experiment.rundir import (
    CONFIG_FILE,
    METRICS_FILE,
    SAMPLES_DIR,
    TRACK_FILE,
    read_metrics,
)
from jaxgan.hooks import TRAIN_METRICS

CURVE_POINTS = 100
"""An ensemble member's per-iteration history is averaged down to about this many points."""

MAX_GRIDS = 8
"""At most this many runs' last grids are shown."""


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """What the comparison shows of one run.

    Attributes:
        name: the run's label (folder name; ``<ensemble>/<member>`` for ensemble members).
        steps: the steps of the curve points.
        curves: ``d_loss``, ``g_loss``, ``d_real``, ``d_fake`` at those steps.
        metrics: the last step, the final training metrics and the tracked or evaluated ones.
        grid: the run's last sample grid (or scatter plot), if any.

    """

    name: str
    steps: np.ndarray
    curves: dict[str, np.ndarray]
    metrics: dict[str, Any]
    grid: Path | None


def _single_run(path: Path) -> RunRecord:
    rows = read_metrics(path)
    steps = np.array([row["step"] for row in rows], np.int64)
    curves = {
        name: np.array([np.nan if row.get(name) is None else row[name] for row in rows], float)
        for name in TRAIN_METRICS
        if rows and name in rows[0]
    }
    metrics: dict[str, Any] = {"step": int(steps[-1]) if len(steps) else 0}
    metrics.update({name: float(values[-1]) for name, values in curves.items()})
    track = path / TRACK_FILE
    if track.is_file():
        tracked = [json.loads(line) for line in track.read_text().splitlines() if line.strip()]
        tracked = [row for row in tracked if row.get("value") is not None]
        if tracked:
            name = tracked[-1]["metric"]
            pick = min if TRACKED.get(name, "min") == "min" else max
            best = pick(tracked, key=lambda row: row["value"])
            metrics[f"best {name}"] = f"{best['value']:.4g} @ {best['step']}"
            metrics[f"last {name}"] = float(tracked[-1]["value"])
    grids = sorted((path / SAMPLES_DIR).glob("step_*.png"))
    return RunRecord(path.name, steps, curves, metrics, grids[-1] if grids else None)


def _ensemble_members(path: Path) -> list[RunRecord]:
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise ValueError(f"{path} holds an unfinished ensemble (no summary.json yet)")
    summary = json.loads(summary_path.read_text())
    swept = list(summary["setup"].get("sweep") or {})
    with np.load(path / "history.npz") as saved:
        history = {name: saved[name] for name in saved.files}
    records = []
    for row in summary["runs"]:
        run = row["run"]
        name = f"{path.name}/{member_name(row['seed'], {k: row[k] for k in swept})}"
        curves: dict[str, np.ndarray] = {}
        steps = np.zeros(0, np.int64)
        for metric in TRAIN_METRICS:
            if metric in history:
                values = history[metric][:, run]
                window = max(1, math.ceil(len(values) / CURVE_POINTS))
                count = len(values) // window
                curves[metric] = values[: count * window].reshape(count, window).mean(1)
                steps = np.arange(1, count + 1) * window
        metrics: dict[str, Any] = {"step": int(summary["setup"]["steps"])}
        metrics.update(
            {k: v for k, v in row.items() if k not in ("run", "seed", "setting", *swept)}
        )
        grid = path / SAMPLES_DIR / f"run_{run:03d}.png"
        records.append(RunRecord(name, steps, curves, metrics, grid if grid.is_file() else None))
    return records


def load_records(path: str | os.PathLike[str]) -> list[RunRecord]:
    """Read a run folder (one record) or an ensemble folder (one record per member).

    Args:
        path: a folder written by ``jaxgan train`` (with or without ``--seeds``/``--sweep``).

    Returns:
        The records.

    Raises:
        ValueError: the folder is neither, or its ensemble has not finished.

    Example:
        >>> load_records("/nonexistent")
        Traceback (most recent call last):
        ...
        ValueError: /nonexistent is not a jaxgan run or ensemble folder

    """
    folder = Path(path)
    if (folder / SETUP_FILE).is_file():
        return _ensemble_members(folder)
    if (folder / METRICS_FILE).is_file() or (folder / CONFIG_FILE).is_file():
        return [_single_run(folder)]
    raise ValueError(f"{folder} is not a jaxgan run or ensemble folder")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def markdown_table(records: Sequence[RunRecord]) -> str:
    """Return a Markdown table of the runs' final (and best tracked) metrics, one row each.

    Args:
        records: the runs.

    Returns:
        The table; a metric a run lacks is left empty.

    Example:
        >>> record = RunRecord("a", np.array([10]), {}, {"step": 10, "d_loss": 0.5}, None)
        >>> print(markdown_table([record]))
        | run | step | d_loss |
        |---|---|---|
        | a | 10 | 0.5 |

    """
    columns: list[str] = []
    for record in records:
        columns += [name for name in record.metrics if name not in columns]
    lines = ["| run | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for record in records:
        cells = [_cell(record.metrics[c]) if c in record.metrics else "" for c in columns]
        lines.append(f"| {record.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_comparison(records: Sequence[RunRecord], out: str | os.PathLike[str]) -> Path:
    """Write one PNG: losses and D outputs of every run overlaid, then their last grids.

    Args:
        records: the runs.
        out: the ``.png`` to write.

    Returns:
        The written path.

    Example:
        >>> save_comparison(load_records("runs/a"), "compare.png")  # doctest: +SKIP

    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"the comparison is a PNG: --out must end in .png, got {str(out)!r}")
    shown = [(i, r) for i, r in enumerate(records) if r.grid is not None][:MAX_GRIDS]
    width = max(11.0, 1.9 * len(shown))
    fig = Figure(figsize=(width, 3.4 + (2.2 if shown else 0)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.4, 2.2]) if shown else (fig, None)
    losses, g_losses, outputs = top.subplots(1, 3)
    colors = [f"C{i % 10}" for i in range(len(records))]
    for record, color in zip(records, colors, strict=True):
        c = record.curves
        if "d_loss" in c:
            losses.plot(record.steps, c["d_loss"], color=color, lw=1.1, label=record.name)
        if "g_loss" in c:
            g_losses.plot(record.steps, c["g_loss"], color=color, lw=1.1)
        if "d_real" in c:
            outputs.plot(record.steps, c["d_real"], color=color, lw=1.1)
        if "d_fake" in c:
            outputs.plot(record.steps, c["d_fake"], color=color, lw=1.1, ls="--")
    for ax, title in ((losses, "D loss"), (g_losses, "G loss"), (outputs, "D(x) —, D(G(z)) --")):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    outputs.set_ylim(-0.02, 1.02)
    if losses.get_legend_handles_labels()[0]:
        losses.legend(fontsize=7, loc="best")
    if bottom is not None:
        axes = np.atleast_1d(bottom.subplots(1, len(shown)))
        for ax, (i, record) in zip(axes, shown, strict=True):
            with Image.open(record.grid) as image:
                pixels = np.asarray(image.convert("RGB"))
            ax.imshow(pixels, interpolation="nearest")
            ax.set_title(record.name, fontsize=7, color=colors[i])
            ax.axis("off")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def compare_runs(
    paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]
) -> list[RunRecord]:
    """Read runs and ensembles, write the comparison PNG, return the records.

    Args:
        paths: run folders and ensemble folders (an ensemble adds all its members).
        out: the ``.png`` to write.

    Returns:
        One record per run, in the order given.

    Raises:
        ValueError: a folder that is not a run, or no run at all.

    Example:
        >>> compare_runs(["runs/a", "runs/ens"], "compare.png")  # doctest: +SKIP

    """
    if not paths:
        raise ValueError("give at least one run folder to compare")
    records = [record for path in paths for record in load_records(path)]
    save_comparison(records, out)
    return records
