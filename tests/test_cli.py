import json
import re
import runpy
import shutil
import sys

import numpy as np
import PIL.Image
import pytest
from cli_args import tiny_train_args

from jaxgan import cli
from jaxgan.experiment.config import to_dict
from jaxgan.experiment.rundir import read_metrics
from jaxgan.tbevents import read_scalars

# the seed-mlp preset shrunk to run in a second or two
TINY = tiny_train_args(sample_every=20, checkpoint_every=20)


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def read_png(path):
    return np.asarray(PIL.Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert cli.main(["train", *TINY, "--steps", "50", "--out", str(out)]) == 0
    return out


def test_train_leaves_a_complete_run_folder(finished_run, capsys):
    out = finished_run
    expected = cli.train_config_from_args(
        cli.build_parser().parse_args(["train", *TINY, "--steps", "50"])
    )
    assert json.loads((out / "config.json").read_text()) == to_dict(expected)
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [10, 20, 30, 40, 50]
    for row in rows:
        assert {"d_loss", "g_loss", "d_real", "d_fake", "it_per_s", "time_s"} <= set(row)
        assert 0 < row["d_real"] < 1 and 0 < row["d_fake"] < 1 and row["it_per_s"] > 0
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == ["step_0000020.png", "step_0000040.png", "step_0000050.png"]
    assert read_png(out / "samples" / "step_0000050.png").shape == (92, 92, 3)  # 3×3 of 28 px
    assert (out / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["40", "50"]  # keep 2
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["step"], summary["start_step"]) == (50, 0)


def test_the_summary_is_one_line_naming_the_folder_and_nothing_else_is_printed(tmp_path, capsys):
    code, out, err = run_cli(capsys, "train", *TINY, "--steps", "10", "--out", str(tmp_path / "a"))
    assert code == 0
    assert out.count("\n") == 1 and f"run folder: {tmp_path / 'a'}" in out
    assert "10 steps" in out and "d_loss" in out and "D(G(z))" in out
    assert err == ""  # no progress bar when stderr is not a terminal


def test_progress_bar_shows_rate_eta_and_losses_when_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the bar fits the terminal; without one it has 100
    argv = ["train", *TINY, "--steps", "20", "--progress", "--out", str(tmp_path / "p")]
    code, _, err = run_cli(capsys, *argv)
    assert code == 0
    assert "20/20" in err and "it/s" in err and "D(G(z))" in err and "<00:00" in err


def test_sample_writes_a_grid_from_the_latest_checkpoint(finished_run, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "sample", "--run", str(finished_run), "-n", "9", "--out", str(tmp_path / "g.png")
    )
    assert code == 0 and "g.png" in out
    # default noise is the run's fixed grid noise: the grid equals the last training grid
    np.testing.assert_array_equal(
        read_png(tmp_path / "g.png"), read_png(finished_run / "samples" / "step_0000050.png")
    )
    code, _, _ = run_cli(
        capsys, "sample", "--run", str(finished_run), "-n", "4", "--seed", "3", "--step", "40",
        "--out", str(tmp_path / "h.png"),
    )  # fmt: skip
    assert code == 0 and read_png(tmp_path / "h.png").shape == (62, 62, 3)


def test_a_2d_preset_trains_and_plots_a_scatter(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "train", "--preset", "ring8", "--steps", "20", "--out", str(tmp_path / "r"),
        "--set", "data_limit=1000", "--set", "g_hidden=16", "--set", "d_hidden=16",
        "--set", "g_depth=2", "--set", "d_depth=1", "--set", "maxout_pieces=2",
        "--set", "loop=python", "--set", "steps_per_call=10", "--set", "log_every=10",
        "--set", "sample_every=20", "--set", "checkpoint_every=20", "--set", "scatter_points=200",
    )  # fmt: skip
    assert code == 0, out
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (config["model"]["family"], config["schedule"]["steps"]) == ("toy", 20)
    assert config["schedule"]["epochs"] is None
    assert read_png(tmp_path / "r" / "samples" / "step_0000020.png").shape[1] == 450  # scatter


def test_print_config_shows_the_resolved_overrides(capsys):
    code, out, _ = run_cli(capsys, "train", "--preset", "ring8", "--lr", "3e-4", "--print-config")
    config = json.loads(out)
    assert code == 0 and config["optim"]["lr"] == 3e-4 and config["name"] == "ring8"


def test_help_explains_commands_presets_and_fields(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0
    for expected in ("--preset", "--resume", "--set FIELD=VALUE", "seed-mlp", "dcgan-cifar10",
                     "ring8", "grid25", "learning rate", "checkpoint_every"):  # fmt: skip
        assert expected in text
    # python -m jaxgan --help, run here (fresh processes run the CLI's train in
    # tests/test_compile_cache.py and, forked, in tests/test_faults.py)
    monkeypatch.setattr(sys, "argv", ["jaxgan", "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("jaxgan", run_name="__main__")
    text = capsys.readouterr().out
    assert exit_.value.code == 0 and "train" in text and "sample" in text


@pytest.fixture
def broken_runs(finished_run, tmp_path):
    """Copies of a finished run: one without checkpoints, one with a corrupt latest one."""
    no_ckpt = tmp_path / "no_ckpt"
    shutil.copytree(finished_run, no_ckpt)
    shutil.rmtree(no_ckpt / "checkpoints")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(finished_run, corrupt)
    for blob in (corrupt / "checkpoints" / "50" / "state").rglob("*"):
        if blob.is_file() and blob.parent.name == "d":
            blob.write_bytes(b"broken")
    (tmp_path / "a_file").write_text("x")
    return {"no_ckpt": no_ckpt, "corrupt": corrupt, "file": tmp_path / "a_file"}


BAD_INPUT = [
    (["train", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "--data", "no_such_dataset_xyz"], "unknown dataset 'no_such_dataset_xyz'"),
    (["train", "--preset", "dcgan-cifar10", "--data", "fashion_mnist_sample"],
     r"shape \(28, 28, 1\) but the dcgan model"),
    (["train", "--lr=-1e-4"], "lr must be > 0"),
    (["train", "--set", "conditional=true"], "conditional=true needs a model that takes labels"),
    (["train", "--batch-size", "0"], "batch_size must be ≥ 1"),
    (["train", "--set", "colour=red"], "unknown config field 'colour'"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--steps", "many"], "invalid int value: 'many'"),
    (["train", "--steps", "5", "--epochs", "1"], "not allowed with argument"),
    (["train", "--out", "{run}"], "not empty; continue it with --resume"),
    (["train", "--resume", "--out", "{run}", "--lr", "1e-3"], "a resumed run keeps its config"),
    (["train", "--resume", "--out", "{no_ckpt}"], "no checkpoint in"),
    (["train", "--resume", "--out", "{corrupt}", "--steps", "60"], "corrupt or incomplete"),
    (["train", "--resume", "--out", "{file}/nothing"], "does not exist"),
    (["train", "--out", "{file}/sub/run"], "is a file"),
    (["train", "--resume", "--overwrite", "--out", "{run}"], "not allowed with argument"),
    (["sample", "--run", "{file}"], "does not exist"),
    (["sample", "--run", "{run}", "-n", "0"], r"n must be an integer in \[1, 100000\]"),
]  # fmt: skip


# orbax's reader leaves an asyncio callback behind when a corrupt file fails to decode
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(("argv", "message"), BAD_INPUT)
def test_bad_input_gets_a_one_line_error_and_damages_nothing(
    argv, message, finished_run, broken_runs, capsys
):
    places = {"run": finished_run, **broken_runs}
    argv = [a.format(**{k: str(v) for k, v in places.items()}) for a in argv]
    before = {name: snapshot(path) for name, path in places.items() if path.is_dir()}
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse usage errors
        code = exit_.code
    _, err = capsys.readouterr()
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("jaxgan"), err
    assert re.search(message, err), err
    after = {name: snapshot(path) for name, path in places.items() if path.is_dir()}
    assert after == before


def test_overwrite_replaces_a_run_but_not_foreign_files(finished_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    code, _, _ = run_cli(capsys, "train", *TINY, "--steps", "20", "--out", str(copy), "--overwrite")
    assert code == 0
    assert sorted(p.name for p in (copy / "checkpoints").iterdir()) == ["20"]
    assert [r["step"] for r in read_metrics(copy)] == [10, 20]
    (copy / "notes.txt").write_text("mine")
    code, _, err = run_cli(capsys, "train", *TINY, "--out", str(copy), "--overwrite")
    assert code == 1 and "jaxgan did not write (notes.txt)" in err
    assert (copy / "notes.txt").read_text() == "mine" and (copy / "checkpoints" / "20").is_dir()


def test_seeds_and_sweep_train_runs_together_and_write_a_summary(tmp_path, capsys):
    out = tmp_path / "ens"
    code, stdout, err = run_cli(
        capsys, "train", "--preset", "ring8", "--steps", "10", "--out", str(out),
        "--seeds", "2", "--sweep", "lr=1e-4,4e-4",
        "--set", "data_limit=1000", "--set", "g_hidden=16", "--set", "d_hidden=16",
        "--set", "g_depth=2", "--set", "d_depth=1", "--set", "maxout_pieces=2",
        "--set", "steps_per_call=10", "--set", "loop=scan", "--runs-together", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "trained 4 runs; summary in" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["runs"]) == 4
    # at most 2 runs per vmapped program (one program for both slices), each slice reported on
    # stderr as it ends
    assert [g["runs"] for g in summary["groups"]] == [[0, 1], [2, 3]]
    assert err.count("trained runs [") == 2 and "run-iterations/s" in err
    assert "modes" in (out / "summary.md").read_text()
    # one TensorBoard run per member, named by its seed and swept value
    members = sorted(p.name for p in (out / "tensorboard").iterdir())
    assert members == [
        "seed=0,lr=0.0001",
        "seed=0,lr=0.0004",
        "seed=1,lr=0.0001",
        "seed=1,lr=0.0004",
    ]
    for member in members:
        scalars = read_scalars(out / "tensorboard" / member)
        assert [step for step, _ in scalars["d_loss"]] == [10]
        assert scalars["lr/g"][0][1] == pytest.approx(float(member.split("lr=")[1]))
    code, _, err = run_cli(capsys, "train", "--seeds", "0", "--out", str(tmp_path / "bad"))
    assert code == 2 and "--seeds must be at least 1" in err
    code, _, err = run_cli(capsys, "train", "--runs-together", "1", "--out", str(tmp_path / "b1"))
    assert code == 2 and "--runs-together needs --seeds" in err
    code, _, err = run_cli(
        capsys, "train", "--seeds", "2", "--runs-together", "0", "--out", str(tmp_path / "b3")
    )
    assert code == 2 and "--runs-together must be at least 1" in err
    code, _, err = run_cli(
        capsys, "train", "--seeds", "2", "--sweep", "lr", "--out", str(tmp_path / "b2")
    )
    assert code != 0 and "name=v1,v2" in err


def test_devices_flag_trains_data_parallel_or_refuses_cleanly(tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "train", *TINY, "--steps", "20", "--devices", "1", "--out", str(tmp_path / "d1")
    )
    assert code == 0, err
    assert json.loads((tmp_path / "d1" / "config.json").read_text())["schedule"]["devices"] == "1"
    code, _, err = run_cli(
        capsys, "train", *TINY, "--steps", "20", "--devices", "64", "--out", str(tmp_path / "d64")
    )
    assert code == 1 and "64 devices was asked for" in err
    assert not (tmp_path / "d64").exists()  # nothing written for a run that cannot start
