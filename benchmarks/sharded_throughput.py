"""Data-parallel throughput of ``jaxgan.fit`` over 1, 2, ... N devices: per device and global.

Run from the repository root:

    python benchmarks/sharded_throughput.py --devices 1 2 4 8          # every count listed
    python benchmarks/sharded_throughput.py --devices all --arch dcgan
    python benchmarks/sharded_throughput.py --cpu-devices 8 --devices 1 8 --steps 20   # CPU test

For each device count n the run trains the same model with ``jaxgan.fit(..., mesh=...)`` on a
mesh of the first n devices (``jaxgan.sharding.data_mesh(n)``), the global batch being
``--batch-per-device`` × n (weak scaling; ``--global-batch`` fixes it instead). The first
``fit`` call (trace + compile + run) is reported apart; steady state is the median of
``--repeats`` further ``fit`` calls of ``--steps`` iterations each (``fit`` returns after
fetching its metrics, so each call is complete when timed). Reported: iterations/s, examples/s
globally and per device, scaling efficiency against the smallest count, and XLA's FLOPs per
device per iteration (cost analysis of the compiled sharded step) against one device's.

``--cpu-devices K`` splits the host CPU into K XLA devices (``jax_num_cpu_devices``) to check the
mechanics on a laptop; they share the same cores, so expect no speed-up there. For several
hosts, start one copy per host with ``--coordinator HOST:PORT --num-processes P
--process-id I`` (see docs/many_devices.md); process 0 prints the table.

The script holds no training logic: what it times is ``jaxgan.fit`` and ``jaxgan.sharding``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

ARCHS = ("mlp", "dcgan")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--devices",
        nargs="+",
        default=["all"],
        help="device counts to run, e.g. 1 2 4 8, or 'all' (default)",
    )
    p.add_argument("--arch", choices=ARCHS, default="mlp")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--batch-per-device", type=int, default=64)
    group.add_argument("--global-batch", type=int, default=None)
    p.add_argument("--steps", type=int, default=50, help="iterations per timed fit call")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--loop", choices=("auto", "scan", "python"), default="auto")
    p.add_argument("--shard-params", action="store_true", help="shard params and opt state")
    p.add_argument("--examples", type=int, default=4096, help="size of the synthetic dataset")
    p.add_argument("--cpu-devices", type=int, default=None, help="split the CPU into K devices")
    p.add_argument("--coordinator", default=None, help="HOST:PORT of process 0 (multi-host)")
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    return p.parse_args(argv)


def device_counts(requested: Sequence[str], visible: int) -> list[int]:
    counts = []
    for text in requested:
        count = visible if text == "all" else int(text)
        if not 1 <= count <= visible:
            raise SystemExit(f"error: {count} devices asked for, {visible} visible")
        counts.append(count)
    return sorted(set(counts))


def build_state(arch: str):
    import jaxgan
    from jaxgan import models

    if arch == "mlp":
        return jaxgan.create_state(
            models.MLPGenerator, models.MLPDiscriminator, key=jax.random.key(0)
        )
    return jaxgan.create_state(
        models.DCGANGenerator, models.DCGANDiscriminator, key=jax.random.key(0)
    )


def flops_per_device(state, batch: int, plan) -> float:
    """XLA's FLOPs per device for one sharded iteration (None plan: one device)."""
    import jaxgan

    real = jax.ShapeDtypeStruct((batch * state.config.n_critic, 28, 28, 1), np.float32)
    if plan is None:
        step = jax.jit(jaxgan.train_update)
    else:
        step, state = plan.jit(jaxgan.train_update), plan.place_state(state)
    cost = step.lower(state, real, jax.random.key(0)).compile().cost_analysis() or {}
    return float(cost.get("flops", float("nan")))


def measure(args: argparse.Namespace, count: int, images: np.ndarray) -> dict[str, Any]:
    import jaxgan
    from jaxgan import sharding

    batch = args.global_batch or args.batch_per_device * count
    plan = sharding.DataParallel(sharding.data_mesh(count), shard_params=args.shard_params)
    plan.check_batch(batch)
    data = plan.place_data(jaxgan.data.to_model_input(images))
    run = dict(batch_size=batch, key=0, loop=args.loop, steps_per_call=args.steps, mesh=plan)
    began = time.perf_counter()
    state, _ = jaxgan.fit(build_state(args.arch), data, steps=args.steps, **run)
    first = time.perf_counter() - began
    times = []
    for _ in range(args.repeats):
        began = time.perf_counter()
        state, _ = jaxgan.fit(state, data, steps=args.steps, **run)
        times.append(time.perf_counter() - began)
    seconds = statistics.median(times)
    it_per_s = args.steps / seconds
    return {
        "devices": count,
        "global_batch": batch,
        "first_call_s": first,
        "step_ms": 1e3 * seconds / args.steps,
        "min_max_ms": [1e3 * min(times) / args.steps, 1e3 * max(times) / args.steps],
        "it_per_s": it_per_s,
        "examples_per_s": it_per_s * batch,
        "examples_per_s_per_device": it_per_s * batch / count,
        "gflop_per_device": flops_per_device(build_state(args.arch), batch, plan) / 1e9,
        "gflop_one_device": flops_per_device(build_state(args.arch), batch, None) / 1e9,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cpu_devices:
        jax.config.update("jax_num_cpu_devices", args.cpu_devices)
    from jaxgan import sharding

    if args.coordinator:
        sharding.initialize_distributed(
            args.coordinator, num_processes=args.num_processes, process_id=args.process_id
        )
    counts = device_counts(args.devices, jax.device_count())
    images = np.random.default_rng(0).integers(0, 256, (args.examples, 28, 28, 1), np.uint8)
    rows = [measure(args, count, images) for count in counts]
    base = rows[0]
    for row in rows:
        # per-device examples/s relative to the smallest count (1.0 = perfect scaling)
        row["efficiency"] = row["examples_per_s_per_device"] / base["examples_per_s_per_device"]
        row["flop_share"] = row["gflop_per_device"] / row["gflop_one_device"]
    info = {
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "processes": jax.process_count(),
        "jax": jax.__version__,
        "arch": args.arch,
        "loop": args.loop,
        "shard_params": args.shard_params,
        "steps_per_call": args.steps,
        "repeats": args.repeats,
        "cpu_devices": args.cpu_devices,
    }
    if jax.process_index() == 0:
        print(json.dumps(info))
        header = (
            f"{'devices':>7} {'batch':>6} {'first s':>8} {'ms/it':>8} {'it/s':>8} "
            f"{'ex/s':>9} {'ex/s/dev':>9} {'eff':>5} {'GFLOP/dev':>9} {'FLOP share':>10}"
        )
        print(header)
        for r in rows:
            print(
                f"{r['devices']:>7} {r['global_batch']:>6} {r['first_call_s']:>8.1f} "
                f"{r['step_ms']:>8.2f} {r['it_per_s']:>8.1f} {r['examples_per_s']:>9.0f} "
                f"{r['examples_per_s_per_device']:>9.0f} {r['efficiency']:>5.2f} "
                f"{r['gflop_per_device']:>9.3f} {r['flop_share']:>10.3f}"
            )
        print(
            "FLOP share: per-device FLOPs / one device's FLOPs for the same global batch "
            "(ideal 1/devices)"
        )
        if args.json:
            args.json.write_text(json.dumps({"info": info, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
