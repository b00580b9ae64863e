"""Smoke test of benchmarks/fd_speed.py --quick: its rows, accuracy columns and files, not speed."""

import json
from pathlib import Path

import pytest
from script_loader import load_script


@pytest.fixture(scope="module")
def fd_speed():
    return load_script("benchmarks/fd_speed.py")


@pytest.fixture(scope="module")
def quick_report(fd_speed, tmp_path_factory):
    out = tmp_path_factory.mktemp("fd_bench")
    return fd_speed.main(["--quick", "--out-dir", str(out)]), out


def test_quick_run_times_every_route_for_both_sample_cases(quick_report):
    report, _ = quick_report
    rows = report["results"]
    for d, n, case in ((16, 200, "N > d"), (32, 200, "N > d"), (16, 8, "N < d"), (32, 16, "N < d")):
        routes = {r["route"]: r for r in rows if (r["d"], r["n"]) == (d, n)}
        expected = {
            "statistics",
            "sqrtm",
            "eigvals",
            "eigh",
            "auto",
            "jax_f32",
            "jax_f64",
            "reference",
        }
        assert set(routes) == expected | ({"low_rank"} if n < d else {"jax_eigh_f32"})
        for row in routes.values():
            assert row["case"] == case and 1 <= row["repeats"] <= 2
            assert 0 <= row["min_s"] <= row["median_s"] <= row["max_s"]
        assert routes["statistics"]["fd"] is None
        # accuracy columns: the float64 routes agree with sqrtm to the 1e-6
        for route in ("eigh", "auto", "jax_f64") + (("low_rank",) if n < d else ()):
            assert routes[route]["rel_vs_sqrtm"] <= 1e-6, route
            assert routes[route]["rel_vs_exact"] <= 1e-10, route
        assert routes["reference"]["rel_vs_exact"] == 0.0
        assert routes["jax_f32"]["rel_vs_exact"] < 1e-3


def test_quick_run_writes_json_and_a_table(quick_report, fd_speed):
    report, out = quick_report
    path = Path(report["files"]["json"])
    assert path.parent == out and path.name.startswith("fd_speed_") and "quick" in path.name
    saved = json.loads(path.read_text())
    assert saved["results"] == json.loads(json.dumps(report["results"]))
    for key in ("date_utc", "host_cpu", "numpy", "scipy", "blas", "jax"):
        assert saved["meta"][key], key
    assert len(saved["meta"]["load_average_start"]) == 3
    assert len(saved["meta"]["load_average_end"]) == 3
    table = fd_speed.format_table(report["results"])
    assert table.startswith("| features | d | N_a = N_b | route |")
    assert table.count("\n") == len(report["results"]) + 1


def test_jax_rows_are_limited_by_width(fd_speed):
    args = fd_speed.parse_args(["--quick", "--jax-max-d", "16"])
    rows = fd_speed.bench_case(32, 40, "N > d", args)
    assert {r["route"] for r in rows}.isdisjoint({"jax_f32", "jax_f64", "jax_eigh_f32"})
    assert fd_speed.parse_args(["--quick", "--jax-max-d", "16"]).jax_max_d == 16


def test_repeats_stop_at_the_row_budget(fd_speed):
    calls = []
    timing = fd_speed.time_route(lambda: calls.append(1) or 3.5, repeats=5, budget_s=0.0)
    assert len(calls) == 1 and timing["repeats"] == 1 and timing["value"] == 3.5
    timing = fd_speed.time_route(lambda: 1.0, repeats=3, budget_s=1e9)
    assert timing["repeats"] == 3
