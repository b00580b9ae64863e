"""Smoke test of benchmarks/step_time.py --quick: structure of its outputs, never its speed."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from script_loader import load_script

JAX_FORMS = {
    "fused",
    "fused_reuse",
    "fused_two_d_calls",
    "d_step",
    "d_step_two_calls",
    "g_step",
    "two_jits",
    "fit_auto",
    "fit_scan",
    "fit_python",
}


@pytest.fixture(scope="module")
def step_time():
    return load_script("benchmarks/step_time.py")


def torch_importable():
    return importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="module")
def quick_report(step_time, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # a 256² matmul for the peak (the default 2048² costs ~3.5 CPU-s of products)
    argv = ["--quick", "--repeats", "1", "--target-seconds", "0.05", "--peak-size", "256"]
    return step_time.main([*argv, "--out-dir", str(out)]), out


def test_quick_run_times_every_jax_form_with_stats_and_flops(quick_report):
    report, _ = quick_report
    jax_rows = {r["form"]: r for r in report["results"] if r["framework"] == "jax"}
    assert set(jax_rows) == JAX_FORMS
    for row in jax_rows.values():
        assert (row["arch"], row["batch"], row["dtype"], row["status"]) == ("mlp", 64, "f32", "ok")
        ips, ms = row["it_per_s"], row["ms_per_it"]
        assert 0 < ips["min"] <= ips["median"] <= ips["max"]
        assert ms["median"] == pytest.approx(1e3 / ips["median"], rel=0.5)
        assert row["first_call_s"] > 0 and row["repeats"] >= 1
        assert row["flops_per_it"] > 0 and row["gflop_per_s"] > 0  # XLA:CPU cost analysis
        assert row["load_average"] >= 0
    assert jax_rows["fit_auto"]["loop"] in ("scan", "python")
    assert jax_rows["fit_python"]["loop"] == "python"
    assert jax_rows["fit_scan"]["steps_per_call"] == 20
    assert jax_rows["fit_scan"]["fit_call_overhead_s"] >= 0
    # the fused step does the work of d_step + g_step: same FLOPs up to rounding; with
    # reuse_fake it runs G's forward pass once instead of twice
    fused, two = jax_rows["fused"]["flops_per_it"], jax_rows["two_jits"]["flops_per_it"]
    assert fused == pytest.approx(two, rel=0.05)
    assert jax_rows["fused_reuse"]["flops_per_it"] < 0.95 * fused
    assert jax_rows["fused_reuse"]["step_options"] == {"reuse_fake": True}
    assert jax_rows["fused"]["preset"] == "seed-mlp"
    meta = report["meta"]
    assert meta["matmul_peak_gflop_s"]["jax"]["median"] > 0
    assert meta["matmul_peak_gflop_s"]["jax"]["n"] == 256
    assert jax_rows["fused"]["of_matmul_peak"] > 0
    for key in ("date_utc", "host_cpu", "jax", "jaxlib", "flax", "jax_device", "jax_backend"):
        assert meta[key], key
    assert len(meta["load_average_start"]) == 3 and len(meta["load_average_end"]) == 3


def test_quick_run_compares_with_pytorch_or_says_why_not(quick_report):
    report, _ = quick_report
    torch_rows = {r["form"]: r for r in report["results"] if r["framework"] == "torch"}
    fused = next(r for r in report["results"] if r["form"] == "fused")
    if torch_importable():
        assert torch_rows["torch_eager"]["status"] == "ok"
        assert {"torch_eager_d", "torch_eager_g"} <= set(torch_rows)
        assert torch_rows["torch_compile"]["status"] == "n/a"
        assert "no-compile" in torch_rows["torch_compile"]["reason"]
        ratio = fused["it_per_s"]["median"] / torch_rows["torch_eager"]["it_per_s"]["median"]
        assert fused["vs_torch_eager"] == pytest.approx(ratio)
        assert report["meta"]["torch_threads"] >= 1
        # PyTorch rows carry the FLOPs of the jaxgan program doing the same work
        reuse = next(r for r in report["results"] if r["form"] == "fused_reuse")
        assert torch_rows["torch_eager"]["flops_per_it"] == pytest.approx(reuse["flops_per_it"])
        assert torch_rows["torch_eager"]["of_matmul_peak"] > 0
    else:
        assert torch_rows["torch_eager"]["status"] == "n/a"
        assert "not installed" in torch_rows["torch_eager"]["reason"]
        assert fused["vs_torch_eager"] is None


def test_quick_run_writes_json_png_and_a_table(quick_report, step_time, capsys):
    report, out = quick_report
    files = report["files"]
    assert Path(files["json"]).parent == out
    saved = json.loads(Path(files["json"]).read_text())
    assert saved["results"] == json.loads(json.dumps(report["results"]))
    assert Path(files["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = step_time.format_table(report["results"])
    assert "| form |" in table and "× torch eager" in table
    assert table.count("\n| jax ") == len(JAX_FORMS)
    assert "of matmul peak" in table


def test_missing_torch_is_reported_not_raised(step_time, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    module, reason = step_time.load_torch_baselines()
    assert module is None and "not installed" in reason and "jaxgan[torch]" in reason


def test_ratios_match_like_with_like(step_time):
    def row(framework, form, rate, dtype="f32"):
        return {
            "arch": "mlp",
            "batch": 64,
            "dtype": dtype,
            "framework": framework,
            "form": form,
            "status": "ok",
            "it_per_s": {"median": rate},
        }

    rows = [
        row("torch", "torch_eager", 100.0),
        row("torch", "torch_eager_d", 400.0),
        row("torch", "torch_compile", 50.0),
        row("jax", "fused", 300.0),
        row("jax", "d_step", 200.0),
        row("jax", "fused", 300.0, dtype="bf16"),
    ]
    step_time.add_ratios(rows)
    assert (rows[3]["vs_torch_eager"], rows[3]["vs_torch_compile"]) == (3.0, 6.0)
    assert (rows[4]["vs_torch_eager"], rows[4]["vs_torch_compile"]) == (0.5, None)
    assert rows[5]["vs_torch_eager"] is None  # no bf16 PyTorch row to compare with


def test_measure_reports_first_call_apart_and_every_repeat(step_time):
    calls = []
    timing = step_time.measure(calls.append, repeats=3, warmup=2, target_s=0.0)
    assert calls == [1, 1, 1, 1, 1, 1]  # first call, 2 warm-up calls, 3 repeats of 1 call
    assert len(timing.seconds_per_iteration) == 3 and timing.first_call_s >= 0


def test_sn_resnet_entry_is_sngans_cifar_preset(step_time):
    import jax

    assert step_time.parse_args(["--archs", "sn-resnet", "--quick"]).archs == ["sn-resnet"]
    config = step_time.benchmark_config("sn-resnet")
    assert config.name == "sngan-cifar10" and step_time.ARCHS["sn-resnet"].torch_twin is None
    state = jax.eval_shape(lambda: step_time.new_state(config))
    assert (state.config.loss, state.config.n_critic, state.config.latent_dim) == ("hinge", 5, 128)
    assert (config.model.width, config.model.d_width, config.data.image_shape) == (
        256,
        128,
        (32, 32, 3),
    )


def test_setups_are_the_presets_changed_only_as_asked(step_time):
    from jaxgan.experiment.config import load_preset

    dcgan = step_time.benchmark_config(
        "dcgan", upsample="transpose", dtype="bf16", width=32, overrides={"d_dropout": 0.0}
    )
    expected = dict(upsample="transpose", compute_dtype="bfloat16", width=32, d_dropout=0.0)
    assert dcgan == load_preset("dcgan-mnist").replace(**expected)
    assert step_time.benchmark_config("mlp") == load_preset("seed-mlp")
    args = step_time.parse_args(["--set", "g_hidden=64", "--set", "lr=1e-3"])
    assert args.set == {"g_hidden": 64, "lr": 1e-3}


@pytest.mark.skipif(not torch_importable(), reason="PyTorch not installed")
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_torch_twins_have_the_presets_layers(step_time, arch):
    """Same layers, same sizes: the twin of each preset has its parameter count per player."""
    import jax

    baselines, _ = step_time.load_torch_baselines()
    config = step_time.benchmark_config(arch, upsample="transpose")
    state = jax.eval_shape(lambda: step_time.new_state(config))
    g, d = baselines.build_pair(step_time.ARCHS[arch].torch_twin, width=config.model.width)
    for player, twin in ((state.generator, g), (state.discriminator, d)):
        ours = sum(leaf.size for leaf in jax.tree.leaves(player.params))
        assert ours == sum(p.numel() for p in twin.parameters())
