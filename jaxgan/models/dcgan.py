"""DCGAN generator and discriminator (Radford et al. 2016) for 28×28×1 and 32×32×3 images.

The 28×28 pair is the Keras/TensorFlow DCGAN tutorial's architecture (at ``width=64``);
the 32×32 pair extends it by one more up/down-sampling stage, as in DCGAN's CIFAR-10 setups.
With ``num_classes`` set the pair is class-conditional: the generator's BatchNorms become
conditional BatchNorms (a scale and shift per class) and the discriminator adds the projection
``⟨embed(y), φ(x)⟩`` of its flattened features (Miyato & Koyama 2018), or, with
``conditioning="auxiliary"``, an auxiliary classifier on the same features (AC-GAN, Odena et al.
2017); without it the modules and their parameters are the unconditional ones, unchanged.
"""

from __future__ import annotations

import itertools
import math

import jax
from flax import nnx

from jaxgan.models.layers import ConditionalBatchNorm, UpConv, UpsampleMethod


def _num_resolution_stages(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """Return (base resolution, number of 2× stages) for a supported image size."""
    h, w, _ = image_shape
    if h != w:
        raise ValueError(f"DCGAN needs square images, got {h}×{w}")
    for base in (7, 4):
        stages = math.log2(h / base) if h % base == 0 else -1
        if stages >= 2 and stages.is_integer():
            return base, int(stages)
    raise ValueError(
        f"DCGAN supports image sizes 7·2^n or 4·2^n (n ≥ 2, e.g. 28 or 32), got {h}×{w}"
    )


class DCGANGenerator(nnx.Module):
    """DCGAN generator: Dense → reshape → [ConvTranspose + BatchNorm + LeakyReLU]* → tanh.

    For 28×28: z → 7·7·4w → 5×5 stride 1 → 2w → stride 2 → w (14×14) → stride 2 → C (28×28).
    For 32×32: z → 4·4·8w → stride 1 → 4w → 2w (8×8) → w (16×16) → C (32×32).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C), e.g. (28, 28, 1) or (32, 32, 3).
        width: channels of the last hidden layer (64 in the tutorial); earlier layers double it.
        kernel_size: transposed-conv kernel size.
        upsample: implementation of the stride-2 layers (see ``UpConv``); same parameters
            either way.
        num_classes: classes of a conditional generator (conditional BatchNorm; called
            ``G(z, labels)``), or None for an unconditional one.
        rngs: initialisation randomness.

    Example:
        Shapes only: ``nnx.eval_shape`` builds and calls the model abstractly (nothing is
        computed or compiled).

        >>> z = jax.numpy.zeros((2, 100))
        >>> nnx.eval_shape(lambda: DCGANGenerator(width=8, rngs=nnx.Rngs(0))(z)).shape
        (2, 28, 28, 1)
        >>> cg = lambda: DCGANGenerator(width=8, num_classes=10, rngs=nnx.Rngs(0))
        >>> nnx.eval_shape(lambda: cg()(z, jax.numpy.array([3, 7]))).shape
        (2, 28, 28, 1)

    """

    def __init__(
        self,
        latent_dim: int = 100,
        image_shape: tuple[int, int, int] = (28, 28, 1),
        width: int = 64,
        kernel_size: int = 5,
        upsample: UpsampleMethod = "auto",
        num_classes: int | None = None,
        *,
        rngs: nnx.Rngs,
    ):
        self.latent_dim, self.num_classes = latent_dim, num_classes

        self.image_shape = tuple(image_shape)
        base, stages = _num_resolution_stages(self.image_shape)
        self.base = base
        channels = [width * 2 ** (stages - i) for i in range(stages)]  # e.g. [256, 128] for 28×28
        self.base_channels = channels[0]
        self.project = nnx.Linear(latent_dim, base * base * channels[0], use_bias=False, rngs=rngs)
        self.project_norm = _norm(base * base * channels[0], num_classes, rngs)
        # one stride-1 layer, then stride-2 layers halving channels down to `width`
        ups, norms = [], []
        for i, (cin, cout) in enumerate(zip(channels, [*channels[1:], width], strict=True)):
            stride = 1 if i == 0 else 2
            ups.append(
                UpConv(cin, cout, kernel_size, stride, use_bias=False, method=upsample, rngs=rngs)
            )
            norms.append(_norm(cout, num_classes, rngs))
        self.ups, self.norms = nnx.List(ups), nnx.List(norms)
        self.to_image = UpConv(width, image_shape[2], kernel_size, 2, method=upsample, rngs=rngs)

    def __call__(
        self, z: jax.Array, labels: jax.Array | None = None, *, rngs: nnx.Rngs | None = None
    ) -> jax.Array:
        """Map z (B, latent_dim) (and labels (B,) when conditional) to images in [-1, 1]."""
        norm_args = () if self.num_classes is None else (labels,)
        h = jax.nn.leaky_relu(self.project_norm(self.project(z), *norm_args), 0.2)
        h = h.reshape((z.shape[0], self.base, self.base, self.base_channels))
        for up, norm in zip(self.ups, self.norms, strict=True):
            h = jax.nn.leaky_relu(norm(up(h), *norm_args), 0.2)
        return jax.numpy.tanh(self.to_image(h))


def _norm(features: int, num_classes: int | None, rngs: nnx.Rngs) -> nnx.Module:
    """BatchNorm, or a conditional BatchNorm when ``num_classes`` is set."""
    if num_classes is None:  # the unconditional parameter tree, as before conditioning existed
        return nnx.BatchNorm(features, momentum=0.9, rngs=rngs)
    return ConditionalBatchNorm(features, num_classes, rngs=rngs)


class DCGANDiscriminator(nnx.Module):
    """DCGAN discriminator: [Conv 5×5 stride 2 + LeakyReLU(0.2) + Dropout]* → flatten → logit.

    Args:
        image_shape: (H, W, C) of the inputs.
        width: channels of the first conv; each further stage doubles them.
        kernel_size: conv kernel size.
        dropout: dropout rate after each conv (0.3 in the tutorial).
        num_classes: classes of a conditional discriminator, or None.
        conditioning: with ``num_classes``, ``"projection"`` (called ``D(x, labels)``: one logit
            plus ``⟨embed(y), φ(x)⟩``) or ``"auxiliary"`` (AC-GAN: called ``D(x)``, returns
            ``(logits (B,), class_logits (B, num_classes))`` from two linear heads on the same
            flattened features ``φ(x)``).
        rngs: initialisation randomness.

    Example:
        Shapes only: ``nnx.eval_shape`` builds and calls the model abstractly (nothing is
        computed or compiled).

        >>> x, y = jax.numpy.zeros((2, 28, 28, 1)), jax.numpy.array([0, 9])
        >>> def judge(*labels, **options):
        ...     d = DCGANDiscriminator(width=8, rngs=nnx.Rngs(0), **options)
        ...     return d(x, *labels, rngs=nnx.Rngs(dropout=0))
        >>> nnx.eval_shape(judge).shape
        (2,)
        >>> nnx.eval_shape(lambda: judge(y, num_classes=10)).shape
        (2,)
        >>> ac = nnx.eval_shape(lambda: judge(num_classes=10, conditioning="auxiliary"))
        >>> [a.shape for a in ac]
        [(2,), (2, 10)]

    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (28, 28, 1),
        width: int = 64,
        kernel_size: int = 5,
        dropout: float = 0.3,
        num_classes: int | None = None,
        conditioning: str = "projection",
        *,
        rngs: nnx.Rngs,
    ):
        if conditioning not in ("projection", "auxiliary"):
            raise ValueError(
                f"conditioning must be 'projection' or 'auxiliary', got {conditioning!r}"
            )
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        self.conditioning = conditioning
        base, stages = _num_resolution_stages(self.image_shape)
        channels = [image_shape[2]] + [width * 2**i for i in range(stages)]
        self.convs = nnx.List(
            [
                nnx.Conv(cin, cout, (kernel_size, kernel_size), (2, 2), padding="SAME", rngs=rngs)
                for cin, cout in itertools.pairwise(channels)
            ]
        )
        self.dropout = nnx.Dropout(dropout)
        self.out = nnx.Linear(base * base * channels[-1], 1, rngs=rngs)
        features = base * base * channels[-1]
        if num_classes is not None and conditioning == "auxiliary":
            self.classify = nnx.Linear(features, num_classes, rngs=rngs)
        elif num_classes is not None:
            self.embed = nnx.Embed(num_classes, features, rngs=rngs)

    def __call__(
        self, x: jax.Array, labels: jax.Array | None = None, *, rngs: nnx.Rngs | None = None
    ) -> jax.Array | tuple[jax.Array, jax.Array]:
        """Return one logit per image (B,), plus the class projection when conditional.

        An auxiliary-classifier D (``conditioning="auxiliary"``) takes no labels and returns
        ``(logits (B,), class_logits (B, num_classes))``.
        """
        for conv in self.convs:
            x = self.dropout(jax.nn.leaky_relu(conv(x), 0.2), rngs=rngs)
        h = x.reshape((x.shape[0], -1))
        logits = self.out(h)[:, 0]
        if self.num_classes is None:
            return logits
        if self.conditioning == "auxiliary":
            if labels is not None:
                raise ValueError(
                    "this auxiliary-classifier (AC-GAN) discriminator is called D(x), without "
                    "labels: it predicts the class itself"
                )
            return logits, self.classify(h)
        if labels is None:
            raise ValueError("this projection discriminator needs labels: D(x, labels)")
        return logits + jax.numpy.sum(self.embed(labels) * h, axis=1)
