"""Run: ``jaxgan train`` (the default) or ``jaxgan train --preset seed-mlp``.

The seed's fully connected GAN on the bundled Fashion-MNIST sample (5,000 images, offline):
G z(100) → 128 ReLU → Dropout(0.3) → 784 tanh, D 784 → 128 LeakyReLU(0.2) → logit,
non-saturating loss, Adam(2e-4, β1 0.5) for both players, batch 64.
"""

from jaxgan.experiment.config import TrainConfig

CONFIG = TrainConfig.of(
    name="seed-mlp",
    data="fashion_mnist_sample",
    image_shape=(28, 28, 1),
    model="mlp",
    latent_dim=100,
    g_hidden=128,
    d_hidden=128,
    g_dropout=0.3,
    d_dropout=0.0,
    loss="non_saturating",
    lr=2e-4,
    b1=0.5,
    b2=0.999,
    batch_size=64,
    steps=30_000,
    steps_per_call=100,
    log_every=100,
    sample_every=2500,
    checkpoint_every=5000,
)
