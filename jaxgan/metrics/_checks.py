"""Input checks shared by the feature-space metrics (FD, KID, PRDC): one line per bad input."""

from __future__ import annotations

import numpy as np


def check_features(
    features: np.ndarray, name: str, *, min_samples: int = 2, purpose: str = ""
) -> np.ndarray:
    """Check a feature matrix: 2-D, numeric, enough rows, every value finite.

    NaN or inf features make every metric meaningless in its own way (FD raised, KID returned
    NaN, PRDC returned 0.0 everywhere), so all of them refuse such input here.

    Args:
        features: array of shape ``(N, d)``.
        name: the argument's name, used in the error messages.
        min_samples: the least N accepted.
        purpose: why the metric needs ``min_samples`` rows, appended to that message.

    Returns:
        ``features`` as a NumPy array, dtype unchanged.

    Raises:
        ValueError: on another rank, too few rows, or a NaN/inf value (the message counts them
            and names the first row holding one).
        TypeError: on a non-numeric dtype.

    Example:
        >>> check_features(np.zeros((3, 2)), "real").shape
        (3, 2)
        >>> check_features(np.array([[0.0, 1.0], [np.nan, 2.0]]), "fake")
        Traceback (most recent call last):
        ...
        ValueError: fake contains 1 NaN or inf value(s), the first in row 1; check the feature extractor and its input images

    """  # noqa: E501
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (num_samples, feature_dim), got shape "
                         f"{features.shape}; flatten or pool your features first")
    if not np.issubdtype(features.dtype, np.number) or np.iscomplexobj(features):
        raise TypeError(f"{name} must be real-valued numeric, got dtype {features.dtype}")
    if features.shape[0] < min_samples:
        why = f" {purpose}" if purpose else ""
        raise ValueError(f"{name} needs at least {min_samples} samples{why}, got "
                         f"{features.shape[0]}")
    bad = ~np.isfinite(features)
    if bad.any():
        first_row = int(np.argmax(bad.any(axis=1)))
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or inf value(s), the first in row "
                         f"{first_row}; check the feature extractor and its input images")
    return features
