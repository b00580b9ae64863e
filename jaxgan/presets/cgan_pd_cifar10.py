"""Run: ``jaxgan train --preset cgan-pd-cifar10`` (on a GPU; labelled ``cifar10``, see below).

Class-conditional SNGAN with a projection discriminator (cGAN-PD; Miyato & Koyama 2018, as
reproduced by mimicry) on CIFAR-10's 10 classes. The architecture of ``sngan-cifar10`` (G 256
channels, D 128, latent 128) made conditional: G's BatchNorms are conditional BatchNorms (a
scale and shift per class), and D adds the projection ``⟨embed(y), φ(x)⟩`` of a spectrally
normalised class embedding to its logit. The class count comes from the data's labels. Same game
and optimiser: hinge loss, n_critic 5, Adam(2e-4, β1 0, β2 0.9) decayed linearly to 0, batch 64,
50,000 generator iterations (mimicry's example: 100,000, ``--steps 100000``). Fake labels are
drawn uniformly; sample grids show one class per row; ``jaxgan eval`` generates balanced classes.

Published target (../shared/ANCHORS.md, "CIFAR-10 image quality"; TF Inception FID, 50k real vs
50k fake): mimicry cGAN-PD 10.8 (its unconditional SNGAN: 16.8).

Needs a GPU and the ``cifar10`` tensorflow-datasets data with its labels, prepared once with the
``tf`` extra in ``$TFDS_DATA_DIR`` / ``~/tensorflow_datasets``; or 32×32 images with labels as
IDX files: ``--data idx:<folder>`` holding train-images-idx3-ubyte and train-labels-idx1-ubyte.
Offline without the data, ``jaxgan train`` stops at once with a one-line error saying so.
"""

from jaxgan.presets.sngan_cifar10 import CONFIG as SNGAN

# SNGAN's setup, conditioned on the labels through a projection discriminator
CONFIG = SNGAN.replace(name="cgan-pd-cifar10", conditional=True)
