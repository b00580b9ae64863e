"""jaxgan's dataset classifiers as an evaluation space: checksummed weights, features, labels.

The classifiers give an offline evaluation space: their 128-d penultimate features (before the ReLU)
serve FD / KID / PRDC, their predictions serve class-histogram KL, Stacked-MNIST mode counts and an
Inception-style score. Numbers computed here are only comparable with numbers from the same
weights, so :attr:`Classifier.feature_space` names the classifier and its weight checksum.

The features are multiplied by a fixed ``feature_scale`` stored with the weights (1 / RMS of the
raw features over the training images, see ``jaxgan.apps.classifier.feature_rms``), so their mean
squared entry is ≈ 1. Raw activations are several times larger (MNIST: RMS 6.8), which puts
``xᵀy / d`` near 20 and makes KID's cubic kernel ``(xᵀy / d + 1)³`` heavy-tailed (real-vs-real KID
std > 100). FD scales by ``feature_scale²``; precision, recall, density and coverage do not change.

Weights live next to this module in ``weights/<name>.npz`` (plain arrays, read with
``allow_pickle=False``) with ``weights/<name>.json`` (sha256 of the .npz, accuracy, data split,
the command that produced it). :func:`load_classifier` refuses a file whose sha256 differs;
:func:`save_classifier` writes the pair, so the file format lives in this one module. Training
is not done here: ``scripts/train_classifier.py`` calls ``jaxgan.apps.classifier``. Pixels enter
the network through ``jaxgan.data.uint8_to_unit_range``, the same map as the training data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgan.data import uint8_to_unit_range

__all__ = [
    "WEIGHTS_DIR",
    "Classifier",
    "ClassifierArchitecture",
    "ClassifierCNN",
    "WeightsChecksumError",
    "load_classifier",
    "save_classifier",
]

#: Folder of the cached classifier weights shipped with jaxgan.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
_FORMAT = "jaxgan-classifier-v1"


class WeightsChecksumError(ValueError):
    """A cached weight file does not match the sha256 recorded in its metadata."""


@dataclasses.dataclass(frozen=True)
class ClassifierArchitecture:
    """Architecture of :class:`ClassifierCNN` (stored as ``"config"`` in the weights' JSON).

    Attributes:
        image_size: height = width of the input images (28 for MNIST, 32 for CIFAR-10).
        channels: input channels (1 grayscale, 3 RGB).
        num_classes: output classes.
        widths: channels of the stages; each is ``convs_per_stage`` 3×3 convs + a 2×2 max-pool.
        convs_per_stage: 3×3 conv + ReLU layers per stage.
        feature_dim: width of the penultimate dense layer (the feature space).
        dropout: dropout rate before the classification head (training only).

    Example:
        >>> ClassifierArchitecture(image_size=32, channels=3).feature_dim
        128

    """

    image_size: int = 28
    channels: int = 1
    num_classes: int = 10
    widths: tuple[int, ...] = (32, 64)
    convs_per_stage: int = 1
    feature_dim: int = 128
    dropout: float = 0.3

    def check_images(self, images: np.ndarray) -> np.ndarray:
        """Check that images fit this architecture: uint8 ``(N, H, W, C)`` of its size.

        Args:
            images: uint8 images ``(N, H, W, C)``, or ``(N, H, W)`` for one channel.

        Returns:
            The images as a numpy array ``(N, H, W, C)``.

        Raises:
            TypeError: the images are not uint8.
            ValueError: their shape does not fit.

        Example:
            >>> ClassifierArchitecture().check_images(np.zeros((2, 28, 28), np.uint8)).shape
            (2, 28, 28, 1)

        """
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise TypeError(
                f"classifier expects uint8 images (0..255), got {images.dtype}; "
                "convert float images with "
                "jaxgan.data.to_uint8_images(x, value_range=...)"
            )
        if images.ndim == 3 and self.channels == 1:
            images = images[..., None]
        expected = (self.image_size, self.image_size, self.channels)
        if images.ndim != 4 or images.shape[1:] != expected:
            raise ValueError(
                f"classifier expects images of shape (N, "
                f"{', '.join(map(str, expected))}), got {images.shape}"
            )
        return images


class ClassifierCNN(nnx.Module):
    """Stages of 3×3 Conv+ReLU then MaxPool, a dense feature layer and a linear head.

    Example:
        >>> model = ClassifierCNN(ClassifierArchitecture(), rngs=nnx.Rngs(0))
        >>> features, logits = model(jnp.zeros((2, 28, 28, 1)))  # doctest: +SKIP
        >>> features.shape, logits.shape  # doctest: +SKIP
        ((2, 128), (2, 10))

    """

    def __init__(self, config: ClassifierArchitecture, *, rngs: nnx.Rngs):
        self.config = config
        stages, c = [], config.channels
        for width in config.widths:
            convs = []
            for _ in range(config.convs_per_stage):
                convs.append(nnx.Conv(c, width, (3, 3), rngs=rngs))
                c = width
            stages.append(nnx.List(convs))
        self.stages = nnx.List(stages)
        side = config.image_size // 2 ** len(config.widths)
        self.dense = nnx.Linear(c * side * side, config.feature_dim, rngs=rngs)
        self.head = nnx.Linear(config.feature_dim, config.num_classes, rngs=rngs)
        self.dropout = nnx.Dropout(config.dropout)

    def __call__(
        self, x: jax.Array, *, rngs: nnx.Rngs | None = None, deterministic: bool = True
    ) -> tuple[jax.Array, jax.Array]:
        """Map normalised images ``(B, H, W, C)`` in [−1, 1] to ``(features, logits)``.

        Args:
            x: images scaled to [−1, 1], NHWC.
            rngs: carries the ``dropout`` key when ``deterministic`` is False.
            deterministic: disable dropout (evaluation).

        Returns:
            ``(features (B, feature_dim) before the ReLU, logits (B, num_classes))``.

        """
        for stage in self.stages:
            for conv in stage:
                x = jax.nn.relu(conv(x))
            x = nnx.max_pool(x, (2, 2), (2, 2))
        features = self.dense(x.reshape(x.shape[0], -1))
        h = self.dropout(jax.nn.relu(features), deterministic=deterministic, rngs=rngs)
        return features, self.head(h)


@partial(jax.jit, static_argnums=0)
def _forward(graphdef: nnx.GraphDef, params: nnx.State, images: jax.Array):
    return nnx.merge(graphdef, params)(uint8_to_unit_range(images))


@dataclasses.dataclass(frozen=True)
class Classifier:
    """A trained classifier: features, logits, probabilities and labels of uint8 images.

    Attributes:
        config: the architecture.
        graphdef: the static Flax NNX graph definition.
        params: the parameter state.
        metadata: provenance (name, sha256, accuracy, data split, command).

    Example:
        >>> clf = load_classifier("mnist")  # doctest: +SKIP
        >>> clf.features(np.zeros((4, 28, 28, 1), np.uint8)).shape  # doctest: +SKIP
        (4, 128)

    """

    config: ClassifierArchitecture
    graphdef: nnx.GraphDef
    params: nnx.State
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def feature_space(self) -> str:
        """Name of the feature space, to print beside every number computed in it."""
        sha = self.metadata.get("sha256", "untracked")[:12]
        name = self.metadata.get("name", "unnamed")
        return (
            f"jaxgan-{name}-cnn/penultimate-{self.config.feature_dim}"
            f"×{self.feature_scale:.4g} (sha256 {sha})"
        )

    @property
    def feature_scale(self) -> float:
        """Fixed factor applied to the raw penultimate activations (1.0 when not recorded)."""
        return float(self.metadata.get("feature_scale", 1.0))

    def apply(self, images: np.ndarray, *, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """Run the network in fixed-size batches.

        Args:
            images: uint8 images ``(N, H, W, C)``.
            batch_size: images per compiled call (the last batch is padded).

        Returns:
            ``(features (N, feature_dim), logits (N, num_classes))`` as float32 NumPy arrays;
            features are multiplied by :attr:`feature_scale`.

        """
        images = self.config.check_images(images)
        n = len(images)
        size = max(1, min(batch_size, n))
        features, logits = [], []
        for start in range(0, n, size):
            chunk = images[start : start + size]
            pad = size - len(chunk)
            if pad:
                chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.uint8)])
            f, lg = _forward(self.graphdef, self.params, chunk)  # numpy in: no copy program
            features.append(np.asarray(f)[: size - pad] * np.float32(self.feature_scale))
            logits.append(np.asarray(lg)[: size - pad])
        return np.concatenate(features), np.concatenate(logits)

    def features(self, images: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
        """Penultimate-layer features ``(N, feature_dim)`` of uint8 images."""
        return self.apply(images, batch_size=batch_size)[0]

    def probabilities(self, images: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
        """Softmax class probabilities ``(N, num_classes)`` of uint8 images."""
        return self.probabilities_of(self.apply(images, batch_size=batch_size)[1])

    @staticmethod
    def probabilities_of(logits: np.ndarray) -> np.ndarray:
        """Return the float64 softmax class probabilities of logits from :meth:`apply`.

        Args:
            logits: ``(N, num_classes)`` logits.

        Returns:
            ``(N, num_classes)`` probabilities, each row summing to 1.

        Example:
            >>> Classifier.probabilities_of(np.zeros((1, 4), np.float32)).tolist()
            [[0.25, 0.25, 0.25, 0.25]]

        """
        return np.asarray(
            jax.nn.softmax(jnp.asarray(logits, jnp.float32), axis=-1), dtype=np.float64
        )

    def predict(self, images: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
        """Predicted class ids ``(N,)`` of uint8 images."""
        return np.argmax(self.apply(images, batch_size=batch_size)[1], axis=-1)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Fraction of ``images`` whose predicted class equals ``labels``."""
        return float(np.mean(self.predict(images) == np.asarray(labels)))


def _flat_params(params: nnx.State) -> tuple[dict[str, Any], Any]:
    """Leaves of the parameter tree keyed ``"convs/0/kernel"``-style, and the tree structure."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(nnx.to_pure_dict(params))
    names = [
        "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path) for path, _ in leaves
    ]
    return {n: v for n, (_, v) in zip(names, leaves, strict=True)}, treedef


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_classifier(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    config: ClassifierArchitecture,
    directory: str | Path,
    name: str,
    metadata: dict[str, Any],
) -> Path:
    """Write ``<directory>/<name>.npz`` (plain arrays) and ``<name>.json`` (sha256 + metadata).

    Args:
        graphdef: the model's graph definition (from ``jaxgan.apps.classifier.train_classifier``).
        params: the trained parameter state.
        config: the architecture, stored so loading can rebuild the model.
        directory: output folder (created if missing).
        name: file stem, e.g. ``"mnist"``.
        metadata: JSON-able provenance: accuracy, data split, command, training time.

    Returns:
        Path of the JSON metadata file.

    Example:
        >>> save_classifier(gd, params, cfg, "weights", "mnist", {"accuracy": {}})  # doctest: +SKIP

    """
    del graphdef  # rebuilt from config on load; kept in the signature for symmetry with training
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays, _ = _flat_params(params)
    npz_path = directory / f"{name}.npz"
    with npz_path.open("wb") as f:
        np.savez(f, **{k: np.asarray(v) for k, v in arrays.items()})
    record = {
        "format": _FORMAT,
        "name": name,
        "weights_file": npz_path.name,
        "sha256": _sha256(npz_path),
        "config": dataclasses.asdict(config),
        **metadata,
    }
    json_path = directory / f"{name}.json"
    json_path.write_text(_dump_json(record))
    return json_path


def _dump_json(record: dict[str, Any]) -> str:
    """Indented JSON with lists of numbers kept on one line (e.g. held-out indices)."""
    text = json.dumps(record, indent=1)
    return (
        re.sub(
            r"\[\s+([-\d.,\s]+?)\s+\]",
            lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]",
            text,
        )
        + "\n"
    )


def _metadata_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".json", ".npz"):
        return path.with_suffix(".json")
    if path.parent != Path(".") or path.is_dir():
        raise ValueError(
            f"pass a classifier name (one of {_available()}) or a .json/.npz path, "
            f"got {name_or_path}"
        )
    return WEIGHTS_DIR / f"{name_or_path}.json"


def _available() -> list[str]:
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.json"))


def load_classifier(name_or_path: str | Path = "mnist") -> Classifier:
    """Load cached classifier weights after checking their sha256.

    Args:
        name_or_path: a cached name (``"mnist"``, ``"fashion_mnist"``) or the path of a
            ``.json``/``.npz`` pair written by :func:`save_classifier`.

    Returns:
        The :class:`Classifier`.

    Raises:
        FileNotFoundError: the metadata or weight file is missing.
        WeightsChecksumError: the .npz does not match the recorded sha256 (corrupt or replaced).
        ValueError: the files are malformed or do not fit the recorded architecture.

    Example:
        >>> load_classifier("mnist").metadata["name"]  # doctest: +SKIP
        'mnist'

    """
    json_path = _metadata_path(name_or_path)
    if not json_path.is_file():
        raise FileNotFoundError(
            f"no classifier metadata at {json_path}; cached classifiers: "
            f"{_available()} (train one with scripts/train_classifier.py)"
        )
    try:
        meta = json.loads(json_path.read_text())
        config = ClassifierArchitecture(
            **{**meta["config"], "widths": tuple(meta["config"]["widths"])}
        )
        npz_path = json_path.parent / meta["weights_file"]
        expected = meta["sha256"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(
            f"{json_path} is not valid classifier metadata ({err!r}); restore it from "
            "git or re-run scripts/train_classifier.py"
        ) from None
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{json_path} has format {meta.get('format')!r}, expected {_FORMAT!r}")
    if not npz_path.is_file():
        raise FileNotFoundError(
            f"classifier weights {npz_path} are missing; restore them from git "
            "or re-run scripts/train_classifier.py"
        )
    actual = _sha256(npz_path)
    if actual != expected:
        raise WeightsChecksumError(
            f"{npz_path} has sha256 {actual[:16]}…, expected {expected[:16]}… from "
            f"{json_path.name}; the file is corrupt or was replaced: restore it from git or re-run "
            "scripts/train_classifier.py"
        )
    abstract = nnx.eval_shape(lambda: ClassifierCNN(config, rngs=nnx.Rngs(0)))
    graphdef, abstract_params = nnx.split(abstract)
    shapes, treedef = _flat_params(abstract_params)
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        raise ValueError(f"{npz_path} is not a readable .npz of plain arrays ({err})") from None
    if set(arrays) != set(shapes):
        raise ValueError(
            f"{npz_path} holds arrays {sorted(arrays)}, the architecture expects {sorted(shapes)}"
        )
    for key, spec in shapes.items():
        if arrays[key].shape != spec.shape or arrays[key].dtype != spec.dtype:
            raise ValueError(
                f"{npz_path}: {key} is {arrays[key].dtype}{arrays[key].shape}, the "
                f"architecture expects {spec.dtype}{spec.shape}"
            )
    # device_put, not jnp.asarray: that compiles a copy program per array shape
    pure = jax.tree_util.tree_unflatten(treedef, [jax.device_put(arrays[k]) for k in shapes])
    nnx.replace_by_pure_dict(abstract_params, pure)
    return Classifier(config, graphdef, abstract_params, meta)
