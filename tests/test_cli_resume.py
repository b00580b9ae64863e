"""Exact resume: a stopped (or SIGKILLed) run, resumed, ends with the uninterrupted run's bits."""

import json
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
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


def test_a_process_killed_with_sigkill_resumes_to_the_same_bits(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    argv = ["train", *TINY, "--steps", "400"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxgan", *argv, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    try:
        while not any(p.name.isdigit() for p in (killed / "checkpoints").glob("*")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # after the first checkpoint, mid-run
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stopped_at = latest_step(killed / "checkpoints")
    assert stopped_at is not None and 40 <= stopped_at < 400, stopped_at
    assert not (killed / "summary.json").exists()  # it really died before the end

    assert cli.main(["train", "--resume", "--out", str(killed)]) == 0
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["start_step"] >= stopped_at and summary["step"] == 400
    steps = [row["step"] for row in read_metrics(killed)]
    assert steps == list(range(10, 401, 10))  # the log has no gaps and no repeats

    assert cli.main([*argv, "--out", str(reference)]) == 0
    assert_same_run(killed, reference)


def test_an_ensemble_killed_with_sigkill_resumes_to_the_same_bits(tmp_path):
    """`jaxgan train --preset ring8 --seeds 3`, SIGKILLed mid-run, resumes bit-exact."""
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    argv = [
        "train", "--preset", "ring8", "--seeds", "3", "--steps", "300",
        "--set", "g_hidden=32", "--set", "d_hidden=32", "--set", "steps_per_call=20",
        "--set", "log_every=20", "--set", "checkpoint_every=60", "--set", "sample_every=60",
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxgan", *argv, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    checkpoints = killed / "slices" / "000" / "checkpoints"
    deadline = time.monotonic() + 300
    try:
        while not any(p.name.isdigit() for p in checkpoints.glob("*")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # after the first checkpoint, mid-run
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stopped_at = latest_step(checkpoints)
    assert stopped_at is not None and 60 <= stopped_at < 300, stopped_at
    assert not (killed / "summary.json").exists()

    assert cli.main(["train", "--resume", "--out", str(killed)]) == 0
    assert cli.main([*argv, "--out", str(reference)]) == 0
    for name in ("history.npz",):
        with np.load(killed / name) as a, np.load(reference / name) as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key])
    rows = [json.loads((run / "summary.json").read_text()) for run in (killed, reference)]
    assert rows[0]["runs"] == rows[1]["runs"] and len(rows[0]["runs"]) == 3
    assert rows[0]["aggregate"] == rows[1]["aggregate"]
    # the final stacked states: every array equal, bit for bit
    final = []
    for run in (killed, reference):
        path = run / "slices" / "000" / "checkpoints" / "300" / "state"
        final.append(ocp.StandardCheckpointer().restore(path))
    leaves = [jax.tree.leaves(f) for f in final]
    assert len(leaves[0]) == len(leaves[1]) > 0
    for x, y in zip(*leaves, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
