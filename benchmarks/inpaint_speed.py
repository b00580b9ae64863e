"""Time batched latent-search inpainting (jaxgan.apps.inpaint) against a per-image PyTorch loop.

Run from the repository root:

    python benchmarks/inpaint_speed.py --quick            # ~1 min on a 2-core CPU
    python benchmarks/inpaint_speed.py                    # the issue's setup (see below)
    python benchmarks/inpaint_speed.py --archs dcgan --images 100 --steps 30  # scaled up
    python benchmarks/inpaint_speed.py --archs dcgan --loop scan  # lax.scan instead of auto

The issue's setup: 1,000 Fashion-MNIST-sized images (28×28×1) × 4 restarts × 300 Adam steps,
Yeh et al.'s contextual loss + D's prior (λ 0.003), a 14×14 centre hole, Poisson blending. jaxgan
runs every image and restart in one compiled call per batch (``--batch-size`` images, default
all; ``--loop``: the steps inside one ``lax.scan`` or a host loop of one jitted step, by default
the host loop for convolutional nets on CPU, as ``jaxgan.apps.invert`` chooses); the baseline
is the straightforward PyTorch port of the same method: for each image, its restarts as one
batch of z with ``torch.optim.Adam`` for the same steps and cosine decay, then the best restart
(no blending, which only favours PyTorch). Models are the preset architectures (seed MLP; DCGAN
at ``--width``, 64 = the ``dcgan-mnist`` preset) at random initialisation in evaluation mode;
speed does not depend on the weights.

The first jaxgan call (trace + compile + run) is reported apart; then ``--repeats`` timed calls,
each ending in ``block_until_ready``. PyTorch runs ``--torch-images`` images (its time per image
is constant, so the total for ``--images`` is that rate times the count: the table marks it
"extrapolated"), once with 1 thread and once with every core: on the shared 2-core machine of
benchmarks/RESULTS.md, 2 threads made its tiny batch-of-4 steps ~40× slower (145 ms against
3.6 ms per MLP step), so both are reported. When a measured jaxgan configuration is smaller
than the target (``--steps`` or ``--images`` below the issue's), the JSON also gives the linear
extrapolation in candidate-steps, labelled as such. Output: a printed table and a JSON file
with the machine's load average beside every number.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

import jaxgan
from jaxgan.apps import inpaint, make_mask
from jaxgan.apps.inversion import choose_loop

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET = {"images": 1000, "restarts": 4, "steps": 300}


def build_state(arch: str, width: int) -> jaxgan.GANState:
    """The preset architecture at random initialisation (seed MLP, or DCGAN at ``width``)."""
    if arch == "mlp":
        g = jaxgan.models.MLPGenerator(rngs=nnx.Rngs(0))
        d = jaxgan.models.MLPDiscriminator(rngs=nnx.Rngs(1))
    else:
        g = jaxgan.models.DCGANGenerator(width=width, rngs=nnx.Rngs(0))
        d = jaxgan.models.DCGANDiscriminator(width=width, rngs=nnx.Rngs(1))
    return jaxgan.create_state(g, d)


def time_jax(arch: str, args: argparse.Namespace) -> dict:
    state = build_state(arch, args.width)
    z = jaxgan.sample_latent(jax.random.key(1), args.images, 100)
    images = np.asarray(jaxgan.generate_batches(state, z))
    mask = make_mask("center:14", images.shape)
    options = dict(
        steps=args.steps,
        restarts=args.restarts,
        batch_size=args.batch_size,
        learning_rate=0.1,
        prior_weight=0.003,
        loop=args.loop,
    )
    load = os.getloadavg()[0]
    tic = time.perf_counter()
    inpaint(state, images, mask, **options).blended.block_until_ready()
    first = time.perf_counter() - tic
    times = []
    for _ in range(args.repeats):
        tic = time.perf_counter()
        inpaint(
            state, images, mask, key=jax.random.key(len(times)), **options
        ).blended.block_until_ready()
        times.append(time.perf_counter() - tic)
    seconds = statistics.median(times)
    scale = (TARGET["images"] * TARGET["restarts"] * TARGET["steps"]) / (
        args.images * args.restarts * args.steps
    )
    return {
        "framework": "jax",
        "arch": arch,
        "images": args.images,
        "restarts": args.restarts,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "loop": choose_loop(state) if args.loop == "auto" else args.loop,
        "first_call_s": first,
        "seconds": seconds,
        "seconds_min_max": [min(times), max(times)],
        "images_per_s": args.images / seconds,
        "target_seconds": seconds * scale,
        "target_extrapolated": scale != 1.0,
        "load_average": [load, os.getloadavg()[0]],
    }


def time_torch(arch: str, args: argparse.Namespace, threads: int) -> dict:
    import torch
    from torch_baselines import build_pair

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    g, d = build_pair(arch, width=args.width)
    g.eval(), d.eval()
    for p in (*g.parameters(), *d.parameters()):
        p.requires_grad_(False)
    with torch.no_grad():
        images = g(torch.randn(args.torch_images, 100))  # (N, 1, 28, 28)
    mask_np = make_mask("center:14", (args.torch_images, 28, 28, 1)).transpose(0, 3, 1, 2)
    mask = torch.from_numpy(np.ascontiguousarray(mask_np))
    # Yeh's weights: share of missing pixels in the 7×7 window, on known pixels only
    weights = mask * torch.nn.functional.avg_pool2d(1 - mask, 7, 1, 3, count_include_pad=True)
    load = os.getloadavg()[0]
    tic = time.perf_counter()
    for i in range(args.torch_images):
        z = torch.randn(args.restarts, 100, requires_grad=True)
        opt = torch.optim.Adam([z], lr=0.1)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
        y, w = images[i : i + 1], weights[i : i + 1]
        for _ in range(args.steps):
            opt.zero_grad()
            fake = g(z)
            rec = (w * (fake - y)).abs().sum(dim=(1, 2, 3))
            loss = rec - 0.003 * torch.nn.functional.softplus(d(fake))
            loss.sum().backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            fake = g(z)
            rec = (w * (fake - y)).abs().sum(dim=(1, 2, 3))
            best = fake[int(torch.argmin(rec))]
            (mask[i] * y[0] + (1 - mask[i]) * best).sum().item()
    seconds = time.perf_counter() - tic
    per_image = seconds / args.torch_images
    steps_scale = TARGET["steps"] / args.steps
    return {
        "framework": "torch",
        "arch": arch,
        "images": args.torch_images,
        "restarts": args.restarts,
        "steps": args.steps,
        "seconds": seconds,
        "seconds_per_image": per_image,
        "images_per_s": 1.0 / per_image,
        "target_seconds": per_image * TARGET["images"] * steps_scale,
        "target_extrapolated": True,
        "threads": torch.get_num_threads(),
        "load_average": [load, os.getloadavg()[0]],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["mlp", "dcgan"], choices=["mlp", "dcgan"])
    parser.add_argument("--images", type=int, default=TARGET["images"])
    parser.add_argument("--restarts", type=int, default=TARGET["restarts"])
    parser.add_argument("--steps", type=int, default=TARGET["steps"])
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="images per compiled call (default: all at once)",
    )
    parser.add_argument("--width", type=int, default=64, help="DCGAN width (64: the preset)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--loop",
        choices=("auto", "scan", "python"),
        default="auto",
        help="jaxgan's loop form: lax.scan, a host loop of one jitted step, or auto (the "
        "host loop for conv nets on CPU)",
    )
    parser.add_argument(
        "--torch-images",
        type=int,
        default=10,
        help="images the PyTorch loop runs (0: skip PyTorch)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="MLP only: 200 images, 100 steps, 2 PyTorch images"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--name",
        help="output file inpaint_speed_<name>.json (default: full, or quick with --quick)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.archs, args.images, args.steps, args.torch_images = ["mlp"], 200, 100, 2
        args.repeats = 1
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    has_torch = importlib.util.find_spec("torch") is not None
    rows = []
    for arch in args.archs:
        rows.append(time_jax(arch, args))
        print(_line(rows[-1]), flush=True)
        if has_torch and args.torch_images > 0:
            for threads in sorted({1, os.cpu_count()}):
                rows.append(time_torch(arch, args, threads))
                print(_line(rows[-1]), flush=True)
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "device": str(jax.devices()[0]),
        },
        "target": TARGET,
        "argv": sys.argv[1:] if argv is None else argv,
        "results": rows,
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    name = args.name or ("quick" if args.quick else "full")
    path = args.out_dir / f"inpaint_speed_{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return report


def _line(row: dict) -> str:
    size = f"{row['images']} img × {row['restarts']} × {row['steps']} steps"
    target = f"{TARGET['images']}×{TARGET['restarts']}×{TARGET['steps']}"
    extra = " (extrapolated)" if row["target_extrapolated"] else ""
    first = f", first call {row['first_call_s']:.1f} s" if "first_call_s" in row else ""
    load = "/".join(f"{v:.1f}" for v in row["load_average"])
    name = row["framework"] + (f"/{row['threads']}t" if "threads" in row else "")
    name += f"/{row['loop']}" if "loop" in row else ""
    return (
        f"{name:8s} {row['arch']:5s} {size}: {row['seconds']:.2f} s{first}; "
        f"{row['images_per_s']:.1f} img/s; {target}: {row['target_seconds']:.0f} s{extra}; "
        f"load {load}"
    )


if __name__ == "__main__":
    main()
