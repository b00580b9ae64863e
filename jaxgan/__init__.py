"""jaxgan: generative adversarial networks in JAX and Flax NNX.

The functional core: Flax modules (``jaxgan.models``), pure losses (``jaxgan.losses``), an
immutable ``GANState`` (``jaxgan.state``) and pure steps (``jaxgan.steps``). Above it, the one
training driver ``jaxgan.fit`` with its hooks (``jaxgan.hooks``), many runs at once
(``jaxgan.ensembles``), many devices (``jaxgan.sharding``), data, metrics and plots, and the
experiment layer behind the ``jaxgan`` command (``jaxgan.experiment``).

Example:
    >>> import jax, jaxgan
    >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator, jaxgan.models.MLPDiscriminator,
    ...                             key=jax.random.key(0))
    >>> int(state.step)
    0

"""

from jaxgan import (
    augment,
    compile_cache,
    data,
    ensembles,
    experiment,
    hooks,
    losses,
    metrics,
    models,
    penalties,
    sharding,
    viz,
)
from jaxgan.compile_cache import enable_compile_cache
from jaxgan.loop import batch_indices, choose_loop, fit
from jaxgan.losses import LOSSES, GANLoss, get_loss
from jaxgan.sampling import generate_batches
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
    "augment",
    "batch_indices",
    "choose_loop",
    "compile_cache",
    "create_state",
    "d_step",
    "d_update",
    "data",
    "default_optimizer",
    "discriminate",
    "ema_update",
    "enable_compile_cache",
    "ensembles",
    "experiment",
    "fit",
    "g_step",
    "g_update",
    "generate",
    "generate_batches",
    "get_loss",
    "hooks",
    "losses",
    "metrics",
    "models",
    "penalties",
    "sample_latent",
    "sharding",
    "train_step",
    "train_update",
    "viz",
]
