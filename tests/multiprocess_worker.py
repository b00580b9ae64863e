"""One process of a 2-process data-parallel run on CPU (launched by tests/test_multiprocess.py).

Usage: python tests/multiprocess_worker.py PROCESS_ID NUM_PROCESSES PORT OUT

Each process owns DEVICES_PER_PROCESS CPU devices and loads only its own rows of the dataset;
together they train the toy GAN data-parallel over all devices with ``jaxgan.fit(mesh=...)``,
save one orbax checkpoint from all processes, and process 0 writes the final state and history.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax
import numpy as np
import optax

DEVICES_PER_PROCESS = 2
NUM_EXAMPLES, BATCH, STEPS, PER_CALL = 512, 32, 6, 4


def toy_state():
    """The toy GAN (BatchNorm in G) both the workers and the one-process reference train."""
    import jaxgan
    from jaxgan import models

    opt = optax.adam(1e-3, b1=0.5, eps=1e-3)  # see tests/test_sharding.py::toy_state
    return jaxgan.create_state(
        lambda rngs: models.ToyGenerator(latent_dim=4, hidden=16, depth=1, rngs=rngs),
        lambda rngs: models.ToyDiscriminator(hidden=16, depth=1, pieces=2, rngs=rngs),
        key=jax.random.key(0),
        g_optimizer=opt,
        d_optimizer=opt,
    )


def full_dataset() -> np.ndarray:
    """The whole dataset (each process keeps only its rows of it)."""
    return np.random.default_rng(1).normal(1.0, 0.5, (NUM_EXAMPLES, 2)).astype(np.float32)


def train(state, data, mesh=None):
    """The run both sides do: a few python-loop iterations, several chunks."""
    import jaxgan

    return jaxgan.fit(
        state,
        data,
        steps=STEPS,
        batch_size=BATCH,
        key=3,
        loop="python",
        steps_per_call=PER_CALL,
        mesh=mesh,
    )


def main(process_id: int, num_processes: int, port: int, out: Path) -> None:
    jax.config.update("jax_num_cpu_devices", DEVICES_PER_PROCESS)
    jax.config.update("jax_numpy_rank_promotion", "raise")  # as tests/conftest.py does
    from jaxgan import checkpoint, sharding

    sharding.initialize_distributed(
        f"127.0.0.1:{port}", num_processes=num_processes, process_id=process_id, timeout_s=60
    )
    mesh = sharding.data_mesh("all")
    rows = sharding.local_rows(NUM_EXAMPLES, mesh)
    data = sharding.global_dataset(full_dataset()[rows], mesh)  # only this process's rows
    state, history = train(toy_state(), data, mesh)
    checkpoint.save_checkpoint(out / "checkpoints", STEPS, state, {"step": STEPS})
    facts = {
        "process_count": jax.process_count(),
        "device_count": jax.device_count(),
        "local_device_count": jax.local_device_count(),
        "rows": [rows.start, rows.stop],
    }
    (out / f"facts_{process_id}.json").write_text(json.dumps(facts))
    if process_id == 0:  # the state is replicated: every process holds all of it
        leaves = {f"state_{i}": np.asarray(x) for i, x in enumerate(jax.tree.leaves(state))}
        np.savez(out / "result.npz", **leaves, **{f"history_{k}": v for k, v in history.items()})


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
