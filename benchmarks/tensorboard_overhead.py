"""What TensorBoard logging adds to the default run, as host time per run (load-insensitive).

Replays what ``jaxgan train`` does for TensorBoard on the default run (the ``seed-mlp``
preset: 30,000 steps, a log row every 100, a grid every 2,500): opening the log with the
config's hparams, one scalar row per log row (the ``metrics.jsonl`` row plus learning rates),
and at each grid step the grid's PNG and the D-output histograms (one small jitted D call on
256 real and 64 fake images; its first call compiles). Prints the seconds each part takes in
total per run, and the load average. End-to-end it/s with and without TensorBoard are in
docs/logging.md (same session, alternating runs).

    python benchmarks/tensorboard_overhead.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import jax

from jaxgan.experiment import board
from jaxgan.experiment.build import build_state, load_training_data
from jaxgan.experiment.config import load_preset
from jaxgan.experiment.train import SampleGrids
from jaxgan.tboard import ScalarLog


def main() -> None:
    """Time each TensorBoard part of a default run and print the totals."""
    print(f"load average {os.getloadavg()[0]:.2f}")
    config, dataset = load_training_data(load_preset("seed-mlp"))
    steps, log_every = config.schedule.steps, config.outputs.log_every
    grid_steps = list(range(config.outputs.sample_every, steps + 1, config.outputs.sample_every))
    state = build_state(config)
    folder = Path(tempfile.mkdtemp())
    (folder / "metrics.jsonl").write_text('{"step": 100, "d_loss": 0.7}\n')  # for loss.png
    grids = SampleGrids(config, dataset, folder)
    times: dict[str, float] = {}

    def timed(name, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        jax.block_until_ready(out)
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return out

    log = timed("open + hparams", board.open_log, folder / "tb", 0, board.config_hparams(config))
    rates = timed("learning rates (once)", board.learning_rate_scalars, state, steps, False)
    scalars = ScalarLog(log, log_every, rates)
    row = {"d_loss": 0.7, "g_loss": 1.5, "d_real": 0.7, "d_fake": 0.3, "d_fake_g": 0.3,
           "d_grad_norm": 4.0, "g_grad_norm": 2.6, "it_per_s": 110.0, "time_s": 1.0}  # fmt: skip
    for step in range(log_every, steps + 1, log_every):
        timed(f"{steps // log_every} scalar rows", scalars.write_row, step, {"step": step, **row})
    outputs = board.DOutputs(config, dataset)
    events = board.GridEvents(log, grids, outputs)
    for step in grid_steps:
        grids(step, state)  # the grid itself is written with or without TensorBoard
        name = "first grid (D call compiles)" if step == grid_steps[0] else "later grids"
        timed(name, events, step, state)
    log.close()
    total = sum(times.values())
    for name, seconds in times.items():
        print(f"{name:32s} {seconds:7.3f} s")
    size = sum(p.stat().st_size for p in (folder / "tb").iterdir())
    print(f"{'total per run':32s} {total:7.3f} s; event files {size / 1024:.0f} KB")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
