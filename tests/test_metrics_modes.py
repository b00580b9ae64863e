"""Mode counting: PacGAN's 2-D mixture metrics, Stacked MNIST triples, class histograms."""

import numpy as np
import pytest

from jaxgan import data
from jaxgan.metrics.mixture import PACGAN_NUM_SAMPLES, mixture_metrics
from jaxgan.metrics.modes import (
    class_histogram,
    class_histogram_kl,
    stacked_mnist_digits,
    stacked_mnist_modes,
)

RING8 = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], 1)
GRID25 = np.array([[x, y] for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)], float)


def _sample(modes, sigma, which, rng):
    return modes[which] + sigma * rng.normal(size=(len(which), 2))


def test_ring8_all_modes_with_noise():
    rng = np.random.default_rng(0)
    samples = _sample(RING8, 0.01, rng.integers(0, 8, PACGAN_NUM_SAMPLES), rng)
    out = mixture_metrics(samples, RING8, 0.01)
    assert out["modes"] == 8 and out["num_samples"] == 2500
    # P(‖N(0, σ²I₂)‖ < 3σ) = 1 − e^{−4.5} = 0.9889
    assert out["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.01)
    assert 0 <= out["reverse_kl"] < 0.01


def test_ring8_collapse_to_three_modes():
    rng = np.random.default_rng(1)
    samples = _sample(RING8, 0.01, np.repeat([0, 3, 5], 800), rng)
    out = mixture_metrics(samples, RING8, 0.01)
    assert out["modes"] == 3
    assert out["reverse_kl"] == pytest.approx(np.log(8 / 3), abs=0.01)


def test_low_quality_samples_do_not_capture_modes():
    # all samples sit half-way between two ring modes: nearest mode exists but > 3σ away
    midpoints = (RING8 + np.roll(RING8, 1, axis=0)) / 2
    out = mixture_metrics(np.repeat(midpoints, 10, axis=0), RING8, 0.01)
    assert out == {
        "modes": 0,
        "high_quality": 0.0,
        "reverse_kl": out["reverse_kl"],
        "num_samples": 80,
    }
    assert np.isnan(out["reverse_kl"])  # documented choice: undefined histogram → NaN


def test_grid25_hand_made_counts():
    # 3 HQ samples on mode 0, 1 HQ on mode 24, one just outside 3σ of mode 12 (not captured)
    samples = np.array([[-4, -4], [-4.1, -4], [-4, -3.9], [4, 4], [0.16, 0]], float)
    out = mixture_metrics(samples, GRID25, 0.05)
    assert out["modes"] == 2
    assert out["high_quality"] == pytest.approx(0.8)
    p = np.array([0.75, 0.25])
    assert out["reverse_kl"] == pytest.approx(float(np.sum(p * np.log(p * 25))))


def test_mixture_rejects_bad_input():
    with pytest.raises(ValueError, match="sigma"):
        mixture_metrics(np.zeros((3, 2)), RING8, 0.0)
    with pytest.raises(ValueError, match="one D"):
        mixture_metrics(np.zeros((3, 3)), RING8, 0.01)


def test_mixture_by_name_or_spec_equals_the_explicit_table():
    rng = np.random.default_rng(2)
    for name, modes, sigma in [("ring8", RING8, 0.01), ("grid25", GRID25, 0.05)]:
        samples = _sample(modes, sigma, rng.integers(0, len(modes), 500), rng)
        samples[:7] += 0.5  # a few low-quality points
        explicit = mixture_metrics(samples, modes, sigma)
        assert mixture_metrics(samples, name) == explicit
        assert mixture_metrics(samples, data.mixture(name)) == explicit
    with pytest.raises(ValueError, match="do not pass sigma"):
        mixture_metrics(RING8, "ring8", 0.01)
    with pytest.raises(TypeError, match="pass sigma"):
        mixture_metrics(RING8, RING8)
    with pytest.raises(data.UnknownDatasetError, match="ring8, grid25"):
        mixture_metrics(RING8, "ring9")


def test_stacked_mnist_modes_on_hand_made_triples():
    all_triples = np.array([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    out = stacked_mnist_modes(np.concatenate([all_triples] * 26))
    assert out["modes"] == 1000 and out["kl"] == pytest.approx(0.0, abs=1e-12)
    assert out["num_samples"] == 26_000
    collapsed = stacked_mnist_modes(np.tile([[7, 0, 7]], (26_000, 1)))
    assert collapsed["modes"] == 1 and collapsed["kl"] == pytest.approx(np.log(1000))
    order_matters = stacked_mnist_modes(np.array([[1, 2, 3], [3, 2, 1], [1, 2, 3], [1, 2, 3]]))
    assert order_matters["modes"] == 2
    p = np.array([0.75, 0.25])
    assert order_matters["kl"] == pytest.approx(float(np.sum(p * np.log(1000 * p))))


def test_stacked_mnist_channel_kl_separates_skew_from_dependence():
    all_triples = np.array([[a, b, c] for a in range(10) for b in range(10) for c in range(10)])
    # independent channels, channel 0 never shows 0..4: kl == channel_kl == log 2
    skewed = stacked_mnist_modes(all_triples[all_triples[:, 0] >= 5])
    assert skewed["modes"] == 500
    assert skewed["kl"] == pytest.approx(np.log(2))
    assert skewed["channel_kl"] == pytest.approx(np.log(2))
    # balanced channels that always agree (a, a, a): no skew, all of the KL is dependence
    diagonal = stacked_mnist_modes(np.repeat(np.arange(10)[:, None], 3, axis=1))
    assert diagonal["channel_kl"] == pytest.approx(0.0, abs=1e-12)
    assert diagonal["kl"] == pytest.approx(np.log(100))


def test_stacked_mnist_rejects_bad_digits():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        stacked_mnist_modes(np.zeros((5, 2), int))
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        stacked_mnist_modes(np.full((5, 3), 10))
    with pytest.raises(TypeError, match="integer"):
        stacked_mnist_modes(np.zeros((5, 3)))


def test_stacked_mnist_digits_keeps_channel_order():
    images = np.zeros((2, 28, 28, 3), np.uint8)
    images[0, ..., 0], images[0, ..., 1], images[0, ..., 2] = 1, 2, 3
    images[1, ..., 0], images[1, ..., 1], images[1, ..., 2] = 9, 8, 7

    def predict(x):
        assert x.shape == (6, 28, 28, 1)
        return x[:, 0, 0, 0].astype(int)

    np.testing.assert_array_equal(stacked_mnist_digits(images, predict), [[1, 2, 3], [9, 8, 7]])


def test_class_histogram_kl():
    assert class_histogram(np.array([0, 0, 2, 1]), 4).tolist() == [0.5, 0.25, 0.25, 0.0]
    balanced = class_histogram_kl(np.arange(100) % 10, 10)
    assert balanced["kl"] == pytest.approx(0.0) and balanced["classes_covered"] == 10
    half = class_histogram_kl(np.arange(100) % 5, 10)
    assert half["kl"] == pytest.approx(np.log(2)) and half["classes_covered"] == 5
    ref = np.array([0, 0, 0, 1])
    assert class_histogram_kl(np.array([0, 0, 0, 1]), 2, ref)["kl"] == pytest.approx(0.0)
    assert class_histogram_kl(np.array([0, 1]), 3, np.array([0, 0]))["kl"] == np.inf
