"""Load the repository's scripts and benchmarks (not a package) as modules in tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str) -> ModuleType:
    """Import a script of this repository by path, registered under a private module name.

    Registering it in ``sys.modules`` lets dataclasses and pickling inside the script resolve
    their module; the name (``jaxgan_script_<stem>``) cannot shadow a real package.

    Args:
        relative_path: the script's path from the repository root, e.g. ``"benchmarks/x.py"``.

    Returns:
        The executed module.

    Example:
        >>> load_script("benchmarks/step_time.py").main  # doctest: +SKIP

    """
    path = REPO / relative_path
    name = f"jaxgan_script_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
