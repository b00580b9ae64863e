"""Run: ``jaxgan train --preset sngan-cifar10`` (on a GPU; data: ``cifar10``, see below).

SNGAN's CIFAR-10 ResNet (Miyato et al. 2018; the setup mimicry reproduces): G z(128) →
4·4·256 → three up-sampling residual blocks of 256 channels with BatchNorm → 32×32×3 tanh;
D, every layer spectrally normalised: an optimized down-block, a down-block and two blocks of 128
channels, ReLU, global sum pooling, linear → logit. Hinge loss, n_critic 5 (five D updates per G
update, each on its own batch of 64), Adam(2e-4, β1 0, β2 0.9) for both players, batch 64, 50,000
generator iterations (the SNGAN paper's length; mimicry's example trains 100,000: add
``--steps 100000``), Adam's updates decayed linearly to 0 over the run (``lr_schedule=linear``,
as mimicry does).

Published targets (../shared/ANCHORS.md, "CIFAR-10 image quality"; FID with the TF Inception
network, compare only at the same sample counts): SNGAN paper SN-ResNet 21.7 (10k real vs 5k
fake); mimicry SNGAN 16.8 (50k/50k); StudioGAN SNGAN 9.0 (50k/50k, its own longer recipe).

Needs a GPU (on a 2-core CPU one iteration takes seconds; see benchmarks/step_time.py
``--archs sn-resnet``) and the ``cifar10`` tensorflow-datasets data, prepared once with the
``tf`` extra (or in array_record format elsewhere) in ``$TFDS_DATA_DIR`` /
``~/tensorflow_datasets``; or any 32×32 images as IDX files: ``--data idx:<folder>``. Offline
without the data, ``jaxgan train`` stops at once with a one-line error saying so.
"""

from jaxgan.experiment.config import TrainConfig

CONFIG = TrainConfig.of(
    name="sngan-cifar10",
    data="cifar10",
    image_shape=(32, 32, 3),
    model="resnet",
    latent_dim=128,
    width=256,
    d_width=128,
    loss="hinge",
    n_critic=5,
    lr=2e-4,
    b1=0.0,
    b2=0.9,
    lr_schedule="linear",
    batch_size=64,
    steps=50_000,
    steps_per_call=100,
    log_every=100,
    sample_every=2500,
    checkpoint_every=2500,
)
