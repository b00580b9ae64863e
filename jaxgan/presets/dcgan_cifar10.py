"""Run: ``jaxgan train --preset dcgan-cifar10``.

DCGAN for 32×32×3 images (one more up/down-sampling stage than the 28×28 model: z(100) →
4·4·512 → 256 → 128 (8×8) → 64 (16×16) → 3 (32×32)), DCGAN's Adam(2e-4, β1 0.5), batch 64,
100,000 iterations. Data: ``cifar10`` through tensorflow-datasets (prepared once with the ``tf``
extra, or copied into ``~/tensorflow_datasets``). Slow on a CPU: use a GPU.
"""

from jaxgan.config import TrainConfig

CONFIG = TrainConfig(
    name="dcgan-cifar10",
    data="cifar10",
    image_shape=(32, 32, 3),
    model="dcgan",
    latent_dim=100,
    width=64,
    kernel_size=5,
    upsample="auto",
    d_dropout=0.3,
    loss="non_saturating",
    lr=2e-4,
    b1=0.5,
    b2=0.999,
    batch_size=64,
    steps=100_000,
    steps_per_call=100,
    log_every=100,
    sample_every=2000,
    checkpoint_every=2000,
)
