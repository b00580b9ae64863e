"""Run: ``jaxgan train --preset stacked-mnist-dcgan --seeds 5`` (table of modes and KL per seed).

The Stacked MNIST baseline of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):
three MNIST digits drawn independently, one per channel (28×28×3, 1,000 modes), 128,000
training images, DCGAN with z(100), Adam(2e-4, β1 0.5), batch 64, 50 epochs (100,000
iterations). Evaluation (``--seeds`` summary or ``jaxgan eval``): each channel of 26,000
samples is classified by jaxgan's MNIST classifier; modes = distinct digit triples,
KL(p_gen ‖ uniform over 1,000) in nats. Published: DCGAN 99 modes / KL 3.4 (VEEGAN's run),
78.9 ± 6.5 / 4.50 ± 0.13 (PacGAN's run).

Data: ``stacked_mnist`` builds the triples from ``mnist`` (tensorflow-datasets). Offline, from
MNIST IDX files: ``--set data=stacked_mnist:idx:<folder> --set data_split=test`` builds them
from the 10,000 test digits (``t10k-*`` files), which is what docs/results.md ran. The full
schedule needs a GPU; docs/results.md lists the shortened CPU runs and their commands.
"""

from jaxgan.presets.dcgan_mnist import CONFIG as DCGAN_MNIST

CONFIG = DCGAN_MNIST.replace(
    name="stacked-mnist-dcgan",
    data="stacked_mnist",
    image_shape=(28, 28, 3),
    epochs=50,
    sample_every=2000,
    checkpoint_every=2000,
)
