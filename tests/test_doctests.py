"""The examples in the core modules' docstrings run and print what they claim."""

import doctest
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

MODULES = [
    "jaxgan.losses",
    "jaxgan.penalties",
    "jaxgan.models.layers",
    "jaxgan.models.mlp",
    "jaxgan.models.dcgan",
    "jaxgan.state",
    "jaxgan.loop",
    "jaxgan.ensembles",
    "jaxgan.data.dataset",
    "jaxgan.data.idx",
    "jaxgan.metrics.torch_weights",
    "jaxgan.hooks",
    "jaxgan.checkpoint",
    "jaxgan.experiment.guards",
    "jaxgan.experiment.lock",
    "jaxgan.experiment.signals",
    "jaxgan.experiment.quiet",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    globs = {"jax": jax, "jnp": jnp, "np": np, "nnx": nnx, **vars(module)}
    result = doctest.testmod(
        module, extraglobs=globs, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0
    assert result.attempted > 0
