"""The evaluation report: structure, floors, JSON round trip and the PNG panel."""

import json

import numpy as np
import pytest

from jaxgan.metrics.report import evaluate_images, save_report_panel


def _pixels(images):
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def _probabilities(images):
    """A toy 4-class 'classifier': which quadrant is brightest."""
    h = images.shape[1] // 2
    x = images[..., 0].astype(np.float64)
    quadrants = np.stack(
        [
            x[:, :h, :h].mean((1, 2)),
            x[:, :h, h:].mean((1, 2)),
            x[:, h:, :h].mean((1, 2)),
            x[:, h:, h:].mean((1, 2)),
        ],
        1,
    )
    e = np.exp((quadrants - quadrants.max(1, keepdims=True)) / 10.0)
    return e / e.sum(1, keepdims=True)


def _blobs(rng, n):
    """8×8 images with a bright 4×4 block in a random quadrant plus noise (4 'modes')."""
    images = rng.integers(0, 40, size=(n, 8, 8, 1))
    for i, q in enumerate(rng.integers(0, 4, n)):
        r, c = divmod(int(q), 2)
        images[i, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] += 200
    return images.astype(np.uint8)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {
        "train": _blobs(rng, 400),
        "test": _blobs(rng, 300),
        "noise": rng.integers(0, 255, size=(300, 8, 8, 1)).astype(np.uint8),
    }


def _evaluate(fake, data, **kw):
    return evaluate_images(
        fake,
        data["train"],
        feature_fn=_pixels,
        feature_space="pixels-64",
        name="toy",
        reference_split="toy train",
        floor_real=data["test"],
        floor_split="toy test",
        probabilities_fn=_probabilities,
        classifier_space="quadrant-rule",
        kid_subsets=10,
        **kw,
    )


def test_report_structure_and_json_round_trip(data):
    report = _evaluate(data["noise"], data)
    assert json.loads(json.dumps(report)) == report
    proto = report["protocol"]
    assert (proto["n_gen"], proto["n_ref"], proto["n_floor"]) == (300, 400, 300)
    assert proto["feature_space"] == "pixels-64" and proto["reference_split"] == "toy train"
    assert proto["kid_subset_size"] == 300
    for group, keys in {
        "quality": ["precision", "density", "classifier_score", "mean_confidence"],
        "diversity": ["recall", "coverage", "class_histogram_kl", "classes_covered"],
        "similarity": ["fd", "kid"],
    }.items():
        assert sorted(report[group]) == sorted(keys)
        for entry in report[group].values():
            assert entry["space"] in ("pixels-64", "quadrant-rule")
            assert entry["value"] is not None and entry["floor"] is not None
    assert len(report["examples"]["nearest_real_indices"]) == 8


def test_noise_scores_worse_than_its_real_floor(data):
    report = _evaluate(data["noise"], data)
    sim, qual, div = report["similarity"], report["quality"], report["diversity"]
    assert sim["fd"]["value"] > 5 * sim["fd"]["floor"]
    assert sim["kid"]["value"] > sim["kid"]["floor"] + 5 * sim["kid"]["std"]
    assert qual["precision"]["value"] < qual["precision"]["floor"] - 0.3
    assert div["coverage"]["value"] < div["coverage"]["floor"] - 0.3


def test_real_images_as_fake_reproduce_the_floor(data):
    report = _evaluate(data["test"], data)
    for group in ("quality", "diversity", "similarity"):
        for key, entry in report[group].items():
            assert entry["value"] == pytest.approx(entry["floor"]), (group, key)


def test_float_images_are_quantised_like_uint8(data):
    as_float = data["test"].astype(np.float32) / 127.5 - 1.0
    a = _evaluate(as_float, data)["similarity"]["fd"]["value"]
    b = _evaluate(data["test"], data)["similarity"]["fd"]["value"]
    assert a == pytest.approx(b)


def test_nearest_neighbours_find_copies(data):
    fake = data["train"][[5, 17, 3, 9, 0, 1, 2, 4]]
    report = evaluate_images(
        fake,
        data["train"],
        feature_fn=_pixels,
        feature_space="pixels-64",
        name="copies",
        reference_split="toy train",
        kid_subsets=2,
    )
    assert [row[0] for row in report["examples"]["nearest_real_indices"]] == [
        5,
        17,
        3,
        9,
        0,
        1,
        2,
        4,
    ]
    assert report["similarity"]["fd"]["floor"] is None  # no floor set given
    assert "classifier_score" not in report["quality"]


def test_shape_mismatch_is_rejected(data):
    with pytest.raises(ValueError, match="differ in shape"):
        evaluate_images(
            np.zeros((10, 4, 4, 1), np.uint8),
            data["train"],
            feature_fn=_pixels,
            feature_space="p",
            name="x",
            reference_split="toy",
        )


def test_report_panel_png(data, tmp_path):
    report = _evaluate(data["noise"], data)
    path = save_report_panel(report, data["noise"], data["train"], tmp_path / "sub" / "r.png")
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 10_000
