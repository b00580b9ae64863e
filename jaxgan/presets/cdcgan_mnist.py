"""Run: ``jaxgan train --preset cdcgan-mnist --data idx:<folder with MNIST IDX files>``.

``cdcgan-fashion-mnist``'s class-conditional DCGAN on MNIST digits: 100 labelled images per
class (``--set per_class=K`` for another K, the same fixed subset as in every other run), width
32, DiffAugment translation (digits: no flips), EMA 0.999, 3,000 iterations;
``--set conditioning=auxiliary`` makes it an AC-GAN. Data: ``mnist``
through tensorflow-datasets or ``--data idx:<folder>`` with train-images/train-labels IDX files.
"""

from jaxgan.presets.cdcgan_fashion_mnist import CONFIG as CDCGAN_FASHION_MNIST

CONFIG = CDCGAN_FASHION_MNIST.replace(name="cdcgan-mnist", data="mnist")
