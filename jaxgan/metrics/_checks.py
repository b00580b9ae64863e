"""Input checks shared by the feature-space metrics: a feature matrix, and two from one space."""

from __future__ import annotations

from typing import Any

import numpy as np


def feature_matrix(x: Any, name: str, *, min_samples: int = 1, why: str = "") -> Any:
    """Check a feature matrix: 2-D, real numbers, enough rows, every value finite.

    NaN or inf features make every metric meaningless in its own way (FD raised, KID returned
    NaN, PRDC returned 0.0 everywhere), so all of them refuse such input here.

    Args:
        x: numpy or jax array (jax arrays stay on their device), or anything numpy takes.
        name: what to call it in the error.
        min_samples: the fewest rows the metric can use.
        why: why it needs that many, appended to the error (e.g. ``" for k-NN radii"``).

    Returns:
        ``x`` itself (as a numpy array when it had no shape).

    Raises:
        ValueError: not 2-D, fewer than ``min_samples`` rows, or a NaN/inf value (the message
            counts them and names the first row holding one).
        TypeError: a dtype that is not real-valued numeric.

    Example:
        >>> feature_matrix(np.zeros((3, 2)), "real", min_samples=2).shape
        (3, 2)
        >>> feature_matrix(np.array([[0.0, 1.0], [np.nan, 2.0]]), "fake")
        Traceback (most recent call last):
        ...
        ValueError: fake contains 1 NaN or inf value(s), the first in row 1; check the feature extractor and its input images

    """  # noqa: E501
    if not hasattr(x, "ndim"):
        x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (num_samples, feature_dim), got shape {x.shape}; flatten or "
            "pool your features first"
        )
    dtype = np.dtype(x.dtype)
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"{name} must be real-valued numeric, got dtype {dtype}")
    if x.shape[0] < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} sample(s){why}, got {x.shape[0]}")
    finite = x if isinstance(x, np.ndarray) else None
    ok = bool(np.isfinite(finite).all()) if finite is not None else bool(_all_finite(x))
    if not ok:
        bad = ~np.isfinite(np.asarray(x))
        first_row = int(np.argmax(bad.any(axis=1)))
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or inf value(s), the first in row "
            f"{first_row}; check the feature extractor and its input images"
        )
    return x


#: Slack of the value-range check, as a share of ``hi − lo`` (float round-off of a tanh output).
RANGE_TOLERANCE = 1e-3


def check_value_range(images: np.ndarray, value_range: tuple[float, float] | None) -> None:
    """Refuse float images without a value range or with values outside it.

    A generator in [-1, 1] measured as (0, 1), or uint8-valued floats measured as (-1, 1), would
    be clipped silently into another picture; this check makes that a one-line error.

    Args:
        images: the batch (uint8 passes unchecked).
        value_range: ``(lo, hi)`` for float images.

    Raises:
        ValueError: no range for floats, ``lo >= hi``, NaN, or values beyond the range.

    Example:
        >>> check_value_range(np.array([-1.0, 0.5, 1.0]), (-1, 1))

    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return
    if value_range is None:
        raise ValueError(
            "float images need value_range=(lo, hi), e.g. (-1, 1) for a tanh generator or (0, 1); "
            "or pass uint8 images"
        )
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"value_range must be (lo, hi) with lo < hi, got {value_range}")
    if images.size == 0:
        return
    low, high = float(np.min(images)), float(np.max(images))
    if np.isnan(low) or np.isnan(high):
        raise ValueError("images contain NaN; check the generator output before measuring it")
    slack = RANGE_TOLERANCE * (hi - lo)
    if low < lo - slack or high > hi + slack:
        raise ValueError(
            f"images hold values in [{low:.4g}, {high:.4g}], outside value_range "
            f"({value_range[0]:g}, {value_range[1]:g}); pass the range the images are in, e.g. "
            "(0, 255) or (0, 1)"
        )


def _all_finite(x: Any) -> Any:
    """One reduction where the array lives (a jax array is not copied to the host for it)."""
    import jax.numpy as jnp

    return jnp.isfinite(x).all()


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
        raise ValueError(
            f"feature dimensions differ ({a.shape[1]} vs {b.shape[1]}); both sets "
            "must come from one feature extractor"
        )
