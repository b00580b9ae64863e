"""Draw a TensorBoard-like overview of a run from its event files (the README's picture).

Reads ``<run>/tensorboard`` with ``jaxgan.tbevents`` (no TensorBoard needed) and draws, with
matplotlib: the losses, D's outputs, it/s, the last sample grid and the last D-output
histograms.

    python scripts/render_dashboard.py runs/<run> docs/images/tensorboard.png
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from jaxgan.tbevents import read_events, read_images, read_scalars


def histograms(folder: Path) -> dict[str, tuple[int, np.ndarray, np.ndarray]]:
    """Return each histogram tag's last (step, bucket limits, counts)."""
    last = {}
    for event in read_events(folder):
        for value in event.summary.value:
            if value.WhichOneof("value") == "histo":
                histo = value.histo
                last[value.tag] = (event.step, np.array(histo.bucket_limit), np.array(histo.bucket))
    return last


def main() -> None:
    """Parse the run folder and the output path, draw the overview, write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    folder = args.run / "tensorboard"
    scalars, images, histos = read_scalars(folder), read_images(folder), histograms(folder)
    fig = Figure(figsize=(10, 5.2), dpi=80, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    panels = (
        (axes[0, 0], ("d_loss", "g_loss"), "loss"),
        (axes[0, 1], ("d_real", "d_fake"), "D outputs"),
        (axes[0, 2], ("it_per_s",), "it_per_s"),
    )
    for ax, tags, title in panels:
        for tag in tags:
            steps, values = zip(*scalars[tag], strict=True)
            ax.plot(steps, values, lw=1.2, label=tag)
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_xlabel("step", fontsize=8)
    step, png = images["samples"][-1]
    with Image.open(io.BytesIO(png)) as image:
        axes[1, 0].imshow(np.asarray(image.convert("RGB")), interpolation="nearest")
    axes[1, 0].set_title(f"samples · step {step}", fontsize=10, loc="left")
    axes[1, 0].axis("off")
    for ax, tag in ((axes[1, 1], "d_real_hist"), (axes[1, 2], "d_fake_hist")):
        step, limits, counts = histos[tag]
        left = np.concatenate([[limits[0] - (limits[1] - limits[0])], limits[:-1]])
        ax.bar(left, counts, width=limits - left, align="edge", color="C2", alpha=0.8)
        ax.set_xlim(0, 1)
        ax.set_title(f"{tag} · step {step}", fontsize=10, loc="left")
        ax.set_xlabel("D output", fontsize=8)
    fig.suptitle(f"TensorBoard events of a {args.run.name} run (jaxgan train)", fontsize=11)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, format="png")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
