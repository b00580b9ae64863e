"""Toy 2-D Gaussian mixtures with PacGAN's exact geometry (Lin et al. 2018, Table 1).

ring8: 8 means ``(cos 2πi/8, sin 2πi/8)``, i = 0..7 (radius 1, no repeated endpoint), σ = 0.01.
grid25: 25 means ``{−4, −2, 0, 2, 4}²``, σ = 0.05. Each point picks a mode uniformly at random
and adds isotropic Gaussian noise; the label is the mode index.

`mixture(name)` is the one table of these specs: the loader draws from it and the mode metrics
(`jaxgan.metrics.mixture_metrics`) score against it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from jaxgan.data.dataset import SPLITS, Dataset, UnknownDatasetError

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


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """An equal-weight isotropic Gaussian mixture: its name, means and common σ.

    Attributes:
        name: the dataset name (``"ring8"``, ``"grid25"``).
        modes: float64 means ``(K, D)``, stored read-only.
        sigma: standard deviation of every component; PacGAN's high-quality radius is 3σ.

    Example:
        >>> spec = Mixture("pair", np.array([[0.0, 0.0], [1.0, 0.0]]), 0.1)
        >>> spec.num_modes, spec.modes.flags.writeable
        (2, False)

    """

    name: str
    modes: np.ndarray
    sigma: float

    def __post_init__(self) -> None:
        modes = np.array(self.modes, dtype=np.float64)  # a copy: the caller's array stays theirs
        if modes.ndim != 2 or len(modes) == 0:
            raise ValueError(f"mixture {self.name!r}: modes must be (K, D), got {modes.shape}")
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"mixture {self.name!r}: sigma must be positive, got {self.sigma}")
        modes.setflags(write=False)
        object.__setattr__(self, "modes", modes)

    @property
    def num_modes(self) -> int:
        """Number of components K."""
        return len(self.modes)


_MIXTURES = {
    spec.name: spec
    for spec in (
        Mixture("ring8", ring8_modes(), RING8_SIGMA),
        Mixture("grid25", grid25_modes(), GRID25_SIGMA),
    )
}


def mixture_names() -> tuple[str, ...]:
    """Return the names of the built-in toy mixtures, in the order `names()` lists them.

    Returns:
        ``("ring8", "grid25")``.

    Example:
        >>> "grid25" in mixture_names()
        True

    """
    return tuple(_MIXTURES)


def mixture(name: str) -> Mixture:
    """Look up a built-in toy mixture by name.

    Args:
        name: one of `mixture_names()`.

    Returns:
        The read-only `Mixture` spec.

    Raises:
        UnknownDatasetError: `name` is not a built-in mixture (the message lists them).

    Example:
        >>> spec = mixture("ring8")
        >>> spec.num_modes, spec.sigma
        (8, 0.01)

    """
    if not isinstance(name, str) or name not in _MIXTURES:
        raise UnknownDatasetError(
            f"unknown mixture {name!r}: the toy mixtures are {', '.join(_MIXTURES)}"
        )
    return _MIXTURES[name]


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
        name: one of `mixture_names()`.
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
    spec = mixture(name)
    seq = np.random.SeedSequence([seed, SPLITS.index(split)])
    num_points = DEFAULT_NUM_POINTS if size is None else size
    points, labels = sample_mixture(spec.modes, spec.sigma, num_points, seq)
    return Dataset(points, labels, name, "points", spec.num_modes, split)
