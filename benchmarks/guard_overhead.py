"""What the run's guards cost: the on-device finite check in ``fit``, and the run-folder lock.

Times ``jaxgan.fit`` on the default run (the ``seed-mlp`` preset: MLP GAN, batch 64, 100
iterations per compiled chunk, the bundled Fashion-MNIST sample) with ``on_nonfinite="stop"``
(the default: a finite flag per iteration, read one chunk late) and with ``None`` (no flag),
alternating the two so that a change in machine load hits both; and takes/releases a run
folder's lock. Prints the medians, the spread and the load average.

    python benchmarks/guard_overhead.py [--steps 3000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import jax

import jaxgan
from jaxgan.experiment.build import build_state, load_training_data
from jaxgan.experiment.config import load_preset
from jaxgan.experiment.lock import RunLock


def time_fit(config, images, steps: int, policy) -> float:
    """Iterations per second of one ``fit`` call (compiled beforehand), on a fresh state."""
    state = build_state(config)
    jax.block_until_ready(state)
    start = time.perf_counter()
    state, _ = jaxgan.fit(
        state, images, steps=steps, batch_size=config.batch_size, key=1,
        steps_per_call=config.steps_per_call, on_nonfinite=policy,
    )  # fmt: skip
    jax.block_until_ready(state)
    return steps / (time.perf_counter() - start)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config, dataset = load_training_data(load_preset("seed-mlp"))
    images = jaxgan.data.to_model_input(dataset.x)
    rates: dict[str, list[float]] = {"stop": [], "none": []}
    load_start = os.getloadavg()
    for policy in ("stop", None):  # compile both programs first
        time_fit(config, images, config.steps_per_call, policy)
    for _ in range(args.repeats):
        for policy in ("stop", None):
            rates[policy or "none"].append(time_fit(config, images, args.steps, policy))
    folder = Path(tempfile.mkdtemp()) / "run"
    lock_s = []
    for _ in range(1000):
        start = time.perf_counter()
        with RunLock(folder):
            pass
        lock_s.append(time.perf_counter() - start)
    load_end = os.getloadavg()
    print(f"load average {load_start[0]:.2f} -> {load_end[0]:.2f} on {os.cpu_count()} CPUs")
    for name, values in rates.items():
        print(
            f"on_nonfinite={name:<5} {statistics.median(values):7.1f} it/s median "
            f"(min {min(values):.1f}, max {max(values):.1f}; {args.repeats} x {args.steps} steps)"
        )
    ratio = statistics.median(rates["stop"]) / statistics.median(rates["none"])
    print(f"finite check: {100 * (1 - ratio):+.1f}% of the speed (negative: faster with it)")
    print(f"run-folder lock: {1e6 * statistics.median(lock_s):.0f} µs to take and release")


if __name__ == "__main__":
    main()
