"""Read a trained run back: its state from a checkpoint, and sample grids from it.

``load_run`` rebuilds a run's state from its ``config.json`` and a checkpoint (the latest, a
given step, or the best by the tracked metric); ``sample`` draws a grid (``jaxgan sample``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan import data, viz
from jaxgan.checkpoint import CheckpointNotFoundError, RunCheckpoints
from jaxgan.experiment.build import build_state, class_row_labels, load_training_data, run_keys
from jaxgan.experiment.config import TrainConfig
from jaxgan.experiment.rundir import BEST_DIR, CHECKPOINTS_DIR, PathLike, read_run_config
from jaxgan.sampling import generate_batches
from jaxgan.state import GANState, sample_latent


def load_run(
    run_dir: PathLike, step: int | None = None, *, best: bool = False
) -> tuple[TrainConfig, GANState, dict[str, Any]]:
    """Rebuild a run's state from its config and a checkpoint.

    Args:
        run_dir: the run folder.
        step: the checkpoint step (None: the latest).
        best: load the best checkpoint by the tracked metric (``track_metric``) instead.

    Returns:
        ``(config, state, checkpoint metadata)``.

    Raises:
        FileNotFoundError: no run folder, config or checkpoint.
        CorruptCheckpointError: the checkpoint cannot be read.

    Example:
        >>> config, state, meta = load_run("runs/seed-mlp-20250101-120000")  # doctest: +SKIP

    """
    config = read_run_config(run_dir)
    template = build_state(config)
    folder = Path(run_dir) / (BEST_DIR if best else CHECKPOINTS_DIR)
    if best and not folder.is_dir():
        raise CheckpointNotFoundError(
            f"{run_dir} has no best checkpoint: train with --set track_metric=fd (or modes)"
        )
    with RunCheckpoints(folder, read_only=True) as ckpts:
        state, meta = ckpts.restore(template, step)
    return config, state, meta


def sample(
    run_dir: PathLike,
    out: PathLike | None = None,
    *,
    n: int = 64,
    step: int | None = None,
    seed: int | None = None,
) -> Path:
    """Generate ``n`` samples from a run's checkpoint and write a grid (2-D data: a scatter).

    A conditional run's grid shows one class per row (row index mod the number of classes).

    Args:
        run_dir: the run folder.
        out: output ``.png`` (default ``<run_dir>/sample.png``).
        n: number of samples.
        step: checkpoint step (None: the latest).
        seed: noise seed; None uses the run's fixed grid noise.

    Returns:
        The written path.

    Example:
        >>> sample("runs/seed-mlp-20250101-120000", "grid.png", n=64)  # doctest: +SKIP

    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100_000:
        raise ValueError(f"n must be an integer in [1, 100000], got {n!r}")
    config, state, _ = load_run(run_dir, step)
    key = run_keys(config.schedule.seed).noise if seed is None else jax.random.key(seed)
    z = sample_latent(key, n, config.step.latent_dim)
    columns = math.ceil(math.sqrt(n))  # the square grid of viz.save_image_grid
    labels = None
    if state.config.num_classes is not None:
        labels = class_row_labels(n, columns, state.config.num_classes)
    fake = generate_batches(state, z, labels)
    if not np.isfinite(fake).all():
        raise ValueError(
            f"the generator of {run_dir} at step {int(state.step)} makes NaN or infinite "
            "values: that checkpoint diverged; choose an earlier one with --step"
        )
    out = Path(run_dir) / "sample.png" if out is None else Path(out)
    title = f"{config.name} · step {int(state.step)}"
    if config.is_points:
        _, dataset = load_training_data(config)
        name = config.data.name
        modes = data.mixture(name).modes if name in data.mixture_names() else None
        return viz.save_scatter(
            fake,
            dataset.x[: config.outputs.scatter_points],
            out,
            modes=modes,
            title=title,
        )
    return viz.save_image_grid(fake, out, columns=columns)
