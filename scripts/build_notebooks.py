"""Build the tutorial notebooks from their percent-format sources, run them and save them.

Run from the repository root (full mode: the committed outputs; minutes on a 2-core CPU):

    python scripts/build_notebooks.py                 # every notebook
    python scripts/build_notebooks.py 02_dcgan        # one notebook (a name or a prefix)
    python scripts/build_notebooks.py --quick         # CI's quick mode (JAXGAN_NOTEBOOK_QUICK=1)
    python scripts/build_notebooks.py --no-execute    # write the cells only, no outputs
    python scripts/build_notebooks.py --keep-outputs  # prose, comment or quick-value edits

Each notebook's cells live beside it as a readable Python file, ``notebooks/<name>.py``, in the
percent format of jupytext, VS Code and PyCharm: ``# %%`` starts a code cell, ``# %% [markdown]``
a markdown cell whose lines start with ``# `` (a lone ``#`` for a blank line), and the header
``# %% tags=["parameters"]`` tags a cell. ``read_cells`` reads that subset, exactly, and rejects
anything else. ``tests/test_notebooks.py`` checks that the committed notebooks hold exactly the
sources' cells and runs them in quick mode. Every notebook calls the public ``jaxgan`` API only:
no training or metric logic lives in a notebook or in this script.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = tuple(sorted(path.stem for path in NOTEBOOK_DIR.glob("[0-9][0-9]_*.py")))
QUICK_ENV = "JAXGAN_NOTEBOOK_QUICK"
KERNEL_SPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_MARKER = re.compile(r"# %%(?P<markdown> \[markdown\])?(?: tags=(?P<tags>\[[^\]]*\]))?")


class Cell(NamedTuple):
    """One notebook cell read from a percent-format source."""

    kind: str  # "markdown" | "code"
    source: str
    tags: tuple[str, ...] = ()


def read_cells(text: str) -> list[Cell]:
    r"""Return the cells of a percent-format source.

    The blank lines at the start and end of each cell are dropped (they separate the cells in
    the file); those inside a cell are kept.

    Args:
        text: the source, starting with a ``# %%`` line.

    Returns:
        The cells in order.

    Raises:
        ValueError: text before the first cell, a ``# %%`` line with other options, a markdown
            line that is not a comment, or tags that are not a JSON list of strings.

    Example:
        >>> text = '# %% [markdown]\n# # Title\n#\n# Text.\n\n# %% tags=["parameters"]\nx = 1\n'
        >>> for cell in read_cells(text):
        ...     print(cell)
        Cell(kind='markdown', source='# Title\n\nText.', tags=())
        Cell(kind='code', source='x = 1', tags=('parameters',))

    """
    cells: list[Cell] = []
    marker, body = None, []
    for number, line in enumerate([*text.split("\n"), "# %%"], start=1):
        if not line.startswith("# %%"):
            if marker is None and line.strip():
                raise ValueError(f"line {number}: text before the first '# %%' cell marker")
            body.append(line)
            continue
        if marker is not None:
            cells.append(_cell(marker, body, first=number - len(body)))
        marker, body = CELL_MARKER.fullmatch(line), []
        if marker is None:
            raise ValueError(f"line {number}: unsupported cell marker {line!r}; use '# %%', "
                             "'# %% [markdown]' or '# %% tags=[\"...\"]'")
    return cells


def _cell(marker: re.Match, lines: list[str], first: int) -> Cell:
    """Return the cell of ``marker`` with body ``lines``, which start at line ``first``."""
    try:
        tags = json.loads(marker["tags"] or "[]")
    except json.JSONDecodeError:
        tags = None
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"line {first - 1}: cell tags must be a JSON list of strings, "
                         f"got {marker['tags']}")
    if marker["markdown"]:
        for number, line in enumerate(lines, start=first):
            if line not in ("", "#") and not line.startswith("# "):
                raise ValueError(f"line {number}: a markdown line must start with '# ': {line!r}")
        lines = [line[2:] for line in lines]
    kind = "markdown" if marker["markdown"] else "code"
    return Cell(kind, "\n".join(lines).strip("\n"), tuple(tags))


def source_path(name: str) -> Path:
    """Return the percent-format source of notebook ``name``.

    Args:
        name: one of ``NOTEBOOKS``.

    Returns:
        ``notebooks/<name>.py`` in this repository.

    Example:
        >>> source_path("02_dcgan").name
        '02_dcgan.py'

    """
    return NOTEBOOK_DIR / f"{name}.py"


def notebook_path(name: str) -> Path:
    """Return where notebook ``name`` is committed.

    Args:
        name: one of ``NOTEBOOKS``.

    Returns:
        ``notebooks/<name>.ipynb`` in this repository.

    Example:
        >>> notebook_path("02_dcgan").name
        '02_dcgan.ipynb'

    """
    return NOTEBOOK_DIR / f"{name}.ipynb"


def build_notebook(name: str) -> nbformat.NotebookNode:
    """Make the notebook ``name`` from the cells of its source, without outputs.

    Args:
        name: one of ``NOTEBOOKS``, e.g. ``"02_dcgan"``.

    Returns:
        An nbformat v4 notebook with the python3 kernelspec and the source's cell tags (the
        quick-mode cell is tagged ``parameters``, papermill's convention).

    Example:
        >>> build_notebook("02_dcgan").metadata.kernelspec.name
        'python3'

    """
    if name not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}")
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = dict(KERNEL_SPEC)
    nb.metadata.language_info = {"name": "python"}
    v4 = nbformat.v4
    for index, (kind, source, tags) in enumerate(read_cells(source_path(name).read_text())):
        cell = (v4.new_markdown_cell if kind == "markdown" else v4.new_code_cell)(source)
        if tags:
            cell.metadata.tags = list(tags)
        cell.id = f"{name[:2]}-{index:02d}"  # stable ids: rebuilding gives no spurious diff
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def kernel_manager() -> AsyncKernelManager:
    """Return a kernel manager for the ``python3`` kernel of *this* interpreter.

    The kernelspec search path is emptied, so jupyter_client falls back to ipykernel's
    built-in spec, which launches ``sys.executable``: the notebooks run in the same virtual
    environment as the caller, whatever kernelspecs the machine has installed elsewhere.

    Returns:
        An unstarted ``AsyncKernelManager``.

    Example:
        >>> kernel_manager().kernel_spec.argv[0] == sys.executable
        True

    """
    specs = KernelSpecManager(kernel_dirs=[])
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


def execute_notebook(
    nb: nbformat.NotebookNode, *, quick: bool, timeout: int = 1800, cwd: Path = NOTEBOOK_DIR
) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` top to bottom in a fresh kernel, filling in the outputs.

    Args:
        nb: the notebook (changed in place and returned).
        quick: run in quick mode (``JAXGAN_NOTEBOOK_QUICK=1``) as CI does.
        timeout: seconds one cell may take.
        cwd: the kernel's working directory.

    Returns:
        The executed notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised; the message holds its traceback.

    Example:
        >>> execute_notebook(build_notebook("03_mode_collapse"), quick=True)  # doctest: +SKIP

    """
    env = {**os.environ, QUICK_ENV: "1" if quick else "0"}
    client = NotebookClient(
        nb,
        km=kernel_manager(),
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute(env=env)


def full_run_code(source: str) -> str:
    """Return the code a cell runs in full mode, without comments or formatting.

    Every ``A if QUICK else B`` becomes ``B``, so a cell whose only change is a quick-mode value,
    a comment or the layout gives the same text: its full-run outputs still belong to it.

    Args:
        source: a code cell's source.

    Returns:
        The normalised source (``ast.unparse`` of the full-mode syntax tree).

    Example:
        >>> full_run_code("STEPS = 2 if QUICK else 300  # iterations")
        'STEPS = 300'
        >>> full_run_code("f(4 if QUICK else 300)") == full_run_code("f(2 if QUICK else 300)")
        True

    """

    class FullMode(ast.NodeTransformer):
        def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
            if isinstance(node.test, ast.Name) and node.test.id == "QUICK":
                return self.visit(node.orelse)
            return self.generic_visit(node)

    return ast.unparse(FullMode().visit(ast.parse(source)))


def reuse_outputs(nb: nbformat.NotebookNode, previous: nbformat.NotebookNode) -> None:
    """Copy the outputs of ``previous`` into ``nb`` when the full run's code is unchanged.

    For editing the prose, the comments or the quick-mode values of an executed notebook without
    re-running it (minutes on a CPU): code cells are compared by :func:`full_run_code`.

    Args:
        nb: the freshly built notebook (changed in place).
        previous: the executed notebook with the same code cells, in the same order.

    Raises:
        ValueError: a code cell runs different code in full mode, so the old outputs would not
            belong to it.

    Example:
        >>> reuse_outputs(build_notebook("02_dcgan"), nbformat.read(notebook_path("02_dcgan"), 4))
        ...                                               # doctest: +SKIP

    """
    new_code = [cell for cell in nb.cells if cell.cell_type == "code"]
    old_code = [cell for cell in previous.cells if cell.cell_type == "code"]
    if [full_run_code(c.source) for c in new_code] != [full_run_code(c.source) for c in old_code]:
        raise ValueError("code cells changed since the notebook was run; execute it again")
    for new, old in zip(new_code, old_code, strict=True):
        new.outputs, new.execution_count = old.outputs, old.execution_count


def _select(patterns: Sequence[str]) -> list[str]:
    if not patterns:
        return list(NOTEBOOKS)
    chosen = [n for n in NOTEBOOKS if any(n.startswith(p) for p in patterns)]
    if not chosen:
        raise SystemExit(f"no notebook matches {list(patterns)}; known: {', '.join(NOTEBOOKS)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Write (and by default run) the notebooks; print each one's run time and size.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status.

    Example:
        >>> main(["--no-execute", "03"])  # doctest: +SKIP
        0

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to build (names or prefixes)")
    parser.add_argument("--quick", action="store_true", help="run in CI's quick mode")
    parser.add_argument("--no-execute", action="store_true", help="write cells only")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="keep the committed outputs (the full run's code must be unchanged)")
    args = parser.parse_args(argv)
    for name in _select(args.names):
        nb = build_notebook(name)
        if args.keep_outputs:
            reuse_outputs(nb, nbformat.read(notebook_path(name), as_version=4))
        elif not args.no_execute:
            start = time.perf_counter()
            execute_notebook(nb, quick=args.quick)
            print(f"{name}: ran in {time.perf_counter() - start:.0f} s "
                  f"({'quick' if args.quick else 'full'} mode)", flush=True)
        path = notebook_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        print(f"{name}: wrote {path} ({path.stat().st_size / 1e3:.0f} kB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
