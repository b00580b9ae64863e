"""The FID input protocol: what happens to an image before InceptionV3 sees it.

Each step moves FID by up to several points when done differently, so each is fixed here and
printed with every number (:meth:`FIDProtocol.describe`):

1. **uint8 quantization** of float images (generated samples): ``(x - lo) / (hi - lo)`` is mapped
   to ``floor(255 · t + 0.5)`` clipped to [0, 255] — what saving a PNG with torchvision or PIL
   does, and equal to StyleGAN's ``(x · 127.5 + 128).clamp(0, 255).to(uint8)`` for [-1, 1].
   uint8 images (real data) pass unchanged.
2. **grayscale → RGB** by repeating the single channel three times.
3. **resize to 299×299** with the TF1 ``resize_bilinear`` of the original TF FID graph, as
   NVIDIA's TorchScript reproduces it with ``affine_grid`` + ``grid_sample(mode="bilinear",
   padding_mode="border", align_corners=False)`` after shifting the grid: output pixel ``j``
   samples input coordinate ``j · in / out`` (no half-pixel offset, corners not aligned), linear
   between its two neighbours, clamped at the last row/column, with no anti-aliasing. The resize
   runs in float32 on the uint8 values (no second rounding); 299×299 inputs are not resampled.
4. **scaling** ``(x - 128) / 128`` (the TF graph's ``Sub``/``Mul`` nodes), giving [-1, 0.9921875].
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "FID_IMAGE_SIZE",
    "FIDProtocol",
    "as_nhwc",
    "quantize_to_uint8",
    "resize_and_scale",
    "tf1_bilinear_matrix",
]

FID_IMAGE_SIZE = 299
_HIGHEST = jax.lax.Precision.HIGHEST


@dataclasses.dataclass(frozen=True)
class FIDProtocol:
    """The preprocessing choices that define a FID number (defaults: the standard protocol).

    Attributes:
        image_size: Side of the square network input (299 for standard FID).
        resize: Resize method; only ``"tf1_bilinear"`` (see the module docstring) is implemented.
        quantize: Round float images to uint8 first (standard: True; False is for experiments).

    Example:
        >>> FIDProtocol().describe()[:45]
        'TF-Inception-2015-12-05 pool3 (2048-d); float'

    """

    image_size: int = FID_IMAGE_SIZE
    resize: str = "tf1_bilinear"
    quantize: bool = True

    def __post_init__(self):
        if self.resize != "tf1_bilinear":
            raise ValueError(f"resize must be 'tf1_bilinear' (the standard), got {self.resize!r}")
        if not isinstance(self.image_size, int) or self.image_size < 75:
            raise ValueError(
                f"image_size must be an int ≥ 75 (standard 299), got {self.image_size}"
            )

    def describe(self) -> str:
        """One line naming every choice, to print next to each FID number.

        Returns:
            A human-readable description of the protocol.

        Example:
            >>> "uint8" in FIDProtocol().describe()
            True

        """
        quant = "quantized to uint8" if self.quantize else "NOT quantized (non-standard)"
        standard = "" if (self.image_size, self.quantize) == (FID_IMAGE_SIZE, True) else " [!]"
        return (
            f"TF-Inception-2015-12-05 pool3 (2048-d); float images {quant}; gray→RGB by channel "
            f"repeat; resize to {self.image_size}×{self.image_size} by TF1 bilinear (no "
            f"half-pixel offset, edge clamp, no antialias); scale (x−128)/128{standard}"
        )


def as_nhwc(images: np.ndarray | jax.Array) -> np.ndarray:
    """Check an image batch and return it as a numpy NHWC array with 1 or 3 channels.

    Args:
        images: ``(N, H, W)`` grayscale, or ``(N, H, W, C)`` with C = 1 or 3. uint8 or float.

    Returns:
        A numpy array ``(N, H, W, C)`` (no copy when already NHWC numpy).

    Raises:
        ValueError: On another rank or channel count (an NCHW batch gets a transpose hint).
        TypeError: On a dtype that is neither uint8 nor floating point.

    Example:
        >>> as_nhwc(np.zeros((2, 28, 28), np.uint8)).shape
        (2, 28, 28, 1)

    """
    images = np.asarray(images)
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or floating point, got dtype {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        hint = ""
        if images.ndim == 4 and images.shape[1] in (1, 3):
            hint = "; this looks like NCHW, pass images.transpose(0, 2, 3, 1)"
        raise ValueError(
            f"images must be a non-empty (N, H, W[, 1|3]) batch, got {images.shape}{hint}"
        )
    return images


def quantize_to_uint8(images: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """Map float images from ``value_range`` to uint8 as saving a PNG would.

    ``floor(255 · (x − lo) / (hi − lo) + 0.5)`` clipped to [0, 255]; NaN raises.

    Args:
        images: Float array of any shape.
        value_range: ``(lo, hi)``, e.g. ``(-1, 1)`` for a tanh generator or ``(0, 1)``.

    Returns:
        A uint8 array of the same shape.

    Raises:
        ValueError: If ``lo >= hi`` or the images contain NaN.

    Example:
        >>> quantize_to_uint8(np.array([-1.0, 0.0, 1.0]), (-1, 1)).tolist()
        [0, 128, 255]

    """
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"value_range must be (lo, hi) with lo < hi, got {value_range}")
    scaled = (np.asarray(images, np.float64) - lo) * (255.0 / (hi - lo))
    if np.isnan(scaled).any():
        raise ValueError("images contain NaN; check the generator output before computing FID")
    return np.clip(np.floor(scaled + 0.5), 0, 255).astype(np.uint8)


def tf1_bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Build TF1's ``resize_bilinear`` (align_corners=False, no half-pixel centers) as a matrix.

    Output index ``j`` samples ``s = j · in_size / out_size``:
    ``(1 − f) · x[floor(s)] + f · x[min(floor(s) + 1, in_size − 1)]`` with ``f = s − floor(s)``.

    Args:
        in_size: Input length along one axis.
        out_size: Output length.

    Returns:
        A float32 matrix ``(out_size, in_size)``; ``matrix @ signal`` resizes a 1-D signal.

    Example:
        >>> tf1_bilinear_matrix(2, 4).tolist()
        [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.0, 1.0]]

    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got in_size={in_size}, out_size={out_size}")
    source = np.arange(out_size, dtype=np.float64) * (in_size / out_size)
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    frac = source - lower
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), 1.0 - frac)
    np.add.at(matrix, (rows, upper), frac)
    return matrix.astype(np.float32)


def resize_and_scale(images: jax.Array, image_size: int = FID_IMAGE_SIZE) -> jax.Array:
    """Resize (TF1 bilinear), expand gray to RGB and scale to ``(x − 128) / 128``; jit-friendly.

    Args:
        images: NHWC batch with 1 or 3 channels, values in [0, 255] (uint8 or float).
        image_size: Output side (299 for standard FID).

    Returns:
        Float32 ``(N, image_size, image_size, 3)``, ready for
        :class:`jaxgan.metrics.inception.InceptionV3`.

    Example:
        >>> out = resize_and_scale(jnp.full((1, 28, 28, 1), 128, jnp.uint8))
        >>> out.shape, float(abs(out).max())
        ((1, 299, 299, 3), 0.0)

    """
    x = images.astype(jnp.float32)
    n, height, width, channels = x.shape
    if height != image_size:
        rows = jnp.asarray(tf1_bilinear_matrix(height, image_size))
        x = jnp.einsum("ih,nhwc->niwc", rows, x, precision=_HIGHEST)
    if width != image_size:
        cols = jnp.asarray(tf1_bilinear_matrix(width, image_size))
        x = jnp.einsum("jw,niwc->nijc", cols, x, precision=_HIGHEST)
    if channels == 1:
        x = jnp.broadcast_to(x, (n, image_size, image_size, 3))
    return (x - 128.0) / 128.0
