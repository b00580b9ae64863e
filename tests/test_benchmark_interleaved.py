"""Smoke test of benchmarks/interleaved.py: one round of the seed MLP, its rows and file."""

import json
from pathlib import Path

from script_loader import load_script


def test_one_round_of_the_mlp_writes_rows_for_every_case(tmp_path):
    """One round of every case; the seed MLP at batch 64, the programs of test_benchmark.py."""
    argv = [
        "--arch",
        "mlp",
        "--batch-size",
        "64",
        "--rounds",
        "1",
        "--calls",
        "1",
        "--threads",
        "1",
        "--name",
        "smoke",
        "--peak-size",
        "256",
    ]
    bench = load_script("benchmarks/interleaved.py")
    report = bench.main([*argv, "--out-dir", str(tmp_path)])
    cases = {row["case"]: row for row in report["rows"]}
    assert "jax train_step (defaults)" in cases and "jax d_step" in cases
    for row in cases.values():
        assert 0 < row["ms_min"] <= row["ms_median"]
    assert cases["jax d_step"]["gflop"] > 0
    saved = json.loads(Path(tmp_path / "smoke.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(report["rows"]))
    assert len(saved["meta"]["load_start"]) == 3
    assert saved["meta"]["matmul_peak_gflop_s"]["jax"]["n"] == 256
