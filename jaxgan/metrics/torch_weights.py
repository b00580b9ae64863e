"""A safe reader of PyTorch weight files: no torch, no code from the file is ever run.

PyTorch files are pickles, and unpickling an untrusted pickle can run arbitrary code. This module
reads them with a restricted :class:`pickle.Unpickler` whose ``find_class`` resolves only a short
allow-list (tensor rebuild functions, storage types, ``OrderedDict``, TorchScript list builders)
to our own inert numpy helpers; any other global (``os.system``, ``builtins.eval``, ...) raises
:class:`UnsafeWeightFileError` before it can be called. TorchScript module classes
(``__torch__.*``) become plain attribute bags (:class:`TorchScriptObject`); their code is never
read as code.

Formats read:

* zip archives written by ``torch.save`` (torch >= 1.6) and ``torch.jit.save`` (TorchScript):
  ``<root>/data.pkl`` plus raw little-endian storages in ``<root>/data/<key>``;
* the legacy (pre-1.6) ``torch.save`` stream: magic number, protocol, system info, the object
  pickle, the storage keys, then each storage as an int64 element count followed by its bytes.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TorchScriptObject",
    "UnsafeWeightFileError",
    "flatten_torch_tree",
    "read_torch_file",
]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_MEMBER_BYTES = 4 << 30
# No tensor axis can be longer than the most elements a storage may hold (one-byte elements).
_MAX_AXIS = _MAX_MEMBER_BYTES
_MAX_NDIM = 64  # numpy's limit

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),  # widened to float32 after reading
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class UnsafeWeightFileError(ValueError):
    """A weight file is malformed or asks for something the safe reader does not allow."""


@dataclasses.dataclass
class TorchScriptObject:
    """An inert stand-in for a TorchScript module object: its type name and its attributes.

    Attributes:
        type_name: The qualified TorchScript class name, e.g. ``__torch__.inceptionv3.Conv2dLayer``.
        attributes: The pickled attributes (parameters, submodules, ints, lists).

    Example:
        >>> TorchScriptObject("__torch__.M", {"stride": 2}).attributes["stride"]
        2

    """

    type_name: str
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        return _STORAGE_DTYPES[self.name]


@dataclasses.dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype_name: str
    numel: int


@dataclasses.dataclass(frozen=True)
class _LazyTensor:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: Any, offset: Any, shape: Any, strides: Any, *_rest: Any, **_kw: Any
) -> _LazyTensor:
    if not isinstance(storage, _StorageRef):
        raise UnsafeWeightFileError("tensor rebuild without a storage reference in the weight file")
    try:
        return _LazyTensor(storage, int(offset), tuple(map(int, shape)), tuple(map(int, strides)))
    except (TypeError, ValueError) as err:
        raise UnsafeWeightFileError(f"malformed tensor record in the weight file ({err})") from None


def _rebuild_parameter(data: Any, *_rest: Any, **_kw: Any) -> Any:
    return data


def _as_list(values: Any) -> list[Any]:
    return list(values)


def _ordered_dict(*args: Any) -> OrderedDict:
    return OrderedDict(*args)


class _TorchScriptStub:
    """Base of the per-name placeholder classes built for ``__torch__.*`` globals."""

    _type_name = "__torch__"


_ALLOWED_FUNCTIONS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch.jit._pickle", "build_intlist"): _as_list,
    ("torch.jit._pickle", "build_doublelist"): _as_list,
    ("torch.jit._pickle", "build_boollist"): _as_list,
    ("torch.jit._pickle", "build_tensorlist"): _as_list,
    ("torch.jit._pickle", "build_genericlist"): _as_list,
}


class _AllowedCallable:
    """A fresh, attribute-less wrapper per lookup, so a pickle cannot patch our functions."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Any):
        self._fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals; storages become references, never executed code."""

    def __init__(self, stream: io.BufferedIOBase, source: str):
        super().__init__(stream)
        self._source = source
        self._stubs: dict[str, type] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_FUNCTIONS:
            return _AllowedCallable(_ALLOWED_FUNCTIONS[(module, name)])
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module.startswith("__torch__") and name.isidentifier():
            qualified = f"{module}.{name}"
            if qualified not in self._stubs:
                self._stubs[qualified] = type(name, (_TorchScriptStub,), {"_type_name": qualified})
            return self._stubs[qualified]
        raise UnsafeWeightFileError(
            f"{self._source} asks to load '{module}.{name}', which the safe reader does not allow "
            "(only torch tensor/storage records are accepted)"
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnsafeWeightFileError(
                f"{self._source} has an unknown persistent record {pid!r:.80}"
            )
        storage_type, key, numel = pid[1], pid[2], pid[4]
        if (
            not isinstance(storage_type, _StorageType)
            or storage_type.name not in _STORAGE_DTYPES
            or not isinstance(numel, int)
            or numel < 0
        ):
            raise UnsafeWeightFileError(
                f"{self._source} has a malformed storage record {pid!r:.80}"
            )
        if len(pid) > 5 and pid[5] is not None:
            raise UnsafeWeightFileError(
                f"{self._source} uses storage views (torch < 0.4), unsupported"
            )
        return _StorageRef(str(key), storage_type.name, numel)


def _storage_bytes(ref: _StorageRef) -> int:
    return ref.numel * _STORAGE_DTYPES[ref.dtype_name].itemsize


def _check_storage_size(ref: _StorageRef, have: int, source: str) -> None:
    """Refuse a storage record that needs more bytes than the file holds for it."""
    need = _storage_bytes(ref)
    if need > have:
        raise UnsafeWeightFileError(
            f"{source}: storage {ref.key} of {ref.numel} elements needs {need} bytes, the file "
            f"holds {have} for it; the file is truncated or corrupt"
        )


def _storage_array(raw: bytes, ref: _StorageRef, source: str) -> np.ndarray:
    _check_storage_size(ref, len(raw), source)
    return np.frombuffer(raw, dtype=_STORAGE_DTYPES[ref.dtype_name], count=ref.numel)


def _check_tensor_geometry(tensor: _LazyTensor, storage_size: int, source: str) -> None:
    """Refuse shapes and strides that would read outside, or blow up, a storage of this size.

    Every check runs on Python ints before any array is made, so a record cannot make the reader
    allocate more than its storage (which is bounded by the file) holds.
    """
    shape, strides = tensor.shape, tensor.strides
    if len(shape) != len(strides) or len(shape) > _MAX_NDIM:
        raise UnsafeWeightFileError(
            f"{source}: malformed tensor shape {shape!s:.80} with strides {strides!s:.80}"
        )
    if any(n < 0 for n in shape) or any(s < 0 for s in strides) or tensor.offset < 0:
        raise UnsafeWeightFileError(
            f"{source}: tensor record with negative sizes, strides or offset "
            f"(shape {shape}, strides {strides}, offset {tensor.offset})"
        )
    if any(n > _MAX_AXIS for n in shape):
        raise UnsafeWeightFileError(
            f"{source}: tensor shape {shape} has a dimension longer than any storage "
            f"({_MAX_AXIS} elements)"
        )
    if 0 in shape:
        return
    if any(s == 0 and n > 1 for n, s in zip(shape, strides, strict=True)):
        raise UnsafeWeightFileError(
            f"{source}: tensor of shape {shape} repeats storage elements with stride 0 "
            f"(strides {strides}); save the tensor contiguously (tensor.contiguous())"
        )
    numel = 1
    for n in shape:
        numel *= n
    if numel > storage_size:
        raise UnsafeWeightFileError(
            f"{source}: tensor of shape {shape} has {numel} elements but its storage has "
            f"{storage_size}; overlapping or oversized views are refused"
        )
    last = tensor.offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))
    if last >= storage_size:
        raise UnsafeWeightFileError(
            f"{source}: tensor of shape {shape} reaches element {last} of a storage "
            f"with {storage_size} elements"
        )


def _materialize(
    tensor: _LazyTensor, storages: Mapping[str, np.ndarray], source: str
) -> np.ndarray:
    if tensor.storage.key not in storages:
        raise UnsafeWeightFileError(
            f"{source}: tensor refers to a missing storage {tensor.storage.key}"
        )
    flat = storages[tensor.storage.key]
    _check_tensor_geometry(tensor, flat.size, source)  # before any array or strided view
    if 0 in tensor.shape:
        out = np.zeros(tensor.shape, flat.dtype)
    else:
        view = np.lib.stride_tricks.as_strided(
            flat[tensor.offset :],
            shape=tensor.shape,
            strides=tuple(s * flat.itemsize for s in tensor.strides),
            writeable=False,
        )
        out = np.array(view)
    if tensor.storage.dtype_name == "BFloat16Storage":
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _resolve(obj: Any, storages: Mapping[str, np.ndarray], source: str) -> Any:
    """Replace lazy tensors by arrays and stubs by :class:`TorchScriptObject`, recursively."""
    if isinstance(obj, _LazyTensor):
        return _materialize(obj, storages, source)
    if isinstance(obj, _TorchScriptStub):
        attrs = {k: _resolve(v, storages, source) for k, v in vars(obj).items()}
        return TorchScriptObject(type(obj)._type_name, attrs)
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v, storages, source)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_resolve(v, storages, source) for v in obj)
    return obj


def _iter_refs(obj: Any) -> Iterator[_StorageRef]:
    if isinstance(obj, _LazyTensor):
        yield obj.storage
    elif isinstance(obj, _TorchScriptStub):
        for v in vars(obj).values():
            yield from _iter_refs(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _iter_refs(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _iter_refs(v)


def _unpickle(data: bytes, source: str) -> Any:
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafeWeightFileError:
        raise
    except Exception as err:  # malformed pickle streams raise many types
        raise UnsafeWeightFileError(f"{source} is not a readable torch pickle ({err})") from None


def _read_zip(path: Path) -> Any:
    source = path.name
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: info for info in archive.infolist()}
        roots = [name[: -len("data.pkl")] for name in members if name.endswith("data.pkl")]
        roots = [r for r in roots if r == "" or r.endswith("/")]
        if len(roots) != 1:
            raise UnsafeWeightFileError(
                f"{source} is a zip but not a torch archive (data.pkl: {roots})"
            )
        root = roots[0]
        byteorder = members.get(f"{root}byteorder")
        if byteorder is not None and archive.read(byteorder).strip() not in (b"", b"little"):
            raise UnsafeWeightFileError(
                f"{source} stores big-endian tensors, which are unsupported"
            )
        pickle_info = members[f"{root}data.pkl"]
        if pickle_info.file_size > _MAX_MEMBER_BYTES:
            raise UnsafeWeightFileError(
                f"{source}: data.pkl claims {pickle_info.file_size} bytes, more than a weight "
                "file's pickle can be"
            )
        obj = _unpickle(archive.read(pickle_info), source)
        storages: dict[str, np.ndarray] = {}
        for ref in _iter_refs(obj):
            if ref.key in storages:
                continue
            info = members.get(f"{root}data/{ref.key}")
            if info is None or info.file_size > _MAX_MEMBER_BYTES:
                raise UnsafeWeightFileError(f"{source} lacks a readable storage data/{ref.key}")
            _check_storage_size(ref, info.file_size, source)  # before reading the member
            storages[ref.key] = _storage_array(archive.read(info), ref, source)
    return _resolve(obj, storages, source)


def _read_legacy(path: Path) -> Any:
    source = path.name
    with path.open("rb") as stream:
        data = stream.read()
    buf = io.BytesIO(data)

    def next_pickle() -> Any:
        try:
            return _RestrictedUnpickler(buf, source).load()
        except UnsafeWeightFileError:
            raise
        except Exception as err:
            raise UnsafeWeightFileError(f"{source} is not a readable torch file ({err})") from None

    if next_pickle() != _LEGACY_MAGIC:
        raise UnsafeWeightFileError(
            f"{source} is neither a torch zip archive nor a legacy torch file"
        )
    if next_pickle() != _LEGACY_PROTOCOL:
        raise UnsafeWeightFileError(f"{source} uses an unknown legacy torch protocol")
    sys_info = next_pickle()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise UnsafeWeightFileError(f"{source} is a big-endian legacy torch file, unsupported")
    obj = next_pickle()
    keys = next_pickle()
    if not isinstance(keys, list):
        raise UnsafeWeightFileError(f"{source}: malformed legacy storage key list")
    refs = {ref.key: ref for ref in _iter_refs(obj)}
    storages: dict[str, np.ndarray] = {}
    for key in map(str, keys):
        if key not in refs:
            raise UnsafeWeightFileError(f"{source}: storage {key} is not used by any tensor")
        ref = refs[key]
        header = buf.read(8)
        numel = int.from_bytes(header, "little", signed=True) if len(header) == 8 else -1
        if numel != ref.numel:
            raise UnsafeWeightFileError(f"{source}: storage {key} is truncated or mislabelled")
        _check_storage_size(ref, len(data) - buf.tell(), source)  # before slicing it out
        storages[key] = _storage_array(buf.read(_storage_bytes(ref)), ref, source)
    return _resolve(obj, storages, source)


def read_torch_file(path: str | Path) -> Any:
    """Read a PyTorch ``.pt``/``.pth`` file (TorchScript or ``torch.save``) without running code.

    Args:
        path: The file. Zip archives (``torch.save`` since 1.6, ``torch.jit.save``) and the legacy
            ``torch.save`` stream are both accepted.

    Returns:
        The pickled object with every tensor as a numpy array (dtype and shape as saved, made
        contiguous), every TorchScript module as a :class:`TorchScriptObject`, and dicts, lists,
        tuples, ints, floats and strings as themselves.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        UnsafeWeightFileError: When the file is malformed or references any global outside the
            allow-list (for example a pickle that would call ``os.system``), or when a tensor
            record asks for more than its storage holds: more elements than the storage, a
            repeating stride 0, negative sizes or strides, or a storage larger than the file.
            These are checked before anything is allocated, so memory stays within the file's
            own size.

    Example:
        >>> state = read_torch_file("pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
        >>> state["Conv2d_1a_3x3.conv.weight"].shape  # doctest: +SKIP
        (32, 3, 3, 3)

    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weight file {path} does not exist; pass the path of a .pt/.pth file"
        )
    try:
        return _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except UnsafeWeightFileError:
        raise
    except (
        zipfile.BadZipFile,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        OverflowError,
        RecursionError,  # absurdly nested containers
    ) as err:
        raise UnsafeWeightFileError(f"{path.name} is not a readable torch file ({err})") from None


def flatten_torch_tree(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a :func:`read_torch_file` result into dotted names, like a PyTorch ``state_dict``.

    TorchScript bookkeeping attributes (``training``, ``_is_full_backward_hook``) are dropped;
    arrays, ints, floats and lists of numbers (e.g. ``stride``, ``padding``) are kept.

    Args:
        tree: What :func:`read_torch_file` returned.
        prefix: A name prefix for every key (used by the recursion).

    Returns:
        A dict from dotted names (``layers.conv.weight``, ``layers.conv.stride``) to values.

    Example:
        >>> obj = TorchScriptObject("__torch__.M", {"conv": TorchScriptObject("C", {"stride": 2})})
        >>> flatten_torch_tree(obj)
        {'conv.stride': 2}

    """
    if isinstance(tree, TorchScriptObject):
        items = tree.attributes.items()
    elif isinstance(tree, Mapping):
        items = tree.items()
    else:
        return {prefix: tree} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in items:
        if key in ("training", "_is_full_backward_hook", "_metadata"):
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, TorchScriptObject | Mapping):
            flat.update(flatten_torch_tree(value, name))
        elif value is not None:
            flat[name] = value
    return flat
