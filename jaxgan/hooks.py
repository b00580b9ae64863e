"""What the training driver calls between chunks: ``hook(step, state, metrics)``.

Each hook has a period ``every`` (in iterations; None: after every chunk). ``jaxgan.fit`` ends a
chunk at each multiple of it and at the last step and calls the hook there, so checkpoints,
grids and tracked metrics see the state of exactly that step. Hooks that only read metrics
(``MetricsLog``, ``ProgressBar``) fetch them one call late, so the host never waits for the
chunk the device is running; ``flush()`` (called when ``fit`` returns) writes what is left.

Every hook works for a single run and for a stack of runs (``jaxgan.ensembles``): per-run
metrics have shape (iterations, runs) and are logged as lists.

Example:
    >>> import jaxgan
    >>> state = jaxgan.create_state(jaxgan.models.MLPGenerator,
    ...                             jaxgan.models.MLPDiscriminator, key=jax.random.key(0))
    >>> seen = []
    >>> hook = Every(2, lambda step, state: seen.append(step))
    >>> state, _ = jaxgan.fit(state, np.zeros((128, 28, 28, 1), np.uint8), steps=5,
    ...                       batch_size=32, hooks=[hook])
    >>> seen
    [2, 4, 5]

"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from tqdm.auto import tqdm

from jaxgan.loop import DeferredHook, Metrics

TRAIN_METRICS = ("d_loss", "g_loss", "d_real", "d_fake")
"""The metrics every step reports that the progress bar and the summaries show."""


def json_value(value: Any) -> Any:
    """Make a metric value strict JSON: numbers as floats, lists per run, NaN and ±inf as None.

    Args:
        value: a number, numpy scalar or array.

    Returns:
        A float, a list of floats, or None where the value is not finite.

    Example:
        >>> json_value(np.array([1.0, np.nan]))
        [1.0, None]

    """
    array = np.asarray(value, np.float64)
    if array.ndim == 0:
        number = float(array)
        return number if math.isfinite(number) else None
    return [json_value(v) for v in array]


def json_safe(value: Any) -> Any:
    """Make nested values strict JSON: non-finite floats become None (NaN is not JSON).

    Args:
        value: dicts, lists, tuples, numbers, numpy scalars and strings, nested.

    Returns:
        The same structure with ``None`` where a float was NaN or ±inf.

    Example:
        >>> json_safe({"a": [1.0, float("nan")], "b": np.float32(2)})
        {'a': [1.0, None], 'b': 2.0}

    """
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class DivergenceWarning(RuntimeWarning):
    """A loss grew far beyond its usual range: finite, but training is diverging."""


class Every:
    """Call ``fn(step, state)`` every ``every`` iterations and at the last step.

    Args:
        every: the period in iterations.
        fn: what to do; it may read the state (which waits for the chunk).
        needs_finite: ``fn`` writes the state or what it makes (a checkpoint, a sample grid):
            ``fit`` calls it only when the metrics so far and the state are finite.

    Example:
        >>> hook = Every(1000, lambda step, state: print(step))
        >>> hook.every
        1000

    """

    def __init__(self, every: int, fn: Callable[[int, Any], Any], *, needs_finite: bool = False):
        self.every = every
        self.fn = fn
        self.needs_finite = needs_finite

    def __call__(self, step: int, state: Any, metrics: Metrics) -> None:
        """Call the function with the step and the state.

        Args:
            step: the step reached.
            state: the state at ``step``.
            metrics: unused.

        Example:
            >>> Every(1, lambda step, state: None)(1, None, {})

        """
        self.fn(step, state)


class MetricsLog(DeferredHook):
    """Append one strict-JSON row per ``every`` iterations to a ``metrics.jsonl`` file.

    A row holds ``step``, the mean of every metric over its iterations (a list per run for a
    stack of runs), ``it_per_s`` and ``time_s``; non-finite values are written as ``null``.

    Args:
        file: an open text file (appended to; the caller closes it).
        every: iterations per row.
        on_row: also called as ``on_row(step, row)`` with each row written (e.g. to send the
            same numbers to TensorBoard).

    Example:
        >>> import io
        >>> log = MetricsLog(io.StringIO(), every=2)
        >>> log(2, None, {"d_loss": np.array([1.0, 3.0]), "step": np.array([1, 2])})
        >>> log.flush(); json.loads(log.file.getvalue())["d_loss"]
        2.0

    """

    def __init__(
        self,
        file: TextIO,
        every: int,
        on_row: Callable[[int, dict[str, Any]], None] | None = None,
    ):
        super().__init__()
        self.file, self.every, self.on_row = file, every, on_row
        self.start_time = self.last_time = time.perf_counter()

    def handle(self, step: int, metrics: dict[str, np.ndarray]) -> None:
        """Write the row of the iterations ending at ``step``.

        Args:
            step: the row's last step.
            metrics: per-iteration metrics and their ``step``.

        Example:
            >>> import io
            >>> log = MetricsLog(io.StringIO(), every=2)
            >>> log.handle(2, {"d_loss": np.ones(2), "step": np.array([1, 2])})
            >>> json.loads(log.file.getvalue())["step"]
            2

        """
        now = time.perf_counter()
        count = len(metrics["step"])
        row: dict[str, Any] = {"step": int(step)}
        for name, values in metrics.items():
            if name != "step":
                row[name] = json_value(np.mean(values, axis=0))
        row["it_per_s"] = count / max(now - self.last_time, 1e-9)
        row["time_s"] = round(now - self.start_time, 3)
        self.file.write(json.dumps(row, allow_nan=False) + "\n")
        self.file.flush()
        self.last_time = now
        if self.on_row is not None:
            self.on_row(int(step), row)


class LossLimit(DeferredHook):
    """Warn once (``DivergenceWarning``) when a loss's magnitude passes ``limit``.

    Non-finite values are the driver's to catch (``fit(on_nonfinite=...)``); this hook names
    the finite kind of divergence, such as a generator loss of 1e7 or a Wasserstein critic
    without a penalty running off to -1e5. It reads the metrics one call late (no wait).

    Args:
        limit: the largest ``|loss|`` of a healthy run (the default, 1e4, is far above what
            the losses of ``jaxgan.losses`` reach when training works).
        names: the metrics to watch.

    Example:
        >>> import warnings
        >>> hook = LossLimit(limit=10.0)
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     hook(2, None, {"g_loss": np.array([1.0, 50.0]), "step": np.array([1, 2])})
        ...     hook.flush()
        >>> str(seen[0].message)[:32]
        'g_loss reached 50 at step 2: the'

    """

    def __init__(self, limit: float = 1e4, names: tuple[str, ...] = ("d_loss", "g_loss")):
        super().__init__()
        self.limit, self.names = limit, names
        self.warned = False

    def handle(self, step: int, metrics: dict[str, np.ndarray]) -> None:
        """Warn if a watched loss passed the limit in these iterations (once per run).

        Args:
            step: the last step of the metrics.
            metrics: per-iteration metrics and their ``step``.

        Example:
            >>> hook.handle(2, {"g_loss": np.ones(2), "step": np.arange(1, 3)})  # doctest: +SKIP

        """
        if self.warned:
            return
        for name in self.names:
            values = metrics.get(name)
            if values is None:
                continue
            rows = np.asarray(values, np.float64).reshape(len(values), -1)
            big = np.isfinite(rows) & (np.abs(rows) > self.limit)
            if big.any():
                row, run = np.argwhere(big)[0]
                who = f" in run {run}" if np.ndim(values) > 1 else ""
                warnings.warn(
                    f"{name} reached {rows[row, run]:.3g} at step {int(metrics['step'][row])}"
                    f"{who}: the run is diverging (finite, but far beyond the usual range); "
                    "lower the learning rate or add a penalty",
                    DivergenceWarning,
                    stacklevel=2,
                )
                self.warned = True
                return


class ProgressBar(DeferredHook):
    """A tqdm bar over a run's iterations with the latest losses and D outputs.

    Args:
        total: the run's last step.
        initial: the step training starts from.
        desc: the bar's label.
        show: draw the bar (None: only when stderr is a terminal).

    Example:
        >>> bar = ProgressBar(total=10, show=False)
        >>> bar.close()

    """

    def __init__(self, total: int, *, initial: int = 0, desc: str = "", show: bool | None = None):
        super().__init__()
        show = sys.stderr.isatty() if show is None else show
        # some terminals (CI ptys, editors) report a 0×0 size, which makes tqdm print nothing
        columns, rows = shutil.get_terminal_size((100, 20))
        self.bar = tqdm(
            total=total,
            initial=initial,
            disable=not show,
            unit="it",
            desc=desc,
            ncols=columns if columns > 0 else 100,
            nrows=rows if rows > 0 else 20,
        )

    def handle(self, step: int, metrics: dict[str, np.ndarray]) -> None:
        """Advance the bar and show the chunk's last losses (the first run's, for a stack).

        Args:
            step: the last step of the metrics.
            metrics: per-iteration metrics and their ``step``.

        Example:
            >>> bar = ProgressBar(total=10, show=False)
            >>> bar.handle(2, {"d_loss": np.ones(2), "step": np.arange(1, 3)})
            >>> bar.close()

        """
        self.bar.update(len(metrics["step"]))
        last = {k: float(np.ravel(metrics[k][-1])[0]) for k in TRAIN_METRICS if k in metrics}
        if len(last) == len(TRAIN_METRICS):
            text = "D {d_loss:.3f} G {g_loss:.3f} D(x) {d_real:.2f} D(G(z)) {d_fake:.2f}"
            self.bar.set_postfix_str(text.format(**last))

    def close(self) -> None:
        """Close the bar.

        Example:
            >>> ProgressBar(total=1, show=False).close()

        """
        self.flush()
        self.bar.close()


class Checkpoint:
    """Save the state every ``every`` iterations and at the last step (``jaxgan.checkpoint``).

    ``fit`` calls it only with a finite state (``needs_finite``): a diverged run never
    overwrites its good checkpoints.

    Args:
        checkpoints: a ``jaxgan.checkpoint.RunCheckpoints`` (the caller opens and closes it).
        every: iterations between checkpoints.
        metadata: ``step -> dict`` stored beside the arrays (the step is always included).
        before_save: ``(step, state) -> None`` run just before each save (e.g. write files the
            checkpoint must not be older than).

    Example:
        >>> hook = Checkpoint(ckpts, every=1000)  # doctest: +SKIP

    """

    needs_finite = True

    def __init__(
        self,
        checkpoints: Any,
        every: int,
        metadata: Callable[[int], Mapping[str, Any]] | None = None,
        before_save: Callable[[int, Any], None] | None = None,
    ):
        self.checkpoints, self.every = checkpoints, every
        self.metadata, self.before_save = metadata, before_save

    def __call__(self, step: int, state: Any, metrics: Metrics) -> None:
        """Save ``state`` as checkpoint ``step`` unless that step is saved already.

        Args:
            step: the step reached.
            state: the state at ``step``.
            metrics: unused.

        Example:
            >>> hook(1000, state, {})  # doctest: +SKIP

        """
        if step in self.checkpoints.steps():
            return  # saved before a resume from this very step
        if self.before_save is not None:
            self.before_save(step, state)
        meta = {"step": step, **(self.metadata(step) if self.metadata else {})}
        self.checkpoints.save(step, state, meta)


class History:
    """Keep every iteration's metrics on the host, as ``fit``'s history does, across calls.

    Used where a run's full history must survive a resume: ``save`` writes it (an ``.npz``)
    and ``load`` reads it back up to a step.

    Args:
        every: how often to fetch (None: every chunk, one call late).

    Example:
        >>> history = History()
        >>> history(2, None, {"d_loss": np.ones(2), "step": np.arange(1, 3)}); history.flush()
        >>> history.arrays()["step"].tolist()
        [1, 2]

    """

    def __init__(self, every: int | None = None):
        self.every = every
        self.parts: dict[str, list[np.ndarray]] = {}
        self._pending: list[Metrics] = []

    def __call__(self, step: int, state: Any, metrics: Metrics) -> None:
        """Keep a window of metrics (fetched on the next call or at ``flush``).

        Args:
            step: the step reached.
            state: unused.
            metrics: the window's metrics.

        Example:
            >>> history = History()
            >>> history(2, None, {"d_loss": np.ones(2), "step": np.arange(1, 3)})

        """
        self.flush()
        self._pending.append(metrics)

    def flush(self) -> None:
        """Fetch the metrics still held.

        Example:
            >>> History().flush()

        """
        for metrics in self._pending:
            for name, value in metrics.items():
                self.parts.setdefault(name, []).append(np.asarray(value))
        self._pending = []

    def arrays(self) -> dict[str, np.ndarray]:
        """Return each metric concatenated over iterations (and ``"step"``).

        Returns:
            name -> array with one row per iteration.

        Example:
            >>> History().arrays()
            {}

        """
        self.flush()
        return {name: np.concatenate(parts) for name, parts in self.parts.items()}

    def save(self, path: Path) -> None:
        """Write the history to ``path`` (``.npz``) atomically.

        Args:
            path: the file.

        Example:
            >>> import tempfile
            >>> history = History()
            >>> history(2, None, {"d_loss": np.ones(2), "step": np.arange(1, 3)})
            >>> path = Path(tempfile.mkdtemp()) / "history.npz"
            >>> history.save(path); sorted(np.load(path).files)
            ['d_loss', 'step']

        """
        tmp = path.with_name(f".{path.name}.tmp.npz")
        np.savez(tmp, **self.arrays())
        tmp.replace(path)

    def load(self, path: Path, step: int) -> None:
        """Start from the history saved at ``path``, keeping the iterations up to ``step``.

        Args:
            path: a file written by ``save`` (absent: start empty).
            step: the last step to keep (the checkpoint a run resumes from).

        Raises:
            ValueError: the file ends before ``step``.

        Example:
            >>> import tempfile
            >>> saved = History()
            >>> saved(3, None, {"d_loss": np.arange(3.0), "step": np.arange(1, 4)})
            >>> path = Path(tempfile.mkdtemp()) / "history.npz"
            >>> saved.save(path)
            >>> resumed = History()
            >>> resumed.load(path, 2); resumed.arrays()["d_loss"].tolist()
            [0.0, 1.0]

        """
        self.parts, self._pending = {}, []
        if not path.exists() or step == 0:
            return
        with np.load(path) as saved:
            arrays = {name: saved[name] for name in saved.files}
        keep = arrays["step"] <= step
        if int(keep.sum()) != step:
            raise ValueError(f"{path} holds {int(keep.sum())} iterations, fewer than step {step}")
        self.parts = {name: [values[keep]] for name, values in arrays.items()}
