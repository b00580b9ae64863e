"""Issue 22: every fault and bad input of the issue, reproduced and refused in one line.

Items: 1 divergence, 2 a tracked run killed between its best and its regular checkpoint,
3 corrupted checkpoint bytes, 4 the run-folder lock, 5 signals, 6 quiet failures, 7 validation
before the folder is touched, 8 an edited config.json, 9 damaged files and unclear messages,
12 ``--overwrite`` that half-deletes. Items 10, 11 and the data side of 6 are in
``test_faults_library.py``. Last, a SIGKILL loop: kills at the risky moments (in the compile
window, mid-way through writing a checkpoint, between a best and a regular checkpoint) of one
run, a run with a tracked metric and an ensemble, each chain ending bit-identical to the
uninterrupted run.

Cost: one in-process compilation of the tiny MLP run (shared by every in-process run through
the jit cache), and processes forked from one warm zygote (``fork_runner.py``) that share the
session's persistent compilation cache (root ``conftest.py``) with this process, so a killed
process costs one to four CPU-seconds (tracing and lowering its programs, reading them back).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from cli_args import tiny_train_args

from jaxgan import cli, metrics
from jaxgan.checkpoint import (
    CorruptCheckpointError,
    RunCheckpoints,
    latest_step,
    state_digest,
)
from jaxgan.data import to_uint8_images
from jaxgan.data.idx import encode_idx
from jaxgan.experiment import guards
from jaxgan.experiment.build import build_state
from jaxgan.experiment.lock import RunFolderBusyError, RunLock
from jaxgan.experiment.rundir import read_metrics, read_run_config
from jaxgan.experiment.sample import load_run
from jaxgan.loop import finite_state

TINY = tiny_train_args(sample_every=40, checkpoint_every=20)
TESTS = Path(__file__).resolve().parent


# -- shared machinery ------------------------------------------------------------------------


def run_cli(capsys, *argv):
    """Run the CLI in this process; return (exit status, stdout, stderr)."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *patterns: str) -> None:
    """Exactly one line on stderr, naming every pattern."""
    assert err.count("\n") == 1 and err.startswith("jaxgan"), err
    for pattern in patterns:
        assert re.search(pattern, err), (pattern, err)


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def strict_json_lines(path: Path) -> list[dict]:
    """Parse a JSON-lines file refusing NaN/Infinity (which ``json`` accepts by default)."""

    def refuse(constant):
        raise AssertionError(f"{path} holds {constant}, which is not JSON")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def assert_same_state(a: Path, b: Path, folder: str = "checkpoints") -> None:
    """Same final state, bit for bit (latest checkpoint of each run folder)."""
    _, state_a, meta_a = load_run(a, best=folder == "best")
    _, state_b, meta_b = load_run(b, best=folder == "best")
    assert meta_a["step"] == meta_b["step"]
    assert state_digest(state_a) == state_digest(state_b)


def assert_same_run(a: Path, b: Path) -> None:
    """Same state, same metric rows (timing aside), same tracked rows and best checkpoint."""
    assert_same_state(a, b)
    timing = {"it_per_s", "time_s"}

    def rows(run):
        return [{k: v for k, v in r.items() if k not in timing} for r in read_metrics(run)]

    assert rows(a) == rows(b) and rows(a)
    if (b / "track.jsonl").exists():
        tracked = [  # track_seconds: each measurement's wall time
            [{k: v for k, v in r.items() if k != "track_seconds"} for r in strict_json_lines(run)]
            for run in (a / "track.jsonl", b / "track.jsonl")
        ]
        assert tracked[0] == tracked[1] and tracked[0]
        assert sorted(os.listdir(a / "best")) == sorted(os.listdir(b / "best"))
        assert_same_state(a, b, "best")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A finished tiny run: checkpoints 20 and 40, a grid at 40."""
    out = tmp_path_factory.mktemp("good") / "run"
    assert cli.main(["train", *TINY, "--steps", "40", "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy_of(good, tmp_path):
    def make(name: str = "copy") -> Path:
        target = tmp_path / name
        shutil.copytree(good, target)
        return target

    return make


class Zygote:
    """Runs ``jaxgan`` commands in processes forked from one warm interpreter."""

    def __init__(self, logs: Path):
        env = {  # JAX_COMPILATION_CACHE_DIR: the session's cache (root conftest.py)
            **os.environ,
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")]),
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(TESTS / "fork_runner.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.logs, self.count = logs, 0
        self.returncodes: list[int] = []
        self.cpu_s: list[float] = []  # each child's CPU seconds, in order

    def _read(self, timeout: float = 300) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "the zygote did not answer"
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        return json.loads(line)

    def start(self, argv: list[str], fsize: int | None = None) -> tuple[int, Path]:
        self.count += 1
        err = self.logs / f"stderr_{self.count}.txt"
        command = {"argv": [str(a) for a in argv], "stderr": str(err), "fsize": fsize}
        self.proc.stdin.write(json.dumps(command))
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return self._read()["pid"], err

    def wait(self) -> int:
        answer = self._read()
        self.returncodes.append(answer["returncode"])
        self.cpu_s.append(answer["cpu_s"])
        return answer["returncode"]

    def run(self, argv, when=None, signals=(signal.SIGKILL,), gap=0.0, fsize=None, timeout=300):
        """Start a command; once ``when(pid)`` holds, send ``signals``; return (code, stderr)."""
        pid, err = self.start(argv, fsize)
        deadline = time.monotonic() + timeout
        if when is not None:
            while alive(pid) and not when(pid):
                assert time.monotonic() < deadline, f"{argv}: the moment never came"
                time.sleep(0.002)
            for signum in signals:
                if alive(pid):
                    os.kill(pid, signum)
                time.sleep(gap)
        code = self.wait()
        return code, err.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()
    assert -signal.SIGSEGV not in z.returncodes and -signal.SIGABRT not in z.returncodes


# moments to act at: functions of the process id, true once the moment has come


def lock_time(out: Path, pid: int) -> int | None:
    """When ``pid`` took the folder's lock (ns), or None while it does not hold it."""
    lock = out / ".jaxgan.lock"
    try:
        return lock.stat().st_mtime_ns if lock.read_text().strip() == str(pid) else None
    except OSError:
        return None


def labelled(label: str, when):
    when.label = label
    return when


def locked(out: Path):
    """The process holds the folder's lock: its handlers are set, it restores and compiles."""
    return labelled("compile window", lambda pid: lock_time(out, pid) is not None)


def after_lock(out: Path, test):
    """``test(since)`` of what this process changed after it took the lock at ``since``."""

    def when(pid):
        since = lock_time(out, pid)
        return since is not None and test(since)

    return when


def _newer(path: Path, since: int) -> bool:
    try:
        return path.stat().st_mtime_ns >= since
    except OSError:
        return False


def row(out: Path, step: int):
    """The metrics row of ``step`` has been written by this process."""
    path = out / "metrics.jsonl"

    def test(since):
        try:
            return _newer(path, since) and f'"step": {step},' in path.read_text()
        except OSError:
            return False

    return labelled(f"after row {step}", after_lock(out, test))


def saving(out: Path, folder: Path, step: int):
    """This process is writing checkpoint ``step`` into ``folder`` (orbax's temporary folder)."""
    temporary = f"{step}.orbax-checkpoint-tmp"

    def test(since):
        return any(p.name.startswith(temporary) and _newer(p, since) for p in _listing(folder))

    where = f"{folder.parent.name}/{folder.name}/{step}"
    return labelled(f"mid-checkpoint {where}", after_lock(out, test))


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


# -- item 1: divergence ----------------------------------------------------------------------


def test_a_run_that_diverges_stops_naming_the_step_and_writes_nothing_non_finite(tmp_path, capsys):
    out = tmp_path / "nan"
    code, _, err = run_cli(capsys, "train", *TINY, "--steps", "60", "--lr", "1e30", "--out", out)
    assert code == 1
    one_line_error(err, r"diverged at step 1 \(", "g_loss nan", "no checkpoint was saved")
    assert not (out / "checkpoints").exists() or not os.listdir(out / "checkpoints")
    assert not (out / "samples").exists() and not (out / "summary.json").exists()
    rows = strict_json_lines(out / "metrics.jsonl")
    assert rows[0]["g_loss"] is None  # NaN is written as null


def poisoned(run: Path, step: int, lr: float) -> None:
    """Make checkpoint ``step`` train on with learning rate ``lr`` (finite, saved properly).

    The learning rate lives in the optimiser state, so the resumed run diverges at once while
    the compiled program stays the one every tiny run shares.
    """
    config = read_run_config(run)
    with RunCheckpoints(run / "checkpoints", keep=5) as ckpts:
        state, meta = ckpts.restore(build_state(config), step)

        def set_lr(path, leaf):
            return leaf * 0 + lr if "learning_rate" in jax.tree_util.keystr(path) else leaf

        state = jax.tree_util.tree_map_with_path(set_lr, state)
        for later in [s for s in ckpts.steps() if s >= step]:
            shutil.rmtree(run / "checkpoints" / str(later))
        ckpts.save(step, state, meta)


def test_divergence_after_good_checkpoints_names_the_last_good_one(copy_of, capsys):
    run = copy_of()
    poisoned(run, 20, 1e30)
    grids = snapshot(run / "samples")
    code, _, err = run_cli(capsys, "train", "--resume", "--out", run)
    assert code == 1
    one_line_error(err, r"diverged at step 21 \(", r"last good checkpoint is \S+/checkpoints/20")
    assert latest_step(run / "checkpoints") == 20  # nothing non-finite was saved
    assert snapshot(run / "samples") == grids
    assert [r["step"] for r in strict_json_lines(run / "metrics.jsonl")] == [10, 20, 30]
    # --on-nonfinite warn trains on, warns once, and still saves nothing non-finite
    code, out, err = run_cli(capsys, "train", "--resume", "--out", run, "--on-nonfinite", "warn")
    assert code == 0 and "nan" in out
    assert err.count("warning: training diverged at step 21") == 1, err
    assert latest_step(run / "checkpoints") == 20 and snapshot(run / "samples") == grids
    strict_json_lines(run / "metrics.jsonl")
    json.loads((run / "summary.json").read_text(), parse_constant=pytest.fail)


def test_finite_divergence_and_unbounded_losses_get_a_warning(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", *TINY, "--steps", "10", "--lr", "10", "--out",
                           tmp_path / "lr10")  # fmt: skip
    assert code == 0
    assert re.search(r"warning: [dg]_loss reached \S+ at step \d+: the run is diverging", err)
    code, _, err = run_cli(
        capsys, "train", "--loss", "wasserstein", "--batch-size", "100000", "--out", tmp_path / "w"
    )
    lines = err.splitlines()
    assert code == 2 and len(lines) == 2 and "critic unbounded" in lines[0], err


def test_eval_sample_resume_and_metrics_refuse_non_finite_values(copy_of, capsys):
    run = copy_of()
    config = read_run_config(run)
    with RunCheckpoints(run / "checkpoints") as ckpts:  # what an older jaxgan could leave
        state, meta = ckpts.restore(build_state(config))
        nan = jax.tree.map(lambda x: x * np.nan if x.dtype == np.float32 else x, state)
        shutil.rmtree(run / "checkpoints" / "40")
        ckpts.save(40, nan, meta)
    before = snapshot(run)
    for argv, message in [
        (["eval", "--run", run, "-n", "20"], "makes NaN or infinite values in 20 of 20 samples"),
        (["sample", "--run", run], "makes NaN or infinite values: that checkpoint diverged"),
        (["train", "--resume", "--out", run, "--steps", "60"], "40 holds NaN or infinite"),
    ]:
        code, _, err = run_cli(capsys, *argv)
        assert code == 1
        one_line_error(err, message)
    assert snapshot(run) == before
    features = np.ones((10, 4))
    features[3, 1] = np.nan
    for fn in (
        lambda: metrics.frechet_distance_from_features(features, np.ones((10, 4))),
        lambda: metrics.kernel_inception_distance(features, np.ones((10, 4)), subset_size=5),
        lambda: metrics.prdc(np.ones((10, 4)), features),
    ):
        with pytest.raises(ValueError, match="NaN or inf") as info:
            fn()
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="NaN or infinite"):  # grids and image metrics
        to_uint8_images(np.array([0.0, np.nan]))


# -- item 2: a tracked run killed after its best checkpoint ---------------------------------

TRACKED = [*tiny_train_args(sample_every=20, checkpoint_every=40), "--set", "track_metric=fd",
           "--set", "track_samples=64", "--steps", "60"]  # fmt: skip


@pytest.fixture(scope="module")
def tracked_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("tracked") / "run"
    assert cli.main(["train", *TRACKED, "--out", str(out)]) == 0
    return out


def test_a_tracked_run_stopped_between_best_and_regular_checkpoint_resumes(
    tracked_reference, tmp_path, capsys
):
    run = tmp_path / "run"
    shutil.copytree(tracked_reference, run)
    best = max(int(p) for p in os.listdir(run / "best"))
    assert best > 40, "the reference's best step must lie after a regular checkpoint"
    # what a SIGKILL after best/<step> and before checkpoints/60 leaves behind
    shutil.rmtree(run / "checkpoints" / "60")
    (run / "summary.json").unlink()
    code, _, err = run_cli(capsys, "train", "--resume", "--out", run)
    assert code == 0, err
    assert_same_run(run, tracked_reference)


# -- item 3: corrupted checkpoint bytes ------------------------------------------------------


def flip_bytes(step_folder: Path, count: int = 64) -> Path:
    files = [p for p in (step_folder / "state").rglob("*") if p.is_file()]
    largest = max(files, key=lambda p: p.stat().st_size)
    data = bytearray(largest.read_bytes())
    middle = len(data) // 2
    data[middle : middle + count] = bytes(b ^ 0xA5 for b in data[middle : middle + count])
    largest.write_bytes(bytes(data))
    return largest


# orbax's reader leaves asyncio callbacks behind when a damaged checkpoint fails to decode
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_corrupted_checkpoint_bytes_are_refused_everywhere(copy_of, capsys):
    run = copy_of()
    flip_bytes(run / "checkpoints" / "40")
    before = snapshot(run)
    with pytest.raises(CorruptCheckpointError, match="checkpoints/40 is corrupt") as info:
        load_run(run)
    assert "the latest that verifies is 20" in str(info.value)
    for argv in (["sample", "--run", run], ["eval", "--run", run, "-n", "20"],
                 ["train", "--resume", "--out", run, "--steps", "80"]):  # fmt: skip
        code, _, err = run_cli(capsys, *argv)
        assert code == 1
        one_line_error(err, "checkpoints/40 is corrupt", "the latest that verifies is 20")
    assert snapshot(run) == before  # the good checkpoint 20 was not rotated out
    shutil.rmtree(run / "checkpoints" / "40")  # as the message says
    code, _, err = run_cli(capsys, "train", "--resume", "--out", run)
    assert code == 0, err
    assert_same_run(run, copy_of("again"))


# -- item 4: the run-folder lock -------------------------------------------------------------


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process that holds a folder's lock (a bare flock: no jax, starts at once)."""
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(folder / '.jaxgan.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0)\n"
        "os.write(fd, str(os.getpid()).encode()); print('ready', flush=True); time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_second_writer_is_refused_naming_the_holder_and_readers_still_work(
    copy_of, tmp_path, capsys
):
    run = copy_of()
    holder = hold_lock(run)
    try:
        before = snapshot(run)
        for argv in (
            ["train", *TINY, "--steps", "40", "--out", run],
            ["train", "--resume", "--out", run, "--steps", "60"],
            ["train", *TINY, "--steps", "40", "--out", run, "--overwrite"],
        ):
            code, _, err = run_cli(capsys, *argv)
            assert code == 1
            if "--overwrite" in argv or "--resume" in argv:
                one_line_error(err, f"in use by another jaxgan process \\(pid {holder.pid}\\)")
            else:
                one_line_error(err, "not empty")  # refused before even trying the lock
        assert snapshot(run) == before
        # readers take no lock (eval reads the same way: load_run, then samples)
        code, _, err = run_cli(capsys, "sample", "--run", run, "--out", tmp_path / "s.png")
        assert code == 0, err
        with pytest.raises(RunFolderBusyError, match=str(holder.pid)):
            RunLock(run).acquire()
    finally:
        holder.kill()  # SIGKILL: the kernel drops its lock, no stale lock file remains in force
        holder.wait()
    code, _, err = run_cli(capsys, "train", "--resume", "--out", run, "--steps", "60")
    assert code == 0, err


def test_an_ensemble_folder_is_locked_too(tmp_path, capsys):
    out = tmp_path / "ens"
    out.mkdir()
    holder = hold_lock(out)
    try:
        code, _, err = run_cli(
            capsys, "train", *TINY, "--steps", "20", "--seeds", "2", "--out", out
        )
        assert code == 1
        one_line_error(err, f"in use by another jaxgan process \\(pid {holder.pid}\\)")
        assert os.listdir(out) == [".jaxgan.lock"]
    finally:
        holder.kill()
        holder.wait()


# -- item 5: signals -------------------------------------------------------------------------


def test_sigterm_in_the_compile_window_saves_and_resume_matches(good, zygote, tmp_path, capsys):
    out = tmp_path / "term"
    code, err = zygote.run(["train", *TINY, "--steps", "40", "--out", out], when=locked(out),
                           signals=[signal.SIGTERM])  # fmt: skip
    assert code == 143, err
    assert re.fullmatch(
        r"jaxgan train: stopped by SIGTERM at step (\d+), checkpoint saved; continue with: "
        rf"jaxgan train --resume --out {re.escape(str(out))}\n",
        err,
    ), err
    stopped = int(re.search(r"step (\d+)", err).group(1))
    assert latest_step(out / "checkpoints") == stopped < 40
    code, _, err = run_cli(capsys, "train", "--resume", "--out", out)
    assert code == 0, err
    assert_same_run(out, good)


def test_sigint_mid_run_saves_and_a_second_signal_exits_at_once(good, zygote, tmp_path, capsys):
    out = tmp_path / "int"
    code, err = zygote.run(["train", *TINY, "--steps", "40", "--out", out], when=row(out, 10),
                           signals=[signal.SIGINT])  # fmt: skip
    assert code == 130, err
    assert err.count("\n") == 1 and "stopped by SIGINT at step" in err, err
    code, _, err = run_cli(capsys, "train", "--resume", "--out", out)
    assert code == 0, err
    assert_same_run(out, good)
    twice = tmp_path / "twice"
    code, err = zygote.run(["train", *TINY, "--steps", "40", "--out", twice], when=locked(twice),
                           signals=[signal.SIGTERM, signal.SIGTERM], gap=0.02)  # fmt: skip
    assert code == 143, err
    assert err.startswith("jaxgan: second SIGTERM: stopped at once") and err.count("\n") == 1, err
    if latest_step(twice / "checkpoints") is None:  # the advice is true either way
        assert "start again with: jaxgan train --overwrite" in err
    else:
        assert "continue from the checkpoint of step" in err


# -- items 6 and 7: one line, and checked before the folder is touched -----------------------


def idx_folder(root: Path, images: np.ndarray) -> Path:
    root.mkdir(parents=True)
    (root / "train-images-idx3-ubyte").write_bytes(encode_idx(images))
    return root


BAD_BEFORE_WRITING = [
    (["--batch-size", "100000"], r"batch_size 100000 is larger than the dataset \(256"),
    (["--set", "track_metric=fd", "--set", "track_samples=1"], "track_samples must be at least 2"),
    (["--set", "track_metric=fd", "--set", "track_samples=300"], "more than the 256 training"),
    (["--set", "grid_size=2000"], r"sample grids of 2000×2000 images need 11\.7 GiB"),
    (["--seed", "18446744073709551616"], r"seed must be below 2\*\*32"),
    (["--seed", "4294967296"], r"seed 4294967296 would repeat seed 0"),
    (["--seed", "4294967295", "--seeds", "2"], r"seed 4294967296 would repeat seed 0"),
    (["--data", "idx:{one}"], r"batch_size 32 is larger than the dataset \(1 examples\)"),
    (["--data", "idx:{flat}"], r"examples of shape \(0, 28, 1\) hold no values"),
    (["--preset", "cgan-pd-cifar10", "--set", "num_classes=1000000", "--data", "idx:{rgb}"],
     "num_classes 1000000 is more"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "message"), BAD_BEFORE_WRITING)
def test_bad_input_fails_in_one_line_before_the_folder_exists(extra, message, tmp_path, capsys):
    places = {
        "one": idx_folder(tmp_path / "one", np.zeros((1, 28, 28), np.uint8)),
        "flat": idx_folder(tmp_path / "flat", np.zeros((4, 0, 28), np.uint8)),
        "rgb": tmp_path / "rgb",
    }
    if "{rgb}" in " ".join(extra):
        idx_folder(places["rgb"], np.zeros((64, 32, 32, 3), np.uint8))
        (places["rgb"] / "train-labels-idx1-ubyte").write_bytes(
            encode_idx(np.arange(64, dtype=np.uint8) % 10)
        )
    extra = [a.format(**places) for a in extra]
    out = tmp_path / "run"
    tiny = [] if extra[0] == "--preset" else TINY
    code, _, err = run_cli(capsys, "train", *tiny, "--steps", "20", *extra, "--out", out)
    assert code in (1, 2)
    one_line_error(err, message)
    assert "image_shape=0" not in err
    assert not out.exists()  # nothing was written: the next attempt is not refused


# orbax's reader leaves asyncio callbacks behind when a damaged checkpoint fails to decode
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_quiet_failures_a_full_disk_a_missing_manifest_damaged_data(
    zygote, copy_of, tmp_path, capsys
):
    """In a real process, library threads print nothing: each failure is one line."""
    # a full disk while a checkpoint is written: a 40 KiB file size limit stands in for it.
    # Config, log rows, grids and the loss plot (~35 kB) fit; the checkpoint does not, however
    # orbax groups its arrays into files: G's last weight, D's first and their Adam moments
    # are 16 × 784 floats each, 47-50 kB in a data file. (The run's programs come from the
    # session's cache: a new cache entry would be a write past the limit too.)
    out = tmp_path / "full"
    code, err = zygote.run(["train", *TINY, "--steps", "20", "--out", out], fsize=40_960)
    assert code == 1, err
    assert re.fullmatch(
        r"jaxgan train: error: could not write checkpoint \S+/checkpoints/20 \(File too "
        r"large\); there is no earlier checkpoint: .* start again \(--overwrite\)\n",
        err,
    ), err
    assert latest_step(out / "checkpoints") is None
    # a missing manifest: one line, not dozens of "Event loop is closed" tracebacks
    run = copy_of()
    (run / "checkpoints" / "40" / "state" / "manifest.ocdbt").unlink()
    code, err = zygote.run(["train", "--resume", "--out", run, "--steps", "60"])
    assert code == 1
    one_line_error(err, "checkpoints/40 is corrupt or incomplete", "verifies is 20")
    with pytest.raises(CorruptCheckpointError):  # --debug: the exception and its traceback
        cli.main(["train", "--resume", "--out", str(run), "--steps", "60", "--debug"])
    # a damaged data file
    broken = idx_folder(tmp_path / "broken", np.zeros((64, 28, 28), np.uint8))
    data = (broken / "train-images-idx3-ubyte").read_bytes()
    (broken / "train-images-idx3-ubyte").write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(capsys, "train", "--data", f"idx:{broken}", "--out", tmp_path / "d")
    assert code == 1
    one_line_error(err, "train-images-idx3-ubyte")


# -- item 8: an edited config.json -----------------------------------------------------------


def test_resume_refuses_a_config_json_edited_since_the_checkpoint(copy_of, capsys):
    run = copy_of()
    values = json.loads((run / "config.json").read_text())
    values["lr"] = 0.5
    (run / "config.json").write_text(json.dumps(values))
    before = snapshot(run)
    code, _, err = run_cli(capsys, "train", "--resume", "--out", run, "--steps", "60")
    assert code == 2
    one_line_error(err, "config.json no longer matches checkpoint", "lr is 0.5 in config.json "
                   "but 0.0002 in the checkpoint")  # fmt: skip
    assert snapshot(run) == before


# -- item 9: damaged files, clear messages ---------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes().replace(b'"step": 20', b'"step": \xff')),
         r"metrics\.jsonl is damaged: line 2 is not UTF-8 text"),
        (lambda p: p.write_text(p.read_text().replace('"step": 20', '"step": "x"')),
         r"metrics\.jsonl is damaged: line 2 is not a row with a positive integer step"),
        (lambda p: (p.unlink(), p.mkdir()),
         r"metrics\.jsonl is not a file but jaxgan writes its metrics\.jsonl there"),
    ],
)  # fmt: skip
def test_a_damaged_metrics_log_is_named(damage, message, copy_of, capsys):
    run = copy_of()
    damage(run / "metrics.jsonl")
    before = snapshot(run)
    code, _, err = run_cli(capsys, "train", "--resume", "--out", run, "--steps", "60")
    assert code == 1
    one_line_error(err, message)
    assert snapshot(run) == before
    assert not (run / ".metrics.jsonl.tmp").exists()


# -- item 12: --overwrite checks everything first ---------------------------------------------


def test_overwrite_refuses_a_symlink_before_deleting_anything(copy_of, tmp_path, capsys):
    run = copy_of()
    elsewhere = tmp_path / "my_samples"
    (run / "samples").rename(elsewhere)
    (run / "samples").symlink_to(elsewhere)
    before = snapshot(run)
    code, _, err = run_cli(capsys, "train", *TINY, "--steps", "20", "--out", run, "--overwrite")
    assert code == 1
    one_line_error(err, "samples is a symbolic link")
    assert snapshot(run) == before and (run / "samples").is_symlink()
    (run / "samples").unlink()
    code, _, err = run_cli(capsys, "train", *TINY, "--steps", "20", "--out", run, "--overwrite")
    assert code == 0, err
    assert sorted(os.listdir(run / "checkpoints")) == ["20"] and elsewhere.is_dir()


# -- the library pieces ----------------------------------------------------------------------


def test_checkpoint_integrity_and_rotation(good, tmp_path):
    state = build_state(read_run_config(good))
    with RunCheckpoints(tmp_path, keep=1) as ckpts:
        ckpts.save(30, state, {"step": 0})
        ckpts.save(10, state, {"step": 0})  # an older step saved now is kept (just saved)
        assert ckpts.steps() == [10, 30]
        ckpts.keep_newest(30)
        assert ckpts.steps() == [30]
        restored, meta = ckpts.restore(state)
    assert meta == {"step": 0} and state_digest(restored) == state_digest(state)
    assert finite_state(restored)


def test_guards_on_their_own(tmp_path):
    with pytest.raises(guards.ConfigError, match="repeat seed 2"):
        guards.check_seed(2**32 - 2, 5)
    guards.check_seed(2**32 - 5, 5)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("1")
    (tmp_path / "b").write_text("2")
    guards.clear_entries(tmp_path, ["a", "b", "missing"])
    assert os.listdir(tmp_path) == []


def test_the_benchmark_flags_ratios_a_busy_machine_makes_meaningless():
    from script_loader import load_script

    step_time = load_script("benchmarks/step_time.py")

    def row(framework, form, rates, load=0.2):
        low, median, high = rates
        return {"arch": "mlp", "batch": 64, "dtype": "f32", "framework": framework,
                "form": form, "label": form, "status": "ok", "load_average": load,
                "it_per_s": {"min": low, "median": median, "max": high}}  # fmt: skip

    starved = [row("torch", "torch_eager", (8.0, 3.2, 490.0)), row("jax", "fused", (270, 272, 275))]
    step_time.add_ratios(starved)
    lines = step_time.unreliable_ratios(starved, cpus=2)
    assert len(lines) == 1 and "ran at 8–490 it/s" in lines[0], lines
    assert "ratio_warning" in starved[1]
    busy = [row("torch", "torch_eager", (300, 315, 320), load=3.1), row("jax", "fused", (400,) * 3)]
    step_time.add_ratios(busy)
    assert "load average 3.1 on 2 CPUs" in step_time.unreliable_ratios(busy, cpus=2)[0]
    quiet = [row("torch", "torch_eager", (300, 315, 320)), row("jax", "fused", (400,) * 3)]
    step_time.add_ratios(quiet)
    assert step_time.unreliable_ratios(quiet, cpus=2) == []


# -- the SIGKILL loop ------------------------------------------------------------------------

ENSEMBLE = [*tiny_train_args(sample_every=20, checkpoint_every=20), "--steps", "40",
            "--seeds", "4", "--runs-together", "2"]  # fmt: skip


@pytest.fixture(scope="module")
def ensemble_reference(tmp_path_factory):
    """Four tiny runs in two slices of two (one compiled program for both)."""
    out = tmp_path_factory.mktemp("ensemble") / "run"
    assert cli.main(["train", *ENSEMBLE, "--out", str(out)]) == 0
    return out


def kill_moments(kind: str, out: Path) -> list:
    """The moments a chain's processes are killed at, in order, each in the next process.

    Each chain's last kill leaves a complete checkpoint to resume from, log rows and grids
    written after it, and a checkpoint written after it in part (single, ensemble) or in full
    (tracked: its best checkpoint). single: in the compile window (start again over the killed
    run), then mid-write of checkpoint 40 (resume from 20). tracked: mid-write of
    checkpoints/60, after best/60 was saved (resume from 40 with a newer best checkpoint).
    ensemble: in the compile window, then mid-write of slice 001's checkpoint 40 (slice 000
    done, slice 001 resumed from 20).
    """
    if kind == "single":
        return [locked(out), saving(out, out / "checkpoints", 40)]
    if kind == "tracked":
        return [saving(out, out / "checkpoints", 60)]
    return [locked(out), saving(out, out / "slices" / "001" / "checkpoints", 40)]


def saved_digest(checkpoint: Path) -> str:
    """The sha256 of a checkpoint's arrays, as recorded in its metadata when it was saved."""
    return json.loads((checkpoint / "meta" / "metadata").read_text())["state_sha256"]


def next_command(kind: str, argv: list, out: Path) -> list:
    """Resume what a kill left; start again (over it) when there is nothing to resume."""
    if kind == "ensemble":
        resumable = (out / "ensemble.json").exists()
    else:
        resumable = latest_step(out / "checkpoints") is not None
    if resumable:
        return ["train", "--resume", "--out", out]
    return ["train", *argv, "--out", out, *(["--overwrite"] if out.exists() else [])]


@pytest.mark.slow
def test_sigkill_anywhere_resumes_bit_identical(
    good, tracked_reference, ensemble_reference, zygote, tmp_path, capsys
):
    """SIGKILLs at the risky moments of three chains, each resumed to the same bits."""
    log = []
    for kind, argv, reference in [
        ("single", [*TINY, "--steps", "40"], good),
        ("tracked", TRACKED, tracked_reference),
        ("ensemble", ENSEMBLE, ensemble_reference),
    ]:
        out = tmp_path / kind
        for when in kill_moments(kind, out):
            code, err = zygote.run(next_command(kind, argv, out), when=when)
            log.append(f"{kind}: {when.label}: {code} ({zygote.cpu_s[-1]} CPU-s)")
            assert code == -signal.SIGKILL, (log, err)  # killed at that moment, not before
        # what the last kill left: a complete checkpoint to resume from and a half-written one
        ckpts = out / ("slices/001/checkpoints" if kind == "ensemble" else "checkpoints")
        assert latest_step(ckpts) == (40 if kind == "tracked" else 20), log
        assert any(".orbax-checkpoint-tmp" in p.name for p in ckpts.iterdir()), log
        if kind == "tracked":  # and a best checkpoint newer than the regular one
            assert latest_step(out / "best") == 60, log
        if kind == "ensemble":
            assert (out / "slices" / "000" / "done.json").is_file()
        code, _, err = run_cli(capsys, *next_command(kind, argv, out))
        assert code == 0, err
        if kind != "ensemble":
            assert_same_run(out, reference)
            continue
        for k in ("000", "001"):
            ours, theirs = (run / "slices" / k / "checkpoints" / "40" for run in (out, reference))
            assert saved_digest(ours) == saved_digest(theirs)
        with np.load(out / "history.npz") as a, np.load(reference / "history.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key])
    print("\n".join(log))  # shown with -s
