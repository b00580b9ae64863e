"""Time jaxgan's updates and PyTorch's twins interleaved, one call of each in turn.

Run from the repository root:

    python benchmarks/interleaved.py --arch dcgan --batch-size 64 --rounds 20

``step_time.py`` times one form after another, each for seconds; on a shared machine whose load
drifts within minutes, forms timed at different minutes are not comparable. Here every round
runs one call of every case in turn (jaxgan ``train_step`` with the defaults and with
``reuse_fake``, ``d_step``, ``g_step``; PyTorch's eager iteration, D step and G step), so all
cases see the same load; the table gives each case's median and minimum over rounds (the
minimum is the least disturbed call) and its ratio to its PyTorch twin. Setups are
``step_time.py``'s (presets built by ``build_state``); the JSON goes to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

import jaxgan
from jaxgan.xla_cpu import CPU_CONVOLUTIONS, DEFAULT_CPU_CONVOLUTIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import step_time  # the sibling script: its setups and PyTorch baselines

JAX_CASES = {
    "jax train_step (defaults)": (jaxgan.train_step, {}),
    "jax train_step, reuse_fake": (jaxgan.train_step, {"reuse_fake": True}),
    "jax d_step": (jaxgan.d_step, {}),
    "jax g_step": (jaxgan.g_step, {}),
}
WORK = {
    "jax train_step (defaults)": "fused",
    "jax train_step, reuse_fake": "fused_reuse",
    "jax d_step": "d_step",
    "jax g_step": "g_step",
    "torch eager iteration": "fused_reuse",
    "torch eager D step": "d_step",
    "torch eager G step": "g_step",
}
"""The step_time form whose XLA FLOP count is each case's work (PyTorch: transposed convs)."""
TWIN = {
    "jax train_step (defaults)": "torch eager iteration",
    "jax train_step, reuse_fake": "torch eager iteration",
    "jax d_step": "torch eager D step",
    "jax g_step": "torch eager G step",
}


def compiled(step: Callable, cpu_convolutions: str) -> Callable:
    """A jaxgan step with one XLA:CPU convolution library (``jaxgan.xla_cpu``).

    Args:
        step: ``jaxgan.train_step``, ``d_step`` or ``g_step``.
        cpu_convolutions: a key of ``CPU_CONVOLUTIONS``.

    Returns:
        The step, called with that ``cpu_convolutions``.

    Example:
        >>> compiled(jaxgan.d_step, "ynnpack").keywords
        {'cpu_convolutions': 'ynnpack'}
    """
    return functools.partial(step, cpu_convolutions=cpu_convolutions)


def cases(
    arch: str,
    batch_size: int,
    upsample: str,
    threads: int,
    cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS,
) -> dict[str, Callable[[], None]]:
    """One callable per case, each running one call and waiting for its result.

    Args:
        arch: ``"mlp"`` or ``"dcgan"``.
        batch_size: examples per D update.
        upsample: DCGAN up-sampling.
        threads: PyTorch's threads.
        cpu_convolutions: ``"eigen"`` (jaxgan's default), ``"ynnpack"`` or ``"both"`` (each
            jaxgan case twice; rows not of the default are named ``"... [ynnpack]"``).

    Returns:
        ``{case name: run once}``.

    Example:
        >>> runs = cases("mlp", 64, "auto", 2)  # doctest: +SKIP
    """
    config = step_time.benchmark_config(arch, upsample=upsample)
    _, batch, _ = step_time._random_data(config, batch_size)
    key = jax.random.key(0)
    runs: dict[str, Callable[[], None]] = {}
    libraries = ["ynnpack", "eigen"] if cpu_convolutions == "both" else [cpu_convolutions]
    for name, (step, options) in JAX_CASES.items():
        for library in libraries:
            box = [step_time.new_state(config, options)]
            program = compiled(step, library)

            def run(program=program, box=box) -> None:
                state, _ = program(box[0], batch, key)
                box[0] = jax.block_until_ready(state)

            runs[_case_name(name, library)] = run
    baselines, reason = step_time.load_torch_baselines()
    if baselines is None:
        print(f"PyTorch rows skipped: {reason}", file=sys.stderr)
        return runs
    baselines.torch.set_num_threads(threads)
    gan = baselines.make_gan(step_time.ARCHS[arch].torch_twin, width=config.get("width"))
    real = baselines.random_images(batch_size)
    runs["torch eager iteration"] = lambda: gan.iteration(real)
    runs["torch eager D step"] = lambda: gan.d_step(real)
    runs["torch eager G step"] = lambda: gan.g_step(batch_size)
    return runs


def _case_name(name: str, library: str) -> str:
    """The row name: the case, tagged with its library when that is not jaxgan's default."""
    return name if library == DEFAULT_CPU_CONVOLUTIONS else f"{name} [{library}]"


def _base(name: str) -> str:
    """A row name without its library tag (the key of ``WORK`` and ``TWIN``)."""
    return name.split(" [")[0]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the interleaved rounds; print the table; write the JSON.

    Args:
        argv: arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The report.

    Example:
        >>> report = main(["--arch", "mlp", "--rounds", "3"])  # doctest: +SKIP
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=["mlp", "dcgan"], default="dcgan")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--upsample", default="auto")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--calls", type=int, default=1, help="calls of each case per round")
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="PyTorch threads; for one-core runs of both sides also set XLA_FLAGS="
        "'--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1' (or use taskset)",
    )
    p.add_argument(
        "--cpu-convolutions",
        choices=[*CPU_CONVOLUTIONS, "both"],
        default=DEFAULT_CPU_CONVOLUTIONS,
        help="XLA:CPU convolution library of the jaxgan cases (both: each case twice)",
    )
    step_time.add_peak_size_option(p)
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=step_time.RESULTS_DIR, help="for the JSON")
    args = p.parse_args(argv)
    runs = cases(args.arch, args.batch_size, args.upsample, args.threads, args.cpu_convolutions)
    for run in runs.values():  # compile and warm up
        run()
        run()
    load_start = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(args.calls):
                run()
            times[name].append((time.perf_counter() - start) / args.calls)
    load_end = os.getloadavg()
    peaks = {"jax": step_time.matmul_peak("jax", n=args.peak_size)}
    if "torch" in sys.modules:
        peaks["torch"] = step_time.matmul_peak("torch", n=args.peak_size)
    flops = {}
    for upsample in ("transpose", args.upsample):  # PyTorch's work: transposed convolutions
        config = step_time.benchmark_config(args.arch, upsample=upsample)
        for form in set(WORK.values()):
            flops[upsample, form] = step_time.form_flops(config, form, args.batch_size)
    rows = []
    for name, secs in times.items():
        twin = times.get(TWIN.get(_base(name), ""))
        framework = name.split()[0]
        work = flops[args.upsample if framework == "jax" else "transpose", WORK[_base(name)]]
        rate = work / statistics.median(secs) / 1e9 if work else None
        rows.append(
            {
                "case": name,
                "ms_median": 1e3 * statistics.median(secs),
                "ms_min": 1e3 * min(secs),
                "gflop": work / 1e9 if work else None,
                "gflop_per_s": rate,
                "of_matmul_peak": rate / peaks[framework]["median"] if rate else None,
                "vs_torch_median": statistics.median(twin) / statistics.median(secs)
                if twin
                else None,
                "vs_torch_min": min(twin) / min(secs) if twin else None,
            }
        )
    print(
        f"{args.arch} batch {args.batch_size}, {args.rounds} rounds, torch threads "
        f"{args.threads}, CPUs {sorted(os.sched_getaffinity(0))}, 1-min load "
        f"{load_start[0]:.2f} → {load_end[0]:.2f}\n"
    )
    print(
        "f32 matmul peak (2048², GFLOP/s): "
        + ", ".join(f"{k} {v['median']:.0f}" for k, v in peaks.items())
        + "\n"
    )
    print(
        "| case | ms median | ms min | GFLOP | GFLOP/s (of matmul peak) | × torch (medians) "
        "| × torch (minima) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = "".join(
            f" {r[k]:.2f}× |" if r[k] else " - |" for k in ("vs_torch_median", "vs_torch_min")
        )
        rate = f"{r['gflop_per_s']:.1f} ({100 * r['of_matmul_peak']:.0f}%)" if r["gflop"] else "-"
        gflop = f"{r['gflop']:.2f}" if r["gflop"] else "-"
        print(
            f"| {r['case']} | {r['ms_median']:.1f} | {r['ms_min']:.1f} | {gflop} | {rate} |{ratio}"
        )
    report = {
        "meta": {
            "command": " ".join(["interleaved.py", *(argv or sys.argv[1:])]),
            "load_start": load_start,
            "load_end": load_end,
            "jax": jax.__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads": args.threads,
            "xla_flags": os.environ.get("XLA_FLAGS"),
            "cpu_affinity": sorted(os.sched_getaffinity(0)),
            "matmul_peak_gflop_s": peaks,
            "upsample": args.upsample,
            "cpu_convolutions": args.cpu_convolutions,
        },
        "rows": rows,
        "seconds": times,
    }
    name = args.name or f"interleaved_{args.arch}{args.batch_size}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"{name}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {path}")
    return report


if __name__ == "__main__":
    main()
