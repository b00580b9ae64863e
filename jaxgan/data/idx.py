"""Read MNIST-format IDX files (gzip or raw) with numpy: no download, no TensorFlow.

The IDX format (LeCun's MNIST page) is a 4-byte magic number ``00 00 <type> <rank>``, then
`rank` big-endian uint32 dimensions, then the values in C order. The original MNIST and
Fashion-MNIST files, and Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist``), use this format.

`read_idx` reads in bounded steps: the header first (magic, type code, rank, dimensions), then
checks the header against the file size (raw files: exactly; ``.gz`` files: the promised size
must be within what deflate can expand a file of that size to), and only then reads the body
straight into its array, in chunks, refusing short or extra data. A file that is not IDX costs 4
bytes of reading, and memory never exceeds what a header consistent with the file promises.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from jaxgan.data.dataset import (
    DataFormatError,
    Dataset,
    DatasetUnavailableError,
    infer_num_classes,
)

# IDX type byte -> numpy dtype (multi-byte types are big-endian on disk).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot expand data by more than ~1032:1, so a .gz file of n bytes holds at most this
# many times n bytes (with a margin for gzip member headers): a header that promises more lies.
_MAX_GZIP_RATIO = 1100
_READ_CHUNK = 1 << 24  # bytes read (or decompressed) per step
# File stems per split, in the spellings the MNIST-family distributions use.
_SPLIT_STEMS = {"train": ("train",), "test": ("t10k", "test")}


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of one (uncompressed) IDX file into an array.

    Args:
        raw: the whole file content.
        source: where the bytes came from, used in error messages.

    Returns:
        A read-only array in native byte order with the shape stored in the header.

    Raises:
        DataFormatError: bad magic, unknown type code, truncated header, or a data size that
            does not match the header.

    Example:
        >>> parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))
        array([7, 9], dtype=uint8)

    """
    dtype, shape, header_size = _parse_header(io.BytesIO(raw).read, source)
    count = math.prod(shape)
    _check_data_size(source, shape, count * dtype.itemsize, len(raw) - header_size)
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header_size).reshape(shape)
    return _native_read_only(array)


def _native_read_only(array: np.ndarray) -> np.ndarray:
    """Return ``array`` in native byte order, read-only."""
    if array.dtype.itemsize > 1:
        array = array.astype(array.dtype.newbyteorder("="))
    array.flags.writeable = False
    return array


def _read_exact(read: Callable[[int], bytes], size: int) -> bytes:
    """Read up to ``size`` bytes with ``read``, looping over short reads; shorter only at EOF."""
    parts, got = [], 0
    while got < size:
        part = read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _parse_header(read: Callable[[int], bytes], source: str) -> tuple[np.dtype, tuple, int]:
    """Read and check an IDX header from a stream: ``(dtype, shape, header size in bytes)``."""
    magic = _read_exact(read, 4)
    if len(magic) < 4:
        raise DataFormatError(
            f"{source}: {len(magic)} bytes is too short for an IDX header (needs 4+); "
            "the file is truncated, download it again"
        )
    if magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES or magic[3] == 0:
        raise DataFormatError(
            f"{source}: not an IDX file (magic bytes {magic.hex()}, expected 0000 + type "
            "08/09/0b/0c/0d/0e + rank); pass MNIST-format files such as train-images-idx3-ubyte.gz"
        )
    dtype, rank = _IDX_DTYPES[magic[2]], magic[3]
    header_size = 4 + 4 * rank
    dims = _read_exact(read, 4 * rank)
    if len(dims) < 4 * rank:
        raise DataFormatError(
            f"{source}: IDX header of rank {rank} needs {header_size} bytes, the file has "
            f"{4 + len(dims)}; the file is truncated, download it again"
        )
    return dtype, struct.unpack(f">{rank}I", dims), header_size


def _check_data_size(source: str, shape: tuple, expected: int, found: int | str) -> None:
    """Raise a one-line error when the data bytes do not match what the header promises."""
    if found != expected:
        raise DataFormatError(
            f"{source}: IDX header says shape {shape} ({expected} data bytes) but the file holds "
            f"{found}; the file is truncated or corrupt, download it again"
        )


def encode_idx(array: np.ndarray) -> bytes:
    """Encode an array as the bytes of an (uncompressed) IDX file; the inverse of `parse_idx`.

    Args:
        array: an array of rank 1..255 with dtype uint8, int8, int16, int32, float32 or float64.

    Returns:
        The IDX bytes (header + big-endian values). Gzip them for ``.gz`` files.

    Raises:
        TypeError: the dtype has no IDX type code.

    Example:
        >>> raw = encode_idx(np.zeros((2, 3), np.uint8))  # 4 magic + 2*4 dims + 6 values
        >>> len(raw), parse_idx(raw).shape
        (18, (2, 3))

    """
    array = np.asarray(array)
    codes = {dt.newbyteorder(">"): code for code, dt in _IDX_DTYPES.items()}
    big_endian = array.dtype.newbyteorder(">")
    if big_endian not in codes or array.ndim == 0:
        raise TypeError(
            f"cannot store {array.dtype} of rank {array.ndim} as IDX: use uint8, int8, int16, "
            "int32, float32 or float64 with rank >= 1"
        )
    header = bytes([0, 0, codes[big_endian], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + np.ascontiguousarray(array, dtype=big_endian).tobytes()


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file, gzip-compressed or not (detected from its first bytes).

    Args:
        path: path of the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        The stored array (see `parse_idx`).

    Raises:
        DatasetUnavailableError: the file does not exist.
        DataFormatError: the file is corrupt, truncated, longer than its header says or not IDX
            (checked from the header and the file size before the body is read).

    Example:
        >>> from jaxgan.data.bundled import bundled_dir
        >>> read_idx(bundled_dir() / "fashion_mnist_sample-t10k-images-idx3-ubyte.gz").shape
        (1000, 28, 28)

    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            compressed = handle.read(2) == _GZIP_MAGIC
            handle.seek(0)
            file_size = os.fstat(handle.fileno()).st_size
            if compressed:
                return _read_gzip(handle, file_size, str(path))
            return _read_stream(handle, file_size, str(path))
    except FileNotFoundError:
        raise DatasetUnavailableError(f"IDX file not found: {path}") from None
    except IsADirectoryError:
        raise DataFormatError(f"{path} is a folder, expected an IDX file") from None


def _read_stream(stream: BinaryIO, file_size: int, source: str) -> np.ndarray:
    """Read an uncompressed IDX file: header, size check against the file, then the body."""
    dtype, shape, header_size = _parse_header(stream.read, source)
    count = math.prod(shape)
    _check_data_size(source, shape, count * dtype.itemsize, file_size - header_size)
    return _read_body(stream, dtype, shape, source)


def _read_gzip(handle: BinaryIO, file_size: int, source: str) -> np.ndarray:
    """Read a gzip-compressed IDX file, decompressing in bounded chunks, header first."""
    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as stream:
            dtype, shape, header_size = _parse_header(stream.read, source)
            expected = math.prod(shape) * dtype.itemsize
            if header_size + expected > _MAX_GZIP_RATIO * max(file_size, 1):
                raise DataFormatError(
                    f"{source}: IDX header says shape {shape} ({expected} data bytes), more than "
                    f"a {file_size}-byte gzip file can hold; the file is corrupt, download it again"
                )
            return _read_body(stream, dtype, shape, source)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DataFormatError(
            f"{source}: broken gzip stream ({err}); the file is truncated or corrupt, "
            "download it again"
        ) from None


def _read_body(stream: BinaryIO, dtype: np.dtype, shape: tuple, source: str) -> np.ndarray:
    """Read exactly the body the header promises into a fresh array; refuse short or extra data."""
    expected = math.prod(shape) * dtype.itemsize
    array = np.empty(shape, dtype)
    buffer = memoryview(array.reshape(-1).view(np.uint8))
    filled = 0
    while filled < expected:
        got = stream.readinto(buffer[filled : filled + _READ_CHUNK])
        if not got:  # the stream ended early
            _check_data_size(source, shape, expected, filled)  # raises: filled < expected
        filled += got
    if stream.read(1):  # for gzip this also reaches the member's end and checks its CRC
        _check_data_size(source, shape, expected, f"more than {expected}")  # raises
    return _native_read_only(array)


def find_idx_file(folder: Path, split: str, kind: str, prefix: str = "") -> Path | None:
    """Find the images or labels file of a split in an MNIST-style folder.

    Accepts the spellings ``train-images-idx3-ubyte``, ``train-images.idx3-ubyte`` and
    ``t10k-``/``test-`` for the test split, each optionally ending in ``.gz``.

    Args:
        folder: the folder to look in.
        split: ``"train"`` or ``"test"``.
        kind: ``"images"`` (idx3) or ``"labels"`` (idx1).
        prefix: a file name prefix (the bundled sample uses ``"fashion_mnist_sample-"``).

    Returns:
        The first matching path, or None when the folder holds none.

    Example:
        >>> find_idx_file(Path("/nonexistent"), "train", "images") is None
        True

    """
    rank = {"images": 3, "labels": 1}[kind]
    for stem in _SPLIT_STEMS[split]:
        for sep in ("-", "."):
            for ext in ("", ".gz"):
                candidate = folder / f"{prefix}{stem}-{kind}{sep}idx{rank}-ubyte{ext}"
                if candidate.is_file():
                    return candidate
    return None


def load_idx(
    path: str | os.PathLike[str], split: str = "train", *, name: str | None = None, prefix: str = ""
) -> Dataset:
    """Load an MNIST-format split from a folder of IDX files, or from one images file.

    Args:
        path: a folder holding ``train-images-idx3-ubyte[.gz]`` (and ``t10k-...`` for the test
            split, labels optional), or the path of a single images file (then `split` is
            ignored and there are no labels).
        split: ``"train"`` or ``"test"``.
        name: the name to record in the returned `Dataset` (default ``"idx:<path>"``).
        prefix: file name prefix inside the folder.

    Returns:
        A `Dataset` of uint8 images (N, H, W, C) with int32 labels when a labels file exists;
        its ``num_classes`` is the largest label + 1 (see `infer_num_classes`).

    Raises:
        DatasetUnavailableError: the folder or the split's images file is missing.
        DataFormatError: corrupt files, non-uint8 images, image/label counts that differ, or
            labels that are not class indices below ``MAX_NUM_CLASSES``.

    Example:
        >>> from jaxgan.data.bundled import bundled_dir
        >>> ds = load_idx(bundled_dir(), "test", prefix="fashion_mnist_sample-")
        >>> ds.x.shape, ds.num_classes
        ((1000, 28, 28, 1), 10)

    """
    path = Path(path).expanduser()
    name = name or f"idx:{path}"
    if path.is_file():
        images_file, labels_file = path, None
    elif path.is_dir():
        images_file = find_idx_file(path, split, "images", prefix)
        if images_file is None:
            stem = _SPLIT_STEMS[split][0]
            raise DatasetUnavailableError(
                f"no {split} images in {path}: expected {prefix}{stem}-images-idx3-ubyte[.gz] "
                "(the original MNIST/Fashion-MNIST file names)"
            )
        labels_file = find_idx_file(path, split, "labels", prefix)
    else:
        raise DatasetUnavailableError(
            f"IDX folder not found: {path}; give a folder holding train-images-idx3-ubyte.gz "
            "(Debian: apt install dataset-fashion-mnist fills /usr/share/datasets/fashion-mnist)"
        )
    images = _as_nhwc(read_idx(images_file), images_file)
    labels = num_classes = None
    if labels_file is not None:
        labels = read_idx(labels_file)
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataFormatError(
                f"{labels_file}: {labels.shape} labels do not match the {len(images)} images in "
                f"{images_file.name}; use the labels file of the same split"
            )
        num_classes = infer_num_classes(labels, f"{labels_file} (dataset {name!r})")
    return Dataset(images, labels, name, "image", num_classes, split)


def _as_nhwc(images: np.ndarray, source: Path) -> np.ndarray:
    if images.dtype != np.uint8:
        raise DataFormatError(f"{source}: images must be uint8 (IDX type 08), got {images.dtype}")
    if images.ndim == 3:
        return images[..., None]
    if images.ndim == 4:
        return images
    raise DataFormatError(
        f"{source}: images must have rank 3 (N, H, W) or 4 (N, H, W, C), got shape "
        f"{images.shape}; is this a labels file?"
    )
