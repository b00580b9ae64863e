"""Cached dataset classifiers: accuracy on the real IDX files, checksums, safe loading, smoke."""

import dataclasses
import json
import os
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from script_loader import load_script

from jaxgan.apps import classifier as training
from jaxgan.apps.classifier import ClassifierConfig
from jaxgan.data import load, to_uint8_images
from jaxgan.metrics.classifier import (
    WEIGHTS_DIR,
    ClassifierArchitecture,
    ClassifierCNN,
    WeightsChecksumError,
    load_classifier,
)
from jaxgan.metrics.modes import stacked_mnist_digits

SHARED_DATA = Path(
    os.environ.get("JAXGAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
ROOT = Path(__file__).resolve().parents[1]


def _split(dataset: str, split: str):
    folder = SHARED_DATA / dataset
    if not folder.is_dir():
        pytest.skip(f"{dataset} IDX files not found under {SHARED_DATA}")
    data = load(f"idx:{folder}", split=split)
    return data.x, data.y


@pytest.fixture(scope="module")
def mnist():
    return load_classifier("mnist")


def test_mnist_classifier_reaches_its_recorded_held_out_accuracy(mnist):
    images, labels = _split("mnist", "test")
    held_out = np.array(mnist.metadata["data_split"]["test_indices"])
    assert len(held_out) == 2000
    accuracy = mnist.accuracy(images[held_out], labels[held_out])
    assert accuracy == pytest.approx(mnist.metadata["accuracy"]["test"], abs=1e-9)
    assert accuracy >= 0.99


def test_mnist_features_have_unit_mean_square_on_held_out_digits(mnist):
    images, _ = _split("mnist", "test")
    held_out = np.array(mnist.metadata["data_split"]["test_indices"])
    features = mnist.features(images[held_out]).astype(np.float64)
    assert np.mean(features**2) == pytest.approx(1.0, abs=0.1)  # feature_scale = 1 / train RMS
    assert f"×{mnist.feature_scale:.4g}" in mnist.feature_space


def test_fashion_mnist_classifier_reaches_its_recorded_test_accuracy():
    images, labels = _split("fashion_mnist", "test")
    clf = load_classifier("fashion_mnist")
    accuracy = clf.accuracy(images, labels)
    assert accuracy == pytest.approx(clf.metadata["accuracy"]["test"], abs=1e-9)
    assert accuracy >= 0.88


def test_stacked_mnist_digits_from_real_digits(mnist):
    images, labels = _split("mnist", "test")
    held_out = np.array(mnist.metadata["data_split"]["test_indices"])[:300]
    triples = held_out.reshape(100, 3)
    stacked = np.concatenate([images[triples[:, c]] for c in range(3)], axis=-1)
    digits = stacked_mnist_digits(stacked, mnist.predict)
    assert np.mean(digits == labels[triples]) > 0.98


def test_features_and_probabilities_shapes(mnist):
    x = np.zeros((5, 28, 28), np.uint8)  # (N, H, W) is accepted for one channel
    assert mnist.features(x).shape == (5, 128)
    p = mnist.probabilities(x)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert "mnist" in mnist.feature_space and mnist.metadata["sha256"][:12] in mnist.feature_space


def test_float_images_and_wrong_shapes_are_rejected(mnist):
    with pytest.raises(TypeError, match="to_uint8"):
        mnist.features(np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        mnist.features(np.zeros((2, 32, 32, 3), np.uint8))
    assert to_uint8_images(np.array([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]


@pytest.fixture
def weights_copy(tmp_path):
    for suffix in (".json", ".npz"):
        shutil.copy(WEIGHTS_DIR / f"mnist{suffix}", tmp_path / f"mnist{suffix}")
    return tmp_path


def test_corrupted_weights_fail_the_checksum(weights_copy):
    npz = weights_copy / "mnist.npz"
    blob = bytearray(npz.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    npz.write_bytes(bytes(blob))
    with pytest.raises(WeightsChecksumError, match="sha256"):
        load_classifier(weights_copy / "mnist.json")


def test_missing_or_malformed_files_give_clear_errors(weights_copy, tmp_path):
    with pytest.raises(FileNotFoundError, match="cached classifiers"):
        load_classifier("no_such_dataset")
    (weights_copy / "mnist.npz").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        load_classifier(weights_copy / "mnist.json")
    (weights_copy / "mnist.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid classifier metadata"):
        load_classifier(weights_copy / "mnist.json")


def test_npz_with_pickled_object_is_refused(weights_copy):
    """A checksum-valid file that holds an object array must not be unpickled."""
    npz = weights_copy / "mnist.npz"
    np.savez(npz, evil=np.array([{"a": 1}], dtype=object))
    meta = json.loads((weights_copy / "mnist.json").read_text())
    import hashlib

    meta["sha256"] = hashlib.sha256(npz.read_bytes()).hexdigest()
    (weights_copy / "mnist.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="plain arrays"):
        load_classifier(weights_copy / "mnist.json")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_training_code_path_reproduces_the_recorded_settings(name):
    """The script's presets through jaxgan.apps.classifier give the cached weights' settings."""
    preset = load_script("scripts/train_classifier.py").PRESETS[name]
    meta = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
    assert dataclasses.asdict(preset["architecture"]) == {
        **meta["config"],
        "widths": tuple(meta["config"]["widths"]),
    }
    config = ClassifierConfig(epochs=preset["epochs"], augment=preset["augment"])
    assert dataclasses.asdict(config) == meta["training"]["train_config"]


def test_seeds_of_one_setup_train_through_one_compiled_step():
    """The seed is an argument of the jitted step, not a constant: seed 1 compiles nothing new."""
    architecture = ClassifierArchitecture(widths=(4,), feature_dim=8)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (16, 28, 28, 1), dtype=np.uint8), np.arange(16) % 10

    def train(seed: int) -> list[np.ndarray]:
        config = ClassifierConfig(epochs=1, batch_size=8, augment=None, seed=seed)
        _, params = training.train_classifier(x, y, architecture, config, log=None)
        return [np.asarray(leaf) for leaf in jax.tree.leaves(params)]

    first, second, first_again = train(0), train(1), train(0)
    graphdef = nnx.split(ClassifierCNN(architecture, rngs=nnx.Rngs(0)))[0]
    config = ClassifierConfig()
    # the setup the three runs shared: 2 steps, a 1-step warm-up
    _, step = training._train_step(graphdef, config.learning_rate, config.weight_decay, 1, 2, None)
    assert step._cache_size() == 1
    assert any(not np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(first, first_again, strict=True))


def test_training_script_smoke_run_on_cifar_shaped_arrays(tmp_path):
    """The 32×32 RGB path: the script trains on a given cifar10 .npz and writes loadable weights."""
    rng = np.random.default_rng(0)
    data = tmp_path / "cifar10.npz"
    np.savez(
        data,
        x_train=rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8),
        y_train=np.arange(32) % 10,
        y_test=np.arange(8) % 10,
        x_test=rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8),
    )
    script = load_script("scripts/train_classifier.py")
    script.main(
        [
            "--dataset",
            "cifar10",
            "--data",
            str(data),
            "--out",
            str(tmp_path / "w"),
            "--epochs",
            "1",
            "--batch-size",
            "16",
        ]
    )
    clf = load_classifier(tmp_path / "w" / "cifar10.json")
    assert clf.features(np.zeros((3, 32, 32, 3), np.uint8)).shape == (3, 128)
    assert clf.metadata["data_split"]["train"] == "32 x_train"
    assert 0.0 <= clf.metadata["accuracy"]["test"] <= 1.0
