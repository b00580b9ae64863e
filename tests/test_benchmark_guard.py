"""Smoke test of benchmarks/guard_overhead.py --quick: its report and file, not its numbers."""

import json
from pathlib import Path

from script_loader import load_script


def test_quick_run_times_both_policies_and_the_lock(tmp_path):
    report = load_script("benchmarks/guard_overhead.py").main(
        ["--quick", "--out-dir", str(tmp_path)]
    )
    assert set(report["it_per_s"]) == {"stop", "none"}
    assert all(len(rates) == 2 and min(rates) > 0 for rates in report["it_per_s"].values())
    low, high = report["check_cost_fraction_min_max"]
    assert low <= report["check_cost_fraction"] <= high < 1
    assert 0 < report["lock_median_us"] <= report["lock_max_us"]
    saved = json.loads(Path(report["files"]["json"]).read_text())
    assert saved["setup"]["preset"] == "seed-mlp" and saved["setup"]["steps"] == 100
    # test_benchmark.py's quick fit shapes: the session compiles that chunk once for both
    assert (saved["setup"]["steps_per_call"], saved["setup"]["examples"]) == (20, 1024)
    assert len(saved["load_average_start"]) == 3
