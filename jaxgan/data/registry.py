"""`load(name)`: one entry point that resolves a dataset name to the loader that serves it.

Names:
    ``fashion_mnist_sample``  the bundled sample (offline; the default of ``jaxgan train``)
    ``ring8``, ``grid25``     PacGAN's toy 2-D mixtures
    ``stacked_mnist``         three digits per sample (source ``mnist``, or
                              ``stacked_mnist:<source>`` / ``source=``)
    ``idx:<path>``            a folder of MNIST-format IDX files, or one images file
    ``npz:<file>``            an ``.npz`` file with ``x_train``/``y_train`` (Keras' layout;
                              what ``jaxgan export --format npz`` writes)
    ``tfds:<name>`` / any other name: a tensorflow-datasets image dataset (``mnist``,
                              ``fashion_mnist``, ``cifar10``, ...)
"""

from __future__ import annotations

import os
from typing import Any

from jaxgan.data.bundled import SAMPLE_NAME, load_fashion_mnist_sample
from jaxgan.data.dataset import SPLITS, Dataset, DatasetUnavailableError, UnknownDatasetError
from jaxgan.data.idx import load_idx
from jaxgan.data.names import BUILTIN, unknown_message
from jaxgan.data.npz import load_npz
from jaxgan.data.stacked import stacked_from
from jaxgan.data.tfds_source import load_tfds
from jaxgan.data.toy import load_mixture, mixture_names


def load(
    name: str,
    split: str = "train",
    *,
    limit: int | None = None,
    size: int | None = None,
    seed: int = 0,
    source: str | Dataset | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    manual_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Dataset:
    """Load a dataset by name into memory: uint8 NHWC images or float32 points, plus labels.

    Args:
        name: a name from `names()`, a form from `name_forms()` (``"idx:/path"``,
            ``"stacked_mnist:idx:/path"``, ``"tfds:svhn_cropped"``), or a tfds image dataset.
        split: ``"train"`` or ``"test"`` (tfds names also take tfds split strings).
        limit: keep only the first `limit` examples (quick runs).
        size: number of examples to generate for ``ring8``/``grid25`` (default 100,000) and
            ``stacked_mnist`` (default 128,000).
        seed: seed for the generated datasets (toy mixtures, stacked_mnist).
        source: digit source of ``stacked_mnist``: a name (default ``"mnist"``) or a `Dataset`.
        data_dir: tfds data folder (tfds names and tfds sources only).
        manual_dir: folder of original download files for tfds to prepare from (needs the
            ``tf`` extra), default ``<data_dir>/downloads/manual``.
        download: let tfds prepare a dataset that is not prepared yet.

    Returns:
        A frozen `Dataset` with ``x``, ``y``, ``name``, ``kind``, ``num_classes``, ``split``.

    Raises:
        UnknownDatasetError: unknown name (the message lists the valid ones).
        DatasetUnavailableError: the data is not on this machine and cannot be fetched now;
            raised within seconds with what to do.
        DataFormatError: corrupt or truncated files.
        ValueError, TypeError: bad arguments, or an empty split.

    Example:
        >>> ds = load("fashion_mnist_sample", limit=64)
        >>> ds.x.shape, ds.x.dtype, ds.kind
        ((64, 28, 28, 1), dtype('uint8'), 'image')

    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    _check_int("limit", limit)
    _check_int("size", size)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    is_tfds = _is_tfds_name(name)
    if not is_tfds and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} for {name!r}, got {split!r}")
    _check_options(name, size=size, source=source, data_dir=data_dir, manual_dir=manual_dir)
    tfds_options = {"data_dir": data_dir, "manual_dir": manual_dir, "download": download}

    if name == SAMPLE_NAME:
        dataset = load_fashion_mnist_sample(split)
    elif name in mixture_names():
        dataset = load_mixture(name, split, size=size, seed=seed)
    elif _is_stacked(name):
        digits = _stacked_source(name, split, source, tfds_options)
        dataset = stacked_from(digits, split, size=size, seed=seed)
    elif name.startswith("idx:"):
        path = name.removeprefix("idx:")
        if not path:
            raise ValueError("'idx:' needs a path, e.g. idx:/usr/share/datasets/fashion-mnist")
        dataset = load_idx(path, split, name=name)
    elif name.startswith("npz:"):
        path = name.removeprefix("npz:")
        if not path:
            raise ValueError("'npz:' needs a file, e.g. npz:runs/synthetic.npz")
        dataset = load_npz(path, split, name=name)
    else:
        tfds_name = name.removeprefix("tfds:")
        if not tfds_name:
            raise UnknownDatasetError(unknown_message(name))
        dataset = load_tfds(tfds_name, split, limit=limit, **tfds_options)
    dataset = dataset.take(limit)
    if len(dataset) == 0:
        raise ValueError(f"split {split!r} of dataset {name!r} is empty; pick another split")
    return dataset


def _is_stacked(name: str) -> bool:
    return name == "stacked_mnist" or name.startswith("stacked_mnist:")


def _is_tfds_name(name: str) -> bool:
    return not (
        name in BUILTIN or name.startswith(("idx:", "npz:", "stacked_mnist:")) or not name.strip()
    )


def _check_int(what: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a positive int or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be a positive int or None, got {value}")


def _check_options(name: str, **options: Any) -> None:
    stacked = _is_stacked(name)
    allowed = {
        "size": stacked or name in mixture_names(),
        "source": stacked,
        "data_dir": stacked or _is_tfds_name(name),
        "manual_dir": stacked or _is_tfds_name(name),
    }
    for option, value in options.items():
        if value is not None and not allowed[option]:
            raise ValueError(f"option {option}= does not apply to dataset {name!r}; remove it")
    if not name.strip():
        raise UnknownDatasetError(unknown_message(name))


def _stacked_source(
    name: str, split: str, source: str | Dataset | None, tfds_options: dict[str, Any]
) -> Dataset:
    from_name = name.partition(":")[2]
    if from_name and source is not None:
        raise ValueError(f"give the stacked_mnist source once: {name!r} and source={source!r}")
    source = source if source is not None else (from_name or "mnist")
    if isinstance(source, Dataset):
        return source
    if not isinstance(source, str) or source.startswith("stacked_mnist"):
        raise ValueError(f"stacked_mnist source must be a digit dataset name, got {source!r}")
    options = tfds_options if _is_tfds_name(source) else {}
    try:
        return load(source, split, **options)
    except DatasetUnavailableError as err:
        raise DatasetUnavailableError(
            f"stacked_mnist: digit source {source!r} is unavailable ({err}); or pass another "
            "source, e.g. 'stacked_mnist:idx:<folder with MNIST files>'"
        ) from None
