"""Compile once per machine: JAX's persistent compilation cache in a per-user folder.

A jaxgan run compiles its training step, the sampler and the loop's helpers when it starts (for
DCGAN on a 2-core CPU, seconds per program). ``enable_compile_cache()`` turns on JAX's
persistent compilation cache, so a later process that compiles the same program on this machine
(same shapes, same config, same jax and XLA versions) loads the executable from disk instead.
The ``jaxgan`` command enables it on every run unless ``JAXGAN_NO_COMPILE_CACHE=1``;
library users call it once, before their first jitted call.

The folder is ``$XDG_CACHE_HOME/jaxgan/xla/<host>`` (``~/.cache/...`` when ``XDG_CACHE_HOME`` is
unset), unless JAX already has one (``JAX_COMPILATION_CACHE_DIR``) or a path is given. ``<host>``
names the CPU (architecture and a hash of its model and feature flags): XLA compiles CPU code for
the host's instruction set and JAX's cache key does not say which, so machines that share a home
folder keep separate caches.
The cache never stops a run: a folder that cannot be created or written is skipped with a
one-line log warning (nothing is cached), and JAX itself reads a damaged entry as a miss (it
warns and compiles). Deleting the folder is always safe. As JAX's documentation says, treat the
folder as trusted code: do not point it at a folder that others can write to.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import tempfile
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

__all__ = ["DISABLE_ENV", "default_cache_dir", "enable_compile_cache", "enabled_by_env"]

DISABLE_ENV = "JAXGAN_NO_COMPILE_CACHE"
"""Environment variable: set to ``1`` to keep the ``jaxgan`` command from caching compiles."""

MIN_COMPILE_TIME_S = 0.2
"""Programs that compile faster than this are not written (JAX's default is 1 s)."""

_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Return the per-user, per-CPU cache folder: ``$XDG_CACHE_HOME/jaxgan/xla/<host>``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``; ``<host>`` is ``host_tag()``.

    Returns:
        The folder (not created).

    Example:
        >>> default_cache_dir().parts[-3:-1]
        ('jaxgan', 'xla')
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxgan" / "xla" / host_tag()


def host_tag() -> str:
    """Name this machine's CPU: its architecture and a hash of its model name and feature flags.

    Returns:
        For example ``"x86_64-3f2a9c01d4e5"``.

    Example:
        >>> host_tag().startswith(platform.machine())
        True
    """
    described = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags", "Features", "CPU part")):
                described += line
                if line.startswith(("flags", "Features")):
                    break  # the first processor's block says it all
    except OSError:
        pass
    return f"{platform.machine()}-{hashlib.sha256(described.encode()).hexdigest()[:12]}"


def enabled_by_env() -> bool:
    """Whether the ``jaxgan`` command should cache compiles (``JAXGAN_NO_COMPILE_CACHE`` unset).

    Returns:
        False when ``JAXGAN_NO_COMPILE_CACHE`` is set to anything but ``""`` or ``"0"``.

    Example:
        >>> isinstance(enabled_by_env(), bool)
        True
    """
    return os.environ.get(DISABLE_ENV, "").strip() in ("", "0")


def enable_compile_cache(
    path: str | os.PathLike | None = None, *, min_compile_time_s: float = MIN_COMPILE_TIME_S
) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` (default: the per-user folder).

    Call it once, before the first jitted call of the process (later calls work too: JAX is told
    to look at its cache setting again). With ``path=None`` a folder that JAX already has
    (``JAX_COMPILATION_CACHE_DIR``) is kept. A folder that cannot be created or written leaves
    the cache off and logs one warning; the run then compiles as without a cache.

    Args:
        path: the cache folder; created if missing.
        min_compile_time_s: programs compiling faster than this are not written.

    Returns:
        The folder in use, or None when it could not be used.

    Example:
        >>> folder = enable_compile_cache()  # doctest: +SKIP
    """
    configured = jax.config.jax_compilation_cache_dir
    folder = Path(path) if path is not None else Path(configured or default_cache_dir())
    problem = _unwritable(folder)
    if problem:
        _log.warning("jaxgan: compile cache off: cannot write to %s (%s)", folder, problem)
        return None
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_time_s)
    compilation_cache.set_cache_dir(str(folder))
    compilation_cache.reset_cache()  # JAX decides once per process whether it uses the cache
    return folder


def _unwritable(folder: Path) -> str:
    """Return why ``folder`` cannot hold cache files ("" when it can), creating it if needed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as err:
        return err.strerror or type(err).__name__
    return ""
