"""Run: ``jaxgan train --preset stacked-mnist-pacgan2 --seeds 5`` (modes and KL per seed).

The Stacked MNIST remedy: PacGAN2 (Lin et al. 2018): the baseline ``stacked-mnist-dcgan``
unchanged except that D judges two samples at once (``pack=2``: channels of a pair stacked,
28×28×6), so a G that repeats itself is easy to spot. Published (PacGAN, Table 3): PacDCGAN2
covers all 1,000 modes with KL 0.06-0.07, where the DCGAN baseline covers 78.9 ± 6.5.

Data and evaluation as in ``stacked-mnist-dcgan`` (offline: ``--set
data=stacked_mnist:idx:<folder> --set data_split=test``). docs/results.md lists the shortened
CPU runs and their commands.
"""

from jaxgan.config import TrainConfig

CONFIG = TrainConfig(
    name="stacked-mnist-pacgan2",
    data="stacked_mnist",
    image_shape=(28, 28, 3),
    model="dcgan",
    latent_dim=100,
    width=64,
    kernel_size=5,
    upsample="auto",
    d_dropout=0.3,
    loss="non_saturating",
    pack=2,
    lr=2e-4,
    b1=0.5,
    b2=0.999,
    batch_size=64,
    epochs=50,
    steps_per_call=100,
    log_every=100,
    sample_every=2000,
    checkpoint_every=2000,
)
