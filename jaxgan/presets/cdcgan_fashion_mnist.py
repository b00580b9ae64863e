"""Run: ``jaxgan train --preset cdcgan-fashion-mnist --data idx:<folder with Fashion-MNIST>``.

A class-conditional DCGAN for the small labelled sets of the augmentation study (issue 18;
``jaxgan augment-study``): the 28×28 DCGAN of ``dcgan-mnist`` at width 32, made conditional
(conditional BatchNorm in G, a projection discriminator), trained on ``per_class=100`` labelled
images of each of the 10 classes (1,000 images; ``--set per_class=10`` for 100). The subset is
``jaxgan.data.per_class_subset``'s, chosen by the fixed ``jaxgan.data.SUBSET_SEED``, so every run
and every arm of the study sees the same images. Small data: DiffAugment translation on real and
fake images, EMA of G's weights (0.999) for sampling, Adam(2e-4, β1 0.5), batch 64, 3,000
iterations (about 10 minutes on a 2-core CPU). Data: ``fashion_mnist`` through
tensorflow-datasets or ``--data idx:<folder>`` holding train-images/train-labels IDX files.
Then ``jaxgan export --run <run> --n 60000 --per-class --out <folder>`` writes a labelled
synthetic training set. ``--set conditioning=auxiliary`` trains an AC-GAN instead (Odena et al.
2017: D gets an auxiliary classifier head and an unconditional logit; ``ac_weight`` weighs the
class cross-entropy; docs/results.md compares the two).
"""

from jaxgan.presets.dcgan_mnist import CONFIG as DCGAN_MNIST

CONFIG = DCGAN_MNIST.replace(
    name="cdcgan-fashion-mnist",
    data="fashion_mnist",
    per_class=100,
    conditional=True,
    width=32,
    augment="translation",
    ema_decay=0.999,
    steps=3000,
    sample_every=500,
    checkpoint_every=500,
)
