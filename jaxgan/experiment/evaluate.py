"""Evaluate a trained run: the seed's quality, diversity and similarity, each beside its floor.

``evaluate_run`` is what ``jaxgan eval --run DIR`` calls. It picks the measurement that fits the
run's data and names it with every number:

- 2-D mixtures (ring8, grid25): PacGAN's mode count, % high quality and reverse KL on 2,500
  samples, beside the same numbers for 2,500 real points;
- Stacked MNIST: modes out of 1,000 and KL over 26,000 samples, read by jaxgan's MNIST classifier;
- 28×28×1 images: FD, KID, precision/recall, density/coverage and classifier statistics in the
  feature space of jaxgan's MNIST or Fashion-MNIST classifier, beside train-vs-test floors at the
  same N (``jaxgan.metrics.evaluate_images``).

A conditional run's generator is given balanced class labels (``generate_samples``), and its
report adds the intra-class FD: the FD of each class's samples to that class's training images
(per-class statistics from the named cache, ``jaxgan.metrics.reference``), and their mean, beside
the same for the test images. Samples come from the EMA weights when the run keeps them
(``ema_decay > 0``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan import data, metrics, viz
from jaxgan.experiment.board import log_eval_panel
from jaxgan.experiment.config import TrainConfig
from jaxgan.experiment.evaluators import classifier_for, generate_samples
from jaxgan.experiment.sample import load_run
from jaxgan.hooks import json_safe

REPORT_FILE, PANEL_FILE = "report.json", "report.png"


class _OnePass:
    """A classifier's features and class probabilities of each image set from one forward pass.

    ``evaluate_images`` asks for both of the same generated, real and floor images; the
    classifier's own ``features`` and ``probabilities`` would run the network over each set twice.
    The values are those methods' own (``Classifier.apply``, then ``Classifier.probabilities_of``).

    Example:
        >>> from jaxgan.metrics import load_classifier
        >>> both = _OnePass(load_classifier("mnist"))
        >>> images = np.zeros((3, 28, 28, 1), np.uint8)
        >>> both.features(images).shape, both.probabilities(images).shape  # doctest: +SKIP
        ((3, 128), (3, 10))

    """

    def __init__(self, classifier: metrics.Classifier):
        self.classifier = classifier
        self.outputs: dict[int, tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]] = {}

    def _apply(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # keyed by the array itself (kept alive here, so its id is not reused)
        held = self.outputs.get(id(images))
        if held is None or held[0] is not images:
            held = self.outputs[id(images)] = (images, self.classifier.apply(images))
        return held[1]

    def features(self, images: np.ndarray) -> np.ndarray:
        """``Classifier.features`` of ``images``."""
        return self._apply(images)[0]

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """``Classifier.probabilities`` of ``images``."""
        return self.classifier.probabilities_of(self._apply(images)[1])


def _mixture_report(config: TrainConfig, fake: np.ndarray, real: np.ndarray) -> dict[str, Any]:
    spec = data.mixture(config.data.name)
    modes, sigma = spec.modes, spec.sigma
    got = metrics.mixture_metrics(fake, spec)
    floor = metrics.mixture_metrics(real[: len(fake)], spec)
    space = f"PacGAN mixture metrics ({config.data.name}, 3σ = {3 * sigma:g})"

    def entry(key: str) -> dict[str, Any]:
        return {"value": got[key], "floor": floor[key], "space": space}

    return {
        "protocol": {
            "feature_space": space,
            "N_gen": len(fake),
            "N_ref": len(fake),
            "reference": f"{config.data.name} points",
        },
        "quality": {"high_quality": entry("high_quality")},
        "diversity": {"modes": entry("modes"), "of_modes": len(modes)},
        "similarity": {"reverse_kl": entry("reverse_kl")},
    }


def evaluate_run(
    run_dir: str | Path,
    *,
    num_samples: int | None = None,
    step: int | None = None,
    classifier: str | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    best: bool = False,
) -> dict[str, Any]:
    """Evaluate a run folder's checkpoint and write ``report.json`` and ``report.png``.

    Args:
        run_dir: a folder written by ``jaxgan train``.
        num_samples: generated samples (defaults: 2,500 points, 26,000 Stacked-MNIST images, or
            as many images as the test split holds, up to 10,000, so the floor has the same N).
        step: checkpoint step (None: the latest).
        classifier: feature-space classifier name or path (default from the run's data).
        out_dir: where to write the report (default ``<run_dir>/eval``).
        seed: seed of the generator noise.
        best: evaluate the best checkpoint by the run's tracked metric.

    Returns:
        The report dict (also saved as JSON).

    Example:
        >>> report = evaluate_run("runs/seed-mlp")  # doctest: +SKIP
        >>> report["similarity"]["frechet_distance"]["value"]  # doctest: +SKIP
    """
    config, state, meta = load_run(run_dir, step, best=best)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "eval"
    key = jax.random.key(seed)
    step = int(meta.get("step", state.step))
    if config.data.name in data.mixture_names():
        n = num_samples or 2500
        real = data.load(config.data.name, config.data.split, limit=max(n, 2500)).x
        fake = check_finite_samples(generate_samples(state, n, key), run_dir, step)
        out.mkdir(parents=True, exist_ok=True)
        report = _mixture_report(config, fake, real)
        modes = data.mixture(config.data.name).modes
        viz.save_scatter(fake, real[:n], out / PANEL_FILE, modes=modes)
    elif config.data.name.startswith("stacked_mnist"):
        n = num_samples or 26_000
        fake = check_finite_samples(generate_samples(state, n, key), run_dir, step)
        out.mkdir(parents=True, exist_ok=True)
        clf = classifier_for(config, classifier or "mnist")
        digits = metrics.stacked_mnist_digits(data.to_uint8_images(fake), clf.predict)
        real = data.load(config.data.name, config.data.split, limit=n).x
        floor = metrics.stacked_mnist_modes(metrics.stacked_mnist_digits(real, clf.predict))
        got = metrics.stacked_mnist_modes(digits)
        space = clf.feature_space
        report = {
            "protocol": {
                "feature_space": space,
                "N_gen": n,
                "N_ref": len(real),
                "reference": f"{config.data.name} {config.data.split}",
            },
            "diversity": {
                name: {"value": got[name], "floor": floor[name], "space": space}
                for name in ("modes", "kl", "channel_kl")
            },
        }
        viz.save_image_grid(fake[:64], out / PANEL_FILE)
    else:
        clf = classifier_for(config, classifier)
        test = data.load(config.data.name, "test")
        n = min(num_samples or 10_000, len(test))
        train = data.load(config.data.name, config.data.split, limit=max(n, 10_000))
        fake = check_finite_samples(generate_samples(state, n, key), run_dir, step)
        out.mkdir(parents=True, exist_ok=True)
        both = _OnePass(clf)
        report = metrics.evaluate_images(
            fake,
            train.x,
            feature_fn=both.features,
            feature_space=clf.feature_space,
            probabilities_fn=both.probabilities,
            name=config.name,
            reference_split=f"{config.data.name} {config.data.split}[:{len(train)}]",
            floor_real=test.x[:n],
            floor_split=f"{config.data.name} test[:{n}]",
        )
        metrics.save_report_panel(report, fake, train.x, out / PANEL_FILE)
        if state.config.num_classes is not None and train.y is not None:
            floor_y = None if test.y is None else test.y[:n]
            report["similarity"]["intra_class_fd"] = _intra_class_entry(
                config, clf, fake, state.config.num_classes, len(train), test.x[:n], floor_y
            )
    report = json_safe({"name": config.name, "run": str(run_dir), "step": step, **report})
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    log_eval_panel(run_dir, step, out / PANEL_FILE)
    return report


def _intra_class_entry(
    config: TrainConfig,
    clf: metrics.Classifier,
    fake: np.ndarray,
    num_classes: int,
    n_ref: int,
    floor_x: np.ndarray,
    floor_y: np.ndarray | None,
) -> dict[str, Any]:
    """Intra-class FD of a conditional run: per class and the mean, beside a test-split floor.

    The reference is per-class statistics of the training split (the first ``n_ref`` images)
    in the classifier's space, from the named cache (``jaxgan.metrics.reference``); the fakes
    were generated with labels ``arange(n) % num_classes`` (``generate_samples``).
    """
    space = metrics.classifier_space(clf)
    reference = metrics.reference_stats_for(
        config.data.name, config.data.split, limit=n_ref, space=space, per_class=True
    )
    labels = np.arange(len(fake)) % num_classes
    got = metrics.intra_class_fd(space.features(fake, (-1.0, 1.0)), labels, reference)
    floor = None
    if floor_y is not None:
        floor = metrics.intra_class_fd(space.features(floor_x), floor_y, reference)
    floors = {r["class"]: r["fd"] for r in floor["per_class"]} if floor else {}
    return {
        "value": got["mean"],
        "floor": floor["mean"] if floor else None,
        "space": clf.feature_space,
        "reference": f"{reference.source} per class (sha256 {reference.sha256[:12]})",
        "per_class": [{**row, "floor": floors.get(row["class"])} for row in got["per_class"]],
    }


def check_finite_samples(samples: np.ndarray, run_dir: str | Path, step: int) -> np.ndarray:
    """Refuse samples with NaN or infinite values: no metric or picture of them means anything.

    Args:
        samples: generated samples.
        run_dir: the run they come from (for the message).
        step: the checkpoint's step.

    Returns:
        ``samples``, unchanged.

    Raises:
        ValueError: some value is not finite (the message names the checkpoint).

    Example:
        >>> check_finite_samples(np.zeros((2, 2)), "runs/a", 10).shape
        (2, 2)

    """
    finite = np.isfinite(samples).reshape(len(samples), -1).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"the generator of {run_dir} at step {step} makes NaN or infinite values in "
            f"{int((~finite).sum())} of {len(samples)} samples: that checkpoint diverged; "
            "choose an earlier one with --step"
        )
    return samples


def report_lines(report: dict[str, Any]) -> list[str]:
    """Format a report as short terminal lines: the protocol, then ``section metric value (floor)``.

    Args:
        report: a dict from ``evaluate_run``.

    Returns:
        One line per metric, plus a protocol line.

    Example:
        >>> report_lines({"protocol": {"N_gen": 5}})
        ['protocol: N_gen=5']
    """
    lines = ["protocol: " + ", ".join(f"{k}={v}" for k, v in report.get("protocol", {}).items())]
    for section in ("quality", "diversity", "similarity"):
        for name, entry in report.get(section, {}).items():
            if not isinstance(entry, dict) or "value" not in entry:
                continue
            value = entry["value"]
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            floor = entry.get("floor")
            if isinstance(floor, dict):
                floor = floor.get("value")
            floor_text = (
                f" (real-vs-real floor {floor:.4g})" if isinstance(floor, float | int) else ""
            )
            lines.append(f"{section:<10} {name:<22} {text}{floor_text}")
            if entry.get("per_class"):
                fds = ", ".join(
                    f"{row['class']}: " + ("-" if row["fd"] is None else f"{row['fd']:.4g}")
                    for row in entry["per_class"]
                )
                lines.append(f"{section:<10} {name + ' per class':<22} {fds}")
    return lines
