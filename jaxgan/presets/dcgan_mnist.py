"""Run: ``jaxgan train --preset dcgan-mnist`` (or ``--data idx:<folder with MNIST IDX files>``).

DCGAN for 28×28×1 digits (the TensorFlow DCGAN tutorial's architecture at width 64: z(100) →
7·7·256 → transposed convs 5×5 with BatchNorm + LeakyReLU → 28×28 tanh; D two 5×5 stride-2
convs with LeakyReLU(0.2) + Dropout(0.3)), DCGAN's Adam(2e-4, β1 0.5), batch 64, 25 epochs.
Data: ``mnist`` through tensorflow-datasets (prepared once with the ``tf`` extra) or
``--data idx:<folder>`` holding ``train-images-idx3-ubyte(.gz)``. Slow on a CPU: use a GPU.
"""

from jaxgan.experiment.config import TrainConfig

CONFIG = TrainConfig.of(
    name="dcgan-mnist",
    data="mnist",
    image_shape=(28, 28, 1),
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
    epochs=25,
    steps_per_call=100,
    log_every=100,
    sample_every=1000,
    checkpoint_every=1000,
)
