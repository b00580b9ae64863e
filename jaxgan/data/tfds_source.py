"""tensorflow-datasets image datasets, read without TensorFlow where tfds allows it.

What tfds 4.9.10 can do without TensorFlow: read data prepared in the ``array_record`` format
through ``builder.as_data_source`` (random access, numpy). What needs TensorFlow (the ``tf``
extra): preparing mnist/fashion_mnist/cifar10 (tfds extracts with ``tf.io.gfile``) and reading
data prepared as TFRecord (``tfds.load``'s default). This module therefore:

1. reads a prepared dataset through the data source when it is array_record, through
   ``as_dataset`` when it is TFRecord and TensorFlow is installed, and otherwise fails at once;
2. prepares a missing dataset only with TensorFlow installed, in the array_record format (so
   later runs read it without TensorFlow), from files in tfds' manual-download folder when all
   are there (tfds verifies them against its checksum registry), else from the network after
   a 3-second reachability probe of the download hosts — never tfds' ~200 s of retries offline.

Every failure is a one-line `DatasetUnavailableError` that says what to do.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan.data.dataset import (
    DataFormatError,
    Dataset,
    DatasetUnavailableError,
    UnknownDatasetError,
)
from jaxgan.data.names import unknown_message

OFFLINE_HINT = "or use 'fashion_mnist_sample' (bundled) or 'idx:<folder>' for an offline run"
PROBE_TIMEOUT_S = 3.0
_READ_CHUNK = 4096


def has_tensorflow() -> bool:
    """Tell whether TensorFlow is importable (without importing it).

    Returns:
        True when the ``tf`` extra (``tensorflow``) is installed.

    Example:
        >>> isinstance(has_tensorflow(), bool)
        True

    """
    return importlib.util.find_spec("tensorflow") is not None


def hosts_reachable(hosts: set[str], timeout: float = PROBE_TIMEOUT_S) -> dict[str, bool]:
    """Probe a TCP connection to each host in parallel, giving up after `timeout` s in total.

    Name resolution runs inside the deadline too (in daemon threads), so a machine with a
    dead DNS server answers within `timeout` instead of the resolver's own retries.

    Args:
        hosts: ``"host"`` (port 443) or ``"host:port"`` entries to probe.
        timeout: overall deadline in seconds.

    Returns:
        A mapping host -> whether a TCP connection opened before the deadline.

    Example:
        >>> hosts_reachable({"invalid.invalid"}, timeout=1.0)
        {'invalid.invalid': False}

    """
    result = dict.fromkeys(hosts, False)

    def probe(host: str) -> None:
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "443")
        try:
            socket.create_connection((name, int(port)), timeout=timeout).close()
            result[host] = True
        except OSError:
            pass

    threads = [threading.Thread(target=probe, args=(h,), daemon=True) for h in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return dict(result)


def load_tfds(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    manual_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    limit: int | None = None,
) -> Dataset:
    """Load a tensorflow-datasets image dataset into memory as uint8 NHWC + int labels.

    Args:
        name: a tfds name, optionally with config/version (``"mnist"``, ``"cifar10:3.0.2"``).
        split: a tfds split (``"train"``, ``"test"``, or tfds slicing like ``"train[:10%]"``).
        data_dir: tfds data folder (default: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
        manual_dir: folder with the dataset's original download files (e.g. the MNIST ``*.gz``);
            default ``<data_dir>/downloads/manual``. Used only when preparing (needs TensorFlow).
        download: allow preparing (and downloading) a dataset that is not prepared yet.
        limit: read only the first `limit` examples.

    Returns:
        An image `Dataset`; `num_classes` from the dataset's ``label`` feature when it has one.

    Raises:
        UnknownDatasetError: tfds has no dataset of that name, or it has no image feature.
        DatasetUnavailableError: the data is not here and cannot be prepared now (the message
            says which of: install the ``tf`` extra, set `data_dir`/`manual_dir`, use idx/sample).
        ValueError: unknown split or an empty split.

    Example:
        >>> ds = load_tfds("mnist", "test", limit=256)  # doctest: +SKIP
        >>> ds.x.shape  # doctest: +SKIP
        (256, 28, 28, 1)

    """
    tfds = _import_tfds()
    builder = _builder(tfds, name, data_dir)
    image_key, label_key, num_classes = _image_features(tfds, builder, name)
    if not builder.is_prepared():
        builder = _builder(tfds, name, data_dir, file_format="array_record")
        _prepare(tfds, builder, name, manual_dir=manual_dir, download=download)
    _check_split(builder, name, split)
    file_format = getattr(builder.info.file_format, "value", "tfrecord")
    if file_format in ("array_record", "parquet"):
        examples = _read_data_source(builder.as_data_source(split=split), limit)
    elif has_tensorflow():
        examples = _read_tf_dataset(tfds, builder, split, limit)
    else:
        raise DatasetUnavailableError(
            f"tfds dataset {name!r} in {builder.data_dir} is prepared as {file_format}, "
            "which only TensorFlow reads: "
            "pip install 'jaxgan[tf]', or prepare it again with file_format='array_record' "
            f"in another data_dir, {OFFLINE_HINT}"
        )
    if not examples:
        raise ValueError(f"split {split!r} of tfds dataset {name!r} is empty; pick another split")
    images = _stack_images(name, [ex[image_key] for ex in examples])
    labels = None if label_key is None else np.asarray([ex[label_key] for ex in examples])
    return Dataset(images, labels, name, "image", num_classes, split)


def _import_tfds() -> Any:
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise DatasetUnavailableError(
            f"tensorflow-datasets is not importable ({err}): pip install tensorflow-datasets, "
            f"{OFFLINE_HINT}"
        ) from None
    return tfds


def _builder(tfds: Any, name: str, data_dir: Any, **kwargs: Any) -> Any:
    try:
        return tfds.builder(name, data_dir=None if data_dir is None else str(data_dir), **kwargs)
    except Exception as err:  # tfds raises DatasetNotFoundError, ValueError, KeyError, ...
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnknownDatasetError(unknown_message(name, detail)) from None


def _image_features(tfds: Any, builder: Any, name: str) -> tuple[str, str | None, int | None]:
    features = builder.info.features
    items = dict(features.items()) if hasattr(features, "items") else {}
    image_keys = [k for k, f in items.items() if isinstance(f, tfds.features.Image)]
    if not image_keys:
        raise UnknownDatasetError(
            f"tfds dataset {name!r} has no image feature; jaxgan.data loads image datasets "
            "(e.g. mnist, fashion_mnist, cifar10)"
        )
    image_key = "image" if "image" in image_keys else image_keys[0]
    label = items.get("label")
    if isinstance(label, tfds.features.ClassLabel):
        return image_key, "label", int(label.num_classes)
    return image_key, None, None


def _prepare(tfds: Any, builder: Any, name: str, *, manual_dir: Any, download: bool) -> None:
    where = builder.data_dir_root
    if not download:
        raise DatasetUnavailableError(
            f"tfds dataset {name!r} is not prepared in {where} and download=False: pass the "
            f"data_dir where it is prepared, or allow download=True, {OFFLINE_HINT}"
        )
    if not has_tensorflow():
        raise DatasetUnavailableError(
            f"tfds dataset {name!r} is not prepared in {where} and preparing it needs TensorFlow: "
            "pip install 'jaxgan[tf]' (or prepare it elsewhere with file_format='array_record' "
            f"and pass data_dir=), {OFFLINE_HINT}"
        )
    manual = Path(manual_dir or Path(where) / "downloads" / "manual").expanduser()
    url_infos = dict(builder.url_infos or {})
    missing = {
        url: info.filename
        for url, info in url_infos.items()
        if not (info.filename and (manual / info.filename).is_file())
    }
    if url_infos and not missing:  # every file is in the manual dir: no network at all
        config = tfds.download.DownloadConfig(manual_dir=str(manual), try_download_gcs=False)
    else:
        hosts = {_host_port(url) for url in missing} or {
            "storage.googleapis.com:443"  # tfds' own bucket, for datasets without registered URLs
        }
        down = sorted(h for h, ok in hosts_reachable(hosts).items() if not ok)
        if down:
            files = ", ".join(sorted(f for f in missing.values() if f)) or "its files"
            raise DatasetUnavailableError(
                f"cannot download tfds dataset {name!r}: {', '.join(down)} unreachable (offline?); "
                f"copy {files} into {manual} (tfds checks their sha256) or pass manual_dir=, "
                f"{OFFLINE_HINT}"
            )
        config = tfds.download.DownloadConfig(manual_dir=str(manual))
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as err:  # checksum mismatch, disk full, interrupted download, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetUnavailableError(
            f"preparing tfds dataset {name!r} in {where} failed: {first}"
        ) from err


def _host_port(url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    return f"{parsed.hostname}:{parsed.port or (80 if parsed.scheme == 'http' else 443)}"


def _check_split(builder: Any, name: str, split: str) -> None:
    known = list(builder.info.splits.keys())
    base = split.split("[", 1)[0]
    if known and base not in known:
        raise ValueError(f"tfds dataset {name!r} has no split {base!r}; its splits: {known}")


def _read_data_source(source: Any, limit: int | None) -> list[dict[str, Any]]:
    count = len(source) if limit is None else min(limit, len(source))
    examples: list[dict[str, Any]] = []
    for start in range(0, count, _READ_CHUNK):
        keys = list(range(start, min(start + _READ_CHUNK, count)))
        try:
            examples.extend(source.__getitems__(keys))  # batched read: ~4x faster than one by one
        except TypeError:  # tfds.testing.mock_data's data source lacks a working __getitems__
            examples.extend(source[k] for k in keys)
    return examples


def _read_tf_dataset(tfds: Any, builder: Any, split: str, limit: int | None) -> list[dict]:
    dataset = builder.as_dataset(split=split)
    if limit is not None:
        dataset = dataset.take(limit)
    return list(tfds.as_numpy(dataset))


def _stack_images(name: str, images: list[np.ndarray]) -> np.ndarray:
    shapes = {np.shape(im) for im in images}
    if len(shapes) != 1:
        raise DataFormatError(
            f"tfds dataset {name!r} has images of {len(shapes)} different shapes; jaxgan needs "
            "one fixed size, resize them first"
        )
    return np.stack(images)  # `Dataset` checks for uint8 (N, H, W, C) with the same error class
