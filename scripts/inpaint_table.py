r"""Summarise ``jaxgan inpaint`` results of several seeds as markdown tables (mean ± s.e.).

Run from the repository root after ``jaxgan inpaint`` wrote one folder per run:

    python scripts/inpaint_table.py "Fashion-MNIST, seed MLP=runs/inpaint/fmnist-mlp-s*" \\
        "MNIST, DCGAN=runs/inpaint/mnist-dcgan16-s*"

Each argument is ``LABEL=GLOB`` (a shell-quoted glob of result folders, one per seed). For
every group and mask the table has one row per method: the GAN (mean ± s.e. over the seeds'
generators) and the baselines, which need no generator and are identical for every seed (the
script checks that, and prints them once). Columns: PSNR, SSIM and L1 on the hole and on the
whole image, classifier accuracy and FD. A final table counts, per mask, on how many of the
eight metrics the GAN's mean beats each baseline. No metric is computed here.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

COLUMNS = [("psnr_hole", "PSNR hole", True), ("ssim_hole", "SSIM hole", True),
           ("l1_hole", "L1 hole", False), ("psnr", "PSNR", True), ("ssim", "SSIM", True),
           ("l1", "L1", False), ("accuracy", "acc.", True), ("fd", "FD", False)]
BASELINES = {"mean": "training mean", "nearest": "nearest neighbour",
             "harmonic": "harmonic fill"}
DIGITS = {"psnr_hole": 2, "psnr": 2, "ssim_hole": 3, "ssim": 3, "l1_hole": 3, "l1": 4,
          "accuracy": 3, "fd": 2}


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (sample std over √n; NaN for one value).

    Example:
        >>> mean_se([1.0, 2.0, 3.0])
        (2.0, 0.5773502691896258)

    """
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def _fmt(key: str, mean: float, se: float) -> str:
    d = DIGITS[key]
    return f"{mean:.{d}f}" if math.isnan(se) else f"{mean:.{d}f} ± {se:.{d}f}"


def group_table(label: str, folders: list[Path]) -> tuple[list[str], list[str]]:
    """Markdown lines of one group's table and of its win counts."""
    results = [json.loads((f / "results.json").read_text()) for f in folders]
    first = results[0]
    head = (f"### {label}\n\n{len(results)} generators ({', '.join(f.name for f in folders)}); "
            f"{first['count']} {first['split']} images of `{first['data']}` from index "
            f"{first['offset']}; checkpoint steps {sorted({r['step'] for r in results})}; "
            f"features: {first['feature_space']}.\n")
    lines = [head, "| mask | method | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    wins = []
    for mask in first["masks"]:
        per_seed = [r["masks"][mask]["methods"] for r in results]
        gan = {k: mean_se([m["gan"][k] for m in per_seed]) for k, _, _ in COLUMNS}
        lines.append(f"| {mask} | **GAN** | "
                     + " | ".join(_fmt(k, *gan[k]) for k, _, _ in COLUMNS) + " |")
        counts = []
        for name, text in BASELINES.items():
            values = [m[name] for m in per_seed if name in m]
            if not values:
                continue
            for other in values[1:]:
                if any(abs(other[k] - values[0][k]) > 1e-6 for k, _, _ in COLUMNS):
                    raise SystemExit(f"{label}: baseline {name} differs between seeds on {mask}"
                                     "; were the images or masks different?")
            base = values[0]
            lines.append(f"| {mask} | {text} | "
                         + " | ".join(_fmt(k, base[k], math.nan) for k, _, _ in COLUMNS) + " |")
            better = sum((gan[k][0] > base[k]) == up for k, _, up in COLUMNS)
            counts.append(f"{better}/{len(COLUMNS)}")
        wins.append(f"| {label} | {mask} | " + " | ".join(counts) + " |")
    return lines, wins


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables for ``LABEL=GLOB`` groups.

    Example:
        >>> main(["none=/no/such/folder*"])  # doctest: +SKIP

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", metavar="LABEL=GLOB")
    args = parser.parse_args(argv)
    all_wins = []
    for group in args.groups:
        label, _, pattern = group.partition("=")
        folders = [Path(p) for p in sorted(glob.glob(pattern))
                   if (Path(p) / "results.json").is_file()]
        if not folders:
            raise SystemExit(f"no results.json under {pattern!r}")
        lines, wins = group_table(label, folders)
        print("\n".join(lines) + "\n")
        all_wins += wins
    print("GAN better than the baseline on how many of the 8 columns (means):\n")
    print("| group | mask | vs training mean | vs nearest neighbour | vs harmonic fill |")
    print("|---|---|---|---|---|")
    print("\n".join(all_wins))
    return 0


if __name__ == "__main__":
    sys.exit(main())
