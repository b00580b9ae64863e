import shutil

import jax
import numpy as np
import pytest

from jaxgan.checkpoint import (
    CheckpointNotFoundError,
    CorruptCheckpointError,
    RunCheckpoints,
    latest_step,
    restore_checkpoint,
    save_checkpoint,
)
from jaxgan.experiment.build import build_state
from jaxgan.experiment.config import TrainConfig

# a toy GAN with BatchNorm, so the non-parameter state ("rest") is saved too
TOY = TrainConfig.of(
    model="toy", image_shape=(2,), latent_dim=2, g_hidden=8, d_hidden=8, g_depth=2, d_depth=1
)


@jax.jit
def _perturb(state):
    """Stand-in for training (cheap to compile): every array changes, counters advance."""
    return jax.tree.map(lambda x: x + jax.numpy.ones_like(x), state)


def trained_state():
    return _perturb(_perturb(build_state(TOY)))


def assert_same_bits(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b, strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_restored_state_has_the_same_bits_and_structure(tmp_path):
    state = trained_state()
    assert jax.tree.leaves(state.generator.rest)  # BatchNorm statistics are part of it
    save_checkpoint(tmp_path, 2, state, {"step": 2, "note": "x"})
    restored, meta = restore_checkpoint(tmp_path, build_state(TOY))
    assert meta == {"step": 2, "note": "x"}
    assert int(restored.step) == 2 and int(restored.d_updates) == 2
    assert_same_bits(restored, state)
    assert jax.tree.structure(restored) == jax.tree.structure(state)  # same static parts
    assert restored.config == state.config
    compiled = _perturb._cache_size()
    _perturb(restored)
    assert _perturb._cache_size() == compiled  # a restored state reuses compiled functions


def test_only_the_last_checkpoints_are_kept(tmp_path):
    state = build_state(TOY)
    with RunCheckpoints(tmp_path, keep=2) as ckpts:
        for step in (10, 20, 30):
            ckpts.save(step, state, {"step": 0})
        assert ckpts.steps() == [20, 30]
        assert ckpts.latest_step() == 30
        with pytest.raises(ValueError, match="step 30 already exists"):
            ckpts.save(30, state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20", "30"]
    assert latest_step(tmp_path) == 30


def test_missing_checkpoints_are_reported(tmp_path):
    assert latest_step(tmp_path / "nothing") is None
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint folder"):
        restore_checkpoint(tmp_path / "nothing", build_state(TOY))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint in"):
        restore_checkpoint(tmp_path / "empty", build_state(TOY))
    save_checkpoint(tmp_path / "one", 5, build_state(TOY), {"step": 0})
    with pytest.raises(CheckpointNotFoundError, match=r"no checkpoint of step 6.*saved steps: 5"):
        restore_checkpoint(tmp_path / "one", build_state(TOY), step=6)


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    """A folder with checkpoints 1 and 2 of the toy state (each test damages a copy)."""
    folder = tmp_path_factory.mktemp("two") / "checkpoints"
    with RunCheckpoints(folder) as ckpts:
        ckpts.save(1, build_state(TOY), {"step": 0})
        ckpts.save(2, build_state(TOY), {"step": 0})
    return folder


# orbax's reader leaves an asyncio callback behind when a corrupt file fails to decode
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("damage", ["truncate_arrays", "delete_state", "empty_step"])
def test_corrupt_checkpoints_are_detected_and_left_in_place(two_checkpoints, tmp_path, damage):
    state = build_state(TOY)
    folder = tmp_path / "checkpoints"
    shutil.copytree(two_checkpoints, folder)
    if damage == "truncate_arrays":
        for blob in (folder / "2" / "state").rglob("d/*"):
            if blob.is_file():
                blob.write_bytes(blob.read_bytes()[:8])
    elif damage == "delete_state":
        for path in sorted((folder / "2" / "state").rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        (folder / "2" / "state").rmdir()
    else:
        (folder / "3").mkdir()  # e.g. a folder someone half-copied
    before = _snapshot(folder)
    with pytest.raises(
        CorruptCheckpointError, match=r"corrupt or incomplete.*earlier checkpoints: 1"
    ):
        restore_checkpoint(folder, state)
    assert _snapshot(folder) == before  # nothing deleted or rewritten
    restored, _ = restore_checkpoint(folder, state, step=1)  # the earlier one still works
    assert_same_bits(restored, state)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    save_checkpoint(tmp_path, 1, build_state(TOY), {"step": 0})
    wider = TOY.replace(g_hidden=16)
    with pytest.raises(CorruptCheckpointError, match="saved for another model or config"):
        restore_checkpoint(tmp_path, jax.eval_shape(lambda: build_state(wider, key=0)))


def test_a_save_killed_midway_leaves_no_step_behind(tmp_path):
    state = build_state(TOY)
    save_checkpoint(tmp_path, 1, state, {"step": 0})
    (tmp_path / "2.orbax-checkpoint-tmp-1234" / "state").mkdir(parents=True)  # what a kill leaves
    assert latest_step(tmp_path) == 1
    with RunCheckpoints(tmp_path) as ckpts:  # opening for writing cleans the leftover
        assert ckpts.steps() == [1]
        ckpts.save(2, state, {"step": 0})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="keep must be a positive integer"):
        RunCheckpoints(tmp_path, keep=0)
    with RunCheckpoints(tmp_path) as ckpts, pytest.raises(ValueError, match="non-negative"):
        ckpts.save(-1, build_state(TOY))
