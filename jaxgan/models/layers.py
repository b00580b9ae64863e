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
        >>> x = jnp.zeros((1, 7, 7, 8))
        >>> nnx.eval_shape(lambda: UpConv(8, 4, 5, 2, rngs=nnx.Rngs(0))(x)).shape  # shapes only
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


class SpectralNorm(nnx.Module):
    """A wrapper that divides a layer's weight matrix by its top singular value σ on every call.

    σ is estimated by power iteration (``n_steps`` per call, Miyato et al. 2018). The vector ``u``
    and the estimate ``sigma`` are ``BatchStat`` variables updated in training mode only, so the
    steps treat them like BatchNorm statistics (only the player being trained updates them). The
    wrapped layer's own parameter is never modified: the forward pass runs a copy of the layer
    holding ``W / σ``, and gradients flow through the normalisation (σ's vectors are constants).

    Args:
        layer: a layer with one weight called ``kernel`` (``Linear``, ``Conv``) or
            ``embedding`` (``Embed``); kernels are viewed as (fan_in, out) matrices.
        n_steps: power-iteration steps per call.
        eps: numerical floor for the vector norms.
        rngs: randomness for the initial ``u``.

    Example:
        >>> def call(x):  # traced by nnx.eval_shape below: shapes only, nothing computed
        ...     sn = SpectralNorm(nnx.Linear(4, 3, rngs=nnx.Rngs(0)), rngs=nnx.Rngs(1))
        ...     return sn(x)
        >>> nnx.eval_shape(call, jnp.ones((2, 4))).shape
        (2, 3)
    """

    def __init__(self, layer: nnx.Module, *, n_steps: int = 1, eps: float = 1e-12, rngs: nnx.Rngs):
        names = [
            n for n in ("kernel", "embedding") if isinstance(getattr(layer, n, None), nnx.Param)
        ]
        if not names:
            raise TypeError(f"SpectralNorm needs a layer with a kernel or embedding, got {layer}")
        self.layer = layer
        self.weight_name = names[0]
        self.n_steps, self.eps = n_steps, eps
        self.use_running_average = False
        out = getattr(layer, self.weight_name).shape[-1]
        u = jax.random.normal(rngs.params(), (1, out), jnp.float32)
        self.u = nnx.BatchStat(u / jnp.linalg.norm(u))
        self.sigma = nnx.BatchStat(jnp.ones((), jnp.float32))

    def normalised_weight(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Return ``(W / σ, σ, u)`` after ``n_steps`` power-iteration steps from the stored u."""
        w = getattr(self.layer, self.weight_name)[...]
        matrix = w.reshape((-1, w.shape[-1]))
        u = self.u[...].astype(matrix.dtype)
        v = u
        for _ in range(self.n_steps):
            v = u @ matrix.T
            v = v / (jnp.linalg.norm(v) + self.eps)
            u = v @ matrix
            u = u / (jnp.linalg.norm(u) + self.eps)
        u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
        sigma = (v @ matrix @ u.T)[0, 0]
        return w / sigma, sigma, u

    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the wrapped layer with its spectrally normalised weight."""
        weight, sigma, u = self.normalised_weight()
        if not self.use_running_average:
            # set_value replaces the whole array; `[...] =` under tracing becomes a scatter per
            # call (SNGAN's n_critic-5 iteration traced 3× slower)
            self.u.set_value(u.astype(self.u.dtype))
            self.sigma.set_value(sigma.astype(self.sigma.dtype))
        layer = nnx.merge(*nnx.split(self.layer), copy=True)
        getattr(layer, self.weight_name).set_value(weight)
        return layer(x)


def spectral_norm(layer: nnx.Module, *, n_steps: int = 1, rngs: nnx.Rngs) -> SpectralNorm:
    """Wrap any layer with ``SpectralNorm`` (see there).

    Args:
        layer: e.g. ``nnx.Conv``, ``nnx.Linear`` or ``nnx.Embed``.
        n_steps: power-iteration steps per call.
        rngs: randomness for the initial ``u``.

    Returns:
        The wrapped layer.

    Example:
        >>> def call(x):  # traced by nnx.eval_shape below: shapes only, nothing computed
        ...     sn = spectral_norm(nnx.Linear(4, 3, rngs=nnx.Rngs(0)), rngs=nnx.Rngs(1))
        ...     return sn(x)
        >>> nnx.eval_shape(call, jnp.ones((2, 4))).shape
        (2, 3)
    """
    return SpectralNorm(layer, n_steps=n_steps, rngs=rngs)


class ConditionalBatchNorm(nnx.Module):
    """BatchNorm whose scale and shift are chosen by a class label (de Vries et al. 2017).

    With ``num_classes=None`` it is an ordinary ``nnx.BatchNorm`` and ignores labels.

    Args:
        num_features: channels.
        num_classes: number of classes (None for unconditional).
        rngs: initialisation randomness.

    Example:
        >>> x, labels = jnp.ones((2, 3, 3, 4)), jnp.array([1, 7])
        >>> nnx.eval_shape(lambda: ConditionalBatchNorm(4, 10, rngs=nnx.Rngs(0))(x, labels)).shape
        (2, 3, 3, 4)
    """

    def __init__(self, num_features: int, num_classes: int | None = None, *, rngs: nnx.Rngs):
        self.conditional = num_classes is not None
        self.norm = nnx.BatchNorm(
            num_features,
            momentum=0.9,
            use_scale=not self.conditional,
            use_bias=not self.conditional,
            rngs=rngs,
        )
        if self.conditional:
            self.scale = nnx.Embed(
                num_classes, num_features, embedding_init=nnx.initializers.ones, rngs=rngs
            )
            self.shift = nnx.Embed(
                num_classes, num_features, embedding_init=nnx.initializers.zeros, rngs=rngs
            )

    def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        """Normalise ``x`` (B, ..., C), then apply the per-class scale and shift."""
        y = self.norm(x)
        if not self.conditional:
            return y
        if labels is None:
            raise ValueError("conditional BatchNorm needs class labels")
        expand = (slice(None),) + (None,) * (x.ndim - 2) + (slice(None),)
        return y * self.scale(labels)[expand] + self.shift(labels)[expand]
