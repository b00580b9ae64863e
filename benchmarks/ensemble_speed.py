"""Throughput of N GAN runs trained together under vmap against the same N runs one after another.

Run from the repository root:

    python benchmarks/ensemble_speed.py                        # all three models, N = 1, 5, 10
    python benchmarks/ensemble_speed.py --models ring8 --runs 10 --steps 300 --repeats 3
    python benchmarks/ensemble_speed.py --quick                # ring8, N = 1 and 4, 40 steps

Models: ``ring8`` is PacGAN2's toy setup (ToyGenerator 4×400 ReLU+BatchNorm, z 2-D;
ToyDiscriminator 3×200 maxout(5), pack 2; Adam 1e-4, β1 0.8; batch 100; 100k ring8 points);
``mlp`` is the seed pair (MLPGenerator/MLPDiscriminator, Adam 2e-4 β1 0.5, batch 64, the bundled
5k Fashion-MNIST sample); ``ring8-small`` is the ring8 setup with 32-wide, 2-deep G and D (a
launch-bound model, where per-op overheads dominate the arithmetic; ``ring8-tiny``, 16-wide and
1-deep, is the smoke test's); ``dcgan16`` is the
``stacked-mnist-dcgan`` architecture at width 16 (DCGAN G and D with BatchNorm and D dropout,
Adam 2e-4 β1 0.5, batch 64) on the bundled Fashion-MNIST sample repeated into 3 channels, the
conv net for which ``jaxgan train --seeds N --runs-together 1`` exists.

For each N, both sides train N runs of ``--steps`` iterations from fresh states, after a warm-up
that compiled their programs (compile time is reported apart):

- vmapped: ``jaxgan.ensembles.fit_ensemble`` on the N-run stack (one program);
- sequential: ``jaxgan.fit`` on each of the N states in turn (one program, reused: the states
  share their optimiser objects, so nothing recompiles between runs).

Both use ``loop="auto"`` unless ``--loop`` says otherwise and the same ``steps_per_call``.
Timings are the best of ``--repeats`` (the minimum is the least disturbed by other processes on
a shared machine), each ending in ``block_until_ready``; the process's CPU time is recorded too
(the ratio of CPU times is what N runs cost when the cores are busy anyway). ``uptime`` load is
printed before and after; the script holds no training logic (every step is ``jaxgan.*``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

import jaxgan
from jaxgan import ensembles, models
from jaxgan.experiment.build import build_state


def ring8_setup(hidden: int = 400, d_hidden: int = 200, depth: int = 4, d_depth: int = 3):
    """PacGAN2 on ring8: (build_state(key) for one run, training data, batch size)."""
    tx = jaxgan.default_optimizer(1e-4, b1=0.8)

    def build(key):
        return jaxgan.create_state(
            functools.partial(models.ToyGenerator, hidden=hidden, depth=depth),
            functools.partial(models.ToyDiscriminator, in_dim=4, hidden=d_hidden, depth=d_depth),
            key=key,
            g_optimizer=tx,
            d_optimizer=tx,
            pack=2,
        )

    return build, jaxgan.data.load("ring8").x, 100


def mlp_setup():
    """The seed MLP pair on the bundled Fashion-MNIST sample."""
    tx = jaxgan.default_optimizer(2e-4, b1=0.5)

    def build(key):
        return jaxgan.create_state(
            models.MLPGenerator, models.MLPDiscriminator, key=key, g_optimizer=tx, d_optimizer=tx
        )

    return build, jaxgan.data.load("fashion_mnist_sample").x, 64


def dcgan16_setup():
    """The Stacked MNIST DCGAN at width 16 on the bundled sample (3 channels, 28×28)."""
    from jaxgan.experiment.build import build_models
    from jaxgan.experiment.config import apply_overrides, load_preset

    config = apply_overrides(load_preset("stacked-mnist-dcgan"), {"width": 16})
    g_factory, d_factory = build_models(config)
    # the preset's optimisers and StepConfig, built once and shared by every run (no recompiles)
    template = build_state(config, jax.random.key(0))

    def build(key):
        return jaxgan.create_state(
            g_factory,
            d_factory,
            key=key,
            g_optimizer=template.generator.tx,
            d_optimizer=template.discriminator.tx,
            config=template.config,
        )

    x = jaxgan.data.load("fashion_mnist_sample").x
    return build, np.repeat(np.asarray(x), 3, axis=-1), config.schedule.batch_size


SETUPS = {
    "ring8": ring8_setup,
    "mlp": mlp_setup,
    # launch-bound: PacGAN2's ring8 setup at widths 32 (G 2×32, D 2×32), ~1% of ring8's FLOPs
    "ring8-small": functools.partial(ring8_setup, 32, 32, 2, 2),
    # the smoke test's: 1-deep, 16-wide G and D (fewer ops to compile; not in the defaults)
    "ring8-tiny": functools.partial(ring8_setup, 16, 16, 1, 1),
    "dcgan16": dcgan16_setup,
}


def load_average() -> str:
    """The 1/5/15-minute load averages (the machine may be shared)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn) -> tuple[float, float]:
    """Run ``fn`` to completion; return (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn())
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(name: str, n: int, steps: int, repeats: int, loop: str, steps_per_call: int) -> dict:
    """Time N vmapped runs against N sequential runs of one model."""
    build, data, batch = SETUPS[name]()
    data = jaxgan.data.to_model_input(data)
    if loop == "auto":  # decided once, outside the timings, as fit(loop="auto") would
        loop = jaxgan.choose_loop(build(jax.random.key(0)), data, batch)
    common = dict(batch_size=batch, loop=loop, steps_per_call=steps_per_call)
    seeds = list(range(n))

    def vmapped():
        stacked, keys = ensembles.create_ensemble(build, seeds)
        jax.block_until_ready(stacked)
        return lambda: ensembles.fit_ensemble(stacked, data, steps=steps, keys=keys, **common)[0]

    def sequential(count: int = n):
        runs = [(build(ensembles.run_keys(s)[0]), ensembles.run_keys(s)[1]) for s in seeds[:count]]
        jax.block_until_ready(runs)
        return lambda: [jaxgan.fit(st, data, steps=steps, key=k, **common)[0] for st, k in runs]

    first_v = timed(vmapped())[0]  # compiles the ensemble's programs, then trains
    first_s = timed(sequential(1))[0]  # compiles the single run's programs, then trains one run
    times_v, times_s = [], []
    for _ in range(repeats):  # interleaved, so both sides see the same background load
        times_v.append(timed(vmapped()))
        times_s.append(timed(sequential()))
    (best_v, cpu_v), (best_s, cpu_s) = min(times_v), min(times_s)
    return {
        "model": name,
        "runs": n,
        "steps": steps,
        "batch_size": batch,
        "loop": loop,
        "vmapped_s": best_v,
        "sequential_s": best_s,
        "vmapped_run_it_per_s": n * steps / best_v,
        "sequential_run_it_per_s": n * steps / best_s,
        "speedup": best_s / best_v,
        "vmapped_cpu_s": cpu_v,
        "sequential_cpu_s": cpu_s,
        "cpu_time_ratio": cpu_s / cpu_v,
        "first_call_vmapped_s": first_v,
        "first_call_one_run_s": first_s,
        "all_vmapped_s": times_v,
        "all_sequential_s": times_s,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default="ring8,mlp,ring8-small", help=f"comma list of {list(SETUPS)}"
    )
    parser.add_argument("--runs", default="1,5,10", help="comma list of ensemble sizes N")
    parser.add_argument("--steps", type=int, default=200, help="iterations per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (best is kept)")
    parser.add_argument("--loop", default="auto", choices=("auto", "scan", "python"))
    parser.add_argument("--steps-per-call", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="ring8, N=1,4, 40 steps, 1 repeat")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.runs, args.steps, args.repeats, args.steps_per_call = (
            "ring8", "1,4", 40, 1, 20
        )  # fmt: skip
    names = [m.strip() for m in args.models.split(",")]
    unknown = sorted(set(names) - set(SETUPS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {sorted(SETUPS)}")
    sizes = [int(n) for n in args.runs.split(",")]
    device = jax.devices()[0]
    print(f"device: {device.device_kind} ({jax.default_backend()}), {os.cpu_count()} CPUs, "
          f"jax {jax.__version__}, {platform.machine()}")  # fmt: skip
    print(f"load before: {load_average()}")
    rows = []
    header = (
        "| model | N | loop | vmapped run-it/s | sequential run-it/s | speedup "
        "| CPU-time ratio | first call: N vmapped / 1 run |"
    )
    print(header + "\n|" + "---|" * 8)
    for name in names:
        for n in sizes:
            row = measure(name, n, args.steps, args.repeats, args.loop, args.steps_per_call)
            rows.append(row)
            print(
                f"| {name} | {n} | {row['loop']} | {row['vmapped_run_it_per_s']:.0f} | "
                f"{row['sequential_run_it_per_s']:.0f} | {row['speedup']:.2f}× | "
                f"{row['cpu_time_ratio']:.2f}× | "
                f"{row['first_call_vmapped_s']:.1f} s / {row['first_call_one_run_s']:.1f} s |",
                flush=True,
            )
    print(f"load after: {load_average()}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"load": load_average(), "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
