"""A zygote for tests that signal or kill ``jaxgan`` processes: import once, fork per command.

A fresh ``python -m jaxgan`` spends seconds importing jax, orbax and matplotlib before it does
anything. This process imports ``jaxgan.cli`` and what its commands import once
(single-threaded: ``OPENBLAS_NUM_THREADS=1``, no JAX backend yet, so forking is safe; checked on
Linux) and then runs each command in a forked child, which is the console script from
``main()`` on: same handlers, same exit path, same files. Children use
the persistent compilation cache the environment names (``JAX_COMPILATION_CACHE_DIR``: the test
session's, root ``conftest.py``), so a program compiled once in the session is read back.

Protocol (JSON lines): the test writes ``{"argv": [...], "stderr": "<file>"}`` (and optionally
``"fsize": bytes``, a file size limit standing in for a full disk); this process answers
``{"pid": N}`` when the child starts and ``{"pid": N, "returncode": R, "cpu_s": S}`` when it ends
(``R`` is ``-signal`` for a child killed by a signal, as ``subprocess`` reports it; ``S`` is the
child's user + system CPU seconds). An exception that escapes ``main()`` (``--debug``) is
printed with its traceback, as Python would print it.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys


def main() -> None:
    """Serve commands from stdin until it closes."""
    from jaxgan import cli

    # what the children's commands import on their way (orbax, the experiment modules, every
    # preset for the parser's help): once here instead of in every child
    for module in ("ensemble", "evaluators", "sample", "train"):
        importlib.import_module(f"jaxgan.experiment.{module}")
    cli.build_parser()
    tasks = "/proc/self/task"  # Linux: this process's threads
    if os.path.isdir(tasks):
        assert len(os.listdir(tasks)) == 1, "the zygote must stay single-threaded to fork"

    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(command)
        print(json.dumps({"pid": pid}), flush=True)
        _, status, usage = os.wait4(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        cpu = round(usage.ru_utime + usage.ru_stime, 2)
        print(json.dumps({"pid": pid, "returncode": code, "cpu_s": cpu}), flush=True)


def _child(command: dict) -> None:
    from jaxgan import cli

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(command["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(err, 2)
    if command.get("fsize"):
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (command["fsize"], command["fsize"]))
    sys.argv = ["jaxgan", *command["argv"]]
    code = 1
    try:
        code = cli.main()  # the entry point: as the console script runs it
    except BaseException:  # printed as the interpreter would print it
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    main()
