"""Command-line arguments shared by the CLI tests: a run small enough to train in seconds."""

from __future__ import annotations


def tiny_train_args(*, sample_every: int, checkpoint_every: int) -> list[str]:
    """Return ``jaxgan train`` options for a tiny MLP run on 256 bundled images.

    Args:
        sample_every: iterations between sample grids.
        checkpoint_every: iterations between checkpoints (two are kept).

    Returns:
        The options as a list, to splice into an argv after ``"train"``.

    Example:
        >>> tiny_train_args(sample_every=20, checkpoint_every=20)[:2]
        ['--batch-size', '32']

    """
    return [
        "--batch-size", "32",
        "--set", "data_limit=256",
        "--set", "g_hidden=16",
        "--set", "d_hidden=16",
        "--set", "steps_per_call=10",
        "--set", "log_every=10",
        "--set", f"sample_every={sample_every}",
        "--set", f"checkpoint_every={checkpoint_every}",
        "--set", "keep_checkpoints=2",
        "--set", "grid_size=3",
        "--set", "loop=scan",  # what "auto" picks here, without the lowering it measures with
        "--set", "log=none",  # TensorBoard is tests/test_tensorboard.py's
    ]  # fmt: skip
