"""Run: ``jaxgan train --preset ring8`` (quick look: ``--steps 20000``; PacGAN2: ``--set pack=2``).

PacGAN's toy setup (Lin et al. 2018, Table 1) on ring8, 8 Gaussians on the unit circle (σ 0.01):
100,000 training points, z 2-D N(0, I), G 4×400 ReLU + BatchNorm, D 3×200 maxout(5),
Adam(1e-4, β1 0.8), batch 100, 400 epochs (400,000 iterations). Sample plots are scatters of
2,500 generated points (PacGAN's evaluation size) over the real data.
"""

from jaxgan.experiment.config import TrainConfig

CONFIG = TrainConfig.of(
    name="ring8",
    data="ring8",
    image_shape=(2,),
    model="toy",
    latent_dim=2,
    g_hidden=400,
    g_depth=4,
    batch_norm=True,
    d_hidden=200,
    d_depth=3,
    maxout_pieces=5,
    pack=1,
    loss="non_saturating",
    lr=1e-4,
    b1=0.8,
    b2=0.999,
    batch_size=100,
    epochs=400,
    steps_per_call=100,
    log_every=500,
    sample_every=10_000,
    checkpoint_every=10_000,
    scatter_points=2500,
)
