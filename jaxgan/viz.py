"""Pictures of a run: image grids, loss curves and 2-D scatter plots (matplotlib, Agg).

No training logic lives here: every function takes arrays or metric rows and writes a PNG.
Figures are built with ``matplotlib.figure.Figure`` directly (no ``pyplot`` global state, no
display needed) and written atomically (temporary file, then rename), so a reader never sees a
half-written PNG.

The seed's ``generate_images`` drew each sample in its own subplot with ``pyplot``, scaled by
``x * 127.5 + 127.5`` and showed only the first channel. ``image_grid`` tiles the batch into one
uint8 array instead (same quantisation as the data, grayscale or RGB) and ``save_image_grid``
writes it pixel for pixel as a grayscale or RGB PNG (with Pillow, which matplotlib uses itself).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import PIL.Image

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from jaxgan.data import to_uint8_images

PathLike = str | os.PathLike[str]


def _write_atomically(path: PathLike, write) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"output path must end in .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def image_grid(
    images: Any, *, columns: int | None = None, padding: int = 2, background: int = 255
) -> np.ndarray:
    """Tile a batch of images into one uint8 picture, row by row.

    Args:
        images: (N, H, W, C) with C = 1 or 3, either uint8 or floats in [-1, 1] (model outputs;
            quantised with ``jaxgan.data.to_uint8_images``); numpy or jax.
        columns: images per row (default ``ceil(sqrt(N))``, a square grid).
        padding: pixels between and around images.
        background: gray level of the padding and of empty cells (0-255).

    Returns:
        uint8 array (rows·(H+p)+p, columns·(W+p)+p, C).

    Example:
        >>> image_grid(np.zeros((4, 28, 28, 1), np.uint8)).shape
        (62, 62, 1)

    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] < 1:
        raise ValueError(
            f"images must have shape (N, H, W, C) with N ≥ 1 and C in (1, 3), got {images.shape}"
        )
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise TypeError(f"images must be uint8 or floats in [-1, 1], got {images.dtype}")
        images = to_uint8_images(images)
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    if columns < 1 or padding < 0:
        raise ValueError(f"columns must be ≥ 1 and padding ≥ 0, got {columns}, {padding}")
    rows = math.ceil(n / columns)
    grid = np.full(
        (rows * (h + padding) + padding, columns * (w + padding) + padding, c),
        background,
        np.uint8,
    )
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = image
    return grid


def save_image_grid(
    images: Any, path: PathLike, *, columns: int | None = None, padding: int = 2, scale: int = 1
) -> Path:
    """Write a batch of images as one PNG grid, pixel for pixel (see ``image_grid``).

    Args:
        images: (N, H, W, C) uint8 or floats in [-1, 1].
        path: output ``.png`` path (folders are created).
        columns: images per row (default: a square grid).
        padding: pixels between images.
        scale: integer up-scaling factor (nearest neighbour) for small images.

    Returns:
        The written path.

    Example:
        >>> save_image_grid(fake_images, "samples.png")  # doctest: +SKIP

    """
    if not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    grid = image_grid(images, columns=columns, padding=padding)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    image = PIL.Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)  # L or RGB
    return _write_atomically(path, lambda tmp: image.save(tmp, format="PNG"))


def _figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list]:
    # imported here: matplotlib is a fifth of ``import jaxgan``; a process that draws no
    # figure does not pay it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, columns)
    return fig, list(np.atleast_1d(axes))


def save_loss_curves(
    rows: Sequence[Mapping[str, float]], path: PathLike, *, title: str | None = None
) -> Path:
    """Plot losses and discriminator outputs over training from metric rows.

    Left panel: ``d_loss`` and ``g_loss``; right panel: ``d_real`` (mean D(x)) and ``d_fake``
    (mean D(G(z))), each against ``step``. Missing keys are skipped.

    Args:
        rows: metric rows such as the lines of a run's ``metrics.jsonl`` (need ``step``).
        path: output ``.png`` path.
        title: figure title.

    Returns:
        The written path.

    Example:
        >>> rows = [{"step": 1, "d_loss": 1.3, "g_loss": 0.7}]
        >>> save_loss_curves(rows, "loss.png")  # doctest: +SKIP

    """
    if not rows:
        raise ValueError("no metric rows to plot yet")
    steps = np.array([row["step"] for row in rows])
    fig, (losses, outputs) = _figure(9, 3.2, 2)
    panels = (
        (losses, (("d_loss", "D loss"), ("g_loss", "G loss")), "loss"),
        (outputs, (("d_real", "D(x)"), ("d_fake", "D(G(z))")), "mean D output"),
    )
    for ax, series, ylabel in panels:
        for key, label in series:
            values = [row.get(key) for row in rows]
            if all(v is not None for v in values):
                ax.plot(steps, values, label=label, linewidth=1.2)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="small")
    outputs.set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title)
    return _write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))


def save_scatter(
    fake: Any,
    real: Any,
    path: PathLike,
    *,
    modes: Any = None,
    title: str | None = None,
) -> Path:
    """Scatter generated 2-D points over real ones (the toy mixtures' "sample grid").

    Args:
        fake: generated points (N, 2).
        real: real points (M, 2), drawn underneath in gray.
        path: output ``.png`` path.
        modes: optional (K, 2) mixture means, marked with crosses.
        title: plot title.

    Returns:
        The written path.

    Example:
        >>> save_scatter(fake, real, "scatter.png", modes=ring8_modes())  # doctest: +SKIP

    """
    fake, real = np.asarray(fake, np.float32), np.asarray(real, np.float32)
    for name, points in (("fake", fake), ("real", real)):
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"{name} points must have shape (N, 2), got {points.shape}")
    fig, (ax,) = _figure(4.5, 4.5)
    ax.scatter(real[:, 0], real[:, 1], s=4, c="0.7", label="real", linewidths=0)
    ax.scatter(
        fake[:, 0], fake[:, 1], s=4, c="tab:blue", alpha=0.6, label="generated", linewidths=0
    )
    if modes is not None:
        modes = np.asarray(modes)
        ax.scatter(modes[:, 0], modes[:, 1], marker="x", c="tab:red", s=30, label="modes")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize="small", markerscale=2)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return _write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))
