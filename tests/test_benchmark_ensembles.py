"""Smoke test of benchmarks/ensemble_speed.py: its setups and its table, never its speed."""

import json

import jax
import numpy as np
import pytest
from script_loader import load_script

import jaxgan
from jaxgan.experiment.build import build_state
from jaxgan.experiment.config import apply_overrides, load_preset


@pytest.fixture(scope="module")
def ensemble_speed():
    return load_script("benchmarks/ensemble_speed.py")


def test_dcgan16_is_the_stacked_mnist_dcgan_at_width_16(ensemble_speed):
    build, data, batch = ensemble_speed.dcgan16_setup()
    state = build(jax.random.key(0))
    preset = build_state(
        apply_overrides(load_preset("stacked-mnist-dcgan"), {"width": 16}), jax.random.key(0)
    )
    assert state.config == preset.config and batch == 64
    assert data.shape[1:] == (28, 28, 3)
    # same architecture and initial weights as the preset at width 16
    for ours, theirs in (
        (state.generator, preset.generator),
        (state.discriminator, preset.discriminator),
    ):
        jax.tree.map(np.testing.assert_array_equal, ours.params, theirs.params)
    z = jaxgan.sample_latent(jax.random.key(1), 2, state.config.latent_dim)
    assert jax.eval_shape(jaxgan.generate, state, z).shape == (2, 28, 28, 3)  # shapes only


def test_quick_run_writes_one_row_per_model_and_size(ensemble_speed, tmp_path):
    out = tmp_path / "rows.json"
    args = "--models ring8-tiny --runs 2 --steps 4 --repeats 1 --steps-per-call 2 --loop scan"
    rows = ensemble_speed.main([*args.split(), "--out", str(out)])
    assert [(r["model"], r["runs"], r["loop"]) for r in rows] == [("ring8-tiny", 2, "scan")]
    for row in rows:
        assert row["vmapped_run_it_per_s"] > 0 and row["sequential_run_it_per_s"] > 0
        assert row["speedup"] == pytest.approx(row["sequential_s"] / row["vmapped_s"])
    assert len(json.loads(out.read_text())["rows"]) == 1
