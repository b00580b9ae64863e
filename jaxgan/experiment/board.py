"""A run folder's TensorBoard log: where it lives, what it holds, and the hooks that write it.

``<run>/tensorboard/`` is one TensorBoard run (an ensemble folder's holds one per member, named
like ``seed=0,lr=0.0002``, so TensorBoard's run selector compares them). It gets, from the
host at the log and grid periods only: every ``metrics.jsonl`` metric, ``it_per_s`` and the
learning rates (``jaxgan.tboard.ScalarLog``), each sample grid or scatter plot, histograms of
D's outputs on a fixed real batch and on the grid's fakes, the tracked metric, the eval
report's panel, and the config as hyperparameters (TensorBoard's hparams plugin). A resumed run
first cuts its event files at the step it resumes from (``jaxgan.tbevents.truncate_events``).
``--set log=none`` writes none of it.

Example:
    >>> member_name(0, {"lr": 2e-4})
    'seed=0,lr=0.0002'

"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import data
from jaxgan.augment import pack
from jaxgan.ensembles import learning_rates
from jaxgan.experiment.config import TrainConfig, flatten
from jaxgan.experiment.rundir import TENSORBOARD_DIR
from jaxgan.state import GANState, discriminate
from jaxgan.tbevents import truncate_events
from jaxgan.tboard import EventLog, TensorBoardWarning, name_suffix

HPARAM_METRICS = ("d_loss", "g_loss", "d_real", "d_fake")
"""The scalars the hparams table shows beside each run's settings (and ``track/<metric>``)."""

D_OUTPUT_SAMPLES = 256
"""At most this many real and fake samples go into the D-output histograms."""


def member_name(seed: int, hyperparams: Mapping[str, Any]) -> str:
    """Return the TensorBoard run name of an ensemble member: its seed and swept values.

    Args:
        seed: the member's seed.
        hyperparams: its swept values.

    Returns:
        e.g. ``"seed=0,lr=0.0002"``.

    Example:
        >>> member_name(3, {})
        'seed=3'

    """
    return ",".join([f"seed={seed}", *(f"{k}={v}" for k, v in hyperparams.items())])


def config_hparams(config: TrainConfig) -> dict[str, Any]:
    """Return a config's fields by flat name, with its name: the run's hyperparameters.

    Args:
        config: the run's config.

    Returns:
        ``{"name": ..., "lr": ..., ...}``.

    Example:
        >>> config_hparams(TrainConfig())["lr"]
        0.0002

    """
    return {"name": config.name, **flatten(config)}


def open_log(
    folder: Path,
    start: int,
    hparams: Mapping[str, Any] | None = None,
    metrics: Sequence[str] = HPARAM_METRICS,
) -> EventLog:
    """Open a TensorBoard run at ``folder`` for a run starting at ``start``; write its hparams.

    Events after ``start`` (written before a resume) are cut first. A folder that cannot be
    written gives one ``TensorBoardWarning`` and a log that writes nothing.

    Args:
        folder: the TensorBoard run folder.
        start: the step training starts from.
        hparams: the run's hyperparameters (None: write none).
        metrics: the scalar tags the hparams table shows.

    Returns:
        The ``EventLog`` (``enabled`` False when it cannot write).

    Example:
        >>> import tempfile
        >>> log = open_log(Path(tempfile.mkdtemp()), 0, {"lr": 1e-4}); log.close()

    """
    try:
        truncate_events(folder, start)
    except OSError as err:
        warnings.warn(
            f"cannot write TensorBoard events to {folder} ({err.strerror or err}); the run "
            "goes on without TensorBoard",
            TensorBoardWarning,
            stacklevel=2,
        )
        return EventLog(folder, enabled=False)
    log = EventLog(folder, suffix=name_suffix(start))
    if hparams is not None:
        log.hparams(hparams, metrics)
    return log


def learning_rate_scalars(
    state: GANState, steps: int, linear: bool
) -> Callable[[int], dict[str, np.ndarray]]:
    """Return ``step -> {"lr/g", "lr/d"}``: each player's learning rate at a step.

    The base rates are read once from the state's optimisers (so an ensemble's swept rates are
    per run); with a linear schedule they are scaled by the fraction of the run left.

    Args:
        state: the state training starts from (one run or a stack).
        steps: the run's length.
        linear: whether the run decays its updates linearly (``lr_schedule=linear``).

    Returns:
        The function (values are arrays of shape () or (runs,)).

    Example:
        >>> from jaxgan.experiment.build import build_state
        >>> rates = learning_rate_scalars(build_state(TrainConfig()), 1000, linear=True)
        >>> float(np.round(rates(500)["lr/g"], 6))
        0.0001

    """
    base = learning_rates(state)

    def at(step: int) -> dict[str, np.ndarray]:
        factor = max(0.0, 1.0 - step / steps) if linear else 1.0
        return {"lr/g": base["g"] * factor, "lr/d": base["d"] * factor}

    return at


def member_logs(
    folder: Path, members: Sequence[Any], start: int, hparams: Mapping[str, Any]
) -> list[EventLog]:
    """Open one TensorBoard run per ensemble member under ``folder``, with its hparams.

    Args:
        folder: the ensemble's TensorBoard folder.
        members: ``jaxgan.sweeps.RunSpec`` of each member (its seed and swept values).
        start: the step the members start from.
        hparams: the settings they share (each member adds its seed and swept values).

    Returns:
        The logs, in the members' order.

    Example:
        >>> import tempfile
        >>> from jaxgan.sweeps import RunSpec
        >>> logs = member_logs(Path(tempfile.mkdtemp()), [RunSpec(0, 1, {"lr": 1e-4})], 0, {})
        >>> logs[0].folder.name
        'seed=1,lr=0.0001'

    """
    return [
        open_log(
            folder / member_name(run.seed, run.hyperparams),
            start,
            {**hparams, "seed": run.seed, **run.hyperparams},
        )
        for run in members
    ]


@functools.partial(jax.jit, static_argnames="packs")
def _probabilities(state: GANState, x: jax.Array, labels: jax.Array | None, packs: int):
    return discriminate(state, pack(x, packs), labels)


class DOutputs:
    """D's outputs (probabilities) on a fixed batch of real data and on given fakes.

    Args:
        config: the run's config.
        dataset: the training data (the first ``D_OUTPUT_SAMPLES`` examples are the real batch).

    Example:
        >>> outputs = DOutputs(config, dataset)  # doctest: +SKIP
        >>> outputs(state, fake, None)["d_real"].shape  # doctest: +SKIP
        (256,)

    """

    def __init__(self, config: TrainConfig, dataset: data.Dataset):
        self.pack = config.step.pack
        count = min(D_OUTPUT_SAMPLES, len(dataset)) // self.pack * self.pack
        self.real = data.to_model_input(dataset.x[:count])
        conditional = config.model.conditional and dataset.y is not None
        self.real_labels = jnp.asarray(dataset.y[:count]) if conditional else None

    def __call__(
        self, state: GANState, fake: np.ndarray, labels: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """Return D's outputs on the real batch and on (at most as many of) ``fake``.

        Args:
            state: the state at the step.
            fake: generated samples in the model's space.
            labels: their class labels (conditional runs), else None.

        Returns:
            ``{"d_real": ..., "d_fake": ...}`` as numpy arrays.

        Example:
            >>> outputs(state, fake, None)  # doctest: +SKIP

        """
        count = min(len(fake), len(self.real)) // self.pack * self.pack
        fake_labels = None if labels is None else jnp.asarray(labels[:count])
        return {
            "d_real": np.asarray(_probabilities(state, self.real, self.real_labels, self.pack)),
            "d_fake": np.asarray(
                _probabilities(state, jnp.asarray(fake[:count]), fake_labels, self.pack)
            ),
        }


class GridEvents:
    """Write a sample grid (or scatter plot) and the D-output histograms of its step.

    Called right after ``jaxgan.experiment.train.SampleGrids`` at the same step; reads the
    grid it wrote (``grids.last``, ``grids.fake``, ``grids.labels``).

    Args:
        log: the run's ``EventLog``.
        grids: the run's ``SampleGrids``.
        outputs: the run's ``DOutputs``.

    Example:
        >>> hook = GridEvents(log, grids, DOutputs(config, dataset))  # doctest: +SKIP
        >>> hook(1000, state)  # doctest: +SKIP

    """

    def __init__(self, log: EventLog, grids: Any, outputs: DOutputs):
        self.log, self.grids, self.outputs = log, grids, outputs

    def __call__(self, step: int, state: GANState) -> None:
        """Write the grid of ``step`` as an image and D's outputs as histograms.

        Args:
            step: the step reached.
            state: the state at ``step``.

        Example:
            >>> hook(1000, state)  # doctest: +SKIP

        """
        if not self.log.enabled or self.grids.last_step != step:
            return
        self.log.image("samples", step, Path(self.grids.last).read_bytes())
        for tag, values in self.outputs(state, self.grids.fake, self.grids.labels).items():
            self.log.histogram(f"{tag}_hist", step, values)


def log_eval_panel(run_dir: Path | str, step: int, panel: Path) -> None:
    """Add ``jaxgan eval``'s report panel to a run's TensorBoard log, if the run keeps one.

    Args:
        run_dir: the run folder.
        step: the evaluated checkpoint's step.
        panel: the report's PNG.

    Example:
        >>> log_eval_panel("runs/a", 1000, Path("runs/a/eval/report.png"))  # doctest: +SKIP

    """
    folder = Path(run_dir) / TENSORBOARD_DIR
    if not folder.is_dir() or not panel.is_file():
        return
    log = EventLog(folder, suffix=".eval")
    log.image("eval/report", step, panel.read_bytes())
    log.close()
