"""Fréchet distance without sqrtm: parity of the routes, the low-rank choice, and the metric edges.

The "sqrtm" route is pytorch-fid's computation, kept as the reference; "low_rank" (the nuclear
norm of A Bᵀ) is exact for any N, so it pins the rank-deficient cases where sqrtm itself drifts.
"""

import os
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
import scipy.linalg

from jaxgan.metrics import fid_from_features
from jaxgan.metrics import frechet as frechet_module
from jaxgan.metrics.frechet import (
    FewSamplesWarning,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    frechet_distance_jax,
)
from jaxgan.metrics.kid import kernel_inception_distance, polynomial_mmd2
from jaxgan.metrics.prdc import density_coverage, prdc, precision_recall

SHARED_DATA = Path(
    os.environ.get("JAXGAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
PARITY = 1e-6  # relative agreement required of the new routes with sqrtm (issue 19)


def _features(rng, n, d, *, scale=1.0, shift=0.0, mix=None):
    mix = rng.normal(size=(d, d)) / np.sqrt(d) if mix is None else mix
    return (rng.normal(size=(n, d)) @ mix) * scale + shift


def _all_routes(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewSamplesWarning)
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # sqrtm of a singular product
        return {
            m: frechet_distance_from_features(a, b, method=m) for m in ("eigh", "low_rank", "sqrtm")
        }


# --- parity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [4, 64, 200])
def test_eigh_matches_sqrtm_on_random_full_rank_covariances(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1 = (x := rng.normal(size=(d, d))) @ x.T / d + 0.1 * np.eye(d)
    s2 = (y := rng.normal(size=(d, d))) @ y.T / d + 0.1 * np.eye(d)
    reference = frechet_distance(mu1, s1, mu2, s2, method="sqrtm")
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=PARITY)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-10)


def test_eigh_handles_a_steep_full_rank_spectrum():
    rng = np.random.default_rng(3)
    d = 64
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = np.logspace(0, -4, d)  # covariance eigenvalues from 1 down to 1e-8
    a = rng.normal(size=(500, d)) * scales @ basis.T
    b = rng.normal(size=(600, d)) * scales @ basis.T * 1.1 + 0.01
    routes = _all_routes(a, b)
    assert routes["eigh"] == pytest.approx(routes["low_rank"], rel=1e-9)
    assert routes["eigh"] == pytest.approx(routes["sqrtm"], rel=PARITY)


def test_rank_deficient_routes_agree_when_fewer_samples_than_dimensions():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(96, 96)) / np.sqrt(96)
    a = _features(rng, 40, 96, mix=mix)
    b = _features(rng, 50, 96, mix=mix, scale=1.2, shift=0.1)
    routes = _all_routes(a, b)
    assert routes["eigh"] == pytest.approx(routes["low_rank"], rel=1e-9)  # exact reference
    assert routes["eigh"] == pytest.approx(routes["sqrtm"], rel=PARITY)
    # from statistics alone: pivoted Cholesky of rank N_a − 1 = 39, the same value
    stats = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert stats == pytest.approx(routes["low_rank"], rel=1e-9)
    assert frechet_module._psd_factor(feature_statistics(a)[1], "sigma1").shape == (96, 39)


def test_one_singular_covariance_and_a_constant_feature():
    rng = np.random.default_rng(9)
    mix = rng.normal(size=(32, 32)) / np.sqrt(32)
    a = _features(rng, 300, 32, mix=mix)
    a[:, 5] = 1.0  # a constant feature: Σ_a has rank 31
    b = _features(rng, 20, 32, mix=mix, shift=0.2)  # Σ_b has rank 19
    routes = _all_routes(a, b)
    assert routes["eigh"] == pytest.approx(routes["low_rank"], rel=1e-9)
    assert routes["eigh"] == pytest.approx(routes["sqrtm"], rel=PARITY)
    swapped = _all_routes(b, a)
    assert swapped["eigh"] == pytest.approx(routes["low_rank"], rel=1e-9)


def test_eigh_refuses_a_matrix_that_is_not_a_covariance():
    zero, eye = np.zeros(2), np.eye(2)
    _one_line_error(
        lambda: frechet_distance(zero, np.array([[1.0, 2.0], [0.0, 1.0]]), zero, eye),
        "sigma1 is not symmetric",
    )
    _one_line_error(
        lambda: frechet_distance(zero, eye, zero, np.array([[1.0, 2.0], [2.0, 1.0]])),
        "sigma2 is not positive semi-definite",
    )


@pytest.mark.parametrize("shape", [(300, 8), (30, 64)])
def test_identical_sets_give_zero_not_a_negative_number(shape):
    x = _features(np.random.default_rng(1), *shape)
    scale = np.trace(feature_statistics(x)[1])
    for method, value in _all_routes(x, x).items():
        assert 0.0 <= value <= 1e-9 * scale, method


def test_auto_picks_low_rank_only_when_cheaper(monkeypatch):
    assert frechet_module._low_rank_is_cheaper(100, 100, 2048)
    assert frechet_module._low_rank_is_cheaper(500, 10_000, 2048)
    assert not frechet_module._low_rank_is_cheaper(10_000, 10_000, 2048)
    assert not frechet_module._low_rank_is_cheaper(10_000, 10_000, 64)
    calls = []
    real = frechet_module._frechet_low_rank
    monkeypatch.setattr(
        frechet_module, "_frechet_low_rank", lambda a, b: calls.append(a.shape) or real(a, b)
    )
    rng = np.random.default_rng(2)
    with pytest.warns(FewSamplesWarning):
        few = frechet_distance_from_features(rng.normal(size=(20, 256)), rng.normal(size=(30, 256)))
    many = frechet_distance_from_features(rng.normal(size=(400, 8)), rng.normal(size=(300, 8)))
    assert calls == [(20, 256)] and few > 0 and many > 0


@pytest.fixture(scope="module")
def fashion_features():
    folder = SHARED_DATA / "fashion_mnist"
    if not folder.is_dir():
        pytest.skip(f"Fashion-MNIST IDX files not found under {SHARED_DATA}")
    from jaxgan.data import load
    from jaxgan.metrics.classifier import load_classifier

    clf = load_classifier("fashion_mnist")
    train = load(f"idx:{folder}", split="train").x[:1000]
    test = load(f"idx:{folder}", split="test").x[:1000]
    return clf.features(train).astype(np.float64), clf.features(test).astype(np.float64)


def test_real_features_train_vs_test_split_agree_across_routes(fashion_features):
    train, test = fashion_features  # 128-d classifier features, N = 1000 > d
    routes = _all_routes(train, test)
    assert routes["eigh"] == pytest.approx(routes["sqrtm"], rel=PARITY)
    assert routes["eigh"] == pytest.approx(routes["low_rank"], rel=1e-8)
    assert 0.0 < routes["eigh"] < 10.0
    few = _all_routes(train[:100], test[:100])  # N < d: singular covariances
    assert few["eigh"] == pytest.approx(few["low_rank"], rel=1e-8)
    assert few["eigh"] == pytest.approx(few["sqrtm"], rel=PARITY)
    assert few["eigh"] > routes["eigh"]  # the small-N upward bias the warning describes
    same = _all_routes(train, train)
    assert all(0.0 <= v <= 1e-9 for v in same.values()), same


def test_jax_route_matches_host_in_x64_and_is_close_in_float32(fashion_features):
    train, test = fashion_features
    host = frechet_distance_from_features(train, test)
    with jax.enable_x64(True):
        assert frechet_distance_jax(train, test) == pytest.approx(host, rel=1e-9)
    # float32: the traces (≈ 150) cancel down to FD ≈ 1, so ~1e-5 is the precision available
    assert frechet_distance_jax(train, test) == pytest.approx(host, rel=1e-4)
    with pytest.warns(FewSamplesWarning), jax.enable_x64(True):
        few = frechet_distance_jax(train[:60], test[:80])
    with pytest.warns(FewSamplesWarning):
        assert few == pytest.approx(frechet_distance_from_features(train[:60], test[:80]), rel=1e-9)


# --- edges (issue 22 item 10) --------------------------------------------------------------------


def test_negative_round_off_is_clamped_to_zero_and_large_negatives_warn(monkeypatch):
    stats = (np.zeros(2), np.eye(2), np.zeros(2), np.eye(2))
    monkeypatch.setattr(frechet_module.scipy.linalg, "sqrtm", lambda a: (1 + 1e-9) * np.eye(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert frechet_distance(*stats, method="sqrtm") == 0.0  # raw value −4e-9
    monkeypatch.setattr(frechet_module.scipy.linalg, "sqrtm", lambda a: 1.1 * np.eye(2))
    with pytest.warns(RuntimeWarning, match="more negative than round-off"):
        assert frechet_distance(*stats, method="sqrtm") == 0.0  # raw value −0.4


def test_few_samples_warn_about_the_bias_and_enough_samples_do_not():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(30, 64)), rng.normal(size=(500, 64))
    with pytest.warns(FewSamplesWarning, match=r"N_a=30, N_b=500 .* d=64.*biased upward"):
        frechet_distance_from_features(a, b)
    with pytest.warns(FewSamplesWarning, match="compare FD values only at equal"):
        frechet_distance_jax(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance_from_features(b, b[::-1] + 0.1)
        frechet_distance(*feature_statistics(b), *feature_statistics(b))  # statistics: no N


def _one_line_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_nan_features_are_refused_by_fd_kid_and_prdc_naming_the_input():
    rng = np.random.default_rng(5)
    good, bad = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
    bad[7, 2] = np.nan
    bad[9, 0] = np.inf
    named = r"fake features contains 2 NaN or inf value\(s\), the first in row 7"
    _one_line_error(lambda: prdc(good, bad), named)
    _one_line_error(lambda: precision_recall(good, bad), named)
    _one_line_error(lambda: density_coverage(bad, good), "real features contains 2 NaN")
    _one_line_error(
        lambda: kernel_inception_distance(good, bad, num_subsets=2, subset_size=10),
        "features_b contains 2 NaN",
    )
    _one_line_error(lambda: polynomial_mmd2(bad, good), "features_a contains 2 NaN")
    _one_line_error(lambda: frechet_distance_from_features(good, bad), "features_b contains 2")
    _one_line_error(lambda: frechet_distance_jax(bad, good), "features_a contains NaN")
    _one_line_error(lambda: fid_from_features(bad, good, reference_split="t"), "features_a")


def test_fewer_than_two_samples_is_one_line_error():
    one, many = np.zeros((1, 3)), np.random.default_rng(6).normal(size=(20, 3))
    _one_line_error(lambda: frechet_distance_from_features(one, many), "at least 2 sample")
    _one_line_error(
        lambda: frechet_distance_from_features(many, np.zeros((0, 3))), "at least 2 sample"
    )
    _one_line_error(lambda: feature_statistics(one), "at least 2 sample")
    _one_line_error(lambda: frechet_distance_jax(many, one), "at least 2 sample")
    _one_line_error(lambda: kernel_inception_distance(one, many), "at least 2 sample")
    _one_line_error(lambda: fid_from_features(one, many, reference_split="t"), "at least 2")


def test_unknown_method_is_refused():
    x = np.random.default_rng(7).normal(size=(20, 3))
    _one_line_error(lambda: frechet_distance_from_features(x, x, method="svd"), "one of")
    _one_line_error(
        lambda: frechet_distance(*feature_statistics(x), *feature_statistics(x), method="low_rank"),
        "needs features",
    )


def test_fid_from_features_labels_the_space_it_was_computed_in():
    rng = np.random.default_rng(8)
    small = fid_from_features(
        rng.normal(size=(100, 64)), rng.normal(size=(100, 64)) + 0.1, reference_split="toy"
    )
    text = str(small)
    assert text.startswith("FD ") and "64-d features" in text and "not a standard FID" in text
    assert "TF-Inception-2015-12-05 pool3" not in text and small.feature_dim == 64
    assert small.as_dict()["feature_dim"] == 64
    with pytest.warns(FewSamplesWarning):
        pool3 = fid_from_features(
            rng.normal(size=(20, 2048)), rng.normal(size=(30, 2048)), reference_split="toy"
        )
    assert str(pool3).startswith("FID ") and "TF-Inception-2015-12-05 pool3 (2048-d)" in str(pool3)
