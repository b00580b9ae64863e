"""Run: ``jaxgan train --preset grid25`` (quick look: ``--steps 20000``; PacGAN2: ``--set pack=2``).

PacGAN's toy setup (Lin et al. 2018, Table 1) on grid25, 25 Gaussians at {−4,−2,0,2,4}² (σ 0.05):
100,000 training points, z 2-D N(0, I), G 4×400 ReLU + BatchNorm, D 3×200 maxout(5),
Adam(1e-4, β1 0.8), batch 100, 400 epochs (400,000 iterations). Sample plots are scatters of
2,500 generated points (PacGAN's evaluation size) over the real data.
"""

from jaxgan.presets.ring8 import CONFIG as RING8

# PacGAN's ring8 setup on the 5×5 grid: only the data and the run's name differ
CONFIG = RING8.replace(name="grid25", data="grid25")
