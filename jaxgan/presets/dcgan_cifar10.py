"""Run: ``jaxgan train --preset dcgan-cifar10``.

DCGAN for 32×32×3 images (one more up/down-sampling stage than the 28×28 model: z(100) →
4·4·512 → 256 → 128 (8×8) → 64 (16×16) → 3 (32×32)), DCGAN's Adam(2e-4, β1 0.5), batch 64,
100,000 iterations. Data: ``cifar10`` through tensorflow-datasets (prepared once with the ``tf``
extra, or copied into ``$TFDS_DATA_DIR`` / ``~/tensorflow_datasets``). Slow on a CPU: use a GPU.

Published target (../shared/ANCHORS.md, "CIFAR-10 image quality"): StudioGAN DCGAN FID 48.3
(50k real vs 50k fake, TF Inception; StudioGAN's own DCGAN recipe, not this exact one). For
comparison: SNGAN paper SN-DCGAN 29.3 (10k vs 5k); the SN-ResNet of ``sngan-cifar10`` 21.7.
"""

from jaxgan.experiment.config import TrainConfig

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
