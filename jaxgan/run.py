"""One training run as a library call: ``train(config, out_dir)``, ``sample(run_dir)``.

``train`` is what ``jaxgan train`` calls (the CLI only parses arguments). It builds the models a
``TrainConfig`` names (``build_state``), loads the data, trains with ``jaxgan.fit`` in segments
and leaves a run folder::

    <out_dir>/config.json        the resolved TrainConfig (JSON)
    <out_dir>/metrics.jsonl      one JSON row per log_every iterations: step, mean d_loss,
                                 g_loss, d_real (D(x)), d_fake (D(G(z))), ..., it_per_s, time_s
    <out_dir>/samples/step_*.png sample grids from fixed noise (2-D data: scatter over real data)
    <out_dir>/loss.png           loss curves
    <out_dir>/checkpoints/<step> orbax checkpoints (the last keep_checkpoints of them)
    <out_dir>/summary.json       written when the run ends

Exact resume: every random draw is a function of the config's seed and the state's counters
(see ``jaxgan.loop``), checkpoints hold the whole state, and segments end on multiples of
``steps_per_call``, so ``train(config, out_dir, resume=True)`` after a stop at any point ends
with the same bits (on CPU) as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxgan import data, models, sharding, viz
from jaxgan.checkpoint import CheckpointNotFoundError, RunCheckpoints
from jaxgan.config import (
    RESUMABLE_FIELDS,
    ConfigError,
    TrainConfig,
    config_differences,
    from_dict,
    resolve_steps,
    to_dict,
)
from jaxgan.loop import fit
from jaxgan.state import GANState, StepConfig, create_state, default_optimizer, generate
from jaxgan.state import sample_latent as _sample_latent

PathLike = str | os.PathLike[str]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LOSS_PLOT = "loss.png"
SUMMARY_FILE = "summary.json"
SAMPLES_DIR = "samples"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
TRACK_FILE = "track.jsonl"
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
    }
)
"""Names ``train`` writes into a run folder (``overwrite`` removes only these)."""

_MIXTURE_MODES = {"ring8": data.ring8_modes, "grid25": data.grid25_modes}
_generate = jax.jit(generate)


class RunKeys(NamedTuple):
    """The independent PRNG keys of a run, all derived from ``config.seed``.

    Attributes:
        init: model initialisation.
        train: the base key passed to ``jaxgan.fit`` (data order, noise, dropout).
        noise: the fixed noise of the sample grids.

    """

    init: jax.Array
    train: jax.Array
    noise: jax.Array


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
            f"{label} {m[key]:.3g}"
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


# -- config -> models ------------------------------------------------------------------------------


def run_keys(config: TrainConfig) -> RunKeys:
    """Derive the run's initialisation, training and sample-noise keys from ``config.seed``.

    Args:
        config: the config.

    Returns:
        A ``RunKeys``.

    Example:
        >>> keys = run_keys(TrainConfig(seed=3))

    """
    init, train_key, noise = jax.random.split(jax.random.key(config.seed), 3)
    return RunKeys(init, train_key, noise)


def build_models(config: TrainConfig) -> tuple[Callable, Callable]:
    """Return the generator and discriminator factories (``rngs -> module``) a config names.

    A conditional config (``conditional=True``, ``model="resnet"``) gives SNGAN's generator with
    conditional BatchNorm and a projection discriminator over ``num_classes`` classes.

    Args:
        config: a config with ``image_shape`` set (``load_training_data`` fills it from data),
            and ``num_classes`` too when it is conditional.

    Returns:
        ``(generator_factory, discriminator_factory)`` for ``jaxgan.create_state``.

    Raises:
        ConfigError: ``image_shape`` (or, for a conditional config, ``num_classes``) is unset.

    Example:
        >>> g, d = build_models(TrainConfig())
        >>> g(flax.nnx.Rngs(0)).latent_dim  # doctest: +SKIP
        100

    """
    shape = config.image_shape
    if shape is None:
        raise ConfigError("image_shape is unset; resolve it from the data with load_training_data")
    c = config
    num_classes = _num_classes(config)
    # the discriminator judges `pack` samples stacked along the last axis (jaxgan.augment.pack)
    d_shape = (*shape[:-1], shape[-1] * c.pack)
    if c.model == "resnet":
        d_width = c.width if c.d_width is None else c.d_width
        return (
            lambda rngs: models.ResNetGenerator(
                c.latent_dim, shape, c.width, num_classes, rngs=rngs
            ),
            lambda rngs: models.ResNetDiscriminator(d_shape, d_width, num_classes, rngs=rngs),
        )
    if c.model == "mlp":
        return (
            lambda rngs: models.MLPGenerator(
                c.latent_dim, c.g_hidden, c.g_dropout, shape, rngs=rngs
            ),
            lambda rngs: models.MLPDiscriminator(d_shape, c.d_hidden, c.d_dropout, rngs=rngs),
        )
    if c.model == "dcgan":
        return (
            lambda rngs: models.DCGANGenerator(
                c.latent_dim, shape, c.width, c.kernel_size, c.upsample, rngs=rngs
            ),
            lambda rngs: models.DCGANDiscriminator(
                d_shape, c.width, c.kernel_size, c.d_dropout, rngs=rngs
            ),
        )
    return (
        lambda rngs: models.ToyGenerator(
            c.latent_dim, c.g_hidden, c.g_depth, c.batch_norm, shape[0], rngs=rngs
        ),
        lambda rngs: models.ToyDiscriminator(
            d_shape[0], c.d_hidden, c.d_depth, c.maxout_pieces, rngs=rngs
        ),
    )


def _num_classes(config: TrainConfig) -> int | None:
    """Return the class count the models condition on (None for unconditional configs)."""
    if not config.conditional:
        return None
    if config.num_classes is None:
        raise ConfigError(
            "num_classes is unset for a conditional config; resolve it from the data with "
            "load_training_data or set num_classes"
        )
    return config.num_classes


def build_state(config: TrainConfig, key: jax.Array | int | None = None) -> GANState:
    """Build the initial ``GANState`` (models, Adam optimisers, ``StepConfig``) of a config.

    Notebooks, benchmarks and ensembles reuse this mapping from configs to models.

    Args:
        config: a config with ``image_shape`` set.
        key: initialisation key or int seed (default: ``run_keys(config).init``).

    Returns:
        A fresh state at step 0.

    Example:
        >>> state = build_state(load_preset("seed-mlp"))
        >>> int(state.step)
        0

    """
    if key is None:
        key = run_keys(config).init
    elif isinstance(key, int):
        key = jax.random.key(key)
    g_factory, d_factory = build_models(config)
    # lr_schedule=linear: each optimiser decays over its own number of updates in the run
    linear = config.lr_schedule == "linear"
    g_decay = config.steps if linear else None
    d_decay = config.steps * config.n_critic if linear else None
    step_config = StepConfig(
        loss=config.loss,
        n_critic=config.n_critic,
        gradient_penalty=config.gradient_penalty,
        r1=config.r1,
        latent_dim=config.latent_dim,
        compute_dtype=config.compute_dtype,
        ema_decay=config.ema_decay,
        augment=config.augment,
        pack=config.pack,
        num_classes=_num_classes(config),
    )
    return create_state(
        g_factory,
        d_factory,
        key=key,
        g_optimizer=default_optimizer(config.lr, config.b1, config.b2, g_decay),
        d_optimizer=default_optimizer(config.d_learning_rate, config.b1, config.b2, d_decay),
        config=step_config,
    )


def load_training_data(config: TrainConfig) -> tuple[TrainConfig, data.Dataset]:
    """Load the config's training split and check it fits the model's example shape.

    Args:
        config: the config; an unset ``image_shape`` is taken from the data, and so is an unset
            ``num_classes`` of a conditional config (from the labels).

    Returns:
        ``(config with image_shape (and num_classes) set, dataset)``.

    Raises:
        ValueError: unknown dataset, examples whose shape the model cannot make, or a
            conditional config whose data has no labels (or more classes than configured).
        FileNotFoundError: the dataset is not available offline.

    Example:
        >>> config, ds = load_training_data(TrainConfig(data_limit=128))
        >>> ds.x.shape
        (128, 28, 28, 1)

    """
    try:
        dataset = data.load(config.data, config.data_split, limit=config.data_limit)
    except data.DatasetUnavailableError as err:
        raise data.DatasetUnavailableError(f"{err}{_unavailable_hint(config.data)}") from None
    if config.image_shape is None:
        config = dataclasses.replace(config, image_shape=dataset.image_shape)
    if dataset.image_shape != config.image_shape:
        shape = ",".join(map(str, dataset.image_shape))
        raise ValueError(
            f"dataset {config.data!r} has examples of shape {dataset.image_shape} but the "
            f"{config.model} model of {config.name!r} makes {config.image_shape}; choose data "
            f"of that shape or set image_shape={shape} (a {config.model} model must support it)"
        )
    if config.conditional:
        config = _with_data_classes(config, dataset)
    return config, dataset


def _unavailable_hint(name: str) -> str:
    """Return what a command-line user can do when a tfds dataset is not here."""
    if name.startswith(("idx:", "stacked_mnist")):
        return ""
    return (
        "; jaxgan train reads tfds data from $TFDS_DATA_DIR (export it) or IDX files with "
        "--data idx:<folder>"
    )


def _with_data_classes(config: TrainConfig, dataset: data.Dataset) -> TrainConfig:
    """Set ``num_classes`` of a conditional config from the labels, checking that they fit."""
    if dataset.y is None or dataset.num_classes is None:
        raise ConfigError(
            f"conditional=true needs labelled data, but dataset {config.data!r} has no labels; "
            "use labelled data (e.g. an idx folder with train-labels-idx1-ubyte) or set "
            "conditional=false"
        )
    top = int(dataset.y.max()) + 1 if len(dataset.y) else 0
    if config.num_classes is None:
        return dataclasses.replace(config, num_classes=max(dataset.num_classes, top))
    if top > config.num_classes:
        raise ConfigError(
            f"dataset {config.data!r} has labels up to {top - 1} but num_classes is "
            f"{config.num_classes}; set num_classes={top} or num_classes=none (from the data)"
        )
    return config


# -- the run folder --------------------------------------------------------------------------------


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
    """Read the rows of a run's ``metrics.jsonl`` (an unreadable last line is skipped).

    Args:
        run_dir: the run folder.

    Returns:
        The rows in order (empty when there is no log yet).

    Example:
        >>> read_metrics("runs/seed-mlp-20250101-120000")[-1]["step"]  # doctest: +SKIP
        10000

    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed process
        if isinstance(row, dict) and "step" in row:
            rows.append(row)
    return rows


def _write_text_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _check_new_run_folder(out: Path, overwrite: bool) -> None:
    """Refuse folders that hold other things, and folders that cannot be written."""
    if out.exists():
        if not out.is_dir():
            raise NotADirectoryError(f"output path {out} is a file; choose a folder")
        entries = sorted(p.name for p in out.iterdir())
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


def _prepare_new_run_folder(out: Path, config: TrainConfig) -> None:
    """Empty an overwritten run folder (jaxgan's own entries only) and write the config."""
    if out.is_dir():
        for name in RUN_ENTRIES:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    _write_text_atomically(out / CONFIG_FILE, json.dumps(to_dict(config), indent=2) + "\n")


def _resume_config(saved: TrainConfig, given: TrainConfig) -> TrainConfig:
    if given.image_shape is None:
        given = dataclasses.replace(given, image_shape=saved.image_shape)
    if given.conditional and given.num_classes is None:
        given = dataclasses.replace(given, num_classes=saved.num_classes)
    changed = {
        k: v for k, v in config_differences(saved, given).items() if k not in RESUMABLE_FIELDS
    }
    if changed:
        key, (was, now) = next(iter(changed.items()))
        raise ConfigError(
            f"a resumed run keeps its config, but {key} is {now!r} here and {was!r} in the run "
            f"folder; only {', '.join(sorted(RESUMABLE_FIELDS))} may change"
        )
    if given.lr_schedule == "linear" and given.steps != saved.steps:
        raise ConfigError(
            f"lr_schedule=linear fixes the run's length at {saved.steps} steps; resume with "
            f"--steps {saved.steps}, or start a new run for a different length"
        )
    return given


def _truncate_metrics(out: Path, step: int) -> None:
    """Drop log rows written after the checkpoint a run resumes from."""
    rows = [row for row in read_metrics(out) if row["step"] <= step]
    if (out / METRICS_FILE).exists():
        _write_text_atomically(out / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in rows))


# -- training --------------------------------------------------------------------------------------


class _MetricsLog:
    """Turns per-iteration metrics into one JSON row per ``log_every`` iterations."""

    def __init__(self, path: Path, log_every: int, total: int):
        self.log_every, self.total = log_every, total
        self.buffer: dict[str, list[np.ndarray]] = {}
        self.file = path.open("a", buffering=1)
        self.start_time = self.last_time = time.perf_counter()

    def add(self, metrics: dict[str, np.ndarray]) -> None:
        for name, values in metrics.items():
            self.buffer.setdefault(name, []).append(np.asarray(values))
        steps = np.concatenate(self.buffer["step"])
        ends = [s for s in steps if s % self.log_every == 0 or s == self.total]
        for end in ends:
            self._emit(end)

    def _emit(self, end: int) -> None:
        merged = {k: np.concatenate(v) for k, v in self.buffer.items()}
        take = merged["step"] <= end
        now = time.perf_counter()
        row: dict[str, float] = {"step": int(end)}
        for name, values in merged.items():
            if name != "step":
                row[name] = float(np.mean(values[take]))
        row["it_per_s"] = float(take.sum() / max(now - self.last_time, 1e-9))
        row["time_s"] = round(now - self.start_time, 3)
        self.file.write(json.dumps(row) + "\n")
        self.buffer = {k: [v[~take]] for k, v in merged.items()}
        self.last_time = now

    def close(self) -> None:
        self.file.close()


def class_row_labels(num: int, columns: int, num_classes: int) -> np.ndarray:
    """Labels that give a conditional sample grid one class per row (row index mod classes).

    Args:
        num: number of samples in the grid.
        columns: samples per row.
        num_classes: number of classes.

    Returns:
        int32 array (num,): sample ``i`` is of class ``(i // columns) % num_classes``.

    Example:
        >>> class_row_labels(6, 2, 2).tolist()
        [0, 0, 1, 1, 0, 0]

    """
    return ((np.arange(num) // columns) % num_classes).astype(np.int32)


def grid_layout(config: TrainConfig) -> tuple[int, int]:
    """Return ``(samples, columns)`` of a run's sample grids.

    Unconditional runs show ``grid_size × grid_size`` samples; conditional runs one class per
    row, with at least as many rows as classes so that every class appears.

    Args:
        config: the run's config (``num_classes`` set when conditional).

    Returns:
        The number of samples and of columns.

    Example:
        >>> grid_layout(TrainConfig(grid_size=4))
        (16, 4)

    """
    rows = config.grid_size
    if config.conditional and config.num_classes is not None:
        rows = max(rows, config.num_classes)
    return rows * config.grid_size, config.grid_size


def _generate_batches(
    state: GANState, z: jax.Array, labels: np.ndarray | None, batch: int = 512
) -> np.ndarray:
    """Generate from ``z`` (and labels, for conditional states) in batches; numpy float32."""
    parts = []
    for i in range(0, z.shape[0], batch):
        y = None if labels is None else jnp.asarray(labels[i : i + batch])
        parts.append(np.asarray(_generate(state, z[i : i + batch], y)))
    return np.concatenate(parts)


def _write_samples(
    config: TrainConfig, state: GANState, fixed_z: jax.Array, real: np.ndarray, path: Path
) -> Path:
    title = f"{config.name} · step {int(state.step)}"
    if config.is_points:
        fake = _generate_batches(state, fixed_z, None)
        modes = _MIXTURE_MODES.get(config.data)
        return viz.save_scatter(
            fake, real, path, modes=None if modes is None else modes(), title=title
        )
    num, columns = grid_layout(config)
    labels = None
    if state.config.num_classes is not None:
        labels = class_row_labels(num, columns, state.config.num_classes)
    fake = _generate_batches(state, fixed_z, labels)
    return viz.save_image_grid(fake, path, columns=columns)


def _next_boundary(step: int, config: TrainConfig, total: int) -> int:
    every = (config.checkpoint_every, config.sample_every)
    return min(total, *((step // e + 1) * e for e in every))


def train(
    config: TrainConfig,
    out_dir: PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> TrainSummary:
    """Train the run a config describes, writing the run folder; resume it exactly if asked.

    Nothing in an existing folder is changed until the config, the data, the model and (when
    resuming) the checkpoint have been checked, so bad input leaves old runs intact.

    Args:
        config: the run's config. When resuming it must equal the saved one except for
            ``RESUMABLE_FIELDS`` (e.g. more ``steps``).
        out_dir: the run folder; a new run needs it absent or empty (or ``overwrite``).
        resume: continue from the folder's latest checkpoint.
        overwrite: replace the jaxgan run in a non-empty folder (other files are refused).
        progress: show a tqdm bar (default: only when stderr is a terminal).

    Returns:
        A ``TrainSummary`` (also written to ``summary.json``).

    Raises:
        ConfigError, ValueError: invalid config, unknown data, data the model cannot make.
        FileExistsError, PermissionError, NotADirectoryError: unusable output folder.
        CheckpointNotFoundError, CorruptCheckpointError: nothing valid to resume from.

    Example:
        >>> summary = train(load_preset("seed-mlp"), "runs/first")  # doctest: +SKIP
        >>> print(summary.line())  # doctest: +SKIP

    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if resume and overwrite:
        raise ValueError("choose either resume or overwrite, not both")
    out = Path(out_dir)
    if resume:
        config = _resume_config(read_run_config(out), config)
        if not (out / CHECKPOINTS_DIR).is_dir():
            raise CheckpointNotFoundError(
                f"no checkpoint in {out} to resume from; start again with --overwrite"
            )
    else:
        _check_new_run_folder(out, overwrite)
    config, dataset = load_training_data(config)
    total = resolve_steps(config, len(dataset))
    config = dataclasses.replace(config, steps=total)  # config.json records the resolved length
    keys = run_keys(config)
    state = build_state(config, keys.init)
    _check_model_output(state, dataset)
    plan = _data_parallel_plan(config)
    tracker = None
    if config.track_metric is not None:  # built (and checked) before any file is written
        from jaxgan.evaluate import MetricTracker

        tracker = MetricTracker(config, dataset, config.track_metric, config.track_samples)
    if resume:
        with RunCheckpoints(out / CHECKPOINTS_DIR, read_only=True) as saved:
            state, _ = saved.restore(state)
        if int(state.step) > total:
            raise ValueError(
                f"{out} is already at step {int(state.step)}, beyond the {total} steps asked "
                "for; give more --steps"
            )
        _truncate_metrics(out, int(state.step))
        _write_text_atomically(out / CONFIG_FILE, json.dumps(to_dict(config), indent=2) + "\n")
    else:
        _prepare_new_run_folder(out, config)
    with RunCheckpoints(out / CHECKPOINTS_DIR, keep=config.keep_checkpoints) as ckpts:
        return _train_loop(config, state, dataset, total, keys, out, ckpts, progress, plan, tracker)


def _data_parallel_plan(config: TrainConfig) -> sharding.DataParallel | None:
    """Build the mesh plan of ``config.devices`` (checked before any file is written), or None."""
    if config.devices is None:
        return None
    devices = "all" if config.devices == "all" else int(config.devices)
    plan = sharding.as_data_parallel(sharding.data_mesh(devices))
    plan.check_batch(config.batch_size)
    return plan


def _check_model_output(state: GANState, dataset: data.Dataset) -> None:
    z = jax.ShapeDtypeStruct((1, state.config.latent_dim), np.float32)
    labels = None if state.config.num_classes is None else jax.ShapeDtypeStruct((1,), np.int32)
    fake = jax.eval_shape(lambda s, z, y: generate(s, z, y), state, z, labels)
    if tuple(fake.shape[1:]) != dataset.image_shape:
        raise ValueError(
            f"the generator makes examples of shape {tuple(fake.shape[1:])} but dataset "
            f"{dataset.name!r} has {dataset.image_shape}"
        )


def _read_track(out: Path, step: int) -> list[dict[str, Any]]:
    """Tracked-metric rows up to ``step`` (later ones, from before a resume, are dropped)."""
    path = out / TRACK_FILE
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row["step"] <= step]
    _write_text_atomically(path, "".join(json.dumps(row) + "\n" for row in rows))
    return rows


def _track(
    out: Path, tracker: Any, state: GANState, step: int, best: float | None, config: TrainConfig
) -> float | None:
    """Measure the tracked metric, log it, and keep the checkpoint when it is the best so far."""
    value = tracker(state)
    improved = tracker.improves(value, best)
    with open(out / TRACK_FILE, "a") as log:
        log.write(json.dumps({"step": step, "metric": tracker.metric, "value": value}) + "\n")
    if improved:
        meta = {"step": step, "config": to_dict(config), tracker.metric: value}
        with RunCheckpoints(out / BEST_DIR, keep=1) as best_ckpts:
            best_ckpts.save(step, state, meta)
        return value
    return best


def _train_loop(
    config: TrainConfig,
    state: GANState,
    dataset: data.Dataset,
    total: int,
    keys: RunKeys,
    out: Path,
    ckpts: RunCheckpoints,
    progress: bool | None,
    plan: sharding.DataParallel | None = None,
    tracker: Any = None,
) -> TrainSummary:
    start = step = int(state.step)
    images = data.to_model_input(dataset.x)
    if state.config.num_classes is not None:  # conditional: fit takes (samples, labels)
        images = (images, jnp.asarray(dataset.y))
    if plan is not None:
        images = plan.place_data(images)  # placed once, not again for every segment
    best = None
    if tracker is not None:
        for row in _read_track(out, step):
            if tracker.improves(row["value"], best):
                best = row["value"]
    num_shown = config.scatter_points if config.is_points else grid_layout(config)[0]
    fixed_z = _sample_latent(keys.noise, num_shown, config.latent_dim)
    real_shown = dataset.x[: config.scatter_points] if config.is_points else dataset.x[:0]
    log = _MetricsLog(out / METRICS_FILE, config.log_every, total)
    show = sys.stderr.isatty() if progress is None else progress
    # some terminals (CI ptys, editors) report a 0×0 size, which makes tqdm print nothing
    term_columns, term_rows = shutil.get_terminal_size((100, 20))
    bar = tqdm(
        total=total,
        initial=start,
        disable=not show,
        unit="it",
        desc=config.name,
        ncols=term_columns if term_columns > 0 else 100,
        nrows=term_rows if term_rows > 0 else 20,
    )
    samples = None

    def on_chunk(_: int, metrics: dict[str, np.ndarray]) -> None:
        log.add(metrics)
        bar.update(len(metrics["step"]))
        last = {k: float(metrics[k][-1]) for k in ("d_loss", "g_loss", "d_real", "d_fake")}
        bar.set_postfix_str(
            "D {d_loss:.3f} G {g_loss:.3f} D(x) {d_real:.2f} D(G(z)) {d_fake:.2f}".format(**last)
        )

    began = time.perf_counter()
    try:
        while step < total:
            end = _next_boundary(step, config, total)
            state, _ = fit(
                state,
                images,
                steps=end - step,
                batch_size=config.batch_size,
                key=keys.train,
                loop=config.loop,
                steps_per_call=config.steps_per_call,
                on_chunk=on_chunk,
                mesh=plan,
            )
            step = end
            if step % config.sample_every == 0 or step == total:
                samples = _write_samples(
                    config, state, fixed_z, real_shown, out / SAMPLES_DIR / f"step_{step:07d}.png"
                )
                viz.save_loss_curves(read_metrics(out), out / LOSS_PLOT, title=config.name)
                if tracker is not None:
                    best = _track(out, tracker, state, step, best, config)
            if step % config.checkpoint_every == 0 or step == total:
                meta = {
                    "step": step,
                    "config": to_dict(config),
                    "saved_at": datetime.datetime.now().isoformat(timespec="seconds"),
                }
                ckpts.save(step, state, meta)
    finally:
        bar.close()
        log.close()
    wall = time.perf_counter() - began
    rows = read_metrics(out)
    last = {k: v for k, v in (rows[-1] if rows else {}).items() if k != "step"}
    if samples is None:
        found = sorted((out / SAMPLES_DIR).glob("step_*.png"))
        samples = found[-1] if found else None
    summary = TrainSummary(out, config.name, start, step, wall, last, samples)
    _write_text_atomically(out / SUMMARY_FILE, json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


# -- sampling --------------------------------------------------------------------------------------


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
    key = run_keys(config).noise if seed is None else jax.random.key(seed)
    z = _sample_latent(key, n, config.latent_dim)
    columns = math.ceil(math.sqrt(n))  # the square grid of viz.save_image_grid
    labels = None
    if state.config.num_classes is not None:
        labels = class_row_labels(n, columns, state.config.num_classes)
    fake = _generate_batches(state, z, labels)
    out = Path(run_dir) / "sample.png" if out is None else Path(out)
    title = f"{config.name} · step {int(state.step)}"
    if config.is_points:
        _, dataset = load_training_data(config)
        modes = _MIXTURE_MODES.get(config.data)
        return viz.save_scatter(
            fake,
            dataset.x[: config.scatter_points],
            out,
            modes=None if modes is None else modes(),
            title=title,
        )
    return viz.save_image_grid(fake, out, columns=columns)
