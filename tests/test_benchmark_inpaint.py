"""Smoke test of benchmarks/inpaint_speed.py: the structure of its report, never its speed."""

import importlib.util
import json

from script_loader import load_script


def test_tiny_run_reports_jax_and_torch_rows_with_load(tmp_path):
    bench = load_script("benchmarks/inpaint_speed.py")
    report = bench.main(
        [
            "--archs",
            "mlp",
            "--images",
            "4",
            "--steps",
            "2",
            "--restarts",
            "2",
            "--torch-images",
            "1",
            "--repeats",
            "1",
            "--out-dir",
            str(tmp_path),
        ]
    )
    assert json.loads((tmp_path / "inpaint_speed_full.json").read_text()) == report
    rows = report["results"]
    jax_row = next(r for r in rows if r["framework"] == "jax")
    assert jax_row["first_call_s"] > 0 and jax_row["seconds"] > 0
    assert jax_row["loop"] == "scan"  # an MLP: --loop auto keeps lax.scan
    assert jax_row["target_extrapolated"] and jax_row["target_seconds"] > jax_row["seconds"]
    assert all(len(r["load_average"]) == 2 for r in rows)
    if importlib.util.find_spec("torch") is not None:
        torch_rows = [r for r in rows if r["framework"] == "torch"]
        assert {r["threads"] for r in torch_rows} >= {1}
        assert all(r["seconds_per_image"] > 0 for r in torch_rows)
