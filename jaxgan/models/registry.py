"""The model families a config can name: family → how to build its generator and discriminator.

Each ``Family`` builds a pair of module factories (``rngs -> module``) from the example shape, the
latent size, the class count and how D uses it (conditional families) and PacGAN's packing
degree, plus its own
keyword arguments. The keyword names a family reads are the parameters of its ``build`` function
after the shared ones, so configs and ``--set`` learn them from here.

Example:
    >>> g, d = FAMILIES["mlp"].build((28, 28, 1), 100, None, 1, "projection", g_hidden=16,
    ...                              d_hidden=16, g_dropout=0.3, d_dropout=0.0)
    >>> nnx.eval_shape(lambda: g(nnx.Rngs(0))).latent_dim  # built abstractly: no weights computed
    100

"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

from flax import nnx

from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator, ToyDiscriminator, ToyGenerator
from jaxgan.models.resnet import ResNetDiscriminator, ResNetGenerator

Factory = Callable[[nnx.Rngs], nnx.Module]
Shape = tuple[int, ...]

_SHARED = ("image_shape", "latent_dim", "num_classes", "pack", "conditioning")


def _packed(shape: Shape, pack: int) -> Shape:
    """Return the discriminator's input shape: ``pack`` samples stacked along the last axis."""
    return (*shape[:-1], shape[-1] * pack)


def _mlp(
    shape, latent_dim, num_classes, pack, conditioning, *, g_hidden, d_hidden, g_dropout, d_dropout
):
    return (
        lambda rngs: MLPGenerator(latent_dim, g_hidden, g_dropout, shape, rngs=rngs),
        lambda rngs: MLPDiscriminator(_packed(shape, pack), d_hidden, d_dropout, rngs=rngs),
    )


def _dcgan(
    shape, latent_dim, num_classes, pack, conditioning, *, width, kernel_size, upsample, d_dropout
):
    return (
        lambda rngs: DCGANGenerator(
            latent_dim, shape, width, kernel_size, upsample, num_classes, rngs=rngs
        ),
        lambda rngs: DCGANDiscriminator(
            _packed(shape, pack),
            width,
            kernel_size,
            d_dropout,
            num_classes,
            conditioning,
            rngs=rngs,
        ),
    )


def _toy(
    shape, latent_dim, num_classes, pack, conditioning, *, g_hidden, d_hidden, g_depth, d_depth,
    maxout_pieces, batch_norm,
):  # fmt: skip
    return (
        lambda rngs: ToyGenerator(latent_dim, g_hidden, g_depth, batch_norm, shape[0], rngs=rngs),
        lambda rngs: ToyDiscriminator(
            _packed(shape, pack)[0], d_hidden, d_depth, maxout_pieces, rngs=rngs
        ),
    )


def _resnet(shape, latent_dim, num_classes, pack, conditioning, *, width, d_width):
    d_width = width if d_width is None else d_width
    return (
        lambda rngs: ResNetGenerator(latent_dim, shape, width, num_classes, rngs=rngs),
        lambda rngs: ResNetDiscriminator(_packed(shape, pack), d_width, num_classes, rngs=rngs),
    )


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family: its builder and whether it can condition on class labels.

    Attributes:
        build: ``(image_shape, latent_dim, num_classes, pack, conditioning, **options) ->
            (g, d)`` factories (``conditioning``: ``StepConfig.conditioning``).
        conditional: the family accepts ``num_classes`` (G and D take labels).
        auxiliary: the family's D can be an AC-GAN one (``conditioning="auxiliary"``).

    Example:
        >>> FAMILIES["resnet"].conditional
        True

    """

    build: Callable[..., tuple[Factory, Factory]]
    conditional: bool = False
    auxiliary: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword arguments the family reads (its builder's own parameters)."""
        names = inspect.signature(self.build).parameters
        return tuple(name for name in names if name not in _SHARED and name != "shape")


FAMILIES: dict[str, Family] = {
    "mlp": Family(_mlp),
    "dcgan": Family(_dcgan, conditional=True, auxiliary=True),
    "toy": Family(_toy),
    "resnet": Family(_resnet, conditional=True),
}
"""Model families by name."""


def family_fields(name: str) -> tuple[str, ...]:
    """Return the keyword arguments a family's builder reads.

    Args:
        name: a key of ``FAMILIES``.

    Returns:
        The option names, e.g. ``("width", "kernel_size", "upsample", "d_dropout")``.

    Raises:
        ValueError: unknown family.

    Example:
        >>> family_fields("dcgan")
        ('width', 'kernel_size', 'upsample', 'd_dropout')

    """
    if name not in FAMILIES:
        raise ValueError(f"model must be one of {', '.join(FAMILIES)}, got {name!r}")
    return FAMILIES[name].options
