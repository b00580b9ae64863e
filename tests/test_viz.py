import numpy as np
import PIL.Image
import pytest

from jaxgan import viz


def _read_png(path):
    return np.asarray(PIL.Image.open(path).convert("RGB"))


def test_image_grid_places_images_row_by_row_with_padding():
    images = np.stack([np.full((4, 3, 1), 10 * (i + 1), np.uint8) for i in range(5)])
    grid = viz.image_grid(images, columns=3, padding=1, background=255)
    assert grid.shape == (2 * 5 + 1, 3 * 4 + 1, 1)
    for i in range(5):
        r, c = divmod(i, 3)
        top, left = 1 + r * 5, 1 + c * 4
        assert (grid[top : top + 4, left : left + 3] == 10 * (i + 1)).all()
    assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()
    assert (grid[6:10, 9:12] == 255).all()  # the empty sixth cell


def test_image_grid_quantises_model_outputs_like_the_data():
    fake = np.array([-1.0, 0.0, 1.0, 2.0], np.float32).reshape(1, 2, 2, 1)
    grid = viz.image_grid(fake, padding=0)
    assert grid.dtype == np.uint8
    assert grid[..., 0].tolist() == [[0, 128], [255, 255]]


def test_image_grid_is_square_by_default_and_keeps_rgb():
    rgb = np.zeros((10, 8, 8, 3), np.uint8)
    rgb[:, :, :, 0] = 200
    grid = viz.image_grid(rgb, padding=0)
    assert grid.shape == (3 * 8, 4 * 8, 3)  # ceil(sqrt(10)) = 4 columns, 3 rows
    assert (grid[:8, :8] == [200, 0, 0]).all()


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (np.zeros((4, 28, 28)), ValueError, r"\(N, H, W, C\)"),
        (np.zeros((4, 8, 8, 2)), ValueError, "C in"),
        (np.zeros((0, 8, 8, 1)), ValueError, "N ≥ 1"),
        (np.zeros((1, 8, 8, 1), np.int32), TypeError, "uint8 or floats"),
    ],
)
def test_image_grid_rejects_what_is_not_a_batch_of_images(images, error, message):
    with pytest.raises(error, match=message):
        viz.image_grid(images)


def test_save_image_grid_writes_the_exact_pixels(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (4, 5, 5, 1), dtype=np.uint8)
    path = viz.save_image_grid(gray, tmp_path / "sub" / "grid.png", padding=1)
    assert PIL.Image.open(path).mode == "L"  # grayscale stays one channel
    back = _read_png(path)
    expected = viz.image_grid(gray, padding=1)
    assert back.shape[:2] == expected.shape[:2]
    np.testing.assert_array_equal(back[..., 0], expected[..., 0])
    rgb = rng.integers(0, 256, (2, 3, 3, 3), dtype=np.uint8)
    back = _read_png(viz.save_image_grid(rgb, tmp_path / "rgb.png", scale=2, padding=0))
    np.testing.assert_array_equal(back[::2, ::2], viz.image_grid(rgb, padding=0))
    # no temporary files left behind
    assert {p.name for p in tmp_path.rglob("*")} == {"sub", "grid.png", "rgb.png"}


def test_save_image_grid_needs_a_png_path(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.png"):
        viz.save_image_grid(np.zeros((1, 4, 4, 1), np.uint8), tmp_path / "grid.jpg")
    assert not list(tmp_path.iterdir())


def test_loss_curves_and_scatter_are_written_as_pngs(tmp_path):
    rows = [
        {"step": s, "d_loss": 1.0 / s, "g_loss": 0.5, "d_real": 0.6, "d_fake": 0.4}
        for s in range(1, 6)
    ]
    loss = viz.save_loss_curves(rows, tmp_path / "loss.png", title="run")
    assert loss.read_bytes().startswith(b"\x89PNG") and _read_png(loss).shape[1] == 900
    with pytest.raises(ValueError, match="no metric rows"):
        viz.save_loss_curves([], tmp_path / "empty.png")
    points = np.random.default_rng(0).normal(size=(100, 2))
    scatter = viz.save_scatter(points, points + 1, tmp_path / "s.png", modes=np.eye(2))
    assert scatter.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"fake points must have shape \(N, 2\)"):
        viz.save_scatter(np.zeros((5, 3)), points, tmp_path / "bad.png")
