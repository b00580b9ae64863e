"""The evaluation report of a generator: quality, diversity and similarity, each beside its floor.

:func:`evaluate_images` turns generated and real images into a JSON-able dict. Every metric is a
``{"value", "floor", "space"}`` entry: ``floor`` is the same metric for a second real set (e.g. the
test split against the train split) at the same N, which is what a perfect generator would score,
and ``space`` names the feature extractor the number lives in. The protocol fields (feature space,
N_gen, N_ref, reference split, quantisation, k, KID subsets) travel with the numbers.
:func:`save_report_panel` draws a PNG: a sample grid, the nearest real neighbours of some generated
images (memorisation check), and the metric table.

Example (MNIST classifier space)::

    clf = load_classifier("mnist")
    report = evaluate_images(fake, train_images, feature_fn=clf.features,
                             feature_space=clf.feature_space, name="dcgan-mnist",
                             reference_split="mnist t10k train part", floor_real=test_images,
                             floor_split="mnist t10k held-out part",
                             probabilities_fn=clf.probabilities)
    save_report_panel(report, fake, train_images, "runs/dcgan/report.png")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan.data import to_uint8_images
from jaxgan.metrics.frechet import frechet_distance_from_features
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.kid import kernel_inception_distance
from jaxgan.metrics.modes import class_histogram_kl
from jaxgan.metrics.neighbours import nearest_neighbours
from jaxgan.metrics.prdc import prdc

__all__ = ["evaluate_images", "save_report_panel"]

_NUM_EXAMPLES, _NUM_NEIGHBOURS = 8, 3


def _entry(value: Any, floor: Any, space: str) -> dict[str, Any]:
    return {"value": value, "floor": floor, "space": space}


def _similarity_and_prdc(f_fake, f_real, kid_subsets, kid_subset_size, seed) -> dict[str, Any]:
    out = prdc(f_real, f_fake)
    out["fd"] = frechet_distance_from_features(f_fake, f_real)
    kid = kernel_inception_distance(
        f_fake, f_real, num_subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
    )
    out.update(kid)
    return out


def _class_metrics(probs: np.ndarray, ref_labels: np.ndarray) -> dict[str, Any]:
    num_classes = probs.shape[1]
    hist = class_histogram_kl(np.argmax(probs, axis=1), num_classes, ref_labels)
    score = inception_score(probs, num_splits=min(10, len(probs)))
    return {
        "score": score["score_mean"],
        "score_std": score["score_std"],
        "confidence": float(np.mean(np.max(probs, axis=1))),
        "class_kl": hist["kl"],
        "classes_covered": hist["classes_covered"],
    }


def evaluate_images(
    fake: np.ndarray,
    real: np.ndarray,
    *,
    feature_fn: Callable[[np.ndarray], np.ndarray],
    feature_space: str,
    name: str,
    reference_split: str,
    floor_real: np.ndarray | None = None,
    floor_split: str | None = None,
    probabilities_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    classifier_space: str | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Evaluate generated images against real ones: quality, diversity, similarity + real floors.

    Args:
        fake: generated images ``(N_gen, H, W, C)``, uint8 or float in ``value_range`` (floats are
            quantised to uint8 first, as saved samples would be).
        real: reference images ``(N_ref, H, W, C)`` (uint8 or float in ``value_range``).
        feature_fn: uint8 images → features ``(N, d)``, e.g. ``load_classifier("mnist").features``.
        feature_space: name of that feature space (printed with FD, KID and PRDC).
        name: what is evaluated (run name).
        reference_split: which data ``real`` is (e.g. ``"fashion_mnist train"``).
        floor_real: a second real set (e.g. the test split) scored against ``real`` exactly like
            ``fake``, using its first ``N_gen`` images; None skips the floors.
        floor_split: which data ``floor_real`` is.
        probabilities_fn: uint8 images → class probabilities, for the classifier score, mean
            confidence and class-histogram KL; None skips them.
        classifier_space: name of the classifier (defaults to ``feature_space``).
        value_range: the float range that maps to 0..255.
        kid_subsets: KID subsets (standard 100).
        kid_subset_size: KID subset size (standard 1,000; capped at the set sizes).
        seed: seed of the KID subsets.

    Returns:
        A JSON-able dict ``{"name", "protocol", "quality", "diversity", "similarity", "examples",
        "seconds"}``; metric entries are ``{"value", "floor", "space"}``.

    Example:
        >>> report = evaluate_images(fake, real, feature_fn=clf.features,  # doctest: +SKIP
        ...                          feature_space=clf.feature_space, name="run1",
        ...                          reference_split="fashion_mnist train")
        >>> report["similarity"]["fd"]["value"]  # doctest: +SKIP
        12.3

    """
    start = time.perf_counter()
    fake_u8, real_u8 = to_uint8_images(fake, value_range), to_uint8_images(real, value_range)
    if fake_u8.shape[1:] != real_u8.shape[1:]:
        raise ValueError(
            f"fake images {fake_u8.shape[1:]} and real images {real_u8.shape[1:]} "
            "differ in shape; resize or pick the matching dataset"
        )
    n_gen, n_ref = len(fake_u8), len(real_u8)
    classifier_space = classifier_space or feature_space
    f_fake, f_real = np.asarray(feature_fn(fake_u8)), np.asarray(feature_fn(real_u8))
    main = _similarity_and_prdc(f_fake, f_real, kid_subsets, kid_subset_size, seed)
    floor: dict[str, Any] = {}
    n_floor = None
    floor_u8 = None
    if floor_real is not None:
        floor_u8 = to_uint8_images(floor_real, value_range)[:n_gen]
        n_floor = len(floor_u8)
        floor = _similarity_and_prdc(
            np.asarray(feature_fn(floor_u8)), f_real, kid_subsets, kid_subset_size, seed
        )
    cls: dict[str, Any] = {}
    cls_floor: dict[str, Any] = {}
    if probabilities_fn is not None:
        real_labels = np.argmax(probabilities_fn(real_u8), axis=1)
        cls = _class_metrics(np.asarray(probabilities_fn(fake_u8)), real_labels)
        if floor_u8 is not None:
            cls_floor = _class_metrics(np.asarray(probabilities_fn(floor_u8)), real_labels)
    k = min(_NUM_NEIGHBOURS, n_ref)
    _, nearest = nearest_neighbours(f_fake[:_NUM_EXAMPLES], f_real, k)

    def metric(key, source, floor_source, space):
        return _entry(source.get(key), floor_source.get(key), space)

    quality = {
        "precision": metric("precision", main, floor, feature_space),
        "density": metric("density", main, floor, feature_space),
    }
    diversity = {
        "recall": metric("recall", main, floor, feature_space),
        "coverage": metric("coverage", main, floor, feature_space),
    }
    if cls:
        quality["classifier_score"] = metric("score", cls, cls_floor, classifier_space)
        quality["classifier_score"]["std"] = cls["score_std"]
        quality["mean_confidence"] = metric("confidence", cls, cls_floor, classifier_space)
        diversity["class_histogram_kl"] = metric("class_kl", cls, cls_floor, classifier_space)
        diversity["classes_covered"] = metric("classes_covered", cls, cls_floor, classifier_space)
    kid = metric("kid_mean", main, floor, feature_space)
    kid.update(std=main["kid_std"], floor_std=floor.get("kid_std"))
    return {
        "name": name,
        "protocol": {
            "feature_space": feature_space,
            "classifier_space": classifier_space if cls else None,
            "n_gen": n_gen,
            "n_ref": n_ref,
            "n_floor": n_floor,
            "reference_split": reference_split,
            "floor_split": floor_split,
            "quantisation": f"float images rounded to uint8 from range {list(value_range)}",
            "k_precision_recall": 3,
            "k_density_coverage": 5,
            "kid_num_subsets": main["num_subsets"],
            "kid_subset_size": main["subset_size"],
            "class_histogram_kl": "KL(p_gen ‖ p_ref) of predicted classes, nats; p_ref = "
            "predictions on the reference set",
        },
        "quality": quality,
        "diversity": diversity,
        "similarity": {"fd": metric("fd", main, floor, feature_space), "kid": kid},
        "examples": {
            "fake_indices": list(range(min(_NUM_EXAMPLES, n_gen))),
            "nearest_real_indices": nearest.tolist(),
        },
        "seconds": round(time.perf_counter() - start, 2),
    }


def _grid(images: np.ndarray, cols: int) -> np.ndarray:
    n, h, w, c = images.shape
    rows = -(-n // cols)
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, c), 255, np.uint8)
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + q * (w + 1) : 1 + q * (w + 1) + w] = img
    return canvas


def _show(ax, canvas: np.ndarray, title: str) -> None:
    if canvas.shape[-1] == 1:
        ax.imshow(canvas[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(canvas)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, int | np.integer):
        return str(int(x))
    return f"{x:.4g}"


def save_report_panel(
    report: dict[str, Any],
    fake: np.ndarray,
    real: np.ndarray,
    path: str | Path,
    *,
    value_range: tuple[float, float] = (-1.0, 1.0),
) -> Path:
    """Draw the report as one PNG: samples, nearest real neighbours, metric table.

    Args:
        report: the dict from :func:`evaluate_images` (its ``examples`` give the neighbours).
        fake: the generated images passed to :func:`evaluate_images`.
        real: the reference images passed to :func:`evaluate_images`.
        path: output ``.png`` path (parent folders are created).
        value_range: float range of the images, as for :func:`evaluate_images`.

    Returns:
        The written path.

    Example:
        >>> save_report_panel(report, fake, real, "runs/x/report.png")  # doctest: +SKIP
        PosixPath('runs/x/report.png')

    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fake_u8, real_u8 = to_uint8_images(fake, value_range), to_uint8_images(real, value_range)
    if fake_u8.ndim == 3:
        fake_u8, real_u8 = fake_u8[..., None], real_u8[..., None]
    examples = report["examples"]
    rows = []
    for i, neighbours in zip(
        examples["fake_indices"], examples["nearest_real_indices"], strict=True
    ):
        rows.extend([fake_u8[i], *(real_u8[j] for j in neighbours)])
    cols = 1 + len(examples["nearest_real_indices"][0]) if rows else 1

    table = []
    for group in ("quality", "diversity", "similarity"):
        for key, entry in report[group].items():
            std = f" ± {entry['std']:.2g}" if entry.get("std") is not None else ""
            table.append([group, key, _fmt(entry["value"]) + std, _fmt(entry["floor"])])
    proto = report["protocol"]
    fig = plt.figure(figsize=(15, 6.5))
    grid_ax, nn_ax = fig.add_subplot(1, 3, 1), fig.add_subplot(1, 3, 2)
    table_ax = fig.add_subplot(1, 3, 3)
    _show(grid_ax, _grid(fake_u8[:64], 8), f"{report['name']}: generated samples")
    if rows:
        _show(nn_ax, _grid(np.stack(rows), cols), "generated | nearest real (feature space)")
    table_ax.axis("off")
    tbl = table_ax.table(
        cellText=table,
        colLabels=["", "metric", "value", "real floor"],
        loc="center",
        cellLoc="left",
    )
    tbl.auto_set_font_size(False)
    tbl.set_fontsize(8)
    tbl.auto_set_column_width([0, 1, 2, 3])
    tbl.scale(1.0, 1.3)
    table_ax.set_title(
        f"N_gen={proto['n_gen']} N_ref={proto['n_ref']} "
        f"ref={proto['reference_split']} floor={proto['floor_split']}",
        fontsize=8,
    )
    fig.text(
        0.01,
        0.01,
        f"features: {proto['feature_space']}   classifier: {proto['classifier_space']}",
        fontsize=8,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
