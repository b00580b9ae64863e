"""Small fixtures shared by the tests (strict JAX promotion is set in the root conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# in-process CLI tests must not fill the user's compile cache; tests/test_compile_cache.py runs
# the caching CLI in fresh processes, each with its own cache folder
os.environ.setdefault("JAXGAN_NO_COMPILE_CACHE", "1")

SHARED_DATA = Path(
    os.environ.get("JAXGAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture
def shared_data() -> Path:
    """The reference IDX files beside the project (skips the test when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA
