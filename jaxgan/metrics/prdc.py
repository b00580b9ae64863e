"""Improved precision/recall (Kynkäänniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Each set's local manifold is the union of balls around its points with radius the distance to the
k-th nearest other point of the same set. Precision = share of fakes inside ≥ 1 real ball (quality),
recall = share of reals inside ≥ 1 fake ball (diversity), with k = 3 and ``distance ≤ radius`` as in
NVlabs' reference code. Density = mean number of real balls containing a fake, divided by k (≈ 1 for
one distribution, unbounded above), coverage = share of reals whose nearest fake lies inside their
own ball (≈ 1 − 2^−k for one distribution), with k = 5 and ``distance < radius`` as in clovaai's
``prdc``. Neighbour searches are blocked JAX programs (``jaxgan.metrics.neighbours``).
"""

from __future__ import annotations

import numpy as np

from jaxgan.metrics._checks import feature_matrix, same_feature_dim
from jaxgan.metrics.neighbours import (
    DEFAULT_BLOCK_ELEMENTS,
    count_within_radii,
    nearest_neighbours,
)

__all__ = ["density_coverage", "prdc", "precision_recall"]


def _pair(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    why = f" (more than k={k}) for k-NN radii"
    real = feature_matrix(np.asarray(real), "real features", min_samples=k + 1, why=why)
    fake = feature_matrix(np.asarray(fake), "fake features", min_samples=k + 1, why=why)
    same_feature_dim(real, fake)
    return real, fake


def _radii(features: np.ndarray, ks: tuple[int, ...], max_block_elements: int) -> dict:
    """k-th-neighbour radii for several k from one search (column 0 is the point itself)."""
    sorted_distances, _ = nearest_neighbours(
        features, features, max(ks) + 1, max_block_elements=max_block_elements
    )
    return {k: sorted_distances[:, k] for k in ks}


def _precision_recall(real, fake, real_radii, fake_radii, max_block_elements):
    in_real = count_within_radii(fake, real, real_radii, max_block_elements=max_block_elements)
    in_fake = count_within_radii(real, fake, fake_radii, max_block_elements=max_block_elements)
    return {"precision": float(np.mean(in_real > 0)), "recall": float(np.mean(in_fake > 0))}


def _density_coverage(real, fake, real_radii, k, max_block_elements):
    balls = count_within_radii(
        fake, real, real_radii, strict=True, max_block_elements=max_block_elements
    )
    nearest_fake, _ = nearest_neighbours(real, fake, 1, max_block_elements=max_block_elements)
    return {
        "density": float(np.mean(balls) / k),
        "coverage": float(np.mean(nearest_fake[:, 0] < real_radii)),
    }


def precision_recall(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    k: int = 3,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> dict[str, float]:
    """Improved precision and recall of generated features against real ones.

    Args:
        real: real features ``(N, d)``.
        fake: generated features ``(M, d)``.
        k: neighbour that sets each ball's radius (paper: 3).
        max_block_elements: distances held at once in the neighbour search.

    Returns:
        ``{"precision": float, "recall": float}``, both in [0, 1].

    Raises:
        ValueError: on malformed or non-finite features, too few samples for k, or differing d.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> real = rng.normal(size=(200, 2))
        >>> precision_recall(real, real + 100.0)
        {'precision': 0.0, 'recall': 0.0}

    """
    real, fake = _pair(real, fake, k)
    real_radii = _radii(real, (k,), max_block_elements)[k]
    fake_radii = _radii(fake, (k,), max_block_elements)[k]
    return _precision_recall(real, fake, real_radii, fake_radii, max_block_elements)


def density_coverage(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    k: int = 5,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> dict[str, float]:
    """Density and coverage of generated features against real ones.

    Args:
        real: real features ``(N, d)``.
        fake: generated features ``(M, d)``.
        k: neighbour that sets each real ball's radius (paper: 5).
        max_block_elements: distances held at once in the neighbour search.

    Returns:
        ``{"density": float, "coverage": float}``; coverage in [0, 1], density ≥ 0.

    Raises:
        ValueError: on malformed or non-finite features, too few samples for k, or differing d.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> real = rng.normal(size=(200, 2))
        >>> density_coverage(real, real + 100.0)
        {'density': 0.0, 'coverage': 0.0}

    """
    real, fake = _pair(real, fake, k)
    real_radii = _radii(real, (k,), max_block_elements)[k]
    return _density_coverage(real, fake, real_radii, k, max_block_elements)


def prdc(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    k_precision_recall: int = 3,
    k_density_coverage: int = 5,
    max_block_elements: int = DEFAULT_BLOCK_ELEMENTS,
) -> dict[str, float]:
    """Precision, recall (k=3), density and coverage (k=5) in one call.

    Args:
        real: real features ``(N, d)``.
        fake: generated features ``(M, d)``.
        k_precision_recall: k for precision/recall.
        k_density_coverage: k for density/coverage.
        max_block_elements: distances held at once in the neighbour search.

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as floats.

    Raises:
        ValueError: on malformed or non-finite features, too few samples for k, or differing d.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> sorted(prdc(rng.normal(size=(100, 4)), rng.normal(size=(100, 4))))
        ['coverage', 'density', 'precision', 'recall']

    """
    k_pr, k_dc = k_precision_recall, k_density_coverage
    real, fake = _pair(real, fake, max(k_pr, k_dc))
    real_radii = _radii(real, (k_pr, k_dc), max_block_elements)
    fake_radii = _radii(fake, (k_pr,), max_block_elements)[k_pr]
    out = _precision_recall(real, fake, real_radii[k_pr], fake_radii, max_block_elements)
    out.update(_density_coverage(real, fake, real_radii[k_dc], k_dc, max_block_elements))
    return out
