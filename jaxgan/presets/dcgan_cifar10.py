"""Run: ``jaxgan train --preset dcgan-cifar10``.

DCGAN for 32×32×3 images (one more up/down-sampling stage than the 28×28 model: z(100) →
4·4·512 → 256 → 128 (8×8) → 64 (16×16) → 3 (32×32)), DCGAN's Adam(2e-4, β1 0.5), batch 64,
100,000 iterations. Data: ``cifar10`` through tensorflow-datasets (prepared once with the ``tf``
extra, or copied into ``$TFDS_DATA_DIR`` / ``~/tensorflow_datasets``). Slow on a CPU: use a GPU.

Published target (../shared/ANCHORS.md, "CIFAR-10 image quality"): StudioGAN DCGAN FID 48.3
(50k real vs 50k fake, TF Inception; StudioGAN's own DCGAN recipe, not this exact one). For
comparison: SNGAN paper SN-DCGAN 29.3 (10k vs 5k); the SN-ResNet of ``sngan-cifar10`` 21.7.
"""

from jaxgan.presets.dcgan_mnist import CONFIG as DCGAN_MNIST

CONFIG = DCGAN_MNIST.replace(
    name="dcgan-cifar10",
    data="cifar10",
    image_shape=(32, 32, 3),
    steps=100_000,
    sample_every=2000,
    checkpoint_every=2000,
)
