"""The Fréchet distance of generated images to reference statistics, in any feature space.

:func:`fd_to_reference` takes ``"NAME[:split][:limit]"`` (the named cache of
:mod:`jaxgan.metrics.reference`), a statistics file or :class:`ReferenceStats`, checks that they
are in the same space and under the same protocol, and measures only the generated images.
:func:`write_reference_stats` is ``jaxgan fid-stats``.

Example:
    >>> from jaxgan import data
    >>> from jaxgan.metrics.classifier import load_classifier
    >>> space = classifier_space(load_classifier("fashion_mnist"))
    >>> real = data.load("fashion_mnist_sample", "test", limit=100).x
    >>> str(fd_to_reference(real, "fashion_mnist_sample:test:100", space=space))[:9]
    'FD 0.0000'

"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from jaxgan.metrics import reference
from jaxgan.metrics.classifier import load_classifier
from jaxgan.metrics.feature_spaces import FeatureSpace, classifier_space
from jaxgan.metrics.fid import POOL3_DIM, FIDResult, inception_space
from jaxgan.metrics.reference import resolve_reference
from jaxgan.metrics.reference_stats import ReferenceStats

__all__ = ["fd_to_reference", "space_by_name", "write_reference_stats"]


def fd_to_reference(
    fake: np.ndarray,
    reference: str | os.PathLike[str] | ReferenceStats,
    *,
    space: FeatureSpace,
    fake_range: tuple[float, float] | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> FIDResult:
    """Fréchet distance of generated images to reference statistics, in ``space``.

    One pass of ``fake`` through the feature network; the reference costs nothing once cached.
    In the Inception space the result prints as FID, in any other as FD.

    Args:
        fake: generated images, NHWC/NHW, uint8 or float with ``fake_range``.
        reference: see :func:`resolve_reference`.
        space: the feature space.
        fake_range: ``(lo, hi)`` of float images, e.g. ``(-1, 1)``.
        folder: the cache folder (default :func:`cache_dir`).

    Returns:
        A :class:`~jaxgan.metrics.fid.FIDResult` (N_ref and the split come from the statistics).

    Raises:
        ValueError: mismatched space or protocol, corrupt statistics, bad images, NaN features,
            fewer than 2 images.

    Example:
        >>> from jaxgan import data
        >>> from jaxgan.metrics.classifier import load_classifier
        >>> space = classifier_space(load_classifier("fashion_mnist"))
        >>> real = data.load("fashion_mnist_sample", "test", limit=100).x
        >>> result = fd_to_reference(real, "fashion_mnist_sample:test:100", space=space)
        >>> round(float(result), 6), str(result)[:2]
        (0.0, 'FD')

    """
    stats = resolve_reference(reference, space, folder=folder)
    features = space.features(fake, fake_range)
    value = stats.fd(features)
    if stats.dim == POOL3_DIM and space.kind == "inception":
        protocol = stats.protocol
    else:
        protocol = f"{stats.feature_space}; {stats.protocol}: an FD, not a standard FID"
    return FIDResult(
        value, len(features), stats.n, stats.source, protocol, stats.weights, stats.dim
    )


def space_by_name(name: str, dataset: str | None = None) -> FeatureSpace:
    """Build a space from a command-line name.

    Args:
        name: ``"inception"``, ``"classifier"`` (the classifier that fits ``dataset``) or
            ``"classifier:NAME|PATH"``.
        dataset: the dataset name, to pick a classifier.

    Returns:
        The space.

    Raises:
        ValueError: an unknown name, or no classifier fits ``dataset``.

    Example:
        >>> space_by_name("classifier", "fashion_mnist").name.startswith("jaxgan-fashion_mnist")
        True

    """
    if name == "inception":
        return inception_space()
    if name.startswith("classifier:"):
        return classifier_space(load_classifier(name.split(":", 1)[1]))
    if name == "classifier":
        lowered = (dataset or "").lower()
        if "fashion" in lowered:
            return classifier_space(load_classifier("fashion_mnist"))
        if "mnist" in lowered:
            return classifier_space(load_classifier("mnist"))
        raise ValueError(
            f"no built-in classifier fits data {dataset!r}: use --space classifier:PATH (a .json "
            "written by scripts/train_classifier.py) or --space inception"
        )
    raise ValueError(
        f"unknown feature space {name!r}: use inception, classifier or classifier:NAME|PATH"
    )


def write_reference_stats(
    data_ref: str,
    *,
    space: str | FeatureSpace = "inception",
    limit: int | None = None,
    per_class: bool = False,
    out: str | os.PathLike[str] | None = None,
) -> tuple[Path, ReferenceStats]:
    """Write statistics of ``NAME[:split]`` to a file or the cache (``jaxgan fid-stats``).

    Args:
        data_ref: ``"NAME[:split]"`` (split defaults to train).
        space: a :class:`FeatureSpace` or a name for
            :func:`~jaxgan.metrics.feature_spaces.space_by_name` (``inception``, ``classifier``,
            ``classifier:NAME``).
        limit: the first ``limit`` images (None: all).
        per_class: also per-class statistics.
        out: write here (an ``.npz``) instead of the named cache.

    Returns:
        ``(path written, statistics)``.

    Raises:
        ValueError: a bad name, N < 2, NaN features, an out path that is not ``.npz``.

    Example:
        >>> path, stats = write_reference_stats("fashion_mnist_sample:test", limit=50,
        ...                                     space="classifier")
        >>> path.parent == reference.cache_dir(), stats.n
        (True, 50)

    """
    name, split, given = reference.parse_reference(data_ref)
    if given is not None:
        raise ValueError(f"give N with --limit, not in {data_ref!r}")
    if out is not None and not str(out).endswith(".npz"):
        raise ValueError(f"--out must name an .npz file, got {out}")
    if isinstance(space, str):
        space = space_by_name(space, name)
    if out is None:
        stats = reference.reference_stats_for(
            name, split, limit=limit, space=space, per_class=per_class
        )
        return reference.cache_path(f"{name}:{split}", limit, space, per_class=per_class), stats
    stats = reference.reference_stats_for(
        name, split, limit=limit, space=space, per_class=per_class, cache=False
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return stats.save(out), stats
