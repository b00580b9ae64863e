"""IDX reader: tiny files written here, corrupt inputs, and the real files in ../shared/data."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script

from jaxgan import data
from jaxgan.data.bundled import bundled_dir

SHARED_DATA = Path(
    os.environ.get("JAXGAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
REPO = Path(__file__).resolve().parents[1]


def _shared(sub: str) -> Path:
    folder = SHARED_DATA / sub
    if not folder.is_dir():
        pytest.skip(f"reference data not found at {folder}")
    return folder


def _write(path: Path, array: np.ndarray, *, gz: bool) -> Path:
    raw = data.encode_idx(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def _one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_encode_parse_roundtrip(dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    back = data.parse_idx(data.encode_idx(array))
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_big_endian_mnist_layout():
    raw = data.encode_idx(np.zeros((3, 2, 2), np.uint8))
    assert raw[:4] == b"\x00\x00\x08\x03"  # magic 2051 of train-images-idx3-ubyte
    assert raw[4:16] == (3).to_bytes(4, "big") + (2).to_bytes(4, "big") + (2).to_bytes(4, "big")


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("sep", ["-", "."])
def test_load_tiny_folder(tmp_path, gz, sep):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    test = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    ext = ".gz" if gz else ""
    _write(tmp_path / f"train-images{sep}idx3-ubyte{ext}", train, gz=gz)
    _write(tmp_path / f"train-labels{sep}idx1-ubyte{ext}", np.arange(7, dtype=np.uint8), gz=gz)
    _write(tmp_path / f"t10k-images{sep}idx3-ubyte{ext}", test, gz=gz)

    ds = data.load(f"idx:{tmp_path}")
    assert ds.x.shape == (7, 5, 4, 1) and ds.x.dtype == np.uint8 and ds.kind == "image"
    np.testing.assert_array_equal(ds.x[..., 0], train)
    np.testing.assert_array_equal(ds.y, np.arange(7))
    assert ds.y.dtype == np.int32 and ds.num_classes == 7 and ds.split == "train"

    ds_test = data.load(f"idx:{tmp_path}", "test")  # no labels file: y is None
    np.testing.assert_array_equal(ds_test.x[..., 0], test)
    assert ds_test.y is None and ds_test.num_classes is None
    assert len(data.load(f"idx:{tmp_path}", limit=2)) == 2


def test_load_single_images_file(tmp_path):
    path = _write(tmp_path / "digits.idx", np.ones((4, 6, 6, 3), np.uint8), gz=True)
    ds = data.load(f"idx:{path}")
    assert ds.x.shape == (4, 6, 6, 3) and ds.y is None


def _valid(tmp_path: Path) -> bytes:
    _write(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8), gz=False)
    return data.encode_idx(np.zeros((4, 3, 3), np.uint8))


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda raw: raw[:2], "too short"),
        (lambda raw: b"\x1f\x00" + raw[2:], "not an IDX file"),
        (lambda raw: raw[:2] + b"\x07" + raw[3:], "not an IDX file"),  # unknown type code
        (lambda raw: raw[:10], "truncated"),  # header cut inside the dims
        (lambda raw: raw[:-5], "truncated or corrupt"),  # data cut
        (lambda raw: raw + b"\x00", "truncated or corrupt"),  # trailing bytes
        (lambda raw: gzip.compress(raw)[:-12], "broken gzip"),
        (lambda raw: data.encode_idx(np.zeros((4, 3, 3), np.int32)), "must be uint8"),
        (lambda raw: data.encode_idx(np.zeros((4, 3, 3, 1, 1), np.uint8)), "rank 3"),
    ],
)
def test_corrupt_idx_raises_one_line(tmp_path, corrupt, expected):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(corrupt(_valid(tmp_path)))
    with pytest.raises(data.DataFormatError) as excinfo:
        data.load(f"idx:{tmp_path}")
    assert expected in _one_line_error(excinfo)


def test_label_count_mismatch(tmp_path):
    _write(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 3, 3), np.uint8), gz=False)
    _write(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8), gz=False)
    with pytest.raises(data.DataFormatError, match="do not match the 4 images"):
        data.load(f"idx:{tmp_path}")


def test_missing_files_and_empty_split(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="IDX folder not found") as excinfo:
        data.load(f"idx:{tmp_path / 'nope'}")
    assert "dataset-fashion-mnist" in _one_line_error(excinfo)
    with pytest.raises(data.DatasetUnavailableError, match="no train images"):
        data.load(f"idx:{tmp_path}")
    _write(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8), gz=True)
    with pytest.raises(ValueError, match="is empty") as excinfo:
        data.load(f"idx:{tmp_path}")
    _one_line_error(excinfo)
    with pytest.raises(ValueError, match="needs a path"):
        data.load("idx:")


def test_real_fashion_mnist_files():
    folder = _shared("fashion_mnist")
    train = data.load(f"idx:{folder}")
    test = data.load(f"idx:{folder}", "test")
    assert train.x.shape == (60000, 28, 28, 1) and test.x.shape == (10000, 28, 28, 1)
    assert train.num_classes == 10
    np.testing.assert_array_equal(np.bincount(train.y), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test.y), np.full(10, 1000))
    assert train.x.min() == 0 and train.x.max() == 255


def test_real_mnist_partial_folder():
    folder = _shared("mnist")  # t10k images/labels + train labels; no train images
    test = data.load(f"idx:{folder}", "test")
    assert test.x.shape == (10000, 28, 28, 1) and set(np.unique(test.y)) == set(range(10))
    with pytest.raises(data.DatasetUnavailableError, match="no train images"):
        data.load(f"idx:{folder}")


def test_bundled_sample_is_reproduced_by_its_script(tmp_path):
    """scripts/make_bundled_sample.py rebuilds the shipped files byte for byte."""
    source = _shared("fashion_mnist")
    script = load_script("scripts/make_bundled_sample.py")
    script.check_sources(source)
    images = data.read_idx(source / "t10k-images-idx3-ubyte.gz")
    labels = data.read_idx(source / "t10k-labels-idx1-ubyte.gz")
    keep = script.balanced_indices(labels, script.PER_CLASS["t10k"], script.SEED + 1)
    for kind, array in (("images-idx3", images[keep]), ("labels-idx1", labels[keep])):
        name = f"{script.PREFIX}t10k-{kind}-ubyte.gz"
        script.write_gzip_idx(tmp_path / name, array)
        rebuilt = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        assert rebuilt == hashlib.sha256((bundled_dir() / name).read_bytes()).hexdigest()
