"""Evaluate a trained run: the seed's quality, diversity and similarity, each beside its floor.

``evaluate_run`` is what ``jaxgan eval --run DIR`` calls. It picks the measurement that fits the
run's data and names it with every number:

- 2-D mixtures (ring8, grid25): PacGAN's mode count, % high quality and reverse KL on 2,500
  samples, beside the same numbers for 2,500 real points;
- Stacked MNIST: modes out of 1,000 and KL over 26,000 samples, read by jaxgan's MNIST classifier;
- 28×28×1 images: FD, KID, precision/recall, density/coverage and classifier statistics in the
  feature space of jaxgan's MNIST or Fashion-MNIST classifier, beside train-vs-test floors at the
  same N (``jaxgan.metrics.evaluate_images``).

A conditional run's generator is given balanced class labels (``generate_samples``). Samples
come from the EMA weights when the run keeps them (``ema_decay > 0``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import data, metrics, viz
from jaxgan.config import TrainConfig
from jaxgan.run import load_run
from jaxgan.state import GANState, generate, sample_latent

REPORT_FILE, PANEL_FILE = "report.json", "report.png"
_generate = jax.jit(generate)
MIXTURES = {
    "ring8": (data.ring8_modes, data.RING8_SIGMA),
    "grid25": (data.grid25_modes, data.GRID25_SIGMA),
}


def generate_samples(
    state: GANState, num: int, key: jax.Array, batch_size: int = 1000
) -> np.ndarray:
    """Draw ``num`` generator samples in evaluation mode (EMA weights when kept), in batches.

    A conditional generator gets balanced labels, ``arange(num) % num_classes`` (the uniform
    class distribution the training step draws fake labels from, without sampling noise).

    Args:
        state: a trained state.
        num: number of samples.
        key: PRNG key of the noise.
        batch_size: samples per compiled call.

    Returns:
        float32 numpy array (num, ...) (images in [-1, 1]).

    Example:
        >>> fake = generate_samples(state, 2500, jax.random.key(0))  # doctest: +SKIP
    """
    num_classes = state.config.num_classes
    parts = []
    for i, start in enumerate(range(0, num, batch_size)):
        size = min(batch_size, num - start)
        z = sample_latent(jax.random.fold_in(key, i), size, state.config.latent_dim)
        labels = None
        if num_classes is not None:
            labels = jnp.arange(start, start + size, dtype=jnp.int32) % num_classes
        parts.append(np.asarray(_generate(state, z, labels)))
    return np.concatenate(parts)


def _classifier_for(config: TrainConfig, classifier: str | None) -> metrics.Classifier:
    if classifier is not None:
        return metrics.load_classifier(classifier)
    name = config.data.lower()
    if "fashion" in name:
        return metrics.load_classifier("fashion_mnist")
    if "mnist" in name:
        return metrics.load_classifier("mnist")
    raise ValueError(
        f"no built-in feature space for data {config.data!r}: pass classifier= (a .json/.npz "
        "written by scripts/train_classifier.py)"
    )


def _mixture_report(config: TrainConfig, fake: np.ndarray, real: np.ndarray) -> dict[str, Any]:
    modes_fn, sigma = MIXTURES[config.data]
    modes = modes_fn()
    got = metrics.mixture_metrics(fake, modes, sigma)
    floor = metrics.mixture_metrics(real[: len(fake)], modes, sigma)
    space = f"PacGAN mixture metrics ({config.data}, 3σ = {3 * sigma:g})"

    def entry(key: str) -> dict[str, Any]:
        return {"value": got[key], "floor": floor[key], "space": space}

    return {
        "protocol": {
            "feature_space": space,
            "N_gen": len(fake),
            "N_ref": len(fake),
            "reference": f"{config.data} points",
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
    out.mkdir(parents=True, exist_ok=True)
    key = jax.random.key(seed)
    if config.data in MIXTURES:
        n = num_samples or 2500
        real = data.load(config.data, config.data_split, limit=max(n, 2500)).x
        fake = generate_samples(state, n, key)
        report = _mixture_report(config, fake, real)
        viz.save_scatter(fake, real[:n], out / PANEL_FILE, modes=MIXTURES[config.data][0]())
    elif config.data.startswith("stacked_mnist"):
        n = num_samples or 26_000
        fake = generate_samples(state, n, key)
        clf = _classifier_for(config, classifier or "mnist")
        digits = metrics.stacked_mnist_digits(metrics.to_uint8(fake), clf.predict)
        real = data.load(config.data, config.data_split, limit=n).x
        floor = metrics.stacked_mnist_modes(metrics.stacked_mnist_digits(real, clf.predict))
        got = metrics.stacked_mnist_modes(digits)
        space = clf.feature_space
        report = {
            "protocol": {
                "feature_space": space,
                "N_gen": n,
                "N_ref": len(real),
                "reference": f"{config.data} {config.data_split}",
            },
            "diversity": {
                name: {"value": got[name], "floor": floor[name], "space": space}
                for name in ("modes", "kl", "channel_kl")
            },
        }
        viz.save_image_grid(fake[:64], out / PANEL_FILE)
    else:
        clf = _classifier_for(config, classifier)
        test = data.load(config.data, "test")
        n = min(num_samples or 10_000, len(test))
        train = data.load(config.data, config.data_split, limit=max(n, 10_000))
        fake = generate_samples(state, n, key)
        report = metrics.evaluate_images(
            fake,
            train.x,
            feature_fn=clf.features,
            feature_space=clf.feature_space,
            probabilities_fn=clf.probabilities,
            name=config.name,
            reference_split=f"{config.data} {config.data_split}[:{len(train)}]",
            floor_real=test.x[:n],
            floor_split=f"{config.data} test[:{n}]",
        )
        metrics.save_report_panel(report, fake, train.x, out / PANEL_FILE)
    report = {
        "name": config.name,
        "run": str(run_dir),
        "step": int(meta.get("step", state.step)),
        **report,
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, default=_json_number) + "\n")
    return report


def _json_number(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


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
    return lines


TRACKED = {"fd": "min", "kid": "min", "modes": "max", "high_quality": "max"}
"""Metrics training can track (``TrainConfig.track_metric``): is lower or higher better."""


class MetricTracker:
    """Compute one metric of the generator during training, cheaply and always the same way.

    Images: FD or KID in the dataset classifier's feature space between ``num_samples`` generated
    images and the first ``num_samples`` training images (whose features are computed once).
    2-D mixtures: PacGAN's mode count or high-quality fraction on ``num_samples`` points. The
    generator noise is fixed, so successive values differ only by training.

    Args:
        config: the run's config (its data picks the feature space).
        dataset: the training data.
        metric: a name from ``TRACKED``.
        num_samples: generated (and real) samples per measurement.
        seed: seed of the fixed noise.

    Example:
        >>> tracker = MetricTracker(config, dataset, "fd", 1000)  # doctest: +SKIP
        >>> tracker(state)  # doctest: +SKIP
        42.1
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: data.Dataset,
        metric: str,
        num_samples: int = 1000,
        seed: int = 0,
    ):
        if metric not in TRACKED:
            raise ValueError(f"unknown tracked metric {metric!r}: use one of {', '.join(TRACKED)}")
        points = config.data in MIXTURES
        if points != (metric in ("modes", "high_quality")):
            kind = "2-D mixtures" if points else "images"
            fits = "modes, high_quality" if points else "fd, kid"
            raise ValueError(f"track_metric {metric!r} does not fit {kind}: use one of {fits}")
        self.metric, self.num_samples = metric, num_samples
        self.key = jax.random.key(seed)
        self.better = TRACKED[metric]
        if points:
            self.modes, self.sigma = MIXTURES[config.data][0](), MIXTURES[config.data][1]
        else:
            self.classifier = _classifier_for(config, None)
            self.real = self.classifier.features(dataset.x[:num_samples])

    def __call__(self, state: GANState) -> float:
        """Return the metric of ``state``'s generator."""
        fake = generate_samples(state, self.num_samples, self.key)
        if self.metric in ("modes", "high_quality"):
            return float(metrics.mixture_metrics(fake, self.modes, self.sigma)[self.metric])
        features = self.classifier.features(metrics.to_uint8(fake))
        if self.metric == "fd":
            return float(metrics.frechet_distance_from_features(features, self.real))
        size = min(1000, len(features), len(self.real))
        return float(
            metrics.kernel_inception_distance(features, self.real, subset_size=size)["kid_mean"]
        )

    def improves(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` (always true when there is no best yet).

        Args:
            value: the new measurement.
            best: the best so far, or None.

        Returns:
            True when the new value is better.

        Example:
            >>> MetricTracker.improves(type("T", (), {"better": "min"})(), 1.0, 2.0)
            True
        """
        if best is None or not math.isfinite(best):
            return math.isfinite(value) or best is None
        return value < best if self.better == "min" else value > best
