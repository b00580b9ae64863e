"""Evaluation metrics for generators, each number tied to the feature space it was computed in.

- Similarity: :func:`frechet_distance` (FD; "FID" only in the TF-Inception space), KID.
- Pixels (inpainting, reconstruction): :func:`psnr`, :func:`ssim`, :func:`mean_abs_error`.
- Quality / diversity: improved precision & recall (k=3), density & coverage (k=5), the
  Inception-style score, class-histogram KL, Stacked-MNIST mode count, 2-D mixture modes.
- Feature spaces: :func:`load_classifier` (jaxgan's MNIST / Fashion-MNIST CNNs, checksummed).
- :func:`evaluate_images` / :func:`save_report_panel`: the report with real-vs-real floors.
- Reference statistics: :class:`ReferenceStats` (μ, Σ, N, space, protocol, sha256), cached by
  :func:`reference_stats_for`; :func:`fd_to_reference` and ``fid(fake, reference=...)`` use them;
  :func:`intra_class_fd` per class for conditional generators.

Example:
    >>> import numpy as np
    >>> from jaxgan import metrics
    >>> x = np.random.default_rng(0).normal(size=(500, 4))
    >>> abs(metrics.frechet_distance_from_features(x, x)) < 1e-9  # ~1e-15 either sign: rounding
    True

"""

# the old name of jaxgan.data.to_uint8_images, kept until the callers outside data/metrics move
from jaxgan.data import to_uint8_images as to_uint8
from jaxgan.metrics.classifier import Classifier, WeightsChecksumError, load_classifier
from jaxgan.metrics.feature_spaces import FeatureSpace, classifier_space
from jaxgan.metrics.fid import (
    FIDResult,
    download_inception_weights,
    fid,
    fid_features,
    fid_from_features,
    inception_space,
    load_inception,
)
from jaxgan.metrics.frechet import (
    FewSamplesWarning,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    frechet_distance_jax,
)
from jaxgan.metrics.inception_preprocess import FIDProtocol
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.kid import kernel_inception_distance, polynomial_mmd2
from jaxgan.metrics.mixture import mixture_metrics
from jaxgan.metrics.modes import (
    class_histogram,
    class_histogram_kl,
    stacked_mnist_digits,
    stacked_mnist_modes,
)
from jaxgan.metrics.neighbours import (
    count_within_radii,
    kth_neighbour_distances,
    nearest_neighbours,
    pairwise_distances,
)
from jaxgan.metrics.pixels import mean_abs_error, psnr, ssim
from jaxgan.metrics.prdc import density_coverage, prdc, precision_recall
from jaxgan.metrics.reference import reference_stats_for
from jaxgan.metrics.reference_fd import fd_to_reference
from jaxgan.metrics.reference_stats import ReferenceStats, intra_class_fd
from jaxgan.metrics.report import evaluate_images, save_report_panel

__all__ = [
    "Classifier",
    "FIDProtocol",
    "FIDResult",
    "FeatureSpace",
    "FewSamplesWarning",
    "ReferenceStats",
    "WeightsChecksumError",
    "class_histogram",
    "class_histogram_kl",
    "classifier_space",
    "count_within_radii",
    "density_coverage",
    "download_inception_weights",
    "evaluate_images",
    "fd_to_reference",
    "feature_statistics",
    "fid",
    "fid_features",
    "fid_from_features",
    "frechet_distance",
    "frechet_distance_from_features",
    "frechet_distance_jax",
    "inception_score",
    "inception_space",
    "intra_class_fd",
    "kernel_inception_distance",
    "kth_neighbour_distances",
    "load_classifier",
    "load_inception",
    "mean_abs_error",
    "mixture_metrics",
    "nearest_neighbours",
    "pairwise_distances",
    "polynomial_mmd2",
    "prdc",
    "precision_recall",
    "psnr",
    "reference_stats_for",
    "save_report_panel",
    "ssim",
    "stacked_mnist_digits",
    "stacked_mnist_modes",
    "to_uint8",
]
