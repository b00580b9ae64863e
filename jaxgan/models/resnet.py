"""SN-ResNet generator and discriminator for 32×32 images (Miyato et al. 2018, SNGAN CIFAR-10).

The generator uses BatchNorm (conditional BatchNorm when ``num_classes`` is set); every
discriminator layer is spectrally normalised. With ``num_classes`` the discriminator becomes a
projection discriminator (Miyato & Koyama 2018): ``D(x, y) = ψ(φ(x)) + ⟨embed(y), φ(x)⟩``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jaxgan.models.layers import ConditionalBatchNorm, spectral_norm


def _upsample2x(x: jax.Array) -> jax.Array:
    """Nearest-neighbour 2× up-sampling of NHWC images."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def _avg_pool2x(x: jax.Array) -> jax.Array:
    """2×2 average pooling with stride 2."""
    return nnx.avg_pool(x, (2, 2), (2, 2))


def _conv(cin: int, cout: int, k: int, *, sn: bool, rngs: nnx.Rngs) -> nnx.Module:
    conv = nnx.Conv(cin, cout, (k, k), padding="SAME", rngs=rngs)
    return spectral_norm(conv, rngs=rngs) if sn else conv


class GeneratorBlock(nnx.Module):
    """Pre-activation residual block with 2× up-sampling: BN-ReLU-up-conv-BN-ReLU-conv + up-skip.

    Args:
        cin: input channels.
        cout: output channels.
        num_classes: classes for conditional BatchNorm (None for unconditional).
        rngs: initialisation randomness.

    Example:
        >>> x = jnp.zeros((2, 4, 4, 8))
        >>> nnx.eval_shape(lambda: GeneratorBlock(8, 4, rngs=nnx.Rngs(0))(x)).shape  # shapes only
        (2, 8, 8, 4)
    """

    def __init__(self, cin: int, cout: int, num_classes: int | None = None, *, rngs: nnx.Rngs):
        self.bn1 = ConditionalBatchNorm(cin, num_classes, rngs=rngs)
        self.conv1 = nnx.Conv(cin, cout, (3, 3), padding="SAME", rngs=rngs)
        self.bn2 = ConditionalBatchNorm(cout, num_classes, rngs=rngs)
        self.conv2 = nnx.Conv(cout, cout, (3, 3), padding="SAME", rngs=rngs)
        self.skip = nnx.Conv(cin, cout, (1, 1), rngs=rngs)

    def __call__(self, x: jax.Array, labels: jax.Array | None = None) -> jax.Array:
        """Return the up-sampled residual output."""
        h = _upsample2x(jax.nn.relu(self.bn1(x, labels)))
        h = self.conv2(jax.nn.relu(self.bn2(self.conv1(h), labels)))
        return h + self.skip(_upsample2x(x))


class DiscriminatorBlock(nnx.Module):
    """Residual block of the SN discriminator: ReLU-conv-ReLU-conv (+ avg-pool) + 1×1 skip.

    Args:
        cin: input channels.
        cout: output channels.
        downsample: halve the resolution with 2×2 average pooling.
        first: the "optimized" first block (no ReLU before the first conv; pool then skip-conv).
        rngs: initialisation randomness.

    Example:
        >>> x = jnp.zeros((2, 8, 8, 3))
        >>> nnx.eval_shape(lambda: DiscriminatorBlock(3, 8, rngs=nnx.Rngs(0))(x)).shape
        (2, 4, 4, 8)
    """

    def __init__(
        self, cin: int, cout: int, downsample: bool = True, first: bool = False, *, rngs: nnx.Rngs
    ):
        self.downsample, self.first = downsample, first
        self.conv1 = _conv(cin, cout, 3, sn=True, rngs=rngs)
        self.conv2 = _conv(cout, cout, 3, sn=True, rngs=rngs)
        self.skip = _conv(cin, cout, 1, sn=True, rngs=rngs) if (downsample or cin != cout) else None

    def __call__(self, x: jax.Array) -> jax.Array:
        """Return the residual output (down-sampled when configured)."""
        h = x if self.first else jax.nn.relu(x)
        h = self.conv2(jax.nn.relu(self.conv1(h)))
        if self.downsample:
            h = _avg_pool2x(h)
        skip = x
        if self.first:
            skip = self.skip(_avg_pool2x(skip))
        elif self.skip is not None:
            skip = self.skip(skip)
            skip = _avg_pool2x(skip) if self.downsample else skip
        return h + skip


class ResNetGenerator(nnx.Module):
    """SNGAN's CIFAR-10 ResNet generator: z → 4×4×ch → 3 up-blocks → BN-ReLU-conv3×3 → tanh.

    Args:
        latent_dim: size of z (128 in the paper).
        image_shape: (32, 32, C).
        width: channels of every block (256 in the paper).
        num_classes: number of classes for a conditional generator (conditional BatchNorm).
        rngs: initialisation randomness.

    Example:
        Shapes only: ``nnx.eval_shape`` builds and calls the model abstractly (nothing is
        computed or compiled).

        >>> z = jnp.zeros((2, 128))
        >>> nnx.eval_shape(lambda: ResNetGenerator(width=8, rngs=nnx.Rngs(0))(z)).shape
        (2, 32, 32, 3)
    """

    def __init__(
        self,
        latent_dim: int = 128,
        image_shape: tuple[int, int, int] = (32, 32, 3),
        width: int = 256,
        num_classes: int | None = None,
        *,
        rngs: nnx.Rngs,
    ):
        if tuple(image_shape[:2]) != (32, 32):
            raise ValueError(f"ResNetGenerator makes 32×32 images, got {image_shape}")
        self.latent_dim, self.width, self.num_classes = latent_dim, width, num_classes
        self.project = nnx.Linear(latent_dim, 4 * 4 * width, rngs=rngs)
        self.blocks = nnx.List(
            [GeneratorBlock(width, width, num_classes, rngs=rngs) for _ in range(3)]
        )
        self.bn = nnx.BatchNorm(width, momentum=0.9, rngs=rngs)
        self.to_image = nnx.Conv(width, image_shape[2], (3, 3), padding="SAME", rngs=rngs)

    def __call__(
        self, z: jax.Array, labels: jax.Array | None = None, *, rngs: nnx.Rngs | None = None
    ) -> jax.Array:
        """Map z (B, latent_dim) (and labels (B,) when conditional) to images in [-1, 1]."""
        h = self.project(z).reshape((z.shape[0], 4, 4, self.width))
        for block in self.blocks:
            h = block(h, labels)
        return jnp.tanh(self.to_image(jax.nn.relu(self.bn(h))))


class ResNetDiscriminator(nnx.Module):
    """SNGAN's CIFAR-10 ResNet discriminator, spectrally normalised, optionally with projection.

    Blocks: optimized down-block → down-block → block → block (``width`` channels, 128 in the
    paper), ReLU, global sum pooling, SN-Linear → logit; plus ``⟨embed(y), φ(x)⟩`` when
    ``num_classes`` is set (projection discriminator).

    Args:
        image_shape: (H, W, C) of inputs.
        width: channels of every block.
        num_classes: classes for the projection term (None for unconditional).
        rngs: initialisation randomness.

    Example:
        Shapes only: ``nnx.eval_shape`` builds and calls the model abstractly (nothing is
        computed or compiled).

        >>> x = jnp.zeros((2, 32, 32, 3))
        >>> nnx.eval_shape(lambda: ResNetDiscriminator(width=8, rngs=nnx.Rngs(0))(x)).shape
        (2,)
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (32, 32, 3),
        width: int = 128,
        num_classes: int | None = None,
        *,
        rngs: nnx.Rngs,
    ):
        self.num_classes = num_classes
        c = image_shape[2]
        self.blocks = nnx.List(
            [
                DiscriminatorBlock(c, width, downsample=True, first=True, rngs=rngs),
                DiscriminatorBlock(width, width, downsample=True, rngs=rngs),
                DiscriminatorBlock(width, width, downsample=False, rngs=rngs),
                DiscriminatorBlock(width, width, downsample=False, rngs=rngs),
            ]
        )
        self.out = spectral_norm(nnx.Linear(width, 1, rngs=rngs), rngs=rngs)
        self.embed = (
            spectral_norm(nnx.Embed(num_classes, width, rngs=rngs), rngs=rngs)
            if num_classes
            else None
        )

    def features(self, x: jax.Array) -> jax.Array:
        """Return φ(x): the globally sum-pooled features, shape (B, width)."""
        for block in self.blocks:
            x = block(x)
        return jnp.sum(jax.nn.relu(x), axis=(1, 2))

    def __call__(
        self, x: jax.Array, labels: jax.Array | None = None, *, rngs: nnx.Rngs | None = None
    ) -> jax.Array:
        """Return one logit per image (with the projection term when conditional)."""
        h = self.features(x)
        logits = self.out(h)[:, 0]
        if self.embed is not None:
            if labels is None:
                raise ValueError("this projection discriminator needs labels: D(x, labels)")
            logits = logits + jnp.sum(self.embed(labels) * h, axis=1)
        return logits
