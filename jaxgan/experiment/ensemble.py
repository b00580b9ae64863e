"""Seeds × sweep settings trained as ensembles into one folder, with checkpoints and resume.

``run_ensemble`` plans the runs (``jaxgan.sweeps``), trains every group of runs that shares its
static values as one stacked state through the one driver ``jaxgan.fit`` (``runs_together`` at
a time, one slice after another), evaluates every run and writes the summary tables and plots.
Each slice checkpoints its stacked state and its history (``slices/<k>/``), so an ensemble
stopped at any point, even by SIGKILL, continues with ``resume=True`` to the same bits. As for
one run (``jaxgan.experiment.train``): one writer per folder (its lock), SIGTERM/SIGINT stop
after the chunk with a checkpoint, a diverged run stops the ensemble naming the run, and an
``ensemble.json`` edited since a slice's checkpoint is refused.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxgan import hooks, tboard
from jaxgan.checkpoint import RunCheckpoints
from jaxgan.data import to_model_input
from jaxgan.data.dataset import Dataset
from jaxgan.ensembles import BuildStateFn, check_build_fn, create_ensemble, fit_ensemble
from jaxgan.experiment import board, guards
from jaxgan.experiment.config import ConfigError, from_dict
from jaxgan.experiment.evaluators import Evaluator, aggregate_runs, auto_evaluator
from jaxgan.experiment.lock import LOCK_FILE, RunLock
from jaxgan.experiment.rundir import TENSORBOARD_DIR, write_text_atomically
from jaxgan.experiment.signals import GracefulSignals, StopOnSignal, signal_name, stop_advice
from jaxgan.loop import NonFiniteError
from jaxgan.sampling import generate_batches
from jaxgan.sharding import DataParallel
from jaxgan.state import GANState, sample_latent
from jaxgan.sweeps import RunSpec, group_runs, plan_runs, run_keys, slices

Array = jax.Array
SETUP_FILE = "ensemble.json"
SLICES_DIR = "slices"
ENSEMBLE_ENTRIES = frozenset(
    {
        SETUP_FILE,
        SLICES_DIR,
        "summary.json",
        "summary.md",
        "runs.csv",
        "aggregate.csv",
        "history.npz",
        "samples.png",
        "samples",
        TENSORBOARD_DIR,
    }
)
"""Names ``run_ensemble`` writes into its folder (``overwrite`` removes only these)."""


def _jsonable(value: Any) -> Any:
    """Nested summary → strict JSON values (NaN and inf become null)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _write_tables(out: Path, rows: list[dict], aggregate: list[dict], metrics: list[str]):
    """Write runs.csv, aggregate.csv and summary.md (aggregate table first, then the runs)."""
    for path, table in ((out / "runs.csv", rows), (out / "aggregate.csv", aggregate)):
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    cols = ["setting", "runs", *metrics]
    lines = ["## Mean ± s.e. over seeds", "", "| " + " | ".join(cols) + " |"]
    lines.append("|" + "---|" * len(cols))
    for row in aggregate:
        cells = [row["setting"], str(row["runs"])]
        cells += [f"{_fmt(row[f'{m}_mean'])} ± {_fmt(row[f'{m}_se'])}" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Runs", "", "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(_fmt(v) for v in row.values()) + " |" for row in rows]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def _save_plots(out: Path, samples: list[np.ndarray], titles: list[str], real, modes) -> None:
    """Per-run plots (jaxgan.viz) and one overview figure with a panel per run."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from jaxgan import viz

    for i, (fake, title) in enumerate(zip(samples, titles, strict=True)):
        if not np.isfinite(fake).all():
            continue  # a run that diverged (on_nonfinite="warn") has nothing to show
        path = out / "samples" / f"run_{i:03d}.png"
        if fake.ndim == 2:
            viz.save_scatter(fake, real, path, modes=modes, title=title)
        else:
            viz.save_image_grid(fake, path)
    cols = min(len(samples), 5)
    rows = math.ceil(len(samples) / cols)
    fig = Figure(figsize=(2.4 * cols, 2.4 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, fake, title in zip(axes, samples, titles, strict=False):
        ax.set_title(title, fontsize=7)
        if not np.isfinite(fake).all():
            continue
        if fake.ndim == 2:
            ax.scatter(real[:, 0], real[:, 1], s=1, c="0.75", linewidths=0)
            ax.scatter(fake[:, 0], fake[:, 1], s=1, c="tab:blue", linewidths=0)
            ax.set_aspect("equal", adjustable="datalim")
        else:
            grid = viz.image_grid(fake[:16])
            ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray")
    fig.savefig(out / "samples.png")


def _check_out(out: Path, setup: dict[str, Any], *, resume: bool, overwrite: bool) -> None:
    """Check the ensemble folder before anything is written (read only)."""
    saved = out / SETUP_FILE
    if resume:
        if not saved.is_file():
            raise FileNotFoundError(f"{out} holds no ensemble to resume (no {SETUP_FILE})")
        before = json.loads(saved.read_text())
        changed = sorted(k for k in set(before) | set(setup) if before.get(k) != setup.get(k))
        if changed:
            raise ValueError(
                f"{out} holds another ensemble: {', '.join(changed)} differ; resume with the "
                "same seeds, sweep and settings, or choose another --out"
            )
        return
    if out.exists():
        entries = sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE)
        if entries and not overwrite:
            if (out / "summary.json").exists():
                raise FileExistsError(
                    f"{out} already holds an ensemble summary; pick another out_dir"
                )
            raise FileExistsError(
                f"output folder {out} is not empty; continue it with --resume, replace it with "
                "--overwrite, or choose another --out"
            )
        foreign = [e for e in entries if e not in ENSEMBLE_ENTRIES and not e.startswith(".")]
        if foreign:
            raise FileExistsError(
                f"will not overwrite {out}: it holds files jaxgan did not write "
                f"({', '.join(foreign[:3])}); choose another --out"
            )
        guards.check_overwrite(out, entries)


def _prepare_out(out: Path, setup: dict[str, Any], *, resume: bool, overwrite: bool) -> None:
    """Check the ensemble folder again (under its lock), clear it if asked, write the setup."""
    _check_out(out, setup, resume=resume, overwrite=overwrite)
    if resume:
        return
    guards.remove_leftover_trash(out)
    guards.clear_entries(out, [p.name for p in out.iterdir() if p.name != LOCK_FILE])
    write_text_atomically(out / SETUP_FILE, json.dumps(setup, indent=2) + "\n")


def _train_slice(
    build_state_fn: BuildStateFn,
    group: list[RunSpec],
    folder: Path,
    real: Array,
    labels: Array | None,
    *,
    steps: int,
    batch_size: int,
    data_key: Array | None,
    loop: str,
    steps_per_call: int,
    checkpoint_every: int,
    mesh: Mesh | DataParallel | None,
    progress: bool | None,
    setup: dict[str, Any],
    stop: GracefulSignals,
    on_nonfinite: Literal["stop", "warn"],
    tensorboard: _Board | None,
) -> tuple[GANState, dict[str, np.ndarray], float]:
    """Train one slice of runs to ``steps``, continuing from its latest checkpoint if any."""
    stacked, keys = create_ensemble(build_state_fn, group)
    conditional = stacked.config.num_classes is not None and labels is not None
    history = hooks.History()
    checkpoints_dir = folder / "checkpoints"
    if checkpoints_dir.is_dir():
        with RunCheckpoints(checkpoints_dir, read_only=True) as saved:
            if saved.latest_step() is not None:
                stacked, meta = saved.restore(stacked)
                where = saved.directory / str(saved.latest_step())
                guards.check_resumed_setup(setup, meta.get("setup"), where)
                guards.check_finite_checkpoint(stacked, where)
    start = int(np.asarray(stacked.g_updates)[0])
    history.load(folder / "history.npz", start)
    folder.mkdir(parents=True, exist_ok=True)
    first, last = group[0].index, group[-1].index
    label = f"runs {first}-{last}" if last > first else f"run {first}"
    bar = hooks.ProgressBar(steps, initial=start, desc=label, show=progress)
    started = time.perf_counter()
    logs: list[tboard.EventLog] = []
    scalars: tboard.ScalarLog | None = None
    if tensorboard is not None:  # one TensorBoard run per member
        logs = board.member_logs(tensorboard.folder, group, start, tensorboard.hparams)
        rates = board.learning_rate_scalars(stacked, steps, tensorboard.linear_lr)
        scalars = tboard.ScalarLog(logs, tensorboard.log_every, rates)

    def before_save(step: int, state: GANState) -> None:
        if scalars is not None:
            scalars.flush()
        history.save(folder / "history.npz")

    with RunCheckpoints(checkpoints_dir, keep=2) as checkpoints:
        save = hooks.Checkpoint(
            checkpoints,
            checkpoint_every,
            metadata=lambda step: {"setup": setup},
            before_save=before_save,
        )
        resume = f"jaxgan train --resume --out {folder.parent.parent}"
        slice_hooks: list[Any] = [history, bar, hooks.LossLimit()]
        slice_hooks += [scalars] if scalars is not None else []
        slice_hooks += [save, StopOnSignal(stop, save, resume)]
        try:
            stacked, _ = fit_ensemble(
                stacked,
                (real, labels) if conditional else real,
                steps=steps - start,
                batch_size=batch_size,
                keys=keys,
                loop=loop,  # type: ignore[arg-type]
                steps_per_call=steps_per_call,
                data_key=data_key,
                hooks=slice_hooks,
                mesh=mesh,
                on_nonfinite=on_nonfinite,
            )
        except NonFiniteError as err:
            good = guards.last_good_checkpoint(checkpoints, "no checkpoint of this slice was saved")
            raise NonFiniteError(
                f"{label}: {err}; {good}; lower the learning rate (or add a penalty), or pass "
                "on_nonfinite='warn' (--on-nonfinite warn) to let the other runs finish",
                step=err.step,
                runs=err.runs,
            ) from None
        finally:
            bar.close()
            for log in logs:
                log.close()
    return stacked, history.arrays(), time.perf_counter() - started


class _Board:
    """Where and how an ensemble's members log to TensorBoard."""

    def __init__(self, folder: Path, setup: Mapping[str, Any], log_every: int):
        self.folder, self.log_every = folder, log_every
        self.hparams: dict[str, Any] = {}
        self.linear_lr = False
        try:
            config = from_dict(setup["config"]) if "config" in setup else None
        except ConfigError:
            config = None
        if config is not None:
            self.hparams = board.config_hparams(config)
            self.linear_lr = config.optim.lr_schedule == "linear"
        else:
            scalars = (bool, int, float, str)
            self.hparams = {k: v for k, v in setup.items() if isinstance(v, scalars)}


def run_ensemble(
    build_state_fn: BuildStateFn,
    data: Dataset | np.ndarray | Array | tuple[Any, Any],
    *,
    seeds: int | Sequence[int],
    steps: int,
    batch_size: int,
    out_dir: str | Path,
    sweep: Mapping[str, Sequence[Any]] | None = None,
    combine: Literal["grid", "zip"] = "grid",
    evaluate: Evaluator | Literal["auto"] | None = "auto",
    num_samples: int | None = None,
    eval_seed: int = 0,
    data_order: Literal["per_run", "shared"] = "per_run",
    loop: Literal["auto", "scan", "python"] = "auto",
    steps_per_call: int = 100,
    plots: bool = True,
    overwrite: bool = False,
    runs_together: int | None = None,
    on_group: Callable[[dict[str, Any]], None] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    mesh: Mesh | DataParallel | None = None,
    progress: bool | None = False,
    setup_extra: Mapping[str, Any] | None = None,
    on_nonfinite: Literal["stop", "warn"] = "stop",
    log: Literal["tensorboard", "none"] = "none",
    log_every: int = 100,
) -> dict[str, Any]:
    """Train seeds × sweep settings as ensembles, evaluate every run, write one summary.

    Runs that share their static values train together in one compiled program (one per
    group), or ``runs_together`` at a time, one slice after another (slices of one size share
    their compiled program). Each slice saves its stacked state and its history every
    ``checkpoint_every`` iterations under ``slices/<k>/``; ``resume=True`` skips finished slices
    and continues the others from their checkpoints, bit-exact. Writes to ``out_dir``:
    ``summary.json`` (setup, per-run rows, mean ± s.e. per setting, per-slice timing),
    ``summary.md``, ``runs.csv``, ``aggregate.csv``, ``history.npz`` (each metric as an array
    (steps, runs)), ``samples.png`` (all runs) and ``samples/run_XXX.png``. Per-run training
    metrics are means over the last 10% of steps. With ``log="tensorboard"``,
    ``tensorboard/<member>/`` holds one TensorBoard run per member (named like
    ``seed=0,lr=0.0002``; ``jaxgan.experiment.board``).

    Args:
        build_state_fn: ``(init_key, **build_values) -> GANState`` for one run (traceable).
        data: a ``jaxgan.data.Dataset`` (its labels are used for conditional GANs), an array
            (M, ...) of training examples or a ``(samples, labels)`` pair.
        seeds: runs per setting (seeds ``0..n-1``) or a list of seeds.
        steps: training iterations per run.
        batch_size: examples per D update.
        out_dir: output folder (created; must be empty unless ``overwrite`` or ``resume``).
        sweep: name → values (see ``jaxgan.sweeps.plan_runs``), e.g. ``{"lr": [1e-4, 2e-4]}``.
        combine: ``"grid"`` or ``"zip"`` (see ``plan_runs``).
        evaluate: per-run metrics of generated samples; ``"auto"``: PacGAN's mixture metrics
            for ``ring8``/``grid25``, modes for Stacked MNIST, none otherwise; None: training
            metrics only.
        num_samples: samples per run for evaluation and plots (default 2,500 for 2-D points,
            64 for images).
        eval_seed: seed of the evaluation noise (shared by all runs).
        data_order: ``"per_run"`` (run = ``fit`` with its own key) or ``"shared"`` (every run
            reads the first seed's order).
        loop: loop form, as in ``jaxgan.fit``.
        steps_per_call: iterations per compiled call.
        plots: write the sample plots.
        overwrite: replace the ensemble in ``out_dir``.
        runs_together: at most this many runs per vmapped program (None: a whole group). A
            run's result does not depend on it. On CPU, use 1 for conv nets: vmapped
            convolutions with per-run weights are slow there (docs/ensembles.md).
        on_group: called with each slice's timing entry (``summary["groups"]``) when it ends.
        checkpoint_every: iterations between a slice's checkpoints (None: ``steps``, i.e. only
            when the slice ends).
        resume: continue the ensemble in ``out_dir`` (same setup) from its checkpoints.
        mesh: split every run's batch over this device mesh (``jaxgan.sharding``).
        progress: show a progress bar per slice (None: when stderr is a terminal).
        setup_extra: more JSON values recorded in the setup (and checked on resume).
        on_nonfinite: ``"stop"``: a run whose loss, gradient norm or state is not finite stops
            the ensemble (``NonFiniteError`` names the slice, run, step and last good
            checkpoint); ``"warn"``: warn once and train on (that slice writes no checkpoint
            while a run is not finite; diverged runs get no sample plot).
        log: ``"tensorboard"``: write each member's metrics, learning rates and hparams as
            TensorBoard event files; ``"none"``: do not.
        log_every: iterations per TensorBoard row.

    Returns:
        The summary written to ``summary.json``: ``{"setup", "runs", "aggregate", "groups"}``.

    Example:
        >>> summary = run_ensemble(build_ring8, jaxgan.data.load("ring8"), seeds=10,
        ...                        steps=4000, batch_size=100, out_dir="runs/ring8_x10")
        ...                        # doctest: +SKIP

    """
    runs = plan_runs(seeds, sweep, combine=combine)
    check_build_fn(build_state_fn, list(runs[0].build))
    if runs_together is not None and runs_together < 1:
        raise ValueError(f"runs_together must be at least 1 (or None), got {runs_together}")
    if data_order not in ("per_run", "shared"):
        raise ValueError(f"data_order must be 'per_run' or 'shared', got {data_order!r}")
    if resume and overwrite:
        raise ValueError("choose either resume or overwrite, not both")
    if on_nonfinite not in ("stop", "warn"):
        raise ValueError(f"on_nonfinite must be 'stop' or 'warn', got {on_nonfinite!r}")
    if log not in ("tensorboard", "none"):
        raise ValueError(f"log must be 'tensorboard' or 'none', got {log!r}")
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    checkpoint_every = steps if checkpoint_every is None else checkpoint_every
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every}")
    name = data.name if isinstance(data, Dataset) else None
    if evaluate == "auto":
        evaluate = auto_evaluator(name)
    if evaluate is not None and not callable(evaluate):
        raise TypeError("evaluate must be a function samples -> {metric: value}, 'auto' or None")
    if isinstance(data, Dataset):
        samples_data: Any = data.x
        labels = None if data.y is None else jnp.asarray(data.y)
    elif isinstance(data, tuple | list):
        samples_data, labels = data[0], jnp.asarray(data[1])
    else:
        samples_data, labels = data, None
    real = to_model_input(samples_data)
    points = real.ndim == 2
    num_samples = num_samples or getattr(evaluate, "num_samples", 2500 if points else 64)
    setup = {
        "data": name,
        "steps": steps,
        "batch_size": batch_size,
        "seeds": sorted({r.seed for r in runs}),
        "sweep": {k: list(v) for k, v in (sweep or {}).items()},
        "combine": combine,
        "data_order": data_order,
        "num_samples": num_samples,
        "eval_seed": eval_seed,
        "runs_together": runs_together,
        **dict(setup_extra or {}),
    }
    setup = _jsonable(setup)
    out = Path(out_dir)
    num_examples = len(real)
    if batch_size > num_examples:
        raise ValueError(
            f"batch_size {batch_size} is larger than the dataset ({num_examples} examples); "
            "lower --batch-size or use more data"
        )
    resume_command = f"jaxgan train --resume --out {out}"

    def at_once(signum: int) -> str:
        restart = f"jaxgan train --overwrite --out {out}"
        found = list((out / SLICES_DIR).glob("*/checkpoints"))
        return f"second {signal_name(signum)}: " + stop_advice(out, found, resume_command, restart)

    with GracefulSignals(at_once) as stop:
        _check_out(out, setup, resume=resume, overwrite=overwrite)
        stop.raise_if_received("nothing was written")
        with RunLock(out):
            _prepare_out(out, setup, resume=resume, overwrite=overwrite)
            return _run_slices(
                build_state_fn,
                runs,
                out,
                real,
                labels,
                setup,
                stop,
                steps=steps,
                batch_size=batch_size,
                evaluate=evaluate,
                num_samples=num_samples,
                eval_seed=eval_seed,
                data_order=data_order,
                loop=loop,
                steps_per_call=steps_per_call,
                plots=plots,
                runs_together=runs_together,
                on_group=on_group,
                checkpoint_every=checkpoint_every,
                mesh=mesh,
                progress=progress,
                on_nonfinite=on_nonfinite,
                tensorboard=_Board(out / TENSORBOARD_DIR, setup, log_every)
                if log == "tensorboard"
                else None,
            )


def _run_slices(
    build_state_fn: BuildStateFn,
    runs: list[RunSpec],
    out: Path,
    real: Array,
    labels: Array | None,
    setup: dict[str, Any],
    stop: GracefulSignals,
    *,
    steps: int,
    batch_size: int,
    evaluate: Evaluator | None,
    num_samples: int,
    eval_seed: int,
    data_order: str,
    loop: str,
    steps_per_call: int,
    plots: bool,
    runs_together: int | None,
    on_group: Callable[[dict[str, Any]], None] | None,
    checkpoint_every: int,
    mesh: Mesh | DataParallel | None,
    progress: bool | None,
    on_nonfinite: Literal["stop", "warn"],
    tensorboard: _Board | None,
) -> dict[str, Any]:
    """Train (or load) every slice, evaluate every run, write the summary (under the lock)."""
    points = real.ndim == 2
    rows: list[dict] = []
    samples: dict[int, np.ndarray] = {}
    history_out: dict[str, np.ndarray] = {}
    groups = []
    key = jax.random.key(eval_seed)
    for k, group in enumerate(slices(group_runs(runs), runs_together)):
        folder = out / SLICES_DIR / f"{k:03d}"
        done = folder / "done.json"
        if done.is_file():
            finished = json.loads(done.read_text())
            with np.load(folder / "result.npz") as saved:
                group_samples = saved["samples"]
                history = {n: saved[f"history_{n}"] for n in finished["metrics"]}
            entry = finished["group"]
        else:
            resume = f"jaxgan train --resume --out {out}"
            stop.raise_if_received(f"continue with: {resume}", when=f"before slice {k}")
            stacked, history, seconds = _train_slice(
                build_state_fn,
                group,
                folder,
                real,
                labels,
                steps=steps,
                batch_size=batch_size,
                data_key=run_keys(runs[0].seed).train if data_order == "shared" else None,
                loop=loop,
                steps_per_call=steps_per_call,
                checkpoint_every=checkpoint_every,
                mesh=mesh,
                progress=progress,
                setup=setup,
                stop=stop,
                on_nonfinite=on_nonfinite,
                tensorboard=tensorboard,
            )
            group_samples = _sample_runs(stacked, key, num_samples)
            entry = {
                "runs": [r.index for r in group],
                "static": dict(group[0].group_key),
                "seconds_with_compile": seconds,
                "run_iterations_per_second": len(group) * steps / seconds if seconds else 0.0,
            }
            np.savez(
                folder / "result.npz",
                samples=group_samples,
                **{f"history_{n}": v for n, v in history.items()},
            )
            write_text_atomically(
                done, json.dumps(_jsonable({"group": entry, "metrics": list(history)})) + "\n"
            )
        groups.append(entry)
        if on_group is not None:
            on_group(entry)
        window = max(1, steps // 10)
        for j, run in enumerate(group):
            row = {"run": run.index, "seed": run.seed, "setting": run.label, **run.hyperparams}
            for metric in hooks.TRAIN_METRICS:
                row[metric] = float(history[metric][-window:, j].mean()) if steps else math.nan
            if evaluate is not None:
                row.update({m: float(v) for m, v in evaluate(group_samples[j]).items()})
            rows.append(row)
            samples[run.index] = group_samples[j]
        for metric, values in history.items():
            if metric != "step":
                column = history_out.setdefault(metric, np.full((steps, len(runs)), np.nan))
                column[:, [r.index for r in group]] = values
    rows.sort(key=lambda r: r["run"])
    metrics = [k for k in rows[0] if k not in ("run", "seed", "setting", *runs[0].hyperparams)]
    aggregate = aggregate_runs(rows, metrics)
    summary = {"setup": setup, "runs": rows, "aggregate": aggregate, "groups": groups}
    write_text_atomically(out / "summary.json", json.dumps(_jsonable(summary), indent=2) + "\n")
    _write_tables(out, rows, aggregate, metrics)
    np.savez(out / "history.npz", **history_out)
    if plots:
        background = np.asarray(real[:5000]) if points else None
        titles = [f"run {r['run']} (seed {r['seed']}) {r['setting']}" for r in rows]
        modes = getattr(evaluate, "modes", None)
        shown = [samples[r["run"]] if points else samples[r["run"]][:64] for r in rows]
        _save_plots(out, shown, titles, background, modes)
    return summary


def _sample_runs(stacked: GANState, key: Array, num_samples: int) -> np.ndarray:
    """Draw samples of every run from one noise (balanced labels for conditional GANs)."""
    z = sample_latent(key, num_samples, stacked.config.latent_dim)
    labels = None
    if stacked.config.num_classes is not None:
        labels = jnp.arange(num_samples, dtype=jnp.int32) % stacked.config.num_classes
    return generate_batches(stacked, z, labels, batch_size=2500)
