"""Inception-style score from class probabilities (Salimans et al. 2016).

IS = exp(E_x KL(p(y|x) ‖ p(y))), computed on ``num_splits`` equal splits and reported as mean ± std
(ddof 0) over splits, as the original code does. High when every sample is classified confidently
(quality) and the marginal class histogram is spread (diversity); bounded by the number of classes.
With the original InceptionV3 it is "the Inception Score"; with a dataset classifier (e.g. our MNIST
CNN) it is a classifier score valid only in that classifier's space: name it next to the number.
"""

from __future__ import annotations

import numpy as np
import scipy.special

__all__ = ["inception_score"]


def inception_score(probabilities: np.ndarray, *, num_splits: int = 10) -> dict[str, float]:
    """Inception-style score of class probabilities, mean ± std over splits.

    Args:
        probabilities: array ``(N, num_classes)`` of rows that are probability vectors (softmax
            outputs, not logits), N ≥ num_splits.
        num_splits: equal consecutive splits (standard: 10); the last ``N mod num_splits`` rows are
            dropped.

    Returns:
        ``{"score_mean": float, "score_std": float, "num_splits": int}``.

    Example:
        >>> sure = np.eye(10)[np.arange(1000) % 10]  # confident and evenly spread over 10 classes
        >>> round(inception_score(sure)["score_mean"], 6)
        10.0

    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(
            f"probabilities must be 2-D (num_samples, num_classes ≥ 2), got shape {p.shape}"
        )
    if not 1 <= num_splits <= p.shape[0]:
        raise ValueError(f"num_splits must be in [1, num_samples={p.shape[0]}], got {num_splits}")
    rows_ok = np.allclose(p.sum(axis=1), 1.0, atol=1e-3)
    if not np.all(np.isfinite(p)) or np.any(p < 0) or not rows_ok:
        raise ValueError(
            "probabilities must be non-negative rows summing to 1; apply softmax to logits first"
        )
    size = p.shape[0] // num_splits
    scores = []
    for part in np.split(p[: size * num_splits], num_splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = scipy.special.rel_entr(part, marginal).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return {
        "score_mean": float(np.mean(scores)),
        "score_std": float(np.std(scores)),
        "num_splits": int(num_splits),
    }
