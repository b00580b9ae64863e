"""Flax NNX generator and discriminator modules.

Every generator is called as ``G(z, rngs=...)`` and every discriminator as ``D(x, rngs=...)``
returning one logit per input; ``rngs`` carries the dropout key (it may be omitted by modules
without randomness). Any user-written NNX module pair with these call signatures plugs into
``jaxgan.create_state`` and the steps.
"""

from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.layers import (
    ConditionalBatchNorm,
    UpConv,
    depth_to_space,
    spectral_norm,
    subpixel_kernel,
)
from jaxgan.models.mlp import (
    MLP,
    Maxout,
    MLPDiscriminator,
    MLPGenerator,
    ToyDiscriminator,
    ToyGenerator,
)
from jaxgan.models.registry import FAMILIES, Family, family_fields
from jaxgan.models.resnet import ResNetDiscriminator, ResNetGenerator

__all__ = [
    "FAMILIES",
    "MLP",
    "ConditionalBatchNorm",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "Family",
    "MLPDiscriminator",
    "MLPGenerator",
    "Maxout",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "ToyDiscriminator",
    "ToyGenerator",
    "UpConv",
    "depth_to_space",
    "family_fields",
    "spectral_norm",
    "subpixel_kernel",
]
