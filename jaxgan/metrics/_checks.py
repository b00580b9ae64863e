"""Input checks shared by the metrics (a feature matrix, two from one space), and a float32 cast."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
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


#: Float images may leave their ``value_range`` by this fraction of its span (a generator's
#: overshoot, clipped by quantization); beyond it the range is wrong and any metric would be too.
RANGE_SLACK = 0.5


def check_value_range(images: np.ndarray, value_range: tuple[float, float] | None) -> None:
    """Refuse a batch whose values contradict its stated range (a wrong range, never a number).

    uint8 images are read as [0, 255]: a ``value_range`` other than None or ``(0, 255)`` says the
    caller believes they are something else. Float images may overshoot ``(lo, hi)`` by up to
    half its span (clipped later, as saving a PNG clips); further out, e.g. [0, 255] floats
    declared ``(-1, 1)``, or any NaN/inf, is an error.

    Args:
        images: The batch (any shape).
        value_range: ``(lo, hi)`` stated for it (None: uint8 only).

    Raises:
        ValueError: One line naming the observed and the stated range.

    Example:
        >>> check_value_range(np.array([-1.1, 0.9]), (-1, 1))
        >>> try:
        ...     check_value_range(np.array([0.0, 255.0]), (-1, 1))
        ... except ValueError as error:
        ...     print(str(error)[:54])
        float images span [0, 255] but value_range=(-1, 1): pa

    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        if value_range is not None and tuple(float(v) for v in value_range) != (0.0, 255.0):
            raise ValueError(
                f"uint8 images are read as [0, 255], but value_range={tuple(value_range)} was "
                "given: pass value_range=None for uint8, or the float images themselves"
            )
        return
    if value_range is None:
        raise ValueError(
            "float images need value_range=(lo, hi), e.g. (-1, 1) for a tanh generator or (0, 1); "
            "or pass uint8 images"
        )
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"value_range must be (lo, hi) with lo < hi, got {value_range}")
    low, high = float(np.min(images)), float(np.max(images))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("images contain NaN or inf; check the generator output first")
    slack = RANGE_SLACK * (hi - lo)
    if low < lo - slack or high > hi + slack:
        guess = "(0, 255)" if high > 2 else "(0, 1)" if low >= 0 else "(-1, 1)"
        raise ValueError(
            f"float images span [{low:g}, {high:g}] but value_range=({lo:g}, {hi:g}): pass the "
            f"range the images are in, e.g. value_range={guess}"
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


def as_float32(x: Any) -> jax.Array:
    """Return ``x`` as a float32 jax array without compiling a program for host input.

    Host arrays are cast by numpy and copied with ``jax.device_put``: ``jnp.asarray`` of a
    numpy array compiles one small XLA program per shape (and a float64 cast another). A jax
    array is cast where it is (no copy when it is float32 already).

    Args:
        x: numpy or jax array, or anything numpy takes.

    Returns:
        A float32 ``jax.Array`` of ``x``'s shape.

    Example:
        >>> y = as_float32(np.array([[1.0, 2.0]]))  # float64 in
        >>> type(y).__name__, y.dtype, y.tolist()
        ('ArrayImpl', dtype('float32'), [[1.0, 2.0]])

    """
    if isinstance(x, jax.Array):
        return x.astype(jnp.float32)
    return jax.device_put(np.asarray(x, np.float32))
