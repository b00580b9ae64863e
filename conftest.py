"""Settings shared by the tests and the docstring examples that pytest collects from jaxgan/."""

from __future__ import annotations

import atexit
import functools
import gc
import os
import re
import shutil
import sys
import tempfile
from typing import Any


def _share_compiled_programs() -> None:
    """Give this test session one persistent XLA cache, shared with the processes it starts.

    Many tests compile the same small programs (the seed MLP's chunk, the sampler) through fresh
    ``jax.jit`` wrappers or in new ``jaxgan`` processes; with the cache each distinct program
    compiles once per session. The folder is new for every session (so no test depends on an
    earlier one) and removed at exit. JAX reads these variables when it is imported, and child
    processes inherit them. A session that sets ``JAX_COMPILATION_CACHE_DIR`` keeps its own.
    """
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="jaxgan-test-xla-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"


#: XLA:CPU settings for test sessions: LLVM at -O1 instead of -O2, one codegen module per program
#: instead of parallel splits, and XLA's classic elemental emitters for fusions instead of the
#: newer MLIR fusion emitters. The HLO passes (fusion decisions, layout) are XLA's defaults; only
#: code generation is lighter. -O1 and the single split leave the bits unchanged; the classic
#: emitters change them by float32 rounding (every golden-value test, rtol 1e-4, and every same-bits
#: test, which compares runs of one session, pass). Measured on this project's 2-core CPU: -O1 and
#: one split took the suite from 1,403 to 1,046 CPU-s, the classic emitters then from 946 to 748
#: (docs/speed.md). Two XLA:CPU backend options make LLVM lighter still: no loop unrolling (the
#: compile of a conditional SN-ResNet step 13 -> 7 CPU-s; the suite 554 -> 502 CPU-s) and code
#: optimised for size (the suite 480 -> 455 CPU-s). Both can change results by float32 rounding,
#: as the emitters do, and steps run slower (the vanilla ring8 step 17 -> 26 ms), which the
#: compile-bound suite more than recovers. Users' runs and the benchmarks keep XLA's defaults.
QUICK_COMPILE_FLAGS = (
    "--xla_backend_optimization_level=1",
    "--xla_cpu_parallel_codegen_split_count=1",
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_backend_extra_options=xla_cpu_disable_loop_unrolling,xla_cpu_optimize_for_size",
)


def _compile_quickly() -> None:
    """Add :data:`QUICK_COMPILE_FLAGS` to ``XLA_FLAGS`` for this session and its subprocesses.

    A flag the caller already set in ``XLA_FLAGS`` keeps the caller's value, so
    ``XLA_FLAGS=--xla_backend_optimization_level=2 pytest`` runs the suite at XLA's default level.
    """
    flags = os.environ.get("XLA_FLAGS", "").split()
    set_names = {flag.split("=")[0] for flag in flags}
    flags += [flag for flag in QUICK_COMPILE_FLAGS if flag.split("=")[0] not in set_names]
    os.environ["XLA_FLAGS"] = " ".join(flags)


def _cache_bytecode() -> None:
    """Let this session and the processes it starts keep compiled bytecode (``__pycache__``).

    Where ``PYTHONDONTWRITEBYTECODE`` is set (as on this project's development machines), every
    xdist worker, CLI subprocess and notebook kernel would otherwise compile jaxgan's sources
    from scratch, and every worker would rewrite each test module's asserts again. The ``.pyc``
    files go to the ``__pycache__`` folders beside the sources, which ``.gitignore`` lists;
    where they cannot be written, Python and pytest go on without them.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False


_share_compiled_programs()
_compile_quickly()
_cache_bytecode()


def _private_reference_cache() -> None:
    """Keep this session's reference statistics (``jaxgan.metrics.reference``) out of the user's.

    One new folder per session, removed at exit and inherited by child processes.
    """
    if "JAXGAN_CACHE_DIR" in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="jaxgan-test-cache-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["JAXGAN_CACHE_DIR"] = folder


_private_reference_cache()

import jax  # noqa: E402 - after the cache settings, which JAX reads on import
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from flax import nnx  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Take what collection imported out of the garbage collector's scans, and scan less often.

    Tracing allocates many short-lived objects, so the collector runs often; every full scan
    would walk the long-lived modules, functions and jaxprs of JAX, Flax and the tests again.
    ``gc.freeze`` moves them to a generation the collector skips; the higher thresholds keep
    the same collector with fewer, larger passes. Reference cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@pytest.fixture(autouse=True)
def _doctest_names(doctest_namespace: dict) -> None:
    """Give every docstring example the names the examples use without importing them."""
    doctest_namespace.update({"jax": jax, "jnp": jnp, "np": np, "nnx": nnx})


def _tiny_state(key: Any) -> Any:
    """Build a small seed-style GAN (z 100 → 16 → 28×28×1)."""
    import jaxgan
    from jaxgan import models

    return jaxgan.create_state(
        lambda rngs: models.MLPGenerator(hidden=16, rngs=rngs),
        lambda rngs: models.MLPDiscriminator(hidden=16, rngs=rngs),
        key=key,
    )


@functools.cache
def _doctest_state() -> Any:
    """Build the small GAN the examples call ``state`` (once per worker)."""
    return _tiny_state(jax.random.key(0))


@functools.cache
def _doctest_stacked() -> Any:
    """Stack two runs of the small GAN on a leading axis (the examples' ``stacked``)."""
    from jaxgan import ensembles

    return ensembles.create_ensemble(_tiny_state, [0, 1])[0]


@pytest.fixture(autouse=True)
def _doctest_states(request: pytest.FixtureRequest, doctest_namespace: dict) -> None:
    """Give the examples that use them a small ``state``, ``real`` images and ``stacked`` runs.

    Each is built only for the docstrings whose examples name it (``stacked``, an ensemble of two,
    compiles a program of its own), once per worker.
    """
    examples = getattr(request.node, "dtest", None)
    if examples is None:
        return
    sources = "".join(example.source for example in examples.examples)
    names = set(re.findall(r"\b(?:state|real|stacked)\b", sources))
    if names & {"state", "real"}:
        doctest_namespace.update(
            {"state": _doctest_state(), "real": jnp.zeros((8, 28, 28, 1), jnp.float32)}
        )
    if "stacked" in names:
        doctest_namespace["stacked"] = _doctest_stacked()
