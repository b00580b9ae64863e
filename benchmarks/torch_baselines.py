"""PyTorch twins of jaxgan's seed MLP and DCGAN pairs, trained the PyTorch DCGAN example's way.

Used by ``benchmarks/step_time.py`` as the baseline in the same process. Importing this module
needs ``torch`` (``pip install 'jaxgan[torch]'``, i.e. ``torch==2.13.0``); the benchmark catches
the ``ImportError`` and reports the PyTorch rows as "n/a".

What matches jaxgan: layer shapes, activations, dropout, BatchNorm placement, Adam(2e-4, β
0.5/0.999), BCE-with-logits non-saturating loss, ``model.train()``. What does not: PyTorch's
default initialisation (same init scale is not required), NCHW layout, and the iteration follows
the PyTorch DCGAN example (pytorch/examples ``dcgan/main.py``): D on real, then on
``fake.detach()``, then G against the *same* fake batch. That is one generator forward per
iteration; jaxgan's ``train_step`` draws fresh noise for its G update (two generator forwards).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
from torch import nn

ImageShape = tuple[int, int, int]


class MLPGenerator(nn.Module):
    """z(100) → Linear(128) ReLU → Dropout(0.3) → Linear(784) tanh → (B, C, H, W).

    Args:
        latent_dim: size of z.
        hidden: hidden width.
        dropout: dropout rate after the hidden layer.
        image_shape: (H, W, C) of the output.

    Example:
        >>> MLPGenerator()(torch.zeros(2, 100)).shape
        torch.Size([2, 1, 28, 28])

    """

    def __init__(
        self,
        latent_dim: int = 100,
        hidden: int = 128,
        dropout: float = 0.3,
        image_shape: ImageShape = (28, 28, 1),
    ):
        super().__init__()
        self.image_shape = image_shape
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, math.prod(image_shape)),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map z (B, latent_dim) to images (B, C, H, W)."""
        h, w, c = self.image_shape
        return self.net(z).view(-1, c, h, w)


class MLPDiscriminator(nn.Module):
    """flatten → Linear(128) LeakyReLU(0.2) → Linear(1): one logit per image.

    Args:
        image_shape: (H, W, C) of the input.
        hidden: hidden width.

    Example:
        >>> MLPDiscriminator()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2])

    """

    def __init__(self, image_shape: ImageShape = (28, 28, 1), hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(image_shape), hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (B,)."""
        return self.net(x).view(-1)


class DCGANGenerator(nn.Module):
    """The Keras DCGAN tutorial generator for 28×28: Linear → BN → 3 transposed convs 5×5.

    z → 7·7·4w (BN, LeakyReLU) → ConvT stride 1 → 2w → ConvT stride 2 → w (14×14) →
    ConvT stride 2 → C (28×28), tanh; BatchNorm + LeakyReLU(0.2) after each hidden layer.

    Args:
        latent_dim: size of z.
        width: channels of the last hidden layer.
        channels: image channels.

    Example:
        >>> DCGANGenerator(width=8)(torch.zeros(2, 100)).shape
        torch.Size([2, 1, 28, 28])

    """

    def __init__(self, latent_dim: int = 100, width: int = 64, channels: int = 1):
        super().__init__()
        self.base_channels = 4 * width
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 4 * width, bias=False),
            nn.BatchNorm1d(7 * 7 * 4 * width, momentum=0.1),
            nn.LeakyReLU(0.2),
        )

        def up(cin: int, cout: int, stride: int) -> list[nn.Module]:
            return [
                nn.ConvTranspose2d(
                    cin, cout, 5, stride, padding=2, output_padding=stride - 1, bias=False
                ),
                nn.BatchNorm2d(cout, momentum=0.1),
                nn.LeakyReLU(0.2),
            ]

        self.ups = nn.Sequential(
            *up(4 * width, 2 * width, 1),
            *up(2 * width, width, 2),
            nn.ConvTranspose2d(width, channels, 5, 2, padding=2, output_padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map z (B, latent_dim) to images (B, C, 28, 28)."""
        h = self.project(z).view(-1, self.base_channels, 7, 7)
        return self.ups(h)


class DCGANDiscriminator(nn.Module):
    """The Keras DCGAN tutorial discriminator: 2 × [Conv 5×5 stride 2, LeakyReLU, Dropout] → logit.

    Args:
        width: channels of the first conv (doubled by the second).
        channels: image channels.
        dropout: dropout rate after each conv.

    Example:
        >>> DCGANDiscriminator(width=8)(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2])

    """

    def __init__(self, width: int = 64, channels: int = 1, dropout: float = 0.3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 5, 2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Conv2d(width, 2 * width, 5, 2, padding=2),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Flatten(),
            nn.Linear(7 * 7 * 2 * width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (B,)."""
        return self.net(x).view(-1)


def build_pair(arch: str, *, width: int = 64, latent_dim: int = 100) -> tuple[nn.Module, nn.Module]:
    """Build the (generator, discriminator) twin of a jaxgan benchmark architecture.

    Args:
        arch: ``"mlp"`` (the seed pair) or ``"dcgan"`` (28×28×1).
        width: DCGAN width (ignored for the MLP).
        latent_dim: size of z.

    Returns:
        ``(G, D)`` on the CPU, in training mode.

    Example:
        >>> g, d = build_pair("mlp")

    """
    if arch == "mlp":
        pair = MLPGenerator(latent_dim), MLPDiscriminator()
    elif arch == "dcgan":
        pair = DCGANGenerator(latent_dim, width), DCGANDiscriminator(width)
    else:
        raise ValueError(f"no PyTorch baseline for arch {arch!r}; use 'mlp' or 'dcgan'")
    for model in pair:
        model.train()
    return pair


@dataclasses.dataclass
class TorchGAN:
    """A PyTorch GAN with the DCGAN example's optimiser, loss and step order.

    Attributes:
        generator: G (possibly wrapped by ``torch.compile``).
        discriminator: D (possibly wrapped by ``torch.compile``).
        g_optimizer: Adam for G.
        d_optimizer: Adam for D.
        latent_dim: size of z.
        device: where everything lives.
        autocast_dtype: ``torch.bfloat16`` for mixed precision, ``None`` for float32.

    """

    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: torch.optim.Optimizer
    d_optimizer: torch.optim.Optimizer
    latent_dim: int
    device: torch.device
    autocast_dtype: torch.dtype | None = None
    criterion: Callable[..., torch.Tensor] = dataclasses.field(default_factory=nn.BCEWithLogitsLoss)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(
            self.device.type,
            dtype=self.autocast_dtype or torch.bfloat16,
            enabled=self.autocast_dtype is not None,
        )

    def _bce(self, logits: torch.Tensor, target: float) -> torch.Tensor:
        logits = logits.float()
        return self.criterion(logits, torch.full_like(logits, target))

    def _noise(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.latent_dim, device=self.device)

    def d_step(self, real: torch.Tensor) -> torch.Tensor:
        """One D update on ``real`` and a fresh fake batch; returns the D loss (no host sync).

        Args:
            real: (B, C, H, W) in [-1, 1] on ``device``.

        Returns:
            The D loss tensor.

        Example:
            >>> loss = gan.d_step(real)  # doctest: +SKIP

        """
        self.discriminator.zero_grad(set_to_none=True)
        with self._autocast():
            err_real = self._bce(self.discriminator(real), 1.0)
        err_real.backward()
        with torch.no_grad(), self._autocast():
            fake = self.generator(self._noise(real.shape[0]))
        with self._autocast():
            err_fake = self._bce(self.discriminator(fake), 0.0)
        err_fake.backward()
        self.d_optimizer.step()
        return err_real.detach() + err_fake.detach()

    def g_step(self, batch_size: int) -> torch.Tensor:
        """One G update (non-saturating loss) on fresh noise; returns the G loss.

        Args:
            batch_size: number of generated samples.

        Returns:
            The G loss tensor.

        Example:
            >>> loss = gan.g_step(64)  # doctest: +SKIP

        """
        self.generator.zero_grad(set_to_none=True)
        with self._autocast():
            err_g = self._bce(self.discriminator(self.generator(self._noise(batch_size))), 1.0)
        err_g.backward()
        self.g_optimizer.step()
        return err_g.detach()

    def iteration(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One iteration exactly as the PyTorch DCGAN example writes it.

        (1) D on real, D on ``fake.detach()``, D optimiser step; (2) G against D on the same
        ``fake``, G optimiser step.

        Args:
            real: (B, C, H, W) in [-1, 1] on ``device``.

        Returns:
            ``(d_loss, g_loss)`` tensors.

        Example:
            >>> d_loss, g_loss = gan.iteration(real)  # doctest: +SKIP

        """
        self.discriminator.zero_grad(set_to_none=True)
        with self._autocast():
            err_real = self._bce(self.discriminator(real), 1.0)
        err_real.backward()
        with self._autocast():
            fake = self.generator(self._noise(real.shape[0]))
            err_fake = self._bce(self.discriminator(fake.detach()), 0.0)
        err_fake.backward()
        self.d_optimizer.step()

        self.generator.zero_grad(set_to_none=True)
        with self._autocast():
            err_g = self._bce(self.discriminator(fake), 1.0)
        err_g.backward()
        self.g_optimizer.step()
        return err_real.detach() + err_fake.detach(), err_g.detach()


def make_gan(
    arch: str,
    *,
    device: str = "cpu",
    width: int = 64,
    bf16: bool = False,
    compile_models: bool = False,
    seed: int = 0,
) -> TorchGAN:
    """Build a ``TorchGAN`` twin of a jaxgan benchmark setup.

    Args:
        arch: ``"mlp"`` or ``"dcgan"``.
        device: a torch device string, e.g. ``"cpu"`` or ``"cuda"``.
        width: DCGAN width.
        bf16: run forward/backward under ``torch.autocast(bfloat16)`` (parameters and Adam
            state stay float32, like jaxgan's ``compute_dtype="bfloat16"``).
        compile_models: wrap G and D in ``torch.compile`` (default mode; the optimiser step
            stays eager). Compilation happens on the first call.
        seed: ``torch.manual_seed`` for the initial weights and noise.

    Returns:
        The ready-to-train ``TorchGAN``.

    Example:
        >>> gan = make_gan("mlp")
        >>> d_loss, g_loss = gan.iteration(torch.zeros(8, 1, 28, 28))

    """
    torch.manual_seed(seed)
    dev = torch.device(device)
    g, d = (m.to(dev) for m in build_pair(arch, width=width))
    g_opt = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    if compile_models:
        g, d = torch.compile(g), torch.compile(d)
    return TorchGAN(
        generator=g,
        discriminator=d,
        g_optimizer=g_opt,
        d_optimizer=d_opt,
        latent_dim=100,
        device=dev,
        autocast_dtype=torch.bfloat16 if bf16 else None,
    )


def synchronize(device: torch.device) -> None:
    """Wait until queued work on ``device`` is done (CUDA is asynchronous; CPU is not).

    Args:
        device: the device the GAN runs on.

    Example:
        >>> synchronize(torch.device("cpu"))

    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_images(batch_size: int, *, device: str = "cpu", seed: int = 0) -> torch.Tensor:
    """A fixed batch of uniform noise images in [-1, 1], shape (B, 1, 28, 28).

    Args:
        batch_size: B.
        device: torch device string.
        seed: generator seed.

    Returns:
        A float32 tensor on ``device``.

    Example:
        >>> random_images(2).shape
        torch.Size([2, 1, 28, 28])

    """
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch_size, 1, 28, 28, generator=gen) * 2 - 1).to(device)
