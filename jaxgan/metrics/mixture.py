"""Mode-collapse metrics on 2-D Gaussian mixtures with PacGAN's definitions (Lin et al. 2018).

On 2,500 generated samples (the published protocol): a sample is *high-quality* if its Euclidean
distance to the nearest mode mean is < 3σ; a mode is *captured* if at least one high-quality sample
has it as nearest mode; the *reverse KL* is KL(p ‖ uniform) in nats, where p is the histogram of the
high-quality samples over the modes. Edge cases, decided here: modes with no high-quality sample
contribute 0 · log 0 = 0; with no high-quality sample at all p is undefined and ``reverse_kl`` is
NaN (not inf, so that a mean over trials cannot silently turn into a huge finite-looking number).
The mixtures' means and σ come from one table, `jaxgan.data.mixture(name)`.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from jaxgan.data import Mixture, mixture

__all__ = ["PACGAN_NUM_SAMPLES", "mixture_metrics"]

#: Number of generated samples PacGAN and VEEGAN evaluate on.
PACGAN_NUM_SAMPLES = 2500


def mixture_metrics(
    samples: np.ndarray, modes: Mixture | str | np.ndarray, sigma: float | None = None
) -> dict[str, float | int]:
    """Count captured modes, the high-quality fraction and reverse KL of 2-D mixture samples.

    Args:
        samples: generated points ``(N, 2)``; PacGAN uses N = 2,500.
        modes: the mixture: a name (``"ring8"``, ``"grid25"``) or `jaxgan.data.Mixture`, which
            bring their own σ; or the means ``(K, 2)`` of any other mixture, with `sigma`.
        sigma: with an array of means only: the standard deviation of each mixture component.
            The high-quality radius is 3σ.

    Returns:
        ``{"modes": int (captured, 0..K), "high_quality": float (fraction of all samples),
        "reverse_kl": float (nats; NaN when no sample is high-quality), "num_samples": int}``.

    Example:
        >>> modes = np.array([[0.0, 0.0], [1.0, 0.0]])
        >>> m = mixture_metrics(np.array([[0.0, 0.01], [0.0, -0.01], [5.0, 5.0]]), modes, 0.01)
        >>> m["modes"], round(m["high_quality"], 3), round(m["reverse_kl"], 4)  # log 2
        (1, 0.667, 0.6931)
        >>> mixture_metrics(mixture("ring8").modes, "ring8")["modes"]  # the means themselves
        8

    """
    if isinstance(modes, str):
        modes = mixture(modes)
    if isinstance(modes, Mixture):
        if sigma is not None:
            raise ValueError(f"mixture {modes.name!r} has sigma {modes.sigma}; do not pass sigma")
        modes, sigma = modes.modes, modes.sigma
    elif sigma is None:
        raise TypeError("pass sigma with an array of modes, or a mixture name such as 'ring8'")
    samples = np.asarray(samples, dtype=np.float64)
    modes = np.asarray(modes, dtype=np.float64)
    if samples.ndim != 2 or modes.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(
            f"samples (N, D) and modes (K, D) must be 2-D with one D, got "
            f"{samples.shape} and {modes.shape}"
        )
    if samples.shape[0] == 0 or modes.shape[0] == 0:
        raise ValueError("mixture_metrics needs at least one sample and one mode")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a positive float, got {sigma}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or inf; the generator diverged")
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
    nearest = np.argmin(distances, axis=1)
    high_quality = distances[np.arange(len(samples)), nearest] < 3.0 * sigma
    counts = np.bincount(nearest[high_quality], minlength=len(modes))
    if counts.sum() == 0:
        reverse_kl = float("nan")
    else:
        p = counts / counts.sum()
        reverse_kl = float(scipy.special.rel_entr(p, 1.0 / len(modes)).sum())
    return {
        "modes": int(np.count_nonzero(counts)),
        "high_quality": float(high_quality.mean()),
        "reverse_kl": reverse_kl,
        "num_samples": len(samples),
    }
