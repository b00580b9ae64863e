"""The ``jaxgan`` command: argument parsing over ``jaxgan.experiment`` (no training logic here).

Commands are subparsers, each added by one ``_add_<command>`` function and handled by one
``_<command>`` function; add a command by writing that pair and listing it in ``COMMANDS``.
Errors the user can fix (bad values, missing data, unusable folders, broken checkpoints, a
diverged run) are printed as one line on stderr with exit status 2 (usage) or 1 (everything
else), and background noise from orbax, asyncio and tensorstore is silenced; pass ``--debug``
(or set ``JAXGAN_DEBUG=1``) to see the traceback and the noise instead. A run stopped by
SIGTERM or SIGINT saves a checkpoint, says how to continue and exits with 143 or 130.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from jaxgan import compile_cache
from jaxgan.experiment import config as cfg

PROG = "jaxgan"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _presets_epilog() -> str:
    lines = ["presets (jaxgan/presets/<name>.py; its first line says how to run it):"]
    for name in cfg.preset_names():
        c = cfg.load_preset(name)
        s = c.schedule
        length = f"{s.epochs:g} epochs" if s.epochs is not None else f"{s.steps} steps"
        model = f"conditional {c.model.family}" if c.model.conditional else c.model.family
        lines.append(f"  {name:<16} {model} on {c.data.name}, {length}, batch {s.batch_size}")
    return "\n".join(lines)


def _fields_epilog() -> str:
    lines = [
        "config fields (change any with --set FIELD=VALUE, repeat --set for more; see a",
        "preset's values with: jaxgan train --preset NAME --print-config):",
    ]
    for name, text in cfg.field_help().items():
        wrapped = textwrap.wrap(text, 58, subsequent_indent=" " * 21)
        lines.append(f"  {name:<18} " + "\n".join(wrapped))
    return "\n".join(lines)


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a GAN and write a run folder",
        description=textwrap.fill(
            "Train a GAN. With no arguments: the seed MLP GAN on the bundled Fashion-MNIST "
            "sample (offline, a few minutes on a 2-core CPU). The run folder gets config.json, "
            "metrics.jsonl, sample grids, loss.png and checkpoints; --resume continues it "
            "exactly where it stopped.",
            88,
        ),
        epilog=(
            "examples:\n"
            "  jaxgan train\n"
            "  jaxgan train --preset ring8 --steps 20000 --out runs/ring8\n"
            "  jaxgan train --preset dcgan-mnist --data idx:/data/mnist --set width=32\n"
            "  jaxgan train --preset cgan-pd-cifar10 --data idx:/data/cifar10-idx  # labelled\n"
            "  jaxgan train --resume --out runs/ring8 --steps 40000\n\n"
            f"{_presets_epilog()}\n\n{_fields_epilog()}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help="preset name (default seed-mlp, listed below) or a .py file defining CONFIG",
    )
    parser.add_argument(
        "--data", metavar="NAME", help="dataset, e.g. fashion_mnist_sample, mnist, idx:<folder>"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--steps", type=int, metavar="N", help="training iterations (one G update each)"
    )
    length.add_argument(
        "--epochs", type=float, metavar="E", help="passes over the data instead of --steps"
    )
    parser.add_argument(
        "--batch-size", type=int, metavar="B", help="examples per discriminator update"
    )
    parser.add_argument("--seed", type=int, metavar="S", help="random seed of the whole run")
    parser.add_argument(
        "--loss", metavar="NAME", help="GAN loss: non_saturating, minimax, hinge, ..."
    )
    parser.add_argument(
        "--lr",
        type=float,
        metavar="LR",
        help="Adam learning rate (of both players unless d_lr is set)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change any config field (listed below), e.g. --set lr=1e-4 --set g_hidden=256",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="run folder (default runs/<preset>-<date>-<time>)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its latest checkpoint (bit-exact on CPU)",
    )
    mode.add_argument(
        "--overwrite", action="store_true", help="replace the jaxgan run already in --out"
    )
    parser.add_argument(
        "--devices",
        metavar="all|N",
        help="train data-parallel over all (or N) devices; --batch-size is the global batch",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="train N runs (seeds S..S+N-1) together in one vmapped program and write a summary "
        "table (per run and mean ± s.e.) to --out",
    )
    parser.add_argument(
        "--runs-together",
        type=int,
        metavar="K",
        help="with --seeds/--sweep: vmap at most K runs at once and train the slices one after "
        "another (default: all); use 1 for conv nets on CPU, where vmapping them is slower "
        "(docs/ensembles.md)",
    )
    parser.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="with --seeds: also sweep a hyperparameter, e.g. --sweep lr=1e-4,2e-4,4e-4 "
        "(optimiser values share one compiled program; others compile once per value)",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config as JSON and exit"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )
    parser.add_argument(
        "--on-nonfinite",
        choices=("stop", "warn"),
        default="stop",
        help="a NaN/inf loss, gradient or state: stop naming the step and the last good "
        "checkpoint (default), or warn once and train on without saving",
    )
    parser.set_defaults(handler=_train)


def _add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an error, and library noise (also: JAXGAN_DEBUG=1)",
    )


def _add_sample(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="write a grid of samples from a run's checkpoint",
        description=textwrap.fill(
            "Load a run's checkpoint and write n generated samples as one PNG grid "
            "(for 2-D data: a scatter plot over the real data; for a conditional run: one "
            "class per row).",
            88,
        ),
        epilog="example:\n  jaxgan sample --run runs/seed-mlp-20250101-120000 -n 64 --out grid.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run", required=True, metavar="DIR", help="the run folder")
    parser.add_argument(
        "-n", type=int, default=64, metavar="N", help="number of samples (default 64)"
    )
    parser.add_argument("--out", metavar="PNG", help="output file (default <run>/sample.png)")
    parser.add_argument(
        "--step", type=int, metavar="STEP", help="checkpoint step (default: the latest)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="noise seed (default: the run's fixed sample-grid noise)",
    )
    parser.set_defaults(handler=_sample)


def _add_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure a run's quality, diversity and similarity to real data",
        description="Evaluate a run's checkpoint: for images FD, KID, precision/recall and "
        "density/coverage in a jaxgan classifier's feature space, each beside its "
        "real-vs-real (train vs test) floor at the same N; for ring8/grid25 PacGAN's mode "
        "count, %% high quality and reverse KL; for Stacked MNIST modes out of 1,000. Writes "
        "report.json and report.png to <run>/eval.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  jaxgan eval --run runs/seed-mlp\n"
        "  jaxgan eval --run runs/ring8 -n 2500",
    )
    parser.add_argument("--run", required=True, metavar="DIR", help="the run folder")
    parser.add_argument("-n", type=int, metavar="N", help="generated samples (default: see above)")
    parser.add_argument("--step", type=int, metavar="S", help="checkpoint step (default latest)")
    parser.add_argument(
        "--classifier", metavar="NAME|PATH", help="feature space: mnist, fashion_mnist or a .json"
    )
    parser.add_argument("--out", metavar="DIR", help="report folder (default <run>/eval)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the noise")
    parser.add_argument(
        "--best",
        action="store_true",
        help="evaluate the best checkpoint by the run's track_metric (kept in <run>/best)",
    )
    parser.set_defaults(handler=_eval)


def _add_fid_stats(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fid-stats",
        help="compute reference statistics (mu, sigma) of a dataset split once, for FID/FD",
        description=textwrap.fill(
            "Compute the mean and covariance of a dataset split's features with N, the feature "
            "space, the full preprocessing protocol and a sha256, into the named cache "
            "(JAXGAN_CACHE_DIR or ~/.cache/jaxgan/reference_stats, keyed by data, split, N, space "
            "and protocol) or into --out. fid(fake, reference='NAME:split') and jaxgan eval reuse "
            "them. The Inception space is slow on a CPU (benchmarks/RESULTS.md).",
            88,
        ),
        epilog="examples:\n  jaxgan fid-stats --data fashion_mnist:train --limit 10000\n"
        "  jaxgan fid-stats --data mnist:test --space classifier --per-class --out mnist.npz",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", required=True, metavar="NAME[:split]", help="dataset and split")
    parser.add_argument("--limit", type=int, metavar="N", help="the first N images (default all)")
    parser.add_argument(
        "--space",
        default="inception",
        metavar="SPACE",
        help="inception (FID), classifier (the dataset's jaxgan classifier) or classifier:NAME",
    )
    parser.add_argument("--per-class", action="store_true", help="also per-class statistics")
    parser.add_argument("--out", metavar="FILE.npz", help="write here (default: the named cache)")
    parser.set_defaults(handler=_fid_stats)


def _fid_stats(args: argparse.Namespace) -> int:
    from jaxgan.metrics.reference_fd import write_reference_stats

    if args.limit is not None and args.limit < 2:
        raise cfg.ConfigError(f"--limit must be at least 2 (a covariance), got {args.limit}")
    path, stats = write_reference_stats(
        args.data, space=args.space, limit=args.limit, per_class=args.per_class, out=args.out
    )
    print(f"{stats.source}: N={stats.n}, {stats.dim}-d, {stats.feature_space}")
    print(f"protocol: {stats.protocol}")
    print(f"sha256 {stats.sha256[:16]}: {path}")
    return 0


def _add_latent_search_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``inpaint`` and ``invert``: the images and the latent search."""
    parser.add_argument("--run", required=True, metavar="DIR", help="the run folder (only read)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--data", metavar="NAME", help="images, e.g. idx:<folder> (default: the run's data)"
    )
    parser.add_argument("--split", default="test", help="split of --data (default test)")
    parser.add_argument(
        "--offset", type=int, default=0, metavar="N", help="skip the first N images of the split"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="use at most N images")
    parser.add_argument("--step", type=int, metavar="S", help="checkpoint step (default latest)")
    parser.add_argument("--best", action="store_true", help="use the run's best checkpoint")
    parser.add_argument(
        "--steps",
        type=int,
        default=300,
        metavar="N",
        help="optimisation steps per image (default 300)",
    )
    parser.add_argument(
        "--restarts",
        type=int,
        default=4,
        metavar="R",
        help="random starts per image; the best is kept (default 4)",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=0.1,
        metavar="LR",
        help="Adam learning rate on z, cosine-decayed to 0 (default 0.1)",
    )
    parser.add_argument(
        "--loss",
        choices=("contextual", "l1", "l2"),
        help="loss on the known pixels (default: contextual for inpaint, l2 for invert)",
    )
    parser.add_argument(
        "--prior-weight",
        type=float,
        default=0.003,
        metavar="W",
        help="weight of D's prior log(1 - D(G(z))) (default 0.003, Yeh et al.)",
    )
    parser.add_argument(
        "--latent-weight",
        type=float,
        default=0.0,
        metavar="W",
        help="weight of (|z|^2/d - 1)^2 (default 0)",
    )
    parser.add_argument(
        "--labels",
        choices=("search", "known"),
        default="search",
        help="conditional runs: try every class (search) or use the true labels",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=500,
        metavar="B",
        help="images per compiled call (default 500)",
    )
    parser.add_argument(
        "--classifier",
        metavar="NAME|PATH",
        help="feature space for accuracy and FD (default: the data's)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )


def _latent_search_options(args: argparse.Namespace) -> dict:
    """Return the keyword arguments ``inpaint_run`` and ``invert_run`` share."""
    options = {
        "data_name": args.data,
        "split": args.split,
        "offset": args.offset,
        "limit": args.limit,
        "step": args.step,
        "best": args.best,
        "labels": args.labels,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "classifier": args.classifier,
        "steps": args.steps,
        "restarts": args.restarts,
        "learning_rate": args.lr,
        "prior_weight": args.prior_weight,
        "latent_weight": args.latent_weight,
    }
    if args.loss:
        options["loss"] = args.loss
    return options


def _progress_bar(enabled: bool | None, what: str):
    """Return a tqdm bar on stderr and its ``(done, total)`` callback (None when disabled)."""
    if not (sys.stderr.isatty() if enabled is None else enabled):
        return None, None
    from tqdm import tqdm

    bar = tqdm(desc=what, unit="img", file=sys.stderr, dynamic_ncols=True)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _add_inpaint(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inpaint",
        help="fill holes in real images by latent search through a run's generator",
        description=textwrap.fill(
            "Semantic inpainting (Yeh et al., CVPR 2017): for every image, search the latent "
            "space for a z whose G(z) matches the known pixels and looks real to D (several "
            "restarts, all images in one compiled program), then blend G(z) into the hole. "
            "The same holes are also filled with the training mean, the nearest training "
            "image and a harmonic (diffusion) fill, and every method is scored on the hole and "
            "the whole image (PSNR, SSIM, L1), by classifier accuracy and by FD. Writes "
            "results.json, outputs.npz and one grid_<mask>.png per mask (rows: original, "
            "masked, G(z), blended, then the baselines) into --out, nowhere else.",
            88,
        ),
        epilog="masks: center (14x14 on 28x28), center:S, boxes, boxes:K:S, pixels:F (drop a "
        "fraction F),\n  half:left|right|top|bottom, file:PATH (.png white = known, or .npy/.npz "
        "of 0/1)\n\nexamples:\n"
        "  jaxgan inpaint --run runs/fmnist-mlp-s0 --limit 1000 --mask center:12 --out runs/inp\n"
        "  jaxgan inpaint --run runs/mnist-mlp-s0 --data idx:/data/mnist --offset 8000 \\\n"
        "      --mask center:8 --mask pixels:0.5 --mask half:left --out runs/inp-mnist",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_latent_search_options(parser)
    parser.add_argument(
        "--mask", action="append", metavar="SPEC", help="mask (repeat for several; default center)"
    )
    parser.add_argument(
        "--mask-seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of random masks (the same holes for every run)",
    )
    parser.add_argument(
        "--blend",
        choices=("poisson", "paste"),
        default="poisson",
        help="put G(z) into the hole by Poisson blending (default) or pasting",
    )
    parser.add_argument(
        "--no-baselines",
        dest="baselines",
        action="store_false",
        help="skip the mean / nearest-neighbour / harmonic baselines",
    )
    parser.set_defaults(handler=_inpaint)


def _inpaint(args: argparse.Namespace) -> int:
    from jaxgan.apps.inpainting import inpaint_run

    masks = args.mask or ["center"]
    bar, update = _progress_bar(args.progress, "inpaint")
    try:
        results = inpaint_run(
            args.run,
            args.out,
            masks=masks,
            mask_seed=args.mask_seed,
            baselines=args.baselines,
            blend=args.blend,
            on_progress=update,
            **_latent_search_options(args),
        )
    finally:
        if bar is not None:
            bar.close()
    parts = []
    for spec, entry in results["masks"].items():
        methods = entry["methods"]
        others = ", ".join(
            f"{name} {m['psnr_hole']:.1f}"
            for name, m in methods.items()
            if name not in ("gan", "gan_paste")
        )
        parts.append(
            f"{spec} {methods['gan']['psnr_hole']:.1f} dB" + (f" ({others})" if others else "")
        )
    print(
        f"inpainted {results['count']} images of {results['data']} with {args.run} "
        f"(step {results['step']}) in {results['seconds']:.0f} s; PSNR on the hole: "
        f"{'; '.join(parts)}; results: {Path(args.out) / 'results.json'}"
    )
    if results["overlaps_training"]:
        print(
            "note: these images are in the run's training data; use --offset for held-out ones",
            file=sys.stderr,
        )
    return 0


def _add_invert(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "invert",
        help="project real images into a run's latent space and report the error",
        description=textwrap.fill(
            "GAN inversion: for every image, search the latent space for the z whose G(z) is "
            "closest to it (L2 by default; several restarts, all images in one compiled "
            "program), and report the reconstruction error (PSNR, SSIM, L1), the classifier's "
            "accuracy on G(z) and FD. Writes results.json, outputs.npz and grid.png (rows: "
            "original, G(z)) into --out, nowhere else.",
            88,
        ),
        epilog="example:\n  jaxgan invert --run runs/fmnist-mlp-s0 --limit 500 --out runs/inv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_latent_search_options(parser)
    parser.set_defaults(handler=_invert)


def _invert(args: argparse.Namespace) -> int:
    from jaxgan.apps.inpainting import invert_run

    bar, update = _progress_bar(args.progress, "invert")
    try:
        results = invert_run(args.run, args.out, on_progress=update, **_latent_search_options(args))
    finally:
        if bar is not None:
            bar.close()
    m = results["metrics"]
    print(
        f"inverted {results['count']} images of {results['data']} with {args.run} "
        f"(step {results['step']}) in {results['seconds']:.0f} s: PSNR {m['psnr']:.2f} dB, "
        f"SSIM {m['ssim']:.3f}, L1 {m['l1']:.4f}; results: {Path(args.out) / 'results.json'}"
    )
    return 0


def _add_compare(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="overlay several runs' curves and show their metrics and last grids",
        description=textwrap.fill(
            "Compare runs: one PNG with the losses and D's outputs (D(x), D(G(z))) of every "
            "run overlaid and each run's last sample grid, and a Markdown table of their final "
            "and best tracked metrics on stdout. An ensemble folder (--seeds/--sweep) adds "
            "each of its members.",
            88,
        ),
        epilog="examples:\n  jaxgan compare runs/a runs/b --out compare.png\n"
        "  jaxgan compare runs/ring8-sweep",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run or ensemble folders")
    parser.add_argument(
        "--out", default="compare.png", metavar="PNG", help="the figure (default compare.png)"
    )
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from jaxgan.experiment.compare import compare_runs, markdown_table

    records = compare_runs(args.runs, args.out)
    print(markdown_table(records))
    print(f"\nfigure: {args.out}")
    return 0


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a run's samples as a labelled dataset (idx folder or npz file)",
        description=textwrap.fill(
            "Draw --n samples from a run's checkpoint and write them as a training split that "
            "jaxgan.data.load reads back (idx: a folder of MNIST IDX files, load it as "
            "idx:<folder>; npz: x_train/y_train, load it as npz:<file>), with export.json "
            "(the run, step, seed, truncation, class counts, sha256). --per-class balances "
            "the classes of a conditional run exactly. Written under a temporary name and "
            "renamed at the end.",
            88,
        ),
        epilog="example:\n  jaxgan export --run runs/cdcgan --n 60000 --per-class --out runs/syn",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run", required=True, metavar="DIR", help="the run folder")
    parser.add_argument("--n", type=int, required=True, metavar="N", help="number of samples")
    parser.add_argument("--out", required=True, metavar="PATH", help="idx folder or .npz file")
    parser.add_argument(
        "--per-class", action="store_true", help="exactly balanced classes (conditional runs)"
    )
    parser.add_argument(
        "--truncation", type=float, default=1.0, metavar="PSI", help="noise × ψ, ψ in (0, 1]"
    )
    parser.add_argument("--format", choices=("idx", "npz"), default="idx", help="file format")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="noise seed")
    parser.add_argument("--step", type=int, metavar="S", help="checkpoint step (default latest)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from jaxgan.apps.export import export_run

    meta = export_run(
        args.run,
        args.out,
        n=args.n,
        per_class=args.per_class,
        truncation=args.truncation,
        fmt=args.format,
        seed=args.seed,
        step=args.step,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {meta['n']} samples of {args.run} (step {meta['step']}) to {args.out} in "
        f"{meta['seconds']:.0f} s; load it as {meta['load_as']}"
    )
    return 0


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 10,100, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected integers like 10,100, got {text!r}")
    return values


def _add_augment_study(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "augment-study",
        help="does a conditional GAN's data help a classifier with k labelled images per class?",
        description=textwrap.fill(
            "For each k and seed, train the small CNN of jaxgan.apps.classifier on: the k "
            "labelled images per class (real), the same with shifts/rotations/zoom (classic), "
            "real plus r× as many samples of a conditional DCGAN trained on those images only "
            "(gan_r), the GAN's samples alone (gan_only) and the whole training split "
            "(all_real). Every arm trains for the same number of steps and is scored on the "
            "whole real test split. Writes results.json, results.md and accuracy.png to --out.",
            88,
        ),
        epilog="example:\n  jaxgan augment-study --data idx:/data/fashion_mnist --k 10,100 "
        "--seeds 3 --out runs/aug",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data", default="fashion_mnist", metavar="NAME", help="labelled data (train and test)"
    )
    parser.add_argument("--k", type=_int_list, default=(10, 100), metavar="K,K", help="per class")
    parser.add_argument("--seeds", type=int, default=3, metavar="N", help="classifier seeds")
    parser.add_argument(
        "--ratios", type=_int_list, default=(1, 4, 10), metavar="R,R", help="synthetic : real"
    )
    parser.add_argument(
        "--arms",
        default=",".join(("real", "classic", "gan", "gan_only", "all_real")),
        metavar="A,A",
        help="arms to run (default all: real,classic,gan,gan_only,all_real)",
    )
    parser.add_argument(
        "--classifier-steps", type=int, default=1000, metavar="N", help="batches per classifier"
    )
    parser.add_argument(
        "--widths", type=_int_list, default=(32, 64), metavar="W,W", help="classifier conv widths"
    )
    parser.add_argument("--gan-steps", type=int, default=3000, metavar="N", help="GAN iterations")
    parser.add_argument("--gan-preset", metavar="NAME", help="GAN preset (default by data)")
    parser.add_argument("--gan-seed", type=int, default=0, metavar="N", help="the GANs' seed")
    parser.add_argument(
        "--gan-set",
        dest="gan_overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a GAN config field, e.g. --gan-set width=16 or conditioning=auxiliary "
        "(AC-GAN)",
    )
    parser.add_argument(
        "--gan-run",
        dest="gan_runs",
        action="append",
        default=[],
        metavar="K=DIR",
        help="use this trained conditional GAN for k=K instead of training one (trained on the "
        "same K-per-class subset, e.g. with --set per_class=K)",
    )
    parser.add_argument("--truncation", type=float, default=1.0, metavar="PSI", help="ψ in (0, 1]")
    parser.add_argument("--test-limit", type=int, metavar="N", help="score on N test images")
    parser.add_argument(
        "--gans-only",
        action="store_true",
        help="train the GANs and measure their per-class quality only (no classifiers)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="results folder")
    parser.set_defaults(handler=_augment_study)


def _gan_runs(items: Sequence[str]) -> dict[int, str]:
    runs = {}
    for item in items:
        k, sep, folder = item.partition("=")
        if not sep or not k.strip().isdigit() or not folder:
            raise cfg.ConfigError(
                f"--gan-run must look like K=DIR, e.g. 10=runs/gan-k10, got {item!r}"
            )
        runs[int(k)] = folder
    return runs


def _augment_study(args: argparse.Namespace) -> int:
    from jaxgan.apps.augment_study import StudyConfig, run_study

    study = StudyConfig(
        data=args.data,
        ks=args.k,
        seeds=args.seeds,
        ratios=args.ratios,
        arms=tuple(a.strip() for a in args.arms.split(",") if a.strip()),
        classifier_steps=args.classifier_steps,
        widths=args.widths,
        gan_preset=args.gan_preset,
        gan_steps=args.gan_steps,
        gan_seed=args.gan_seed,
        gan_overrides=cfg.parse_overrides(args.gan_overrides),
        gan_runs=_gan_runs(args.gan_runs),
        truncation=args.truncation,
        test_limit=args.test_limit,
        gans_only=args.gans_only,
    )
    if study.gan_preset is not None:
        cfg.load_preset(study.gan_preset)  # an unknown preset fails before any training
    results = run_study(study, args.out, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(Path(args.out, "results.md").read_text(), end="")
    print(f"study took {results['seconds']:.0f} s; results: {Path(args.out) / 'results.json'}")
    return 0


COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_train,
    _add_sample,
    _add_eval,
    _add_fid_stats,
    _add_compare,
    _add_inpaint,
    _add_invert,
    _add_export,
    _add_augment_study,
)
"""The functions that add each subcommand's parser, in help order."""


def build_parser() -> argparse.ArgumentParser:
    """Build the ``jaxgan`` argument parser with one subparser per command.

    Returns:
        The parser; each subcommand sets ``handler`` to the function that runs it.

    Example:
        >>> args = build_parser().parse_args(["train", "--steps", "100"])
        >>> args.steps
        100

    """
    parser = _Parser(
        prog=PROG,
        description="jaxgan: generative adversarial networks in JAX/Flax.",
        epilog="run 'jaxgan <command> --help' for a command's options",
    )
    subparsers = parser.add_subparsers(
        title="commands", dest="command", required=True, metavar="<command>"
    )
    for add in COMMANDS:
        add(subparsers)
    for command in subparsers.choices.values():  # every command takes --debug
        _add_debug(command)
    return parser


def train_config_from_args(args: argparse.Namespace) -> cfg.TrainConfig:
    """Turn ``jaxgan train`` arguments into a ``TrainConfig``.

    The base is the preset (``seed-mlp`` by default) or, with ``--resume``, the run folder's
    saved config; then the explicit flags and ``--set`` overrides are applied.

    Args:
        args: parsed ``train`` arguments.

    Returns:
        The validated config.

    Example:
        >>> train_config_from_args(build_parser().parse_args(["train", "--lr", "1e-3"])).optim.lr
        0.001

    """
    if args.resume:
        if not args.out:
            raise cfg.ConfigError("--resume needs --out DIR, the run folder to continue")
        from jaxgan.experiment.ensemble import SETUP_FILE
        from jaxgan.experiment.rundir import read_run_config

        setup = Path(args.out) / SETUP_FILE
        if setup.is_file():  # an ensemble folder keeps its resolved config in its setup
            base = cfg.from_dict(json.loads(setup.read_text())["config"])
        else:
            base = read_run_config(args.out)
        if args.preset:
            preset = cfg.load_preset(args.preset)
            if preset.name != base.name:
                raise cfg.ConfigError(
                    f"{args.out} holds a {base.name!r} run, not {args.preset!r}; drop --preset"
                )
    else:
        base = cfg.load_preset(args.preset or "seed-mlp")
    overrides = cfg.parse_overrides(args.overrides)
    flags = {
        "data": args.data,
        "steps": args.steps,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "loss": args.loss,
        "lr": args.lr,
        "devices": args.devices,
    }
    overrides.update({k: v for k, v in flags.items() if v is not None})
    return cfg.apply_overrides(base, overrides)


def _train(args: argparse.Namespace) -> int:
    config = train_config_from_args(args)
    if args.print_config:
        print(json.dumps(cfg.to_dict(config), indent=2))
        return 0
    from jaxgan.experiment.ensemble import SETUP_FILE
    from jaxgan.experiment.rundir import default_out_dir
    from jaxgan.experiment.train import train

    out = args.out or default_out_dir(config)
    if args.seeds is not None or args.sweep or (args.resume and (Path(out) / SETUP_FILE).exists()):
        return _train_ensemble(args, config, out)
    if args.runs_together is not None:
        raise cfg.ConfigError("--runs-together needs --seeds or --sweep")
    summary = train(
        config,
        out,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=args.progress,
        on_nonfinite=args.on_nonfinite,
    )
    print(summary.line())
    return 0


def _train_ensemble(args: argparse.Namespace, config: cfg.TrainConfig, out: str) -> int:
    """Train ``--seeds`` runs (× ``--sweep`` values) together; write the summary tables."""
    from jaxgan import ensembles
    from jaxgan.experiment.build import build_state, load_training_data
    from jaxgan.experiment.ensemble import SETUP_FILE, run_ensemble
    from jaxgan.experiment.guards import check_run_inputs
    from jaxgan.experiment.train import data_parallel_plan

    sweep = dict(ensembles.parse_sweep(text) for text in args.sweep)
    runs_together = args.runs_together
    if args.resume:  # the ensemble's own setup, unless the command repeats it
        saved = json.loads((Path(out) / SETUP_FILE).read_text())
        seeds = args.seeds if args.seeds is not None else len(saved["seeds"])
        sweep = sweep or saved["sweep"]
        runs_together = runs_together if runs_together is not None else saved["runs_together"]
    else:
        seeds = args.seeds if args.seeds is not None else 1
    if seeds < 1:
        raise cfg.ConfigError(f"--seeds must be at least 1, got {seeds}")
    if runs_together is not None and runs_together < 1:
        raise cfg.ConfigError(f"--runs-together must be at least 1, got {runs_together}")
    config, dataset = load_training_data(config)
    steps = cfg.resolve_steps(config, len(dataset))
    check_run_inputs(config, len(dataset), seeds=seeds)
    plan = data_parallel_plan(config)

    def build_state_fn(key, **values):
        return build_state(cfg.apply_overrides(config, values), key)

    summary = run_ensemble(
        build_state_fn,
        dataset,
        seeds=list(range(config.schedule.seed, config.schedule.seed + seeds)),
        sweep=sweep or None,
        steps=steps,
        batch_size=config.schedule.batch_size,
        out_dir=out,
        loop=config.schedule.loop,
        steps_per_call=config.schedule.steps_per_call,
        overwrite=args.overwrite,
        resume=args.resume,
        runs_together=runs_together,
        on_group=_print_group,
        checkpoint_every=config.outputs.checkpoint_every,
        mesh=plan,
        progress=args.progress,
        setup_extra={"config": cfg.to_dict(config)},
        on_nonfinite=args.on_nonfinite,
        log=config.outputs.log,  # type: ignore[arg-type]
        log_every=config.outputs.log_every,
    )
    runs = len(summary.get("runs", []))
    print(f"trained {runs} runs; summary in {Path(out) / 'summary.md'}")
    return 0


def _print_group(group: dict) -> None:
    """Report one finished slice of an ensemble (runs, time, speed) on stderr."""
    print(
        f"trained runs {group['runs']} in {group['seconds_with_compile']:.0f} s "
        f"({group['run_iterations_per_second']:.1f} run-iterations/s)",
        file=sys.stderr,
        flush=True,
    )


def _sample(args: argparse.Namespace) -> int:
    from jaxgan.experiment.sample import sample

    path = sample(args.run, args.out, n=args.n, step=args.step, seed=args.seed)
    print(f"wrote {args.n} samples of {args.run} to {path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from jaxgan.experiment.evaluate import evaluate_run, report_lines

    if args.n is not None and args.n < 2:
        raise cfg.ConfigError(f"-n must be at least 2, got {args.n}")
    report = evaluate_run(
        args.run,
        num_samples=args.n,
        step=args.step,
        classifier=args.classifier,
        out_dir=args.out,
        seed=args.seed,
        best=args.best,
    )
    print("\n".join(report_lines(report)))
    print(f"report: {Path(args.out or Path(args.run) / 'eval') / 'report.json'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jaxgan`` command line (the console script and ``python -m jaxgan``).

    Called without ``argv`` it is the process's entry point: library noise stays silent until
    the process exits, and after an error it exits at once (``os._exit``) once its line is out.

    Args:
        argv: arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 1 for a run-time error, 2 for a usage error, 128 + the
        signal for a run stopped by SIGTERM (143) or SIGINT (130).

    Example:
        >>> main(["train", "--steps", "200", "--out", "runs/quick"])  # doctest: +SKIP
        0

    """
    from jaxgan.experiment import quiet

    logging.getLogger("absl").setLevel(logging.ERROR)  # orbax / tfds chatter
    entry = argv is None
    args = build_parser().parse_args(argv)
    if compile_cache.enabled_by_env():  # compile once per machine (docs/speed.md)
        compile_cache.enable_compile_cache()
    debug = bool(args.debug or os.environ.get("JAXGAN_DEBUG"))
    silence = contextlib.nullcontext() if debug else quiet.quiet_libraries(forever=entry)
    with silence, quiet.one_line_warnings(f"{PROG} {args.command}"):
        code = _run(args, debug)
    if entry and code != 0:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(args: argparse.Namespace, debug: bool) -> int:
    """Run a command; turn the errors a user can act on into one line and an exit status."""
    from jaxgan.experiment.quiet import error_line, out_of_memory
    from jaxgan.experiment.signals import RunInterruptedError

    try:
        return args.handler(args)
    except RunInterruptedError as err:
        print(f"{PROG} {args.command}: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, FloatingPointError, MemoryError, RuntimeError) as err:
        if debug or (isinstance(err, RuntimeError) and not out_of_memory(err)):
            raise
        print(f"{PROG} {args.command}: error: {error_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, cfg.ConfigError) else 1


if __name__ == "__main__":
    sys.exit(main())
