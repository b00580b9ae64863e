"""``jaxgan inpaint`` and ``jaxgan invert``: outputs, summary line, bad input, the run untouched."""

import json

import numpy as np
import PIL.Image
import pytest
from cli_args import tiny_train_args

from jaxgan import cli

TINY = tiny_train_args(sample_every=20, checkpoint_every=20)
QUICK = ["--limit", "6", "--steps", "4", "--restarts", "2", "--batch-size", "4"]


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert cli.main(["train", *TINY, "--steps", "20", "--out", str(out)]) == 0
    return out


def test_inpaint_writes_grids_results_and_outputs_and_leaves_the_run_alone(
    tiny_run, tmp_path, capsys
):
    before = snapshot(tiny_run)
    out = tmp_path / "inpaint"
    code, stdout, stderr = run_cli(
        capsys,
        "inpaint",
        "--run",
        tiny_run,
        *QUICK,
        "--mask",
        "center:8",
        "--mask",
        "pixels:0.5",
        "--out",
        out,
    )
    assert code == 0, stderr
    assert snapshot(tiny_run) == before  # nothing written into the run folder
    line = stdout.strip()
    assert "\n" not in line and line.startswith("inpainted 6 images") and "results.json" in line
    assert "center:8" in line and "nearest" in line
    results = json.loads((out / "results.json").read_text())
    assert results["count"] == 6 and results["step"] == 20 and results["split"] == "test"
    assert set(results["masks"]) == {"center:8", "pixels:0.5"}
    entry = results["masks"]["center:8"]
    assert entry["missing_fraction"] == pytest.approx(64 / 784)
    assert set(entry["methods"]) == {"gan", "gan_paste", "mean", "nearest", "harmonic"}
    for scores in entry["methods"].values():
        assert {"psnr", "ssim", "l1", "psnr_hole", "ssim_hole", "l1_hole", "accuracy", "fd"} <= set(
            scores
        )
    outputs = np.load(out / "outputs.npz")
    assert outputs["originals"].shape == (6, 28, 28, 1)
    blended, mask = outputs["center_8/gan"], outputs["center_8/mask"]
    assert blended.dtype == np.uint8 and blended.shape == (6, 28, 28, 1)
    known = mask.astype(bool)
    np.testing.assert_array_equal(blended[known], outputs["originals"][known])
    grid = np.asarray(PIL.Image.open(out / "grid_center_8.png"))
    assert grid.shape[0] == 2 * (7 * 30 + 2)  # 7 rows (4 + 3 baselines) of 28 px, scale 2


def test_invert_reports_the_reconstruction_error(tiny_run, tmp_path, capsys):
    out = tmp_path / "invert"
    code, stdout, stderr = run_cli(capsys, "invert", "--run", tiny_run, *QUICK, "--out", out)
    assert code == 0, stderr
    assert stdout.startswith("inverted 6 images") and "PSNR" in stdout
    results = json.loads((out / "results.json").read_text())
    assert {"psnr", "ssim", "l1", "accuracy", "fd"} <= set(results["metrics"])
    assert np.load(out / "outputs.npz")["reconstruction"].shape == (6, 28, 28, 1)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mask", "center:40"], "centre hole size"),
        (["--mask", "file:/no/such.png"], "does not exist"),
        (["--steps", "0"], "steps must be a positive integer"),
        (["--restarts", "0"], "restarts must be a positive integer"),
        (["--offset", "5000"], "no images left"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tiny_run, tmp_path, capsys, extra, message):
    before = snapshot(tiny_run)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(
        capsys, "inpaint", "--run", tiny_run, "--limit", "2", "--out", out, *extra
    )
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1 and message in stderr, stderr
    assert snapshot(tiny_run) == before and not out.exists()


def test_a_run_without_a_checkpoint_is_a_one_line_error(tiny_run, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((tiny_run / "config.json").read_text())
    code, _, stderr = run_cli(capsys, "invert", "--run", empty, "--out", tmp_path / "o")
    assert code == 1 and stderr.count("\n") == 1 and "checkpoint" in stderr
