"""TensorBoard logging: the event files of a run, read back by jaxgan and by a real TensorBoard.

One tiny run (40 steps of the seed MLP shrunk, tests/cli_args.py) is shared by the tests of this
module; the real-server test starts ``tensorboard`` on a free port against it and reads the
scalars, an image and the hparams over its HTTP API.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from cli_args import tiny_train_args

from jaxgan import cli
from jaxgan.experiment.board import log_eval_panel
from jaxgan.experiment.rundir import read_metrics
from jaxgan.tbevents import event_files, read_events, read_images, read_scalars

TINY = [*tiny_train_args(sample_every=20, checkpoint_every=20), "--set", "log=tensorboard"]


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tb") / "tiny"
    assert cli.main(["train", *TINY, "--steps", "40", "--out", str(out)]) == 0
    return out


def tags_of(folder):
    return {value.tag for event in read_events(folder) for value in event.summary.value}


def test_event_files_hold_the_metrics_log_grids_histograms_and_hparams(tiny_run):
    board = tiny_run / "tensorboard"
    scalars = read_scalars(board)
    rows = read_metrics(tiny_run)
    names = set(rows[0]) - {"step", "time_s"}
    assert {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "it_per_s"} <= names
    for name in names:  # the very rows of metrics.jsonl (as float32)
        assert [step for step, _ in scalars[name]] == [row["step"] for row in rows]
        got = [value for _, value in scalars[name]]
        np.testing.assert_allclose(got, [row[name] for row in rows], rtol=1e-6)
    assert [value for _, value in scalars["lr/g"]] == pytest.approx([2e-4] * 4)
    assert [step for step, _ in read_images(board)["samples"]] == [20, 40]
    png = read_images(board)["samples"][-1][1]
    assert png == (tiny_run / "samples" / "step_0000040.png").read_bytes()
    assert {"d_real_hist", "d_fake_hist", "_hparams_/session_start_info"} <= tags_of(board)


def test_log_none_writes_no_event_files(tmp_path, capsys):
    out = tmp_path / "quiet"
    code, _, err = run_cli(
        capsys, "train", *TINY, "--steps", "10", "--set", "log=none", "--out", str(out)
    )
    assert code == 0, err
    assert not (out / "tensorboard").exists() and read_metrics(out)


def test_an_unknown_log_value_is_one_line_before_training(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "--set", "log=wandb", "--out", str(tmp_path / "w"))
    assert code == 2 and err.count("\n") == 1
    assert "log must be one of tensorboard, none, got 'wandb'" in err
    assert not (tmp_path / "w").exists()


def test_resuming_appends_without_duplicate_steps(tiny_run, tmp_path, capsys):
    run = tmp_path / "resumed"
    shutil.copytree(tiny_run, run)
    shutil.rmtree(run / "checkpoints" / "40")  # as if killed after logging step 40
    code, out, err = run_cli(capsys, "train", "--resume", "--out", str(run), "--steps", "60")
    assert code == 0 and "resumed at step 20" in out, err
    board = run / "tensorboard"
    assert len(event_files(board)) == 2
    for tag, series in read_scalars(board).items():
        steps = [step for step, _ in series]
        assert steps == sorted(set(steps)), tag
    assert [step for step, _ in read_scalars(board)["d_loss"]] == [10, 20, 30, 40, 50, 60]
    assert [step for step, _ in read_images(board)["samples"]] == [20, 40, 60]
    starts = [e for e in read_events(board) for v in e.summary.value if "session_start" in v.tag]
    assert len(starts) == 1  # the hparams are written once, by the run that wrote last


def test_an_unwritable_log_folder_warns_once_and_the_run_goes_on(tiny_run, tmp_path, capsys):
    run = tmp_path / "blocked"
    shutil.copytree(tiny_run, run)
    shutil.rmtree(run / "tensorboard")
    (run / "tensorboard").write_text("not a folder")
    code, out, err = run_cli(capsys, "train", "--resume", "--out", str(run), "--steps", "50")
    assert code == 0 and "resumed at step 40" in out
    assert err.count("\n") == 1 and "jaxgan train: warning: cannot write TensorBoard" in err
    assert read_metrics(run)[-1]["step"] == 50


def test_the_eval_report_panel_goes_to_the_run_log_at_the_evaluated_step(tiny_run, tmp_path):
    # jaxgan eval calls this with its report.png (an end-to-end eval takes ~15 s here)
    run = tmp_path / "evaluated"
    shutil.copytree(tiny_run, run)
    panel = run / "samples" / "step_0000020.png"
    log_eval_panel(run, 20, panel)
    [(step, png)] = read_images(run / "tensorboard")["eval/report"]
    assert step == 20 and png == panel.read_bytes()
    shutil.rmtree(run / "tensorboard")  # a run written with log=none gets no log
    log_eval_panel(run, 20, panel)
    assert not (run / "tensorboard").exists()


# -- the real TensorBoard ------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return (
        payload
        if response.headers.get_content_type() != "application/json"
        else json.loads(payload)
    )


@pytest.fixture(scope="module")
def tensorboard_url(tiny_run, tmp_path_factory):
    pytest.importorskip("tensorboard", reason="the tensorboard package (jaxgan[test]) is needed")
    port = _free_port()
    log = tmp_path_factory.mktemp("tb_server") / "server.log"
    with open(log, "w") as stream:
        server = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(tiny_run),
             "--host", "127.0.0.1", "--port", str(port), "--load_fast=false"],
            stdout=stream, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # up, and done loading the run's scalars
            with contextlib.suppress(OSError, ValueError):
                series = _get(f"{url}/data/plugin/scalars/scalars?run=tensorboard&tag=d_loss")
                if len(series) == 4:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"tensorboard did not serve the run: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait()


@pytest.mark.slow
def test_a_real_tensorboard_serves_scalars_images_and_hparams(tiny_run, tensorboard_url):
    url = tensorboard_url
    assert _get(f"{url}/data/runs") == ["tensorboard"]
    series = _get(f"{url}/data/plugin/scalars/scalars?run=tensorboard&tag=d_loss")
    rows = read_metrics(tiny_run)
    assert [step for _, step, _ in series] == [row["step"] for row in rows]
    np.testing.assert_allclose([v for _, _, v in series], [r["d_loss"] for r in rows], rtol=1e-6)
    images = _get(f"{url}/data/plugin/images/images?run=tensorboard&tag=samples")
    assert [image["step"] for image in images] == [20, 40]
    png = _get(f"{url}/data/plugin/images/individualImage?{images[-1]['query']}")
    assert png == (tiny_run / "samples" / "step_0000040.png").read_bytes()
    experiment = _get(f"{url}/data/plugin/hparams/experiment", {"experimentName": ""})
    hparams = {info["name"]: info for info in experiment["hparamInfos"]}
    assert {"lr", "batch_size", "loss", "g_hidden", "seed"} <= set(hparams)
    metrics = {info["name"]["tag"] for info in experiment["metricInfos"]}
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= metrics
    groups = _get(
        f"{url}/data/plugin/hparams/session_groups",
        {"experimentName": "", "startIndex": 0, "sliceSize": 10,
         "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_RUNNING"],
         "colParams": [{"hparam": "g_hidden"}, {"metric": {"tag": "d_loss"}}]},
    )  # fmt: skip
    [group] = groups["sessionGroups"]
    assert group["hparams"]["g_hidden"] == 16 and group["hparams"]["batch_size"] == 32


# -- jaxgan compare ------------------------------------------------------------------------------


def _fake_ensemble(folder, grid):
    """An ensemble folder as run_ensemble leaves it: 2 seeds × 2 learning rates, 30 steps."""
    (folder / "samples").mkdir(parents=True)
    (folder / "ensemble.json").write_text("{}")
    setup = {"steps": 30, "sweep": {"lr": [1e-4, 2e-4]}}
    runs = [
        {"run": i, "seed": i % 2, "setting": f"lr={lr}", "lr": lr, "d_loss": 1.0 + i,
         "g_loss": 0.5, "d_real": 0.6, "d_fake": 0.4, "modes": 8 - i}
        for i, lr in enumerate([1e-4, 1e-4, 2e-4, 2e-4])
    ]  # fmt: skip
    (folder / "summary.json").write_text(json.dumps({"setup": setup, "runs": runs}))
    history = {m: np.full((30, 4), 0.5) for m in ("d_loss", "g_loss", "d_real", "d_fake")}
    np.savez(folder / "history.npz", **history)
    for i in range(4):
        shutil.copy(grid, folder / "samples" / f"run_{i:03d}.png")
    return folder


def test_compare_overlays_runs_and_ensemble_members(tiny_run, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(tiny_run, other)
    (other / "track.jsonl").write_text(
        "".join(json.dumps({"step": s, "metric": "fd", "value": v}) + "\n"
                for s, v in ((20, 9.0), (40, 7.5)))
    )  # fmt: skip
    ensemble = _fake_ensemble(tmp_path / "ens", tiny_run / "samples" / "step_0000040.png")
    figure = tmp_path / "cmp.png"
    code, out, err = run_cli(
        capsys, "compare", str(tiny_run), str(other), str(ensemble), "--out", str(figure)
    )
    assert code == 0, err
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert table[0].startswith("| run | step | d_loss | g_loss | d_real | d_fake |")
    assert "best fd" in table[0] and "modes" in table[0]
    names = [line.split("|")[1].strip() for line in table[2:]]
    assert names == ["tiny", "other", "ens/seed=0,lr=0.0001", "ens/seed=1,lr=0.0001",
                     "ens/seed=0,lr=0.0002", "ens/seed=1,lr=0.0002"]  # fmt: skip
    last = read_metrics(tiny_run)[-1]
    assert f"| tiny | 40 | {last['d_loss']:.4g} |" in out
    assert "| 7.5 @ 40 |" in table[3]
    assert out.strip().endswith(f"figure: {figure}")
    assert figure.read_bytes().startswith(b"\x89PNG")
    code, _, err = run_cli(capsys, "compare", str(tmp_path), "--out", str(figure))
    assert code == 1 and err.count("\n") == 1 and "is not a jaxgan run or ensemble folder" in err
