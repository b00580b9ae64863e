"""XLA:CPU's convolution library, chosen per compiled program (Eigen or YNNPACK).

jaxlib 0.10's XLA:CPU sends every convolution to YNNPACK. Compiling a program with the
``compiler_options`` of :data:`CPU_CONVOLUTIONS` ``["eigen"]`` makes it use Eigen's convolutions
instead, which ran the DCGAN training step 1.2× and the InceptionV3 forward 1.6–1.8× faster on the
2-core AMD EPYC of benchmarks/RESULTS.md; results agree to float32 rounding, not bit for bit.

Why per program, not ``XLA_FLAGS``: the option is experimental, and a future jaxlib may drop it.
An unknown flag in ``XLA_FLAGS`` aborts the process before Python can react; an unknown
per-program option raises an error that :func:`compiler_options` catches once (it then warns and
compiles with XLA's defaults). The option also never reaches other programs or other backends.

The backend is only known once JAX has started, and jaxgan must not start it at import time
(tests set the CPU device count after importing jaxgan), so :func:`jit` builds its ``jax.jit``
programs at their first call, one per choice.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import jax

CPU_CONVOLUTIONS: dict[str, dict[str, str]] = {
    "eigen": {"xla_cpu_experimental_ynn_fusion_type": ""},
    "ynnpack": {},
}
"""``compiler_options`` per XLA:CPU convolution library (``"ynnpack"``: XLA's own default)."""

DEFAULT_CPU_CONVOLUTIONS = "eigen"
"""jaxgan's choice for its compiled programs: the faster one on the CPUs measured."""


def check_cpu_convolutions(choice: str) -> str:
    """Validate a convolution library name.

    Args:
        choice: a key of :data:`CPU_CONVOLUTIONS`.

    Returns:
        ``choice``.

    Raises:
        ValueError: on any other value.

    Example:
        >>> check_cpu_convolutions("eigen")
        'eigen'
        >>> check_cpu_convolutions("mkl")
        Traceback (most recent call last):
        ...
        ValueError: cpu_convolutions must be one of eigen, ynnpack, got 'mkl'

    """
    if not isinstance(choice, str) or choice not in CPU_CONVOLUTIONS:
        raise ValueError(
            f"cpu_convolutions must be one of {', '.join(CPU_CONVOLUTIONS)}, got {choice!r}"
        )
    return choice


def compiler_options(choice: str) -> dict[str, str] | None:
    """Return the ``compiler_options`` for a program compiled now, on JAX's default backend.

    Starts JAX's backends if they have not started (call it when compiling, not at import).

    Args:
        choice: a key of :data:`CPU_CONVOLUTIONS`.

    Returns:
        The options, or None off the CPU backend, for ``"ynnpack"``, and when this jaxlib does
        not know the option (warned once).

    Raises:
        ValueError: on an unknown ``choice``.

    Example:
        >>> compiler_options("eigen")  # on the CPU backend
        {'xla_cpu_experimental_ynn_fusion_type': ''}
        >>> compiler_options("ynnpack") is None
        True

    """
    options = CPU_CONVOLUTIONS[check_cpu_convolutions(choice)]
    if not options or jax.default_backend() != "cpu" or not _supported(choice):
        return None
    return dict(options)


@functools.cache
def _supported(choice: str) -> bool:
    """Whether this jaxlib's XLA:CPU accepts ``CPU_CONVOLUTIONS[choice]`` (one tiny compile)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_CONVOLUTIONS[choice]).lower(1.0).compile()
    except jax.errors.JaxRuntimeError as error:
        warnings.warn(
            f"XLA:CPU refused the {choice} convolution option ({str(error).splitlines()[0]}); "
            "jaxgan's programs are compiled with XLA's default convolutions",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


class Program:
    """``jax.jit(fun, **jit_kwargs)`` with a per-call ``cpu_convolutions`` keyword.

    Each choice gets its own ``jax.jit`` program, built at its first call (when the backend is
    known) with :func:`compiler_options`. ``lower`` and ``_cache_size`` work as for ``jax.jit``.

    Example:
        >>> double = jit(lambda x: 2 * x)
        >>> float(double(1.0)), float(double(1.0, cpu_convolutions="ynnpack"))
        (2.0, 2.0)
        >>> double._cache_size()
        2

    """

    def __init__(self, fun: Callable, **jit_kwargs: Any):
        self._fun, self._jit_kwargs = fun, jit_kwargs
        self._programs: dict[str, Any] = {}
        functools.update_wrapper(self, fun)

    def program(self, cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS) -> Any:
        """Get the ``jax.jit`` program of one choice (built on first use).

        Args:
            cpu_convolutions: a key of :data:`CPU_CONVOLUTIONS`.

        Returns:
            The jitted function.

        Raises:
            ValueError: on an unknown choice.

        Example:
            >>> square = jit(lambda x: x * x)
            >>> square.program("eigen") is square.program("eigen")
            True

        """
        if cpu_convolutions not in self._programs:
            options = compiler_options(cpu_convolutions)
            self._programs[cpu_convolutions] = jax.jit(
                self._fun, compiler_options=options, **self._jit_kwargs
            )
        return self._programs[cpu_convolutions]

    def __call__(self, *args: Any, cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS, **kwargs):
        """Run the program of ``cpu_convolutions`` (XLA:CPU's convolution library)."""
        return self.program(cpu_convolutions)(*args, **kwargs)

    def lower(self, *args: Any, cpu_convolutions: str = DEFAULT_CPU_CONVOLUTIONS, **kwargs):
        """``jax.jit(...).lower`` of the program of ``cpu_convolutions``."""
        return self.program(cpu_convolutions).lower(*args, **kwargs)

    def _cache_size(self) -> int:
        """Compiled entries over all choices (as ``jax.jit``'s, for no-recompile tests)."""
        return sum(program._cache_size() for program in self._programs.values())


def jit(fun: Callable, **jit_kwargs: Any) -> Program:
    """Compile ``fun`` like ``jax.jit``, with XLA:CPU's convolution library chosen per call.

    Args:
        fun: the function.
        **jit_kwargs: ``jax.jit`` arguments (``donate_argnums``, ``static_argnames``, ...).

    Returns:
        A :class:`Program`; call it with ``cpu_convolutions="eigen"`` (the default) or
        ``"ynnpack"``.

    Example:
        >>> import jax.numpy as jnp
        >>> conv = jit(lambda x, w: jax.lax.conv(x, w, (1, 1), "SAME"))
        >>> conv(jnp.ones((1, 1, 4, 4)), jnp.ones((1, 1, 3, 3))).shape
        (1, 1, 4, 4)

    """
    return Program(fun, **jit_kwargs)
