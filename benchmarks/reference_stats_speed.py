"""Time FID against cached reference statistics, and what the cache saves (issue 19 item 3).

Run from the repository root (on a shared machine under ``nice``; the Inception part takes
minutes on a CPU):

    OPENBLAS_NUM_THREADS=1 nice -n 15 python benchmarks/reference_stats_speed.py --n 256

It measures, on whatever device JAX sees:

- ``inception``: TF-Inception pool3 forward throughput (images/s) of ``jaxgan.metrics
  .fid_features`` on ``--n`` Fashion-MNIST-sample images, after one untimed compiling batch;
  the median over ``--repeats`` passes;
- ``fd_from_stats``: the Fréchet distance at d = 2,048 from statistics (``ReferenceStats.fd``:
  the fake set's covariance plus the eigenvalue route);
- ``cache_load``: reading and verifying (sha256) a 2,048-d statistics file;
- ``fid_reference``: ``fid(fake, reference=stats)`` end to end on ``--n`` images;
- ``tracked_fd``: one ``MetricTracker("fd")`` measurement (seed MLP, 1,000 samples, the
  classifier space), as training logs it in ``track_seconds``.

From these it extrapolates (and says so) the time of a 10k-sample FID against cached statistics
and of computing the statistics of a reference split (what a cache hit saves). Output: a printed
summary and ``results/reference_stats_speed_<backend>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import jax

from jaxgan import data, metrics
from jaxgan.experiment import config as cfg
from jaxgan.experiment.build import build_state, load_training_data
from jaxgan.experiment.evaluators import MetricTracker

RESULTS = Path(__file__).resolve().parent / "results"


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    """Run the measurements and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="images per Inception pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    images = data.load("fashion_mnist_sample", "test", limit=args.n).x
    space = metrics.inception_space(batch_size=args.batch_size)
    start = time.perf_counter()
    space.features(images[: args.batch_size])  # compiles the batch shape
    compile_s = time.perf_counter() - start
    forward_s, features = _timed(lambda: space.features(images), args.repeats)
    per_s = args.n / forward_s
    stats = metrics.ReferenceStats.from_features(
        features, feature_space=space.name, protocol=space.protocol, weights=space.weights,
        source=f"fashion_mnist_sample:test[:{args.n}]",
    )  # fmt: skip
    fake = features[::-1] + 0.01
    fd_s, _ = _timed(lambda: stats.fd(fake), args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        path = stats.save(Path(folder) / "stats.npz")
        load_s, _ = _timed(lambda: metrics.ReferenceStats.load(path), args.repeats)
    fid_s, result = _timed(lambda: metrics.fid(images, reference=stats), 1)
    config, dataset = load_training_data(cfg.TrainConfig.of(data="fashion_mnist_sample"))
    tracker = MetricTracker(config, dataset, "fd", 1000)
    state = build_state(config, jax.random.key(0))
    tracker(state)  # compiles
    seconds = []
    for _ in range(3):
        tracker(state)
        seconds.append(tracker.seconds)
    tracked = statistics.median(seconds)
    out = {
        "device": str(jax.devices()[0]),
        "cpu": platform.processor() or platform.machine(),
        "load_average": os.getloadavg(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "n": args.n,
        "batch_size": args.batch_size,
        "inception_compile_s": compile_s,
        "inception_forward_s": forward_s,
        "inception_images_per_s": per_s,
        "fd_from_stats_2048_s": fd_s,
        "cache_load_2048_s": load_s,
        "fid_reference_s": fid_s,
        "fid_reference_result": str(result),
        "tracked_fd_1000_s": tracked,
        "extrapolated_fid_10k_s": 10_000 / per_s + fd_s,
        "extrapolated_stats_60k_s": 60_000 / per_s,
        "extrapolated_stats_10k_s": 10_000 / per_s,
    }
    RESULTS.mkdir(exist_ok=True)
    name = f"reference_stats_speed_{jax.default_backend()}.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")
    for key, value in out.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
