"""benchmarks/inception_layers.py: the layer list, the im2col route's arithmetic, a --quick run."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from script_loader import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/inception_layers.py")


def test_the_layer_list_covers_every_convolution_of_the_network(bench):
    shapes = bench.conv_shapes(299)
    assert len(shapes) == 43 and sum(s.count for s in shapes) == 94
    top = shapes[0]  # Conv2d_4a_3x3 carries the most FLOPs
    assert top.names == ("Conv2d_4a_3x3",) and top.label() == "73² 80→192 3×3"
    assert top.out_hw == (71, 71) and top.gemm(8) == (8 * 71 * 71, 9 * 80, 192)
    seven = next(s for s in shapes if s.label() == "17² 192→192 1×7")
    assert seven.count == 4 and (seven.pad_h, seven.pad_w) == (0, 3)
    per_image = sum(s.count * s.flops(1) for s in shapes) / 1e9
    assert 11.3 < per_image < 11.5  # 2·MACs of the 94 convolutions (XLA counts 10.98 in all)


@pytest.mark.parametrize(
    "geometry",
    [
        (7, 5, 1, 1, 1, (0, 0)),
        (9, 3, 1, 7, 1, (0, 3)),
        (9, 4, 3, 3, 2, (0, 0)),
        (8, 2, 5, 5, 1, (2, 2)),
    ],
)
def test_im2col_equals_the_xla_convolution(bench, geometry):
    size, cin, kh, kw, stride, padding = geometry
    x = jax.random.normal(jax.random.key(0), (2, size, size, cin))
    k = jax.random.normal(jax.random.key(1), (kh, kw, cin, 6))
    ours = jax.jit(bench.im2col_conv, static_argnums=(2, 3))(x, k, stride, padding)
    reference = jax.jit(bench._xla_conv, static_argnums=(2, 3))(x, k, stride, padding)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)


def test_quick_run_times_the_routes_and_writes_the_json(bench, tmp_path):
    routes = ["xla", "xla_eigen", "im2col", "gemm"]
    report = bench.main(["--quick", "--routes", *routes, "--out-dir", str(tmp_path), "--name", "q"])
    assert report["meta"]["layers_timed"] == 3 and report["meta"]["net_size"] == 75
    layers = report["layers"]
    assert [row["layer"] for row in layers][:1] == ["17² 80→192 3×3"]  # Conv2d_4a at 75²
    for route in routes:
        expected = sum(row["count"] * row["ms"][route] / 1e3 for row in layers)
        assert report["totals"][route]["seconds"] == pytest.approx(expected)
        assert all(row["gflop_per_s"][route] > 0 for row in layers)
    best = report["totals"]["best jax route per layer"]["seconds"]
    assert best <= min(report["totals"][r]["seconds"] for r in ("xla", "xla_eigen", "im2col"))
    assert "gemm" not in {row["fastest"] for row in layers}  # a matmul peak is not a route
    saved = json.loads(Path(tmp_path / "q.json").read_text())
    assert saved["totals"] == json.loads(json.dumps(report["totals"]))
    table = bench.format_tables(report)
    assert table.count("\n") == len(layers) + 2 + 2 + len(report["totals"])


def test_bad_routes_and_sizes_are_refused(bench):
    with pytest.raises(ValueError, match="unknown route 'mkl'"):
        bench.build_case("mkl", bench.ConvShape(9, 9, 4, 8, 1, 1, 1, 0, 0), batch=1)
    with pytest.raises(SystemExit):
        bench.parse_args(["--net-size", "32"])
