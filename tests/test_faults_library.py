"""Issue 22, items 6 (data side), 10 and 11: library edges and bounded readers fail in one line.

Every hostile file here is written into ``tmp_path`` by hand (struct/numpy/zipfile); none is
ever given to ``torch.load`` or unpickled by anything but the restricted reader.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import tracemalloc
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgan
from jaxgan import data, models
from jaxgan.data.dataset import MAX_NUM_CLASSES, infer_num_classes
from jaxgan.metrics.torch_weights import UnsafeWeightFileError, read_torch_file

KEY = jax.random.key(0)


def _one_line(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


def _state(**overrides):
    return jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=KEY, **overrides)


def _images(n: int, shape=(28, 28, 1)) -> jax.Array:
    return jnp.zeros((n, *shape), jnp.float32)


# -- item 10: library edges -------------------------------------------------------------------


@pytest.mark.parametrize("step", [jaxgan.d_step, jaxgan.g_step, jaxgan.train_step])
def test_empty_batch_is_a_one_line_value_error(step):
    state = _state()
    with pytest.raises(ValueError, match="at least one example") as excinfo:
        step(state, _images(0), KEY)
    _one_line(excinfo)
    new, _ = jaxgan.d_step(state, _images(2), KEY)  # the state was not donated by the refusal
    assert int(new.d_updates) == 1


def test_scalar_batch_is_a_one_line_value_error():
    with pytest.raises(ValueError, match="at least one example") as excinfo:
        jaxgan.d_update(_state(), jnp.float32(1.0), KEY)
    _one_line(excinfo)


def test_create_state_accepts_an_int_seed_like_a_key():
    from_int = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=0)
    from_key = _state()
    for a, b in zip(
        jax.tree.leaves(from_int.generator.params),
        jax.tree.leaves(from_key.generator.params),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    seven = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=np.int64(7))
    other = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=jax.random.key(7))
    np.testing.assert_array_equal(
        jax.tree.leaves(seven.discriminator.params)[0],
        jax.tree.leaves(other.discriminator.params)[0],
    )


@pytest.mark.parametrize("bad", ["0", 1.5, True, jnp.zeros(3), [0, 1]])
def test_create_state_rejects_non_keys_in_one_line(bad):
    with pytest.raises(TypeError, match=r"PRNG key such as jax\.random\.key\(0\) or an int seed"):
        jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=bad)


@pytest.mark.parametrize(
    ("batch_size", "latent_dim", "match"),
    [(-1, 100, "batch_size ≥ 0, got -1"), (4, 0, "latent_dim ≥ 1, got 0"), (4, -3, "latent_dim")],
)
def test_sample_latent_rejects_bad_sizes(batch_size, latent_dim, match):
    with pytest.raises(ValueError, match=match) as excinfo:
        jaxgan.sample_latent(KEY, batch_size, latent_dim)
    _one_line(excinfo)


def test_sample_latent_stays_jittable_and_allows_zero_vectors():
    z = jax.jit(jaxgan.sample_latent, static_argnums=(1, 2))(KEY, 3, 5)
    assert z.shape == (3, 5)
    assert jaxgan.sample_latent(KEY, 0, 5).shape == (0, 5)
    with pytest.raises(ValueError, match="batch_size"):
        jax.jit(jaxgan.sample_latent, static_argnums=(1, 2))(KEY, -2, 5)


@pytest.mark.parametrize("update", [jaxgan.g_update, jaxgan.d_update])
def test_g_and_d_check_the_real_sample_shape_alike(update):
    with pytest.raises(ValueError, match=r"sample shape \(3,\) but the generator makes") as info:
        update(_state(), jnp.zeros((8, 3)), KEY)
    _one_line(info)
    with pytest.raises(TypeError, match="convert images to float"):
        update(_state(), jnp.zeros((8, 28, 28, 1), jnp.uint8), KEY)


def test_g_step_still_trains_on_a_matching_batch():
    new, metrics = jaxgan.g_step(_state(), _images(4), KEY)
    assert int(new.g_updates) == 1 and np.isfinite(float(metrics["g_loss"]))


# -- item 11: the IDX reader reads the header first --------------------------------------------


def _idx_header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def test_idx_bad_magic_is_refused_after_four_bytes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    with path.open("wb") as handle:  # a sparse 1 GiB file that is not IDX
        handle.write(b"PK\x03\x04")
        handle.truncate(1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(data.DataFormatError, match="not an IDX file") as excinfo:
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in _one_line(excinfo)
    assert peak < 1 << 20  # it never read the body (the old reader read all 1 GiB first)


def test_idx_size_is_checked_against_the_header_before_the_body(tmp_path):
    path = tmp_path / "big.idx"
    with path.open("wb") as handle:  # the header promises 16 bytes, the file has ~1 GiB
        handle.write(_idx_header(0x08, (16,)))
        handle.truncate(1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(data.DataFormatError, match=r"16 data bytes\) but the file holds"):
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (_idx_header(0x08, (4, 3, 3)) + bytes(30), "holds 30"),  # short
        (_idx_header(0x08, (4, 3, 3)) + bytes(37), "holds 37"),  # one extra byte
        (_idx_header(0x0D, (2,)) + bytes(7), "8 data bytes"),  # float32 count
        (_idx_header(0x08, (60000, 60000, 60000)), "truncated or corrupt"),  # absurd dims
        (bytes([0, 0, 8, 3, 0, 0]), "needs 16 bytes, the file has 6"),  # cut inside the dims
        (bytes([0, 0, 0x42, 1]), "not an IDX file"),  # unknown type code
        (b"", "too short"),
    ],
)
def test_idx_raw_files_with_wrong_sizes(tmp_path, body, match):
    path = tmp_path / "f.idx"
    path.write_bytes(body)
    with pytest.raises(data.DataFormatError, match=match) as excinfo:
        data.read_idx(path)
    assert str(path) in _one_line(excinfo)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (data.encode_idx(np.arange(12, dtype=np.uint8)) + b"\x00", "holds more than 12"),
        (data.encode_idx(np.arange(12, dtype=np.uint8))[:-2], "holds 10"),
        (b"MZ\x90\x00" + bytes(100), "not an IDX file"),
        (_idx_header(0x08, (1 << 20, 1 << 12)), "more than a"),  # 4 GiB promised by ~50 bytes
    ],
)
def test_idx_gzip_stops_at_the_promised_size(tmp_path, raw, match):
    path = tmp_path / "f.idx.gz"
    path.write_bytes(gzip.compress(raw))
    with pytest.raises(data.DataFormatError, match=match) as excinfo:
        data.read_idx(path)
    assert str(path) in _one_line(excinfo)


def test_idx_gzip_bomb_past_the_header_is_not_decompressed(tmp_path):
    # a valid 16-byte IDX file followed (inside the same gzip stream) by 64 MiB of zeros
    path = tmp_path / "bomb.idx.gz"
    compressor = gzip.GzipFile(path, "wb")
    compressor.write(data.encode_idx(np.arange(16, dtype=np.uint8)))
    for _ in range(64):
        compressor.write(bytes(1 << 20))
    compressor.close()
    tracemalloc.start()
    try:
        with pytest.raises(data.DataFormatError, match="holds more than 16"):
            data.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


@pytest.mark.parametrize("gz", [False, True])
def test_idx_reader_still_reads_every_dtype(tmp_path, gz):
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        array = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
        raw = data.encode_idx(array)
        path = tmp_path / f"a-{np.dtype(dtype).name}.idx"
        path.write_bytes(gzip.compress(raw) if gz else raw)
        back = data.read_idx(path)
        assert back.dtype == np.dtype(dtype) and not back.flags.writeable
        np.testing.assert_array_equal(back, array)
    empty = tmp_path / "empty.idx"
    empty.write_bytes(data.encode_idx(np.zeros((0, 3), np.uint8)))
    assert data.read_idx(empty).shape == (0, 3)


def test_idx_multi_member_gzip_is_one_stream(tmp_path):
    raw = data.encode_idx(np.arange(10, dtype=np.uint8))
    path = tmp_path / "two-members.idx.gz"
    path.write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]))
    np.testing.assert_array_equal(data.read_idx(path), np.arange(10))


# -- item 6 (data side): the class count is bounded -------------------------------------------


def _labelled_folder(tmp_path: Path, labels: np.ndarray) -> Path:
    images = np.zeros((len(labels), 4, 4), np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(data.encode_idx(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(data.encode_idx(labels))
    return tmp_path


def test_one_huge_label_is_refused_not_turned_into_two_billion_classes(tmp_path):
    folder = _labelled_folder(tmp_path, np.array([0, 1, 2**31 - 1], np.int32))
    with pytest.raises(data.DataFormatError, match="label 2147483647 is not a class index") as info:
        data.load(f"idx:{folder}")
    message = _one_line(info)
    assert "train-labels-idx1-ubyte" in message and f"idx:{folder}" in message
    assert "0..K-1" in message


def test_labels_up_to_the_maximum_are_accepted_without_being_dense(tmp_path):
    folder = _labelled_folder(tmp_path, np.array([0, 5, MAX_NUM_CLASSES - 1], np.int32))
    ds = data.load(f"idx:{folder}")
    assert ds.num_classes == MAX_NUM_CLASSES  # sparse labels are allowed (subsets miss classes)
    assert infer_num_classes(np.array([], np.int64), "none") is None


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([0, -1]), "non-negative"),
        (np.array([0.0, 1.0]), "must be integers"),
        (np.array([MAX_NUM_CLASSES]), f"below {MAX_NUM_CLASSES}"),
    ],
)
def test_infer_num_classes_errors(labels, match):
    with pytest.raises(data.DataFormatError, match=match) as excinfo:
        infer_num_classes(labels, "mine")
    assert _one_line(excinfo).startswith("mine: ")


@pytest.mark.parametrize(
    ("y", "num_classes", "match"),
    [
        (np.array([0, 1, 2**31 - 1]), 2**31, "num_classes must be an integer from 1 to"),
        (np.array([0, 1, 2]), 0, "num_classes must be an integer"),
        (np.array([0, 1, 2]), True, "num_classes must be an integer"),
        (np.array([0, 1, 10]), 10, r"labels span 0\.\.10 but must be class indices in \[0, 10\)"),
        (np.array([0, -1, 1]), 3, r"labels span -1\.\.1"),
        (np.array([0, 1, 2**31], np.int64), None, r"in \[0, 2147483648\)"),  # would wrap in int32
    ],
)
def test_dataset_checks_labels_against_its_class_count(y, num_classes, match):
    x = np.zeros((3, 2, 2, 1), np.uint8)
    with pytest.raises(data.DataFormatError, match=match) as excinfo:
        data.Dataset(x, y, "hostile", "image", num_classes)
    assert "'hostile'" in _one_line(excinfo)
    ok = data.Dataset(x, np.array([0, 1, 1]), "fine", "image", 5)  # class 2..4 absent: fine
    assert ok.take(1).num_classes == 5


# -- item 11: the restricted torch reader never allocates more than the file holds ---------------


def _text(value: str) -> bytes:
    return b"X" + len(value).to_bytes(4, "little") + value.encode()


def _int(value: int) -> bytes:
    """Pickle opcode for an int: BININT for 32-bit values, LONG1 beyond."""
    if -(2**31) <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _tuple(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def _tensor_pickle(
    shape: tuple[int, ...], strides: tuple[int, ...], storage_numel: int, offset: int = 0
) -> bytes:
    """``{"w": _rebuild_tensor_v2(<FloatStorage '0' of storage_numel>, offset, shape, strides)}``"""
    pid = b"(" + _text("storage") + b"ctorch\nFloatStorage\n" + _text("0") + _text("cpu")
    pid += _int(storage_numel) + b"tQ"
    args = b"(" + pid + _int(offset) + _tuple(shape) + _tuple(strides) + b"\x89Nt"
    return b"\x80\x02}" + _text("w") + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"Rs."


def _torch_zip(tmp_path: Path, payload: bytes, storage: bytes | None, name="w.pt") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
        if storage is not None:
            archive.writestr("archive/data/0", storage)
    return path


def _torch_legacy(tmp_path: Path, payload: bytes, storage: bytes, numel: int) -> Path:
    path = tmp_path / "w.pth"
    head = pickle.dumps(0x1950A86A20F9469CFC6C) + pickle.dumps(1001)
    head += pickle.dumps({"little_endian": True}) + payload + pickle.dumps(["0"])
    path.write_bytes(head + struct.pack("<q", numel) + storage)
    return path


def _read_bounded(path: Path, match: str) -> str:
    tracemalloc.start()
    try:
        with pytest.raises(UnsafeWeightFileError, match=match) as excinfo:
            read_torch_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"refusing {path.name} allocated {peak} bytes"
    return _one_line(excinfo)


@pytest.mark.parametrize("legacy", [False, True])
def test_stride_zero_over_a_tiny_storage_does_not_allocate_a_gibibyte(tmp_path, legacy):
    payload = _tensor_pickle(shape=(1 << 28,), strides=(0,), storage_numel=1)
    storage = np.ones(1, "<f4").tobytes()
    if legacy:
        path = _torch_legacy(tmp_path, payload, storage, 1)
    else:
        path = _torch_zip(tmp_path, payload, storage)
        assert path.stat().st_size < 1024  # the probe's file was 363 bytes
    message = _read_bounded(path, "stride 0")
    assert path.name in message


@pytest.mark.parametrize(
    ("shape", "strides", "storage_numel", "match"),
    [
        ((1 << 16, 1 << 16), (1, 1), 1 << 17, "elements but its storage has"),  # 16 GiB view
        ((1 << 40,), (1,), 4, "dimension longer than any storage"),  # 2**40 elements
        ((2, 3), (-1, 1), 8, "negative"),
        ((2, -3), (3, 1), 8, "negative"),
        ((2, 3), (3,), 8, "malformed tensor shape"),
        ((1 << 62, 1 << 62, 0), (1, 1, 1), 4, "dimension"),  # empty, but absurd sizes
        ((4,), (1,), 1 << 40, "needs 4398046511104 bytes"),  # storage larger than its member
    ],
)
def test_absurd_tensor_records_are_refused_before_allocating(
    tmp_path, shape, strides, storage_numel, match
):
    payload = _tensor_pickle(shape=shape, strides=strides, storage_numel=storage_numel)
    storage = np.zeros(min(storage_numel, 1 << 17), "<f4").tobytes()
    path = _torch_zip(tmp_path, payload, storage)
    _read_bounded(path, match)


def test_stride_zero_on_a_size_one_axis_is_harmless(tmp_path):
    # torch gives size-1 axes arbitrary strides; only repeated (size > 1) stride-0 axes are refused
    payload = _tensor_pickle(shape=(1, 3), strides=(0, 1), storage_numel=3)
    path = _torch_zip(tmp_path, payload, np.arange(3, dtype="<f4").tobytes())
    np.testing.assert_array_equal(read_torch_file(path)["w"], [[0, 1, 2]])


def test_legacy_storage_count_beyond_the_file_is_refused(tmp_path):
    payload = _tensor_pickle(shape=(2,), strides=(1,), storage_numel=1 << 40)
    path = _torch_legacy(tmp_path, payload, np.zeros(2, "<f4").tobytes(), 1 << 40)
    _read_bounded(path, "needs 4398046511104 bytes")
