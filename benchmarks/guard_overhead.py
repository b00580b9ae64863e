"""What the run's guards cost: the on-device finite check in ``fit``, and the run-folder lock.

Times ``jaxgan.fit`` on the default run (the ``seed-mlp`` preset: MLP GAN, batch 64, 100
iterations per compiled chunk, the bundled Fashion-MNIST sample) with ``on_nonfinite="stop"``
(the default: a finite flag per iteration, read one chunk late) and with ``None`` (no flag).
The two alternate within each round, so a change in machine load hits both; the overhead is the
median over rounds of each round's ratio. It also takes and releases a run folder's lock (an OS
file lock, once per run) many times. Prints a summary and writes JSON to ``benchmarks/results/``.

    python benchmarks/guard_overhead.py [--steps 3000] [--repeats 7]
    python benchmarks/guard_overhead.py --quick     # seconds: checks that it runs
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax

import jaxgan
from jaxgan.experiment.build import build_state, load_training_data
from jaxgan.experiment.config import load_preset
from jaxgan.experiment.lock import RunLock

RESULTS_DIR = Path(__file__).resolve().parent / "results"
POLICIES = {"stop": "stop", "none": None}
"""Report names of the two ``on_nonfinite`` settings timed."""


def time_fit(config: Any, images: jax.Array, steps: int, policy: str | None) -> float:
    """Iterations per second of one ``fit`` call (compiled beforehand) from a fresh state.

    Args:
        config: the run's ``TrainConfig``.
        images: the training images, model input range.
        steps: iterations to time.
        policy: ``fit``'s ``on_nonfinite``.

    Returns:
        Iterations per second.

    Example:
        >>> time_fit(config, images, 100, "stop")  # doctest: +SKIP
    """
    state = build_state(config)
    jax.block_until_ready(state)
    start = time.perf_counter()
    state, _ = jaxgan.fit(
        state, images, steps=steps, batch_size=config.schedule.batch_size, key=1,
        steps_per_call=config.schedule.steps_per_call, on_nonfinite=policy,
    )  # fmt: skip
    jax.block_until_ready(state)
    return steps / (time.perf_counter() - start)


def time_lock(repeats: int) -> list[float]:
    """Seconds to take and release a fresh run folder's lock, ``repeats`` times.

    Args:
        repeats: how many times.

    Returns:
        One duration per repeat.

    Example:
        >>> len(time_lock(3))
        3
    """
    with tempfile.TemporaryDirectory() as folder:
        durations = []
        for _ in range(repeats):
            start = time.perf_counter()
            with RunLock(Path(folder) / "run"):
                pass
            durations.append(time.perf_counter() - start)
    return durations


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure, print a summary and write the JSON report.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The report that was written (``files["json"]`` is its path).

    Example:
        >>> report = main(["--quick", "--out-dir", "/tmp"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="iterations per timed fit call")
    parser.add_argument("--repeats", type=int, default=7, help="rounds of (stop, none)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 steps, 2 rounds, chunks of 20 on 1,024 images (step_time.py --quick's fit)",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 100, 2
    config, dataset = load_training_data(load_preset("seed-mlp"))
    images = jaxgan.data.to_model_input(dataset.x)
    if args.quick:
        # the shapes of step_time.py --quick's fit (1,024 examples, chunks of 20), so that a test
        # session compiles the on_nonfinite="stop" chunk once for both smoke runs
        config = config.replace(steps_per_call=20)
        images = images[:1024]
    load_start = os.getloadavg()
    for policy in POLICIES.values():  # compile both programs first
        time_fit(config, images, config.schedule.steps_per_call, policy)
    rates: dict[str, list[float]] = {name: [] for name in POLICIES}
    for _ in range(args.repeats):
        for name, policy in POLICIES.items():
            rates[name].append(time_fit(config, images, args.steps, policy))
    lock_s = time_lock(200 if args.quick else 2000)
    load_end = os.getloadavg()
    ratios = [stop / none for stop, none in zip(rates["stop"], rates["none"], strict=True)]
    report = {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "device": str(jax.devices()[0]),
            "jax": jax.__version__,
        },
        "setup": {
            "preset": "seed-mlp",
            "steps": args.steps,
            "repeats": args.repeats,
            "batch_size": config.schedule.batch_size,
            "steps_per_call": config.schedule.steps_per_call,
            "examples": int(images.shape[0]),
        },
        "load_average_start": list(load_start),
        "load_average_end": list(load_end),
        "it_per_s": rates,
        "median_it_per_s": {name: statistics.median(values) for name, values in rates.items()},
        "check_cost_fraction": 1 - statistics.median(ratios),
        "check_cost_fraction_min_max": [1 - max(ratios), 1 - min(ratios)],
        "lock_median_us": 1e6 * statistics.median(lock_s),
        "lock_max_us": 1e6 * max(lock_s),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"guard_overhead{'_quick' if args.quick else ''}.json"
    report["files"] = {"json": str(path)}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"load average {load_start[0]:.2f} -> {load_end[0]:.2f} on {os.cpu_count()} CPUs")
    for name, values in rates.items():
        print(
            f"on_nonfinite={name:<5} {statistics.median(values):7.1f} it/s median "
            f"(min {min(values):.1f}, max {max(values):.1f}; {args.repeats} x {args.steps} steps)"
        )
    low, high = report["check_cost_fraction_min_max"]
    print(
        f"finite check: {100 * report['check_cost_fraction']:+.1f}% of the speed (median of "
        f"paired rounds, range {100 * low:+.1f}% .. {100 * high:+.1f}%; negative: faster with it)"
    )
    print(f"run-folder lock: {report['lock_median_us']:.0f} µs to take and release (median)")
    return report


if __name__ == "__main__":
    main()
