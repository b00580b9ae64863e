"""Two CPU processes train data-parallel through jax.distributed and match one process.

The processes (tests/multiprocess_worker.py) meet at a coordinator on 127.0.0.1, each with
2 CPU devices and only its own half of the dataset; this process trains the same run on one
device meanwhile, then compares, and restores the checkpoint both processes wrote.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import multiprocess_worker as worker
import numpy as np
import pytest

from jaxgan.checkpoint import restore_checkpoint

WORKER = Path(worker.__file__)
PROCESSES = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("multiprocess")
    port = free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    # the worker sets its own device count; other XLA flags of the session (conftest) stay
    flags = os.environ.get("XLA_FLAGS", "").split()
    env["XLA_FLAGS"] = " ".join(f for f in flags if "device_count" not in f)
    began = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(i), str(PROCESSES), str(port), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for i in range(PROCESSES)
    ]
    try:
        reference = worker.train(worker.toy_state(), worker.full_dataset())
        logs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    print(f"2-process run: {time.monotonic() - began:.1f} s")
    facts = [json.loads((out / f"facts_{i}.json").read_text()) for i in range(PROCESSES)]
    with np.load(out / "result.npz") as result:
        return facts, dict(result), reference, out


def test_each_process_has_its_devices_and_its_rows(two_processes):
    facts, *_ = two_processes
    half = worker.NUM_EXAMPLES // PROCESSES
    for i, f in enumerate(facts):
        assert f["process_count"] == PROCESSES
        assert f["local_device_count"] == worker.DEVICES_PER_PROCESS
        assert f["device_count"] == PROCESSES * worker.DEVICES_PER_PROCESS
        assert f["rows"] == [i * half, (i + 1) * half]


def test_two_processes_train_like_one(two_processes):
    _, result, (state, history), _ = two_processes
    for i, leaf in enumerate(jax.tree.leaves(state)):
        np.testing.assert_allclose(
            result[f"state_{i}"], np.asarray(leaf), rtol=1e-4, atol=1e-5, err_msg=f"leaf {i}"
        )
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "step"):
        np.testing.assert_allclose(result[f"history_{name}"], history[name], rtol=1e-4, atol=1e-5)


def test_a_checkpoint_saved_by_both_processes_restores_on_one_device(two_processes):
    _, result, _, out = two_processes
    restored, meta = restore_checkpoint(out / "checkpoints", worker.toy_state())
    assert meta["step"] == worker.STEPS
    for i, leaf in enumerate(jax.tree.leaves(restored)):
        np.testing.assert_array_equal(np.asarray(leaf), result[f"state_{i}"])
