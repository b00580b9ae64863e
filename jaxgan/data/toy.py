"""Toy 2-D Gaussian mixtures with PacGAN's exact geometry (Lin et al. 2018, Table 1).

ring8: 8 means ``(cos 2πi/8, sin 2πi/8)``, i = 0..7 (radius 1, no repeated endpoint), σ = 0.01.
grid25: 25 means ``{−4, −2, 0, 2, 4}²``, σ = 0.05. Each point picks a mode uniformly at random
and adds isotropic Gaussian noise; the label is the mode index.
"""

from __future__ import annotations

import numpy as np

from jaxgan.data.dataset import SPLITS, Dataset

RING8_SIGMA = 0.01
RING8_RADIUS = 1.0
GRID25_SIGMA = 0.05
DEFAULT_NUM_POINTS = 100_000


def ring8_modes() -> np.ndarray:
    """Return the 8 ring means on the unit circle, mode i at angle 2πi/8.

    Returns:
        float64 array of shape (8, 2).

    Example:
        >>> np.round(ring8_modes()[2], 6)
        array([0., 1.])

    """
    angles = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
    return RING8_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid25_modes() -> np.ndarray:
    """Return the 25 grid means {−4, −2, 0, 2, 4}², ordered by x then y.

    Returns:
        float64 array of shape (25, 2).

    Example:
        >>> grid25_modes()[:2]
        array([[-4., -4.],
               [-4., -2.]])

    """
    axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def sample_mixture(
    modes: np.ndarray, sigma: float, num_points: int, seed: int | np.random.SeedSequence
) -> tuple[np.ndarray, np.ndarray]:
    """Draw points from an equal-weight isotropic Gaussian mixture.

    Args:
        modes: (K, D) mixture means.
        sigma: standard deviation of every component.
        num_points: how many points to draw.
        seed: numpy seed (an int or a `SeedSequence`).

    Returns:
        ``(points, labels)``: float32 (num_points, D) and int32 (num_points,) mode indices.

    Example:
        >>> points, labels = sample_mixture(ring8_modes(), RING8_SIGMA, 4, seed=0)
        >>> points.shape, labels.dtype
        ((4, 2), dtype('int32'))

    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(modes), size=num_points).astype(np.int32)
    noise = rng.standard_normal((num_points, modes.shape[1]))
    return (modes[labels] + sigma * noise).astype(np.float32), labels


def load_mixture(name: str, split: str = "train", *, size: int | None = None, seed: int = 0):
    """Build the ``ring8`` or ``grid25`` dataset.

    Train and test splits use independent streams of the same seed.

    Args:
        name: ``"ring8"`` or ``"grid25"``.
        split: ``"train"`` or ``"test"``.
        size: number of points (default 100,000, PacGAN's training set size).
        seed: seed of the draw.

    Returns:
        A points `Dataset`: float32 x of shape (size, 2), y the mode index, num_classes the
        number of modes.

    Example:
        >>> ds = load_mixture("grid25", size=10)
        >>> ds.x.shape, ds.num_classes
        ((10, 2), 25)

    """
    modes, sigma = {
        "ring8": (ring8_modes(), RING8_SIGMA),
        "grid25": (grid25_modes(), GRID25_SIGMA),
    }[name]
    seq = np.random.SeedSequence([seed, SPLITS.index(split)])
    points, labels = sample_mixture(modes, sigma, DEFAULT_NUM_POINTS if size is None else size, seq)
    return Dataset(points, labels, name, "points", len(modes), split)
