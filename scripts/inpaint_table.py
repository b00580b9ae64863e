r"""Summarise ``jaxgan inpaint`` results of several seeds as markdown tables (mean ± s.e.).

Run from the repository root after ``jaxgan inpaint`` wrote one folder per run:

    python scripts/inpaint_table.py "Fashion-MNIST|seed MLP=runs/inpaint/fmnist-mlp-s*" \
        "Fashion-MNIST|DCGAN=runs/inpaint/fmnist-dcgan16-s*"

Each argument is ``DATASET|GENERATOR=GLOB`` (a shell-quoted glob of result folders, one per
seed). For every dataset and mask the table has one row per generator (mean ± s.e. over its
seeds) and one per baseline; baselines need no generator, so they come from whichever folders
computed them (``jaxgan inpaint`` without ``--no-baselines``), and the script checks they
agree. Columns: PSNR, SSIM and L1 on the hole and on the whole image, classifier accuracy and
FD. A final table counts, per mask, on how many of the eight columns each generator's mean
beats each baseline. No metric is computed here.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

COLUMNS = [
    ("psnr_hole", "PSNR hole", True),
    ("ssim_hole", "SSIM hole", True),
    ("l1_hole", "L1 hole", False),
    ("psnr", "PSNR", True),
    ("ssim", "SSIM", True),
    ("l1", "L1", False),
    ("accuracy", "acc.", True),
    ("fd", "FD", False),
]
BASELINES = {"mean": "training mean", "nearest": "nearest neighbour", "harmonic": "harmonic fill"}
DIGITS = {
    "psnr_hole": 2,
    "psnr": 2,
    "ssim_hole": 3,
    "ssim": 3,
    "l1_hole": 3,
    "l1": 4,
    "accuracy": 3,
    "fd": 2,
}


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


def _load(pattern: str) -> list[tuple[Path, dict]]:
    folders = [Path(p) for p in sorted(glob.glob(pattern)) if (Path(p) / "results.json").is_file()]
    if not folders:
        raise SystemExit(f"no results.json under {pattern!r}")
    return [(f, json.loads((f / "results.json").read_text())) for f in folders]


def dataset_table(dataset: str, groups: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Markdown lines of one dataset's table (GAN rows per generator, then the baselines)."""
    loaded = [(label, _load(pattern)) for label, pattern in groups]
    runs = [r for _, group in loaded for _, r in group]
    first = runs[0]
    lines = [
        f"### {dataset}\n\n{first['count']} {first['split']} images of `{first['data']}` "
        f"from index {first['offset']}; features: {first['feature_space']}."
    ]
    for label, group in loaded:
        steps = sorted({r["step"] for _, r in group})
        lines.append(
            f"- GAN ({label}): {len(group)} generators "
            f"({', '.join(f.name for f, _ in group)}), checkpoint steps {steps}."
        )
    lines += [
        "",
        "| mask | method | " + " | ".join(c[1] for c in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    wins = []
    for mask in first["masks"]:
        gans = {}
        for label, group in loaded:
            per_seed = [r["masks"][mask]["methods"]["gan"] for _, r in group]
            gans[label] = {k: mean_se([m[k] for m in per_seed]) for k, _, _ in COLUMNS}
            lines.append(
                f"| {mask} | **GAN, {label}** | "
                + " | ".join(_fmt(k, *gans[label][k]) for k, _, _ in COLUMNS)
                + " |"
            )
        bases = {}
        for name, text in BASELINES.items():
            values = [
                r["masks"][mask]["methods"][name]
                for r in runs
                if name in r["masks"][mask]["methods"]
            ]
            if not values:
                continue
            for other in values[1:]:
                if any(abs(other[k] - values[0][k]) > 1e-6 for k, _, _ in COLUMNS):
                    raise SystemExit(
                        f"{dataset}: baseline {name} differs between runs on "
                        f"{mask}; were the images or masks different?"
                    )
            bases[name] = values[0]
            lines.append(
                f"| {mask} | {text} | "
                + " | ".join(_fmt(k, values[0][k], math.nan) for k, _, _ in COLUMNS)
                + " |"
            )
        for label, gan in gans.items():
            counts = [
                f"{sum((gan[k][0] > base[k]) == up for k, _, up in COLUMNS)}/{len(COLUMNS)}"
                for base in bases.values()
            ]
            wins.append(f"| {dataset} | {label} | {mask} | " + " | ".join(counts) + " |")
    return lines, wins


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables for ``DATASET|GENERATOR=GLOB`` groups.

    Example:
        >>> main(["none=/no/such/folder*"])  # doctest: +SKIP

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", metavar="DATASET|GENERATOR=GLOB")
    args = parser.parse_args(argv)
    datasets: dict[str, list[tuple[str, str]]] = {}
    for group in args.groups:
        label, _, pattern = group.partition("=")
        dataset, _, generator = label.partition("|")
        datasets.setdefault(dataset, []).append((generator or "GAN", pattern))
    all_wins = []
    for dataset, groups in datasets.items():
        lines, wins = dataset_table(dataset, groups)
        print("\n".join(lines) + "\n")
        all_wins += wins
    print("On how many of the 8 columns the GAN's mean beats the baseline:\n")
    print(
        "| data | generator | mask | vs training mean | vs nearest neighbour | vs harmonic fill |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(all_wins))
    return 0


if __name__ == "__main__":
    sys.exit(main())
