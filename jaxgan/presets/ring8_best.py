"""Run: ``jaxgan train --preset ring8-best --seeds 5`` (mean ± s.e. of modes, % high quality, rKL).

jaxgan's recipe for ring8 (8 Gaussians on the unit circle, σ 0.01; PacGAN's data and
evaluation): smaller players without BatchNorm (G 3×128 ReLU, D 2×128 maxout(5)), Adam(1e-3,
β1 0.5), batch 100, an R1 penalty on D (γ 0.1, Mescheder et al. 2018) that lets G settle on
the modes, an EMA of G's weights (decay 0.999) for sampling, and 10,000 iterations (2.5% of
PacGAN's 400,000). docs/results.md has its table next to PacGAN's rows.
"""

from jaxgan.experiment.config import TrainConfig

CONFIG = TrainConfig.of(
    name="ring8-best",
    data="ring8",
    image_shape=(2,),
    model="toy",
    latent_dim=2,
    g_hidden=128,
    g_depth=3,
    batch_norm=False,
    d_hidden=128,
    d_depth=2,
    maxout_pieces=5,
    loss="non_saturating",
    r1=0.1,
    lr=1e-3,
    b1=0.5,
    b2=0.999,
    ema_decay=0.999,
    batch_size=100,
    steps=10_000,
    steps_per_call=100,
    log_every=500,
    sample_every=2500,
    checkpoint_every=2500,
    scatter_points=2500,
)
