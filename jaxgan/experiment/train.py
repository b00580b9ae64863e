"""Train the run a config describes into a run folder, or resume it exactly.

``train(config, out_dir)`` is what ``jaxgan train`` calls for one run. It checks everything
before it writes (config, data, model, memory, the folder, the checkpoint to resume from:
``jaxgan.experiment.guards``), takes the folder's lock (``jaxgan.experiment.lock``), builds the
state (``jaxgan.experiment.build``) and makes one call of the driver ``jaxgan.fit`` with hooks:
the metrics log, the progress bar, sample grids, the tracked metric with its best checkpoint,
checkpoints, and a clean stop on SIGTERM/SIGINT (``jaxgan.experiment.signals``). Exact resume:
every random draw is a function of the config's seed and the state's counters, and checkpoints
hold the whole state, so ``train(..., resume=True)`` after a stop at any point ends with the
same bits (on CPU) as an uninterrupted run. A non-finite loss, gradient norm or state stops the
run (``on_nonfinite="stop"``) naming the step and the last good checkpoint; none is ever saved.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import data, hooks, sharding, tboard, viz
from jaxgan.checkpoint import CheckpointNotFoundError, RunCheckpoints
from jaxgan.experiment import board, guards
from jaxgan.experiment.build import (
    build_state,
    class_row_labels,
    grid_layout,
    load_training_data,
    run_keys,
)
from jaxgan.experiment.config import TrainConfig, resolve_steps, to_dict
from jaxgan.experiment.evaluators import MetricTracker
from jaxgan.experiment.lock import RunLock
from jaxgan.experiment.rundir import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    LOSS_PLOT,
    METRICS_FILE,
    RUN_ENTRIES,
    SAMPLES_DIR,
    SUMMARY_FILE,
    TENSORBOARD_DIR,
    TRACK_FILE,
    PathLike,
    TrainSummary,
    check_new_run_folder,
    prepare_new_run_folder,
    read_metrics,
    read_run_config,
    read_track,
    resume_config,
    truncate_metrics,
    write_text_atomically,
)
from jaxgan.experiment.signals import GracefulSignals, StopOnSignal, signal_name, stop_advice
from jaxgan.loop import NonFiniteError, NonFinitePolicy, fit
from jaxgan.sampling import generate_batches
from jaxgan.state import GANState, generate, sample_latent
from jaxgan.tboard import EventLog


def train(
    config: TrainConfig,
    out_dir: PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    on_nonfinite: NonFinitePolicy = "stop",
) -> TrainSummary:
    """Train the run a config describes, writing the run folder; resume it exactly if asked.

    Nothing in an existing folder is changed until the config, the data, the model, the memory
    it needs and (when resuming) the checkpoint have been checked, so bad input leaves old runs
    intact. One process at a time writes a folder (its lock). SIGTERM or SIGINT stop after the
    current chunk with a checkpoint (``RunInterruptedError``); a second one exits at once.

    Args:
        config: the run's config. When resuming it must equal the saved one except for
            ``RESUMABLE_FIELDS`` (e.g. more ``steps``).
        out_dir: the run folder; a new run needs it absent or empty (or ``overwrite``).
        resume: continue from the folder's latest checkpoint.
        overwrite: replace the jaxgan run in a non-empty folder (other files are refused).
        progress: show a tqdm bar (default: only when stderr is a terminal).
        on_nonfinite: ``"stop"``: a non-finite loss, gradient norm or state ends the run with
            ``NonFiniteError`` (naming the step and the last good checkpoint); ``"warn"``:
            warn once and train on, writing no checkpoint, grid or tracked metric while the
            state is not finite.

    Returns:
        A ``TrainSummary`` (also written to ``summary.json``).

    Raises:
        ConfigError, ValueError: invalid config, unknown data, data the model cannot make,
            a resumed ``config.json`` edited since its checkpoint.
        FileExistsError, PermissionError, NotADirectoryError: unusable output folder.
        RunFolderBusyError: another process is training in ``out_dir``.
        CheckpointNotFoundError, CorruptCheckpointError: nothing valid to resume from.
        NonFiniteError: training diverged (``on_nonfinite="stop"``).
        RunInterruptedError: SIGTERM or SIGINT (``exit_code`` 143 or 130).

    Example:
        >>> summary = train(load_preset("seed-mlp"), "runs/first")  # doctest: +SKIP
        >>> print(summary.line())  # doctest: +SKIP

    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if resume and overwrite:
        raise ValueError("choose either resume or overwrite, not both")
    if on_nonfinite not in ("stop", "warn"):
        raise ValueError(f"on_nonfinite must be 'stop' or 'warn', got {on_nonfinite!r}")
    out = Path(out_dir)
    if resume:
        config = resume_config(read_run_config(out), config)
        if not (out / CHECKPOINTS_DIR).is_dir():
            raise CheckpointNotFoundError(
                f"no checkpoint in {out} to resume from; start again with --overwrite"
            )
        guards.check_resume_folder(out)
    else:
        check_new_run_folder(out, overwrite)
        if overwrite:
            guards.check_overwrite(out, RUN_ENTRIES)
    config, dataset = load_training_data(config)
    total = resolve_steps(config, len(dataset))
    config = config.replace(steps=total)  # config.json records the resolved length
    guards.config_warnings(config)
    guards.check_run_inputs(config, len(dataset))
    keys = run_keys(config.schedule.seed)
    state = build_state(config, keys.init)
    _check_model_output(state, dataset)
    plan = data_parallel_plan(config)
    tracker = None
    outputs = config.outputs
    if outputs.track_metric is not None:  # built (and checked) before any file is written
        tracker = MetricTracker(config, dataset, outputs.track_metric, outputs.track_samples)
    # from here on: one writer (the lock), and signals stop after a chunk, with a checkpoint
    run = _Run(out, on_nonfinite)
    with GracefulSignals(run.second_signal) as run.stop, RunLock(out):
        if resume:
            state = _resume_state(out, state, config, total)
        else:
            check_new_run_folder(out, overwrite)  # again, now that no one else writes here
            guards.remove_leftover_trash(out)  # what an overwrite killed midway left
            if overwrite:
                guards.check_overwrite(out, RUN_ENTRIES)
                guards.clear_entries(out, RUN_ENTRIES)
            prepare_new_run_folder(out, config)
        return _train(config, state, dataset, total, out, progress, plan, tracker, run)


def _resume_state(out: Path, template: GANState, config: TrainConfig, total: int) -> GANState:
    """Restore the latest checkpoint, check it against the run, drop the log rows after it."""
    with RunCheckpoints(out / CHECKPOINTS_DIR, read_only=True) as saved:
        state, meta = saved.restore(template)
        where = saved.directory / str(int(state.step))
    guards.check_resumed_config(config, meta.get("config"), where)
    guards.check_finite_checkpoint(state, where)
    if int(state.step) > total:
        raise ValueError(
            f"{out} is already at step {int(state.step)}, beyond the {total} steps asked "
            "for; give more --steps"
        )
    truncate_metrics(out, int(state.step))
    write_text_atomically(out / CONFIG_FILE, json.dumps(to_dict(config), indent=2) + "\n")
    return state


class _Run:
    """How ``_train`` stops: the signal flag, what to say on a stop, the non-finite policy."""

    def __init__(self, out: Path, on_nonfinite: NonFinitePolicy):
        self.out, self.on_nonfinite = out, on_nonfinite
        self.resume_command = f"jaxgan train --resume --out {out}"
        self.stop: GracefulSignals | None = None  # set while the run holds its folder

    def second_signal(self, signum: int) -> str:
        """Return the line printed when a second signal ends the process at once."""
        restart = f"jaxgan train --overwrite --out {self.out}"
        checkpoints = [self.out / CHECKPOINTS_DIR]
        advice = stop_advice(self.out, checkpoints, self.resume_command, restart)
        return f"second {signal_name(signum)}: {advice}"


def data_parallel_plan(config: TrainConfig) -> sharding.DataParallel | None:
    """Build the mesh plan of ``devices`` (checked before any file is written), or None.

    Args:
        config: the run's config.

    Returns:
        A ``DataParallel`` plan over the devices asked for, or None for the default device.

    Example:
        >>> data_parallel_plan(TrainConfig()) is None
        True

    """
    devices = config.schedule.devices
    if devices is None:
        return None
    mesh = sharding.data_mesh("all" if devices == "all" else int(devices))
    plan = sharding.as_data_parallel(mesh)
    plan.check_batch(config.schedule.batch_size)
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


class SampleGrids:
    """The run folder's sample grids (or 2-D scatter plots) from fixed noise, and loss curves.

    Args:
        config: the run's config.
        dataset: the training data (2-D runs draw real points underneath).
        out: the run folder.

    Example:
        >>> grids = SampleGrids(config, dataset, Path("runs/a"))  # doctest: +SKIP
        >>> grids(1000, state)  # doctest: +SKIP

    """

    def __init__(self, config: TrainConfig, dataset: data.Dataset, out: Path):
        self.config, self.out = config, out
        points = config.outputs.scatter_points
        num = points if config.is_points else grid_layout(config)[0]
        self.z = sample_latent(run_keys(config.schedule.seed).noise, num, config.step.latent_dim)
        self.real = dataset.x[:points] if config.is_points else None
        self.last: Path | None = None
        self.last_step: int | None = None
        self.fake: np.ndarray | None = None
        self.labels: np.ndarray | None = None

    def __call__(self, step: int, state: GANState) -> Path:
        """Write the grid of ``step`` and the loss curves so far.

        Args:
            step: the step reached.
            state: the state at ``step``.

        Returns:
            The grid's path.

        Example:
            >>> grids(1000, state)  # doctest: +SKIP

        """
        config = self.config
        self.labels = None
        path = self.out / SAMPLES_DIR / f"step_{step:07d}.png"
        title = f"{config.name} · step {step}"
        if config.is_points:
            fake = generate_batches(state, self.z)
            name = config.data.name
            modes = data.mixture(name).modes if name in data.mixture_names() else None
            self.last = viz.save_scatter(fake, self.real, path, modes=modes, title=title)
        else:
            num, columns = grid_layout(config)
            labels = None
            if state.config.num_classes is not None:
                labels = class_row_labels(num, columns, state.config.num_classes)
            fake = generate_batches(state, self.z, labels)
            self.last = viz.save_image_grid(fake, path, columns=columns)
            self.labels = None if labels is None else np.asarray(labels)
        self.fake, self.last_step = fake, step
        viz.save_loss_curves(read_metrics(self.out), self.out / LOSS_PLOT, title=config.name)
        return self.last


class TrackBest:
    """Measure the tracked metric, log it to ``track.jsonl``, keep the best checkpoint in best/.

    Each row of ``track.jsonl`` holds ``step``, ``metric``, ``value`` and ``track_seconds``, the
    measurement's own wall time, so the cost of tracking is visible.

    Saving is idempotent: a best checkpoint of a step already saved (before a resume) is kept,
    and the folder then keeps what a save would have kept.

    Args:
        tracker: a ``MetricTracker``.
        out: the run folder.
        config: the run's config (stored with the best checkpoint).
        start: the step training starts from (rows after it, from before a resume, are dropped).
        log: also write each value to this TensorBoard log (as ``track/<metric>``).

    Example:
        >>> TrackBest(tracker, Path("runs/a"), config, 0)(1000, state)  # doctest: +SKIP

    """

    def __init__(
        self,
        tracker: MetricTracker,
        out: Path,
        config: TrainConfig,
        start: int,
        log: EventLog | None = None,
    ):
        self.tracker, self.out, self.config, self.log = tracker, out, config, log
        self.best: float | None = None
        for row in read_track(out, start):
            if tracker.improves(row["value"], self.best):
                self.best = row["value"]

    def __call__(self, step: int, state: GANState) -> None:
        """Measure ``state`` and keep it when it is the best so far.

        Args:
            step: the step reached.
            state: the state at ``step``.

        Example:
            >>> track(1000, state)  # doctest: +SKIP

        """
        value = self.tracker(state)
        improved = self.tracker.improves(value, self.best)
        seconds = round(self.tracker.seconds, 4)
        row = {"step": step, "metric": self.tracker.metric, "value": hooks.json_value(value),
               "track_seconds": seconds}  # fmt: skip
        with open(self.out / TRACK_FILE, "a") as log:
            log.write(json.dumps(row, allow_nan=False) + "\n")
        if self.log is not None:
            self.log.scalars(step, {f"track/{self.tracker.metric}": value,
                                    "track/seconds": seconds})  # fmt: skip
        if improved:
            meta = {"step": step, "config": to_dict(self.config), self.tracker.metric: value}
            with RunCheckpoints(self.out / BEST_DIR, keep=1) as best:
                if step not in best.steps():
                    best.save(step, state, meta)
                else:
                    best.keep_newest(step)
            self.best = value


def _hparam_metrics(config: TrainConfig) -> list[str]:
    """Return the scalars the hparams table shows: losses, D's outputs, the tracked metric."""
    tracked = config.outputs.track_metric
    return [*board.HPARAM_METRICS, *([f"track/{tracked}"] if tracked else [])]


def _train(
    config: TrainConfig,
    state: GANState,
    dataset: data.Dataset,
    total: int,
    out: Path,
    progress: bool | None,
    plan: sharding.DataParallel | None,
    tracker: MetricTracker | None,
    run: _Run,
) -> TrainSummary:
    start = int(state.step)
    outputs = config.outputs
    images: Any = data.to_model_input(dataset.x)
    if state.config.num_classes is not None:  # conditional: fit takes (samples, labels)
        images = (images, jnp.asarray(dataset.y))
    grids = SampleGrids(config, dataset, out)

    def metadata(step: int) -> dict[str, Any]:
        saved_at = datetime.datetime.now().isoformat(timespec="seconds")
        return {"config": to_dict(config), "saved_at": saved_at}

    bar = hooks.ProgressBar(total, initial=start, desc=config.name, show=progress)
    began = time.perf_counter()
    with (
        open(out / METRICS_FILE, "a", buffering=1) as log_file,
        RunCheckpoints(out / CHECKPOINTS_DIR, keep=outputs.keep_checkpoints) as checkpoints,
    ):
        events, scalars = None, None
        if outputs.log == "tensorboard":  # the same rows as metrics.jsonl, and more
            hparams = board.config_hparams(config)
            events = board.open_log(out / TENSORBOARD_DIR, start, hparams, _hparam_metrics(config))
            linear = config.optim.lr_schedule == "linear"
            rates = board.learning_rate_scalars(state, config.schedule.steps, linear)
            scalars = tboard.ScalarLog(events, outputs.log_every, rates)
        on_row = None if scalars is None else scalars.write_row
        log = hooks.MetricsLog(log_file, outputs.log_every, on_row)

        def write_samples(step: int, state: GANState) -> None:
            log.flush()  # the loss curves include this step's row
            grids(step, state)

        run_hooks: list[Any] = [log, bar, hooks.LossLimit()]
        run_hooks.append(hooks.Every(config.outputs.sample_every, write_samples, needs_finite=True))
        if events is not None:
            outputs_of_d = board.DOutputs(config, dataset)
            grid_events = board.GridEvents(events, grids, outputs_of_d)
            run_hooks.append(hooks.Every(outputs.sample_every, grid_events, needs_finite=True))
        if tracker is not None:
            track = TrackBest(tracker, out, config, start, events)
            run_hooks.append(hooks.Every(config.outputs.sample_every, track, needs_finite=True))

        # the log's row of a checkpoint's step is written before the checkpoint (exact resume)
        save = hooks.Checkpoint(
            checkpoints, config.outputs.checkpoint_every, metadata, lambda *_: log.flush()
        )
        run_hooks += [save, StopOnSignal(run.stop, save, run.resume_command)]  # stop: last
        try:
            state, _ = fit(
                state,
                images,
                steps=total - start,
                batch_size=config.schedule.batch_size,
                key=run_keys(config.schedule.seed).train,
                loop=config.schedule.loop,
                steps_per_call=config.schedule.steps_per_call,
                hooks=run_hooks,
                mesh=plan,
                on_nonfinite=run.on_nonfinite,
            )
        except NonFiniteError as err:
            good = guards.last_good_checkpoint(checkpoints, "no checkpoint was saved")
            raise NonFiniteError(
                f"{err}; {good}; lower the learning rate (or add a penalty) and start a new run",
                step=err.step,
                runs=err.runs,
            ) from None
        finally:
            bar.close()
            if events is not None:
                events.close()
    wall = time.perf_counter() - began
    rows = read_metrics(out)
    last = {k: v for k, v in (rows[-1] if rows else {}).items() if k != "step"}
    samples = grids.last
    if samples is None:
        found = sorted((out / SAMPLES_DIR).glob("step_*.png"))
        samples = found[-1] if found else None
    summary = TrainSummary(out, config.name, start, int(state.step), wall, last, samples)
    text = json.dumps(hooks.json_safe(summary.to_dict()), indent=2, allow_nan=False)
    write_text_atomically(out / SUMMARY_FILE, text + "\n")
    return summary
