"""The tutorial notebooks: committed with their outputs, in sync with their sources, and runnable.

Each notebook's cells live in ``notebooks/<name>.py`` (percent format, read by
``scripts/build_notebooks.py: read_cells``); the committed notebook must hold exactly those
cells. The committed notebooks are checked as GitHub renders them (valid, run top to bottom,
figures present, no errors, under 1 MB, outputs from the full run). Then each is executed headless
in quick mode (``JAXGAN_NOTEBOOK_QUICK=1``), as CI does, in a kernel of this very interpreter (see
``scripts/build_notebooks.py: kernel_manager``), so a fresh ``pip install -e ".[dev]"`` suffices.
"""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
from script_loader import load_script

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NAMES = (
    "01_generator_walkthrough",
    "02_dcgan",
    "03_mode_collapse",
    "04_inpainting",
    "05_augmentation",
)
MAX_BYTES = 1_000_000
MIN_FIGURES = 3
# jaxgan's private names: jaxgan._x, jaxgan.loop._x, or a submodule alias (data._x, ...)
PRIVATE_ACCESS = re.compile(
    r"\b(?:jaxgan|data|metrics|models|viz|ensembles)(?:\.[A-Za-z]\w*)*\._\w+"
    r"|from jaxgan[\w.]* import [^\n]*\b_\w+"
)


@pytest.fixture(scope="module")
def builder():
    return load_script("scripts/build_notebooks.py")


def read(name: str):
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


def code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def outputs(nb) -> list:
    return [out for cell in code_cells(nb) for out in cell.outputs]


def figures(nb) -> int:
    return sum("image/png" in out.get("data", {}) for out in outputs(nb))


def printed(nb) -> str:
    return "".join(out.get("text", "") for out in outputs(nb) if out.output_type == "stream")


def source_cells(builder, name: str) -> list:
    return builder.read_cells(builder.source_path(name).read_text())


def test_builder_knows_every_notebook(builder):
    assert builder.NOTEBOOKS == NAMES
    for name in NAMES:
        assert builder.source_path(name).is_file() and builder.notebook_path(name).is_file()


def test_builder_docstring_examples(builder):
    result = doctest.testmod(builder, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


def test_read_cells_keeps_the_text_of_every_cell(builder):
    text = (
        "\n# %% [markdown]\n# # Title\n#\n#   indented\n\n\n"
        '# %% tags=["parameters", "x"]\nQUICK = 1\n\n\ndef f():\n    # a comment\n    return 1\n\n'
        "# %%\n"
    )
    assert builder.read_cells(text) == [
        ("markdown", "# Title\n\n  indented", ()),
        ("code", "QUICK = 1\n\n\ndef f():\n    # a comment\n    return 1", ("parameters", "x")),
        ("code", "", ()),
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("x = 1\n# %%\ny = 2", "line 1: text before the first '# %%'"),
        ("# %%\nx = 1\n# %% Title", "line 3: unsupported cell marker"),
        ("# %% [raw]\nx", "line 1: unsupported cell marker"),
        ("# %% [markdown]\n# ok\nnot a comment", "line 3: a markdown line must start with '# '"),
        ("# %% [markdown]\n#no space", "line 2: a markdown line must start with '# '"),
        ("# %%\nx = 1\n# %% tags=[parameters]\ny = 2", "line 3: cell tags must be a JSON list"),
        ("# %% tags=[1]\nx = 1", "line 1: cell tags must be a JSON list of strings"),
    ],
)
def test_read_cells_rejects_what_it_does_not_read_exactly(builder, text, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        builder.read_cells(text)


def test_reuse_outputs_refuses_changed_code(builder):
    previous = builder.build_notebook("03_mode_collapse")
    previous.cells[1].outputs = [nbformat.v4.new_output("stream", text="QUICK = False\n")]
    fresh = builder.build_notebook("03_mode_collapse")
    builder.reuse_outputs(fresh, previous)
    assert fresh.cells[1].outputs[0].text == "QUICK = False\n"
    previous.cells[1].source += "\nSTEPS = 1"
    with pytest.raises(ValueError, match="code cells changed"):
        builder.reuse_outputs(builder.build_notebook("03_mode_collapse"), previous)


def test_reuse_outputs_keeps_them_when_only_quick_values_or_comments_change(builder):
    previous = builder.build_notebook("03_mode_collapse")
    previous.cells[1].outputs = [nbformat.v4.new_output("stream", text="QUICK = False\n")]
    fresh = builder.build_notebook("03_mode_collapse")
    source = fresh.cells[1].source
    assert "SEEDS = 2 if QUICK else 3" in source
    fresh.cells[1].source = source.replace(
        "SEEDS = 2 if QUICK else 3", "SEEDS = (1 if QUICK else 3)  # quick: one seed"
    )
    builder.reuse_outputs(fresh, previous)
    assert fresh.cells[1].outputs[0].text == "QUICK = False\n"
    fresh.cells[1].source = source.replace("SEEDS = 2 if QUICK else 3", "SEEDS = 2 if QUICK else 4")
    with pytest.raises(ValueError, match="code cells changed"):  # the full run's value changed
        builder.reuse_outputs(fresh, previous)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_holds_its_sources_cells(builder, name):
    committed = [
        (cell.cell_type, cell.source, tuple(cell.metadata.get("tags", ())))
        for cell in read(name).cells
    ]
    fix = (
        f"python scripts/build_notebooks.py {name}  "
        "(or --keep-outputs when the full run's code is unchanged)"
    )
    assert committed == source_cells(builder, name), (
        f"notebooks/{name}.ipynb is stale against notebooks/{name}.py; rebuild it: {fix}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_quick_mode_is_decided_in_the_first_code_cell_alone(builder, name):
    cells = [cell for cell in source_cells(builder, name) if cell.kind == "code"]
    assert cells[0].tags == ("parameters",)
    assert 'os.environ.get("JAXGAN_NOTEBOOK_QUICK") == "1"' in cells[0].source
    for cell in cells[1:]:
        assert "parameters" not in cell.tags and "NOTEBOOK_QUICK" not in cell.source, cell.source


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_renders_with_figures(name):
    path = ROOT / "notebooks" / f"{name}.ipynb"
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"
    nb = read(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    counts = [cell.execution_count for cell in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), "not run top to bottom in one kernel"
    assert not [out for out in outputs(nb) if out.output_type == "error"]
    assert "Traceback" not in printed(nb)
    assert figures(nb) >= MIN_FIGURES
    assert "QUICK = False" in printed(nb), "committed outputs must come from the full run"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_uses_only_public_api(builder, name):
    for kind, source, _ in source_cells(builder, name):
        if kind == "code":
            assert not PRIVATE_ACCESS.search(source), PRIVATE_ACCESS.search(source).group()


def test_private_access_pattern_catches_private_names():
    assert PRIVATE_ACCESS.search("jaxgan.loop._scan_chunk(state)")
    assert PRIVATE_ACCESS.search("metrics._grid(x)")
    assert PRIVATE_ACCESS.search("from jaxgan.loop import fit, _DATA_STREAM")
    assert not PRIVATE_ACCESS.search("jaxgan.fit(state, x, steps=1)\nfor _ in range(2): pass")


def test_kernel_runs_this_interpreter(builder):
    import sys

    assert builder.kernel_manager().kernel_spec.argv[0] == sys.executable


# What each notebook prints when jaxgan behaves as the text says.
CLAIMS = {
    "01_generator_walkthrough": ["same inputs, same new state: True", "d_updates=1 g_updates=1"],
    "02_dcgan": ["4 steps at once == 2 + 2 steps: True", "real-vs-real floor"],
    "03_mode_collapse": ["ring8", "grid25"],
    "04_inpainting": ["known pixels kept: True", "generator's own samples", "nearest neighbour"],
    "05_augmentation": [
        "per class [100, 100, 100",
        "labels as conditioned: True",
        "points against real",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_quick_mode(builder, name, monkeypatch):
    monkeypatch.setenv("JAX_NUMPY_RANK_PROMOTION", "raise")  # as strict as the unit tests
    nb = builder.execute_notebook(read(name), quick=True, timeout=600)
    assert "QUICK = True" in printed(nb)
    assert not [out for out in outputs(nb) if out.output_type == "error"]
    assert figures(nb) >= MIN_FIGURES
    for claim in CLAIMS[name]:
        assert claim in printed(nb) or any(
            claim in str(out.get("data", {}).get("text/markdown", "")) for out in outputs(nb)
        ), claim
