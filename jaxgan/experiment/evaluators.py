"""Evaluators: functions ``samples -> {metric: value}`` for one run, and their bookkeeping.

One protocol serves ``jaxgan eval``, the metric tracked during training (``MetricTracker``) and
the per-run rows of ensembles: an evaluator takes generated samples (numpy, images in [-1, 1] or
2-D points) and returns named numbers. ``auto_evaluator`` picks PacGAN's mixture metrics for
ring8/grid25 and the mode count for Stacked MNIST; ``generate_samples`` draws the samples a run
is judged on; ``mean_and_se`` / ``aggregate_runs`` summarise seeds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import data, metrics
from jaxgan.experiment.config import TrainConfig
from jaxgan.metrics.reference import reference_stats_of_images
from jaxgan.sampling import generate_batches
from jaxgan.state import GANState, sample_latent

Evaluator = Callable[[np.ndarray], Mapping[str, float]]
#: Images per InceptionV3 call when tracking FID (memory: 299×299 activations per image).
FID_TRACK_BATCH = 50


def generate_samples(
    state: GANState, num: int, key: jax.Array, batch_size: int = 1000
) -> np.ndarray:
    """Draw ``num`` generator samples in evaluation mode (EMA weights when kept), in batches.

    Batch ``i`` of noise comes from ``fold_in(key, i)``. A conditional generator gets balanced
    labels, ``arange(num) % num_classes`` (the uniform class distribution the training step
    draws fake labels from, without sampling noise).

    Args:
        state: a trained state (or a stack of runs: then (runs, num, ...)).
        num: number of samples.
        key: PRNG key of the noise.
        batch_size: samples per compiled call.

    Returns:
        float32 numpy array (num, ...) (images in [-1, 1]).

    Example:
        >>> import jaxgan
        >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
        ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
        >>> generate_samples(state, 3, jax.random.key(0)).shape
        (3, 28, 28, 1)

    """
    latent_dim = state.config.latent_dim
    z = jnp.concatenate(
        [
            sample_latent(jax.random.fold_in(key, i), min(batch_size, num - start), latent_dim)
            for i, start in enumerate(range(0, num, batch_size))
        ]
    )
    labels = None
    if state.config.num_classes is not None:
        labels = jnp.arange(num, dtype=jnp.int32) % state.config.num_classes
    return generate_batches(state, z, labels, batch_size=batch_size)


def classifier_for(config: TrainConfig, classifier: str | None = None) -> metrics.Classifier:
    """Return the classifier whose feature space measures a run's images.

    Args:
        config: the run's config (its data picks MNIST or Fashion-MNIST).
        classifier: a ``jaxgan.metrics.load_classifier`` name or path that overrides the choice.

    Returns:
        The loaded (checksum-verified) classifier.

    Raises:
        ValueError: no built-in feature space fits the data and none was given.

    Example:
        >>> classifier_for(TrainConfig()).feature_space  # doctest: +SKIP

    """
    if classifier is not None:
        return metrics.load_classifier(classifier)
    name = config.data.name.lower()
    if "fashion" in name:
        return metrics.load_classifier("fashion_mnist")
    if "mnist" in name:
        return metrics.load_classifier("mnist")
    raise ValueError(
        f"no built-in feature space for data {config.data.name!r}: pass classifier= (a .json/.npz "
        "written by scripts/train_classifier.py)"
    )


def mixture_evaluator(name: str) -> Evaluator:
    """Return PacGAN's mode-collapse metrics of ``ring8``/``grid25`` as a per-run evaluator.

    Args:
        name: ``"ring8"`` or ``"grid25"``.

    Returns:
        ``samples (num, 2) -> {"modes", "high_quality", "reverse_kl"}`` (definitions in
        ``jaxgan.metrics.mixture_metrics``; PacGAN evaluates 2,500 samples).

    Example:
        >>> mixture_evaluator("ring8")(np.zeros((10, 2)))["modes"]
        0

    """
    spec = data.mixture(name)

    def evaluate(samples: np.ndarray) -> dict[str, float]:
        found = metrics.mixture_metrics(samples, spec)
        return {k: found[k] for k in ("modes", "high_quality", "reverse_kl")}

    evaluate.modes = spec.modes  # type: ignore[attr-defined]  # marked in the scatter plots
    return evaluate


def stacked_mnist_evaluator(classifier: str = "mnist") -> Evaluator:
    """Return Stacked MNIST's mode count and KL (VEEGAN/PacGAN protocol) as a per-run evaluator.

    Each channel of a generated image is classified by a digit classifier; a mode is a digit
    triple, and the published protocol counts distinct triples in 26,000 samples and reports
    KL(p_gen ‖ uniform over 1,000) in nats (``jaxgan.metrics.stacked_mnist_modes``).

    Args:
        classifier: a ``jaxgan.metrics.load_classifier`` name or path (default: jaxgan's MNIST
            classifier, 99.35% on held-out MNIST test digits).

    Returns:
        ``images (num, 28, 28, 3) in [-1, 1] -> {"modes", "kl", "channel_kl"}``
        (``channel_kl``: the part of ``kl`` due to unbalanced digits within each channel).

    Example:
        >>> evaluate = stacked_mnist_evaluator()
        >>> sorted(evaluate(np.zeros((4, 28, 28, 3), np.float32)))
        ['channel_kl', 'kl', 'modes']

    """
    from jaxgan.metrics.modes import STACKED_MNIST_NUM_SAMPLES

    model = metrics.load_classifier(classifier)

    def evaluate(samples: np.ndarray) -> dict[str, float]:
        digits = metrics.stacked_mnist_digits(data.to_uint8_images(samples), model.predict)
        found = metrics.stacked_mnist_modes(digits)
        return {key: found[key] for key in ("modes", "kl", "channel_kl")}

    evaluate.num_samples = STACKED_MNIST_NUM_SAMPLES  # type: ignore[attr-defined]
    return evaluate


def auto_evaluator(name: str | None) -> Evaluator | None:
    """Return the evaluator that fits a dataset, or None.

    PacGAN's metrics for ``ring8``/``grid25``, the mode count and KL for Stacked MNIST.

    Args:
        name: the dataset name.

    Returns:
        An evaluator, or None for other data.

    Example:
        >>> auto_evaluator("fashion_mnist_sample") is None
        True

    """
    if name in ("ring8", "grid25"):
        return mixture_evaluator(name)
    if name is not None and name.startswith("stacked_mnist"):
        return stacked_mnist_evaluator()
    return None


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """Return the mean and its standard error (sample std with N−1, over √N); NaN propagates.

    Args:
        values: per-run numbers.

    Returns:
        ``(mean, se)``; se is NaN for a single value.

    Example:
        >>> mean_and_se([1.0, 2.0, 3.0])
        (2.0, 0.5773502691896258)

    """
    x = np.asarray(values, np.float64)
    if x.size == 0:
        raise ValueError("mean_and_se needs at least one value")
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
    return float(x.mean()), se


def evaluate_ensemble(
    stacked: GANState, evaluate: Evaluator, *, num_samples: int, key: jax.Array | int = 0
) -> dict[str, Any]:
    """Evaluate every run with one metric function: per-run numbers and mean ± s.e.

    Args:
        stacked: an ensemble state.
        evaluate: ``samples (num_samples, ...) -> {metric: number}`` for one run, e.g.
            ``mixture_evaluator("ring8")``.
        num_samples: samples generated per run (PacGAN evaluates 2,500).
        key: key (or int seed) of the evaluation noise, shared by the runs.

    Returns:
        ``{"runs": [{metric: value} per run], "mean": {metric: float}, "se": {metric: float}}``.

    Example:
        >>> result = evaluate_ensemble(stacked, mixture_evaluator("ring8"), num_samples=2500)
        ...                            # doctest: +SKIP

    """
    key = jax.random.key(key) if isinstance(key, int) else key
    z = sample_latent(key, num_samples, stacked.config.latent_dim)
    labels = None
    if stacked.config.num_classes is not None:
        labels = jnp.arange(num_samples, dtype=jnp.int32) % stacked.config.num_classes
    runs = [dict(evaluate(s)) for s in generate_batches(stacked, z, labels, batch_size=2500)]
    stats = {name: mean_and_se([r[name] for r in runs]) for name in runs[0]}
    return {
        "runs": runs,
        "mean": {k: v[0] for k, v in stats.items()},
        "se": {k: v[1] for k, v in stats.items()},
    }


def aggregate_runs(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[dict]:
    """Return mean ± s.e. of ``metrics`` over the seeds of each sweep setting.

    Args:
        rows: per-run rows with a ``"setting"`` label and the metric values.
        metrics: names of the numeric columns to aggregate.

    Returns:
        One row per setting: ``setting``, ``runs``, ``<metric>_mean``, ``<metric>_se``.

    Example:
        >>> aggregate_runs([{"setting": "a", "m": 1.0}, {"setting": "a", "m": 3.0}], ["m"])
        [{'setting': 'a', 'runs': 2, 'm_mean': 2.0, 'm_se': 1.0}]

    """
    settings: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        settings.setdefault(row["setting"], []).append(row)
    out = []
    for setting, members in settings.items():
        row: dict[str, Any] = {"setting": setting, "runs": len(members)}
        for name in metrics:
            row[f"{name}_mean"], row[f"{name}_se"] = mean_and_se([m[name] for m in members])
        out.append(row)
    return out


TRACKED = {"fd": "min", "kid": "min", "fid": "min", "modes": "max", "high_quality": "max"}
"""Metrics training can track (``TrainConfig.track_metric``): is lower or higher better."""


class MetricTracker:
    """Compute one metric of the generator during training, cheaply and always the same way.

    Images: FD or KID in the dataset classifier's feature space, or FID in the TF-Inception
    space, between ``num_samples`` generated images and the first ``num_samples`` training
    images. FD and FID use reference statistics (μ, Σ) from the named cache
    (``jaxgan.metrics.reference``, keyed by a hash of those images, the space and the protocol),
    so a run, a resumed run or a second run on the same data computes no real features; KID
    needs the real features themselves and computes them once per run. Each measurement is one
    batched forward of the generated images through the classifier (FID: batches of 50 through
    InceptionV3, which takes minutes per 1,000 images on a CPU; see benchmarks/RESULTS.md).
    2-D mixtures: PacGAN's mode count or high-quality fraction on ``num_samples`` points. The
    generator noise is fixed, so successive values differ only by training. :attr:`seconds`
    is the wall time of the last measurement (generation included).

    Args:
        config: the run's config (its data picks the feature space).
        dataset: the training data.
        metric: a name from ``TRACKED``.
        num_samples: generated (and real) samples per measurement.
        seed: seed of the fixed noise.

    Example:
        >>> tracker = MetricTracker(config, dataset, "fd", 1000)  # doctest: +SKIP
        >>> tracker(state), tracker.seconds  # doctest: +SKIP
        (42.1, 0.8)
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
        points = config.data.name in data.mixture_names()
        if points != (metric in ("modes", "high_quality")):
            kind = "2-D mixtures" if points else "images"
            fits = "modes, high_quality" if points else "fd, kid, fid"
            raise ValueError(f"track_metric {metric!r} does not fit {kind}: use one of {fits}")
        self.metric, self.num_samples = metric, num_samples
        self.key = jax.random.key(seed)
        self.better = TRACKED[metric]
        self.seconds = float("nan")
        if points:
            self.mixture = data.mixture(config.data.name)
            return
        images = dataset.x[:num_samples]
        if metric == "fid":
            self.space = metrics.inception_space(batch_size=FID_TRACK_BATCH)
        else:
            # every measurement is one forward of all its samples
            self.space = metrics.classifier_space(classifier_for(config), batch_size=num_samples)
        if metric == "kid":
            self.real = self.space.features(images)
        else:
            source = f"{config.data.name}:{config.data.split}"
            self.reference = reference_stats_of_images(images, source, space=self.space)

    def __call__(self, state: GANState) -> float:
        """Return the metric of ``state``'s generator (and set :attr:`seconds`)."""
        start = time.perf_counter()
        value = self._measure(state)
        self.seconds = time.perf_counter() - start
        return value

    def _measure(self, state: GANState) -> float:
        fake = generate_samples(state, self.num_samples, self.key)
        if self.metric in ("modes", "high_quality"):
            return float(metrics.mixture_metrics(fake, self.mixture)[self.metric])
        features = self.space.features(fake, (-1.0, 1.0))
        if self.metric in ("fd", "fid"):
            return float(self.reference.fd(features))
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
