"""The founding document's fully connected generator and discriminator."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
from flax import nnx


class MLPGenerator(nnx.Module):
    """The seed generator: z(100) → Dense(128) ReLU → Dropout(0.3) → Dense(784) tanh → 28×28×1.

    Dropout draws its mask from the ``rngs`` passed to ``__call__`` (not from an ``nnx.Rngs``
    owned by the module), so the module stays a pure function of its state under ``jax.jit``.

    Args:
        latent_dim: size of the noise vector z.
        hidden: width of the hidden layer.
        dropout: dropout rate after the hidden layer.
        image_shape: (H, W, C) of the generated image.
        rngs: initialisation randomness, e.g. ``nnx.Rngs(0)``.

    Example:
        Shapes only: ``nnx.eval_shape`` builds and calls the model abstractly (nothing is
        computed or compiled).

        >>> def generate(z):
        ...     g = MLPGenerator(rngs=nnx.Rngs(0))
        ...     g.eval()  # no dropout, so no rngs in the call
        ...     return g(z)
        >>> nnx.eval_shape(generate, jnp.zeros((2, 100))).shape
        (2, 28, 28, 1)

    """

    def __init__(
        self,
        latent_dim: int = 100,
        hidden: int = 128,
        dropout: float = 0.3,
        image_shape: tuple[int, int, int] = (28, 28, 1),
        *,
        rngs: nnx.Rngs,
    ):
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.hidden = nnx.Linear(latent_dim, hidden, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.out = nnx.Linear(hidden, math.prod(self.image_shape), rngs=rngs)

    def __call__(self, z: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Map noise ``z`` of shape (B, latent_dim) to images (B, H, W, C) in [-1, 1]."""
        h = jax.nn.relu(self.hidden(z))
        h = self.dropout(h, rngs=rngs)
        return jnp.tanh(self.out(h)).reshape((z.shape[0], *self.image_shape))


class MLPDiscriminator(nnx.Module):
    """The seed discriminator: flatten(784) → Dense(128) LeakyReLU(0.2) → Dense(1) logit.

    It returns a logit; the probability that the input is real is ``jax.nn.sigmoid(logit)``.
    Losses work on logits for numerical stability.

    Args:
        image_shape: (H, W, C) of the input images (or ``(2,)`` for 2-D points).
        hidden: width of the hidden layer.
        dropout: dropout rate after the hidden layer (0 disables it).
        rngs: initialisation randomness.

    Example:
        >>> x = jnp.zeros((2, 28, 28, 1))
        >>> nnx.eval_shape(lambda: MLPDiscriminator(rngs=nnx.Rngs(0))(x)).shape  # shapes only
        (2,)

    """

    def __init__(
        self,
        image_shape: tuple[int, ...] = (28, 28, 1),
        hidden: int = 128,
        dropout: float = 0.0,
        *,
        rngs: nnx.Rngs,
    ):
        self.image_shape = tuple(image_shape)
        self.hidden = nnx.Linear(math.prod(self.image_shape), hidden, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.out = nnx.Linear(hidden, 1, rngs=rngs)

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Return one real/fake logit per input image, shape (B,)."""
        h = jax.nn.leaky_relu(self.hidden(x.reshape((x.shape[0], -1))), 0.2)
        h = self.dropout(h, rngs=rngs)
        return self.out(h)[:, 0]


class MLP(nnx.Module):
    """A plain ReLU multilayer perceptron, the building block of the toy 2-D GANs.

    Args:
        sizes: layer widths including input and output, e.g. ``(2, 400, 400, 2)``.
        batch_norm: add BatchNorm after every hidden layer (PacGAN's generator does).
        rngs: initialisation randomness.

    Example:
        >>> nnx.eval_shape(lambda: MLP((2, 16, 1), rngs=nnx.Rngs(0))(jnp.ones((3, 2)))).shape
        (3, 1)

    """

    def __init__(self, sizes: tuple[int, ...], batch_norm: bool = False, *, rngs: nnx.Rngs):
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {sizes!r}")
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(sizes)])
        self.norms = nnx.List(
            [nnx.BatchNorm(b, momentum=0.9, rngs=rngs) for b in sizes[1:-1]] if batch_norm else []
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the hidden ReLU layers then the linear output layer."""
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(x)
            if len(self.norms):
                x = self.norms[i](x)
            x = jax.nn.relu(x)
        return self.layers[-1](x)


class ToyGenerator(nnx.Module):
    """Generator for 2-D mixtures (PacGAN's setup: z 2-D, 4 hidden layers of 400, ReLU + BatchNorm).

    Args:
        latent_dim: size of z.
        hidden: hidden width.
        depth: number of hidden layers.
        batch_norm: BatchNorm after each hidden layer.
        out_dim: dimension of the generated points.
        rngs: initialisation randomness.

    Example:
        >>> nnx.eval_shape(lambda: ToyGenerator(rngs=nnx.Rngs(0))(jnp.zeros((5, 2)))).shape
        (5, 2)

    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: int = 400,
        depth: int = 4,
        batch_norm: bool = True,
        out_dim: int = 2,
        *,
        rngs: nnx.Rngs,
    ):
        self.latent_dim = latent_dim
        self.net = MLP((latent_dim, *([hidden] * depth), out_dim), batch_norm, rngs=rngs)

    def __call__(self, z: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Map z (B, latent_dim) to points (B, out_dim)."""
        return self.net(z)


class Maxout(nnx.Module):
    """A maxout layer: ``pieces`` linear maps, elementwise maximum (Goodfellow et al. 2013).

    Args:
        in_features: input width.
        out_features: output width.
        pieces: number of linear pieces.
        rngs: initialisation randomness.

    Example:
        >>> nnx.eval_shape(lambda: Maxout(2, 3, 5, rngs=nnx.Rngs(0))(jnp.ones((4, 2)))).shape
        (4, 3)

    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 5, *, rngs: nnx.Rngs):
        self.pieces = pieces
        self.linear = nnx.Linear(in_features, out_features * pieces, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Return max over pieces, shape (B, out_features)."""
        y = self.linear(x)
        return y.reshape((*y.shape[:-1], -1, self.pieces)).max(axis=-1)


class ToyDiscriminator(nnx.Module):
    """Discriminator for 2-D mixtures (PacGAN's setup: 3 hidden maxout(5) layers of 200).

    For PacGAN (D judges m samples at once) build it with ``in_dim = 2·m`` and set
    ``StepConfig.pack = m``: the steps concatenate m consecutive samples of a batch along the
    last axis (``jaxgan.augment.pack``), so the same module serves packed and unpacked GANs.

    Args:
        in_dim: dimension of one input (2 for points, 2·m when packed m at a time).
        hidden: hidden width.
        depth: number of maxout layers.
        pieces: maxout pieces.
        rngs: initialisation randomness.

    Example:
        >>> nnx.eval_shape(lambda: ToyDiscriminator(rngs=nnx.Rngs(0))(jnp.zeros((6, 2)))).shape
        (6,)

    """

    def __init__(
        self,
        in_dim: int = 2,
        hidden: int = 200,
        depth: int = 3,
        pieces: int = 5,
        *,
        rngs: nnx.Rngs,
    ):
        self.in_dim = in_dim
        sizes = (in_dim, *([hidden] * depth))
        self.layers = nnx.List(
            [Maxout(a, b, pieces, rngs=rngs) for a, b in itertools.pairwise(sizes)]
        )
        self.out = nnx.Linear(hidden, 1, rngs=rngs)

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Return one logit per input row (per packed group under ``StepConfig.pack``)."""
        if x.ndim != 2 or x.shape[-1] != self.in_dim:
            raise ValueError(
                f"ToyDiscriminator(in_dim={self.in_dim}) expects inputs (batch, {self.in_dim}), "
                f"got {tuple(x.shape)}; for PacGAN with m samples use in_dim=2·m and pack=m"
            )
        for layer in self.layers:
            x = layer(x)
        return self.out(x)[:, 0]
