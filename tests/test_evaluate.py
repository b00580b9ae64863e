"""jaxgan eval: reports for image runs and 2-D mixture runs, and clear errors."""

import json

import pytest
from cli_args import tiny_train_args

from jaxgan import cli

# the CLI tests' tiny MLP run (tests/cli_args.py): the same compiled programs as theirs
TINY_IMAGES = [*tiny_train_args(sample_every=20, checkpoint_every=20), "--steps", "20"]
# the tiny ring8 run of test_cli.py's 2-D preset test, with the same loop and compiled step
TINY_RING = [
    "--preset", "ring8", "--steps", "10",
    "--set", "data_limit=1000", "--set", "g_hidden=16", "--set", "d_hidden=16",
    "--set", "g_depth=2", "--set", "d_depth=1", "--set", "maxout_pieces=2",
    "--set", "loop=python", "--set", "steps_per_call=10", "--set", "log_every=10",
    "--set", "sample_every=10", "--set", "checkpoint_every=10", "--set", "scatter_points=200",
    "--set", "log=none",
]  # fmt: skip


def test_eval_of_an_image_run_reports_all_three_criteria_beside_floors(tmp_path, capsys):
    run = tmp_path / "img"
    assert cli.main(["train", *TINY_IMAGES, "--out", str(run)]) == 0
    assert cli.main(["eval", "--run", str(run), "-n", "200"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist" in out and "real-vs-real floor" in out
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["step"] == 20
    assert {"precision", "density"} <= set(report["quality"])
    assert {"recall", "coverage"} <= set(report["diversity"])
    assert {"fd", "kid"} <= set(report["similarity"])
    # a 20-step generator is far from the data; real test images are close to real train images
    fd = report["similarity"]["fd"]
    assert fd["value"] > 10 * fd["floor"]
    assert (run / "eval" / "report.png").stat().st_size > 1000


def test_eval_of_a_ring8_run_uses_pacgan_mode_metrics(tmp_path, capsys):
    run = tmp_path / "ring"
    assert cli.main(["train", *TINY_RING, "--out", str(run)]) == 0
    assert cli.main(["eval", "--run", str(run)]) == 0
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["protocol"]["N_gen"] == 2500
    assert report["diversity"]["modes"]["floor"] == 8  # real points cover every mode
    assert 0.98 < report["quality"]["high_quality"]["floor"] < 1.0  # P(|N(0,σ²I)| < 3σ) = 0.989


def test_eval_bad_input_is_one_line(tmp_path, capsys):
    assert cli.main(["eval", "--run", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err
    with pytest.raises(SystemExit):
        cli.main(["eval"])  # --run is required


def test_training_tracks_a_metric_and_keeps_the_best_checkpoint(tmp_path, capsys):
    run = tmp_path / "tracked"
    argv = ["train", *tiny_train_args(sample_every=10, checkpoint_every=20), "--steps", "20"]
    argv += ["--set", "track_metric=fd"]
    argv += ["--set", "track_samples=200", "--out", str(run)]
    assert cli.main(argv) == 0
    rows = [json.loads(line) for line in (run / "track.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [10, 20]
    best = min(rows, key=lambda row: row["value"])
    assert sorted(p.name for p in (run / "best").iterdir()) == [str(best["step"])]
    # -n 200 as the image-run test's eval: the same sample and metric programs
    assert cli.main(["eval", "--run", str(run), "--best", "-n", "200"]) == 0
    assert json.loads((run / "eval" / "report.json").read_text())["step"] == best["step"]
    # a metric that does not fit the data fails before anything is written
    bad = ["train", *TINY_IMAGES, "--set", "track_metric=modes", "--out", str(tmp_path / "bad")]
    assert cli.main(bad) == 1
    assert "does not fit images" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
