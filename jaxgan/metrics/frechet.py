"""Fréchet distance between two feature distributions (the formula behind FID).

FD = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½), with covariances estimated with N − 1, computed
in float64 with ``scipy.linalg.sqrtm`` as pytorch-fid does. The value is biased in N: compare only
numbers computed at equal sample counts and name the feature space, N_gen, N_ref and the reference
split next to every number. It is "FID" only in the TF InceptionV3 pool3 space
(``jaxgan.metrics.inception``); in a dataset classifier's space call it FD.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from jaxgan.metrics._checks import same_feature_dim

__all__ = ["feature_statistics", "frechet_distance", "frechet_distance_from_features"]

#: Largest |imaginary part| on the diagonal of sqrtm(Σ_a Σ_b) dropped silently (pytorch-fid).
IMAGINARY_TOLERANCE = 1e-3


def _as_feature_matrix(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (num_samples, feature_dim), got shape "
                         f"{features.shape}; flatten or pool your features first")
    if features.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples to estimate a covariance, got "
                         f"{features.shape[0]}")
    if not np.issubdtype(features.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {features.dtype}")
    features = features.astype(np.float64)
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} contains NaN or inf; check the feature extractor's input")
    return features


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of a feature matrix, in float64.

    Args:
        features: array of shape ``(N, d)``, N ≥ 2.

    Returns:
        ``(mu, sigma)``: the mean, shape ``(d,)``, and the covariance with N − 1 normalisation,
        shape ``(d, d)``, both float64.

    Example:
        >>> mu, sigma = feature_statistics(np.array([[0.0, 1.0], [2.0, 3.0]]))
        >>> mu.tolist(), sigma.tolist()
        ([1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]])

    """
    features = _as_feature_matrix(features, "features")
    mu = features.mean(axis=0)
    sigma = np.cov(features, rowvar=False, ddof=1)
    return mu, np.atleast_2d(sigma)


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    eps: float = 1e-6,
) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``‖mu1 − mu2‖² + Tr(sigma1 + sigma2 − 2 sqrtm(sigma1 @ sigma2))`` in float64. If the matrix
    square root is not finite, ``eps · I`` is added to both covariances and it is retried; a tiny
    imaginary part (numerical noise) is dropped, a large one (> 1e-3 on the diagonal) raises.

    Args:
        mu1: mean of the first distribution, shape ``(d,)``.
        sigma1: covariance of the first distribution, shape ``(d, d)``.
        mu2: mean of the second distribution, shape ``(d,)``.
        sigma2: covariance of the second distribution, shape ``(d, d)``.
        eps: diagonal offset used for the retry when ``sqrtm`` is not finite.

    Returns:
        The distance as a Python float (≥ 0 up to rounding).

    Raises:
        ValueError: on mismatched shapes, non-finite input, or a large imaginary component.

    Example:
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
        2.0

    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError("frechet_distance needs means of shape (d,) and covariances (d, d) with "
                         f"one d; got {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"frechet_distance: {name} contains NaN or inf; check the statistics")

    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(d) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if not np.all(np.isfinite(covmean)):
            raise ValueError("frechet_distance: sqrtm(sigma1 @ sigma2) is not finite even with "
                             f"{eps:g}·I added; the covariances are degenerate (use more samples)")
    if np.iscomplexobj(covmean):
        largest = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if largest > IMAGINARY_TOLERANCE:
            raise ValueError(f"frechet_distance: sqrtm has an imaginary component {largest:.3g} "
                             f"> {IMAGINARY_TOLERANCE:g}; the covariances are ill-conditioned "
                             "(use more samples than feature dimensions)")
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(value)


def frechet_distance_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between two feature matrices (statistics computed here).

    Args:
        features_a: array ``(N_a, d)``, e.g. generated-image features.
        features_b: array ``(N_b, d)``, e.g. reference-image features.

    Returns:
        ``frechet_distance(*feature_statistics(a), *feature_statistics(b))``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(500, 3))
        >>> frechet_distance_from_features(x, x) < 1e-9
        True

    """
    features_a = _as_feature_matrix(features_a, "features_a")
    features_b = _as_feature_matrix(features_b, "features_b")
    same_feature_dim(features_a, features_b)
    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))
