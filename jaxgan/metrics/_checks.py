"""Input checks shared by the feature-space metrics: a feature matrix, and two from one space."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def feature_matrix(x: Any, name: str, *, min_samples: int = 1, why: str = "") -> Any:
    """Check that ``x`` is a ``(num_samples, feature_dim)`` matrix with enough rows.

    Args:
        x: numpy or jax array (jax arrays stay on their device), or anything numpy takes.
        name: what to call it in the error.
        min_samples: the fewest rows the metric can use.
        why: why it needs that many, appended to the error (e.g. ``" for k-NN radii"``).

    Returns:
        ``x`` itself (as a numpy array when it had no shape).

    Raises:
        ValueError: not 2-D, fewer than `min_samples` rows, or NaN/infinite values.

    Example:
        >>> feature_matrix(np.zeros((3, 2)), "real", min_samples=2).shape
        (3, 2)

    """
    if not hasattr(x, "ndim"):
        x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (num_samples, feature_dim), got shape {x.shape}")
    if x.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} sample(s){why}, got {x.shape[0]}")
    xp = jnp if isinstance(x, jax.Array) else np  # a device array is checked where it is
    if not bool(xp.isfinite(x).all()):
        rows = int((~np.isfinite(np.asarray(x)).all(axis=1)).sum())
        raise ValueError(
            f"{name} has NaN or infinite features in {rows} of {x.shape[0]} samples; a metric "
            "of them would mean nothing (were the samples made by a diverged generator?)"
        )
    return x


def same_feature_dim(a: Any, b: Any) -> None:
    """Check that two feature matrices have one feature dimension (one extractor made both).

    Args:
        a: ``(N, d)`` matrix.
        b: ``(M, d')`` matrix.

    Raises:
        ValueError: ``d != d'``.

    Example:
        >>> same_feature_dim(np.zeros((3, 2)), np.zeros((5, 2)))

    """
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ ({a.shape[1]} vs {b.shape[1]}); both sets "
                         "must come from one feature extractor")
