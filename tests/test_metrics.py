"""Closed-form and hand-made checks of FD, KID, PRDC, the neighbour search and the IS."""

import numpy as np
import pytest
import scipy.linalg

from jaxgan.metrics import frechet as frechet_module
from jaxgan.metrics.frechet import (
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
)
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.kid import kernel_inception_distance, polynomial_mmd2
from jaxgan.metrics.neighbours import (
    count_within_radii,
    kth_neighbour_distances,
    nearest_neighbours,
    pairwise_distances,
)
from jaxgan.metrics.prdc import density_coverage, prdc, precision_recall


def _gaussian_fd(mu1, s1, mu2, s2):
    """Closed form with symmetric square roots: Tr(S1 + S2 − 2 (S1^½ S2 S1^½)^½)."""
    r1 = scipy.linalg.sqrtm(s1).real
    cross = scipy.linalg.sqrtm(r1 @ s2 @ r1).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * cross))


def _random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_feature_statistics_uses_n_minus_1():
    x = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0]])
    mu, sigma = feature_statistics(x)
    np.testing.assert_allclose(mu, [2.0, 3.0])
    np.testing.assert_allclose(sigma, np.cov(x.T, ddof=1))
    assert mu.dtype == sigma.dtype == np.float64


def test_fd_diagonal_gaussians_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1.0 + 4.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # ‖Δμ‖² + Σ(√a − √b)²
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, abs=1e-10)


def test_fd_non_commuting_covariances_match_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = _random_cov(rng, 5), _random_cov(rng, 5)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        _gaussian_fd(mu1, s1, mu2, s2), rel=1e-9
    )
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_fd_from_samples_approaches_analytic_value():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.zeros(3), np.array([0.5, 0.0, -0.5])
    s1, s2 = _random_cov(rng, 3), _random_cov(rng, 3)
    x = rng.multivariate_normal(mu1, s1, size=40_000)
    y = rng.multivariate_normal(mu2, s2, size=40_000)
    assert frechet_distance_from_features(x, y) == pytest.approx(
        _gaussian_fd(mu1, s1, mu2, s2), abs=0.03
    )


def test_fd_retries_with_offset_when_sqrtm_is_not_finite(monkeypatch):
    calls = []
    real_sqrtm = scipy.linalg.sqrtm

    def flaky(a):
        calls.append(a.copy())
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(frechet_module.scipy.linalg, "sqrtm", flaky)
    value = frechet_distance(
        np.zeros(2), np.eye(2), np.zeros(2), 4 * np.eye(2), eps=1e-3, method="sqrtm"
    )
    assert len(calls) == 2
    np.testing.assert_allclose(calls[1], (1 + 1e-3) * (4 + 1e-3) * np.eye(2))
    assert value == pytest.approx(2 + 8 - 2 * 2 * np.sqrt((1 + 1e-3) * (4 + 1e-3)), abs=1e-12)


def test_fd_drops_tiny_imaginary_part_and_raises_on_large(monkeypatch):
    eye = (np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))
    monkeypatch.setattr(frechet_module.scipy.linalg, "sqrtm", lambda a: np.eye(2) + 1e-8j)
    assert frechet_distance(*eye, method="sqrtm") == pytest.approx(0.0)
    monkeypatch.setattr(frechet_module.scipy.linalg, "sqrtm", lambda a: np.eye(2) + 0.5j)
    with pytest.raises(ValueError, match="imaginary component"):
        frechet_distance(*eye, method="sqrtm")
    assert frechet_distance(*eye) == 0.0  # the default route never calls sqrtm


def test_fd_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        frechet_distance_from_features(np.zeros(10), np.zeros(10))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance_from_features(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        feature_statistics(np.array([[np.nan, 1.0], [0.0, 1.0]]))


def _mmd2_float64(x, y):
    d = x.shape[1]

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    m, n = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return xx + yy - 2 * k(x, y).mean()


def test_polynomial_mmd2_matches_float64_reference():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 16)), rng.normal(size=(200, 16)) + 0.2
    assert polynomial_mmd2(x, y) == pytest.approx(_mmd2_float64(x, y), rel=1e-5)


def test_kid_near_zero_for_one_distribution_and_positive_for_shift():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(1200, 16)), rng.normal(size=(1200, 16))
    same = kernel_inception_distance(x, y, num_subsets=20, subset_size=500)
    shifted = kernel_inception_distance(x, y + 0.5, num_subsets=20, subset_size=500)
    assert abs(same["kid_mean"]) < 3 * same["kid_std"] + 1e-3
    assert shifted["kid_mean"] > 0.1 and shifted["kid_mean"] > 10 * shifted["kid_std"]
    assert same["subset_size"] == 500 and same["num_subsets"] == 20
    assert kernel_inception_distance(x[:50], y, num_subsets=2)["subset_size"] == 50


def test_kid_is_seeded():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    a = kernel_inception_distance(x, y, num_subsets=5, subset_size=100, seed=1)
    b = kernel_inception_distance(x, y, num_subsets=5, subset_size=100, seed=1)
    c = kernel_inception_distance(x, y, num_subsets=5, subset_size=100, seed=2)
    assert a == b and a != c


def test_neighbour_search_matches_brute_force_across_blocks():
    rng = np.random.default_rng(5)
    q, r = rng.normal(size=(203, 7)), rng.normal(size=(150, 7))
    brute = np.sqrt(((q[:, None] - r[None]) ** 2).sum(-1))
    np.testing.assert_allclose(pairwise_distances(q, r), brute, atol=1e-4)
    # max_block_elements forces 8-row blocks and a padded last block
    dist, idx = nearest_neighbours(q, r, k=4, max_block_elements=1000)
    np.testing.assert_array_equal(idx, np.argsort(brute, axis=1)[:, :4])
    np.testing.assert_allclose(dist, np.sort(brute, axis=1)[:, :4], atol=1e-4)
    within = np.sqrt(((q[:, None] - q[None]) ** 2).sum(-1))
    np.testing.assert_allclose(
        kth_neighbour_distances(q, 3, max_block_elements=1000),
        np.sort(within, axis=1)[:, 3],
        atol=1e-4,
    )
    radii = np.sort(brute, axis=0)[5]  # each reference ball holds exactly 6 queries
    counts = count_within_radii(q, r, radii + 1e-4, max_block_elements=1000)
    np.testing.assert_array_equal(counts, (brute <= radii[None] + 1e-4).sum(1))
    assert counts.sum() == 6 * len(r)


def test_precision_recall_hand_made_1d():
    real = np.arange(10.0)[:, None]  # k=3 radii: 3 at both ends, 2 inside
    fake = np.array([[4.5], [100.0], [101.0], [102.0], [103.0]])
    # only 4.5 lies in a real ball; its own k=3 radius (97.5) covers every real point
    assert precision_recall(real, fake) == {"precision": 0.2, "recall": 1.0}
    assert precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    far = fake + 1000.0
    assert precision_recall(real, far) == {"precision": 0.0, "recall": 0.0}


def test_density_coverage_hand_made_1d():
    real = np.arange(10.0)[:, None]  # k=5 radii: 5,4,3,3,3,3,3,3,4,5
    fake = np.array([[0.0], [9.0], [50.0], [51.0], [52.0], [53.0]])
    out = density_coverage(real, fake)
    # fake 0 is strictly inside the balls of reals 0..4 (d < r): 0<5, 1<4, 2<3, 3=3 no → 3 balls;
    # fake 9 symmetric → 3 balls; others none: density = 6 / (5 · 6) = 0.2
    assert out["density"] == pytest.approx(0.2)
    # reals whose nearest fake is strictly inside their own ball: 0,1,2 and 7,8,9
    assert out["coverage"] == pytest.approx(0.6)


def test_density_coverage_for_identical_gaussians():
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(3000, 8)), rng.normal(size=(3000, 8))
    out = prdc(real, fake)
    assert out["coverage"] == pytest.approx(1 - 2**-5, abs=0.015)  # 0.969
    assert out["density"] == pytest.approx(1.0, abs=0.08)
    assert out["precision"] > 0.6 and out["recall"] > 0.6
    shifted = prdc(real, fake + 3.0)
    assert shifted["coverage"] < 0.2 and shifted["density"] < 0.2


def test_prdc_rejects_bad_input():
    with pytest.raises(ValueError, match="more than k"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="dimensions differ"):
        prdc(np.zeros((10, 2)), np.zeros((10, 3)))


def test_inception_score_extremes():
    assert inception_score(np.full((100, 10), 0.1))["score_mean"] == pytest.approx(1.0)
    sure = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(sure)["score_mean"] == pytest.approx(10.0)
    collapsed = np.eye(10)[np.zeros(1000, int)]
    assert inception_score(collapsed)["score_mean"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="softmax"):
        inception_score(np.ones((20, 10)))
