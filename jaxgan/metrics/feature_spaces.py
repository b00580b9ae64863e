"""Feature spaces as values: a name, a protocol and a function ``images -> features``.

Reference statistics are keyed and checked on a space's :attr:`FeatureSpace.name` (network,
layer, weights) and :attr:`FeatureSpace.protocol` (what happens to an image before the network
sees it), so a number is never computed against statistics from another space or protocol. Two
spaces come with jaxgan: TF-Inception pool3 under an :class:`FIDProtocol` (standard FID; any new
protocol mode is named by its ``describe()``), and a jaxgan dataset classifier's features.

Example:
    >>> from jaxgan.metrics.classifier import load_classifier
    >>> space = classifier_space(load_classifier("fashion_mnist"))
    >>> space.kind, space.features(np.zeros((2, 28, 28, 1), np.uint8)).shape
    ('classifier', (2, 128))

"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from jaxgan.data import to_uint8_images
from jaxgan.metrics._checks import check_value_range
from jaxgan.metrics.classifier import Classifier

__all__ = ["FeatureSpace", "check_value_range", "classifier_space"]

FeatureFn = Callable[[np.ndarray, "tuple[float, float] | None"], np.ndarray]


@dataclasses.dataclass(frozen=True)
class FeatureSpace:
    """A feature extractor with the names that make its numbers comparable.

    Attributes:
        name: the network, layer and weights (hash), e.g. a classifier's ``feature_space``.
        protocol: the full preprocessing description.
        kind: a short tag for file names (``"inception"``, ``"classifier"``, ...).
        weights: provenance of the weights.
        extract: ``(images, value_range) -> (N, d)`` features; ``value_range`` is None for
            uint8 images.

    Example:
        >>> toy = FeatureSpace("mean-pixel", "none", "toy", "none",
        ...                    lambda x, r: np.asarray(x, float).reshape(len(x), -1)[:, :2])
        >>> toy.features(np.ones((3, 2, 2, 1), np.uint8)).tolist()
        [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]

    """

    name: str
    protocol: str
    kind: str
    weights: str
    extract: FeatureFn = dataclasses.field(compare=False, repr=False)

    def features(
        self, images: np.ndarray, value_range: tuple[float, float] | None = None
    ) -> np.ndarray:
        """Features of an image batch, after checking its value range.

        Args:
            images: NHWC (or NHW) uint8, or float with ``value_range``.
            value_range: ``(lo, hi)`` of float images.

        Returns:
            ``(N, d)`` features.

        Raises:
            ValueError: float images without a range or outside it (one line).

        Example:
            >>> space = FeatureSpace("s", "p", "t", "w", lambda x, r: np.zeros((len(x), 2)))
            >>> space.features(np.full((2, 4, 4), 3.0), (-1, 1))
            Traceback (most recent call last):
            ...
            ValueError: float images span [3, 3] but value_range=(-1, 1): pass the range the images are in, e.g. value_range=(0, 255)

        """  # noqa: E501
        check_value_range(images, value_range)
        return np.asarray(self.extract(images, value_range))


def classifier_space(classifier: Classifier, *, batch_size: int = 1000) -> FeatureSpace:
    """Return a jaxgan dataset classifier's penultimate features as a space (FD, not FID).

    Args:
        classifier: a loaded :class:`jaxgan.metrics.Classifier`.
        batch_size: images per forward pass (one compiled shape; memory grows with it).

    Returns:
        The space; float images are quantised to uint8 as ``jaxgan.data.to_uint8_images`` does.

    Example:
        >>> from jaxgan.metrics.classifier import load_classifier
        >>> classifier_space(load_classifier("mnist")).name.startswith("jaxgan-mnist-cnn")
        True

    """

    def extract(images: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.dtype != np.uint8:
            images = to_uint8_images(images, value_range or (-1.0, 1.0))
        return classifier.features(images, batch_size=batch_size)

    protocol = (
        "float images quantised to uint8 from their value range; uint8 → [0, 1]; penultimate "
        f"features × {classifier.feature_scale:.6g}"
    )
    sha = classifier.metadata.get("sha256", "untracked")[:12]
    return FeatureSpace(classifier.feature_space, protocol, "classifier", f"sha256:{sha}", extract)
