"""Read MNIST-format IDX files (gzip or raw) with numpy: no download, no TensorFlow.

The IDX format (LeCun's MNIST page) is a 4-byte magic number ``00 00 <type> <rank>``, then
`rank` big-endian uint32 dimensions, then the values in C order. The original MNIST and
Fashion-MNIST files, and Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist``), use this format.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from jaxgan.data.dataset import DataFormatError, Dataset, DatasetUnavailableError

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
    if len(raw) < 4:
        raise DataFormatError(
            f"{source}: {len(raw)} bytes is too short for an IDX header (needs 4+); "
            "the file is truncated, download it again"
        )
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataFormatError(
            f"{source}: not an IDX file (magic bytes {raw[:4].hex()}, expected 0000 + type "
            "08/09/0b/0c/0d/0e + rank); pass MNIST-format files such as train-images-idx3-ubyte.gz"
        )
    dtype, rank = _IDX_DTYPES[raw[2]], raw[3]
    header_size = 4 + 4 * rank
    if len(raw) < header_size:
        raise DataFormatError(
            f"{source}: IDX header of rank {rank} needs {header_size} bytes, the file has "
            f"{len(raw)}; the file is truncated, download it again"
        )
    shape = struct.unpack(f">{rank}I", raw[4:header_size])
    count = math.prod(shape)
    expected = count * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        raise DataFormatError(
            f"{source}: IDX header says shape {shape} ({expected} data bytes) but the file holds "
            f"{found}; the file is truncated or corrupt, download it again"
        )
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=header_size).reshape(shape)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    array.flags.writeable = False
    return array


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
        DataFormatError: the file is corrupt, truncated or not IDX.

    Example:
        >>> images = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
        ... # doctest: +SKIP

    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetUnavailableError(f"IDX file not found: {path}") from None
    except IsADirectoryError:
        raise DataFormatError(f"{path} is a folder, expected an IDX file") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise DataFormatError(
                f"{path}: broken gzip stream ({err}); the file is truncated or corrupt, "
                "download it again"
            ) from None
    return parse_idx(raw, source=str(path))


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
        A `Dataset` of uint8 images (N, H, W, C) with int32 labels when a labels file exists.

    Raises:
        DatasetUnavailableError: the folder or the split's images file is missing.
        DataFormatError: corrupt files, non-uint8 images, or image/label counts that differ.

    Example:
        >>> ds = load_idx("/usr/share/datasets/fashion-mnist", "test")  # doctest: +SKIP
        >>> ds.x.shape  # doctest: +SKIP
        (10000, 28, 28, 1)

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
        if not np.issubdtype(labels.dtype, np.integer) or (len(labels) and labels.min() < 0):
            raise DataFormatError(f"{labels_file}: labels must be non-negative integers")
        num_classes = int(labels.max()) + 1 if len(labels) else None
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
