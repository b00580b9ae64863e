"""Time every distinct convolution of the FID InceptionV3 alone, by several routes, interleaved.

Run from the repository root:

    python benchmarks/inception_layers.py                    # batch 8, 299², all routes, 5 rounds
    python benchmarks/inception_layers.py --routes xla im2col torch --top 10
    python benchmarks/inception_layers.py --quick            # 75² network, batch 1 (smoke test)

The layers come from a traced forward of :class:`jaxgan.metrics.inception.InceptionV3` at the
network size (every ``ConvBN`` call, grouped by geometry: input H×W, Cin, Cout, kernel, stride,
padding; 43 distinct shapes and 94 convolutions at 299²). Every route computes the bare
convolution (no bias, no ReLU) of one random NHWC batch with one random kernel:

* ``xla``: ``lax.conv_general_dilated`` NHWC/HWIO, jitted alone, as jaxgan runs it (XLA:CPU
  hands it to YNNPACK: a ``__ynn_fusion`` in the compiled HLO);
* ``xla_eigen``: the same with YNNPACK off for this program
  (``compiler_options={"xla_cpu_experimental_ynn_fusion_type": ""}``): Eigen's convolution;
* ``im2col``: the patches as ``kh·kw`` strided slices stacked on a new axis, reshaped to
  ``(B·Ho·Wo, kh·kw·Cin)``, times the kernel reshaped to ``(kh·kw·Cin, Cout)`` in one ``jnp.dot``
  (a 1×1 stride-1 convolution is the plain matmul); default options (a YNNPACK dot);
* ``im2col_onednn``: the same program with the dot given to oneDNN (``xla_cpu_use_onednn`` and
  ``xla_cpu_experimental_onednn_fusion_type=LIBRARY_FUSION_TYPE_DOT``, YNNPACK off);
* ``im2col_eigen``: the same program with YNNPACK off (Eigen's matmul);
* ``gemm``: the matmul peak at the im2col GEMM shape (M = B·Ho·Wo, K = kh·kw·Cin, N = Cout),
  ``jnp.dot`` of two ready matrices (no patch building), default options;
* ``torch``: ``torch.nn.functional.conv2d`` on contiguous NCHW tensors (oneDNN / mkldnn);
* ``torch_cl``: the same on ``channels_last`` tensors;
* ``torch_mm``: ``torch.mm`` at the GEMM shape.

Every round times every (layer, route) once, in the same process, so that all routes see the
same load; a time is the mean of enough back-to-back calls to last ≥ 20 ms, and the table shows
the median over rounds. Totals weight every layer by how often it occurs in the network:
``Σ count · time`` is the convolution time of one forward of the batch, and the implied
images/s count convolutions only (no pools, concatenations, bias/ReLU or resize). The
"best per layer" totals pick the fastest jax route (and the fastest of all routes) per layer.
XLA uses all cores; PyTorch ``torch.set_num_threads(--threads)`` (default: all cores).
The JSON goes to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgan.metrics import inception as inception_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
import step_time  # the sibling script: results folder, machine description

JAX_ROUTES = ("xla", "xla_eigen", "im2col", "im2col_onednn", "im2col_eigen", "gemm")
TORCH_ROUTES = ("torch", "torch_cl", "torch_mm")
ROUTES = JAX_ROUTES + TORCH_ROUTES
CONV_ROUTES = ("xla", "xla_eigen", "im2col", "im2col_onednn", "im2col_eigen", "torch", "torch_cl")
YNN_OFF = {"xla_cpu_experimental_ynn_fusion_type": ""}
ONEDNN_DOT = {
    **YNN_OFF,
    "xla_cpu_use_onednn": True,
    "xla_cpu_experimental_onednn_fusion_type": "LIBRARY_FUSION_TYPE_DOT",
}
COMPILER_OPTIONS: dict[str, dict[str, Any]] = {
    "xla": {},
    "xla_eigen": YNN_OFF,
    "im2col": {},
    "im2col_onednn": ONEDNN_DOT,
    "im2col_eigen": YNN_OFF,
    "gemm": {},
}
MIN_SECONDS = 0.02  # each timed sample lasts at least this long (several calls of small layers)


@dataclasses.dataclass(frozen=True)
class ConvShape:
    """One convolution geometry of the network (NHWC input, HWIO kernel).

    Attributes:
        height, width: Input rows and columns.
        cin, cout: Input and output channels.
        kh, kw: Kernel rows and columns.
        stride: The stride in both directions.
        pad_h, pad_w: Zero padding on each side (rows, columns).
        count: How many convolutions of the network have this geometry.
        names: Their layer names, in call order.
    """

    height: int
    width: int
    cin: int
    cout: int
    kh: int
    kw: int
    stride: int
    pad_h: int
    pad_w: int
    count: int = 1
    names: tuple[str, ...] = ()

    @property
    def out_hw(self) -> tuple[int, int]:
        """Output rows and columns."""
        ho = (self.height + 2 * self.pad_h - self.kh) // self.stride + 1
        wo = (self.width + 2 * self.pad_w - self.kw) // self.stride + 1
        return ho, wo

    def gemm(self, batch: int) -> tuple[int, int, int]:
        """The im2col GEMM shape ``(M, K, N)`` for a batch."""
        ho, wo = self.out_hw
        return batch * ho * wo, self.kh * self.kw * self.cin, self.cout

    def flops(self, batch: int) -> float:
        """FLOPs of one such convolution of a batch (2 per multiply-add)."""
        m, k, n = self.gemm(batch)
        return 2.0 * m * k * n

    def label(self) -> str:
        """A short description, e.g. ``73² 80→192 3×3``."""
        stride = f" s{self.stride}" if self.stride > 1 else ""
        size = f"{self.height}²" if self.height == self.width else f"{self.height}×{self.width}"
        return f"{size} {self.cin}→{self.cout} {self.kh}×{self.kw}{stride}"


@contextlib.contextmanager
def _recording_calls(record: list[tuple[inception_module.ConvBN, tuple[int, ...]]]) -> Iterator:
    """Record ``(layer, input shape)`` of every ``ConvBN`` call inside the block."""
    original = inception_module.ConvBN.__call__

    def recording(self: inception_module.ConvBN, x: jax.Array) -> jax.Array:
        record.append((self, tuple(x.shape)))
        return original(self, x)

    inception_module.ConvBN.__call__ = recording
    try:
        yield
    finally:
        inception_module.ConvBN.__call__ = original


def conv_shapes(net_size: int = 299) -> list[ConvShape]:
    """Every distinct convolution of InceptionV3 at a network size, most FLOPs (× count) first.

    Args:
        net_size: The square input side (299 for FID; at least 75).

    Returns:
        One :class:`ConvShape` per geometry, with its count and layer names.

    Example:
        >>> shapes = conv_shapes(299)
        >>> len(shapes), sum(s.count for s in shapes), shapes[0].label()
        (43, 94, '73² 80→192 3×3')

    """
    calls: list[tuple[inception_module.ConvBN, tuple[int, ...]]] = []
    names: dict[int, str] = {}

    def forward(x: jax.Array) -> jax.Array:  # traced only: the zero parameters stay abstract
        model = inception_module.InceptionV3()
        names.update({id(layer): ".".join(map(str, p)) for p, layer in nnx.iter_modules(model)})
        with _recording_calls(calls):
            return model(x)

    jax.eval_shape(forward, jax.ShapeDtypeStruct((1, net_size, net_size, 3), jnp.float32))
    grouped: dict[tuple, list[str]] = {}
    for layer, shape in calls:
        kh, kw, cin, cout = layer.kernel.shape
        key = (shape[1], shape[2], cin, cout, kh, kw, layer.stride, *(p[0] for p in layer.padding))
        grouped.setdefault(key, []).append(names[id(layer)])
    shapes = [ConvShape(*key, count=len(n), names=tuple(n)) for key, n in grouped.items()]
    return sorted(shapes, key=lambda s: -s.count * s.flops(1))


def im2col_conv(
    x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int]
) -> jax.Array:
    """An NHWC/HWIO convolution as patches times the reshaped kernel: one matmul.

    Args:
        x: NHWC input.
        kernel: HWIO kernel.
        stride: The stride in both directions.
        padding: Zero padding ``(rows, columns)`` on each side.

    Returns:
        The NHWC output, equal to ``lax.conv_general_dilated`` up to float rounding.

    Example:
        >>> x = jnp.arange(2 * 5 * 5 * 3, dtype=jnp.float32).reshape(2, 5, 5, 3)
        >>> k = jnp.ones((3, 3, 3, 4))
        >>> reference = jax.lax.conv_general_dilated(x, k, (2, 2), ((1, 1), (1, 1)),
        ...     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        >>> bool(jnp.allclose(im2col_conv(x, k, 2, (1, 1)), reference))
        True

    """
    kh, kw, cin, cout = kernel.shape
    ph, pw = padding
    if ph or pw:
        x = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    batch, height, width, _ = x.shape
    ho, wo = (height - kh) // stride + 1, (width - kw) // stride + 1
    if kh == kw == 1:
        patches = x[:, : (ho - 1) * stride + 1 : stride, : (wo - 1) * stride + 1 : stride]
    else:
        taps = [
            jax.lax.slice(
                x,
                (0, i, j, 0),
                (batch, i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, cin),
                (1, stride, stride, 1),
            )
            for i in range(kh)
            for j in range(kw)
        ]
        patches = jnp.stack(taps, axis=3)  # (B, Ho, Wo, kh·kw, Cin): the HWIO order of the kernel
    flat = patches.reshape(batch * ho * wo, kh * kw * cin)
    out = jnp.dot(flat, kernel.reshape(kh * kw * cin, cout), precision=jax.lax.Precision.HIGHEST)
    return out.reshape(batch, ho, wo, cout)


def _xla_conv(x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int]) -> jax.Array:
    return jax.lax.conv_general_dilated(
        x,
        kernel,
        (stride, stride),
        ((padding[0], padding[0]), (padding[1], padding[1])),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=jax.lax.Precision.HIGHEST,
    )


def _jax_case(route: str, shape: ConvShape, batch: int) -> Callable[[], Any]:
    rng = np.random.default_rng(0)
    options = COMPILER_OPTIONS[route]
    if route == "gemm":
        m, k, n = shape.gemm(batch)
        a, b = (
            jnp.asarray(rng.standard_normal((m, k), np.float32)),
            jnp.asarray(rng.standard_normal((k, n), np.float32)),
        )
        fn = jax.jit(lambda a, b: jnp.dot(a, b, precision=jax.lax.Precision.HIGHEST))
        compiled = fn.lower(a, b).compile(compiler_options=options)
        return lambda: compiled(a, b).block_until_ready()
    x = jnp.asarray(rng.standard_normal((batch, shape.height, shape.width, shape.cin), np.float32))
    k = jnp.asarray(rng.standard_normal((shape.kh, shape.kw, shape.cin, shape.cout), np.float32))
    conv = _xla_conv if route.startswith("xla") else im2col_conv
    fn = jax.jit(lambda x, k: conv(x, k, shape.stride, (shape.pad_h, shape.pad_w)))
    compiled = fn.lower(x, k).compile(compiler_options=options)
    return lambda: compiled(x, k).block_until_ready()


def _torch_case(route: str, shape: ConvShape, batch: int) -> Callable[[], Any]:
    import torch

    gen = torch.Generator().manual_seed(0)
    if route == "torch_mm":
        m, k, n = shape.gemm(batch)
        a, b = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)

        def product() -> Any:
            with torch.inference_mode():
                return torch.mm(a, b)

        return product
    x = torch.randn(batch, shape.cin, shape.height, shape.width, generator=gen)
    w = torch.randn(shape.cout, shape.cin, shape.kh, shape.kw, generator=gen)
    if route == "torch_cl":
        x, w = x.to(memory_format=torch.channels_last), w.to(memory_format=torch.channels_last)

    def conv() -> Any:
        with torch.inference_mode():
            return torch.nn.functional.conv2d(
                x, w, stride=shape.stride, padding=(shape.pad_h, shape.pad_w)
            )

    return conv


def build_case(route: str, shape: ConvShape, batch: int) -> Callable[[], Any]:
    """One route of one layer as a function that runs it once and waits for the result.

    Args:
        route: A name from ``ROUTES``.
        shape: The layer.
        batch: The batch size.

    Returns:
        ``run()``; the first call of a jax route has already been compiled.

    Example:
        >>> run = build_case("im2col", ConvShape(9, 9, 4, 8, 3, 3, 1, 1, 1), batch=2)
        >>> run().shape
        (2, 9, 9, 8)

    """
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; choose from {', '.join(ROUTES)}")
    return (
        _torch_case(route, shape, batch)
        if route in TORCH_ROUTES
        else _jax_case(route, shape, batch)
    )


def _sample(run: Callable[[], Any], reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        run()
    return (time.perf_counter() - start) / reps


def time_layers(
    shapes: Sequence[ConvShape], routes: Sequence[str], batch: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Seconds per call of every (layer, route), one sample of each per round.

    Args:
        shapes: The layers.
        routes: Route names.
        batch: The batch size.
        rounds: How many interleaved rounds.

    Returns:
        ``{layer label: {route: [seconds per call, one per round]}}``.

    Example:
        >>> times = time_layers([ConvShape(9, 9, 4, 8, 1, 1, 1, 0, 0)], ["xla"], 1, 2)
        >>> len(times["9² 4→8 1×1"]["xla"])
        2

    """
    cases = {s.label(): {r: build_case(r, s, batch) for r in routes} for s in shapes}
    reps: dict[str, dict[str, int]] = {}
    for label, by_route in cases.items():  # warm up; choose how many calls make one sample
        reps[label] = {}
        for route, run in by_route.items():
            run()
            run()  # torch builds its oneDNN primitives on the first calls
            once = _sample(run, 1)
            reps[label][route] = max(1, min(50, math.ceil(MIN_SECONDS / max(once, 1e-6))))
    times = {label: {r: [] for r in routes} for label in cases}
    for _ in range(rounds):
        for label, by_route in cases.items():
            for route, run in by_route.items():
                times[label][route].append(_sample(run, reps[label][route]))
    return times


def summarize(
    shapes: Sequence[ConvShape], times: dict[str, dict[str, list[float]]], batch: int
) -> dict[str, Any]:
    """Per-layer medians and GFLOP/s, and the count-weighted totals per route.

    Args:
        shapes: The layers, as timed.
        times: :func:`time_layers`' result.
        batch: The batch size.

    Returns:
        ``{"layers": [...], "totals": {...}}``: per layer its geometry, count, GFLOP, and per
        route the median ms and GFLOP/s; totals: per route the convolution seconds of one forward
        (``Σ count · median``), its GFLOP/s and images/s, and the best-route-per-layer sums.

    Example:
        >>> s = ConvShape(9, 9, 4, 8, 1, 1, 1, 0, 0, count=2)
        >>> out = summarize([s], {s.label(): {"xla": [0.001, 0.003]}}, batch=1)
        >>> out["totals"]["xla"]["seconds"]
        0.004

    """
    layers, total_flops = [], sum(s.count * s.flops(batch) for s in shapes)
    sums: dict[str, float] = {}
    best_jax = best_any = 0.0
    routes = list(next(iter(times.values())))
    for s in shapes:
        medians = {r: statistics.median(times[s.label()][r]) for r in routes}
        for r, sec in medians.items():
            sums[r] = sums.get(r, 0.0) + s.count * sec
        conv = {r: medians[r] for r in routes if r in CONV_ROUTES}
        jax_conv = {r: sec for r, sec in conv.items() if r in JAX_ROUTES}
        if jax_conv:
            best_jax += s.count * min(jax_conv.values())
        if conv:
            best_any += s.count * min(conv.values())
        layers.append(
            {
                "layer": s.label(),
                "count": s.count,
                "names": list(s.names),
                "gemm_mkn": list(s.gemm(batch)),
                "gflop": s.flops(batch) / 1e9,
                "share_of_flops": s.count * s.flops(batch) / total_flops,
                "ms": {r: 1e3 * sec for r, sec in medians.items()},
                "gflop_per_s": {r: s.flops(batch) / sec / 1e9 for r, sec in medians.items()},
                "fastest_jax": min(jax_conv, key=jax_conv.get) if jax_conv else None,
                "fastest": min(conv, key=conv.get) if conv else None,
            }
        )
    totals = {
        r: {"seconds": sec, "gflop_per_s": total_flops / sec / 1e9, "images_per_s": batch / sec}
        for r, sec in sums.items()
    }
    for name, sec in (("best jax route per layer", best_jax), ("best route per layer", best_any)):
        if sec:
            totals[name] = {
                "seconds": sec,
                "gflop_per_s": total_flops / sec / 1e9,
                "images_per_s": batch / sec,
            }
    return {"layers": layers, "totals": totals, "total_gflop": total_flops / 1e9}


def format_tables(summary: dict[str, Any], top: int | None = None) -> str:
    """Markdown: the per-layer table (ms and GFLOP/s per route) and the totals.

    Args:
        summary: :func:`summarize`' result.
        top: Only the first ``top`` layers (most FLOPs first) in the layer table.

    Returns:
        The text.

    Example:
        >>> s = ConvShape(9, 9, 4, 8, 1, 1, 1, 0, 0)
        >>> text = format_tables(summarize([s], {s.label(): {"xla": [0.001]}}, batch=1))
        >>> text.splitlines()[0]
        '| layer | × | GFLOP | share | xla ms (GFLOP/s) | fastest |'

    """
    layers = summary["layers"][:top] if top else summary["layers"]
    routes = list(summary["layers"][0]["ms"])
    lines = [
        "| layer | × | GFLOP | share | "
        + " | ".join(f"{r} ms (GFLOP/s)" for r in routes)
        + " | fastest |",
        "|---|---|---|---|" + "---|" * len(routes) + "---|",
    ]
    for row in layers:
        cells = [f"{row['ms'][r]:.2f} ({row['gflop_per_s'][r]:.0f})" for r in routes]
        lines.append(
            f"| {row['layer']} | {row['count']} | {row['gflop']:.2f} | "
            f"{100 * row['share_of_flops']:.1f}% | " + " | ".join(cells) + f" | {row['fastest']} |"
        )
    lines += [
        "",
        "| route | conv s per forward | GFLOP/s | images/s (convs only) |",
        "|---|---|---|---|",
    ]
    for name, t in summary["totals"].items():
        lines.append(
            f"| {name} | {t['seconds']:.3f} | {t['gflop_per_s']:.1f} | {t['images_per_s']:.2f} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--quick``: 75² network, batch 1, one round, top 3 layers).

    Args:
        argv: Arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The namespace.

    Example:
        >>> parse_args(["--quick"]).net_size
        75

    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--net-size", type=int, default=299, help="network input side (299: FID)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    p.add_argument("--top", type=int, default=None, help="time only the N layers of most FLOPs")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch threads")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=step_time.RESULTS_DIR, help="for the JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.net_size, args.batch_size, args.rounds, args.top = 75, 1, 1, 3
    if args.net_size < 75:
        p.error(
            f"--net-size must be at least 75 (InceptionV3's smallest input), got {args.net_size}"
        )
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Time the layers, print the tables, write the JSON.

    Args:
        argv: Arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The report (``meta``, ``layers``, ``totals``, ``seconds``, ``files``).

    Example:
        >>> report = main(["--quick"])  # doctest: +SKIP

    """
    args = parse_args(argv)
    routes = list(args.routes)
    if any(r in TORCH_ROUTES for r in routes):
        if importlib.util.find_spec("torch") is None:
            print("torch is not installed: torch routes left out")
            routes = [r for r in routes if r not in TORCH_ROUTES]
        else:
            import torch

            torch.set_num_threads(args.threads)
    shapes = conv_shapes(args.net_size)[: args.top]
    load_start, start = os.getloadavg(), time.perf_counter()
    times = time_layers(shapes, routes, args.batch_size, args.rounds)
    load_end = os.getloadavg()
    summary = summarize(shapes, times, args.batch_size)
    meta = {
        "command": " ".join(["inception_layers.py", *(sys.argv[1:] if argv is None else argv)]),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host_cpu": step_time._cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_start": load_start,
        "load_end": load_end,
        "wall_s": time.perf_counter() - start,
        "jax": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "torch": sys.modules["torch"].__version__ if "torch" in sys.modules else None,
        "torch_threads": args.threads if "torch" in sys.modules else None,
        "batch_size": args.batch_size,
        "net_size": args.net_size,
        "rounds": args.rounds,
        "layers_timed": len(shapes),
        "convolutions_covered": sum(s.count for s in shapes),
    }
    print(
        f"{len(shapes)} layer shapes ({meta['convolutions_covered']} convolutions) at "
        f"{args.net_size}², batch {args.batch_size}, {args.rounds} rounds, torch threads "
        f"{meta['torch_threads']}, 1-min load {load_start[0]:.2f} → {load_end[0]:.2f}, "
        f"{meta['wall_s']:.0f} s\n"
    )
    print(format_tables(summary))
    report = {"meta": meta, **summary, "seconds": times}
    name = args.name or f"inception_layers_b{args.batch_size}{'_quick' if args.quick else ''}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"{name}.json"
    report["files"] = {"json": str(path)}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {path}")
    return report


if __name__ == "__main__":
    main()
