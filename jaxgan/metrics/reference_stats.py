"""Reference statistics: the mean and covariance of real-image features, saved once, reused.

A Fréchet distance needs only μ and Σ of the reference features, so they are computed once per
(data, split, N, feature space, protocol) and stored as a :class:`ReferenceStats` file: plain
arrays in an ``.npz`` (read with ``allow_pickle=False``) beside a JSON metadata string that names
the feature space, the full preprocessing protocol, the weights, the source and N, and a sha256
over all of it. Loading verifies the sha256; :meth:`ReferenceStats.check` refuses statistics from
another feature space or protocol with one line that names both. Optional per-class statistics
serve the intra-class FD of conditional generators (:func:`intra_class_fd`).

Example:
    >>> rng = np.random.default_rng(0)
    >>> stats = ReferenceStats.from_features(rng.normal(size=(100, 3)), feature_space="toy-3",
    ...                                      protocol="none", source="toy:train")
    >>> stats.n, stats.mu.shape, round(stats.fd(rng.normal(size=(100, 3))), 2)
    (100, (3,), 0.09)

"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan.metrics._checks import feature_matrix
from jaxgan.metrics.frechet import feature_statistics, frechet_distance

__all__ = ["ReferenceStats", "intra_class_fd"]

_FORMAT = "jaxgan-reference-stats-v1"
_CLASS_ARRAYS = ("class_ids", "class_n", "class_mu", "class_sigma")


def _fix(array: Any, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=dtype))


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceStats:
    """μ, Σ and N of reference features, with the feature space, protocol and source named.

    Attributes:
        mu: mean, float64 ``(d,)``.
        sigma: covariance (N − 1 normalisation), float64 ``(d, d)``.
        n: number of reference samples (≥ 2).
        feature_space: the network and layer, with its weights' hash, e.g. a classifier's
            ``feature_space`` or TF-Inception pool3.
        protocol: the full preprocessing description (e.g. ``FIDProtocol.describe()``).
        weights: provenance of the network weights.
        source: which images, ``"dataset:split[:limit]"``.
        class_ids: per-class statistics: the class of each row below (or None).
        class_n: samples per class.
        class_mu: per-class means ``(C, d)``.
        class_sigma: per-class covariances ``(C, d, d)``.

    Example:
        >>> x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 4.0]])
        >>> s = ReferenceStats.from_features(x, feature_space="toy", protocol="p", source="s")
        >>> s.n, s.sha256 == ReferenceStats.from_features(
        ...     x, feature_space="toy", protocol="p", source="s").sha256
        (3, True)

    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    feature_space: str
    protocol: str
    weights: str = "unknown"
    source: str = "unknown"
    class_ids: np.ndarray | None = None
    class_n: np.ndarray | None = None
    class_mu: np.ndarray | None = None
    class_sigma: np.ndarray | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "mu", _fix(self.mu, np.float64))
        set_(self, "sigma", _fix(self.sigma, np.float64))
        d = self.mu.shape[0] if self.mu.ndim == 1 else -1
        if self.mu.ndim != 1 or self.sigma.shape != (d, d):
            raise ValueError(
                f"reference statistics need mu (d,) and sigma (d, d), got {self.mu.shape} and "
                f"{self.sigma.shape}"
            )
        if not isinstance(self.n, int | np.integer) or self.n < 2:
            raise ValueError(
                f"reference statistics need N ≥ 2 samples (a covariance), got {self.n}"
            )
        set_(self, "n", int(self.n))
        if not (np.isfinite(self.mu).all() and np.isfinite(self.sigma).all()):
            raise ValueError("reference statistics contain NaN or inf; recompute them")
        if self.class_ids is not None:
            set_(self, "class_ids", _fix(self.class_ids, np.int64))
            set_(self, "class_n", _fix(self.class_n, np.int64))
            set_(self, "class_mu", _fix(self.class_mu, np.float64))
            set_(self, "class_sigma", _fix(self.class_sigma, np.float64))
            c = len(self.class_ids)
            shapes = (self.class_n.shape, self.class_mu.shape, self.class_sigma.shape)
            if shapes != ((c,), (c, d), (c, d, d)):
                raise ValueError(f"per-class statistics have inconsistent shapes {shapes}")

    @property
    def dim(self) -> int:
        """Feature width d."""
        return int(self.mu.shape[0])

    @property
    def per_class(self) -> bool:
        """Whether per-class statistics are included."""
        return self.class_ids is not None

    def metadata(self) -> dict[str, Any]:
        """Return the JSON-able description (everything but the arrays), without the sha256.

        Returns:
            ``{"format", "n", "dim", "feature_space", "protocol", "weights", "source"}``.

        Example:
            >>> s = ReferenceStats(np.zeros(2), np.eye(2), 5, "toy", "p")
            >>> s.metadata()["n"], s.metadata()["dim"]
            (5, 2)

        """
        return {
            "format": _FORMAT,
            "n": self.n,
            "dim": self.dim,
            "feature_space": self.feature_space,
            "protocol": self.protocol,
            "weights": self.weights,
            "source": self.source,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays, by the names they have in the file.

        Returns:
            ``mu``, ``sigma`` and, with per-class statistics, ``class_ids``, ``class_n``,
            ``class_mu``, ``class_sigma``.

        Example:
            >>> sorted(ReferenceStats(np.zeros(2), np.eye(2), 5, "toy", "p").arrays())
            ['mu', 'sigma']

        """
        out = {"mu": self.mu, "sigma": self.sigma}
        if self.per_class:
            out.update({name: getattr(self, name) for name in _CLASS_ARRAYS})
        return out

    @property
    def sha256(self) -> str:
        """sha256 over the metadata and every array's name, dtype, shape and bytes."""
        digest = hashlib.sha256(json.dumps(self.metadata(), sort_keys=True).encode())
        for name, array in sorted(self.arrays().items()):
            digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
            digest.update(array.tobytes())
        return digest.hexdigest()

    @classmethod
    def from_features(
        cls,
        features: np.ndarray,
        *,
        feature_space: str,
        protocol: str,
        weights: str = "unknown",
        source: str = "unknown",
        labels: np.ndarray | None = None,
    ) -> ReferenceStats:
        """Compute the statistics of a feature matrix (and per class, given labels).

        Args:
            features: ``(N, d)``, N ≥ 2, every value finite.
            feature_space: the space's name (see the attributes).
            protocol: the preprocessing description.
            weights: the weights' provenance.
            source: which images.
            labels: ``(N,)`` class labels for per-class statistics (classes with fewer than 2
                samples are left out), or None.

        Returns:
            The statistics.

        Raises:
            ValueError: N < 2, NaN/inf features, or labels of another length.

        Example:
            >>> f = np.arange(8.0).reshape(4, 2)
            >>> s = ReferenceStats.from_features(f, feature_space="t", protocol="p",
            ...                                  labels=np.array([0, 0, 1, 1]))
            >>> s.class_ids.tolist(), s.class_n.tolist()
            ([0, 1], [2, 2])

        """
        features = feature_matrix(np.asarray(features), "reference features", min_samples=2,
                                  why=" to estimate a covariance")  # fmt: skip
        mu, sigma = feature_statistics(features)
        per_class: dict[str, Any] = {}
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != len(features):
                raise ValueError(f"{len(labels)} labels for {len(features)} reference features")
            ids = [c for c in np.unique(labels) if (labels == c).sum() >= 2]
            stats = [feature_statistics(features[labels == c]) for c in ids]
            d = features.shape[1]
            per_class = {
                "class_ids": np.asarray(ids, np.int64),
                "class_n": np.asarray([(labels == c).sum() for c in ids], np.int64),
                "class_mu": np.stack([m for m, _ in stats]) if ids else np.zeros((0, d)),
                "class_sigma": np.stack([s for _, s in stats]) if ids else np.zeros((0, d, d)),
            }
        return cls(mu, sigma, len(features), feature_space, protocol, weights, source, **per_class)

    def check(self, feature_space: str, protocol: str) -> None:
        """Refuse use in another feature space or under another protocol (one line, both named).

        Args:
            feature_space: the space the new features are in.
            protocol: the protocol they were computed under.

        Raises:
            ValueError: either differs.

        Example:
            >>> s = ReferenceStats(np.zeros(2), np.eye(2), 5, "toy", "p1", source="a")
            >>> s.check("toy", "p2")
            Traceback (most recent call last):
            ...
            ValueError: reference statistics of a were computed under protocol 'p1', these images under protocol 'p2'; recompute them under the same protocol (jaxgan fid-stats)

        """  # noqa: E501
        if feature_space != self.feature_space:
            raise ValueError(
                f"reference statistics of {self.source} are in feature space "
                f"'{self.feature_space}', these images in '{feature_space}'; compute statistics "
                "in that space (jaxgan fid-stats --space ...)"
            )
        if protocol != self.protocol:
            raise ValueError(
                f"reference statistics of {self.source} were computed under protocol "
                f"'{self.protocol}', these images under protocol '{protocol}'; recompute them "
                "under the same protocol (jaxgan fid-stats)"
            )

    def fd(self, features: np.ndarray) -> float:
        """Fréchet distance between ``features`` and these statistics.

        Args:
            features: ``(N, d)`` features in this space, N ≥ 2, all finite.

        Returns:
            The distance (eigenvalue route of :func:`jaxgan.metrics.frechet_distance`).

        Raises:
            ValueError: malformed or non-finite features, N < 2 or another width.

        Example:
            >>> s = ReferenceStats(np.zeros(2), np.eye(2), 5, "toy", "p")
            >>> round(s.fd(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])), 4)
            0.0673

        """
        mu, sigma = feature_statistics(self._features(features, "features"))
        return frechet_distance(mu, sigma, self.mu, self.sigma)

    def _features(self, features: np.ndarray, name: str) -> np.ndarray:
        features = feature_matrix(np.asarray(features), name, min_samples=2,
                                  why=" to estimate a covariance")  # fmt: skip
        if features.shape[1] != self.dim:
            raise ValueError(
                f"{name} are {features.shape[1]}-d, the reference statistics {self.dim}-d "
                f"({self.feature_space}); both must come from one feature extractor"
            )
        return features

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the statistics to ``path`` (.npz) atomically: a temporary file, then a rename.

        Args:
            path: destination file (its folder must exist).

        Returns:
            The path written.

        Example:
            >>> import tempfile
            >>> s = ReferenceStats(np.zeros(2), np.eye(2), 5, "toy", "p")
            >>> with tempfile.TemporaryDirectory() as d:
            ...     ReferenceStats.load(s.save(Path(d) / "s.npz")).sha256 == s.sha256
            True

        """
        path = Path(path)
        meta = {**self.metadata(), "sha256": self.sha256}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as stream:
                np.savez(stream, metadata=np.array(json.dumps(meta)), **self.arrays())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReferenceStats:
        """Read statistics written by :meth:`save`, verifying their sha256 (no pickle).

        Args:
            path: an ``.npz`` written by :meth:`save` (``jaxgan fid-stats``).

        Returns:
            The statistics.

        Raises:
            FileNotFoundError: no such file.
            ValueError: not a statistics file, or its sha256 does not match (corrupt or
                edited).

        Example:
            >>> ReferenceStats.load("missing.npz")
            Traceback (most recent call last):
            ...
            FileNotFoundError: no reference statistics at missing.npz; write them with jaxgan fid-stats

        """  # noqa: E501
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no reference statistics at {path}; write them with jaxgan fid-stats"
            )
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            meta = json.loads(str(arrays.pop("metadata")))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            stats = cls(
                arrays["mu"], arrays["sigma"], int(meta["n"]), meta["feature_space"],
                meta["protocol"], meta["weights"], meta["source"],
                **{name: arrays.get(name) for name in _CLASS_ARRAYS},
            )  # fmt: skip
        except (OSError, EOFError, zipfile.BadZipFile, KeyError, TypeError, ValueError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ValueError(
                f"{path} is not a readable reference-statistics file ({detail}); delete it and "
                "recompute it with jaxgan fid-stats"
            ) from None
        if stats.sha256 != meta.get("sha256"):
            raise ValueError(
                f"{path}: the sha256 of its statistics does not match the recorded one (the file "
                "is corrupt or was edited); delete it and recompute it with jaxgan fid-stats"
            )
        return stats


def intra_class_fd(
    features: np.ndarray, labels: np.ndarray, reference: ReferenceStats
) -> dict[str, Any]:
    """Fréchet distance per class between generated features and per-class reference statistics.

    Args:
        features: ``(N, d)`` features of generated images.
        labels: ``(N,)`` the labels they were generated with.
        reference: statistics with per-class entries (``from_features(..., labels=...)``).

    Returns:
        ``{"mean": mean FD over the classes that have one (or None), "per_class": [{"class",
        "n", "fd"}, ...]}``; a class with fewer than 2 samples on either side gets ``fd`` None.

    Raises:
        ValueError: the reference has no per-class statistics, or malformed features.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(400, 2)), np.repeat([0, 1], 200)
        >>> ref = ReferenceStats.from_features(x, feature_space="t", protocol="p", labels=y)
        >>> out = intra_class_fd(x, y, ref)
        >>> [round(r["fd"], 6) for r in out["per_class"]], out["mean"] < 1e-9
        ([0.0, 0.0], True)

    """
    if not reference.per_class:
        raise ValueError(
            f"reference statistics of {reference.source} have no per-class entries; compute "
            "them with labels (jaxgan fid-stats --per-class)"
        )
    features = reference._features(features, "generated features")
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(features):
        raise ValueError(f"{len(labels)} labels for {len(features)} generated features")
    index = {int(c): i for i, c in enumerate(reference.class_ids)}
    rows = []
    for c in np.unique(labels):
        mine = labels == c
        fd = None
        if mine.sum() >= 2 and int(c) in index:
            i = index[int(c)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # few samples per class: comparable at equal N
                mu, sigma = feature_statistics(features[mine])
                fd = frechet_distance(mu, sigma, reference.class_mu[i], reference.class_sigma[i])
        rows.append({"class": int(c), "n": int(mine.sum()), "fd": fd})
    fds = [r["fd"] for r in rows if r["fd"] is not None]
    return {"mean": float(np.mean(fds)) if fds else None, "per_class": rows}
