"""The persistent compilation cache: on in the CLI, per user, and never the cause of a failed run.

The runs that exercise JAX's cache start a fresh process: JAX decides once per process whether
it uses the cache, and this pytest process has compiled long before. Each run has its own cache
home under tmp_path (``XDG_CACHE_HOME``). One fresh process serves the four runs, each with
JAX's cache setting put back to none, as in a new process: the first trains with a cache home
of its own, which it fills; then every entry is damaged and, with the programs it holds in
memory dropped (``jax.clear_caches``), the second trains again from that cache home; the third
(an unwritable cache home) and the fourth (opted out) reuse the programs in memory.
"""

import json
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


def fresh_process_env(cache_home: Path) -> dict[str, str]:
    """The environment of a new process whose compile cache lives under ``cache_home``."""
    environ = {k: v for k, v in os.environ.items() if k != compile_cache.DISABLE_ENV}
    environ.pop("JAX_COMPILATION_CACHE_DIR", None)  # the session's cache: not this test's
    # matplotlib reads XDG_CACHE_HOME too: keep its font cache where it is (no rebuild)
    environ.setdefault("MPLCONFIGDIR", matplotlib.get_cachedir())
    environ.update(XDG_CACHE_HOME=str(cache_home), JAX_PLATFORMS="cpu")
    return environ


# one process, several ``jaxgan train`` runs: each with its environment and its stderr file, and
# JAX's cache setting as a new process has it (none); a run with "damage" first overwrites every
# entry of that cache folder with garbage and drops the programs this process holds in memory, so
# that it compiles again through the damaged cache. It prints, per run, the exit status, the
# cache folder JAX was left with and the number of entries it damaged.
RUNS_IN_ONE_PROCESS = """
import json, os, sys
from pathlib import Path
import jax
from jax.experimental.compilation_cache import compilation_cache
from jaxgan import cli

results = []
for run in json.loads(sys.argv[1]):
    damaged = 0
    if run.get("damage"):
        for path in Path(run["damage"]).rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                path.write_bytes(b"\\x00 not an executable " * 8)
                damaged += 1
        jax.clear_caches()  # in memory: nothing compiled, as in a new process
    os.environ.pop("JAXGAN_NO_COMPILE_CACHE", None)
    os.environ.update(run["env"])
    jax.config.update("jax_compilation_cache_dir", None)
    compilation_cache.reset_cache()
    sys.stderr.flush()
    saved, err = os.dup(2), os.open(run["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(err, 2)
    try:
        code = cli.main(run["argv"])
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
    results.append({"code": code, "cache_dir": jax.config.jax_compilation_cache_dir,
                    "damaged": damaged})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> dict:
    """Train four tiny runs in one fresh process: cached, damaged cache, unwritable, opted out.

    The first compiles its programs (and writes them to its cache); the second, after every
    entry of that cache was damaged and the programs in memory were dropped, reads the damaged
    entries and compiles again; the last two reuse the programs in memory: what they check is
    what the CLI does with the cache setting, not compiling.

    Returns:
        Per run (``"cached"``, ``"damaged"``, ``"unwritable"``, ``"opt_out"``): its folder,
        cache home, exit status, stderr, the cache folder JAX used after it and the number of
        cache entries damaged before it.
    """
    root = tmp_path_factory.mktemp("one_process")
    blocker = root / "cache_home_is_a_file"
    blocker.write_text("")  # mkdir under a file fails, even for root
    homes = {
        "cached": root / "cache",
        "damaged": root / "cache",
        "unwritable": blocker,
        "opt_out": root / "opt_out_cache",
    }
    runs = []
    for name, home in homes.items():
        env = {"XDG_CACHE_HOME": str(home)}
        if name == "opt_out":
            env[compile_cache.DISABLE_ENV] = "1"
        out = root / name
        runs.append({"env": env, "stderr": str(root / f"{name}.err"),
                     "argv": ["train", *TINY, "--out", str(out)]})  # fmt: skip
        if name == "damaged":
            runs[-1]["damage"] = str(home / "jaxgan" / "xla")
    result = subprocess.run(
        [sys.executable, "-c", RUNS_IN_ONE_PROCESS, json.dumps(runs)],
        capture_output=True,
        text=True,
        timeout=600,
        env=fresh_process_env(root / "unused"),
    )
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout.splitlines()[-1])
    return {
        name: {
            "out": root / name,
            "home": home,
            **report,
            "stderr": (root / f"{name}.err").read_text(),
        }
        for (name, home), report in zip(homes.items(), reports, strict=True)
    }


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


def test_a_second_run_reads_the_cache_and_corrupt_entries_do_not_break_it(one_process):
    first = one_process["cached"]
    assert first["code"] == 0, first["stderr"]
    cache = first["home"] / "jaxgan" / "xla"
    assert first["cache_dir"] == str(cache / compile_cache.host_tag())  # the per-user folder
    # every entry the first run wrote was damaged: garbage that is no compressed executable
    second = one_process["damaged"]
    assert second["damaged"] > 0, "the first run wrote no compiled program"
    assert second["code"] == 0, second["stderr"]
    assert second["cache_dir"] == first["cache_dir"]
    assert (second["out"] / "summary.json").is_file()
    assert "Error reading persistent compilation cache" in second["stderr"]  # JAX warns, compiles


def test_an_unwritable_cache_folder_does_not_break_a_run(one_process):
    run = one_process["unwritable"]
    assert run["code"] == 0, run["stderr"]
    assert "compile cache off" in run["stderr"]
    assert run["cache_dir"] is None  # the cache stays off
    assert (run["out"] / "summary.json").is_file()


def test_the_opt_out_leaves_no_cache(one_process):
    run = one_process["opt_out"]
    assert run["code"] == 0, run["stderr"]
    assert run["cache_dir"] is None
    assert not (run["home"] / "jaxgan").exists()
    assert (run["out"] / "summary.json").is_file()
