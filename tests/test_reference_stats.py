"""Reference statistics (issue 19 items 3, 5, 6): files, refusals, the named cache, their users.

Most behaviour does not depend on the network, so it is tested in a tiny fake feature space
(the mean of each image row: 28-d, no compilation) or in the fast classifier space; the one
Inception test uses a random InceptionV3 at 75×75 on a handful of images. The tracked metric is
measured on an untrained state (no training step to compile). The intra-class FD of ``jaxgan
eval`` is tested in tests/test_synthetic.py, on that module's tiny conditional run folder.
"""

from __future__ import annotations

import json
import zipfile

import jax
import numpy as np
import pytest

from jaxgan import data, metrics
from jaxgan.cli import main
from jaxgan.experiment import config as cfg
from jaxgan.experiment import rundir
from jaxgan.experiment.build import build_state, load_training_data
from jaxgan.experiment.evaluators import MetricTracker
from jaxgan.experiment.train import TrackBest
from jaxgan.metrics.feature_spaces import FeatureSpace, classifier_space
from jaxgan.metrics.reference import (
    ReferenceCacheWarning,
    cache_dir,
    parse_reference,
    reference_stats_for,
)
from jaxgan.metrics.reference_fd import fd_to_reference
from jaxgan.metrics.reference_stats import ReferenceStats, intra_class_fd

SAMPLE = "fashion_mnist_sample"


class CountingSpace:
    """A 28-d space (row means of the image) that counts how many images it has seen."""

    def __init__(self, protocol: str = "row-means v1"):
        self.images = 0
        self.space = FeatureSpace("row-means-28", protocol, "toy", "none", self._extract)

    def _extract(self, images, value_range):
        images = np.asarray(images, np.float64)
        if value_range is not None:
            lo, hi = value_range
            images = (images - lo) * (255.0 / (hi - lo))
        self.images += len(images)
        return images.reshape(len(images), images.shape[1], -1).mean(axis=2)


@pytest.fixture(scope="module")
def clf_space():
    return classifier_space(metrics.load_classifier("fashion_mnist"))


def _stats(n=60, d=5, seed=0, **kwargs) -> ReferenceStats:
    x = np.random.default_rng(seed).normal(size=(n, d))
    return ReferenceStats.from_features(
        x, feature_space="toy", protocol="p", source="toy:train", **kwargs
    )


# -- the file: round trip and refusals --------------------------------------------------------


def test_round_trip_keeps_every_array_and_the_metadata(tmp_path):
    labels = np.repeat([0, 1, 2], 20)
    stats = _stats(labels=labels)
    loaded = ReferenceStats.load(stats.save(tmp_path / "s.npz"))
    for name, array in stats.arrays().items():
        np.testing.assert_array_equal(getattr(loaded, name), array)
    assert loaded.metadata() == stats.metadata() and loaded.sha256 == stats.sha256
    assert loaded.class_n.tolist() == [20, 20, 20] and loaded.mu.dtype == np.float64
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temporary file left


def test_tampered_or_corrupt_files_are_refused_in_one_line(tmp_path):
    path = _stats().save(tmp_path / "s.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["mu"] = arrays["mu"] + 1e-3  # edited numbers, metadata (and its sha256) kept
    with open(tmp_path / "edited.npz", "wb") as stream:
        np.savez(stream, **arrays)
    with pytest.raises(ValueError, match="sha256 of its statistics does not match") as err:
        ReferenceStats.load(tmp_path / "edited.npz")
    assert "\n" not in str(err.value)
    meta = json.loads(str(arrays["metadata"]))
    meta["protocol"] = "another"  # edited metadata
    arrays["metadata"] = np.array(json.dumps(meta))
    arrays["mu"] = arrays["mu"] - 1e-3
    with open(tmp_path / "meta.npz", "wb") as stream:
        np.savez(stream, **arrays)
    with pytest.raises(ValueError, match="does not match"):
        ReferenceStats.load(tmp_path / "meta.npz")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable reference-statistics file"):
        ReferenceStats.load(tmp_path / "cut.npz")
    # an object array (what a pickle payload needs) is refused, never unpickled
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as zf, zf.open("mu.npy", "w") as f:
        np.lib.format.write_array(f, np.array([object()]), allow_pickle=True)
    with pytest.raises(ValueError, match="not a readable"):
        ReferenceStats.load(tmp_path / "pickled.npz")


def test_space_and_protocol_mismatches_name_both():
    stats = _stats()
    with pytest.raises(ValueError, match="protocol 'p', these images under protocol 'q'"):
        stats.check("toy", "q")
    with pytest.raises(ValueError, match="feature space 'toy', these images in 'inception'"):
        stats.check("inception", "p")
    with pytest.raises(ValueError, match="5-d, the reference statistics 3-d"):
        _stats(d=3).fd(np.zeros((4, 5)))


def test_too_few_samples_and_nan_features_are_refused():
    with pytest.raises(ValueError, match="at least 2 sample"):
        _stats(n=1)
    x = np.random.default_rng(0).normal(size=(10, 3))
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf value.*row 4"):
        ReferenceStats.from_features(x, feature_space="toy", protocol="p")
    with pytest.raises(ValueError, match="NaN or inf value"):
        _stats(d=3).fd(x)
    with pytest.raises(ValueError, match="N must be at least 2"):
        parse_reference("mnist:train:1")


# -- the named cache ---------------------------------------------------------------------------


def test_cache_hit_computes_nothing_and_other_protocols_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path))
    counting = CountingSpace()
    first = reference_stats_for(SAMPLE, "test", limit=40, space=counting.space)
    assert counting.images == 40 and first.source == f"{SAMPLE}:test[:40]"
    (path,) = cache_dir().iterdir()
    assert path.name.startswith(f"{SAMPLE}_test-n40-toy-")
    again = reference_stats_for(SAMPLE, "test", limit=40, space=counting.space)
    assert counting.images == 40  # the second call read the file
    assert again.sha256 == first.sha256
    other = CountingSpace(protocol="row-means v2")
    reference_stats_for(SAMPLE, "test", limit=40, space=other.space)
    assert other.images == 40 and len(list(cache_dir().iterdir())) == 2
    # a damaged entry is recomputed (one warning), never used
    path.write_bytes(b"garbage")
    with pytest.warns(ReferenceCacheWarning, match="recomputing a bad cache entry"):
        reference_stats_for(SAMPLE, "test", limit=40, space=counting.space)
    assert counting.images == 80


def test_an_unwritable_cache_falls_back_to_computing(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(blocker))
    counting = CountingSpace()
    with pytest.warns(ReferenceCacheWarning, match="not cached: cannot write"):
        stats = reference_stats_for(SAMPLE, "test", limit=30, space=counting.space)
    assert stats.n == 30 and counting.images == 30


# -- users: fd_to_reference, fid(reference=), the CLI -----------------------------------------


def test_reference_gives_the_number_the_real_images_give(clf_space, tmp_path):
    real = data.load(SAMPLE, "test", limit=300).x
    fake = data.load(SAMPLE, "train", limit=200).x
    expected = metrics.frechet_distance_from_features(
        clf_space.features(fake), clf_space.features(real)
    )
    stats = reference_stats_for(SAMPLE, "test", limit=300, space=clf_space)
    path = stats.save(tmp_path / "ref.npz")
    for reference in (f"{SAMPLE}:test:300", path, str(path), stats):
        result = fd_to_reference(fake, reference, space=clf_space)
        assert float(result) == pytest.approx(expected, rel=1e-6)
    assert (result.n_gen, result.n_ref, result.feature_dim) == (200, 300, 128)
    assert str(result).startswith("FD ") and f"reference={SAMPLE}:test[:300]" in str(result)
    # float images in [-1, 1] give the uint8 images' number
    as_float = fake.astype(np.float32) / 127.5 - 1.0
    assert float(fd_to_reference(as_float, stats, space=clf_space, fake_range=(-1, 1))) == (
        pytest.approx(expected, rel=1e-6)
    )


def test_bad_images_and_foreign_statistics_give_one_line_errors(clf_space, tmp_path):
    stats = reference_stats_for(SAMPLE, "test", limit=50, space=clf_space)
    fake = data.load(SAMPLE, "train", limit=20).x
    bad = [
        (fake.astype(np.float32), (-1, 1), "but value_range"),  # 0..255 floats as [-1, 1]
        (fake.astype(np.float32), None, "need value_range"),
        (np.zeros((4, 28, 28, 2), np.uint8), None, "28, 28, 2"),  # two channels
        (fake[:1], None, "at least 2"),
    ]
    for images, value_range, needle in bad:
        with pytest.raises(ValueError, match=needle) as err:
            fd_to_reference(images, stats, space=clf_space, fake_range=value_range)
        assert "\n" not in str(err.value)
    other = CountingSpace().space
    with pytest.raises(ValueError, match=r"feature space 'jaxgan-fashion_mnist-cnn.*row-means"):
        fd_to_reference(fake, stats, space=other)


def test_fid_with_reference_equals_fid_with_real_images(tmp_path):
    from test_inception import _SMALL, BATCH, _random_extractor  # the module pytest imported

    rng = np.random.default_rng(0)
    fake = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)  # one batch shape: one compile
    real = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    kwargs = {"weights": _random_extractor(), "batch_size": BATCH, "protocol": _SMALL}
    features = metrics.fid_features(real, **kwargs)
    expected = metrics.fid(fake, real, reference_split="toy", **kwargs)
    space_name = "TF-Inception-2015-12-05 pool3 (2048-d), weights random"
    stats = ReferenceStats.from_features(
        features, feature_space=space_name, protocol=_SMALL.describe(), weights="random",
        source="toy",
    )  # fmt: skip
    got = metrics.fid(fake, reference=stats.save(tmp_path / "r.npz"), **kwargs)
    assert float(got) == pytest.approx(float(expected), rel=1e-6)
    assert str(got).startswith("FID ") and got.n_ref == 4 and got.protocol == _SMALL.describe()
    assert got.mode == expected.mode == "legacy_tensorflow"  # named as with real images
    standard = metrics.FIDProtocol()
    with pytest.raises(ValueError, match=r"protocol .*75×75.*299×299"):
        metrics.fid(fake, reference=stats, weights=_random_extractor(), protocol=standard)
    with pytest.raises(TypeError, match=r"either real= .* or reference="):
        metrics.fid(fake, real, reference=stats, **kwargs)


def test_cli_fid_stats_writes_the_cache_or_a_file_and_fails_in_one_line(tmp_path, capsys):
    out = tmp_path / "s.npz"
    argv = ["fid-stats", "--data", f"{SAMPLE}:test", "--limit", "100", "--space", "classifier"]
    assert main([*argv, "--per-class", "--out", str(out)]) == 0
    stats = ReferenceStats.load(out)
    assert stats.n == 100 and stats.per_class and stats.source == f"{SAMPLE}:test[:100]"
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert str(cache_dir()) in printed and "N=100" in printed
    bad = [
        (["--limit", "1"], "at least 2"),
        (["--space", "pixels"], "unknown feature space"),
        (["--out", str(tmp_path / "s.txt")], "must name an .npz"),
    ]
    for extra, needle in bad:
        code = main(["fid-stats", "--data", f"{SAMPLE}:test", "--space", "classifier", *extra])
        err = capsys.readouterr().err
        assert code != 0 and err.count("\n") == 1 and needle in err, err
    assert main(["fid-stats", "--data", "ring8", "--space", "classifier"]) == 1
    assert "no built-in classifier" in capsys.readouterr().err


# -- intra-class FD: metrics, class_quality, jaxgan eval --------------------------------------


def test_intra_class_fd_per_class_and_mean():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 2)), np.repeat([0, 1, 2], 100)
    stats = ReferenceStats.from_features(x, feature_space="t", protocol="p", labels=y)
    shifted = x + np.where(y[:, None] == 1, 1.0, 0.0)  # class 1 moved by (1, 1): FD 2
    out = intra_class_fd(shifted, y, stats)
    fds = [row["fd"] for row in out["per_class"]]
    assert fds[0] == pytest.approx(0, abs=1e-9) and fds[1] == pytest.approx(2.0, rel=1e-9)
    assert out["mean"] == pytest.approx(2 / 3, rel=1e-9)
    lonely = intra_class_fd(x[:201], y[:201], stats)  # one sample of class 2: no FD
    assert lonely["per_class"][2] == {"class": 2, "n": 1, "fd": None}
    with pytest.raises(ValueError, match="no per-class entries"):
        intra_class_fd(x, y, _stats(d=2))


# -- the tracked metric ------------------------------------------------------------------------


def test_tracking_reuses_cached_statistics_and_logs_its_wall_time(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path / "cache"))
    config, dataset = load_training_data(
        cfg.TrainConfig.of(data=SAMPLE, data_limit=200, g_hidden=8, d_hidden=8)
    )
    state = build_state(config, jax.random.key(0))
    calls = []
    original = metrics.Classifier.apply

    def counting(self, images, **kwargs):
        calls.append(len(images))
        return original(self, images, **kwargs)

    monkeypatch.setattr(metrics.Classifier, "apply", counting)
    tracker = MetricTracker(config, dataset, "fd", num_samples=50)
    assert calls == [50]  # the real images, once
    value = tracker(state)
    assert calls == [50, 50] and tracker.seconds > 0  # one batched forward per measurement
    assert np.isfinite(value)
    calls.clear()
    MetricTracker(config, dataset, "fd", num_samples=50)  # a second run on the same data
    assert calls == []
    run = tmp_path / "run"
    run.mkdir()
    TrackBest(tracker, run, config, 0)(10, state)
    (row,) = [json.loads(line) for line in (run / rundir.TRACK_FILE).read_text().splitlines()]
    assert row["metric"] == "fd" and row["value"] == pytest.approx(value)
    assert row["track_seconds"] > 0
