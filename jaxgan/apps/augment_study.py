"""The augmentation study: does a conditional GAN help a classifier with k images per class.

``run_study(StudyConfig(...), out_dir)`` (``jaxgan augment-study``) trains, for every k and
seed, the small CNN of ``jaxgan.apps.classifier`` (the same ``train_classifier`` code path) on:

- ``real``: the k-per-class subset only (``jaxgan.data.per_class_subset``, fixed seed: the same
  images for every arm and seed);
- ``classic``: the same images with classic augmentation (random shifts of ±2 px, rotation ±10°,
  zoom ±10 %; horizontal flips only for Fashion-MNIST, never for digits);
- ``gan_<r>``: the same images plus ``r`` times as many samples of a conditional DCGAN trained on
  those images only (class-balanced labels; r = 1, 4, 10 by default);
- ``gan_only``: the largest synthetic set alone (classification accuracy score, CAS);
- ``all_real``: the whole real training split (the ceiling; the same for every k).

Every arm trains for about the same number of steps: ``classifier_steps`` batches, rounded up
to whole epochs (``train_classifier`` counts epochs), so arms differ in their data, not their
compute; an arm whose one epoch is longer (``all_real``: 60,000 images) trains that one epoch.
Each run records its steps. Accuracy is measured on the
whole real test split; the table gives the mean ± standard error over seeds. One GAN is trained
per k (``gan_seed``) and reused for every seed; each classifier seed draws its own synthetic
samples. The GAN's per-class quality (CAS-on-self and intra-class FD in jaxgan's pretrained
classifier space, ``jaxgan.apps.class_quality``) is reported beside it, with the same numbers for
``quality_per_class`` real training images per class as the floor (``quality_floor``).

Seeds run one after another, not under ``vmap``: the study's networks are convolutional, and on
this CPU a vmapped convolution (per-run weights make it a grouped one) is several times slower
than the same runs in turn (docs/ensembles.md, "When not to vmap": 3.3× for a width-16 DCGAN);
``train_classifier`` also stays the one code path. On a GPU, stacking seeds would pay.

``gans_only`` (``--gans-only``) trains the GANs and measures their per-class quality without any
classifier: per-class quality at more k for the price of the GANs alone.

Writes ``results.json`` (every run, its data counts, timings, the load average), ``results.md``
(the table, then the GANs' quality) and ``accuracy.png`` (test accuracy against k per arm) into
``out_dir``; trained GANs go to ``out_dir/gans/k<k>`` and are reused when the study is run again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan import data
from jaxgan.apps.class_quality import class_quality
from jaxgan.apps.classifier import AugmentConfig, ClassifierConfig, train_classifier
from jaxgan.apps.export import export_samples
from jaxgan.experiment.config import TrainConfig, load_preset
from jaxgan.experiment.evaluators import mean_and_se
from jaxgan.experiment.rundir import (
    SUMMARY_FILE,
    PathLike,
    read_run_config,
    write_text_atomically,
)
from jaxgan.experiment.sample import load_run
from jaxgan.experiment.train import train
from jaxgan.metrics.classifier import Classifier, ClassifierArchitecture, load_classifier

__all__ = [
    "ARMS",
    "StudyConfig",
    "arm_data",
    "arm_names",
    "quality_markdown",
    "run_study",
    "study_table",
]

ARMS = ("real", "classic", "gan", "gan_only", "all_real")
"""The kinds of arm; ``gan`` stands for one arm per ratio (``gan_1``, ``gan_4``, ...)."""


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """What ``run_study`` trains and measures.

    Attributes:
        data: a labelled dataset name for ``jaxgan.data.load`` (train and test splits).
        ks: labelled images per class.
        seeds: classifier seeds 0..seeds-1 per k and arm.
        ratios: synthetic : real ratios of the ``gan_<r>`` arms.
        arms: the kinds of arm to run (from ``ARMS``).
        classifier_steps: training batches of every classifier (rounded up to whole epochs).
        batch_size: classifier batch size.
        learning_rate: peak AdamW learning rate of the classifier.
        widths: the classifier's convolution widths (``ClassifierArchitecture.widths``).
        gan_preset: the GAN preset (None: ``cdcgan-fashion-mnist`` or ``cdcgan-mnist`` by data).
        gan_steps: GAN training iterations.
        gan_seed: the GAN's seed.
        gan_overrides: further GAN config fields (flat names), e.g. ``{"width": 16}`` or
            ``{"conditioning": "auxiliary"}`` (AC-GAN instead of the projection D).
        gan_runs: already trained conditional GANs to use instead of training, ``{k: run}``
            (each must have been trained on the same k-per-class subset of the same data).
        truncation: ψ of the synthetic samples.
        flips: horizontal flips in ``classic`` (None: only when the data is Fashion-MNIST).
        test_limit: score on the first N test images only (None: the whole split).
        quality_per_class: generated samples per class for the GAN's per-class quality.
        gans_only: train the GANs and measure their per-class quality only (no classifiers).

    Example:
        >>> StudyConfig(ks=(10,)).ratios
        (1, 4, 10)

    """

    data: str = "fashion_mnist"
    ks: tuple[int, ...] = (10, 100)
    seeds: int = 3
    ratios: tuple[int, ...] = (1, 4, 10)
    arms: tuple[str, ...] = ARMS
    classifier_steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 2e-3
    widths: tuple[int, ...] = (32, 64)
    gan_preset: str | None = None
    gan_steps: int = 3000
    gan_seed: int = 0
    gan_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    gan_runs: dict[int, str] = dataclasses.field(default_factory=dict)
    truncation: float = 1.0
    flips: bool | None = None
    test_limit: int | None = None
    quality_per_class: int = 500
    gans_only: bool = False

    def __post_init__(self) -> None:
        checks = [
            (len(self.ks) > 0 and all(k >= 1 for k in self.ks), f"k must be ≥ 1, got {self.ks}"),
            (self.seeds >= 1, f"seeds must be ≥ 1, got {self.seeds}"),
            (all(r >= 1 for r in self.ratios), f"ratios must be ≥ 1, got {self.ratios}"),
            (set(self.arms) <= set(ARMS), f"arms must be among {', '.join(ARMS)}: {self.arms}"),
            (self.classifier_steps >= 1, "classifier_steps must be ≥ 1"),
            (self.batch_size >= 1, "batch_size must be ≥ 1"),
            (self.gan_steps >= 1, "gan_steps must be ≥ 1"),
            (0 < self.truncation <= 1, f"truncation must be in (0, 1], got {self.truncation}"),
            ("seed" not in self.gan_overrides, "set the GAN's seed with gan_seed (--gan-seed)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def preset(self) -> str:
        """The GAN preset's name (given, or chosen by the data: Fashion-MNIST or MNIST)."""
        if self.gan_preset is not None:
            return self.gan_preset
        return "cdcgan-fashion-mnist" if "fashion" in self.data.lower() else "cdcgan-mnist"

    @property
    def use_flips(self) -> bool:
        """Whether ``classic`` flips images (clothes yes, digits never)."""
        return "fashion" in self.data.lower() if self.flips is None else self.flips


def arm_names(config: StudyConfig) -> list[str]:
    """Return the study's arms in table order, one ``gan_<r>`` per ratio.

    Args:
        config: the study.

    Returns:
        e.g. ``["real", "classic", "gan_1", "gan_4", "gan_10", "gan_only", "all_real"]``;
        empty with ``gans_only`` (no classifier is trained).

    Example:
        >>> arm_names(StudyConfig(ratios=(1,), arms=("real", "gan")))
        ['real', 'gan_1']
        >>> arm_names(StudyConfig(gans_only=True))
        []

    """
    if config.gans_only:
        return []
    names = []
    for arm in ARMS:
        if arm in config.arms:
            names += [f"gan_{r}" for r in config.ratios] if arm == "gan" else [arm]
    return names


def arm_data(
    arm: str,
    real: data.Dataset,
    synthetic: tuple[np.ndarray, np.ndarray] | None,
    full: data.Dataset,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Return the training images, labels and counts of one arm.

    Args:
        arm: an arm name from ``arm_names``.
        real: the k-per-class subset.
        synthetic: ``(images, labels)`` of at least ``max(ratio) · len(real)`` GAN samples
            (the ``gan_*`` arms use the first ``r · len(real)``), or None when no arm needs them.
        full: the whole real training split (``all_real``).

    Returns:
        ``(uint8 images, int labels, {"real": n, "synthetic": n})``.

    Example:
        >>> ds = data.load("fashion_mnist_sample", limit=20)
        >>> fake = (np.zeros((40, 28, 28, 1), np.uint8), np.arange(40) % 10)
        >>> arm_data("gan_2", ds, fake, ds)[2]
        {'real': 20, 'synthetic': 40}

    """
    if arm in ("real", "classic"):
        return np.asarray(real.x), np.asarray(real.y), {"real": len(real), "synthetic": 0}
    if arm == "all_real":
        return np.asarray(full.x), np.asarray(full.y), {"real": len(full), "synthetic": 0}
    if synthetic is None:
        raise ValueError(f"arm {arm!r} needs synthetic samples")
    sx, sy = synthetic
    if arm == "gan_only":
        return sx, sy, {"real": 0, "synthetic": len(sx)}
    ratio = int(arm.removeprefix("gan_"))
    n = ratio * len(real)
    if n > len(sx):
        raise ValueError(f"arm {arm} needs {n} synthetic samples, got {len(sx)}")
    x = np.concatenate([real.x, sx[:n]])
    y = np.concatenate([real.y, sy[:n]]).astype(np.int32)
    return x, y, {"real": len(real), "synthetic": n}


def _classifier_config(config: StudyConfig, arm: str, n: int, seed: int) -> ClassifierConfig:
    """Return the classifier's setup: ``classifier_steps`` batches, rounded up to whole epochs."""
    batch = min(config.batch_size, n)
    epochs = max(1, math.ceil(config.classifier_steps / (n // batch)))
    augment = AugmentConfig(hflip=config.use_flips) if arm == "classic" else None
    return ClassifierConfig(
        epochs=epochs,
        batch_size=batch,
        learning_rate=config.learning_rate,
        augment=augment,
        seed=seed,
    )


def _train_gan(config: StudyConfig, k: int, folder: Path) -> Path:
    """Train (or reuse) the conditional GAN of the k-per-class subset; return its run folder."""
    gan = load_preset(config.preset).replace(
        data=config.data,
        per_class=k,
        steps=config.gan_steps,
        seed=config.gan_seed,
        **config.gan_overrides,
    )
    if _finished_with(folder, gan):
        return folder
    train(gan, folder, overwrite=folder.exists(), progress=False)
    return folder


def _finished_with(folder: Path, gan: TrainConfig) -> bool:
    """Whether ``folder`` holds a run of exactly ``gan``'s config that reached its last step."""
    summary = folder / SUMMARY_FILE
    if not summary.is_file():
        return False
    try:
        done = json.loads(summary.read_text()).get("step") == gan.schedule.steps
        return done and read_run_config(folder) == gan
    except (OSError, ValueError):  # a damaged summary or config: train again
        return False


def run_study(
    config: StudyConfig,
    out_dir: PathLike,
    *,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run the augmentation study and write its results (see the module docstring).

    Args:
        config: the study.
        out_dir: the results folder (created; trained GANs in ``gans/``).
        log: called with one line per trained classifier; None for silence.

    Returns:
        The results: ``{"config", "runs": [...], "table": [...], "gans": {...}, "seconds",
        "load_average"}``, as written to ``results.json``.

    Example:
        >>> results = run_study(StudyConfig(ks=(10,), seeds=1), "runs/aug")  # doctest: +SKIP

    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, load_start = time.perf_counter(), os.getloadavg()
    say = log or (lambda _: None)
    full = data.load(config.data, "train")
    test = data.load(config.data, "test", limit=config.test_limit)
    if full.y is None or test.y is None or full.num_classes is None:
        raise ValueError(
            f"the study needs labelled train and test splits; {config.data!r} has none"
        )
    architecture = ClassifierArchitecture(
        image_size=full.image_shape[0],
        channels=full.image_shape[2],
        num_classes=full.num_classes,
        widths=tuple(config.widths),
    )
    names = arm_names(config)
    needs_gan = config.gans_only or any(n.startswith("gan") for n in names)
    results: dict[str, Any] = {"config": _jsonable(config), "runs": [], "gans": {}}
    quality_classifier = _quality_classifier(config.data) if needs_gan else None
    if quality_classifier is not None:  # the floor: real training images of the same count
        fewest = int(np.bincount(full.y).min())
        floor = data.per_class_subset(full, min(config.quality_per_class, fewest))
        results["quality_floor"] = class_quality(
            floor.x, floor.y, test.x, test.y, quality_classifier
        )
    for k in config.ks:
        real = data.per_class_subset(full, k)
        pool = max(config.ratios) * len(real)
        state = None
        if needs_gan:
            gan_start = time.perf_counter()
            if k in config.gan_runs:
                folder = Path(config.gan_runs[k])
                if not folder.is_dir():
                    raise FileNotFoundError(f"GAN run for k={k} not found: {folder}")
            else:
                folder = _train_gan(config, k, out / "gans" / f"k{k}")
            _, state, _ = load_run(folder)
            gan_seconds = time.perf_counter() - gan_start
            results["gans"][str(k)] = {
                "run": str(folder),
                "seconds": gan_seconds,
                "step": int(state.step),
            }
            if quality_classifier is not None:
                qx, qy = export_samples(
                    state,
                    config.quality_per_class * full.num_classes,
                    seed=10_000,
                    per_class=True,
                    truncation=config.truncation,
                )
                results["gans"][str(k)]["quality"] = class_quality(
                    qx, qy, test.x, test.y, quality_classifier
                )
            say(f"k={k}: GAN {folder} ready ({gan_seconds:.0f} s)")
        for seed in range(0 if config.gans_only else config.seeds):
            synthetic = None
            if state is not None:
                synthetic = export_samples(
                    state, pool, seed=seed, per_class=True, truncation=config.truncation
                )
            for arm in names:
                if arm == "all_real" and k != config.ks[0]:
                    continue  # the ceiling does not depend on k: trained once per seed
                row = _train_arm(config, arm, k, seed, real, synthetic, full, test, architecture)
                results["runs"].append(row)
                say(
                    f"k={k} seed={seed} {arm}: test accuracy {row['accuracy']:.4f} "
                    f"({row['counts']['real']} real + {row['counts']['synthetic']} synthetic, "
                    f"{row['seconds']:.0f} s)"
                )
                _write_results(out, results, config, start, load_start)
    return _write_results(out, results, config, start, load_start)


def _train_arm(config, arm, k, seed, real, synthetic, full, test, architecture) -> dict[str, Any]:
    t = time.perf_counter()
    x, y, counts = arm_data(arm, real, synthetic, full)
    setup = _classifier_config(config, arm, len(x), seed)
    graphdef, params = train_classifier(x, y, architecture, setup, log=None)
    accuracy = Classifier(architecture, graphdef, params).accuracy(test.x, test.y)
    return {
        "k": None if arm == "all_real" else k,
        "arm": arm,
        "seed": seed,
        "accuracy": accuracy,
        "counts": counts,
        "class_counts": np.bincount(y, minlength=architecture.num_classes).tolist(),
        "steps": setup.epochs * (len(x) // setup.batch_size),
        "seconds": time.perf_counter() - t,
    }


def _quality_classifier(name: str) -> Classifier | None:
    lowered = name.lower()
    if "fashion" in lowered:
        return load_classifier("fashion_mnist")
    if "mnist" in lowered:
        return load_classifier("mnist")
    return None


def study_table(runs: Sequence[dict[str, Any]], ks: Sequence[int], names: Sequence[str]):
    """Return the table rows: mean ± s.e. of test accuracy per arm and k.

    Args:
        runs: the per-run rows of ``results["runs"]``.
        ks: the study's k values.
        names: the arms, in order.

    Returns:
        ``[{"arm", "k", "mean", "se", "n"}, ...]`` (``all_real`` once, with ``k`` None).

    Example:
        >>> runs = [{"arm": "real", "k": 10, "accuracy": a} for a in (0.5, 0.7)]
        >>> study_table(runs, [10], ["real"])[0]["mean"]
        0.6

    """
    rows = []
    for arm in names:
        for k in [None] if arm == "all_real" else ks:
            values = [r["accuracy"] for r in runs if r["arm"] == arm and r["k"] == k]
            if values:
                mean, se = mean_and_se(values)
                se = None if math.isnan(se) else se  # one seed: no standard error
                rows.append({"arm": arm, "k": k, "mean": mean, "se": se, "n": len(values)})
    return rows


def _markdown(table: list[dict[str, Any]], ks: Sequence[int], names: Sequence[str]) -> str:
    cells = {(r["arm"], r["k"]): r for r in table}
    lines = [
        "| arm | " + " | ".join(f"k = {k}" for k in ks) + " |",
        "|---|" + "---|" * len(ks),
    ]
    for arm in names:
        row = []
        for k in ks:
            cell = cells.get((arm, None if arm == "all_real" else k))
            row.append("–" if cell is None else _percent(cell))
        lines.append(f"| {arm} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _percent(cell: dict[str, Any]) -> str:
    if cell["se"] is None:
        return f"{100 * cell['mean']:.2f}"
    return f"{100 * cell['mean']:.2f} ± {100 * cell['se']:.2f}"


def _plot(path: Path, table: list[dict[str, Any]], ks: Sequence[int], names: Sequence[str]):
    # Figure + the Agg canvas, not pyplot: the caller's backend (a notebook's inline) stays
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for arm in names:
        rows = [r for r in table if r["arm"] == arm]
        if not rows:
            continue
        if arm == "all_real":
            ax.axhline(100 * rows[0]["mean"], color="k", linestyle="--", label=arm)
            continue
        xs = [r["k"] for r in rows]
        ax.errorbar(xs, [100 * r["mean"] for r in rows], [100 * (r["se"] or 0) for r in rows],
                    marker="o", capsize=3, label=arm)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(list(ks), [str(k) for k in ks])
    ax.set_xlabel("labelled real images per class (k)")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def quality_markdown(results: dict[str, Any]) -> str:
    """Return the GANs' per-class quality (and the real-image floor) as a markdown table.

    Args:
        results: the study's results (``results["gans"]`` and ``results["quality_floor"]``).

    Returns:
        One row per GAN with a measured quality, then the floor; ``""`` when there is none.

    Example:
        >>> q = {"accuracy": 0.5, "mean_intra_fd": 40.0}
        >>> print(quality_markdown({"gans": {"10": {"step": 300, "quality": q}}}), end="")
        | | CAS-on-self (%) | mean intra-class FD |
        |---|---|---|
        | GAN, k = 10 (300 iterations) | 50.0 | 40.00 |

    """
    rows = [
        (f"GAN, k = {k} ({gan['step']} iterations)", gan["quality"])
        for k, gan in results.get("gans", {}).items()
        if "quality" in gan
    ]
    if not rows:
        return ""
    if "quality_floor" in results:
        rows.append(("real training images (floor)", results["quality_floor"]))
    lines = ["| | CAS-on-self (%) | mean intra-class FD |", "|---|---|---|"]
    for name, q in rows:
        lines.append(f"| {name} | {100 * q['accuracy']:.1f} | {q['mean_intra_fd']:.2f} |")
    return "\n".join(lines) + "\n"


def _write_results(out: Path, results, config: StudyConfig, start: float, load_start) -> dict:
    names = arm_names(config)
    results["table"] = study_table(results["runs"], config.ks, names)
    results["seconds"] = time.perf_counter() - start
    results["load_average"] = {"start": list(load_start), "end": list(os.getloadavg())}
    write_text_atomically(out / "results.json", json.dumps(results, indent=2) + "\n")
    quality = quality_markdown(results)
    tables = [_markdown(results["table"], config.ks, names)] if names else []
    tables += [quality] if quality else []
    write_text_atomically(out / "results.md", "\n".join(tables))
    if names:
        _plot(out / "accuracy.png", results["table"], config.ks, names)
    return results


def _jsonable(config: StudyConfig) -> dict[str, Any]:
    values = dataclasses.asdict(config)
    values["gan_preset"] = config.preset
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
