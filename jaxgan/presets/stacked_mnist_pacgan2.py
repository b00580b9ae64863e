"""Run: ``jaxgan train --preset stacked-mnist-pacgan2 --seeds 5`` (modes and KL per seed).

The Stacked MNIST remedy: PacGAN2 (Lin et al. 2018): the baseline ``stacked-mnist-dcgan``
unchanged except that D judges two samples at once (``pack=2``: channels of a pair stacked,
28×28×6), so a G that repeats itself is easy to spot. Published (PacGAN, Table 3): PacDCGAN2
covers all 1,000 modes with KL 0.06-0.07, where the DCGAN baseline covers 78.9 ± 6.5.

Data and evaluation as in ``stacked-mnist-dcgan`` (offline: ``--set
data=stacked_mnist:idx:<folder> --set data_split=test``). docs/results.md lists the shortened
CPU runs and their commands.
"""

from jaxgan.presets.stacked_mnist_dcgan import CONFIG as BASELINE

CONFIG = BASELINE.replace(name="stacked-mnist-pacgan2", pack=2)
