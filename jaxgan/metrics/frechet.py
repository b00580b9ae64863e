"""Fréchet distance between two feature distributions (the formula behind FID).

FD = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½), with covariances estimated with N − 1, in
float64. It is "FID" only in the TF InceptionV3 pool3 space (``jaxgan.metrics.inception``); in a
dataset classifier's space call it FD. The value is biased upward in N (more so when N ≤ d, where
the covariances are singular): compare only numbers computed at equal sample counts and name the
feature space, N_gen, N_ref and the reference split next to every number.

Only Tr (Σ_a Σ_b)^½ needs linear algebra, and it needs eigenvalues, not a matrix square root:
Σ_a Σ_b is similar to the symmetric positive semi-definite Fᵀ Σ_b F for any factor Σ_a = F Fᵀ, so
the trace is the sum of the square roots of that matrix's eigenvalues. Three ways to get it:

- ``"eigh"`` (default for statistics): F from a pivoted Cholesky factorisation of Σ_a (LAPACK
  ``pstrf``), then ``eigvalsh`` of Fᵀ Σ_b F. A singular covariance (N ≤ d, a constant feature)
  is factored on its numerical range only (rank r < d, F is d × r), and of two singular ones the
  one of lower rank is factored.
- ``"low_rank"`` (features only): with centred features A (N_a × d) and B (N_b × d),
  Tr (Σ_a Σ_b)^½ is the sum of the singular values of A Bᵀ / √((N_a − 1)(N_b − 1)), an
  N_a × N_b problem; ``"auto"`` picks it when its estimated cost is lower (few samples).
- ``"sqrtm"``: pytorch-fid's ``scipy.linalg.sqrtm(Σ_a Σ_b)``, with its ``eps · I`` retry and its
  imaginary-part check; kept for comparison (much slower at large d).

benchmarks/RESULTS.md ("Fréchet distance without sqrtm") has the measured speed and agreement of
the three, and why the symmetric eigenvalue route was chosen over ``eigvals(Σ_a Σ_b)``.
:func:`frechet_distance_jax` computes FD on a JAX device from a QR of each feature matrix and an
SVD (accurate in float32, where the eigenvalue route is not), in float32 unless
``jax_enable_x64`` is on. FD ≥ 0 mathematically; a negative result is round-off and is returned
as 0.0 (a warning says so when it is larger than round-off should be).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from jaxgan.metrics._checks import feature_matrix, same_feature_dim

__all__ = [
    "FewSamplesWarning",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "frechet_distance_jax",
]

#: Largest |imaginary part| on the diagonal of sqrtm(Σ_a Σ_b) dropped silently (pytorch-fid).
IMAGINARY_TOLERANCE = 1e-3
#: A negative FD larger than this share of Tr Σ_a + Tr Σ_b + ‖Δμ‖² is reported before clamping.
NEGATIVE_TOLERANCE = 1e-6
#: Relative slack of the symmetry and positive-semi-definiteness checks of the "eigh" route:
#: float32 round-off of a covariance passes, a matrix that is not a covariance does not.
COVARIANCE_TOLERANCE = 1e-4
STATISTICS_METHODS = ("eigh", "sqrtm")
FEATURE_METHODS = ("auto", "eigh", "low_rank", "sqrtm")
_HIGHEST = jax.lax.Precision.HIGHEST


class FewSamplesWarning(UserWarning):
    """FD on no more samples than feature dimensions: singular covariances, large upward bias.

    Example:
        >>> issubclass(FewSamplesWarning, UserWarning)
        True

    """


def _as_feature_matrix(features: np.ndarray, name: str) -> np.ndarray:
    features = feature_matrix(np.asarray(features), name, min_samples=2,
                              why=" to estimate a covariance")  # fmt: skip
    return features.astype(np.float64, copy=False)


def _statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False, ddof=1))


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
    return _statistics(_as_feature_matrix(features, "features"))


def _symmetric(sigma: np.ndarray, name: str) -> np.ndarray:
    scale = max(float(np.abs(sigma).max()), np.finfo(np.float64).tiny)
    asymmetry = float(np.abs(sigma - sigma.T).max())
    if asymmetry > COVARIANCE_TOLERANCE * scale:
        raise ValueError(
            f"frechet_distance: {name} is not symmetric (max |Σ − Σᵀ| = "
            f"{asymmetry:.3g} of max |Σ| = {scale:.3g}); pass a covariance matrix"
        )
    return (sigma + sigma.T) / 2.0


def _not_psd(name: str, detail: str) -> ValueError:
    return ValueError(
        f"frechet_distance: {name} is not positive semi-definite ({detail}); pass "
        "a covariance matrix"
    )


def _psd_factor(sigma: np.ndarray, name: str) -> np.ndarray:
    """F (d × r) with F Fᵀ = sigma up to d·ε·max(diag): pivoted Cholesky (LAPACK ``pstrf``).

    The rank r stops where every remaining pivot is below that tolerance, so a singular
    covariance (N ≤ d, a constant feature) gets a factor of its numerical range only.
    """
    packed, pivots, rank, info = scipy.linalg.lapack.dpstrf(sigma, lower=1)
    if info < 0:
        raise ValueError(f"frechet_distance: LAPACK dpstrf rejected {name} (info {info})")
    factor = np.zeros((sigma.shape[0], rank))
    factor[pivots - 1] = np.tril(packed[:, :rank])  # sigma = P L Lᵀ Pᵀ
    # The trace left out is that of the Schur complement: ≥ 0 up to round-off for a PSD matrix.
    trace = float(np.trace(sigma))
    left_out = trace - float(np.einsum("ij,ij->", factor, factor))
    if left_out < -COVARIANCE_TOLERANCE * max(abs(trace), np.finfo(np.float64).tiny):
        raise _not_psd(name, f"its Cholesky factorisation leaves a trace of {left_out:.3g}")
    return factor


def _trace_sqrt_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr (sigma1 sigma2)^½ from the eigenvalues of a symmetric matrix similar to the product.

    With F Fᵀ = sigma1 the product's non-zero eigenvalues are those of Fᵀ sigma2 F (r × r).
    When both covariances are singular, the one of lower rank is factored, so that this matrix
    is generically non-singular: square roots of eigenvalues that should be exactly zero would
    add round-off of order √(ε λ_max) each.
    """
    sigma1, sigma2 = _symmetric(sigma1, "sigma1"), _symmetric(sigma2, "sigma2")
    factor, other, other_name = _psd_factor(sigma1, "sigma1"), sigma2, "sigma2"
    if factor.shape[1] < sigma1.shape[0]:
        factor2 = _psd_factor(sigma2, "sigma2")
        if factor2.shape[1] < factor.shape[1]:
            factor, other, other_name = factor2, sigma1, "sigma1"
    if factor.shape[1] == 0:
        return 0.0
    inner = factor.T @ other @ factor
    eigenvalues = scipy.linalg.eigvalsh((inner + inner.T) / 2.0, check_finite=False)
    if eigenvalues[0] < -COVARIANCE_TOLERANCE * max(float(eigenvalues[-1]), 0.0):
        raise _not_psd(other_name, f"Fᵀ Σ F has the eigenvalue {eigenvalues[0]:.3g}")
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def _trace_sqrt_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    """pytorch-fid's Tr sqrtm(sigma1 sigma2), with its eps·I retry and imaginary-part check."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if not np.all(np.isfinite(covmean)):
            raise ValueError(
                "frechet_distance: sqrtm(sigma1 @ sigma2) is not finite even with "
                f"{eps:g}·I added; the covariances are degenerate (use more samples)"
            )
    if np.iscomplexobj(covmean):
        largest = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if largest > IMAGINARY_TOLERANCE:
            raise ValueError(
                f"frechet_distance: sqrtm has an imaginary component {largest:.3g} "
                f"> {IMAGINARY_TOLERANCE:g}; the covariances are ill-conditioned "
                "(use more samples than feature dimensions)"
            )
        covmean = covmean.real
    return float(np.trace(covmean))


def _assemble(mean_sq: float, trace1: float, trace2: float, trace_sqrt: float) -> float:
    """‖Δμ‖² + Tr Σ_a + Tr Σ_b − 2 Tr (Σ_a Σ_b)^½, with negative round-off clamped to 0."""
    value = mean_sq + trace1 + trace2 - 2.0 * trace_sqrt
    if value < 0.0:
        scale = mean_sq + trace1 + trace2
        if value < -NEGATIVE_TOLERANCE * scale:
            warnings.warn(
                f"frechet_distance: got {value:.3g}, more negative than round-off "
                f"({NEGATIVE_TOLERANCE:g} of the traces, {scale:.3g}); returning 0.0. "
                "The covariances are numerically degenerate",
                RuntimeWarning,
                stacklevel=3,
            )
        value = 0.0
    return float(value)


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    *,
    eps: float = 1e-6,
    method: str = "eigh",
) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``‖mu1 − mu2‖² + Tr(sigma1 + sigma2 − 2 (sigma1 sigma2)^½)`` in float64. ``"eigh"`` takes
    the trace from the eigenvalues of a symmetric matrix similar to ``sigma1 @ sigma2`` (module
    docstring); ``"sqrtm"`` is pytorch-fid's ``scipy.linalg.sqrtm``, retried with ``eps · I``
    added to both covariances when not finite, a tiny imaginary part dropped, a large one
    (> 1e-3 on the diagonal) raising. A negative result (round-off; FD ≥ 0) is returned as 0.0.

    Args:
        mu1: mean of the first distribution, shape ``(d,)``.
        sigma1: covariance of the first distribution, shape ``(d, d)``, symmetric PSD.
        mu2: mean of the second distribution, shape ``(d,)``.
        sigma2: covariance of the second distribution, shape ``(d, d)``, symmetric PSD.
        eps: diagonal offset of the ``"sqrtm"`` retry (unused by ``"eigh"``).
        method: ``"eigh"`` (default) or ``"sqrtm"``.

    Returns:
        The distance as a Python float, ≥ 0.

    Raises:
        ValueError: on mismatched shapes, non-finite input, an unknown method, (``"eigh"``) a
            covariance that is not symmetric positive semi-definite, or (``"sqrtm"``) a large
            imaginary component.

    Example:
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
        2.0
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2), method="sqrtm")
        2.0

    """
    if method not in STATISTICS_METHODS:
        raise ValueError(
            f"frechet_distance: method must be one of {STATISTICS_METHODS}, got "
            f"{method!r} ('low_rank' needs features: frechet_distance_from_features)"
        )
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            "frechet_distance needs means of shape (d,) and covariances (d, d) with "
            f"one d; got {mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}"
        )
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"frechet_distance: {name} contains NaN or inf; check the statistics")

    diff = mu1 - mu2
    if method == "sqrtm":
        trace_sqrt = _trace_sqrt_sqrtm(sigma1, sigma2, eps)
    else:
        trace_sqrt = _trace_sqrt_eigh(sigma1, sigma2)
    return _assemble(
        float(diff @ diff), float(np.trace(sigma1)), float(np.trace(sigma2)), trace_sqrt
    )


def _low_rank_is_cheaper(n_a: int, n_b: int, d: int) -> bool:
    """Whether the N_a × N_b route is estimated to beat covariances + an r × r eigenproblem.

    Costs in multiply-adds at matrix-product speed, r = min(N_a − 1, N_b − 1, d) the rank of the
    factored covariance: the covariances take (N_a + N_b) d², the pivoted Cholesky factor and the
    two products about 3 d² r, ``eigvalsh`` about 6 r³; the cross product A Bᵀ takes N_a N_b d and
    its singular values, after an LQ step of m² n, about 14 m³ (m ≤ n the two set sizes). The
    weights are rough fits to LAPACK timings on this project's 2-core test machine; the choice
    changes the speed only (both routes agree to round-off, benchmarks/RESULTS.md).
    """
    m, n = sorted((n_a, n_b))
    r = min(m - 1, d)
    low_rank = n_a * n_b * d + m * m * n + 14 * m**3
    full = (n_a + n_b) * d * d + 3 * d * d * r + 6 * r**3
    return low_rank < full


def _frechet_low_rank(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FD from centred features: Tr (Σ_a Σ_b)^½ = nuclear norm of A Bᵀ / √((N_a − 1)(N_b − 1))."""
    n_a, n_b = features_a.shape[0], features_b.shape[0]
    mu_a, mu_b = features_a.mean(axis=0), features_b.mean(axis=0)
    a, b = features_a - mu_a, features_b - mu_b
    singular_values = scipy.linalg.svd(a @ b.T, compute_uv=False, check_finite=False)
    trace_sqrt = float(singular_values.sum()) / np.sqrt((n_a - 1.0) * (n_b - 1.0))
    diff = mu_a - mu_b
    return _assemble(
        float(diff @ diff),
        float(np.einsum("ij,ij->", a, a)) / (n_a - 1),
        float(np.einsum("ij,ij->", b, b)) / (n_b - 1),
        trace_sqrt,
    )


def _warn_if_few_samples(n_a: int, n_b: int, d: int) -> None:
    if min(n_a, n_b) <= d:
        warnings.warn(
            f"Fréchet distance with N_a={n_a}, N_b={n_b} samples for d={d} feature dimensions: "
            "with N ≤ d the covariances are singular (rank ≤ N − 1) and FD is biased upward, "
            "more the smaller N is; compare FD values only at equal N_a and N_b",
            FewSamplesWarning,
            stacklevel=3,
        )


def frechet_distance_from_features(
    features_a: np.ndarray, features_b: np.ndarray, *, method: str = "auto"
) -> float:
    """Fréchet distance between two feature matrices (statistics computed here).

    Warns (:class:`FewSamplesWarning`) when either set has no more samples than dimensions: the
    estimate is then singular and strongly biased upward, and only comparable at equal N.

    Args:
        features_a: array ``(N_a, d)``, e.g. generated-image features, N_a ≥ 2, all finite.
        features_b: array ``(N_b, d)``, e.g. reference-image features, N_b ≥ 2, all finite.
        method: ``"auto"`` (``"low_rank"`` when estimated cheaper, else ``"eigh"``),
            ``"eigh"``, ``"low_rank"`` or ``"sqrtm"`` (see the module docstring).

    Returns:
        ``frechet_distance(*feature_statistics(a), *feature_statistics(b))`` up to round-off.

    Raises:
        ValueError: on a malformed or non-finite input, N < 2, differing d, or an unknown
            method.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(500, 3))
        >>> frechet_distance_from_features(x, x)
        0.0
        >>> y = rng.normal(size=(400, 3)) + 1.0
        >>> a = frechet_distance_from_features(x, y, method="low_rank")
        >>> b = frechet_distance_from_features(x, y, method="eigh")
        >>> round(a, 3), abs(a - b) < 1e-12
        (2.814, True)

    """
    if method not in FEATURE_METHODS:
        raise ValueError(
            f"frechet_distance_from_features: method must be one of "
            f"{FEATURE_METHODS}, got {method!r}"
        )
    features_a = _as_feature_matrix(features_a, "features_a")
    features_b = _as_feature_matrix(features_b, "features_b")
    same_feature_dim(features_a, features_b)
    (n_a, d), n_b = features_a.shape, features_b.shape[0]
    _warn_if_few_samples(n_a, n_b, d)
    if method == "auto":
        method = "low_rank" if _low_rank_is_cheaper(n_a, n_b, d) else "eigh"
    if method == "low_rank":
        return _frechet_low_rank(features_a, features_b)
    return frechet_distance(*_statistics(features_a), *_statistics(features_b), method=method)


@jax.jit
def _device_frechet(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """FD and per-input finiteness flags, in the inputs' dtype."""
    n_a, n_b = a.shape[0], b.shape[0]
    mu_a, mu_b = a.mean(axis=0, keepdims=True), b.mean(axis=0, keepdims=True)
    ca, cb = a - mu_a, b - mu_b
    # Σ_a = R_aᵀ R_a / (N_a − 1) from a QR of the centred features: no covariance is formed
    # (which would square their condition number), and the singular values of R_a R_bᵀ carry
    # errors of ε·σ_max where eigenvalues carry ε·λ_max, whose square roots are far larger.
    r_a, r_b = jnp.linalg.qr(ca, mode="r"), jnp.linalg.qr(cb, mode="r")
    cross = jnp.matmul(r_a, r_b.T, precision=_HIGHEST)
    trace_sqrt = jnp.sum(jnp.linalg.svd(cross, compute_uv=False)) / jnp.sqrt(
        (n_a - 1.0) * (n_b - 1.0)
    )
    diff = mu_a - mu_b
    value = (
        jnp.sum(diff * diff)
        + jnp.sum(ca * ca) / (n_a - 1)
        + jnp.sum(cb * cb) / (n_b - 1)
        - 2.0 * trace_sqrt
    )
    return value, jnp.stack([jnp.all(jnp.isfinite(a)), jnp.all(jnp.isfinite(b))])


def frechet_distance_jax(features_a: jax.Array, features_b: jax.Array) -> float:
    """Fréchet distance of two feature matrices computed on the JAX default device.

    For features already on an accelerator: one jitted program takes a QR of each centred
    feature matrix (Σ = Rᵀ R / (N − 1)) and sums the singular values of R_a R_bᵀ, which equals
    Tr (Σ_a Σ_b)^½ for any N and d. It runs in **float32** unless ``jax_enable_x64`` is on (then
    float64, agreeing with the host functions to round-off). In float32 the route matters: the
    eigenvalue route of :func:`frechet_distance` is far less accurate on real features (it takes
    square roots of eigenvalue round-off); this one's error is of the order the cancellation of
    the traces implies, ε₃₂ · (Tr Σ_a + Tr Σ_b) / FD relative with ε₃₂ ≈ 1.2e-7, large when FD
    is small (measured in benchmarks/RESULTS.md; use x64 when that matters). Products use
    ``Precision.HIGHEST`` (no TF32). The few-samples
    warning and the clamping at 0 are as in :func:`frechet_distance_from_features`. On a CPU,
    the host functions are faster.

    Args:
        features_a: array ``(N_a, d)``, N_a ≥ 2, all finite.
        features_b: array ``(N_b, d)``, N_b ≥ 2, all finite.

    Returns:
        The distance as a Python float, ≥ 0.

    Raises:
        ValueError: on malformed input, N < 2, differing d, or a NaN/inf feature.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(500, 3)), rng.normal(size=(400, 3)) + 1.0
        >>> with jax.enable_x64(True):
        ...     on_device = frechet_distance_jax(x, y)
        >>> abs(on_device - frechet_distance_from_features(x, y)) < 1e-9
        True

    """
    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    a, b = jnp.asarray(features_a, dtype), jnp.asarray(features_b, dtype)
    for name, x in (("features_a", a), ("features_b", b)):
        if x.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-D array (num_samples, feature_dim), got shape "
                f"{x.shape}; flatten or pool your features first"
            )
        if x.shape[0] < 2:
            raise ValueError(
                f"{name} needs at least 2 samples to estimate a covariance, got {x.shape[0]}"
            )
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}; both sets "
            "must come from one feature extractor"
        )
    _warn_if_few_samples(a.shape[0], b.shape[0], a.shape[1])
    value, finite = _device_frechet(a, b)
    for name, ok in zip(("features_a", "features_b"), np.asarray(finite), strict=True):
        if not ok:
            raise ValueError(
                f"{name} contains NaN or inf; check the feature extractor and its input images"
            )
    return max(float(value), 0.0)
