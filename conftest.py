"""Settings shared by the tests and the docstring examples that pytest collects from jaxgan/."""

from __future__ import annotations

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
