"""Named reference statistics: ``"fashion_mnist:train"`` → μ, Σ computed once and cached.

:func:`reference_stats_for` computes the statistics of a dataset split (optionally its first
``limit`` images, optionally per class) in a :class:`~jaxgan.metrics.feature_spaces.FeatureSpace`
and keeps them in a named cache: ``$JAXGAN_CACHE_DIR/reference_stats`` when that variable is set,
else ``$XDG_CACHE_HOME/jaxgan/reference_stats`` (``~/.cache/...``). A file's name holds the
dataset, split, N, space kind and a short hash of (source, N, per-class, space name, protocol), so
another protocol or feature space never hits another's file; a loaded entry is verified (sha256)
and checked against the space before use. A cache folder that cannot be written never stops a
measurement: it is computed without caching, with one warning line.
:func:`jaxgan.metrics.reference_fd.fd_to_reference` is the FD of generated images against such
statistics, and ``jaxgan.metrics.fid(fake, reference=...)`` the FID.

Example:
    >>> from jaxgan.metrics.classifier import load_classifier
    >>> from jaxgan.metrics.feature_spaces import classifier_space
    >>> space = classifier_space(load_classifier("fashion_mnist"))
    >>> stats = reference_stats_for("fashion_mnist_sample", "test", limit=100, space=space)
    >>> stats.n, stats.source
    (100, 'fashion_mnist_sample:test[:100]')

"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jaxgan import data
from jaxgan.metrics.feature_spaces import FeatureSpace
from jaxgan.metrics.reference_stats import ReferenceStats

__all__ = [
    "CACHE_ENV",
    "ReferenceCacheWarning",
    "cache_dir",
    "cache_path",
    "cached_reference_stats",
    "features_sha256",
    "parse_reference",
    "reference_stats_for",
    "reference_stats_of_images",
    "resolve_reference",
]

CACHE_ENV = "JAXGAN_CACHE_DIR"
_SPLITS = ("train", "test", "validation")


class ReferenceCacheWarning(UserWarning):
    """The reference-statistics cache could not be used; the statistics were computed anyway."""


def cache_dir() -> Path:
    """Return the cache folder of reference statistics (created on first write).

    Returns:
        ``$JAXGAN_CACHE_DIR/reference_stats``, else ``$XDG_CACHE_HOME/jaxgan/reference_stats``
        (``~/.cache/jaxgan/reference_stats``).

    Example:
        >>> cache_dir().name
        'reference_stats'

    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser() / "reference_stats"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxgan" / "reference_stats"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:48] or "data"


def cache_path(
    source: str,
    limit: int | None,
    space: FeatureSpace,
    *,
    per_class: bool = False,
    folder: str | os.PathLike[str] | None = None,
) -> Path:
    """Return the cache file of one (source, N, per-class, space, protocol).

    Args:
        source: ``"dataset:split"`` (or any string that names the images).
        limit: the first ``limit`` images, or None for all.
        space: the feature space.
        per_class: whether per-class statistics are included.
        folder: the cache folder (default :func:`cache_dir`).

    Returns:
        ``<folder>/<source>-n<limit|all>-<kind>[-per_class]-<hash12>.npz``.

    Example:
        >>> toy = FeatureSpace("s", "p", "toy", "w", lambda x, r: x)
        >>> cache_path("mnist:train", 10000, toy, folder="/c").name[:23]
        'mnist_train-n10000-toy-'

    """
    key = json.dumps([source, limit, per_class, space.name, space.protocol])
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    count = "all" if limit is None else str(limit)
    extra = "-per_class" if per_class else ""
    name = f"{_slug(source)}-n{count}-{_slug(space.kind)}{extra}-{digest}.npz"
    return Path(folder if folder is not None else cache_dir()) / name


def cached_reference_stats(
    path: Path, space: FeatureSpace, compute: Callable[[], ReferenceStats]
) -> ReferenceStats:
    """Load verified statistics from ``path``, or compute them and write them there.

    A damaged or mismatching entry is recomputed and replaced (one warning line); a folder
    that cannot be written leaves the statistics computed but uncached (one warning line).

    Args:
        path: the cache file (:func:`cache_path`).
        space: the space the statistics must be in.
        compute: makes the statistics on a miss.

    Returns:
        The statistics.

    Example:
        >>> stats = cached_reference_stats(path, space, compute)  # doctest: +SKIP

    """
    if path.is_file():
        try:
            stats = ReferenceStats.load(path)
            stats.check(space.name, space.protocol)
            return stats
        except ValueError as err:
            warnings.warn(f"recomputing a bad cache entry: {err}", ReferenceCacheWarning,
                          stacklevel=2)  # fmt: skip
    stats = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        stats.save(path)
    except OSError as err:
        warnings.warn(
            f"reference statistics not cached: cannot write {path.parent} "
            f"({err.strerror or type(err).__name__}); set {CACHE_ENV} to a writable folder",
            ReferenceCacheWarning,
            stacklevel=2,
        )
    return stats


def parse_reference(text: str) -> tuple[str, str, int | None]:
    """Split ``"NAME[:split][:limit]"`` into (name, split, limit).

    Args:
        text: e.g. ``"fashion_mnist"``, ``"fashion_mnist:test"``, ``"mnist:train:10000"``,
            ``"idx:/data/fmnist:test"``.

    Returns:
        ``(name, split, limit)``; split defaults to ``"train"``, limit to None (all).

    Raises:
        ValueError: an empty name or a limit below 2.

    Example:
        >>> parse_reference("idx:/data/fmnist:test:500")
        ('idx:/data/fmnist', 'test', 500)

    """
    name, split, limit = text, "train", None
    head, _, tail = name.rpartition(":")
    if head and tail.isdigit():
        name, limit = head, int(tail)
    head, _, tail = name.rpartition(":")
    if head and tail in _SPLITS:
        name, split = head, tail
    if not name:
        raise ValueError(f"reference {text!r} names no dataset: use NAME[:split][:limit]")
    if limit is not None and limit < 2:
        raise ValueError(f"reference {text!r}: N must be at least 2 (a covariance), got {limit}")
    return name, split, limit


def reference_stats_for(
    dataset: str,
    split: str = "train",
    *,
    limit: int | None = None,
    space: FeatureSpace,
    per_class: bool = False,
    cache: bool = True,
    folder: str | os.PathLike[str] | None = None,
) -> ReferenceStats:
    """Statistics of a dataset split in ``space``, from the cache or computed (and cached).

    Args:
        dataset: a ``jaxgan.data.load`` name.
        split: ``"train"`` or ``"test"``.
        limit: use the first ``limit`` images (None: all).
        space: the feature space.
        per_class: also per-class statistics (needs labels).
        cache: use the named cache (False: always compute, write nothing).
        folder: the cache folder (default :func:`cache_dir`).

    Returns:
        The statistics (``source`` is ``"dataset:split[:limit]"``).

    Raises:
        ValueError: N < 2, NaN features, no labels for ``per_class``, or a dataset error.

    Example:
        >>> reference_stats_for("fashion_mnist", space=space)  # doctest: +SKIP

    """
    if limit is not None and limit < 2:
        raise ValueError(f"N must be at least 2 to estimate a covariance, got --limit {limit}")
    source = f"{dataset}:{split}" + (f"[:{limit}]" if limit is not None else "")

    def compute() -> ReferenceStats:
        ds = data.load(dataset, split, limit=limit)
        if ds.kind != "image":
            raise ValueError(f"{dataset} holds {ds.kind} data, not images: no feature space fits")
        if per_class and ds.y is None:
            raise ValueError(f"{dataset} {split} has no labels: per-class statistics need them")
        return ReferenceStats.from_features(
            space.features(ds.x),
            feature_space=space.name,
            protocol=space.protocol,
            weights=space.weights,
            source=source,
            labels=ds.y if per_class else None,
        )

    if not cache:
        return compute()
    path = cache_path(f"{dataset}:{split}", limit, space, per_class=per_class, folder=folder)
    return cached_reference_stats(path, space, compute)


def reference_stats_of_images(
    images: np.ndarray,
    source: str,
    *,
    space: FeatureSpace,
    folder: str | os.PathLike[str] | None = None,
) -> ReferenceStats:
    """Statistics of an in-memory image set, cached under a hash of the images' bytes.

    For reference sets that no dataset name pins down (a training subset, ``data_limit``,
    k images per class): the cache key holds the images' sha256, so other images never hit it.

    Args:
        images: uint8 images ``(N, H, W, C)``.
        source: a readable name, e.g. ``"fashion_mnist:train"``.
        space: the feature space.
        folder: the cache folder (default :func:`cache_dir`).

    Returns:
        The statistics (``source`` gets ``" images sha256:<12 hex>"`` appended).

    Example:
        >>> x = data.load("fashion_mnist_sample", "test", limit=20).x
        >>> reference_stats_of_images(x, "sample", space=space).source  # doctest: +SKIP
        'sample images sha256:...'

    """
    source = f"{source} images sha256:{features_sha256(images)}"

    def compute() -> ReferenceStats:
        return ReferenceStats.from_features(
            space.features(images), feature_space=space.name, protocol=space.protocol,
            weights=space.weights, source=source,
        )  # fmt: skip

    return cached_reference_stats(cache_path(source, len(images), space, folder=folder), space,
                                  compute)  # fmt: skip


def resolve_reference(
    reference: str | os.PathLike[str] | ReferenceStats,
    space: FeatureSpace,
    *,
    folder: str | os.PathLike[str] | None = None,
) -> ReferenceStats:
    """Turn statistics, a statistics file or ``"NAME[:split][:limit]"`` into checked statistics.

    Args:
        reference: a :class:`ReferenceStats`, an ``.npz`` path (``jaxgan fid-stats --out``), or
            a dataset reference for the named cache.
        space: the space the generated images are measured in.
        folder: the cache folder (default :func:`cache_dir`).

    Returns:
        The statistics.

    Raises:
        ValueError: another feature space or protocol, a corrupt file, a bad name.
        FileNotFoundError: an ``.npz`` path that does not exist.

    Example:
        >>> resolve_reference("fashion_mnist:test", space)  # doctest: +SKIP

    """
    if isinstance(reference, ReferenceStats):
        stats = reference
    elif isinstance(reference, os.PathLike) or str(reference).endswith(".npz"):
        stats = ReferenceStats.load(reference)
    else:
        name, split, limit = parse_reference(str(reference))
        stats = reference_stats_for(name, split, limit=limit, space=space, folder=folder)
    stats.check(space.name, space.protocol)
    return stats


def features_sha256(images: np.ndarray) -> str:
    """Short sha256 of an image array (names an in-memory reference set in a cache key).

    Args:
        images: any array.

    Returns:
        The first 12 hex digits over dtype, shape and bytes.

    Example:
        >>> len(features_sha256(np.zeros((2, 2), np.uint8)))
        12

    """
    images = np.ascontiguousarray(images)
    digest = hashlib.sha256(f"{images.dtype.str}:{images.shape}".encode())
    digest.update(images.tobytes())
    return digest.hexdigest()[:12]
