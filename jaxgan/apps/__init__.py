"""Applications of trained models: inpainting and GAN inversion, and helpers they need.

- ``invert`` / ``inpaint``: latent search through a trained generator (Yeh et al. 2017), one
  compiled call for many images × restarts (``jaxgan.apps.inversion``).
- masks (``make_mask``, ``check_mask``, ``jaxgan.apps.masks``) and blending (``poisson_blend``,
  ``harmonic_fill``, ``jaxgan.apps.blend``).
- ``jaxgan.apps.inpainting``: the study behind ``jaxgan inpaint``: a run, a dataset, masks,
  metrics on the hole and the whole image, and the baselines.
- ``jaxgan.apps.classifier``: training the evaluation classifiers.
"""

from jaxgan.apps.blend import harmonic_fill, paste, poisson_blend
from jaxgan.apps.inversion import InversionResult, initial_latents, inpaint, invert
from jaxgan.apps.masks import MaskError, check_mask, make_mask

__all__ = [
    "InversionResult",
    "MaskError",
    "check_mask",
    "harmonic_fill",
    "initial_latents",
    "inpaint",
    "invert",
    "make_mask",
    "paste",
    "poisson_blend",
]
