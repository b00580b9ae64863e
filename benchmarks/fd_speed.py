"""Time and check the Fréchet-distance routes of jaxgan.metrics.frechet side by side.

Run from the repository root (background it on a shared machine: the full run takes minutes,
most of it in ``sqrtm`` at d = 2,048):

    python benchmarks/fd_speed.py --quick        # d = 16, 32: seconds, for the smoke test
    python benchmarks/fd_speed.py                # d = 64, 512, 2048; N = 10,000 and N = d / 2
    OPENBLAS_NUM_THREADS=1 python benchmarks/fd_speed.py --fashion-mnist DIR   # + real features

On a machine loaded beyond its core count, set ``OPENBLAS_NUM_THREADS=1``: multi-threaded
OpenBLAS then spins against other processes (``eigvalsh`` at d = 2,048 measured 18 s with 2
threads against 2 s with 1 at load 10 on 2 cores). The setting is recorded in the JSON.

For every feature width d and both sample-count cases (N = ``--n``, and N = d / 2 < d where the
covariances are singular) it draws two correlated Gaussian feature sets (float64, fixed seed),
then times, from the same statistics or features:

- ``statistics``: ``feature_statistics`` of both sets (mean and covariance);
- ``sqrtm``: ``frechet_distance(..., method="sqrtm")``, pytorch-fid's ``scipy.linalg.sqrtm``;
- ``eigh``: ``frechet_distance(..., method="eigh")``, the library default from statistics;
- ``eigvals``: the alternative not taken, ``Σ √eigvals(Σa Σb)`` (real parts), timed here only;
- ``low_rank``: ``frechet_distance_from_features(..., method="low_rank")`` (N < d only);
- ``auto``: ``frechet_distance_from_features`` as users call it (statistics included);
- ``jax_f32`` / ``jax_f64``: ``frechet_distance_jax`` (QR + SVD) with x64 off / on, after one
  compiling call that is not timed; only for d ≤ ``--jax-max-d`` (default 512 on a CPU backend,
  where XLA's QR and SVD are slow, unlimited on accelerators);
- ``reference``: the accuracy reference, in float64 on the host: Tr (Σa Σb)^½ as the sum of
  the singular values of Ra Rbᵀ / √((Na − 1)(Nb − 1)) with R from a QR of each centred feature
  matrix. It never forms a covariance nor takes square roots of eigenvalues, so it has no
  √(ε λ_max) round-off; for N < d it is the exact low-rank value;
- ``jax_eigh_f32``: the device alternative not taken, the ``eigh`` route in float32 JAX
  (covariances, Cholesky, ``eigvalsh``), timed here only, for N > d.

With ``--fashion-mnist DIR`` (the IDX folder) the same routes also run on real features:
jaxgan's Fashion-MNIST classifier (128-d) on train[:N] against test[:N], for N = ``--n`` (at
most 10,000) and N = 64 < d.

Each row is the median of up to ``--repeats`` runs, fewer when the first runs exceed
``--row-budget-s`` together (so ``sqrtm`` at d = 2,048 runs once). Accuracy columns: relative
difference to ``sqrtm`` (the parity target) and to ``reference``. Output: a printed table and
``results/fd_speed_<backend>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy
import scipy.linalg

from jaxgan.metrics.frechet import (
    FewSamplesWarning,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    frechet_distance_jax,
)

RESULTS = Path(__file__).resolve().parent / "results"
ROUTES = (
    "statistics",
    "sqrtm",
    "eigvals",
    "eigh",
    "low_rank",
    "auto",
    "jax_f32",
    "jax_f64",
    "jax_eigh_f32",
    "reference",
)


def features(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two feature sets sharing a random mixing with a decaying spectrum, b shifted and scaled."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d) * np.logspace(0, -1.5, d)
    a = rng.normal(size=(n, d)) @ mix
    b = rng.normal(size=(n, d)) @ mix * 1.05 + 0.02
    return a, b


def eigvals_route(mu1, sigma1, mu2, sigma2) -> float:
    """The rejected alternative: Tr (Σa Σb)^½ from the non-symmetric eigvals of the product."""
    eigenvalues = scipy.linalg.eigvals(sigma1 @ sigma2, check_finite=False)
    trace_sqrt = np.sqrt(eigenvalues.astype(complex)).real.sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def svd_reference(a: np.ndarray, b: np.ndarray) -> float:
    """FD with Tr (Σa Σb)^½ = nuclear norm of Ra Rbᵀ / √((Na − 1)(Nb − 1)), in float64."""
    ca, cb = a - a.mean(axis=0), b - b.mean(axis=0)
    ra, rb = np.linalg.qr(ca, mode="r"), np.linalg.qr(cb, mode="r")
    singular_values = scipy.linalg.svd(ra @ rb.T, compute_uv=False)
    trace_sqrt = singular_values.sum() / np.sqrt((len(a) - 1.0) * (len(b) - 1.0))
    diff = a.mean(axis=0) - b.mean(axis=0)
    traces = np.sum(ca * ca) / (len(a) - 1) + np.sum(cb * cb) / (len(b) - 1)
    return float(diff @ diff + traces - 2.0 * trace_sqrt)


def time_route(fn: Callable[[], Any], repeats: int, budget_s: float) -> dict[str, Any]:
    """Median wall time of up to ``repeats`` calls, stopping once ``budget_s`` is spent."""
    seconds, value = [], None
    while len(seconds) < repeats and (not seconds or sum(seconds) < budget_s):
        start = time.perf_counter()
        value = fn()
        seconds.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "repeats": len(seconds),
        "value": value,
    }


def _jax_route(a: np.ndarray, b: np.ndarray, x64: bool) -> Callable[[], float]:
    def run() -> float:
        with jax.enable_x64(x64):
            return frechet_distance_jax(a, b)

    run()  # compile outside the timing
    return run


@jax.jit
def _jax_eigh_route(a: jax.Array, b: jax.Array) -> jax.Array:
    """The device alternative not taken: covariances, Cholesky and eigvalsh, in a's dtype."""
    hi = jax.lax.Precision.HIGHEST
    ca, cb = a - a.mean(axis=0, keepdims=True), b - b.mean(axis=0, keepdims=True)
    s1 = jnp.matmul(ca.T, ca, precision=hi) / (a.shape[0] - 1)
    s2 = jnp.matmul(cb.T, cb, precision=hi) / (b.shape[0] - 1)
    factor = jnp.linalg.cholesky(s1)
    inner = jnp.matmul(jnp.matmul(factor.T, s2, precision=hi), factor, precision=hi)
    eigenvalues = jnp.linalg.eigvalsh((inner + inner.T) / 2.0)
    diff = a.mean(axis=0) - b.mean(axis=0)
    return (
        jnp.sum(diff * diff)
        + jnp.trace(s1)
        + jnp.trace(s2)
        - 2.0 * jnp.sum(jnp.sqrt(jnp.clip(eigenvalues, 0.0)))
    )


def _jax_eigh_f32(a: np.ndarray, b: np.ndarray) -> Callable[[], float]:
    a32, b32 = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    _jax_eigh_route(a32, b32).block_until_ready()  # compile outside the timing
    return lambda: float(_jax_eigh_route(a32, b32))


def fashion_mnist_features(folder: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """jaxgan's Fashion-MNIST classifier features (128-d) of train[:n] and test[:n]."""
    from jaxgan.data import load
    from jaxgan.metrics.classifier import load_classifier

    classifier = load_classifier("fashion_mnist")
    train = load(f"idx:{folder}", split="train").x[:n]
    test = load(f"idx:{folder}", split="test").x[:n]
    return (
        classifier.features(train).astype(np.float64),
        classifier.features(test).astype(np.float64),
    )


def bench_case(
    d: int,
    n: int,
    case: str,
    args: argparse.Namespace,
    data: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Time every route for one (d, N) (synthetic features unless ``data``), with accuracy."""
    a, b = features(n, d, seed=d) if data is None else data
    stats_a, stats_b = feature_statistics(a), feature_statistics(b)
    stats = (*stats_a, *stats_b)
    routes: dict[str, Callable[[], Any]] = {
        "statistics": lambda: (feature_statistics(a), feature_statistics(b)),
        "sqrtm": lambda: frechet_distance(*stats, method="sqrtm"),
        "eigvals": lambda: eigvals_route(*stats),
        "eigh": lambda: frechet_distance(*stats, method="eigh"),
        "auto": lambda: frechet_distance_from_features(a, b),
        "reference": lambda: svd_reference(a, b),
    }
    if d <= args.jax_max_d:
        routes["jax_f32"] = _jax_route(a, b, x64=False)
        routes["jax_f64"] = _jax_route(a, b, x64=True)
        if n > d:  # its Cholesky needs a non-singular covariance
            routes["jax_eigh_f32"] = _jax_eigh_f32(a, b)
    if n < d:
        routes["low_rank"] = lambda: frechet_distance_from_features(a, b, method="low_rank")
    rows = []
    for route in ROUTES:
        if route not in routes:
            continue
        timing = time_route(routes[route], args.repeats, args.row_budget_s)
        value = timing.pop("value")
        rows.append(
            {
                "d": d,
                "n": n,
                "case": case,
                "route": route,
                **timing,
                "fd": None if route == "statistics" else float(value),
                "load_average": os.getloadavg()[0],
            }
        )
        _progress(rows[-1])
    by_route = {row["route"]: row["fd"] for row in rows}
    for row in rows:
        if row["fd"] is None:
            row["rel_vs_sqrtm"] = row["rel_vs_exact"] = None
            continue
        row["rel_vs_sqrtm"] = abs(row["fd"] - by_route["sqrtm"]) / by_route["sqrtm"]
        row["rel_vs_exact"] = abs(row["fd"] - by_route["reference"]) / by_route["reference"]
    return rows


def machine_info() -> dict[str, Any]:
    """The machine, the software and the load at the start of the run."""
    config = np.show_config(mode="dicts")
    blas = config.get("Build Dependencies", {}).get("blas", {})
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "host_cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "blas_thread_settings": {
            key: os.environ.get(key)
            for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
        },
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _rel(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table: one line per (d, N, route)."""
    lines = [
        "| features | d | N_a = N_b | route | median s | min–max s | runs | FD "
        "| rel. vs sqrtm | rel. vs reference | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fd = "-" if r["fd"] is None else f"{r['fd']:.10g}"
        source = "Fashion-MNIST clf" if r["case"].startswith("fashion") else "synthetic"
        lines.append(
            f"| {source} | {r['d']} | {r['n']:,} | {r['route']} | {r['median_s']:.3f} | "
            f"{r['min_s']:.3f}–{r['max_s']:.3f} | {r['repeats']} | {fd} | "
            f"{_rel(r['rel_vs_sqrtm'])} | {_rel(r['rel_vs_exact'])} | "
            f"{r['load_average']:.1f} |"
        )
    return "\n".join(lines)


def _progress(row: dict[str, Any]) -> None:
    print(
        f"  d={row['d']} N={row['n']} {row['route']}: {row['median_s']:.3f} s "
        f"({row['repeats']} runs, load {row['load_average']:.1f})",
        file=sys.stderr,
        flush=True,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--help`` lists them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 512, 2048])
    parser.add_argument("--n", type=int, default=10_000, help="samples per set, N > d case")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--row-budget-s",
        type=float,
        default=20.0,
        help="stop repeating a route once its runs took this long together",
    )
    parser.add_argument(
        "--jax-max-d",
        type=int,
        default=None,
        help="largest d for the JAX rows (default: 512 on CPU, else no limit)",
    )
    parser.add_argument(
        "--fashion-mnist",
        type=Path,
        default=None,
        help="Fashion-MNIST IDX folder: add rows on real classifier features",
    )
    parser.add_argument("--quick", action="store_true", help="d = 16, 32; N = 200 (smoke test)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.dims, args.n, args.repeats = [16, 32], 200, 2
    if args.jax_max_d is None:
        args.jax_max_d = 512 if jax.default_backend() == "cpu" else sys.maxsize
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table, write the JSON; return the report."""
    args = parse_args(argv)
    meta = machine_info()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewSamplesWarning)  # the N < d case is deliberate
        for d in args.dims:
            for n, case in ((args.n, "N > d"), (d // 2, "N < d")):
                rows += bench_case(d, n, case, args)
        if args.fashion_mnist is not None:
            train, test = fashion_mnist_features(args.fashion_mnist, min(args.n, 10_000))
            d = train.shape[1]
            for n, case in ((len(train), "fashion-mnist N > d"), (64, "fashion-mnist N < d")):
                rows += bench_case(d, n, case, args, data=(train[:n], test[:n]))
    meta["load_average_end"] = list(os.getloadavg())
    meta["jax_max_d"] = min(args.jax_max_d, max(args.dims))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    path = args.out_dir / f"fd_speed_{jax.default_backend()}{suffix}.json"
    report = {"meta": meta, "results": rows, "files": {"json": str(path)}}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(
        f"{meta['host_cpu']} ({meta['cpu_count']} cores), {meta['blas']}; load "
        f"{meta['load_average_start']} → {meta['load_average_end']}"
    )
    print(format_table(rows))
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
