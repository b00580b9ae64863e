"""Per-class quality of a conditional generator, measured by a classifier.

Two numbers per class ``c``, both in a jaxgan classifier's space (``jaxgan.metrics``):

- **CAS-on-self**: the fraction of samples generated with label ``c`` that the classifier
  assigns to class ``c`` (the generator's label fidelity; a perfect one scores the classifier's
  own accuracy on real images);
- **intra-class FD**: the Fréchet distance between the classifier features of the generated
  class-``c`` samples and those of the real class-``c`` images
  (``jaxgan.metrics.intra_class_fd``, the same computation as ``jaxgan eval``'s).

Example:
    >>> from jaxgan.metrics import load_classifier
    >>> report = class_quality(x_fake, y_fake, x_real, y_real,  # doctest: +SKIP
    ...                        load_classifier("fashion_mnist"))
    >>> report["accuracy"], report["mean_intra_fd"]  # doctest: +SKIP

"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxgan.metrics import Classifier, ReferenceStats, classifier_space, intra_class_fd

__all__ = ["class_quality"]


def class_quality(
    fake: np.ndarray,
    fake_labels: np.ndarray,
    real: np.ndarray,
    real_labels: np.ndarray,
    classifier: Classifier,
) -> dict[str, Any]:
    """Return CAS-on-self and intra-class FD, per class and averaged over classes.

    Args:
        fake: generated uint8 images ``(N, H, W, C)``.
        fake_labels: the labels they were generated with ``(N,)``.
        real: real uint8 images (e.g. the test split).
        real_labels: their labels.
        classifier: the classifier whose predictions and features are used.

    Returns:
        ``{"accuracy", "mean_intra_fd", "per_class": [{"class", "n", "accuracy", "fd"}, ...],
        "feature_space"}``; a class with fewer than 2 samples on either side gets ``fd`` None.

    Example:
        >>> from jaxgan.metrics.classifier import load_classifier
        >>> from jaxgan import data
        >>> ds = data.load("fashion_mnist_sample", "test", limit=200)
        >>> clf = load_classifier("fashion_mnist")
        >>> q = class_quality(ds.x, ds.y, ds.x, ds.y, clf)  # real vs itself: FD 0
        >>> q["accuracy"] > 0.8, max(abs(c["fd"]) for c in q["per_class"]) < 1e-6
        (True, True)

    """
    fake_labels = np.asarray(fake_labels)
    fake_features, fake_logits = classifier.apply(fake)
    space = classifier_space(classifier)
    reference = ReferenceStats.from_features(
        classifier.features(real),
        feature_space=space.name,
        protocol=space.protocol,
        labels=np.asarray(real_labels),
    )
    intra = intra_class_fd(fake_features, fake_labels, reference)
    predicted = np.argmax(fake_logits, axis=-1)
    rows = [
        {**row, "accuracy": float(np.mean(predicted[fake_labels == row["class"]] == row["class"]))}
        for row in intra["per_class"]
    ]
    return {
        "accuracy": float(np.mean(predicted == fake_labels)),
        "mean_intra_fd": intra["mean"],
        "per_class": rows,
        "feature_space": classifier.feature_space,
    }
