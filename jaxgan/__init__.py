"""jaxgan: generative adversarial networks in JAX and Flax NNX.

The functional core: Flax modules (``jaxgan.models``), pure losses (``jaxgan.losses``), an
immutable ``GANState`` (``jaxgan.state``), jitted pure steps (``jaxgan.steps``) and an on-device
training loop (``jaxgan.loop.fit``).

Example:
    >>> import jax, jaxgan
    >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator, jaxgan.models.MLPDiscriminator,
    ...                             key=jax.random.key(0))
    >>> # state, history = jaxgan.fit(state, images, steps=1000, batch_size=64)

"""

from jaxgan import augment, data, ensembles, losses, metrics, models, penalties, sharding
from jaxgan.loop import as_training_array, batch_indices, choose_loop, fit
from jaxgan.losses import LOSSES, GANLoss, get_loss
from jaxgan.state import (
    GANState,
    Player,
    StepConfig,
    create_state,
    default_optimizer,
    discriminate,
    generate,
    sample_latent,
)
from jaxgan.steps import (
    d_step,
    d_update,
    ema_update,
    g_step,
    g_update,
    split_batch,
    train_step,
    train_update,
)

__version__ = "0.1.0"

__all__ = [
    "LOSSES",
    "GANLoss",
    "GANState",
    "Player",
    "StepConfig",
    "as_training_array",
    "augment",
    "batch_indices",
    "choose_loop",
    "create_state",
    "d_step",
    "d_update",
    "data",
    "default_optimizer",
    "discriminate",
    "ema_update",
    "ensembles",
    "fit",
    "g_step",
    "g_update",
    "generate",
    "get_loss",
    "losses",
    "metrics",
    "models",
    "penalties",
    "sample_latent",
    "sharding",
    "split_batch",
    "train_step",
    "train_update",
]
