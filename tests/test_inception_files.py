"""Safe weight reading, conversion, discovery and the explicit download of the FID InceptionV3."""

from __future__ import annotations

import importlib
import pickle
import time
import urllib.request
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from jaxgan.metrics import inception_files, inception_weights
from jaxgan.metrics.inception import inception_param_shapes
from jaxgan.metrics.inception_files import (
    WeightsDownloadError,
    download_inception_weights,
    find_inception_weights,
)
from jaxgan.metrics.inception_weights import load_inception_params, save_inception_npz
from jaxgan.metrics.torch_weights import (
    TorchScriptObject,
    UnsafeWeightFileError,
    flatten_torch_tree,
    read_torch_file,
)

# By module path: jaxgan.metrics may export the function `fid`, which shadows the module.
fid_module = importlib.import_module("jaxgan.metrics.fid")


class _Marker:
    """Pickles to a call of ``pathlib.Path.touch`` on a path: proof if the reader executed it."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _torch_zip(tmp_path: Path, payload: bytes, name: str = "evil.pt") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
    return path


@pytest.mark.parametrize("legacy", [False, True])
def test_malicious_pickle_is_rejected_without_running(tmp_path, legacy):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": _Marker(marker)}, protocol=2)
    if legacy:
        path = tmp_path / "evil.pth"
        path.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C) + payload)
    else:
        path = _torch_zip(tmp_path, payload)
    with pytest.raises(UnsafeWeightFileError, match="does not allow"):
        read_torch_file(path)
    assert not marker.exists()


def _tensor_pickle(offset: int, numel: int, storage_numel: int) -> bytes:
    """Opcodes of ``{"w": _rebuild_tensor_v2(<FloatStorage '0'>, offset, (numel,), (1,), ...)}``."""

    def text(value: str) -> bytes:
        return b"X" + len(value).to_bytes(4, "little") + value.encode()

    pid = b"(" + text("storage") + b"ctorch\nFloatStorage\n" + text("0") + text("cpu")
    pid += b"K" + bytes([storage_numel]) + b"tQ"
    args = b"(" + pid + b"K" + bytes([offset]) + b"K" + bytes([numel]) + b"\x85K\x01\x85\x89Nt"
    return b"\x80\x02}" + text("w") + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"Rs."


@pytest.mark.parametrize(("offset", "numel", "ok"), [(1, 3, True), (2, 4, False)])
def test_tensor_records_are_bounds_checked(tmp_path, offset, numel, ok):
    path = _torch_zip(tmp_path, _tensor_pickle(offset, numel, storage_numel=4))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("archive/data/0", np.arange(4, dtype="<f4").tobytes())
    if ok:
        np.testing.assert_array_equal(read_torch_file(path)["w"], np.arange(offset, offset + numel))
    else:
        with pytest.raises(UnsafeWeightFileError, match="reaches element 5"):
            read_torch_file(path)


def test_not_a_torch_file_gives_one_line_error(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"this is not a weight file")
    with pytest.raises(UnsafeWeightFileError) as info:
        read_torch_file(path)
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError):
        read_torch_file(tmp_path / "missing.pt")


def test_flatten_drops_bookkeeping_and_keeps_geometry():
    conv = TorchScriptObject("C", {"weight": np.ones(2), "stride": 2, "training": False})
    tree = TorchScriptObject("M", {"layers": TorchScriptObject("S", {"conv": conv})})
    assert set(flatten_torch_tree(tree)) == {"layers.conv.weight", "layers.conv.stride"}


@pytest.mark.parametrize("legacy", [False, True])
def test_reader_matches_torch_for_saved_tensors(tmp_path, legacy):
    torch = pytest.importorskip("torch")
    state = {
        "f32": torch.arange(12, dtype=torch.float32).reshape(3, 4).t(),  # non-contiguous view
        "slice": torch.arange(10, dtype=torch.int64)[3:7],  # storage offset
        "f16": torch.linspace(-1, 1, 5, dtype=torch.float16),
        "nested": {"b": torch.tensor([True, False]), "n": 3},
    }
    path = tmp_path / "state.pth"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    tree = read_torch_file(path)
    for key in ("f32", "slice", "f16"):
        np.testing.assert_array_equal(tree[key], state[key].numpy())
        assert tree[key].dtype == state[key].numpy().dtype
    np.testing.assert_array_equal(tree["nested"]["b"], [True, False])
    assert tree["nested"]["n"] == 3


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_reader_reads_torchscript_attributes(tmp_path):
    torch = pytest.importorskip("torch")

    class Layer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(4, 3, 1, 7))
            self.stride = 2
            self.padding: list[int] = [0, 3]

        def forward(self, x):
            return torch.conv2d(x, self.weight, None, [self.stride, self.stride], self.padding)

    path = tmp_path / "scripted.pt"
    module = torch.jit.script(torch.nn.Sequential(Layer()))
    torch.jit.save(module, str(path))
    flat = flatten_torch_tree(read_torch_file(path))
    np.testing.assert_array_equal(flat["0.weight"], module[0].weight.detach().numpy())
    assert flat["0.stride"] == 2 and list(flat["0.padding"]) == [0, 3]


def _random_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        k: rng.standard_normal(s).astype(np.float32) for k, s in inception_param_shapes().items()
    }


def test_pytorch_fid_state_dict_is_mapped(tmp_path):
    torch = pytest.importorskip("torch")
    params = _random_params()
    state = OrderedDict()  # what module.state_dict() returns, with its _metadata attribute
    for name in {k.rsplit(".", 1)[0] for k in params}:
        state[f"{name}.conv.weight"] = torch.from_numpy(
            params[f"{name}.kernel"].transpose(3, 2, 0, 1)
        )
        for ours, theirs in (("scale", "weight"), ("bias", "bias"), ("mean", "running_mean")):
            state[f"{name}.bn.{theirs}"] = torch.from_numpy(params[f"{name}.{ours}"])
        state[f"{name}.bn.running_var"] = torch.from_numpy(params[f"{name}.var"])
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)
    state._metadata = OrderedDict({"": {"version": 1}, "fc": {"version": 1}})
    path = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)  # the 2019 file is legacy
    loaded = load_inception_params(path)
    assert set(loaded.params) == set(params)
    for key, value in params.items():
        np.testing.assert_array_equal(loaded.params[key], value)
    assert loaded.describe().startswith("pt_inception-2015-12-05-6726825d.pth sha256:")


def test_npz_round_trip_and_corruption(tmp_path):
    params = _random_params(1)
    weights = inception_weights.InceptionWeights(params, "src.pt", "ab" * 32, tmp_path / "src.pt")
    path = save_inception_npz(weights, tmp_path / "w.npz")
    loaded = load_inception_params(path)
    assert loaded.describe() == "src.pt sha256:abababababab"
    np.testing.assert_array_equal(
        loaded.params["Mixed_7c.branch_pool.kernel"], params["Mixed_7c.branch_pool.kernel"]
    )
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="delete it and convert again"):
        load_inception_params(path)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("JAXGAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(inception_files, "_fid_helper_file", lambda: None)
    return tmp_path / "cache"


def test_discovery_order_and_clear_errors(empty_cache, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="download_inception_weights") as info:
        find_inception_weights()
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_inception_weights(tmp_path / "nope.npz")
    source = empty_cache / "inception-2015-12-05.pt"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"x")
    assert find_inception_weights() == source
    converted = empty_cache / "inception-2015-12-05.npz"
    converted.write_bytes(b"x")
    assert find_inception_weights() == converted  # the converted file wins
    monkeypatch.setenv("JAXGAN_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    with pytest.raises(FileNotFoundError, match="JAXGAN_INCEPTION_WEIGHTS"):
        find_inception_weights()


def test_features_never_download_implicitly(empty_cache, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("fid_features tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(FileNotFoundError, match="no InceptionV3-2015-12-05 weights found"):
        fid_module.fid_features(np.zeros((2, 28, 28), np.uint8))


def test_download_fails_fast_with_a_clear_message(tmp_path):
    start = time.monotonic()
    with pytest.raises(WeightsDownloadError) as info:
        download_inception_weights(
            url="http://127.0.0.1:9/pt_inception.pth", cache_dir=tmp_path, timeout=5
        )
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert (
        "127.0.0.1:9" in message and "JAXGAN_INCEPTION_WEIGHTS" in message and "\n" not in message
    )
    assert isinstance(info.value, FileNotFoundError)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    with pytest.raises(ValueError, match="source must be one of"):
        download_inception_weights("somewhere")
