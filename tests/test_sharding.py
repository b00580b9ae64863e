"""Data parallelism over a device mesh: the sharded step and loop equal the one-device run.

The 8-device checks need ``jax_num_cpu_devices=8`` before JAX starts its backends, while this
pytest process runs with one CPU device; so a subprocess runs this file as a script
(``python tests/test_sharding.py OUT``) on 8 forced CPU devices and writes its sharded results to
OUT, while this process computes the same runs on its one device; the tests compare the two. The
checkpoint round trips cross the process boundary: this process (one device) restores what the
8-device run saved, and the 8-device run restores what this process saved.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import jaxgan
from jaxgan import models, sharding
from jaxgan.checkpoint import restore_checkpoint, save_checkpoint

DEVICES = 8
BATCH = 64  # 8 examples per device
STEPS, PER_CALL = 10, 4  # 3 chunks, the last one partial


def toy_state(n_critic: int = 1):
    """A small GAN with BatchNorm in G (so global batch statistics matter).

    Adam with a large epsilon: plain Adam turns gradients that are zero up to rounding (the
    biases feeding BatchNorm) into ±lr steps, which would hide real differences under a tolerance
    of the order of lr.
    """
    opt = optax.adam(1e-3, b1=0.5, eps=1e-3)
    return jaxgan.create_state(
        lambda rngs: models.ToyGenerator(latent_dim=4, hidden=16, depth=1, rngs=rngs),
        lambda rngs: models.ToyDiscriminator(hidden=16, depth=1, pieces=2, rngs=rngs),
        key=jax.random.key(0),
        g_optimizer=opt,
        d_optimizer=opt,
        n_critic=n_critic,
    )


def ensemble_state():
    """Three runs of ``toy_state``'s GAN (seeds 0-2) stacked, with their training keys."""
    opt = optax.adam(1e-3, b1=0.5, eps=1e-3)

    def build(key):
        return jaxgan.create_state(
            lambda rngs: models.ToyGenerator(latent_dim=4, hidden=16, depth=1, rngs=rngs),
            lambda rngs: models.ToyDiscriminator(hidden=16, depth=1, pieces=2, rngs=rngs),
            key=key,
            g_optimizer=opt,
            d_optimizer=opt,
        )

    return jaxgan.ensembles.create_ensemble(build, [0, 1, 2])


def toy_data():
    return jax.random.normal(jax.random.key(1), (512, 2)) * 0.5 + 1.0


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


# -- the 8-device worker (runs as a script in a subprocess) -------------------------------------


def _max_dot_rows(hlo: str) -> set[int]:
    return {int(rows) for rows in re.findall(r"= f32\[(\d+),\d+\]\S* dot\(", hlo)}


def _worker(out: Path) -> None:
    jax.config.update("jax_num_cpu_devices", DEVICES)
    jax.config.update("jax_numpy_rank_promotion", "raise")
    facts: dict = {"devices": jax.device_count()}
    arrays: dict[str, np.ndarray] = {}
    mesh = sharding.data_mesh("all")
    plan = sharding.DataParallel(mesh)
    key = jax.random.key(2)

    # the fused iteration (n_critic=2: two D updates on two blocks, then one G update), 3 calls
    real = toy_data()[: 2 * BATCH]
    step = plan.jit(jaxgan.train_update)
    state = plan.place_state(toy_state(2))
    before = [str(leaf.sharding) for leaf in jax.tree.leaves(state)]
    compiled = step.lower(state, real, key).compile()
    hlo = compiled.as_text()
    facts["step_flops_per_device"] = compiled.cost_analysis()["flops"]
    for _ in range(3):
        state, metrics = step(state, real, key)
    facts["step_compiles"] = step._cache_size()
    facts["step_layout_kept"] = before == [str(x.sharding) for x in jax.tree.leaves(state)]
    facts["step_metrics"] = {k: float(v) for k, v in metrics.items()}
    for i, leaf in enumerate(leaves(state)):
        arrays[f"step_{i}"] = leaf
    # it is data parallel: D on a real block runs on B/8 rows per device, and XLA all-reduces
    # (gradients, BatchNorm moments)
    facts["step_dot_rows"] = sorted(_max_dot_rows(hlo))
    facts["step_all_reduces"] = len(re.findall(r"all-reduce(?:-start)?\(", hlo))

    # split_over_batch_axis (the core's) splits a batch the step makes itself, only inside the
    # mesh context a plan sets while it traces the step
    def latent_user(state, batch, k):
        z = jaxgan.steps.split_over_batch_axis(jax.random.normal(k, (BATCH, 16)))
        return state, {"y": jax.numpy.tanh(z @ state["w"]).sum()}

    args = (plan.place_state({"w": np.ones((16, 16), np.float32)}), real[:BATCH], key)
    facts["split_dot_rows"] = {
        label: sorted(_max_dot_rows(jax.jit(fn).lower(*args).compile().as_text()))
        for label, fn in (("active", plan.wrap(latent_user)), ("inactive", latent_user))
    }

    # the loop, with replicated and with sharded parameters
    data = toy_data()
    sharded_params = sharding.DataParallel(mesh, shard_params=True)
    for name, layout in (("replicated", mesh), ("sharded_params", sharded_params)):
        compiled = jaxgan.loop._scan_chunk._cache_size()
        state, hist = jaxgan.fit(
            toy_state(),
            data,
            steps=STEPS,
            batch_size=BATCH,
            key=3,
            steps_per_call=PER_CALL,
            loop="scan",
            mesh=layout,
        )
        facts[f"{name}_compiles"] = jaxgan.loop._scan_chunk._cache_size() - compiled
        facts[f"{name}_leaves_replicated"] = [
            leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(state)
        ]
        for metric, values in hist.items():
            arrays[f"loop_{name}_history_{metric}"] = values
        for i, leaf in enumerate(leaves(state)):
            arrays[f"loop_{name}_{i}"] = leaf
        if name == "replicated":
            # a sharded checkpoint, restored on one device by the test process
            save_checkpoint(out / "from_sharded", STEPS, state, {"step": STEPS})
            # resuming compiles nothing new
            compiled = jaxgan.loop._scan_chunk._cache_size()
            jaxgan.fit(
                state,
                data,
                steps=3,
                batch_size=BATCH,
                key=3,
                steps_per_call=PER_CALL,
                loop="scan",
                mesh=layout,
            )
            facts["resume_compiles"] = jaxgan.loop._scan_chunk._cache_size() - compiled

    # an ensemble of three runs (vmap over runs x data-parallel over the mesh)
    stacked, keys = ensemble_state()
    stacked, hist = jaxgan.ensembles.fit_ensemble(
        stacked, data, steps=STEPS, batch_size=BATCH, keys=keys, steps_per_call=PER_CALL,
        loop="scan", mesh=mesh,
    )  # fmt: skip
    for metric, values in hist.items():
        arrays[f"ensemble_history_{metric}"] = values
    for i, leaf in enumerate(leaves(stacked)):
        arrays[f"ensemble_{i}"] = leaf

    # a one-device checkpoint (written by the test process) restored onto the mesh
    template = plan.place_state(toy_state())
    restored, _ = restore_checkpoint(out / "from_one_device", template)
    facts["restored_specs_match"] = [str(x.sharding) for x in jax.tree.leaves(restored)] == [
        str(x.sharding) for x in jax.tree.leaves(template)
    ]
    facts["restored_devices"] = len(jax.tree.leaves(restored)[0].sharding.device_set)
    for i, leaf in enumerate(leaves(restored)):
        arrays[f"restored_{i}"] = leaf

    # bad input (refused before anything is lowered: loop="auto" would first lower a step to
    # choose the loop, ~3 CPU-s)
    for name, call in (
        (
            "batch",
            lambda: jaxgan.fit(restored, data, steps=1, batch_size=60, loop="scan", mesh=mesh),
        ),
        ("mesh", lambda: sharding.data_mesh(DEVICES + 1)),
    ):
        try:
            call()
            facts[f"error_{name}"] = None
        except ValueError as error:
            facts[f"error_{name}"] = str(error)

    np.savez(out / "arrays.npz", **arrays)
    (out / "facts.json").write_text(json.dumps(facts))


# -- the tests -----------------------------------------------------------------------------------


def _one_device_reference() -> dict[str, np.ndarray]:
    """The same computations as the worker's, on this process's one device."""
    arrays = {}
    step, state = jax.jit(jaxgan.train_update), toy_state(2)
    compiled = step.lower(state, toy_data()[: 2 * BATCH], jax.random.key(2)).compile()
    arrays["step_flops"] = np.asarray(compiled.cost_analysis()["flops"])
    for _ in range(3):
        state, metrics = step(state, toy_data()[: 2 * BATCH], jax.random.key(2))
    arrays.update({f"step_{i}": leaf for i, leaf in enumerate(leaves(state))})
    arrays.update({f"step_metric_{k}": np.asarray(v) for k, v in metrics.items()})
    state, hist = jaxgan.fit(
        toy_state(),
        toy_data(),
        steps=STEPS,
        batch_size=BATCH,
        key=3,
        steps_per_call=PER_CALL,
        loop="scan",
    )
    arrays.update({f"fit_{i}": leaf for i, leaf in enumerate(leaves(state))})
    arrays.update({f"fit_history_{k}": v for k, v in hist.items()})
    stacked, keys = ensemble_state()
    stacked, hist = jaxgan.ensembles.fit_ensemble(
        stacked, toy_data(), steps=STEPS, batch_size=BATCH, keys=keys, steps_per_call=PER_CALL,
        loop="scan",
    )  # fmt: skip
    arrays.update({f"ensemble_{i}": leaf for i, leaf in enumerate(leaves(stacked))})
    arrays.update({f"ensemble_history_{k}": v for k, v in hist.items()})
    return arrays


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
    """Run the 8-device worker while this process computes the one-device reference.

    Returns:
        (facts, sharded arrays, reference arrays, folder, the one-device state it restored).
    """
    out = tmp_path_factory.mktemp("sharding")
    one_device = toy_state()
    save_checkpoint(out / "from_one_device", 0, one_device, {"step": 0})
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    # the worker sets its own device count; other XLA flags of the session (conftest) stay
    flags = os.environ.get("XLA_FLAGS", "").split()
    env["XLA_FLAGS"] = " ".join(f for f in flags if "device_count" not in f)
    began = time.monotonic()
    worker = subprocess.Popen(
        [sys.executable, __file__, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        reference = _one_device_reference()
        _, stderr = worker.communicate(timeout=300)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, stderr[-3000:]
    print(f"8-device worker: {time.monotonic() - began:.1f} s")
    facts = json.loads((out / "facts.json").read_text())
    with np.load(out / "arrays.npz") as arrays:
        return facts, dict(arrays), reference, out, one_device


def _assert_close(sharded, reference, prefix: str, rtol=1e-4, atol=1e-5):
    names = [k for k in reference if re.fullmatch(rf"{prefix}_\d+", k)]
    assert names, f"no arrays {prefix}_*"
    for name in names:
        np.testing.assert_allclose(
            sharded[name], reference[name], rtol=rtol, atol=atol, err_msg=name
        )


def test_the_worker_ran_on_eight_devices(eight_devices):
    facts, *_ = eight_devices
    assert facts["devices"] == DEVICES


def test_the_sharded_step_equals_the_one_device_step(eight_devices):
    facts, sharded, reference, *_ = eight_devices
    _assert_close(sharded, reference, "step")
    for name, value in facts["step_metrics"].items():
        assert value == pytest.approx(float(reference[f"step_metric_{name}"]), rel=1e-4), name


def test_the_sharded_step_compiles_once_and_keeps_its_layout(eight_devices):
    facts, *_ = eight_devices
    assert facts["step_compiles"] == 1
    assert facts["step_layout_kept"]


def test_the_step_is_really_data_parallel(eight_devices):
    facts, *_ = eight_devices
    # D on a real block runs on 64 / 8 rows per device; gradients and BatchNorm moments are
    # all-reduced across the devices (so BatchNorm statistics are global)
    assert BATCH // DEVICES in facts["step_dot_rows"]
    assert facts["step_all_reduces"] >= 1


def test_each_device_does_an_eighth_of_the_work(eight_devices):
    facts, _, reference, *_ = eight_devices
    # measured: 0.13-0.15 of the one-device FLOPs with split_over_batch_axis in the steps,
    # 0.8-0.9 without
    assert facts["step_flops_per_device"] < 0.25 * float(reference["step_flops"])


def test_split_over_batch_axis_splits_values_a_step_makes(eight_devices):
    facts, *_ = eight_devices
    assert facts["split_dot_rows"] == {
        "active": [BATCH // DEVICES],
        "inactive": [BATCH],
    }


@pytest.mark.parametrize("name", ["replicated", "sharded_params"])
def test_the_sharded_loop_equals_the_one_device_loop(eight_devices, name):
    facts, sharded, reference, *_ = eight_devices
    prefix = f"loop_{name}_"
    renamed = {"fit_" + k[len(prefix) :]: v for k, v in sharded.items() if k.startswith(prefix)}
    _assert_close(renamed, reference, "fit")
    for metric in ("d_loss", "g_loss", "d_real", "d_fake", "step"):
        np.testing.assert_allclose(
            renamed[f"fit_history_{metric}"],
            reference[f"fit_history_{metric}"],
            rtol=1e-4,
            atol=1e-5,
            err_msg=metric,
        )
    assert facts[f"{name}_compiles"] == 1  # one program for all chunks, the partial one too
    if name == "replicated":
        assert all(facts["replicated_leaves_replicated"])
        assert facts["resume_compiles"] == 0
    else:  # the large leaves are split over the data axis
        assert not all(facts["sharded_params_leaves_replicated"])


def test_an_ensemble_trained_data_parallel_equals_one_device(eight_devices):
    # three runs stacked, vmapped over runs and split over 8 devices: the one driver composes
    # the run axis with the data axis, and each run equals its one-device training
    _, sharded, reference, *_ = eight_devices
    _assert_close(sharded, reference, "ensemble")
    for metric in ("d_loss", "g_loss", "d_real", "d_fake"):
        got, want = sharded[f"ensemble_history_{metric}"], reference[f"ensemble_history_{metric}"]
        assert got.shape == (STEPS, 3)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=metric)


def test_a_sharded_checkpoint_restores_on_one_device(eight_devices):
    _, sharded, _, out, _ = eight_devices
    restored, meta = restore_checkpoint(out / "from_sharded", toy_state())
    assert meta["step"] == STEPS
    assert {leaf.sharding.device_set.pop() for leaf in jax.tree.leaves(restored)} == {
        jax.devices()[0]
    }
    for i, leaf in enumerate(leaves(restored)):
        np.testing.assert_array_equal(leaf, sharded[f"loop_replicated_{i}"])


def test_a_one_device_checkpoint_restores_onto_the_mesh(eight_devices):
    facts, sharded, _, _, one_device = eight_devices
    assert facts["restored_specs_match"]
    assert facts["restored_devices"] == DEVICES
    for i, leaf in enumerate(leaves(one_device)):
        np.testing.assert_array_equal(sharded[f"restored_{i}"], leaf)


def test_bad_layouts_fail_with_clear_errors(eight_devices):
    facts, *_ = eight_devices
    assert re.search(
        r"batch_size 60 does not split evenly over 8 devices.*multiple of 8", facts["error_batch"]
    )
    assert "9 devices was asked for but only 8" in facts["error_mesh"]


# -- in this process (one device) ----------------------------------------------------------------


def test_one_device_mesh_and_errors():
    visible = jax.device_count()
    assert dict(sharding.data_mesh("all").shape) == {"data": visible}
    with pytest.raises(ValueError, match=f"{visible + 1} devices was asked for but only {visible}"):
        sharding.data_mesh(visible + 1)
    with pytest.raises(ValueError, match="'all' or a positive integer"):
        sharding.data_mesh("many")
    with pytest.raises(ValueError, match="at least one device"):
        sharding.data_mesh(0)
    with pytest.raises(ValueError, match="no 'batch' axis"):
        sharding.DataParallel(sharding.data_mesh(1), axis="batch")
    with pytest.raises(TypeError, match=r"jax\.sharding\.Mesh or"):
        jaxgan.fit(toy_state(), toy_data(), steps=1, loop="python", mesh="all")


def test_a_make_mesh_mesh_is_used_in_auto_mode():
    explicit = jax.make_mesh((1,), ("data",))  # JAX's default axis type is Explicit
    plan = sharding.as_data_parallel(explicit)
    assert plan.mesh.axis_types == (jax.sharding.AxisType.Auto,)
    assert plan == sharding.DataParallel(sharding.data_mesh(1))  # equal plans share programs


def test_rows_split_over_a_one_device_mesh():
    mesh = sharding.data_mesh(1)
    assert sharding.local_rows(10, mesh) == slice(0, 10)
    images = np.arange(12, dtype=np.float32).reshape(6, 2)
    data = sharding.global_dataset(images, mesh)
    np.testing.assert_array_equal(np.asarray(data), images)
    assert data.sharding.spec == jax.sharding.PartitionSpec("data")


def test_an_unreachable_coordinator_times_out_in_seconds():
    import socket

    # a port held (bound, not listening) by this test: connections are refused, and nobody else
    # can start listening there meanwhile
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        began = time.monotonic()
        with pytest.raises(sharding.CoordinatorTimeoutError, match=f"127.0.0.1:{port}.*timeout_s"):
            sharding.initialize_distributed(
                f"127.0.0.1:{port}", num_processes=2, process_id=1, timeout_s=1.5
            )
        assert 1.5 <= time.monotonic() - began < 10
    with pytest.raises(ValueError, match="host:port"):
        sharding.initialize_distributed("127.0.0.1", num_processes=2, process_id=1)
    with pytest.raises(ValueError, match=r"process_id must be in \[0, 2\)"):
        sharding.initialize_distributed("127.0.0.1:1", num_processes=2, process_id=2)
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        sharding.initialize_distributed("127.0.0.1:1", num_processes=2, process_id=1, timeout_s=0)


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
