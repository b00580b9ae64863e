"""Layers shared by the convolutional models: a 2× up-sampling transposed convolution."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

UpsampleMethod = Literal["auto", "transpose", "subpixel"]


def _same_transpose_pad_lo(kernel_size: int, stride: int) -> int:
    """Low-side padding ``lax.conv_transpose`` uses for ``padding='SAME'``."""
    pad_len = kernel_size + stride - 2
    return kernel_size - 1 if stride > kernel_size - 1 else -(-pad_len // 2)


def subpixel_kernel(kernel: jax.Array, stride: int = 2) -> tuple[jax.Array, tuple[int, int]]:
    """Rewrite a SAME, stride-``s`` transposed-conv kernel as a stride-1 conv to s² × channels.

    Output pixel ``s·i + a`` of the transposed convolution reads input ``i + t`` through tap
    ``u = s·t + pad_lo − a``. Collecting, for every phase ``(a, b)``, the taps by offset ``t``
    gives one small stride-1 kernel whose output channels are ``(a, b, out)``; a depth-to-space
    then interleaves the phases. Both forms compute the same function from the same parameters;
    the sub-pixel form avoids XLA:CPU's very slow weight gradient of ``conv_transpose``.

    Args:
        kernel: transposed-conv kernel, shape (k, k, in, out) (flax layout, not flipped).
        stride: up-sampling factor.

    Returns:
        ``(kernel3, (pad_lo, pad_hi))``: the stride-1 kernel (T, T, in, s·s·out) and its padding.

    Example:
        >>> k3, pad = subpixel_kernel(jnp.ones((5, 5, 4, 2)))
        >>> k3.shape, pad
        ((3, 3, 4, 8), (1, 1))

    """
    k = kernel.shape[0]
    pad_lo = _same_transpose_pad_lo(k, stride)
    # offsets t for which some phase has a valid tap: u = s t + pad_lo - a in [0, k)
    t_min = min(-(-(a - pad_lo) // stride) for a in range(stride))
    t_max = max((k - 1 + a - pad_lo) // stride for a in range(stride))
    offsets = range(t_min, t_max + 1)
    zeros = jnp.zeros_like(kernel[0, 0])
    rows = []
    for ty in offsets:
        cols = []
        for tx in offsets:
            phases = []
            for a in range(stride):
                for b in range(stride):
                    uy, ux = stride * ty + pad_lo - a, stride * tx + pad_lo - b
                    valid = 0 <= uy < k and 0 <= ux < k
                    phases.append(kernel[uy, ux] if valid else zeros)
            cols.append(jnp.stack(phases, axis=-2))  # (in, s*s, out)
        rows.append(jnp.stack(cols))
    k3 = jnp.stack(rows)  # (T, T, in, s*s, out)
    k3 = k3.reshape((*k3.shape[:3], -1))
    return k3, (-t_min, t_max)


def depth_to_space(x: jax.Array, stride: int) -> jax.Array:
    """Interleave channel groups ``(a, b, c)`` into an image ``stride`` times larger.

    Args:
        x: (B, H, W, s·s·C) with channels ordered (a, b, c).
        stride: the factor s.

    Returns:
        (B, H·s, W·s, C) with ``out[:, s·i + a, s·j + b, c] = x[:, i, j, (a, b, c)]``.

    Example:
        >>> depth_to_space(jnp.zeros((1, 2, 2, 8)), 2).shape
        (1, 4, 4, 2)

    """
    b, h, w, ch = x.shape
    c = ch // (stride * stride)
    x = x.reshape((b, h, w, stride, stride, c)).transpose((0, 1, 3, 2, 4, 5))
    return x.reshape((b, h * stride, w * stride, c))


class UpConv(nnx.Module):
    """Transposed convolution with ``padding='SAME'`` and a choice of implementation.

    The parameters are those of ``nnx.ConvTranspose`` (kernel (k, k, in, out), bias (out,)), so
    checkpoints do not depend on the implementation. ``method`` picks how stride-2 layers compute:
    ``"transpose"`` (``lax.conv_transpose``), ``"subpixel"`` (stride-1 conv + depth-to-space,
    identical result), or ``"auto"``: sub-pixel on CPU, where XLA's ``conv_transpose`` weight
    gradient is ~10× slower (see ../shared/ANCHORS.md and benchmarks/RESULTS.md), else transpose.

    Args:
        in_features: input channels.
        out_features: output channels.
        kernel_size: square kernel size.
        stride: up-sampling factor (1 or 2).
        use_bias: add a bias.
        method: implementation, see above.
        rngs: initialisation randomness.

    Example:
        >>> up = UpConv(8, 4, 5, 2, rngs=nnx.Rngs(0))
        >>> up(jnp.zeros((1, 7, 7, 8))).shape
        (1, 14, 14, 4)

    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int = 5,
        stride: int = 2,
        *,
        use_bias: bool = True,
        method: UpsampleMethod = "auto",
        rngs: nnx.Rngs,
    ):
        if method not in ("auto", "transpose", "subpixel"):
            raise ValueError(
                f"unknown upsample method {method!r}: use 'auto', 'transpose' or 'subpixel'"
            )
        self.stride = stride
        self.method = method
        init = nnx.initializers.lecun_normal()
        shape = (kernel_size, kernel_size, in_features, out_features)
        self.kernel = nnx.Param(init(rngs.params(), shape, jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32)) if use_bias else None

    def _resolved_method(self) -> str:
        if self.method != "auto":
            return self.method
        return "subpixel" if jax.default_backend() == "cpu" else "transpose"

    def __call__(self, x: jax.Array) -> jax.Array:
        """Up-sample (B, H, W, in) to (B, H·s, W·s, out)."""
        kernel = self.kernel[...].astype(x.dtype)
        s = self.stride
        if s > 1 and self._resolved_method() == "subpixel":
            k3, pad = subpixel_kernel(kernel, s)
            y = jax.lax.conv_general_dilated(
                x, k3, (1, 1), (pad, pad), dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            y = depth_to_space(y, s)
        else:
            y = jax.lax.conv_transpose(
                x, kernel, (s, s), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
        if self.bias is not None:
            y = y + self.bias[...].astype(y.dtype)[None, None, None, :]
        return y
