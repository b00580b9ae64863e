"""Exact resume: a stopped run, resumed, ends with the uninterrupted run's bits.

SIGKILL at random moments (single runs, tracked runs and ensembles of stacked runs) is
tests/test_faults.py's kill loop.
"""

import json

import jax
import numpy as np
from cli_args import tiny_train_args

from jaxgan import cli
from jaxgan.checkpoint import latest_step
from jaxgan.experiment.rundir import read_metrics
from jaxgan.experiment.sample import load_run

TINY = tiny_train_args(sample_every=200, checkpoint_every=40)


def assert_same_run(a, b, partial_rows=()):
    """Same final parameters, optimiser states and counters, bit for bit; same metric rows.

    ``partial_rows``: steps whose rows cover only part of a log interval (a stop mid-interval).
    """
    _, state_a, meta_a = load_run(a)
    _, state_b, meta_b = load_run(b)
    assert meta_a["step"] == meta_b["step"]
    leaves_a, leaves_b = jax.tree.leaves(state_a), jax.tree.leaves(state_b)
    assert len(leaves_a) == len(leaves_b) > 0
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    timing = {"it_per_s", "time_s"}

    def rows(run):
        return [
            {k: v for k, v in r.items() if k not in timing}
            for r in read_metrics(run)
            if r["step"] not in partial_rows
        ]

    assert rows(a) == rows(b) and len(rows(a)) > 5


def test_a_run_stopped_anywhere_and_resumed_matches_the_uninterrupted_run(tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert cli.main(["train", *TINY, "--steps", "100", "--out", str(whole)]) == 0
    # stop at step 55: not a multiple of checkpoint_every (40) nor of steps_per_call (10)
    assert cli.main(["train", *TINY, "--steps", "55", "--out", str(part)]) == 0
    assert latest_step(part / "checkpoints") == 55
    assert cli.main(["train", "--resume", "--out", str(part), "--steps", "100"]) == 0
    assert json.loads((part / "summary.json").read_text())["start_step"] == 55
    assert json.loads((part / "config.json").read_text())["schedule"]["steps"] == 100
    # the stopped run logged a row at 55 (steps 51-55); the resumed one logs 56-60 at 60
    assert [r["step"] for r in read_metrics(part)][4:7] == [50, 55, 60]
    assert_same_run(part, whole, partial_rows=(55, 60))
