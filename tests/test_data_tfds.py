"""The tfds path of jaxgan.data.load under tfds.testing.mock_data (works without TensorFlow).

Without TensorFlow, ``mock_data`` can mock ``tfds.data_source``/``builder.as_data_source`` but
not ``tfds.load``. With ``MockPolicy.USE_FILES`` and real metadata in a temporary data_dir the
builder reports "prepared" with the array_record format, so `load` runs its real code path
(builder, feature checks, split check, batched data-source reads, stacking) on fake examples.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")

from jaxgan import data  # noqa: E402
from jaxgan.data import tfds_source  # noqa: E402


def _write_metadata(data_dir, name: str, file_format: str, sizes: dict[str, int]) -> None:
    """Write the dataset_info.json/features.json tfds writes when it prepares a dataset."""
    builder = tfds.builder(name, data_dir=str(data_dir), file_format=file_format)
    builder.info.set_splits(
        tfds.core.SplitDict(
            [tfds.core.SplitInfo(name=s, shard_lengths=[n], num_bytes=0) for s, n in sizes.items()]
        )
    )
    builder.data_path.mkdir(parents=True, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)


@pytest.fixture
def mock_prepared(tmp_path):
    def mock(name: str, num_examples: int = 5):
        _write_metadata(tmp_path, name, "array_record", {"train": 60000, "test": 10000})
        return tfds.testing.mock_data(
            num_examples=num_examples, policy=tfds.testing.MockPolicy.USE_FILES, data_dir=tmp_path
        )

    return mock


@pytest.mark.parametrize(("name", "shape"), [("mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_mock_tfds_loads_images_and_labels(mock_prepared, name, shape):
    with mock_prepared(name, num_examples=6):
        ds = data.load(name, "test")
    assert ds.name == name and ds.kind == "image" and ds.split == "test"
    assert ds.x.shape == (6, *shape) and ds.x.dtype == np.uint8
    assert ds.y.dtype == np.int32 and ds.num_classes == 10
    assert ds.y.min() >= 0 and ds.y.max() < 10
    assert len(np.unique(ds.x.reshape(6, -1), axis=0)) > 1  # distinct fake images, not one copy
    data.check_image_shape(ds.x, shape)


def test_mock_tfds_limit_prefix_and_reads_in_chunks(mock_prepared, monkeypatch):
    monkeypatch.setattr(tfds_source, "_READ_CHUNK", 4)
    with mock_prepared("fashion_mnist", num_examples=10):
        full = data.load("tfds:fashion_mnist")
        first = data.load("fashion_mnist", limit=3)
    assert len(full) == 10 and len(first) == 3
    np.testing.assert_array_equal(first.x, full.x[:3])


def test_mock_tfds_unknown_split(mock_prepared):
    with mock_prepared("mnist"), pytest.raises(ValueError, match="no split 'validation'"):
        data.load("mnist", "validation")


def test_mock_tfds_empty_split(mock_prepared):
    with mock_prepared("mnist", num_examples=0), pytest.raises(ValueError, match="is empty"):
        data.load("mnist")


def test_stacked_mnist_from_mock_tfds_source(mock_prepared):
    with mock_prepared("mnist", num_examples=20):
        ds = data.load("stacked_mnist", size=100)
    assert ds.x.shape == (100, 28, 28, 3) and ds.num_classes == 1000


def test_tfrecord_prepared_without_tensorflow_fails_fast(tmp_path, monkeypatch):
    """tfds itself raises a misleading NotImplementedError here; jaxgan says what to do."""
    monkeypatch.setattr(tfds_source, "has_tensorflow", lambda: False)
    _write_metadata(tmp_path, "mnist", "tfrecord", {"train": 60000, "test": 10000})
    start = time.perf_counter()
    with pytest.raises(data.DatasetUnavailableError, match="prepared as tfrecord") as excinfo:
        data.load("mnist", data_dir=tmp_path)
    assert time.perf_counter() - start < 10
    message = str(excinfo.value)
    assert "\n" not in message and "jaxgan[tf]" in message and "array_record" in message
