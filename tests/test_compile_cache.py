"""The persistent compilation cache: on in the CLI, per user, and never the cause of a failed run.

The runs that exercise JAX's cache start fresh processes (``python -m jaxgan train``): JAX decides
once per process whether it uses the cache, and this pytest process has compiled long before.
Each uses its own cache folder under tmp_path through ``XDG_CACHE_HOME``.
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

import jax
import matplotlib
import pytest
from cli_args import tiny_train_args
from jax.experimental.compilation_cache import compilation_cache as jax_cache

from jaxgan import cli, compile_cache

TINY = [*tiny_train_args(sample_every=20, checkpoint_every=20), "--steps", "20"]


def train_in_new_process(out: Path, cache_home: Path, **env: str):
    """Run ``python -m jaxgan train`` (tiny) with the given cache home; return the result."""
    environ = {k: v for k, v in os.environ.items() if k != compile_cache.DISABLE_ENV}
    environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    # matplotlib reads XDG_CACHE_HOME too: keep its font cache where it is (no rebuild)
    environ.setdefault("MPLCONFIGDIR", matplotlib.get_cachedir())
    environ.update(XDG_CACHE_HOME=str(cache_home), JAX_PLATFORMS="cpu", **env)
    return subprocess.run(
        [sys.executable, "-m", "jaxgan", "train", *TINY, "--out", str(out), "--overwrite"],
        capture_output=True,
        text=True,
        timeout=600,
        env=environ,
    )


def entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]


@pytest.fixture
def jax_cache_setting():
    """Put JAX's cache settings back as they were after a test that changes them."""
    before = (
        jax.config.jax_compilation_cache_dir,
        jax.config.jax_persistent_cache_min_compile_time_secs,
    )
    yield
    jax.config.update("jax_compilation_cache_dir", before[0])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])
    jax_cache.reset_cache()


def test_the_cache_folder_is_per_user_and_per_cpu(monkeypatch, tmp_path):
    host = compile_cache.host_tag()
    assert host == compile_cache.host_tag() and "/" not in host  # one folder name, stable
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.default_cache_dir() == tmp_path / "jaxgan" / "xla" / host
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home_cache = tmp_path / "home" / ".cache" / "jaxgan" / "xla" / host
    assert compile_cache.default_cache_dir() == home_cache


@pytest.mark.parametrize(
    ("value", "enabled"), [(None, True), ("", True), ("0", True), ("1", False)]
)
def test_the_opt_out_variable(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv(compile_cache.DISABLE_ENV, raising=False)
    else:
        monkeypatch.setenv(compile_cache.DISABLE_ENV, value)
    assert compile_cache.enabled_by_env() is enabled


def test_the_cli_enables_the_cache_unless_opted_out(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(compile_cache, "enable_compile_cache", lambda: calls.append(1))
    monkeypatch.delenv(compile_cache.DISABLE_ENV, raising=False)
    assert cli.main(["train", "--print-config"]) == 0
    monkeypatch.setenv(compile_cache.DISABLE_ENV, "1")
    assert cli.main(["train", "--print-config"]) == 0
    capsys.readouterr()
    assert calls == [1]


def test_enable_sets_jax_up_and_an_unusable_folder_is_skipped(jax_cache_setting, tmp_path, caplog):
    folder = compile_cache.enable_compile_cache(tmp_path / "xla", min_compile_time_s=0.5)
    assert folder == tmp_path / "xla" and folder.is_dir()
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.5
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        assert compile_cache.enable_compile_cache(blocker / "xla") is None
    assert "compile cache off" in caplog.text and str(blocker / "xla") in caplog.text
    assert jax.config.jax_compilation_cache_dir == str(folder)  # unchanged


def test_a_second_run_reads_the_cache_and_corrupt_entries_do_not_break_it(tmp_path):
    cache = tmp_path / "cache"
    first = train_in_new_process(tmp_path / "run", cache)
    assert first.returncode == 0, first.stderr
    written = entries(cache / "jaxgan" / "xla")
    assert written, "the first run wrote no compiled program"
    for path in written:  # damage every entry: garbage that is no compressed executable
        path.write_bytes(b"\x00 not an executable " * 8)
    second = train_in_new_process(tmp_path / "run", cache)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "run" / "summary.json").is_file()
    assert "Error reading persistent compilation cache" in second.stderr  # JAX warns, compiles


def test_an_unwritable_cache_folder_does_not_break_a_run(tmp_path):
    blocker = tmp_path / "cache_home_is_a_file"
    blocker.write_text("")  # mkdir under a file fails, even for root
    result = train_in_new_process(tmp_path / "run", blocker)
    assert result.returncode == 0, result.stderr
    assert "compile cache off" in result.stderr
    assert (tmp_path / "run" / "summary.json").is_file()


def test_the_opt_out_leaves_no_cache(tmp_path):
    result = train_in_new_process(tmp_path / "run", tmp_path / "cache", JAXGAN_NO_COMPILE_CACHE="1")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "cache" / "jaxgan").exists()
