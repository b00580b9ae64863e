"""jaxgan.data: load() names and errors, bundled sample, toy geometry, Stacked MNIST, device."""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxgan import data
from jaxgan.data import tfds_source
from jaxgan.data.bundled import bundled_dir

SHARED_DATA = Path(
    os.environ.get("JAXGAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def _one_line(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message
    return message


# --- bundled sample ---------------------------------------------------------------------------


def test_bundled_sample_is_the_default_offline_dataset():
    train = data.load("fashion_mnist_sample")
    test = data.load("fashion_mnist_sample", "test")
    assert train.x.shape == (5000, 28, 28, 1) and test.x.shape == (1000, 28, 28, 1)
    assert train.x.dtype == np.uint8 and train.kind == "image" and train.num_classes == 10
    np.testing.assert_array_equal(np.bincount(train.y), np.full(10, 500))
    np.testing.assert_array_equal(np.bincount(test.y), np.full(10, 100))
    assert 60 < train.x.mean() < 90  # real clothing images (Fashion-MNIST mean ≈ 73), not noise
    assert len({im.tobytes() for im in train.x}) == 5000


def test_bundled_sample_size_and_licence():
    folder = bundled_dir()
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 3_000_000
    licence = (folder / "LICENSE").read_text()
    assert "MIT" in licence and "Zalando SE" in licence
    assert "Zalando SE" in (folder / "NOTICE").read_text()


def test_bundled_sample_images_come_from_fashion_mnist():
    folder = SHARED_DATA / "fashion_mnist"
    if not folder.is_dir():
        pytest.skip(f"reference data not found at {folder}")
    full = data.load(f"idx:{folder}", "test")
    sample = data.load("fashion_mnist_sample", "test")
    index = {(im.tobytes(), int(y)) for im, y in zip(full.x, full.y, strict=True)}
    assert all((im.tobytes(), int(y)) in index for im, y in zip(sample.x, sample.y, strict=True))


# --- names and errors -------------------------------------------------------------------------


def test_names_lists_every_builtin():
    assert {"fashion_mnist_sample", "ring8", "grid25", "stacked_mnist"} <= set(data.names())
    assert {"mnist", "fashion_mnist", "cifar10"} <= set(data.names())
    assert "idx:<folder>" in data.name_forms()


def test_unknown_name_lists_valid_names():
    with pytest.raises(data.UnknownDatasetError) as excinfo:
        data.load("fashion_mnist_sampel")
    message = _one_line(excinfo)
    assert all(name in message for name in data.names())
    assert "did you mean 'fashion_mnist_sample'" in message
    with pytest.raises(data.UnknownDatasetError, match="no image feature"):
        data.load("imdb_reviews")  # a real tfds dataset, but text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "ring8", "split": "validation"}, ValueError, "split must be one of"),
        ({"name": "ring8", "limit": 0}, ValueError, "limit must be a positive int"),
        ({"name": "ring8", "limit": 2.5}, TypeError, "limit must be a positive int"),
        ({"name": "grid25", "size": -3}, ValueError, "size must be a positive int"),
        ({"name": "fashion_mnist_sample", "size": 10}, ValueError, "does not apply"),
        ({"name": "ring8", "data_dir": "/tmp"}, ValueError, "does not apply"),
        ({"name": "ring8", "source": "mnist"}, ValueError, "does not apply"),
        ({"name": "", "split": "train"}, data.UnknownDatasetError, "unknown dataset"),
        ({"name": 3}, TypeError, "must be a string"),
    ],
)
def test_bad_arguments_raise_one_line(kwargs, error, match):
    with pytest.raises(error, match=match) as excinfo:
        data.load(**kwargs)
    _one_line(excinfo)


def test_dataset_is_frozen_and_read_only():
    ds = data.load("ring8", size=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.x = ds.x  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        ds.x[0, 0] = 1.0
    assert "x=float32[10, 2]" in repr(ds)


def test_check_image_shape():
    images = np.zeros((2, 28, 28, 1), np.uint8)
    assert data.check_image_shape(images, (28, 28, 1)) is images
    with pytest.raises(ValueError, match=r"\(28, 28, 1\) per example but the DCGAN expects"):
        data.check_image_shape(images, (32, 32, 3), what="DCGAN")
    with pytest.raises(ValueError, match="channels"):
        data.check_image_shape(images, (28, 28, 3))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)") as excinfo:
        data.check_image_shape(np.zeros((2, 28, 28)), (28, 28, 1))
    _one_line(excinfo)


# --- offline behaviour of tfds names (without TensorFlow, or with it but no network) ----------


def test_unprepared_tfds_dataset_fails_fast_without_tensorflow(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "has_tensorflow", lambda: False)
    start = time.perf_counter()
    with pytest.raises(data.DatasetUnavailableError) as excinfo:
        data.load("mnist", data_dir=tmp_path)
    assert time.perf_counter() - start < 10
    message = _one_line(excinfo)
    assert "jaxgan[tf]" in message and "idx:<folder>" in message
    assert "fashion_mnist_sample" in message
    with pytest.raises(data.DatasetUnavailableError, match="download=False"):
        data.load("mnist", data_dir=tmp_path, download=False)


def test_offline_download_fails_fast_with_tensorflow(tmp_path, monkeypatch):
    """With TF but no network, load() names the manual-download folder instead of hanging."""
    monkeypatch.setattr(tfds_source, "has_tensorflow", lambda: True)
    probed = []
    monkeypatch.setattr(
        tfds_source, "hosts_reachable", lambda hosts: probed.append(hosts) or dict.fromkeys(hosts)
    )
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "t10k-images-idx3-ubyte.gz").write_bytes(b"")  # some files there, not all
    with pytest.raises(data.DatasetUnavailableError, match="unreachable") as excinfo:
        data.load("mnist", data_dir=tmp_path, manual_dir=manual)
    message = _one_line(excinfo)
    assert str(manual) in message and "train-images-idx3-ubyte.gz" in message
    assert "t10k-images-idx3-ubyte.gz," not in message  # present files are not asked for
    assert probed == [{"storage.googleapis.com:443"}]  # the host of mnist's registered URLs


def test_hosts_reachable_respects_its_deadline():
    start = time.perf_counter()
    assert data.tfds_source.hosts_reachable({"host.invalid"}, timeout=2.0) == {
        "host.invalid": False
    }
    assert time.perf_counter() - start < 3


def test_stacked_mnist_default_source_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "has_tensorflow", lambda: False)
    with pytest.raises(data.DatasetUnavailableError) as excinfo:
        data.load("stacked_mnist", data_dir=tmp_path)
    assert "stacked_mnist:idx:" in _one_line(excinfo)


# --- toy mixtures -----------------------------------------------------------------------------


def test_ring8_geometry():
    modes = data.ring8_modes()
    assert modes.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 1.0, atol=1e-12)
    angles = np.mod(np.arctan2(modes[:, 1], modes[:, 0]), 2 * np.pi)
    np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-12)
    gaps = [np.linalg.norm(a - b) for a, b in itertools.combinations(modes, 2)]
    np.testing.assert_allclose(min(gaps), 2 * np.sin(np.pi / 8))  # 8 distinct, evenly spaced
    assert data.RING8_SIGMA == 0.01


def test_grid25_geometry():
    modes = data.grid25_modes()
    assert modes.shape == (25, 2)
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(m) for m in modes.tolist()} == expected
    assert data.GRID25_SIGMA == 0.05


@pytest.mark.parametrize(
    ("name", "modes", "sigma"),
    [("ring8", data.ring8_modes(), data.RING8_SIGMA), ("grid25", data.grid25_modes(), 0.05)],
)
def test_mixture_samples(name, modes, sigma):
    ds = data.load(name)
    assert ds.x.shape == (100_000, 2) and ds.x.dtype == np.float32 and ds.kind == "points"
    assert ds.num_classes == len(modes)
    offsets = ds.x - modes[ds.y]
    np.testing.assert_allclose(offsets.std(axis=0), sigma, rtol=0.02)
    nearest = np.argmin(((ds.x[:, None, :] - modes[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, ds.y)
    counts = np.bincount(ds.y, minlength=len(modes))
    assert counts.min() > 0.8 * 100_000 / len(modes)  # modes drawn uniformly


def test_mixture_registry_is_the_one_table():
    assert data.mixture_names() == ("ring8", "grid25")
    for name, modes, sigma in [
        ("ring8", data.ring8_modes(), data.RING8_SIGMA),
        ("grid25", data.grid25_modes(), data.GRID25_SIGMA),
    ]:
        spec = data.mixture(name)
        assert spec.name == name and spec.sigma == sigma and spec.num_modes == len(modes)
        np.testing.assert_array_equal(spec.modes, modes)
        with pytest.raises(ValueError, match="read-only"):
            spec.modes[0, 0] = 9.0
        assert data.load(name, size=5).num_classes == spec.num_modes
    with pytest.raises(data.UnknownDatasetError, match="ring8, grid25") as excinfo:
        data.mixture("ring9")
    _one_line(excinfo)
    with pytest.raises(ValueError, match="sigma must be positive"):
        data.Mixture("bad", np.zeros((2, 2)), 0.0)


def test_mixture_seeding():
    a = data.load("ring8", size=50, seed=1)
    np.testing.assert_array_equal(a.x, data.load("ring8", size=50, seed=1).x)
    assert not np.array_equal(a.x, data.load("ring8", size=50, seed=2).x)
    assert not np.array_equal(a.x, data.load("ring8", "test", size=50, seed=1).x)


# --- Stacked MNIST ----------------------------------------------------------------------------


def _digit_source(per_digit: int = 3) -> data.Dataset:
    labels = np.repeat(np.arange(10), per_digit)
    images = (labels * 20 + 5).astype(np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 1), "u1")
    return data.Dataset(images, labels, "digits", "image", 10)


def test_stacked_labels_cover_all_triples_and_match_channels():
    ds = data.load("stacked_mnist", source=_digit_source(), size=20_000, seed=3)
    assert ds.x.shape == (20_000, 4, 4, 3) and ds.num_classes == 1000
    assert set(np.unique(ds.y)) == set(range(1000))  # P(a triple is missed) ≈ e^-20
    digits = data.stacked_label_digits(ds.y)
    np.testing.assert_array_equal((ds.x[:, 0, 0, :].astype(int) - 5) // 20, digits)
    np.testing.assert_array_equal(digits @ np.array([100, 10, 1]), ds.y)
    np.testing.assert_array_equal(data.stacked_labels(digits), ds.y)
    all_ids = np.arange(1000)
    np.testing.assert_array_equal(data.stacked_labels(data.stacked_label_digits(all_ids)), all_ids)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        data.stacked_labels(np.zeros((4, 2), int))
    again = data.load("stacked_mnist", source=_digit_source(), size=20_000, seed=3)
    np.testing.assert_array_equal(again.x, ds.x)


def test_stacked_mnist_from_real_idx_digits():
    folder = SHARED_DATA / "mnist"
    if not folder.is_dir():
        pytest.skip(f"reference data not found at {folder}")
    source = data.load(f"idx:{folder}", "test")
    ds = data.load(f"stacked_mnist:idx:{folder}", "test", size=5000, limit=4000)
    assert ds.x.shape == (4000, 28, 28, 3) and ds.y.max() < 1000
    # every channel is one of the source digits, with the label's digit
    lookup = {im.tobytes(): int(y) for im, y in zip(source.x[..., 0], source.y, strict=True)}
    for sample, triple in zip(ds.x[:50], data.stacked_label_digits(ds.y[:50]), strict=True):
        assert [lookup[sample[..., c].tobytes()] for c in range(3)] == triple.tolist()


def test_stacked_rejects_non_digit_sources():
    stacked = data.load("stacked_mnist", source=_digit_source(), size=4)
    with pytest.raises(ValueError, match="single-channel"):
        data.load("stacked_mnist", source=stacked)
    with pytest.raises(ValueError, match="give the stacked_mnist source once"):
        data.load("stacked_mnist:fashion_mnist_sample", source="mnist")
    points = data.load("ring8", size=10)
    with pytest.raises(ValueError, match="single-channel"):
        data.load("stacked_mnist", source=points)


# --- device -----------------------------------------------------------------------------------


def test_to_model_input_maps_uint8_to_unit_range():
    ds = data.load("fashion_mnist_sample", limit=16)
    x = data.to_model_input(ds.x)
    assert isinstance(x, jax.Array) and x.dtype == np.float32 and x.shape == (16, 28, 28, 1)
    all_values = data.to_model_input(np.arange(256, dtype=np.uint8))
    assert float(all_values[0]) == -1.0 and float(all_values[255]) == 1.0
    np.testing.assert_allclose(all_values, np.arange(256) / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(data.to_uint8_images(all_values), np.arange(256))


def test_one_uint8_float_pair():
    pixels = np.arange(256, dtype=np.uint8)
    unit = np.asarray(data.uint8_to_unit_range(pixels))
    np.testing.assert_array_equal(np.asarray(data.to_model_input(pixels)), unit)
    np.testing.assert_array_equal(unit, -unit[::-1])  # odd around 127.5, bit for bit
    np.testing.assert_allclose(unit, (pixels - 127.5) / 127.5, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(data.to_uint8_images(unit), pixels)
    np.testing.assert_array_equal(data.to_uint8_images(unit / 2 + 0.5, (0.0, 1.0)), pixels)
    assert data.to_uint8_images(pixels) is pixels  # uint8 passes through
    assert data.to_uint8_images(np.array([-3.0, np.float32(1e-9), 2.0])).tolist() == [0, 128, 255]
    with pytest.raises(TypeError, match="uint8 or float"):
        data.to_uint8_images(np.zeros(3, np.int32))


def test_to_model_input_passes_points_through():
    ds = data.load("grid25", size=8)
    np.testing.assert_array_equal(np.asarray(data.to_model_input(ds.x)), ds.x)
    with pytest.raises(TypeError, match="uint8 images or float"):
        data.to_model_input(np.zeros(3, np.int32))
