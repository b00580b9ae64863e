"""The inpainting and inversion studies behind ``jaxgan inpaint`` and ``jaxgan invert``.

``inpaint_run`` takes a trained run, real images and masks, inpaints every image by latent
search (``jaxgan.apps.inpaint``), fills the same holes with the baselines
(``jaxgan.apps.baselines``) and scores every method the same way with ``score_images``: PSNR,
SSIM and L1 on the hole and on the whole image, the accuracy of jaxgan's dataset classifier on
the filled images against the true labels, and the Fréchet distance to the original images in
that classifier's feature space. It writes ``results.json``, ``outputs.npz`` and one PNG grid
per mask into its output folder and nowhere else. ``invert_run`` projects whole images and
reports the reconstruction error.

Every output image is quantised to uint8 (as a PNG would store it) before it is scored, and
pixel metrics use the [0, 1] range.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import data, viz
from jaxgan.apps.baselines import BASELINES, harmonic_fill, mean_fill, nearest_neighbour_fill
from jaxgan.apps.inversion import invert
from jaxgan.apps.masks import make_mask
from jaxgan.metrics import Classifier, frechet_distance_from_features
from jaxgan.metrics.pixels import mean_abs_error, psnr, ssim

__all__ = [
    "PSNR_CAP_DB",
    "inpaint_run",
    "invert_run",
    "psnr_per_image",
    "score_images",
]

PSNR_CAP_DB = 60.0
"""Per-image PSNR is capped here (an exactly recovered region has infinite PSNR)."""

GRID_ROWS = ("original", "masked", "reconstruction", "blended", *BASELINES)


def _unit(images_u8: np.ndarray) -> jnp.ndarray:
    return jnp.asarray(images_u8, jnp.float32) / 255.0


def psnr_per_image(
    originals: np.ndarray, outputs: Any, mask: np.ndarray | None = None
) -> np.ndarray:
    """PSNR of each output against its original, on the hole when a mask is given.

    Args:
        originals: uint8 ``(N, H, W, C)``.
        outputs: ``(N, H, W, C)`` floats in [-1, 1] (quantised to uint8 here) or uint8.
        mask: ``(N, H, W, 1)``, 1 = known, or None for the whole image.

    Returns:
        float ``(N,)`` in dB on the [0, 1] scale, capped at ``PSNR_CAP_DB``.

    Example:
        >>> x = np.zeros((1, 4, 4, 1), np.uint8)
        >>> psnr_per_image(x, np.zeros((1, 4, 4, 1)) - 1.0).tolist()
        [60.0]

    """
    region = None if mask is None else 1.0 - jnp.asarray(mask, jnp.float32)
    values = psnr(_unit(originals), _unit(data.to_uint8_images(outputs)), region)
    return np.minimum(np.asarray(values, np.float64), PSNR_CAP_DB)


@jax.jit
def _pixel_scores(originals: Any, outputs: Any, mask: Any) -> tuple[jax.Array, ...]:
    """Mean PSNR (capped per image), SSIM and L1 of uint8 batches, then on the hole: one program."""
    a, b = _unit(originals), _unit(outputs)
    regions = [None] if mask is None else [None, 1.0 - mask]
    scores = []
    for region in regions:
        scores += [
            jnp.mean(jnp.minimum(psnr(a, b, region), PSNR_CAP_DB)),
            jnp.mean(ssim(a, b, region)),
            jnp.mean(mean_abs_error(a, b, region)),
        ]
    return tuple(scores)


def score_images(
    originals: np.ndarray,
    outputs: Any,
    mask: np.ndarray | None = None,
    *,
    labels: np.ndarray | None = None,
    classifier: Classifier | None = None,
    reference_features: np.ndarray | None = None,
) -> dict[str, float]:
    """Score filled (or reconstructed) images against the originals.

    Args:
        originals: uint8 ``(N, H, W, C)``.
        outputs: ``(N, H, W, C)`` floats in [-1, 1] (quantised to uint8 here) or uint8.
        mask: ``(N, H, W, 1)``, 1 = known; adds the ``*_hole`` metrics over the missing pixels.
        labels: ``(N,)`` true classes, for ``accuracy``.
        classifier: jaxgan's classifier of the dataset, for ``accuracy`` and ``fd``.
        reference_features: ``classifier.features(originals)``, when already computed.

    Returns:
        Means over images: ``psnr``, ``ssim``, ``l1`` (whole image), the same with ``_hole``,
        ``accuracy`` (classifier on the outputs vs labels) and ``fd`` (outputs vs originals,
        classifier features); PSNR in dB, capped at ``PSNR_CAP_DB`` per image.

    Example:
        >>> x = np.zeros((2, 8, 8, 1), np.uint8)
        >>> score_images(x, np.zeros((2, 8, 8, 1)) - 1.0)["l1"]
        0.0

    """
    out_u8 = data.to_uint8_images(outputs)
    names = ("psnr", "ssim", "l1") + (() if mask is None else ("psnr_hole", "ssim_hole", "l1_hole"))
    mask = None if mask is None else np.asarray(mask, np.float32)
    values = _pixel_scores(np.asarray(originals, np.uint8), out_u8, mask)
    scores = {name: float(value) for name, value in zip(names, values, strict=True)}
    if classifier is not None:
        features, logits = classifier.apply(out_u8)
        if labels is not None:
            scores["accuracy"] = float(np.mean(logits.argmax(-1) == np.asarray(labels)))
        if reference_features is None:
            reference_features = classifier.features(originals)
        scores["fd"] = frechet_distance_from_features(features, reference_features)
    return scores


def _load(run_dir, step, best, data_name, split, offset, limit, classifier_name):
    """Load the run, the images (uint8) with labels, its training data and the classifier."""
    from jaxgan.experiment.build import load_training_data
    from jaxgan.experiment.evaluators import classifier_for
    from jaxgan.experiment.sample import load_run

    if offset < 0:
        raise ValueError(f"--offset must be ≥ 0, got {offset}")
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be ≥ 1, got {limit}")
    config, state, _ = load_run(run_dir, step, best=best)
    name = data_name or config.data.name
    stop = None if limit is None else offset + limit
    dataset = data.load(name, split, limit=stop)
    images, labels = dataset.x[offset:], None if dataset.y is None else dataset.y[offset:]
    if len(images) == 0:
        raise ValueError(
            f"no images left after --offset {offset} in {name} ({split}); it has {len(dataset)}"
        )
    if dataset.kind != "image":
        raise ValueError(f"{name} holds points, not images; inpainting needs an image dataset")
    _, train = load_training_data(config)
    overlap = (
        name == config.data.name
        and split == config.data.split
        and offset < (config.data.limit or math.inf)
    )
    try:
        clf = classifier_for(
            config if data_name is None else _with_data(config, name), classifier_name
        )
    except ValueError:
        clf = None  # no feature space for this data: pixel metrics only
    info = {
        "run": str(run_dir),
        "step": int(state.step),
        "data": name,
        "split": split,
        "offset": offset,
        "count": len(images),
        "overlaps_training": bool(overlap),
        "feature_space": None if clf is None else clf.feature_space,
    }
    return config, state, images, labels, train.x, clf, info


def _with_data(config, name):

    return config.replace(data=name)


def _write_results(out: Path, results: dict, arrays: dict[str, np.ndarray]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "outputs.npz", **arrays)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def inpaint_run(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    masks: Sequence[str] = ("center",),
    data_name: str | None = None,
    split: str = "test",
    offset: int = 0,
    limit: int | None = None,
    step: int | None = None,
    best: bool = False,
    labels: str = "search",
    baselines: bool = True,
    mask_seed: int = 0,
    seed: int = 0,
    batch_size: int = 500,
    classifier: str | None = None,
    grid_count: int = 10,
    on_progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Inpaint real images with a trained run's generator, beside the baselines, and score all.

    Args:
        run_dir: the run folder (only read).
        out_dir: where ``results.json``, ``outputs.npz`` and ``grid_<mask>.png`` go.
        masks: mask specifications (``jaxgan.apps.make_mask``), each inpainted in turn.
        data_name: dataset of the images (default: the run's).
        split: its split.
        offset: skip this many images of the split first.
        limit: inpaint at most this many images.
        step: checkpoint step (default the latest).
        best: use the best checkpoint by the run's tracked metric.
        labels: for a conditional run: ``"search"`` every class, or ``"known"`` (true labels).
        baselines: also fill the holes with the training mean, nearest neighbour, harmonic fill.
        mask_seed: seed of the random masks (the same holes for every run).
        seed: seed of the latent starts.
        batch_size: images per compiled call.
        classifier: feature space (default: jaxgan's classifier of the data).
        grid_count: images shown per grid.
        on_progress: called with ``(done, total)`` image counts.
        **options: options of ``jaxgan.apps.invert`` (steps, restarts, learning_rate, loss,
            prior_weight, latent_weight, blend, ...).

    Returns:
        The results (as written to ``results.json``).

    Example:
        >>> inpaint_run("runs/fmnist-mlp-s0", "runs/inpaint", masks=["center:12"])
        ... # doctest: +SKIP

    """
    start_time = time.perf_counter()
    _, state, images, true_labels, train_u8, clf, info = _load(
        run_dir, step, best, data_name, split, offset, limit, classifier
    )
    if labels not in ("search", "known"):
        raise ValueError(f"labels must be 'search' or 'known', got {labels!r}")
    cond_labels = None
    if state.config.num_classes is not None:
        if labels == "known" and true_labels is None:
            raise ValueError(f"{info['data']} has no labels; use --labels search")
        cond_labels = "search" if labels == "search" else true_labels
    x = np.asarray(data.to_model_input(images))
    train_x = np.asarray(data.to_model_input(train_u8)) if baselines else None
    out = Path(out_dir)
    arrays = {"originals": images}
    if true_labels is not None:
        arrays["labels"] = true_labels
    results = {
        **info,
        "settings": {
            "masks": list(masks),
            "seed": seed,
            "mask_seed": mask_seed,
            "labels": labels,
            "batch_size": batch_size,
            **options,
        },
        "grid_rows": [r for r in GRID_ROWS if baselines or r not in BASELINES],
        "masks": {},
    }
    reference = None if clf is None else clf.features(images)
    total, done = len(images) * len(masks), 0
    grids = {}
    all_masks = [make_mask(spec, x.shape, seed=mask_seed) for spec in masks]  # fail early
    for spec, mask in zip(masks, all_masks, strict=True):
        tic = time.perf_counter()
        result = invert(
            state,
            x,
            mask=mask,
            labels=cond_labels,
            key=_key(seed),
            batch_size=batch_size,
            on_batch=None
            if on_progress is None
            else (lambda count, base=done: on_progress(base + count, total)),
            **options,
        )
        result.blended.block_until_ready()
        gan_time = time.perf_counter() - tic
        done += len(images)
        filled = {
            "gan": result.blended,
            "gan_paste": jnp.asarray(mask) * x + (1.0 - jnp.asarray(mask)) * result.reconstruction,
        }
        tic = time.perf_counter()
        if baselines:
            filled["mean"] = mean_fill(x, mask, train_x)
            filled["nearest"] = nearest_neighbour_fill(x, mask, train_x)
            filled["harmonic"] = harmonic_fill(jnp.asarray(x), jnp.asarray(mask))
            filled["harmonic"].block_until_ready()
        baseline_time = time.perf_counter() - tic
        scores = {
            name: score_images(
                images,
                value,
                mask,
                labels=true_labels,
                classifier=clf,
                reference_features=reference,
            )
            for name, value in filled.items()
        }
        key = spec.replace(":", "_").replace("/", "_")
        results["masks"][spec] = {
            "missing_fraction": float(1.0 - mask.mean()),
            "seconds_gan": gan_time,
            "seconds_baselines": baseline_time,
            "mean_loss": float(jnp.mean(result.loss)),
            "methods": scores,
        }
        arrays |= {
            f"{key}/mask": mask.astype(np.uint8),
            f"{key}/z": np.asarray(result.z),
            f"{key}/loss": np.asarray(result.loss),
            f"{key}/curve": np.asarray(result.curve).mean(axis=1),
            f"{key}/reconstruction": data.to_uint8_images(result.reconstruction),
        }
        arrays |= {f"{key}/{name}": data.to_uint8_images(value) for name, value in filled.items()}
        if result.labels is not None:
            arrays[f"{key}/chosen_labels"] = np.asarray(result.labels)
        rows = [x, np.where(mask > 0, x, 0.0), result.reconstruction, result.blended]
        rows += [filled[name] for name in BASELINES if name in filled]
        grids[f"grid_{key}.png"] = np.concatenate([np.asarray(r[:grid_count]) for r in rows])
    results["seconds"] = time.perf_counter() - start_time
    _write_results(out, results, arrays)
    for name, grid in grids.items():
        viz.save_image_grid(grid, out / name, columns=min(grid_count, len(images)), scale=2)
    return results


def _key(seed: int):
    import jax

    return jax.random.key(seed)


def invert_run(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    data_name: str | None = None,
    split: str = "test",
    offset: int = 0,
    limit: int | None = None,
    step: int | None = None,
    best: bool = False,
    labels: str = "search",
    seed: int = 0,
    batch_size: int = 500,
    classifier: str | None = None,
    grid_count: int = 10,
    on_progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Project real images into a trained run's latent space and report the reconstruction error.

    Args:
        run_dir: the run folder (only read).
        out_dir: where ``results.json``, ``outputs.npz`` and ``grid.png`` go.
        data_name: dataset of the images (default: the run's).
        split: its split.
        offset: skip this many images first.
        limit: at most this many images.
        step: checkpoint step (default the latest).
        best: use the best checkpoint.
        labels: for a conditional run: ``"search"`` or ``"known"``.
        seed: seed of the latent starts.
        batch_size: images per compiled call.
        classifier: feature space (default: jaxgan's classifier of the data).
        grid_count: images shown in the grid.
        on_progress: called with ``(done, total)``.
        **options: options of ``jaxgan.apps.invert``.

    Returns:
        The results (as written to ``results.json``).

    Example:
        >>> invert_run("runs/fmnist-mlp-s0", "runs/invert", limit=100)  # doctest: +SKIP

    """
    start_time = time.perf_counter()
    _, state, images, true_labels, _, clf, info = _load(
        run_dir, step, best, data_name, split, offset, limit, classifier
    )
    cond_labels = None
    if state.config.num_classes is not None:
        cond_labels = "search" if labels == "search" else true_labels
    x = np.asarray(data.to_model_input(images))
    result = invert(
        state,
        x,
        labels=cond_labels,
        key=_key(seed),
        batch_size=batch_size,
        on_batch=None if on_progress is None else (lambda count: on_progress(count, len(images))),
        **options,
    )
    scores = score_images(images, result.reconstruction, labels=true_labels, classifier=clf)
    results = {
        **info,
        "settings": {"seed": seed, "labels": labels, **options},
        "metrics": scores,
        "mean_loss": float(jnp.mean(result.loss)),
        "seconds": time.perf_counter() - start_time,
    }
    arrays = {
        "originals": images,
        "z": np.asarray(result.z),
        "reconstruction": data.to_uint8_images(result.reconstruction),
        "loss": np.asarray(result.loss),
        "curve": np.asarray(result.curve).mean(axis=1),
    }
    count = min(grid_count, len(images))
    _write_results(Path(out_dir), results, arrays)
    viz.save_image_grid(
        np.concatenate([x[:count], np.asarray(result.reconstruction[:count])]),
        Path(out_dir) / "grid.png",
        columns=count,
        scale=2,
    )
    return results
