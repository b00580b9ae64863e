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

Two named modes, as clean-fid names them (``FIDProtocol(mode=...)``):

* ``"legacy_tensorflow"`` (the default): step 3 is the TF1 bilinear resize above, the protocol of
  every FID published with the TF code (and clean-fid's ``mode="legacy_tensorflow"``, which runs
  NVIDIA's in-graph resize).
* ``"clean"``: step 3 is clean-fid's default resize (``make_resizer("PIL", False, "bicubic",
  (299, 299))``): each channel as a float32 PIL ``"F"`` image resized with PIL's antialiased
  bicubic filter (a = −0.5; its support widens by the scale factor when shrinking), then clipped
  to [0, 255]. PIL's filter is separable, so it is built here as one exact weight matrix per axis
  (:func:`pil_bicubic_matrix`) and applied as two matmuls inside the jitted forward, width first
  as PIL does. Numbers in this mode are comparable to clean-fid's ``mode="clean"``, not to the
  legacy numbers.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "COMPUTE_DTYPES",
    "FID_IMAGE_SIZE",
    "FID_MODES",
    "FIDProtocol",
    "as_nhwc",
    "pil_bicubic_matrix",
    "quantize_to_uint8",
    "resize_and_scale",
    "tf1_bilinear_matrix",
]

FID_IMAGE_SIZE = 299
#: Named protocols (clean-fid's names): the resize each one uses.
FID_MODES = {"legacy_tensorflow": "tf1_bilinear", "clean": "pil_bicubic"}
#: Compute dtypes of the Inception forward; bfloat16 is for GPU/TPU (see ``FIDProtocol.dtype``).
COMPUTE_DTYPES = ("float32", "bfloat16")
_HIGHEST = jax.lax.Precision.HIGHEST


@dataclasses.dataclass(frozen=True)
class FIDProtocol:
    """The preprocessing choices that define a FID number (defaults: the standard protocol).

    Attributes:
        mode: ``"legacy_tensorflow"`` (TF1 bilinear resize, the standard) or ``"clean"``
            (clean-fid's PIL antialiased bicubic); see the module docstring.
        image_size: Side of the square network input (299 for standard FID).
        quantize: Round float images to uint8 first (standard: True; False is for experiments).
        dtype: ``"float32"`` (standard) or ``"bfloat16"``: the network's compute dtype. bfloat16
            is for GPU/TPU and moves FID (docs/fid_protocols.md); on CPU it is refused.

    Example:
        >>> FIDProtocol().describe()[:64]
        'TF-Inception-2015-12-05 pool3 (2048-d); mode legacy_tensorflow; '
        >>> FIDProtocol(mode="clean").resize
        'pil_bicubic'

    """

    mode: str = "legacy_tensorflow"
    image_size: int = FID_IMAGE_SIZE
    quantize: bool = True
    dtype: str = "float32"

    def __post_init__(self):
        if self.mode not in FID_MODES:
            raise ValueError(f"mode must be one of {sorted(FID_MODES)}, got {self.mode!r}")
        if not isinstance(self.image_size, int) or self.image_size < 75:
            raise ValueError(
                f"image_size must be an int ≥ 75 (standard 299), got {self.image_size}"
            )
        if self.dtype not in COMPUTE_DTYPES:
            raise ValueError(f"dtype must be one of {COMPUTE_DTYPES}, got {self.dtype!r}")

    @classmethod
    def named(cls, protocol: FIDProtocol | str) -> FIDProtocol:
        """Accept a protocol or a mode name (``"clean"``, ``"legacy_tensorflow"``).

        Args:
            protocol: A :class:`FIDProtocol`, or a mode name for its defaults.

        Returns:
            The protocol.

        Example:
            >>> FIDProtocol.named("clean").mode
            'clean'

        """
        return protocol if isinstance(protocol, FIDProtocol) else cls(mode=protocol)

    @property
    def resize(self) -> str:
        """The resize method of the mode: ``"tf1_bilinear"`` or ``"pil_bicubic"``."""
        return FID_MODES[self.mode]

    def describe(self) -> str:
        """One line naming every choice, to print next to each FID number.

        Returns:
            A human-readable description of the protocol.

        Example:
            >>> "uint8" in FIDProtocol().describe()
            True

        """
        quant = "quantized to uint8" if self.quantize else "NOT quantized (non-standard)"
        standard = (self.image_size, self.quantize, self.dtype) == (FID_IMAGE_SIZE, True, "float32")
        if self.mode == "clean":
            resize = "PIL bicubic, antialiased, per channel in float32, clipped to [0, 255]"
        else:
            resize = "TF1 bilinear (no half-pixel offset, edge clamp, no antialias)"
        compute = "" if self.dtype == "float32" else f"; {self.dtype} compute"
        return (
            f"TF-Inception-2015-12-05 pool3 (2048-d); mode {self.mode}; float images {quant}; "
            f"gray→RGB by channel repeat; resize to {self.image_size}×{self.image_size} by "
            f"{resize}; scale (x−128)/128{compute}{'' if standard else ' [!]'}"
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
        elif images.ndim == 4 and images.shape[-1] == 4:
            hint = "; 4 channels (RGBA?): drop alpha with images[..., :3]"
        elif images.ndim == 4:
            hint = f"; FID needs 1 (gray) or 3 (RGB) channels, got {images.shape[-1]}"
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


def pil_bicubic_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Build PIL's antialiased bicubic resize along one axis as a matrix (Pillow's Resample.c).

    Output ``j`` is centred at ``c = (j + 0.5) · s`` with ``s = in / out``; with ``f = max(s, 1)``
    (the antialias: the filter widens when shrinking) it weighs inputs ``i`` in
    ``[int(c − 2f + 0.5), int(c + 2f + 0.5))`` (clipped to the image) by the Keys cubic
    (a = −0.5) at ``(i − c + 0.5) / f``, normalised to sum to one. Equal sizes give the identity.

    Args:
        in_size: Input length along one axis.
        out_size: Output length.

    Returns:
        A float32 matrix ``(out_size, in_size)``.

    Example:
        >>> [round(float(w), 3) for w in pil_bicubic_matrix(2, 4)[0]]  # upsampling overshoots
        [1.088, -0.088]
        >>> bool((pil_bicubic_matrix(299, 299) == np.eye(299)).all())
        True

    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got in_size={in_size}, out_size={out_size}")
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = 2.0 * filter_scale
    matrix = np.zeros((out_size, in_size), np.float64)
    for j in range(out_size):
        center = (j + 0.5) * scale
        first = max(int(center - support + 0.5), 0)
        stop = min(int(center + support + 0.5), in_size)
        x = np.abs((np.arange(first, stop) - center + 0.5) / filter_scale)
        near = ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1.0
        far = (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5
        weights = np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))
        total = weights.sum()
        matrix[j, first:stop] = weights / total if total != 0.0 else weights
    return matrix.astype(np.float32)


_RESIZE_MATRICES = {"tf1_bilinear": tf1_bilinear_matrix, "pil_bicubic": pil_bicubic_matrix}


@functools.partial(jax.jit, static_argnames=("image_size", "mode"))
def resize_and_scale(
    images: jax.Array, image_size: int = FID_IMAGE_SIZE, mode: str = "legacy_tensorflow"
) -> jax.Array:
    """Resize (the mode's filter), expand gray to RGB and scale to ``(x − 128) / 128``; jitted.

    One compiled program per input shape, ``image_size`` and ``mode`` (called eagerly, its
    dozen jnp ops would each compile their own); inside another jit it is inlined.

    Args:
        images: NHWC batch with 1 or 3 channels, values in [0, 255] (uint8 or float).
        image_size: Output side (299 for standard FID).
        mode: ``"legacy_tensorflow"`` (TF1 bilinear) or ``"clean"`` (PIL bicubic, antialiased,
            width first as PIL does, then clipped to [0, 255]).

    Returns:
        Float32 ``(N, image_size, image_size, 3)``, ready for
        :class:`jaxgan.metrics.inception.InceptionV3`.

    Example:
        >>> out = resize_and_scale(jnp.full((1, 28, 28, 1), 128, jnp.uint8))
        >>> out.shape, float(abs(out).max())
        ((1, 299, 299, 3), 0.0)
        >>> float(resize_and_scale(jnp.full((1, 28, 28, 1), 255, jnp.uint8), 75, "clean").max())
        0.9921875

    """
    build = _RESIZE_MATRICES[FID_MODES[mode]]
    x = images.astype(jnp.float32)
    n, height, width, channels = x.shape
    if mode == "clean" and width != image_size:  # PIL resizes the width first
        cols = jnp.asarray(build(width, image_size))
        x = jnp.einsum("jw,nhwc->nhjc", cols, x, precision=_HIGHEST)
    if height != image_size:
        rows = jnp.asarray(build(height, image_size))
        x = jnp.einsum("ih,nhwc->niwc", rows, x, precision=_HIGHEST)
    if mode != "clean" and width != image_size:
        cols = jnp.asarray(build(width, image_size))
        x = jnp.einsum("jw,niwc->nijc", cols, x, precision=_HIGHEST)
    if mode == "clean":
        x = jnp.clip(x, 0.0, 255.0)  # bicubic overshoots; clean-fid clips before scaling
    if channels == 1:
        x = jnp.broadcast_to(x, (n, image_size, image_size, 3))
    return (x - 128.0) / 128.0
