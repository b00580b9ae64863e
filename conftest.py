"""Settings shared by the tests and the docstring examples that pytest collects from jaxgan/."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    """Give every docstring example the names the examples use without importing them."""
    doctest_namespace.update({"jax": jax, "jnp": jnp, "np": np, "nnx": nnx})


@functools.cache
def _tiny_states() -> tuple[Any, Any]:
    """Build a small seed-style GAN (z 100 → 16 → 28×28×1) and a stack of two of its runs."""
    import jaxgan
    from jaxgan import ensembles, models

    def build(key: Any) -> Any:
        return jaxgan.create_state(
            lambda rngs: models.MLPGenerator(hidden=16, rngs=rngs),
            lambda rngs: models.MLPDiscriminator(hidden=16, rngs=rngs),
            key=key,
        )

    stacked, _ = ensembles.create_ensemble(build, [0, 1])
    return build(jax.random.key(0)), stacked


@pytest.fixture(autouse=True)
def _doctest_states(request: pytest.FixtureRequest, doctest_namespace: dict) -> None:
    """Give the examples of a module that asks for them a small ``state`` and ``stacked`` runs."""
    module = getattr(request.node, "dtest", None)
    if module is None or "state" not in (module.docstring or "") + "".join(
        example.source for example in module.examples
    ):
        return
    state, stacked = _tiny_states()
    real = jnp.zeros((8, 28, 28, 1), jnp.float32)
    doctest_namespace.update({"state": state, "stacked": stacked, "real": real})
