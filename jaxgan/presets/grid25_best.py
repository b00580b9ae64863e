"""Run: ``jaxgan train --preset grid25-best --seeds 5`` (mean ± s.e. of modes, % high quality, rKL).

jaxgan's recipe for grid25 (25 Gaussians at {−4,−2,0,2,4}², σ 0.05; PacGAN's data and
evaluation): G 4×256 ReLU without BatchNorm, D 2×128 maxout(5), Adam(1e-3, β1 0.5), batch 100,
an R1 penalty on D (γ 0.1, Mescheder et al. 2018), an EMA of G's weights (decay 0.999) for
sampling, and 40,000 iterations (10% of PacGAN's 400,000) with both learning rates decayed
linearly to 0: at a constant rate a seed that was at 95% fell to 60% between 40k and 50k
iterations; the decay ends training on a settled G. docs/results.md has its table next to
PacGAN's rows.
"""

from jaxgan.experiment.config import TrainConfig

CONFIG = TrainConfig.of(
    name="grid25-best",
    data="grid25",
    image_shape=(2,),
    model="toy",
    latent_dim=2,
    g_hidden=256,
    g_depth=4,
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
    lr_schedule="linear",
    batch_size=100,
    steps=40_000,
    steps_per_call=100,
    log_every=500,
    sample_every=5000,
    checkpoint_every=5000,
    scatter_points=2500,
)
