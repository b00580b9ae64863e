"""Synthetic data from a conditional GAN (issue 18): k-per-class subsets, the device stream, export.

One tiny conditional DCGAN run folder (width 4, the 40 bundled Fashion-MNIST images of 4 per
class, saved at step 0: the files, labels and arms are what is tested, and a GAN step would take
most of this module's time to compile) is shared by the export, eval and study tests; a
generator whose output is its label checks that every synthetic image carries the label it was
conditioned on.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jaxgan
from jaxgan import data
from jaxgan.apps.export import array_sha256, export_run, export_samples, metadata_path
from jaxgan.apps.synthetic import synthetic_batch, synthetic_stream
from jaxgan.checkpoint import RunCheckpoints
from jaxgan.cli import main
from jaxgan.experiment import config as cfg
from jaxgan.experiment import rundir
from jaxgan.experiment.build import build_state, load_training_data
from jaxgan.experiment.evaluate import evaluate_run, report_lines


class LabelImage(nnx.Module):
    """A conditional generator whose every pixel is ``label / 10`` (mapped to [-1, 1])."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.latent_dim = 4
        self.scale = nnx.Param(jnp.ones(()))

    def __call__(self, z, labels):
        value = self.scale * (labels.astype(jnp.float32) / 10.0 * 2.0 - 1.0) + 0.0 * z[:, 0]
        return jnp.broadcast_to(value[:, None, None, None], (z.shape[0], 28, 28, 1))


class AnyD(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs):
        self.out = nnx.Linear(784, 1, rngs=rngs)

    def __call__(self, x, labels=None):
        return self.out(x.reshape(x.shape[0], -1))[:, 0]


def tiny_config(**changes) -> cfg.TrainConfig:
    base = cfg.load_preset("cdcgan-fashion-mnist").replace(
        data="fashion_mnist_sample", per_class=4, width=4, latent_dim=8, batch_size=8,
        steps=2, steps_per_call=1, log_every=1, sample_every=2, checkpoint_every=2,
        grid_size=2, loop="python",
    )  # fmt: skip
    return base.replace(**changes)


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    """A run folder of the tiny conditional DCGAN at step 0 (no training: no step to compile)."""
    out = tmp_path_factory.mktemp("runs") / "cdcgan"
    out.mkdir()
    config, _ = load_training_data(tiny_config())
    (out / rundir.CONFIG_FILE).write_text(json.dumps(cfg.to_dict(config)))
    with RunCheckpoints(out / rundir.CHECKPOINTS_DIR) as checkpoints:
        checkpoints.save(0, build_state(config), {"step": 0})
    return out


# -- k per class -----------------------------------------------------------------------------------


def test_per_class_subsets_are_balanced_fixed_and_nested():
    full = data.load("fashion_mnist_sample")
    small, big = data.per_class_subset(full, 3), data.per_class_subset(full, 5)
    assert np.bincount(small.y).tolist() == [3] * 10 and len(big) == 50
    picked = {img.tobytes() for img in small.x}
    assert picked <= {img.tobytes() for img in big.x}  # the 3 per class are among the 5
    again = data.per_class_subset(full, 3)
    assert np.array_equal(again.x, small.x) and np.array_equal(again.y, small.y)
    with pytest.raises(
        ValueError, match=r"per_class=2 needs 2 examples of every class, but class \d has"
    ):
        data.per_class_subset(full.take(8), 2)
    unlabelled = data.Dataset(full.x[:4], None, "u", "image")
    with pytest.raises(ValueError, match="needs labelled data"):
        data.per_class_subset(unlabelled, 1)


def test_the_config_trains_on_k_per_class_and_checks_k():
    config, ds = load_training_data(cfg.TrainConfig.of(per_class=2, conditional=True,
                                                       model="dcgan", width=4))  # fmt: skip
    assert np.bincount(ds.y).tolist() == [2] * 10 and config.step.num_classes == 10
    with pytest.raises(cfg.ConfigError, match="per_class must be ≥ 1"):
        cfg.TrainConfig.of(per_class=0)


# -- the device stream -----------------------------------------------------------------------------


def test_every_synthetic_image_carries_its_conditioning_label():
    state = jaxgan.create_state(LabelImage, AnyD, key=0, num_classes=10, latent_dim=4)
    x, y = synthetic_batch(state, jax.random.key(0), 3, 25)
    assert np.bincount(np.asarray(y), minlength=10).tolist() == [2] * 5 + [3] * 5
    expected = np.asarray(y) / 10.0 * 2.0 - 1.0
    assert np.allclose(np.asarray(x)[:, 0, 0, 0], expected, atol=1e-6)
    stream = list(synthetic_stream(state, jax.random.key(0), 10, count=3, balanced=False))
    for xs, ys in stream:  # uniform labels, still the conditioning ones
        pixel = np.asarray(xs)[:, 0, 0, 0].astype(float)
        assert np.allclose(pixel, np.round((np.asarray(ys) / 10.0 * 2.0) * 127.5), atol=1)
    balanced = np.concatenate([np.asarray(ys) for _, ys in synthetic_stream(
        state, jax.random.key(0), 10, count=3)])  # fmt: skip
    assert np.bincount(balanced).tolist() == [3] * 10
    again = next(synthetic_stream(state, jax.random.key(0), 10, start=2))
    assert np.array_equal(np.asarray(again[1]), balanced[20:])  # batch i is a function of i


# -- export ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["idx", "npz"])
def test_an_export_round_trips_through_data_load_with_balanced_labels(cond_run, tmp_path, fmt):
    out = tmp_path / ("syn.npz" if fmt == "npz" else "syn")
    meta = export_run(cond_run, out, n=25, per_class=True, fmt=fmt, truncation=0.8, seed=3)
    ds = data.load(meta["load_as"])
    assert ds.x.shape == (25, 28, 28, 1) and ds.x.dtype == np.uint8
    assert np.bincount(ds.y).tolist() == [3] * 5 + [2] * 5 == meta["class_counts"]
    assert np.array_equal(ds.y, np.arange(25) % 10)
    saved = json.loads(metadata_path(out, fmt).read_text())
    assert saved["sha256"] == array_sha256(ds.x, ds.y)
    assert (saved["step"], saved["seed"], saved["truncation"]) == (0, 3, 0.8)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary leftovers


def test_export_is_the_stream_quantised(cond_run):
    from jaxgan.experiment.sample import load_run

    _, state, _ = load_run(cond_run)
    # batches of 25, as the round-trip export's: one compiled draw for both tests
    x, y = export_samples(state, 50, seed=5, per_class=True, batch_size=25)
    xs, ys = zip(*synthetic_stream(state, jax.random.key(5), 25, count=2), strict=True)
    assert np.abs(np.concatenate(xs).astype(int) - x.astype(int)).max() <= 1  # f32 vs f64 rounding
    assert np.array_equal(np.concatenate(ys), y)


def test_export_refuses_bad_input_with_one_line(cond_run, tmp_path, capsys):
    state = jaxgan.create_state(jaxgan.models.MLPGenerator, jaxgan.models.MLPDiscriminator, key=0)
    with pytest.raises(ValueError, match="needs a conditional run"):
        export_samples(state, 10, per_class=True)
    existing = tmp_path / "exists"
    existing.mkdir()
    cases = [
        (["--n", "5", "--per-class", "--out", str(tmp_path / "a")], "fewer than the 10 classes"),
        (["--n", "20", "--truncation", "0", "--out", str(tmp_path / "b")], "truncation must"),
        (["--n", "20", "--truncation", "1.5", "--out", str(tmp_path / "c")], "truncation must"),
        (["--n", "20", "--out", str(existing)], "exists; pass --overwrite"),
        (["--n", "20", "--out", str(existing), "--overwrite"], "not an earlier idx export"),
    ]
    for extra, message in cases:
        code = main(["export", "--run", str(cond_run), *extra])
        err = capsys.readouterr().err.strip()
        assert code != 0 and message in err and "\n" not in err, (extra, err)
    assert main(["export", "--run", str(cond_run), "--n", "20", "--out", str(tmp_path / "d")]) == 0
    assert "load it as idx:" in capsys.readouterr().out
    # balanced this time: the 25 of the round-trip test, one compiled draw for both
    assert main(["export", "--run", str(cond_run), "--n", "25", "--per-class",
                 "--out", str(tmp_path / "d"), "--overwrite"]) == 0  # fmt: skip
    replaced = data.load(f"idx:{tmp_path / 'd'}")
    assert len(replaced) == 25 and np.bincount(replaced.y).tolist() == [3] * 5 + [2] * 5


# -- jaxgan eval: intra-class FD (issue 19) ---------------------------------------------------


def test_eval_of_a_conditional_run_reports_intra_class_fd(cond_run, tmp_path):
    report = evaluate_run(cond_run, num_samples=100, out_dir=tmp_path)
    entry = report["similarity"]["intra_class_fd"]
    assert [row["class"] for row in entry["per_class"]] == list(range(10))
    assert all(row["n"] == 10 for row in entry["per_class"])
    fds = [row["fd"] for row in entry["per_class"]]
    assert entry["value"] == pytest.approx(np.mean(fds))
    # an untrained generator is far from every class; real test images are close
    assert entry["value"] > 3 * entry["floor"] > 0
    assert entry["reference"].startswith("fashion_mnist_sample:train[:")
    assert "jaxgan-fashion" in entry["space"]
    lines = report_lines(report)
    assert any("intra_class_fd per class" in line and "9: " in line for line in lines)


# -- the augmentation study ------------------------------------------------------------------------


def test_the_study_runs_end_to_end_and_each_arm_trains_on_what_it_claims(cond_run, tmp_path):
    from jaxgan.apps.augment_study import StudyConfig, run_study

    study = StudyConfig(
        data="fashion_mnist_sample", ks=(4,), seeds=1, ratios=(2,), classifier_steps=6,
        batch_size=40, widths=(4,), test_limit=100, gan_runs={4: str(cond_run)},
        quality_per_class=3,
    )  # fmt: skip
    # batches of 40 and 6 steps: the real (40 images: 6 epochs of 1 batch), gan_2 (120: 2 of 3)
    # and gan_only (80: 3 of 2) arms train the same compiled step (one learning-rate schedule)
    out = tmp_path / "study"
    results = run_study(study, out, log=None)
    runs = {r["arm"]: r for r in results["runs"]}
    assert list(runs) == ["real", "classic", "gan_2", "gan_only", "all_real"]
    assert runs["real"]["counts"] == runs["classic"]["counts"] == {"real": 40, "synthetic": 0}
    assert runs["gan_2"]["counts"] == {"real": 40, "synthetic": 80}
    assert runs["gan_2"]["class_counts"] == [12] * 10  # 4 real + 8 synthetic of every class
    assert runs["gan_only"]["counts"] == {"real": 0, "synthetic": 80}
    assert runs["gan_only"]["class_counts"] == [8] * 10
    assert runs["all_real"]["counts"] == {"real": 5000, "synthetic": 0}
    assert all(r["steps"] >= 6 and 0 <= r["accuracy"] <= 1 for r in runs.values())
    assert runs["real"]["steps"] == runs["gan_2"]["steps"] == runs["gan_only"]["steps"] == 6
    assert len(results["gans"]["4"]["quality"]["per_class"]) == 10
    assert [c["n"] for c in results["quality_floor"]["per_class"]] == [3] * 10
    assert results["gans"]["4"]["run"] == str(cond_run) and not (out / "gans").exists()
    assert (out / "results.md").read_text().startswith("| arm | k = 4 |")
    assert (out / "accuracy.png").stat().st_size > 0
    assert json.loads((out / "results.json").read_text())["table"][0]["arm"] == "real"


def test_gans_only_measures_the_gans_and_trains_no_classifier(cond_run, tmp_path, monkeypatch):
    from jaxgan.apps import augment_study

    def no_classifier(*args, **kwargs):
        raise AssertionError("gans_only trained a classifier")

    monkeypatch.setattr(augment_study, "train_classifier", no_classifier)
    study = augment_study.StudyConfig(
        data="fashion_mnist_sample", ks=(4,), seeds=3, gans_only=True, test_limit=100,
        gan_runs={4: str(cond_run)}, quality_per_class=3,
    )  # fmt: skip
    results = augment_study.run_study(study, tmp_path / "q", log=None)
    assert results["runs"] == [] and results["table"] == []
    assert [c["n"] for c in results["gans"]["4"]["quality"]["per_class"]] == [3] * 10
    lines = (tmp_path / "q" / "results.md").read_text().splitlines()
    assert lines[0] == "| | CAS-on-self (%) | mean intra-class FD |"
    assert lines[2].startswith("| GAN, k = 4 (0 iterations) | ")
    assert lines[3].startswith("| real training images (floor) | ")
    assert not (tmp_path / "q" / "accuracy.png").exists()


def test_the_mnist_split_holds_out_exactly_the_classifiers_test_digits():
    from script_loader import load_script

    from jaxgan.metrics.classifier import load_classifier

    train, test = load_script("scripts/mnist_t10k_split.py").split_indices()
    held_out = load_classifier("mnist").metadata["data_split"]["test_indices"]
    assert (len(train), len(test)) == (8000, 2000) and test.tolist() == sorted(held_out)
    assert np.intersect1d(train, test).size == 0 and np.union1d(train, test).size == 10_000


def test_the_study_trains_its_gan_on_the_k_per_class_subset(monkeypatch, tmp_path):
    from jaxgan.apps import augment_study

    seen = {}
    monkeypatch.setattr(augment_study, "train", lambda c, out, **kw: seen.update(config=c))
    study = augment_study.StudyConfig(data="fashion_mnist_sample", gan_steps=7,
                                      gan_overrides={"width": 8})  # fmt: skip
    augment_study._train_gan(study, 5, tmp_path / "k5")
    config = seen["config"]
    assert (config.data.name, config.data.per_class, config.schedule.steps) == (
        "fashion_mnist_sample", 5, 7)  # fmt: skip
    assert config.model.conditional and config.model.width == 8


def test_the_study_reuses_a_finished_gan_only_when_its_config_is_the_same(monkeypatch, tmp_path):
    from jaxgan.apps import augment_study
    from jaxgan.experiment.config import to_dict

    trained = []
    monkeypatch.setattr(augment_study, "train", lambda c, out, **kw: trained.append(c))
    study = augment_study.StudyConfig(data="fashion_mnist_sample", gan_steps=7,
                                      gan_overrides={"width": 8})  # fmt: skip
    folder = tmp_path / "k5"
    augment_study._train_gan(study, 5, folder)  # nothing there yet: trains
    wanted = trained[-1]
    folder.mkdir()
    (folder / "summary.json").write_text(json.dumps({"step": 7}))
    for config, retrains in [(wanted, False), (wanted.replace(conditioning="auxiliary"), True)]:
        (folder / "config.json").write_text(json.dumps(to_dict(config)))
        before = len(trained)
        augment_study._train_gan(study, 5, folder)
        assert (len(trained) > before) is retrains
    (folder / "config.json").write_text("{damaged")
    augment_study._train_gan(study, 5, folder)
    assert len(trained) == 3  # a damaged config is trained again, not trusted


def test_the_study_refuses_bad_settings_in_one_line(capsys, tmp_path):
    for extra, message in [
        (["--k", "0"], "k must be ≥ 1"),
        (["--arms", "real,magic"], "arms must be among"),
        (["--gan-run", "ten=runs/x"], "--gan-run must look like K=DIR"),
        (["--k", "3", "--gan-run", f"3={tmp_path / 'none'}"], "GAN run for k=3 not found"),
    ]:
        code = main(["augment-study", "--data", "fashion_mnist_sample", "--out",
                     str(tmp_path / "s"), *extra])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert code != 0 and message in err and "\n" not in err, err
    with pytest.raises(SystemExit):  # argparse's own one-line usage error
        main(["augment-study", "--k", "ten", "--out", str(tmp_path / "s")])
    assert "expected integers like 10,100, got 'ten'" in capsys.readouterr().err
