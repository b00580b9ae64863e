"""XLA:CPU's convolution library per compiled program: Eigen by default, YNNPACK on request."""

import jax
import numpy as np
import optax
import pytest
from flax import nnx

import jaxgan
from jaxgan import models, xla_cpu

YNN = "__ynn_fusion"
"""How a YNNPACK fusion is named in compiled XLA:CPU HLO (tests/test_fid_protocols.py)."""


WIDTH = 32
"""Channels of the toy convolutions: XLA:CPU gives YNNPACK convolutions of 32 channels, not of 8."""


class ConvG(nnx.Module):
    """z (B, 4) -> (B, 8, 8, 1) through two convolutions: about the smallest G YNNPACK would run."""

    def __init__(self, rngs: nnx.Rngs):
        self.latent_dim = 4
        self.project = nnx.Linear(4, 8 * 8 * WIDTH, rngs=rngs)
        self.hidden = nnx.Conv(WIDTH, WIDTH, (3, 3), rngs=rngs)
        self.out = nnx.Conv(WIDTH, 1, (3, 3), rngs=rngs)

    def __call__(self, z):
        return self.out(jax.nn.relu(self.hidden(self.project(z).reshape((-1, 8, 8, WIDTH)))))


class ConvD(nnx.Module):
    """(B, 8, 8, 1) -> logits (B,) through two convolutions."""

    def __init__(self, rngs: nnx.Rngs):
        self.first = nnx.Conv(1, WIDTH, (3, 3), rngs=rngs)
        self.hidden = nnx.Conv(WIDTH, WIDTH, (3, 3), rngs=rngs)
        self.out = nnx.Linear(8 * 8 * WIDTH, 1, rngs=rngs)

    def __call__(self, x):
        h = self.hidden(jax.nn.relu(self.first(x)))
        return self.out(h.reshape((x.shape[0], -1)))[:, 0]


def test_steps_run_eigen_convolutions_by_default_and_ynnpack_on_request():
    """Only the compiled programs are read, so the step is compiled for an abstract state."""
    sgd = optax.sgd(0.1)
    state = jax.eval_shape(
        lambda: jaxgan.create_state(
            ConvG(nnx.Rngs(0)), ConvD(nnx.Rngs(1)), g_optimizer=sgd, d_optimizer=sgd
        )
    )
    real = jax.ShapeDtypeStruct((2, 8, 8, 1), np.float32)
    args = (state, real, jax.random.key(0))
    default = jaxgan.d_step.lower(*args).compile().as_text()
    ynnpack = jaxgan.d_step.lower(*args, cpu_convolutions="ynnpack").compile().as_text()
    assert "convolution" in default and YNN not in default
    assert YNN in ynnpack  # jaxlib 0.10's own default: the option is what changed it


def test_ynnpack_on_request_and_both_agree_to_rounding():
    conv = xla_cpu.jit(
        lambda x, w: jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
    )
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, WIDTH))
    w = jax.random.normal(jax.random.key(1), (3, 3, WIDTH, WIDTH))
    eigen = conv.lower(x, w).compile()
    ynnpack = conv.lower(x, w, cpu_convolutions="ynnpack").compile()
    assert YNN not in eigen.as_text()
    assert YNN in ynnpack.as_text()  # jaxlib 0.10's own default: the option is what changed it
    np.testing.assert_allclose(eigen(x, w), ynnpack(x, w), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(eigen(x, w), eigen(x, w))  # same process, same bits


def test_bad_choices_raise_before_anything_runs():
    with pytest.raises(ValueError, match="cpu_convolutions must be one of eigen, ynnpack"):
        jaxgan.d_step(None, None, None, cpu_convolutions="mkl")
    state = jaxgan.create_state(models.MLPGenerator, models.MLPDiscriminator, key=jax.random.key(0))
    before = jax.tree.map(np.asarray, state)
    images = np.zeros((64, 28, 28, 1), np.uint8)
    with pytest.raises(ValueError, match="got 'MKL'"):
        jaxgan.fit(state, images, steps=1, batch_size=32, key=0, cpu_convolutions="MKL")
    assert jax.tree.all(jax.tree.map(np.array_equal, before, jax.tree.map(np.asarray, state)))


def test_programs_keep_jit_cache_counts_and_one_program_per_choice():
    square = xla_cpu.jit(lambda x: x * x)
    assert square._cache_size() == 0
    square(2.0)
    square(3.0)
    assert square._cache_size() == 1
    assert square.program("ynnpack") is square.program("ynnpack")
    assert square.program("ynnpack") is not square.program("eigen")


def test_other_backends_and_ynnpack_get_no_options(monkeypatch):
    assert xla_cpu.compiler_options("ynnpack") is None
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert xla_cpu.compiler_options("eigen") is None


def test_a_jaxlib_without_the_option_warns_and_falls_back(monkeypatch):
    monkeypatch.setitem(xla_cpu.CPU_CONVOLUTIONS, "eigen", {"xla_cpu_no_such_option": ""})
    xla_cpu._supported.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="XLA:CPU refused the eigen convolution option"):
            assert xla_cpu.compiler_options("eigen") is None
    finally:
        xla_cpu._supported.cache_clear()
