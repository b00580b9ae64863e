"""Time jaxgan's compiled steps and fit loops against PyTorch, on whatever device JAX sees.

Run from the repository root:

    python benchmarks/step_time.py --quick                 # < 1 min on a 2-core CPU
    python benchmarks/step_time.py                         # MLP + DCGAN, batch 64 and 256
    python benchmarks/step_time.py --dtype bf16 --archs mlp
    python benchmarks/step_time.py --backend cpu --no-compile --batch-sizes 64
    python benchmarks/step_time.py --archs sn-resnet --quick --forms fused   # SNGAN CIFAR, slow

Every architecture is a preset (``seed-mlp``, ``dcgan-mnist``, ``sngan-cifar10``) built by
``jaxgan.experiment.build_state``, as ``jaxgan train`` builds it; ``--width``, ``--upsample``,
``--dtype`` and ``--set FIELD=VALUE`` change the preset through ``apply_overrides``.
For every (architecture, batch size[, DCGAN upsampling]) it times, each from a fresh state:
``train_step`` (one fused D+G iteration; also with ``StepConfig.reuse_fake`` and with
``joint_d_call=False``), ``d_step`` and ``g_step`` alone and alternated ("2 jits"), and
``jaxgan.fit`` with ``loop="auto"`` (the library default), ``"scan"`` and ``"python"``. The
first call (trace + compile + one run) is reported apart from steady state; steady state is
``--repeats`` timed repeats after ``--warmup`` calls, each repeat ending in
``block_until_ready``; the table shows the median and min–max over repeats. FLOPs per iteration
come from XLA's cost analysis of the lowered step; PyTorch rows are given the FLOPs of the
jaxgan program that does the same work (its iteration: ``train_step`` with ``reuse_fake``, with
transposed convolutions as PyTorch's ``ConvTranspose2d``). Beside them, the f32 matmul peak of
this device (a 2048² ``jnp.dot`` and ``torch.mm``) shows how close each side runs to the
limit. With PyTorch installed the same architectures run in the same process (eager and
``torch.compile``) on the same device, and every jaxgan row gets its ratio to them. Output: a
printed table, a JSON file and a PNG chart.

The script holds no training logic: every step it times is ``jaxgan.*``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import numpy as np

import jaxgan
from jaxgan.experiment.build import build_state
from jaxgan.experiment.config import TrainConfig, apply_overrides, load_preset, parse_overrides

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BACKEND_ALIASES = {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda", "tpu": "tpu"}
JAX_FORMS = (
    "fused",
    "fused_reuse",
    "fused_two_d_calls",
    "d_step",
    "d_step_two_calls",
    "g_step",
    "two_jits",
    "fit_auto",
    "fit_scan",
    "fit_python",
)
FORM_LABELS = {
    "fused": "jax train_step (fused D+G)",
    "fused_reuse": "jax train_step, reuse_fake (1 G forward)",
    "fused_two_d_calls": "jax train_step, joint_d_call=False",
    "d_step": "jax d_step (D update only)",
    "d_step_two_calls": "jax d_step, joint_d_call=False",
    "g_step": "jax g_step (G update only)",
    "two_jits": "jax d_step + g_step (2 jits)",
    "fit_auto": "jax fit loop=auto",
    "fit_scan": "jax fit loop=scan",
    "fit_python": "jax fit loop=python",
    "torch_eager": "torch eager iteration",
    "torch_eager_d": "torch eager D step only",
    "torch_eager_g": "torch eager G step only",
    "torch_compile": "torch.compile iteration",
}
UPDATE_FORMS = {"d_step", "d_step_two_calls", "g_step", "torch_eager_d", "torch_eager_g"}
STEP_OPTIONS = {
    "fused_reuse": {"reuse_fake": True},
    "fused_two_d_calls": {"joint_d_call": False},
    "d_step_two_calls": {"joint_d_call": False},
}
"""``StepConfig`` fields each form changes from the preset's (the others run the defaults)."""
TORCH_WORK = {"torch_eager": "fused_reuse", "torch_compile": "fused_reuse"}
TORCH_WORK.update(torch_eager_d="d_step", torch_eager_g="g_step")
"""The jaxgan form whose FLOPs count the work of each PyTorch row (same algorithm)."""


@dataclasses.dataclass(frozen=True)
class Arch:
    """One benchmarked architecture: the preset it is built from and the benchmark's defaults.

    Attributes:
        name: human-readable name for tables.
        preset: the ``jaxgan/presets`` name; models, optimisers, loss and ``n_critic`` are its.
        steps_per_call: default iterations per ``fit`` call (scan length).
        has_upsample: whether the ``--upsample`` variants apply.
        torch_twin: the ``benchmarks/torch_baselines.py`` twin (``None``: there is none).

    """

    name: str
    preset: str
    steps_per_call: int
    has_upsample: bool = False
    torch_twin: str | None = None


ARCHS = {
    "mlp": Arch("seed MLP", "seed-mlp", steps_per_call=50, torch_twin="mlp"),
    "dcgan": Arch(
        "DCGAN 28x28", "dcgan-mnist", steps_per_call=10, has_upsample=True, torch_twin="dcgan"
    ),
    # SNGAN's CIFAR-10 setup: G blocks of 256 channels, D blocks of 128, z 128, hinge loss,
    # 5 D updates per G update, Adam(2e-4, 0, 0.9) with a linear decay
    "sn-resnet": Arch(
        "SN-ResNet 32x32 (SNGAN CIFAR, hinge, n_critic 5)", "sngan-cifar10", steps_per_call=5
    ),
}


def benchmark_config(
    arch_name: str,
    *,
    upsample: str = "auto",
    dtype: str = "f32",
    width: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """The ``TrainConfig`` of one benchmarked setup: the arch's preset with the changes asked.

    Args:
        arch_name: a key of ``ARCHS``.
        upsample: DCGAN upsampling (ignored by architectures without it).
        dtype: ``"f32"`` or ``"bf16"`` (``compute_dtype="bfloat16"``).
        width: the preset's ``width`` field (None: the preset's).
        overrides: further fields, as ``--set`` gives them.

    Returns:
        The validated config.

    Example:
        >>> benchmark_config("dcgan", width=32).model.width
        32

    """
    arch = ARCHS[arch_name]
    changes: dict[str, Any] = dict(overrides or {})
    if arch.has_upsample:
        changes["upsample"] = upsample
    if dtype == "bf16":
        changes["compute_dtype"] = "bfloat16"
    if width is not None:
        changes["width"] = width
    return apply_overrides(load_preset(arch.preset), changes)


def new_state(config: TrainConfig, options: dict[str, Any] | None = None, seed: int = 0):
    """A fresh state of ``config`` built by ``build_state``, with StepConfig ``options`` set.

    ``build_state`` takes its optimisers from ``default_optimizer``, which returns the same
    object for the same arguments, so equal setups share their compiled programs.

    Args:
        config: from ``benchmark_config``.
        options: ``StepConfig`` fields to change (e.g. ``{"reuse_fake": True}``).
        seed: initialisation seed.

    Returns:
        A ``GANState`` at step 0.

    Example:
        >>> state = new_state(benchmark_config("mlp"), {"reuse_fake": True})
        >>> state.config.reuse_fake
        True

    """
    state = build_state(config, jax.random.key(seed))
    if options:
        state = state.replace(config=dataclasses.replace(state.config, **options))
    return state


@dataclasses.dataclass
class Timing:
    """Result of ``measure``: the first call and the steady-state seconds per iteration.

    Attributes:
        first_call_s: wall time of the first call (trace + compile + one run).
        seconds_per_iteration: one value per timed repeat.
        calls_per_repeat: calls in each timed repeat.

    """

    first_call_s: float
    seconds_per_iteration: list[float]
    calls_per_repeat: int


def measure(
    run: Callable[[int], None],
    *,
    iterations_per_call: int = 1,
    repeats: int = 5,
    warmup: int = 1,
    target_s: float = 2.0,
    max_s: float = 60.0,
) -> Timing:
    """Time ``run(n)`` (n calls, then block until the results are ready).

    The first call is timed alone (it compiles). After ``warmup`` more calls, the number of calls
    per repeat is chosen so all repeats take about ``target_s``; repeats stop early once they
    have taken ``max_s`` (at least one repeat always runs).

    Args:
        run: runs ``n`` calls and blocks until their outputs are ready.
        iterations_per_call: training iterations one call performs (e.g. a fit chunk).
        repeats: timed repeats.
        warmup: untimed calls after the first one.
        target_s: wanted total time of the timed repeats.
        max_s: time after which no further repeat starts.

    Returns:
        A ``Timing``.

    Example:
        >>> t = measure(lambda n: None, repeats=2)
        >>> len(t.seconds_per_iteration)
        2

    """
    start = time.perf_counter()
    run(1)
    first = time.perf_counter() - start
    estimate = first
    for _ in range(warmup):
        start = time.perf_counter()
        run(1)
        estimate = time.perf_counter() - start
    calls = max(1, round(target_s / repeats / max(estimate, 1e-9)))
    samples: list[float] = []
    began = time.perf_counter()
    for _ in range(repeats):
        start = time.perf_counter()
        run(calls)
        samples.append((time.perf_counter() - start) / (calls * iterations_per_call))
        if time.perf_counter() - began > max_s:
            break
    return Timing(first, samples, calls)


def summarize(timing: Timing) -> dict[str, Any]:
    """Turn a ``Timing`` into JSON-ready statistics (it/s and ms/it: median, min, max).

    Args:
        timing: the measurement.

    Returns:
        A dict with ``first_call_s``, ``it_per_s``, ``ms_per_it``, ``repeats``,
        ``calls_per_repeat``.

    Example:
        >>> summarize(Timing(1.0, [0.5, 0.25], 1))["it_per_s"]["median"]
        3.0

    """
    secs = timing.seconds_per_iteration
    rates = [1.0 / s for s in secs]
    return {
        "first_call_s": timing.first_call_s,
        "it_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
        "ms_per_it": {
            "median": 1e3 * statistics.median(secs),
            "min": 1e3 * min(secs),
            "max": 1e3 * max(secs),
        },
        "repeats": len(secs),
        "calls_per_repeat": timing.calls_per_repeat,
    }


def _flops(jitted: Any, *args: Any) -> float | None:
    """FLOPs of one call from XLA's cost analysis of the lowered program (None if unknown)."""
    try:
        cost = jitted.lower(*args).cost_analysis()
    except Exception:  # cost analysis is optional on some backends
        return None
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    flops = (cost or {}).get("flops")
    return float(flops) if flops is not None and flops > 0 else None


def _step_runner(steps: Sequence[Any], state: Any, *, batch: jax.Array, key: jax.Array):
    """``run(n)`` applying the jitted (donating) ``steps`` in order, n times, then blocking."""
    box = [state]

    def run(n: int) -> None:
        s, out = box[0], None
        for _ in range(n):
            for step in steps:
                s, out = step(s, batch, key)
        jax.block_until_ready((s, out))
        box[0] = s

    return run


def _fit_runner(state: Any, *, data: jax.Array, batch_size: int, loop: str, per_call: int):
    """``run(n)``: one ``jaxgan.fit`` call of ``n`` chunks of ``per_call`` iterations."""
    box = [state]

    def run(n: int) -> None:
        s, _ = jaxgan.fit(
            box[0],
            data,
            steps=n * per_call,
            batch_size=batch_size,
            key=0,
            loop=loop,
            steps_per_call=per_call,
        )
        box[0] = jax.block_until_ready(s)

    return run


def fit_overhead_s(run: Callable[[int], None], repeats: int = 3) -> float:
    """Median wall time of a ``fit`` call with zero steps: validation and loop choice only.

    Args:
        run: a runner from ``_fit_runner`` (``run(0)`` trains nothing).
        repeats: calls to time.

    Returns:
        Seconds per call (the fixed cost every ``fit`` call pays on top of its iterations).

    Example:
        >>> fit_overhead_s(lambda n: None) < 0.1
        True

    """
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_jax(
    arch_name: str,
    batch_size: int,
    upsample: str,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Time every requested jaxgan form for one (arch, batch, upsample) setup.

    Args:
        arch_name: a key of ``ARCHS``.
        batch_size: examples per D update.
        upsample: DCGAN upsampling implementation (``"auto"``, ``"transpose"``, ``"subpixel"``).
        args: parsed command line (forms, repeats, dtype, ...).

    Returns:
        One record per form (see ``run_benchmark``).

    Example:
        >>> rows = bench_jax("mlp", 64, "auto", parse_args(["--quick"]))  # doctest: +SKIP

    """
    arch = ARCHS[arch_name]
    config = benchmark_config(
        arch_name, upsample=upsample, dtype=args.dtype, width=args.width, overrides=args.set
    )
    n_critic = config.step.n_critic
    key = jax.random.key(0)
    per_call = args.steps_per_call or arch.steps_per_call
    data, batch, iteration_batch = _random_data(config, batch_size)
    steps = _form_steps(n_critic)
    batches = {form: iteration_batch if form.startswith("fused") else batch for form in steps}
    runners = {
        form: functools.partial(_step_runner, steps[form], batch=batches[form], key=key)
        for form in steps
    }
    runners.update(
        {
            f"fit_{loop}": functools.partial(
                _fit_runner, data=data, batch_size=batch_size, loop=loop, per_call=per_call
            )
            for loop in ("auto", "scan", "python")
        }
    )
    rows = []
    for form in (f for f in JAX_FORMS if f in args.forms):
        run = runners[form](new_state(config, STEP_OPTIONS.get(form)))
        fit_form = form.startswith("fit_")
        timing = measure(
            run,
            iterations_per_call=per_call if fit_form else 1,
            repeats=args.repeats,
            warmup=args.warmup,
            target_s=args.target_seconds,
            max_s=args.max_seconds,
        )
        extra: dict[str, Any] = {
            "upsample": upsample if arch.has_upsample else None,
            "width": config.model.width if config.model.family != "mlp" else None,
            "loss": config.step.loss,
            "n_critic": n_critic,
            "preset": arch.preset,
            "step_options": STEP_OPTIONS.get(form, {}),
        }
        if fit_form:
            # steady state of the loop: the fixed cost of each fit call (validation, loop
            # choice) is measured apart and taken out; it is reported in its own field
            overhead = fit_overhead_s(run)
            per_repeat = timing.calls_per_repeat * per_call
            raw = summarize(timing)["it_per_s"]
            timing.seconds_per_iteration = [
                max(s - overhead / per_repeat, 1e-12) for s in timing.seconds_per_iteration
            ]
            extra.update(
                steps_per_call=per_call,
                iterations_per_fit_call=per_repeat,
                fit_call_overhead_s=overhead,
                it_per_s_with_call_overhead=raw,
            )
        rows.append({**_record(arch_name, batch_size, args.dtype, "jax", form, timing), **extra})
    # after the timings, so that no first call above found its trace already cached
    flops = {form: form_flops(config, form, batch_size) for form in steps}
    chosen = jaxgan.choose_loop(new_state(config), data, batch_size)
    compiled: set[str] = set()
    for row in rows:
        row["flops_per_it"] = flops.get(row["form"], flops["fused"])
        if row["form"].startswith("fit_"):
            row["loop"] = chosen if row["form"] == "fit_auto" else row["form"][4:]
        # the same program already ran in this setup: the first call did not compile
        needs = _PROGRAMS.get(row["form"], {f"fit_{row.get('loop')}"})
        row["compiled_earlier"] = needs <= compiled
        compiled |= needs
        _with_flop_rate(row)
    return rows


_PROGRAMS = {
    "fused": {"fused"},
    "fused_reuse": {"fused_reuse"},
    "fused_two_d_calls": {"fused_two_d_calls"},
    "d_step": {"d"},
    "d_step_two_calls": {"d_two_calls"},
    "g_step": {"g"},
    "two_jits": {"d", "g"},
}
"""The compiled programs each step form runs (a form whose programs ran before reuses them)."""


def _form_steps(n_critic: int) -> dict[str, list[Any]]:
    """The jitted steps each step form calls, in order, per iteration (or per update)."""
    return {
        "fused": [jaxgan.train_step],
        "fused_reuse": [jaxgan.train_step],
        "fused_two_d_calls": [jaxgan.train_step],
        "d_step": [jaxgan.d_step],
        "d_step_two_calls": [jaxgan.d_step],
        "g_step": [jaxgan.g_step],
        "two_jits": [jaxgan.d_step] * n_critic + [jaxgan.g_step],
    }


def _random_data(config: TrainConfig, batch_size: int):
    """Uniform data in [-1, 1] of the config's shape: ``(data, batch, iteration batch)``."""
    examples = max(4 * batch_size * config.step.n_critic, 1024)
    shape = (examples, *config.data.image_shape)
    data = jax.random.uniform(jax.random.key(1), shape, minval=-1.0, maxval=1.0)
    iteration_batch = data[: batch_size * config.step.n_critic]  # n_critic D batches of batch_size
    return data, data[:batch_size], jax.block_until_ready(iteration_batch)


def form_flops(config: TrainConfig, form: str, batch_size: int) -> float | None:
    """FLOPs of one iteration (or update) of a step form, by XLA's cost analysis.

    Args:
        config: the setup's config.
        form: a step form (a key of ``_PROGRAMS``).
        batch_size: examples per D update.

    Returns:
        The FLOPs, or None when the backend gives no cost analysis.

    Example:
        >>> form_flops(benchmark_config("mlp"), "fused", 64) > 0
        True

    """
    state = new_state(config, STEP_OPTIONS.get(form))
    _, batch, iteration_batch = _random_data(config, batch_size)
    total = 0.0
    for step in _form_steps(config.step.n_critic)[form]:
        real = iteration_batch if form.startswith("fused") else batch
        flops = _flops(step, state, real, jax.random.key(0))
        if flops is None:
            return None
        total += flops
    return total


def _record(arch: str, batch: int, dtype: str, framework: str, form: str, timing: Timing):
    return {
        "arch": arch,
        "batch": batch,
        "dtype": dtype,
        "framework": framework,
        "form": form,
        "label": FORM_LABELS[form],
        "unit": "update" if form in UPDATE_FORMS else "iteration",
        "status": "ok",
        **summarize(timing),
    }


def _with_flop_rate(row: dict[str, Any]) -> dict[str, Any]:
    flops = row.get("flops_per_it")
    row["gflop_per_s"] = flops * row["it_per_s"]["median"] / 1e9 if flops else None
    return row


def load_torch_baselines() -> tuple[ModuleType | None, str]:
    """Import ``benchmarks/torch_baselines.py`` if PyTorch is installed.

    Returns:
        ``(module, "")``, or ``(None, reason)`` when torch cannot be imported.

    Example:
        >>> module, reason = load_torch_baselines()

    """
    path = Path(__file__).resolve().with_name("torch_baselines.py")
    spec = importlib.util.spec_from_file_location("jaxgan_torch_baselines", path)
    if spec is None or spec.loader is None:
        return None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as err:
        sys.modules.pop(spec.name, None)
        return None, f"PyTorch not installed ({err}); pip install 'jaxgan[torch]'"
    return module, ""


def torch_device_for(backend: str, torch: ModuleType) -> tuple[str | None, str]:
    """Pick the PyTorch device that matches the JAX backend.

    Args:
        backend: ``jax.default_backend()``.
        torch: the imported torch module.

    Returns:
        ``(device, "")`` or ``(None, reason)`` when PyTorch cannot run on the same device.

    Example:
        >>> torch_device_for("cpu", torch)  # doctest: +SKIP
        ('cpu', '')

    """
    if backend == "cpu":
        return "cpu", ""
    if backend in ("gpu", "cuda") and torch.cuda.is_available():
        return "cuda", ""
    return None, f"no PyTorch device matches the JAX backend {backend!r}"


def _na(arch: str, batch: int, dtype: str, form: str, reason: str) -> dict[str, Any]:
    return {
        "arch": arch,
        "batch": batch,
        "dtype": dtype,
        "framework": "torch",
        "form": form,
        "label": FORM_LABELS[form],
        "unit": "iteration",
        "status": "n/a",
        "reason": reason,
    }


def bench_torch(
    baselines: ModuleType, device: str, arch: str, batch_size: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Time the PyTorch twin: eager D step, G step and iteration, and torch.compile iteration.

    Args:
        baselines: the ``torch_baselines`` module.
        device: torch device string.
        arch: ``"mlp"`` or ``"dcgan"``.
        batch_size: examples per D update.
        args: parsed command line.

    Returns:
        Records like ``bench_jax``'s; a failed torch.compile gives an ``"n/a"`` record.

    Example:
        >>> rows = bench_torch(tb, "cpu", "mlp", 64, parse_args(["--quick"]))  # doctest: +SKIP

    """
    bf16 = args.dtype == "bf16"
    real = baselines.random_images(batch_size, device=device)
    dev = baselines.torch.device(device)

    def runner(step: Callable[[], Any]) -> Callable[[int], None]:
        def run(n: int) -> None:
            for _ in range(n):
                step()
            baselines.synchronize(dev)

        return run

    opts = {
        "repeats": args.repeats,
        "warmup": args.warmup,
        "target_s": args.target_seconds,
        "max_s": args.max_seconds,
    }
    rows = []
    twin = ARCHS[arch].torch_twin
    # the twin of the preset at the benchmark's width; FLOPs: the jaxgan program doing the
    # same work, with transposed convolutions (PyTorch's ConvTranspose2d; no zero taps)
    config = benchmark_config(arch, upsample="transpose", width=args.width, overrides=args.set)
    width = config.model.width
    eager = baselines.make_gan(twin, device=device, width=width, bf16=bf16)
    for form, step in (
        ("torch_eager", lambda: eager.iteration(real)),
        ("torch_eager_d", lambda: eager.d_step(real)),
        ("torch_eager_g", lambda: eager.g_step(batch_size)),
    ):
        timing = measure(runner(step), **opts)
        rows.append(_record(arch, batch_size, args.dtype, "torch", form, timing))
    flops = {form: form_flops(config, form, batch_size) for form in set(TORCH_WORK.values())}
    for row in rows:
        row["flops_per_it"] = flops[TORCH_WORK[row["form"]]]
        _with_flop_rate(row)
    if args.no_compile:
        rows.append(_na(arch, batch_size, args.dtype, "torch_compile", "skipped (--no-compile)"))
        return rows
    try:
        compiled = baselines.make_gan(
            twin, device=device, width=width, bf16=bf16, compile_models=True
        )
        timing = measure(runner(lambda: compiled.iteration(real)), **opts)
    except Exception as err:  # torch.compile failures are reported, not fatal
        first_line = (str(err).strip().splitlines() or [""])[0][:200]
        reason = f"{type(err).__name__}: {first_line}"
        rows.append(_na(arch, batch_size, args.dtype, "torch_compile", reason))
    else:
        row = _record(arch, batch_size, args.dtype, "torch", "torch_compile", timing)
        rows.append(_with_flop_rate({**row, "flops_per_it": flops["fused_reuse"]}))
    return rows


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Give each jaxgan row its speed ratio to PyTorch eager and torch.compile (same setup).

    A ratio compares iterations per second (D step alone with D step alone, G with G); > 1
    means jaxgan is faster. Rows without a matching measured PyTorch row get ``None``.

    Args:
        rows: all records of a run (modified in place).

    Example:
        >>> add_ratios([])

    """
    base = {
        (r["arch"], r["batch"], r["dtype"], r["form"]): r["it_per_s"]["median"]
        for r in rows
        if r["framework"] == "torch" and r["status"] == "ok"
    }
    match = {"d_step": "torch_eager_d", "d_step_two_calls": "torch_eager_d"}
    match["g_step"] = "torch_eager_g"
    for row in rows:
        if row["framework"] != "jax":
            continue
        setup = (row["arch"], row["batch"], row["dtype"])
        eager = base.get((*setup, match.get(row["form"], "torch_eager")))
        compiled = None if row["form"] in match else base.get((*setup, "torch_compile"))
        rate = row["it_per_s"]["median"]
        row["vs_torch_eager"] = rate / eager if eager else None
        row["vs_torch_compile"] = rate / compiled if compiled else None


def add_peak_size_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--peak-size``, the side of the square f32 matmul behind :func:`matmul_peak`.

    Args:
        parser: the script's argument parser.

    Returns:
        None; the parsed namespace gets ``peak_size`` (default 2048).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_peak_size_option(parser)
        >>> parser.parse_args(["--peak-size", "256"]).peak_size
        256
    """
    parser.add_argument(
        "--peak-size",
        type=int,
        default=2048,
        help="side of the square f32 matmul that measures the peak (smoke tests: small)",
    )


def matmul_peak(framework: str = "jax", n: int = 2048, repeats: int = 5) -> dict[str, float]:
    """This device's f32 matmul rate: an ``n × n`` by ``n × n`` product, in GFLOP/s.

    The roofline beside the steps' GFLOP/s: the rate that dense f32 arithmetic reaches here
    (``jnp.dot`` under ``jax.jit``, or ``torch.mm`` with the benchmark's threads).

    Args:
        framework: ``"jax"`` or ``"torch"`` (must be importable).
        n: matrix size.
        repeats: timed products after one warm-up.

    Returns:
        ``{"median": ..., "best": ..., "n": n}`` in GFLOP/s.

    Example:
        >>> matmul_peak("jax", n=64, repeats=2)["median"] > 0
        True

    """
    if framework == "torch":
        torch = sys.modules["torch"]
        a, b = torch.randn(n, n), torch.randn(n, n)

        def product() -> None:
            torch.mm(a, b)

    else:
        a = jax.random.normal(jax.random.key(0), (n, n), np.float32)
        b = jax.random.normal(jax.random.key(1), (n, n), np.float32)
        dot = jax.jit(jax.numpy.dot)

        def product() -> None:
            dot(a, b).block_until_ready()

    product()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        times.append(time.perf_counter() - start)
    flop = 2.0 * n**3
    return {
        "median": flop / statistics.median(times) / 1e9,
        "best": flop / min(times) / 1e9,
        "n": n,
    }


def add_peak_fractions(rows: list[dict[str, Any]], peaks: dict[str, dict[str, float]]) -> None:
    """Give each row with a FLOP rate its fraction of its framework's matmul peak (median).

    Args:
        rows: records of a run (modified in place).
        peaks: ``{"jax": matmul_peak(...), "torch": ...}`` (either may be missing).

    Example:
        >>> rows = [{"framework": "jax", "gflop_per_s": 50.0}]
        >>> add_peak_fractions(rows, {"jax": {"median": 100.0}})
        >>> rows[0]["of_matmul_peak"]
        0.5

    """
    for row in rows:
        peak = peaks.get(row["framework"], {}).get("median")
        rate = row.get("gflop_per_s")
        row["of_matmul_peak"] = rate / peak if rate and peak else None


SPREAD_LIMIT = 3.0
"""A row whose fastest repeat is this many times its slowest was disturbed while timed."""


def unreliable_ratios(rows: list[dict[str, Any]], cpus: int) -> list[str]:
    """Say which speed ratios a busy machine makes meaningless, and mark them in the rows.

    A ratio is not worth printing when either side was timed on a busy machine (load average
    at or above the CPU count when its setup started) or with a wide spread between repeats
    (max / min it/s above ``SPREAD_LIMIT``: on a shared 2-core CPU, PyTorch eager's seed-MLP
    iteration once ran at 8 to 490 it/s, median 3.2, and an "84.9×" ratio followed). Marked
    rows get ``ratio_warning``.

    Args:
        rows: all records of a run, after ``add_ratios`` (modified in place).
        cpus: the machine's CPU count.

    Returns:
        One line per doubtful ratio, saying why; empty when every ratio stands.

    Example:
        >>> row = {"framework": "torch", "form": "torch_eager", "status": "ok", "arch": "mlp",
        ...        "batch": 64, "dtype": "f32", "load_average": 0.1,
        ...        "it_per_s": {"median": 3.2, "min": 8.0, "max": 490.0}}
        >>> jax_row = {**row, "framework": "jax", "form": "fused", "label": "fused",
        ...            "it_per_s": {"median": 272.0, "min": 270.0, "max": 275.0},
        ...            "vs_torch_eager": 85.0, "vs_torch_compile": None}
        >>> line = unreliable_ratios([row, jax_row], cpus=2)[0]
        >>> "85.0× torch eager is not meaningful" in line and "ran at 8–490 it/s" in line
        True

    """

    def doubts(row: dict[str, Any], who: str) -> list[str]:
        rates, found = row["it_per_s"], []
        if rates["min"] > 0 and rates["max"] / rates["min"] > SPREAD_LIMIT:
            found.append(f"{who} ran at {rates['min']:.3g}–{rates['max']:.3g} it/s")
        if row.get("load_average", 0.0) >= cpus:
            found.append(f"load average {row['load_average']:.1f} on {cpus} CPUs ({who})")
        return found

    base = {
        (r["arch"], r["batch"], r["dtype"], r["form"]): r
        for r in rows
        if r["framework"] == "torch" and r["status"] == "ok"
    }
    match = {"d_step": "torch_eager_d", "g_step": "torch_eager_g"}
    lines = []
    for row in rows:
        if row["framework"] != "jax" or row["status"] != "ok":
            continue
        for key, form in (("vs_torch_eager", "torch_eager"), ("vs_torch_compile", "torch_compile")):
            if row.get(key) is None:
                continue
            form = match.get(row["form"], form) if key == "vs_torch_eager" else form
            other = base[(row["arch"], row["batch"], row["dtype"], form)]
            why = doubts(row, "jaxgan") + doubts(other, FORM_LABELS.get(form, form))
            if why:
                row["ratio_warning"] = "; ".join(why)
                lines.append(
                    f"{row['arch']} b{row['batch']} {row['dtype']} {row['label']}: "
                    f"{row[key]:.1f}× {form.replace('_', ' ')} is not meaningful ("
                    f"{'; '.join(why)}); re-run on a quiet machine"
                )
    return lines


def machine_info(args: argparse.Namespace, torch_reason: str, torch_device: str | None):
    """Describe the machine, the software and the settings of this run.

    Args:
        args: parsed command line.
        torch_reason: why PyTorch is not measured ("" when it is).
        torch_device: the torch device used, if any.

    Returns:
        A JSON-ready dict.

    Example:
        >>> info = machine_info(parse_args([]), "", "cpu")  # doctest: +SKIP

    """
    import flax
    import jaxlib
    import optax

    device = jax.devices()[0]
    info: dict[str, Any] = {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "host_cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "numpy": np.__version__,
        "jax_backend": jax.default_backend(),
        "jax_device": f"{device.platform}: {device.device_kind}",
        "jax_device_count": jax.device_count(),
        "dtype": args.dtype,
        "torch": None,
        "torch_device": torch_device,
        "torch_threads": None,
        "torch_note": torch_reason or None,
    }
    if "torch" in sys.modules and not torch_reason:
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if value >= 10 else f"{value:.{digits + 1}f}"


def _share(fraction: float | None) -> str:
    return f" ({100 * fraction:.0f}%)" if fraction else ""


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render the records as one Markdown table per (arch, batch, dtype).

    Args:
        rows: records of ``run_benchmark``.

    Returns:
        The tables as text (Markdown, readable in a terminal).

    Example:
        >>> format_table([])
        ''

    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["arch"], row["batch"], row["dtype"]), []).append(row)
    out = []
    for (arch, batch, dtype), group in groups.items():
        loads = [r["load_average"] for r in group if r.get("load_average")]
        load = f", 1-min load {loads[0]:.2f}" if loads else ""
        out.append(f"\n### {ARCHS[arch].name}, batch {batch}, {dtype}{load}\n")
        out.append(
            "| form | upsample | it/s median | min–max | ms/it | first call s "
            "| GFLOP/s (of matmul peak) | × torch eager | × torch.compile |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in group:
            if r["status"] != "ok":
                out.append(f"| {r['label']} | | n/a | {r['reason']} | | | | | |")
                continue
            label = r["label"]
            if r.get("loop") and r["form"] == "fit_auto":
                label += f" (→ {r['loop']})"
            if r.get("steps_per_call"):
                label += (
                    f", {r['steps_per_call']}/chunk, +{1e3 * r['fit_call_overhead_s']:.0f} ms"
                    " per fit call"
                )
            ips = r["it_per_s"]
            ratio_e, ratio_c = r.get("vs_torch_eager"), r.get("vs_torch_compile")
            out.append(
                f"| {label} | {r.get('upsample') or ''} | {_fmt(ips['median'])} "
                f"| {_fmt(ips['min'])}–{_fmt(ips['max'])} | {_fmt(r['ms_per_it']['median'], 2)} "
                f"| {r['first_call_s']:.2f}{' (reused)' if r.get('compiled_earlier') else ''} "
                f"| {_fmt(r.get('gflop_per_s'))}{_share(r.get('of_matmul_peak'))} "
                f"| {f'{ratio_e:.2f}×' if ratio_e else '-'} "
                f"| {f'{ratio_c:.2f}×' if ratio_c else '-'} |"
            )
    return "\n".join(out).lstrip("\n")


def plot(rows: list[dict[str, Any]], path: Path) -> Path:
    """Save a bar chart of iterations per second: one panel per (arch, batch, dtype).

    Args:
        rows: records of ``run_benchmark``.
        path: PNG file to write.

    Returns:
        ``path``.

    Example:
        >>> plot(rows, Path("step_time.png"))  # doctest: +SKIP

    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"] == "ok" and row["unit"] == "iteration":
            groups.setdefault((row["arch"], row["batch"], row["dtype"]), []).append(row)
    fig, axes = plt.subplots(
        len(groups) or 1,
        1,
        figsize=(8, 0.35 * max(len(g) for g in groups.values()) * len(groups) + 1.2 * len(groups))
        if groups
        else (8, 2),
        squeeze=False,
    )
    for ax, ((arch, batch, dtype), group) in zip(axes[:, 0], groups.items(), strict=False):
        labels = [
            r["label"].replace("jax ", "")
            + (f" (→ {r['loop']})" if r["form"] == "fit_auto" else "")
            + (f" [{r['upsample']}]" if r.get("upsample") else "")
            for r in group
        ]
        med = np.array([r["it_per_s"]["median"] for r in group])
        err = np.array(
            [
                [m - r["it_per_s"]["min"], r["it_per_s"]["max"] - m]
                for m, r in zip(med, group, strict=True)
            ]
        ).T
        colors = ["tab:orange" if r["framework"] == "torch" else "tab:blue" for r in group]
        ax.barh(range(len(group)), med, xerr=err, color=colors)
        ax.set_yticks(range(len(group)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("iterations / s (median, min–max)")
        ax.set_title(f"{ARCHS[arch].name}, batch {batch}, {dtype}", fontsize=9)
        for i, m in enumerate(med):
            ax.text(m, i, f" {_fmt(m)}", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _select_backend(name: str | None) -> None:
    """Make ``name`` JAX's backend, or raise a one-line ``ValueError`` saying why not."""
    if name is None:
        return
    platform_name = BACKEND_ALIASES[name]
    jax.config.update("jax_platforms", platform_name)
    try:
        got = jax.default_backend()
    except (RuntimeError, AssertionError) as err:
        raise ValueError(
            f"--backend {name}: JAX cannot start a {platform_name!r} backend here "
            f"({type(err).__name__}); install the matching jax plugin or drop --backend"
        ) from None
    if BACKEND_ALIASES.get(got, got) != platform_name:
        raise ValueError(
            f"--backend {name} requested but JAX already runs on {got!r}; "
            f"start a fresh process (or set JAX_PLATFORMS={platform_name})"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring and ``--help``).

    Args:
        argv: arguments without the program name (``None``: ``sys.argv[1:]``).

    Returns:
        The namespace, with ``--quick`` defaults applied.

    Example:
        >>> parse_args(["--quick"]).archs
        ['mlp']

    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", nargs="+", choices=sorted(ARCHS), default=None)
    p.add_argument("--batch-sizes", nargs="+", type=int, default=None)
    p.add_argument(
        "--upsample",
        nargs="+",
        choices=["auto", "transpose", "subpixel"],
        default=["transpose", "subpixel"],
        help="DCGAN upsampling variants to time",
    )
    p.add_argument("--forms", nargs="+", choices=JAX_FORMS, default=list(JAX_FORMS))
    p.add_argument(
        "--dtype",
        choices=["f32", "bf16"],
        default="f32",
        help="bf16: StepConfig.compute_dtype='bfloat16' / torch.autocast(bfloat16)",
    )
    p.add_argument(
        "--width",
        type=int,
        default=None,
        help="the presets' width field (DCGAN: channels of G's last and D's first conv, 64 in "
        "dcgan-mnist; SN-ResNet: G's blocks, 256, D keeps d_width 128; default: the preset's)",
    )
    p.add_argument(
        "--set",
        dest="set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of every architecture's preset (as jaxgan train --set)",
    )
    p.add_argument(
        "--steps-per-call",
        type=int,
        default=None,
        help="iterations per fit call (default per arch: MLP 50, DCGAN 10, SN-ResNet 5)",
    )
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument(
        "--target-seconds",
        type=float,
        default=None,
        help="wanted total duration of one form's timed repeats",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=120.0,
        help="no new repeat of a form starts after this many seconds",
    )
    p.add_argument(
        "--backend",
        choices=sorted(BACKEND_ALIASES),
        default=None,
        help="force the JAX backend (default: whatever JAX picks)",
    )
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch baselines")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="torch.set_num_threads (default: os.cpu_count())",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="seed MLP, batch 64, short repeats, no torch.compile (< 1 min, 2 CPUs)",
    )
    add_peak_size_option(p)
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default=None, help="file stem (default step_time_<backend>_<dtype>)")
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)
    args.set = parse_overrides(args.set)
    quick = args.quick
    args.archs = args.archs or (["mlp"] if quick else ["mlp", "dcgan"])
    args.batch_sizes = args.batch_sizes or ([64] if quick else [64, 256])
    args.repeats = args.repeats or (3 if quick else 5)
    args.target_seconds = args.target_seconds or (0.5 if quick else 3.0)
    args.steps_per_call = args.steps_per_call or (20 if quick else None)
    args.no_compile = args.no_compile or quick
    if min(args.batch_sizes) < 1 or args.repeats < 1 or (args.width or 1) < 1:
        p.error("--batch-sizes, --repeats and --width must be positive")
    return args


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run every requested measurement and return the JSON-ready report.

    Args:
        args: from ``parse_args``.

    Returns:
        ``{"meta": machine_info(...), "results": [record, ...]}``; a record has ``arch``,
        ``batch``, ``dtype``, ``framework``, ``form``, ``label``, ``unit``, ``status`` and, when
        measured, ``first_call_s``, ``it_per_s``/``ms_per_it`` (median/min/max), ``repeats``,
        ``load_average`` and for jaxgan ``flops_per_it``, ``gflop_per_s``, ``vs_torch_eager``,
        ``vs_torch_compile`` (and ``loop``/``steps_per_call`` for fit).

    Example:
        >>> report = run_benchmark(parse_args(["--quick", "--no-torch"]))  # doctest: +SKIP

    """
    _select_backend(args.backend)
    backend = jax.default_backend()
    baselines, torch_reason, torch_device = None, "skipped (--no-torch)", None
    if not args.no_torch:
        baselines, torch_reason = load_torch_baselines()
        if baselines is not None:
            torch_device, torch_reason = torch_device_for(backend, baselines.torch)
            if torch_device is None:
                baselines = None
            else:
                baselines.torch.set_num_threads(args.threads)
    meta = machine_info(args, torch_reason, torch_device)
    peaks = {"jax": matmul_peak("jax", n=args.peak_size)}
    if baselines is not None and torch_device == "cpu":
        peaks["torch"] = matmul_peak("torch", n=args.peak_size)
    meta["matmul_peak_gflop_s"] = peaks
    rows: list[dict[str, Any]] = []
    for arch in args.archs:
        for batch in args.batch_sizes:
            load = os.getloadavg()[0]
            variants = args.upsample if ARCHS[arch].has_upsample else ["auto"]
            for upsample in variants:
                for row in bench_jax(arch, batch, upsample, args):
                    rows.append({**row, "load_average": load})
                    _progress(rows[-1])
            if baselines is not None and ARCHS[arch].torch_twin:
                for row in bench_torch(baselines, torch_device, arch, batch, args):
                    rows.append({**row, "load_average": load})
                    _progress(rows[-1])
            else:
                reason = torch_reason
                if not ARCHS[arch].torch_twin:
                    reason = "no PyTorch twin of this architecture in torch_baselines.py"
                rows.append({**_na(arch, batch, args.dtype, "torch_eager", reason)})
    add_ratios(rows)
    add_peak_fractions(rows, peaks)
    meta["load_average_end"] = list(os.getloadavg())
    return {"meta": meta, "results": rows}


def _progress(row: dict[str, Any]) -> None:
    if row["status"] == "ok":
        msg = f"{row['it_per_s']['median']:.2f} it/s, first call {row['first_call_s']:.2f} s"
    else:
        msg = f"n/a ({row['reason']})"
    up = f" [{row['upsample']}]" if row.get("upsample") else ""
    print(f"  {row['arch']} b{row['batch']} {row['label']}{up}: {msg}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benchmark from the command line; print the table, write JSON and PNG.

    Args:
        argv: arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The report dict, with the written paths under ``"files"``.

    Example:
        >>> report = main(["--quick", "--out-dir", "/tmp/bench"])  # doctest: +SKIP

    """
    args = parse_args(argv)
    report = run_benchmark(args)
    meta = report["meta"]
    print(
        f"{meta['jax_device']} | {meta['host_cpu']} × {meta['cpu_count']} | jax {meta['jax']} "
        f"| flax {meta['flax']} | torch {meta['torch'] or 'n/a'} "
        f"({meta['torch_threads'] or '-'} threads) | {meta['date_utc']} "
        f"| load {meta['load_average_start'][0]:.2f} → {meta['load_average_end'][0]:.2f}"
    )
    print(
        "f32 matmul peak (GFLOP/s, median of 2048² products): "
        + ", ".join(f"{k} {v['median']:.0f}" for k, v in meta["matmul_peak_gflop_s"].items())
    )
    print(format_table(report["results"]))
    for line in unreliable_ratios(report["results"], os.cpu_count() or 1):
        print(f"warning: {line}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.name or f"step_time_{meta['jax_backend']}_{args.dtype}" + (
        "_quick" if args.quick else ""
    )
    json_path = args.out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    report["files"] = {"json": str(json_path)}
    if not args.no_plot:
        report["files"]["png"] = str(plot(report["results"], args.out_dir / f"{stem}.png"))
    print(f"wrote {', '.join(report['files'].values())}")
    return report


if __name__ == "__main__":
    try:
        main()
    except ValueError as err:
        sys.exit(f"error: {err}")
