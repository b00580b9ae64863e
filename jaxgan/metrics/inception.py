"""The TF InceptionV3 of 2015-12-05 (the FID network) as a Flax NNX module, up to pool3 (2048-d).

This is the graph behind every published FID: TensorFlow's ``classify_image_graph_def.pb``
(2015-12-05), ported to PyTorch by NVIDIA (``inception-2015-12-05.pt``, StyleGAN2-ADA) and by
pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``). It is *not* torchvision's InceptionV3:
three blocks differ, as read from the TorchScript code and pytorch-fid's ``FIDInception*``:

* the 3×3 average pools inside Mixed_5b–5d, Mixed_6b–6e and Mixed_7b exclude the zero padding
  from the divisor (``count_include_pad=False``);
* the pool branch of the last block, Mixed_7c, is a 3×3 *max* pool (stride 1, padding 1);
* every convolution is followed by an inference batch norm with ε = 1e-3 and no learned scale
  (the scale is kept as a parameter, equal to one in both published files).

Layer names follow torchvision/pytorch-fid (``Conv2d_1a_3x3``, ``Mixed_5b.branch5x5_1``, ...).
Input: NHWC float32, 299×299×3, already scaled to ``(x - 128) / 128`` (see
:mod:`jaxgan.metrics.inception_preprocess`). Output: the pool3 features, shape ``(N, 2048)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jaxgan.metrics._checks import as_float32

__all__ = [
    "BATCH_NORM_EPSILON",
    "ConvBN",
    "InceptionV3",
    "fold_batch_norm",
    "inception_from_params",
    "inception_param_shapes",
    "random_inception",
]

BATCH_NORM_EPSILON = 1e-3
ModuleT = TypeVar("ModuleT", bound=nnx.Module)
_HIGHEST = jax.lax.Precision.HIGHEST


class ConvBN(nnx.Module):
    """Convolution (no bias) → inference batch norm (ε = 1e-3) → ReLU: the unit of the TF graph.

    Args:
        in_features: Input channels.
        out_features: Output channels.
        kernel_size: ``(height, width)`` of the kernel.
        stride: The stride in both spatial directions.
        padding: Zero padding ``(rows, columns)`` added on each side.

    Example:
        >>> x = jax.ShapeDtypeStruct((1, 299, 299, 3), jnp.float32)  # shapes only, no compute
        >>> nnx.eval_shape(lambda x: ConvBN(3, 32, (3, 3), stride=2)(x), x).shape
        (1, 149, 149, 32)

    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: tuple[int, int] = (1, 1),
        *,
        stride: int = 1,
        padding: tuple[int, int] = (0, 0),
    ):
        kh, kw = kernel_size
        self.kernel = nnx.Param(_filled((kh, kw, in_features, out_features), 0.0))
        self.scale = nnx.Param(_filled((out_features,), 1.0))
        self.bias = nnx.Param(_filled((out_features,), 0.0))
        self.mean = nnx.BatchStat(_filled((out_features,), 0.0))
        self.var = nnx.BatchStat(_filled((out_features,), 1.0))
        self.stride = stride
        self.padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        self.folded = False  # True after fold_batch_norm: the kernel and bias carry the norm

    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply conv → batch norm → ReLU to an NHWC batch.

        Args:
            x: NHWC float32 activations.

        Returns:
            NHWC float32 activations with ``out_features`` channels.

        Example:
            >>> layer = ConvBN(4, 8)  # zero kernel, identity batch norm: relu(bias) everywhere
            >>> layer.bias.set_value(jnp.full((8,), 0.5))
            >>> y = nnx.jit(lambda layer, x: layer(x))(layer, np.ones((2, 5, 5, 4), np.float32))
            >>> y.shape, np.unique(np.asarray(y)).tolist()
            ((2, 5, 5, 8), [0.5])

        """
        y = jax.lax.conv_general_dilated(
            x,
            self.kernel[...].astype(x.dtype),
            window_strides=(self.stride, self.stride),
            padding=self.padding,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            precision=_HIGHEST,
        )
        if self.folded:
            return jax.nn.relu(y + self.bias[...].astype(y.dtype).reshape(1, 1, 1, -1))
        multiplier = self.scale[...] * jax.lax.rsqrt(self.var[...] + BATCH_NORM_EPSILON)
        shift = self.bias[...] - self.mean[...] * multiplier
        return jax.nn.relu(y * multiplier.reshape(1, 1, 1, -1) + shift.reshape(1, 1, 1, -1))


def _filled(shape: tuple[int, ...], value: float) -> jax.Array:
    """Return a float32 array of ``value`` on the device, without compiling a program.

    ``jnp.zeros`` and ``jnp.ones`` compile small programs per shape; the Inception has 94 units
    of 5 arrays.
    """
    return as_float32(np.full(shape, value, np.float32))


def _max_pool(x: jax.Array, stride: int, padding: int = 0) -> jax.Array:
    """3×3 max pool; padded cells never win (they are -inf)."""
    pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    return jax.lax.reduce_window(
        x, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, stride, stride, 1), pad
    )


def _avg_pool_exclude_pad(x: jax.Array) -> jax.Array:
    """3×3, stride 1, padding 1 average pool that divides by the number of real cells."""
    pad = ((0, 0), (1, 1), (1, 1), (0, 0))
    window, strides = (1, 3, 3, 1), (1, 1, 1, 1)
    sums = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, pad)
    ones = jnp.ones((1, x.shape[1], x.shape[2], 1), x.dtype)
    counts = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pad)
    return sums / counts


class InceptionA(nnx.Module):
    """Mixed_5b/5c/5d: 1×1, 5×5, double 3×3 and average-pool branches (35×35 grid).

    Args:
        in_features: Input channels (192, 256, 288).
        pool_features: Channels of the pool branch (32, 64, 64).

    Example:
        >>> x = jax.ShapeDtypeStruct((1, 35, 35, 192), jnp.float32)  # shapes only, no compute
        >>> nnx.eval_shape(lambda x: InceptionA(192, 32)(x), x).shape
        (1, 35, 35, 256)

    """

    def __init__(self, in_features: int, pool_features: int):
        self.branch1x1 = ConvBN(in_features, 64)
        self.branch5x5_1 = ConvBN(in_features, 48)
        self.branch5x5_2 = ConvBN(48, 64, (5, 5), padding=(2, 2))
        self.branch3x3dbl_1 = ConvBN(in_features, 64)
        self.branch3x3dbl_2 = ConvBN(64, 96, (3, 3), padding=(1, 1))
        self.branch3x3dbl_3 = ConvBN(96, 96, (3, 3), padding=(1, 1))
        self.branch_pool = ConvBN(in_features, pool_features)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Concatenate the four branches along channels."""
        return jnp.concatenate(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool_exclude_pad(x)),
            ],
            axis=-1,
        )


class InceptionB(nnx.Module):
    """Mixed_6a: grid reduction 35×35 → 17×17 (strided 3×3, double 3×3, max pool).

    Args:
        in_features: Input channels (288).

    Example:
        >>> x = jax.ShapeDtypeStruct((1, 35, 35, 288), jnp.float32)  # shapes only, no compute
        >>> nnx.eval_shape(lambda x: InceptionB(288)(x), x).shape
        (1, 17, 17, 768)

    """

    def __init__(self, in_features: int):
        self.branch3x3 = ConvBN(in_features, 384, (3, 3), stride=2)
        self.branch3x3dbl_1 = ConvBN(in_features, 64)
        self.branch3x3dbl_2 = ConvBN(64, 96, (3, 3), padding=(1, 1))
        self.branch3x3dbl_3 = ConvBN(96, 96, (3, 3), stride=2)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Concatenate the three branches along channels."""
        return jnp.concatenate(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                _max_pool(x, stride=2),
            ],
            axis=-1,
        )


class InceptionC(nnx.Module):
    """Mixed_6b–6e: factorised 7×7 branches on the 17×17 grid.

    Args:
        in_features: Input channels (768).
        channels_7x7: Width of the 7×7 towers (128, 160, 160, 192).

    Example:
        >>> x = jax.ShapeDtypeStruct((1, 17, 17, 768), jnp.float32)  # shapes only, no compute
        >>> nnx.eval_shape(lambda x: InceptionC(768, 128)(x), x).shape
        (1, 17, 17, 768)

    """

    def __init__(self, in_features: int, channels_7x7: int):
        c7 = channels_7x7
        self.branch1x1 = ConvBN(in_features, 192)
        self.branch7x7_1 = ConvBN(in_features, c7)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = ConvBN(in_features, c7)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = ConvBN(in_features, 192)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Concatenate the four branches along channels."""
        dbl = self.branch7x7dbl_2(self.branch7x7dbl_1(x))
        dbl = self.branch7x7dbl_5(self.branch7x7dbl_4(self.branch7x7dbl_3(dbl)))
        return jnp.concatenate(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                dbl,
                self.branch_pool(_avg_pool_exclude_pad(x)),
            ],
            axis=-1,
        )


class InceptionD(nnx.Module):
    """Mixed_7a: grid reduction 17×17 → 8×8.

    Args:
        in_features: Input channels (768).

    Example:
        >>> x = jax.ShapeDtypeStruct((1, 17, 17, 768), jnp.float32)  # shapes only, no compute
        >>> nnx.eval_shape(lambda x: InceptionD(768)(x), x).shape
        (1, 8, 8, 1280)

    """

    def __init__(self, in_features: int):
        self.branch3x3_1 = ConvBN(in_features, 192)
        self.branch3x3_2 = ConvBN(192, 320, (3, 3), stride=2)
        self.branch7x7x3_1 = ConvBN(in_features, 192)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, (3, 3), stride=2)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Concatenate the three branches along channels."""
        tower = self.branch7x7x3_2(self.branch7x7x3_1(x))
        tower = self.branch7x7x3_4(self.branch7x7x3_3(tower))
        return jnp.concatenate(
            [self.branch3x3_2(self.branch3x3_1(x)), tower, _max_pool(x, stride=2)], axis=-1
        )


class InceptionE(nnx.Module):
    """Mixed_7b/7c: expanded 1×3 / 3×1 branches on the 8×8 grid.

    Args:
        in_features: Input channels (1280, 2048).
        pool: ``"avg"`` (Mixed_7b, padding excluded) or ``"max"`` (Mixed_7c) for the pool branch.

    Example:
        >>> x = jax.ShapeDtypeStruct((1, 8, 8, 1280), jnp.float32)  # shapes only, no compute
        >>> nnx.eval_shape(lambda x: InceptionE(1280, "avg")(x), x).shape
        (1, 8, 8, 2048)

    """

    def __init__(self, in_features: int, pool: str):
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = ConvBN(in_features, 320)
        self.branch3x3_1 = ConvBN(in_features, 384)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = ConvBN(in_features, 448)
        self.branch3x3dbl_2 = ConvBN(448, 384, (3, 3), padding=(1, 1))
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = ConvBN(in_features, 192)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Concatenate the six outputs along channels, in the TF graph's order."""
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = _avg_pool_exclude_pad(x) if self.pool == "avg" else _max_pool(x, 1, padding=1)
        return jnp.concatenate(
            [
                self.branch1x1(x),
                self.branch3x3_2a(a),
                self.branch3x3_2b(a),
                self.branch3x3dbl_3a(b),
                self.branch3x3dbl_3b(b),
                self.branch_pool(pooled),
            ],
            axis=-1,
        )


class InceptionV3(nnx.Module):
    """The FID InceptionV3 (TF 2015-12-05) up to pool3; parameters start as zeros/ones.

    Build it with weights through :func:`inception_from_params` (or
    :func:`jaxgan.metrics.fid.load_inception`); a bare ``InceptionV3()`` is only a shape template.

    Example:
        >>> x = jax.ShapeDtypeStruct((1, 75, 75, 3), jnp.float32)  # 75×75: the smallest it takes
        >>> nnx.eval_shape(lambda x: InceptionV3()(x), x).shape  # shapes only, no compute
        (1, 2048)

    """

    def __init__(self):
        self.Conv2d_1a_3x3 = ConvBN(3, 32, (3, 3), stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, (3, 3))
        self.Conv2d_2b_3x3 = ConvBN(32, 64, (3, 3), padding=(1, 1))
        self.Conv2d_3b_1x1 = ConvBN(64, 80)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, (3, 3))
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")

    def __call__(self, x: jax.Array) -> jax.Array:
        """Compute pool3 features of preprocessed images.

        Args:
            x: NHWC float32 images scaled to ``(pixel - 128) / 128``; 299×299 for standard FID
                (any size ≥ 75×75 runs).

        Returns:
            The pool3 features (global average of the last 8×8×2048 map), shape ``(N, 2048)``.

        Example:
            >>> x = jax.ShapeDtypeStruct((8, 299, 299, 3), jnp.float32)  # shapes only
            >>> nnx.eval_shape(lambda x: InceptionV3()(x), x).shape
            (8, 2048)
            >>> InceptionV3()(np.zeros((1, 64, 64, 3), np.float32))
            Traceback (most recent call last):
            ...
            ValueError: InceptionV3 needs NHWC RGB images of at least 75×75, got (1, 64, 64, 3)

        """
        if x.ndim != 4 or x.shape[-1] != 3 or min(x.shape[1:3]) < 75:
            raise ValueError(f"InceptionV3 needs NHWC RGB images of at least 75×75, got {x.shape}")
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(_max_pool(x, stride=2)))
        x = _max_pool(x, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a):
            x = block(x)
        for block in (self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a):
            x = block(x)
        x = self.Mixed_7c(self.Mixed_7b(x))
        return jnp.mean(x, axis=(1, 2))


def _flat_variables(model: nnx.Module) -> list[tuple[str, nnx.Variable]]:
    return [(".".join(map(str, path)), var) for path, var in nnx.to_flat_state(nnx.state(model))]


def inception_param_shapes() -> dict[str, tuple[int, ...]]:
    """List every array the model needs: dotted name → shape (kernels are HWIO).

    Returns:
        For example ``{"Conv2d_1a_3x3.kernel": (3, 3, 3, 32), "Conv2d_1a_3x3.scale": (32,), ...}``;
        five arrays (kernel, scale, bias, mean, var) for each of the 94 convolutions.

    Example:
        >>> inception_param_shapes()["Mixed_7c.branch_pool.kernel"]
        (1, 1, 2048, 192)

    """
    abstract = nnx.eval_shape(InceptionV3)
    return {name: tuple(var.shape) for name, var in _flat_variables(abstract)}


def inception_from_params(params: Mapping[str, np.ndarray]) -> InceptionV3:
    """Build an :class:`InceptionV3` holding the given arrays.

    Args:
        params: Exactly the names of :func:`inception_param_shapes`, with those shapes (any float
            dtype; stored as float32), as
            :func:`jaxgan.metrics.inception_weights.load_inception_params` returns them.

    Returns:
        The model, ready to call.

    Raises:
        ValueError: When a name is missing or unexpected, or a shape differs.

    Example:
        >>> shapes = inception_param_shapes()
        >>> model = inception_from_params({k: np.zeros(s, np.float32) for k, s in shapes.items()})
        >>> model.Conv2d_1a_3x3.kernel.shape
        (3, 3, 3, 32)

    """
    model = nnx.eval_shape(InceptionV3)
    variables = _flat_variables(model)
    missing = sorted({name for name, _ in variables} - set(params))
    extra = sorted(set(params) - {name for name, _ in variables})
    if missing or extra:
        raise ValueError(
            f"Inception parameters do not fit the model: missing {missing[:3]} "
            f"({len(missing)} in all), unexpected {extra[:3]} ({len(extra)} in all)"
        )
    for name, var in variables:
        value = np.asarray(params[name])
        if value.shape != tuple(var.shape):
            raise ValueError(
                f"Inception parameter {name} has shape {value.shape}, needs {var.shape}"
            )
        var.set_value(as_float32(value))
    return model


def fold_batch_norm(model: ModuleT) -> ModuleT:
    """Fold every inference batch norm into its convolution: ``relu(conv(x, k·m) + b)``.

    With ``m = scale / sqrt(var + ε)`` and ``b = bias − mean · m`` (computed in float64, stored
    as float32), each unit does one convolution and one bias add instead of a convolution, a
    multiply and an add. Inference only: the folded model has no batch statistics left to use.
    The features equal the unfolded model's up to float32 rounding (tests/test_fid_protocols.py
    bounds the relative difference by 1e-5).

    Args:
        model: An :class:`InceptionV3` (or any module of :class:`ConvBN` units) with loaded
            parameters; left unchanged.

    Returns:
        A new, folded model.

    Example:
        >>> layer = ConvBN(3, 4)
        >>> layer.var.set_value(jnp.full((4,), 4.0 - BATCH_NORM_EPSILON))
        >>> layer.kernel.set_value(jnp.ones((1, 1, 3, 4)))
        >>> folded = fold_batch_norm(layer)
        >>> folded.folded, layer.folded, float(np.asarray(folded.kernel[...])[0, 0, 0, 0])
        (True, False, 0.5)

    """
    folded = nnx.clone(model)
    for _, layer in nnx.iter_modules(folded):
        if not isinstance(layer, ConvBN) or layer.folded:
            continue
        var = np.asarray(layer.var[...], np.float64)
        multiplier = np.asarray(layer.scale[...], np.float64) / np.sqrt(var + BATCH_NORM_EPSILON)
        kernel = np.asarray(layer.kernel[...], np.float64) * multiplier
        shift = np.asarray(layer.bias[...], np.float64) - np.asarray(layer.mean[...]) * multiplier
        layer.kernel.set_value(as_float32(kernel))
        layer.bias.set_value(as_float32(shift))
        layer.scale.set_value(_filled(layer.scale.shape, 1.0))  # the identity norm, for clarity
        layer.mean.set_value(_filled(layer.mean.shape, 0.0))
        layer.var.set_value(_filled(layer.var.shape, 1.0 - BATCH_NORM_EPSILON))
        layer.folded = True
    return folded


def random_inception(seed: int = 0, *, random_batch_norm: bool = False) -> InceptionV3:
    """Build an :class:`InceptionV3` with random weights, for speed tests and weight-free pipelines.

    Kernels are He-normal (``N(0, 2 / fan_in)``), drawn in :func:`inception_param_shapes` order
    from ``np.random.default_rng(seed)``. Batch norm is the identity (scale and variance 1, shift
    and mean 0), or with ``random_batch_norm`` random statistics (scale and variance in [0.5, 2],
    shift and mean ``N(0, 0.1)``), so that folding it into the kernels changes the weights.

    Args:
        seed: The numpy seed.
        random_batch_norm: Draw the batch-norm parameters too.

    Returns:
        The model (the forward's speed does not depend on the values; its features are not FID
        features).

    Example:
        >>> random_inception(3).Conv2d_1a_3x3.kernel.shape
        (3, 3, 3, 32)

    """
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in inception_param_shapes().items():
        if name.endswith(".kernel"):
            fan_in = shape[0] * shape[1] * shape[2]
            params[name] = rng.standard_normal(shape).astype(np.float32) * np.sqrt(2 / fan_in)
        elif not random_batch_norm:
            ones = name.endswith((".scale", ".var"))
            params[name] = (np.ones if ones else np.zeros)(shape, np.float32)
        elif name.endswith((".scale", ".var")):
            params[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            params[name] = rng.normal(0.0, 0.1, shape).astype(np.float32)
    return inception_from_params(params)
