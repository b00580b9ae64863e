"""Mode counts from classifier predictions: Stacked MNIST (1,000 modes) and class histograms.

Stacked MNIST (VEEGAN/PacGAN protocol): each of the three channels of a 28×28×3 sample is classified
by an MNIST classifier (≥ 99% test accuracy); the digit triple is the mode (1,000 possible); on
26,000 samples report the number of distinct triples and KL(p_gen ‖ uniform over 1,000) in nats.
For ordinary labelled data the class-histogram KL is KL(p_gen ‖ p_ref) with p_ref the uniform or
the real class histogram. Both are valid only in the named classifier's space.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.special

from jaxgan.data import STACKED_NUM_MODES, stacked_labels

__all__ = [
    "STACKED_MNIST_NUM_SAMPLES",
    "class_histogram",
    "class_histogram_kl",
    "stacked_mnist_digits",
    "stacked_mnist_modes",
]

#: Number of generated samples the Stacked-MNIST mode count is published on.
STACKED_MNIST_NUM_SAMPLES = 26_000


def _labels(labels: np.ndarray, num_classes: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"{name} must be integer class ids, got dtype {labels.dtype}; take the "
            "argmax of the classifier's probabilities first"
        )
    if labels.size == 0:
        raise ValueError(f"{name} is empty")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"{name} must lie in [0, {num_classes - 1}], got range [{labels.min()}, {labels.max()}]"
        )
    return labels


def class_histogram(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Normalised histogram of integer class labels.

    Args:
        labels: integer array of any shape with values in ``[0, num_classes)``.
        num_classes: number of classes.

    Returns:
        float64 array ``(num_classes,)`` summing to 1.

    Example:
        >>> class_histogram(np.array([0, 0, 2, 1]), 4).tolist()
        [0.5, 0.25, 0.25, 0.0]

    """
    labels = _labels(labels, num_classes, "labels").ravel()
    return np.bincount(labels, minlength=num_classes) / labels.size


def class_histogram_kl(
    labels: np.ndarray, num_classes: int, reference_labels: np.ndarray | None = None
) -> dict[str, float | int]:
    """KL(p_gen ‖ p_ref) of predicted class histograms, in nats, and the classes covered.

    Classes absent from the generated histogram contribute 0; a generated class absent from the
    reference makes the KL infinite.

    Args:
        labels: predicted classes of generated samples, integers in ``[0, num_classes)``.
        num_classes: number of classes.
        reference_labels: classes of real samples (true or predicted); ``None`` compares with the
            uniform histogram.

    Returns:
        ``{"kl": float, "classes_covered": int, "num_samples": int}``.

    Example:
        >>> round(class_histogram_kl(np.zeros(100, int), 10)["kl"], 4)  # total collapse: log 10
        2.3026

    """
    p = class_histogram(labels, num_classes)
    q = (
        np.full(num_classes, 1.0 / num_classes)
        if reference_labels is None
        else class_histogram(reference_labels, num_classes)
    )
    return {
        "kl": float(scipy.special.rel_entr(p, q).sum()),
        "classes_covered": int(np.count_nonzero(p)),
        "num_samples": int(np.size(labels)),
    }


def stacked_mnist_modes(digits: np.ndarray) -> dict[str, float | int]:
    """Distinct digit triples and KL(p_gen ‖ uniform over 1,000) for Stacked MNIST.

    Args:
        digits: predicted digits per channel, integer array ``(N, 3)`` in 0..9 (channel order is
            part of the mode: (1, 2, 3) and (3, 2, 1) differ). Published with N = 26,000.

    Returns:
        ``{"modes": int (0..1000), "kl": float (nats), "channel_kl": float (nats),
        "num_samples": int}``. ``channel_kl`` is Σ over channels of KL(that channel's digit
        histogram ‖ uniform over 10): the part of ``kl`` due to unbalanced digits within a
        channel. ``kl − channel_kl`` ≥ 0 is the dependence between channels (their total
        correlation), so a generator with independent but skewed channels has
        ``kl == channel_kl``.

    Example:
        >>> stacked_mnist_modes(np.array([[1, 2, 3], [1, 2, 3], [3, 2, 1]]))["modes"]
        2

    """
    digits = _labels(digits, 10, "digits")
    if digits.ndim != 2 or digits.shape[1] != 3:
        raise ValueError(
            f"digits must have shape (N, 3), one digit per channel, got {digits.shape}"
        )
    hist = class_histogram_kl(stacked_labels(digits), STACKED_NUM_MODES)
    channel_kl = sum(class_histogram_kl(digits[:, c], 10)["kl"] for c in range(3))
    return {
        "modes": hist["classes_covered"],
        "kl": hist["kl"],
        "channel_kl": float(channel_kl),
        "num_samples": len(digits),
    }


def stacked_mnist_digits(
    images: np.ndarray, predict: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Classify each channel of Stacked-MNIST images with a single-channel digit classifier.

    Args:
        images: uint8 array ``(N, 28, 28, 3)``, one MNIST digit per channel.
        predict: maps uint8 images ``(M, 28, 28, 1)`` to integer labels ``(M,)``, e.g.
            ``load_classifier("mnist").predict``.

    Returns:
        int array ``(N, 3)`` of digits, channel order preserved.

    Example:
        >>> fake_predict = lambda x: (x.reshape(len(x), -1).mean(axis=1) > 0).astype(int)
        >>> stacked_mnist_digits(np.zeros((2, 28, 28, 3), np.uint8), fake_predict).shape
        (2, 3)

    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"Stacked-MNIST images must have shape (N, H, W, 3), got {images.shape}")
    n, h, w, _ = images.shape
    channels = np.moveaxis(images, -1, 1).reshape(n * 3, h, w, 1)  # sample-major, channel-minor
    labels = np.asarray(predict(channels))
    if labels.shape != (n * 3,):
        raise ValueError(f"predict returned shape {labels.shape}, expected ({n * 3},) labels")
    return labels.reshape(n, 3)
