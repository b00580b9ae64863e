"""Time from command to first training step of ``jaxgan train``, without and with the compile cache.

Run from the repository root:

    python benchmarks/start_time.py                                   # seed-mlp, 3 repeats
    python benchmarks/start_time.py --presets seed-mlp dcgan-mnist \\
        --data dcgan-mnist=idx:../shared/data/fashion_mnist           # MNIST-shaped IDX files

Each repeat runs ``python -m jaxgan train`` three times in fresh processes: with the cache off
(``JAXGAN_NO_COMPILE_CACHE=1``), with an empty cache folder ("cold": it compiles and writes),
and again with that folder ("warm": it loads what the cold run wrote). "First step" is the time
from starting the process until the run's first ``metrics.jsonl`` row exists, i.e. until its
first chunk of iterations has run (``--set steps_per_call=N log_every=N``: 1 iteration for
conv presets, whose CPU loop is a Python loop over one compiled iteration, and the preset's
chunk for the others); "total" is until the process exits (after its last sample grid and
checkpoint). Imports, data loading and state building are in both. Output: a Markdown table on
stdout and a JSON file in ``benchmarks/results/``.

The script holds no training logic: it runs the ``jaxgan`` command.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MODES = ("no cache", "cold", "warm")
FIRST_CHUNK = {"dcgan-mnist": 1}
"""Iterations in the first chunk per preset (others: the preset's own ``steps_per_call``)."""


def time_run(argv: list[str], env: dict[str, str], metrics: Path) -> dict[str, float]:
    """Start ``argv``, return seconds until ``metrics`` has a row and until the process exits.

    Args:
        argv: the command.
        env: its environment.
        metrics: the run's ``metrics.jsonl``.

    Returns:
        ``{"first_step_s": ..., "total_s": ...}``.

    Raises:
        RuntimeError: the command failed (its last stderr line is in the message).

    Example:
        >>> time_run(["jaxgan", "train"], dict(os.environ), Path("m.jsonl"))  # doctest: +SKIP
    """
    start = time.perf_counter()
    first = None
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            if first is None and metrics.is_file() and metrics.stat().st_size > 0:
                first = time.perf_counter() - start
            time.sleep(0.01)
        total = time.perf_counter() - start
        if proc.returncode:
            err.seek(0)
            lines = err.read().strip().splitlines() or ["(no output)"]
            raise RuntimeError(f"{' '.join(argv)} failed: {lines[-1]}")
    return {"first_step_s": first if first is not None else total, "total_s": total}


def train_argv(preset: str, out: Path, data: str | None) -> list[str]:
    """The ``jaxgan train`` command of one timed run: a few iterations of ``preset``.

    Args:
        preset: a preset name.
        out: the run folder.
        data: a ``--data`` value, or None for the preset's dataset.

    Returns:
        The argument list.

    Example:
        >>> train_argv("seed-mlp", Path("r"), None)[1:6]
        ['-m', 'jaxgan', 'train', '--preset', 'seed-mlp']
    """
    chunk = FIRST_CHUNK.get(preset)
    argv = [sys.executable, "-m", "jaxgan", "train", "--preset", preset, "--out", str(out)]
    argv += ["--overwrite", "--steps", str(2 * (chunk or 100))]
    if chunk:
        argv += ["--set", f"steps_per_call={chunk}", "--set", f"log_every={chunk}"]
    argv += ["--set", "sample_every=1000", "--set", "checkpoint_every=1000"]
    return argv + (["--data", data] if data else [])


def measure(preset: str, data: str | None, repeats: int) -> list[dict[str, Any]]:
    """Time ``repeats`` rounds of (no cache, cold, warm) runs of ``preset``.

    Args:
        preset: a preset name.
        data: a ``--data`` value or None.
        repeats: rounds.

    Returns:
        One record per run: preset, mode, repeat, load, first_step_s, total_s.

    Example:
        >>> rows = measure("seed-mlp", None, 1)  # doctest: +SKIP
    """
    rows = []
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            base = {k: v for k, v in os.environ.items() if k != "JAXGAN_NO_COMPILE_CACHE"}
            base.pop("JAX_COMPILATION_CACHE_DIR", None)
            base["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
            for mode in MODES:
                env = dict(base, JAXGAN_NO_COMPILE_CACHE="1") if mode == "no cache" else base
                out = Path(tmp) / f"run-{MODES.index(mode)}"
                load = os.getloadavg()[0]
                times = time_run(train_argv(preset, out, data), env, out / "metrics.jsonl")
                rows.append(
                    {"preset": preset, "mode": mode, "repeat": repeat, "load": load, **times}
                )
                print(f"  {preset} {mode} #{repeat}: {times}", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Medians per (preset, mode) as a Markdown table.

    Args:
        rows: records of ``measure``.

    Returns:
        The table.

    Example:
        >>> print(table([{"preset": "p", "mode": "cold", "load": 1.0, "first_step_s": 2.0,
        ...               "total_s": 3.0}]).splitlines()[2])
        | p | cold | 2.00 (2.00–2.00) | 3.00 | 1 | 1.0–1.0 |
    """
    out = [
        "| preset | compile cache | to first step s, median (min–max) | total s | runs | load |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["preset"], row["mode"]), []).append(row)
    for (preset, mode), group in groups.items():
        first = [r["first_step_s"] for r in group]
        loads = [r["load"] for r in group]
        out.append(
            f"| {preset} | {mode} | {statistics.median(first):.2f} ({min(first):.2f}–"
            f"{max(first):.2f}) | {statistics.median(r['total_s'] for r in group):.2f} "
            f"| {len(group)} | {min(loads):.1f}–{max(loads):.1f} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the measurements; print the table and write the JSON report.

    Args:
        argv: arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The report.

    Example:
        >>> report = main(["--presets", "seed-mlp", "--repeats", "1"])  # doctest: +SKIP
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["seed-mlp"])
    p.add_argument("--data", nargs="*", default=[], metavar="PRESET=DATA")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="start_time_cpu")
    args = p.parse_args(argv)
    data = dict(item.split("=", 1) for item in args.data)
    began = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    rows = [
        row for preset in args.presets for row in measure(preset, data.get(preset), args.repeats)
    ]
    report = {
        "meta": {
            "date_utc": began,
            "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
        },
        "results": rows,
    }
    print(table(rows))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"{args.name}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
