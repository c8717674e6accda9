"""The lessons, as Jupyter notebooks: generated from the Markdown, and executed.

The Markdown is the one source: docs/tutorial.md, whose numbered sections are lessons, and the
pages that are a lesson each (``PAGES`` of ``docs/make_notebooks.py``: docs/optimizers.md,
docs/convolution.md and docs/normalization.md).
``docs/make_notebooks.py`` turns each lesson into a notebook under docs/notebooks/ (the doctest
parser splits each ```python session into code cells, each with the output the Markdown shows
for it). Here:

- the committed notebooks must equal a fresh generation, so the two forms cannot drift;
- each lesson runs, as a notebook, in a Jupyter kernel (nbclient driving ipykernel), and each
  cell's output must match what the Markdown shows, compared as doctest compares (``...``
  matches anything, runs of whitespace are equal). This run is the lessons' only execution:
  the notebooks' code is the Markdown's code, so running the Markdown again as a doctest would
  only double the time (tests/test_docs.py runs the other pages).

The kernel runs where ``jupyter nbconvert --to notebook --execute`` runs a notebook: nbconvert's
ExecutePreprocessor is nbclient with the kernel started in the notebook's own folder (every
lesson's is docs/notebooks/), whatever folder the command was typed in. It imports the library
as an installed package: from a folder that holds the packages setup.cfg installs and nothing
else of the repository, so a lesson that reaches for a file by a path from the repository's root,
or imports ``tests``, fails here as it would for a teacher.

One kernel serves all lessons (starting one and importing torch costs seconds), and its
namespace is emptied (``%reset -f``) before each lesson, so a lesson that leans on a name from
an earlier one fails here: each must start on its own, as a teacher who picks one needs.
"""
from __future__ import annotations

import configparser
import copy
import doctest
import os
import re
import runpy
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

REPO = Path(__file__).resolve().parents[1]
MAKE_NOTEBOOKS = runpy.run_path(str(REPO / "docs" / "make_notebooks.py"))
SECTIONS = MAKE_NOTEBOOKS["lessons"]()
SHEETS = [sheet for sheet in map(MAKE_NOTEBOOKS["without_solutions"], SECTIONS) if sheet is not None]
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
CELL_TIMEOUT_S = 300


def test_committed_notebooks_equal_a_fresh_generation():
    """Editing the tutorial without running ``python docs/make_notebooks.py`` fails here."""
    assert MAKE_NOTEBOOKS["main"](["--check"]) == 0, "run: python docs/make_notebooks.py"


def test_every_notebook_is_valid_and_has_a_kernel():
    for path in sorted(MAKE_NOTEBOOKS["NOTEBOOKS"].glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        assert book.metadata.kernelspec.name == "python3", path.name


@pytest.mark.parametrize("source", MAKE_NOTEBOOKS["SOURCES"], ids=lambda path: path.name)
def test_every_doctest_example_of_a_source_is_in_a_lesson(source):
    """No example is left out of the notebooks, and so out of the tests (one before the tutorial's
    section 1, or before a page's title, would be)."""
    from tests.test_docs import parse

    test, _ = parse(source)
    in_lessons = sum(cell.examples for section in SECTIONS if section.source == source.name for cell in section.cells)
    assert in_lessons == len(test.examples) > 0


def test_every_page_is_one_notebook_named_after_it():
    for path in MAKE_NOTEBOOKS["PAGES"]:
        assert [s.filename for s in SECTIONS if s.source == path.name] == [f"{path.stem}.ipynb"], path.name
        assert (MAKE_NOTEBOOKS["NOTEBOOKS"] / f"{path.stem}.ipynb").is_file(), f"run: python docs/make_notebooks.py"


def test_exercise_sheets_leave_out_every_solution_and_nothing_else():
    """The sheets (``*-without-solutions.ipynb``) keep each exercise's own code, no solution code."""
    assert SHEETS, "the tutorial has no exercises with solutions"
    solution_code, in_solution = [], False
    for line in MAKE_NOTEBOOKS["TUTORIAL"].read_text(encoding="utf-8").splitlines():
        in_solution = (in_solution or line.startswith(MAKE_NOTEBOOKS["SOLUTION"])) and not line.startswith("#")
        if in_solution and line.startswith(">>> "):
            solution_code.append(line[4:])
    for sheet in SHEETS:
        full = next(section for section in SECTIONS if (section.source, section.number) == (sheet.source, sheet.number))
        sheet_code = "\n".join(cell.source for cell in sheet.cells if cell.kind == "code")
        assert not [line for line in solution_code if line in sheet_code.splitlines()], sheet.filename
        kept = [cell.source for cell in sheet.cells if cell.kind == "code" and cell.source]
        assert kept and all(any(source == cell.source for cell in full.cells) for source in kept)


def installed_packages() -> list[str]:
    """The packages ``pip install`` puts in site-packages: setup.cfg's ``include`` patterns."""
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return [pattern.rstrip("*") for pattern in config["options.packages.find"]["include"].split()]


def test_every_lesson_runs_in_the_folder_nbconvert_starts_its_kernel_in():
    """nbconvert starts a notebook's kernel in the notebook's folder; the one kernel below is started
    in docs/notebooks/, so that is every lesson's folder."""
    assert {path.parent for path in MAKE_NOTEBOOKS["NOTEBOOKS"].glob("*.ipynb")} == {MAKE_NOTEBOOKS["NOTEBOOKS"]}


# A comment in an exercise's code that points at the line to find.
MARKED = re.compile(r"#.*\b(planted|mistake|wrong|bug|fix|fixed|here)\b", re.IGNORECASE)


def test_exercise_sheets_do_not_point_at_the_planted_mistakes():
    """A sheet asks for the wrong line "without reading the code": no comment may mark it."""
    marked = [f"{sheet.filename}: {line.strip()}" for sheet in SHEETS for cell in sheet.cells if cell.kind == "code"
              for line in cell.source.splitlines() if MARKED.search(line)]
    assert not marked, "\n".join(marked)


def test_notebooks_readme_lists_every_notebook():
    readme = (MAKE_NOTEBOOKS["NOTEBOOKS"] / "README.md").read_text(encoding="utf-8")
    missing = [path.name for path in sorted(MAKE_NOTEBOOKS["NOTEBOOKS"].glob("*.ipynb")) if path.name not in readme]
    assert not missing, f"docs/notebooks/README.md does not list {missing}"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """One Jupyter kernel for all the lessons, started as nbconvert starts a notebook's: in
    docs/notebooks/, importing the library as installed (only setup.cfg's packages on its path)."""
    from jupyter_client.manager import KernelManager

    site = tmp_path_factory.mktemp("site-packages")
    for package in installed_packages():
        (site / package).symlink_to(REPO / package, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(MAKE_NOTEBOOKS["NOTEBOOKS"]), env=env)
    yield manager
    manager.shutdown_kernel(now=True)


def output_text(cell) -> str:
    """What a reader sees under an executed cell: printed text, then the value it shows."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type == "execute_result":
            parts.append(output.data.get("text/plain", "") + "\n")
    return "".join(parts)


def first_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}"
    return None


@pytest.mark.parametrize("section", SECTIONS + SHEETS, ids=lambda s: s.filename.removesuffix(".ipynb"))
def test_lesson_runs_on_its_own_and_shows_what_the_markdown_shows(section, kernel):
    book = MAKE_NOTEBOOKS["notebook"](section)
    expected = [copy.deepcopy(cell) for cell in book.cells]
    code_cells = [cell for cell in section.cells if cell.kind == "code"]
    book.cells.insert(0, nbformat.v4.new_code_cell("%reset -f"))
    client = nbclient.NotebookClient(book, km=kernel, timeout=CELL_TIMEOUT_S, allow_errors=True)
    try:
        client.execute()
    finally:  # nbclient stops the channels of its own kernels only
        if client.kc is not None:
            client.kc.stop_channels()
    executed = [cell for cell in book.cells[1:] if cell.cell_type == "code"]
    assert len(executed) == len(code_cells) == sum(c.cell_type == "code" for c in expected)
    checker, failures = doctest.OutputChecker(), []
    for source, cell in zip(code_cells, executed):
        where = f"docs/{section.source}:{source.line}"
        error = first_error(cell)
        if error:
            failures.append(f"{where}: raised {error}\n{cell.source}")
            break  # what follows an error fails for that reason alone
        got = output_text(cell)
        if not checker.check_output(source.want, got, OPTIONFLAGS):
            failures.append(f"{where}:\n{cell.source}\nexpected:\n{source.want}got:\n{got}")
    assert not failures, "\n\n".join(failures)
