"""Named FID protocols (legacy_tensorflow, clean), the fast forward path, and bad input.

The network checks run a random-weight InceptionV3 at 75×75 (16× cheaper than 299; the program
is the same) and share one compiled program per (protocol, batch) through module fixtures.
Parity with clean-fid's own code runs when clean-fid and torch are importable
(``pip install --no-deps clean-fid==0.1.35``: its torchvision dependency is not needed for the
modules used here); the end-to-end feature check also needs the TorchScript weights.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from jaxgan.metrics.fid import InceptionExtractor, fid, fid_features, load_inception
from jaxgan.metrics.inception import random_inception
from jaxgan.metrics.inception_preprocess import (
    FIDProtocol,
    pil_bicubic_matrix,
    resize_and_scale,
)

fid_module = importlib.import_module("jaxgan.metrics.fid")
TESTS = Path(__file__).resolve().parent
SMALL_CLEAN = FIDProtocol(mode="clean", image_size=75)
BATCH = 4


def toy_images(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (BATCH, 28, 28, 1), dtype=np.uint8)


@functools.cache
def extractors() -> dict[str, InceptionExtractor]:
    model = random_inception(0, random_batch_norm=True)
    return {
        "folded": InceptionExtractor.from_model(model, "random"),
        "unfolded": InceptionExtractor.from_model(model, "random", fold=False),
    }


@pytest.fixture(scope="module")
def clean_features() -> np.ndarray:
    """Features of the toy batch, clean mode at 75×75, folded (the library default)."""
    return fid_features(
        toy_images(), weights=extractors()["folded"], batch_size=BATCH, protocol=SMALL_CLEAN
    )


# --- the clean resize: golden values, PIL, clean-fid ------------------------------------------


def test_pil_bicubic_golden_values_without_clean_fid():
    # Keys cubic (a = -0.5) at distances 0.25 and 1.25, normalised: 111/102 and -9/102
    np.testing.assert_allclose(pil_bicubic_matrix(2, 4)[0], [111 / 102, -9 / 102], rtol=1e-6)
    # a 0 → 255 edge upsampled 2 → 4: overshoot clipped, then (x − 128) / 128
    edge = np.tile(np.array([0, 255], np.uint8), (1, 2, 1))[..., None]  # (1, 2, 2, 1)
    out = np.asarray(resize_and_scale(edge, 4, "clean"))[0, 0, :, 0] * 128 + 128
    np.testing.assert_allclose(out, [0.0, 255 * 29 / 140, 255 * 111 / 140, 255.0], atol=2e-4)
    shrink = pil_bicubic_matrix(512, 299)  # antialias: the filter widens by 512/299
    assert np.count_nonzero(shrink[150]) == 7 and np.allclose(shrink.sum(axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(pil_bicubic_matrix(299, 299), np.eye(299))


@pytest.mark.parametrize("shape", [(28, 28), (33, 47), (512, 384)])
def test_pil_bicubic_matrix_equals_pillow(shape):
    image = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(2).uniform(0, 255, shape).astype(np.float32)
    ref = np.asarray(image.fromarray(x, mode="F").resize((299, 299), image.BICUBIC))
    ours = pil_bicubic_matrix(shape[0], 299) @ x @ pil_bicubic_matrix(shape[1], 299).T
    np.testing.assert_allclose(ours, ref, atol=1e-3)  # pixel units


@pytest.mark.parametrize("shape", [(2, 28, 28, 1), (2, 64, 48, 3), (1, 400, 320, 3)])
def test_clean_resize_equals_clean_fid(shape):
    pytest.importorskip("torch")
    resize = pytest.importorskip("cleanfid.resize")
    images = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    clean_fid = resize.build_resizer("clean")  # make_resizer("PIL", False, "bicubic", (299, 299))
    rgb = np.repeat(images, 3, axis=-1) if shape[-1] == 1 else images
    reference = np.stack([clean_fid(img) for img in rgb])
    ours = np.asarray(resize_and_scale(images, 299, "clean")) * 128 + 128
    assert ours.shape == reference.shape == (shape[0], 299, 299, 3)
    np.testing.assert_allclose(ours, reference, atol=1e-3)


def test_legacy_mode_resize_is_the_one_clean_fid_delegates_to():
    torch = pytest.importorskip("torch")
    resize = pytest.importorskip("cleanfid.resize")
    from test_inception import _nvidia_resize  # NVIDIA's in-graph resize, copied in that test

    images = np.random.default_rng(4).integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    # clean-fid's legacy_tensorflow mode leaves the images to the network's in-graph resize
    assert resize.build_resizer("legacy_tensorflow")(images) is images
    reference = _nvidia_resize(torch, images).permute(0, 2, 3, 1).numpy()
    ours = np.asarray(resize_and_scale(images, 299, "legacy_tensorflow")) * 128 + 128
    np.testing.assert_allclose(ours, reference, atol=2e-3)


# --- the protocol object and the result --------------------------------------------------------


def test_protocol_modes_are_named_and_checked():
    legacy, clean = FIDProtocol(), FIDProtocol.named("clean")
    assert "mode legacy_tensorflow" in legacy.describe() and "TF1 bilinear" in legacy.describe()
    assert "mode clean" in clean.describe() and "PIL bicubic, antialiased" in clean.describe()
    assert (legacy.resize, clean.resize) == ("tf1_bilinear", "pil_bicubic")
    assert "[!]" not in clean.describe() and "[!]" in FIDProtocol(dtype="bfloat16").describe()
    with pytest.raises(ValueError, match="mode must be one of"):
        FIDProtocol(mode="legacy_pytorch")
    with pytest.raises(ValueError, match="dtype must be one of"):
        FIDProtocol(dtype="float16")


def test_fid_names_the_mode(monkeypatch, clean_features):
    monkeypatch.setattr(fid_module, "frechet_distance_from_features", lambda a, b: 3.5)
    images = toy_images()
    result = fid(
        images,
        images,
        reference_split="toy",
        weights=extractors()["folded"],
        batch_size=BATCH,
        protocol=SMALL_CLEAN,
    )
    assert result.mode == "clean" and "mode clean" in str(result) and float(result) == 3.5
    assert result.as_dict()["mode"] == "clean"
    assert clean_features.shape == (BATCH, 2048)
    assert np.abs(clean_features[0] - clean_features[1]).max() > 1e-3


# --- the forward path: folded batch norm, data parallel, bfloat16 ------------------------------


def test_folded_batch_norm_gives_the_same_features(clean_features):
    unfolded = fid_features(
        toy_images(), weights=extractors()["unfolded"], batch_size=BATCH, protocol=SMALL_CLEAN
    )
    relative = np.linalg.norm(clean_features - unfolded, axis=1) / np.linalg.norm(unfolded, axis=1)
    assert relative.max() <= 1e-5
    folded_layer = extractors()["folded"].state["Mixed_6b"]["branch7x7_2"]
    np.testing.assert_array_equal(folded_layer["scale"][...], 1.0)


def test_cpu_convolution_libraries_give_the_same_features(clean_features):
    eigen = extractors()["folded"]
    assert eigen.cpu_convolutions == "eigen"  # the default: clean_features ran Eigen's convolutions
    args = (eigen.graphdef, eigen.state, toy_images(), SMALL_CLEAN.image_size, SMALL_CLEAN.mode)
    compiled = {
        name: fid_module.pool3_program(name).lower(*args).compile() for name in ("eigen", "ynnpack")
    }
    assert "__ynn_fusion" not in compiled["eigen"].as_text()  # the option reached XLA:CPU
    assert "__ynn_fusion" in compiled["ynnpack"].as_text()  # jaxlib 0.10's default library
    ynnpack = np.asarray(compiled["ynnpack"](eigen.state, toy_images()))
    relative = np.linalg.norm(clean_features - ynnpack, axis=1) / np.linalg.norm(ynnpack, axis=1)
    assert relative.max() <= 1e-5
    with pytest.raises(ValueError, match="cpu_convolutions must be one of eigen, ynnpack"):
        dataclasses.replace(eigen, cpu_convolutions="mkl")


_TWO_DEVICE_WORKER = """
import json, pickle, sys
import numpy as np
sys.path.insert(0, {tests!r})
import jax
import test_fid_protocols as t
from jaxgan.metrics.fid import fid_features
out = {{"devices": jax.device_count()}}
with open({extractor!r}, "rb") as stream:  # the parent's network: not built a second time
    extractor = pickle.load(stream)
feats = fid_features(t.toy_images(), weights=extractor, batch_size=t.BATCH,
                     protocol=t.SMALL_CLEAN)
np.save({path!r}, feats)
try:
    fid_features(t.toy_images(), weights=extractor, batch_size=3, protocol=t.SMALL_CLEAN)
except ValueError as error:
    out["odd_batch_error"] = str(error)
print(json.dumps(out))
"""


def test_two_devices_split_the_batch_and_give_the_same_features(clean_features, tmp_path):
    path, extractor = tmp_path / "features.npy", tmp_path / "extractor.pickle"
    extractor.write_bytes(pickle.dumps(extractors()["folded"]))  # 0.1 s; building it takes 3
    # added to the session's XLA_FLAGS (the root conftest's quick-compile flags), not replacing them
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    env = {**os.environ, "XLA_FLAGS": flags.strip()}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), env.get("PYTHONPATH", "")])
    code = _TWO_DEVICE_WORKER.format(tests=str(TESTS), path=str(path), extractor=str(extractor))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["devices"] == 2
    assert "multiple of the 2 visible devices" in facts["odd_batch_error"]
    sharded = np.load(path)  # 2 images per device: another summation order than 4 on one
    relative = np.linalg.norm(sharded - clean_features, axis=1)
    assert (relative / np.linalg.norm(clean_features, axis=1)).max() <= 1e-5


def test_bfloat16_is_refused_on_cpu():
    with pytest.raises(ValueError, match="GPU/TPU"):
        fid_features(
            toy_images(), weights=extractors()["folded"], protocol=FIDProtocol(dtype="bfloat16")
        )


# --- bad input: one-line errors, never a number ------------------------------------------------


@pytest.mark.parametrize(
    ("images", "value_range", "match"),
    [
        (np.zeros((2, 8, 8, 2), np.uint8), None, "1 \\(gray\\) or 3 \\(RGB\\) channels, got 2"),
        (np.zeros((2, 8, 8, 4), np.uint8), None, "RGBA"),
        (np.full((2, 8, 8, 3), 255.0, np.float32), (-1, 1), "value_range=\\(0, 255\\)"),
        (np.full((2, 8, 8, 3), 200, np.uint8), (-1, 1), "uint8 images are read as"),
        (np.full((2, 8, 8, 3), np.nan, np.float32), (0, 1), "NaN or inf"),
        (np.zeros((2, 8, 8, 3), np.float32), None, "need value_range"),
    ],
)
def test_bad_batches_give_one_line_errors(images, value_range, match):
    with pytest.raises(ValueError, match=match) as error:
        fid_features(images, value_range=value_range, weights=extractors()["folded"])
    assert "\n" not in str(error.value)


def test_a_small_overshoot_is_clipped_not_refused():
    from jaxgan.metrics._checks import check_value_range

    check_value_range(np.array([-1.3, 1.2], np.float32), (-1, 1))  # tanh-free generators overshoot


# --- end to end against clean-fid's feature pipeline (real weights) ----------------------------


@pytest.mark.slow
def test_clean_mode_features_match_clean_fid_pipeline():
    torch = pytest.importorskip("torch")
    resize = pytest.importorskip("cleanfid.resize")
    torchscript = pytest.importorskip("cleanfid.inception_torchscript")
    from test_inception import _torchscript_weights

    path = _torchscript_weights()
    torch.set_num_threads(1)  # the suite's other worker has the other core
    with warnings.catch_warnings():  # torch 2.13 marks TorchScript deprecated; it is the reference
        warnings.simplefilter("ignore", DeprecationWarning)
        net = torch.jit.load(str(path), map_location="cpu").eval()
    # clean-fid's InceptionV3W (resize_inside=False) around the same network, without its
    # download step: forward() is clean-fid's own code ((x − 128) / 128, then the layers)
    wrapper = torchscript.InceptionV3W.__new__(torchscript.InceptionV3W)
    torch.nn.Module.__init__(wrapper)
    wrapper.base, wrapper.layers, wrapper.resize_inside = net, net.net.layers, False
    images = np.random.default_rng(5).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    clean_fid = resize.build_resizer("clean")
    batch = torch.from_numpy(np.stack([clean_fid(img) for img in images])).permute(0, 3, 1, 2)
    with torch.no_grad():
        reference = wrapper(batch).numpy()
    ours = fid_features(images, weights=load_inception(path), batch_size=2, protocol="clean")
    relative = np.linalg.norm(ours - reference, axis=1) / np.linalg.norm(reference, axis=1)
    assert relative.max() <= 1e-4
