"""Experiments: configs and presets, states built from them, run folders, sweeps, evaluation.

The layer above the training driver (``jaxgan.fit``) and its hooks: everything a command-line
run needs, as library functions.

- ``config``: ``TrainConfig`` (validated once), presets, ``--set`` overrides, JSON round trip;
- ``build``: config → models, optimisers, ``StepConfig`` and ``GANState``; the training data;
- ``rundir``: the run folder's layout, config and metrics files, checks before writing;
- ``train``: one run into a run folder, with exact resume (``jaxgan train``);
- ``ensemble``: seeds × sweeps as stacked runs, with checkpoints and resume;
- ``evaluators`` / ``evaluate``: metric functions of samples, and ``jaxgan eval``'s report;
- ``sample``: a run's state from a checkpoint, and sample grids (``jaxgan sample``);
- ``guards`` / ``lock`` / ``signals`` / ``quiet``: checks before a folder is touched, one writer per
  folder, a clean stop on SIGTERM/SIGINT, one line per failure.

Example:
    >>> from jaxgan import experiment
    >>> state = experiment.build_state(experiment.load_preset("seed-mlp"))
    >>> int(state.step)
    0

"""

from jaxgan.experiment.build import build_state, load_training_data, run_keys
from jaxgan.experiment.config import (
    ConfigError,
    TrainConfig,
    apply_overrides,
    load_preset,
    preset_names,
)

__all__ = [
    "ConfigError",
    "TrainConfig",
    "apply_overrides",
    "build_state",
    "load_preset",
    "load_training_data",
    "preset_names",
    "run_keys",
]
