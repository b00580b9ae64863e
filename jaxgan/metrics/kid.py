"""Kernel Inception Distance style MMD (Bińkowski et al. 2018) on any feature space.

KID = unbiased MMD² with the cubic polynomial kernel ``k(x, y) = (xᵀy / d + 1)³``, averaged over
100 random subsets of 1,000 samples from each set (without replacement inside a subset); we return
the mean and the standard deviation (ddof 0, as torch-fidelity) over subsets. Unlike FD it is
unbiased in N, but still name the feature space, N_gen and N_ref with every number. The kernel
sums run in JAX (float32, matrix products at ``Precision.HIGHEST``), one subset at a time in a
``lax.map`` so memory stays at three ``m × m`` matrices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.metrics._checks import as_float32, feature_matrix, same_feature_dim

__all__ = ["kernel_inception_distance", "polynomial_mmd2"]


def _kernel(x: jax.Array, y: jax.Array) -> jax.Array:
    d = x.shape[1]
    return (jnp.dot(x, y.T, precision=jax.lax.Precision.HIGHEST) / d + 1.0) ** 3


def _unbiased_mmd2(x: jax.Array, y: jax.Array) -> jax.Array:
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    xx = (jnp.sum(k_xx) - jnp.trace(k_xx)) / (m * (m - 1))
    yy = (jnp.sum(k_yy) - jnp.trace(k_yy)) / (n * (n - 1))
    return xx + yy - 2.0 * jnp.sum(k_xy) / (m * n)


_whole_set_mmd2 = jax.jit(_unbiased_mmd2)


@jax.jit
def _subset_mmd2(a: jax.Array, b: jax.Array, idx_a: jax.Array, idx_b: jax.Array) -> jax.Array:
    # The polynomial kernel is not shift-invariant: features are used as given (no centring).
    return jax.lax.map(lambda ij: _unbiased_mmd2(a[ij[0]], b[ij[1]]), (idx_a, idx_b))


def _check_pair(features_a: np.ndarray, features_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = (
        feature_matrix(np.asarray(x), name, min_samples=2, why=" for an unbiased MMD²")
        for x, name in ((features_a, "features_a"), (features_b, "features_b"))
    )
    same_feature_dim(a, b)
    return a, b


def polynomial_mmd2(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Unbiased MMD² with the cubic polynomial kernel on two whole feature sets.

    ``MMD² = mean_{i≠j} k(a_i, a_j) + mean_{i≠j} k(b_i, b_j) − 2 mean_{i,j} k(a_i, b_j)`` with
    ``k(x, y) = (xᵀy / d + 1)³``. Can be slightly negative for identical distributions.

    Args:
        features_a: array ``(N, d)``, N ≥ 2.
        features_b: array ``(M, d)``, M ≥ 2.

    Returns:
        MMD² as a Python float.

    Raises:
        ValueError: on malformed or non-finite features, fewer than 2 samples, or differing d.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(300, 4))
        >>> abs(polynomial_mmd2(x[:150], x[150:])) < 0.1
        True

    """
    a, b = _check_pair(features_a, features_b)
    return float(_whole_set_mmd2(as_float32(a), as_float32(b)))


def kernel_inception_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """KID: mean ± std of the unbiased polynomial-kernel MMD² over random subsets.

    Args:
        features_a: generated features ``(N_gen, d)``.
        features_b: reference features ``(N_ref, d)``.
        num_subsets: how many subset pairs to draw (standard: 100).
        subset_size: samples per subset (standard: 1,000); capped at ``min(N_gen, N_ref)``, and the
            size used is returned.
        seed: seed of the NumPy generator that draws the subsets.

    Returns:
        ``{"kid_mean": float, "kid_std": float, "subset_size": int, "num_subsets": int}``.

    Raises:
        ValueError: on malformed or non-finite features (NaN would make every subset's MMD² NaN),
            fewer than 2 samples, differing d, or bad subset settings.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> kid = kernel_inception_distance(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)),
        ...                                 num_subsets=10, subset_size=200)
        >>> abs(kid["kid_mean"]) < 0.05, kid["subset_size"]
        (True, 200)

    """
    a, b = _check_pair(features_a, features_b)
    if num_subsets < 1 or subset_size < 2:
        raise ValueError(
            f"need num_subsets ≥ 1 and subset_size ≥ 2, got {num_subsets}, {subset_size}"
        )
    m = int(min(subset_size, a.shape[0], b.shape[0]))
    rng = np.random.default_rng(seed)
    idx_a = np.stack([rng.choice(a.shape[0], m, replace=False) for _ in range(num_subsets)])
    idx_b = np.stack([rng.choice(b.shape[0], m, replace=False) for _ in range(num_subsets)])
    mmds = np.asarray(
        _subset_mmd2(
            as_float32(a),
            as_float32(b),
            idx_a.astype(np.int32),
            idx_b.astype(np.int32),
        ),
        dtype=np.float64,
    )
    return {
        "kid_mean": float(mmds.mean()),
        "kid_std": float(mmds.std()),
        "subset_size": m,
        "num_subsets": int(num_subsets),
    }
