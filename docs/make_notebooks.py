"""Write the lessons as Jupyter notebooks, one per lesson, so a lesson opens in Jupyter.

    python docs/make_notebooks.py            # writes docs/notebooks/*.ipynb from the Markdown in SOURCES
    python docs/make_notebooks.py --check    # exit 1 if the committed notebooks are out of date

The Markdown is the one source; the notebooks are generated from it and never edited by hand
(``tests/test_notebooks.py`` fails when they differ from a fresh generation, and executes them).
Two kinds of page hold lessons. In the tutorial (``TUTORIAL``) each ``## N. Title`` section is a
lesson and becomes ``docs/notebooks/NN-title.ipynb``. A page of ``PAGES`` is one lesson from its
``# Title`` on, and becomes ``docs/notebooks/<page>.ipynb`` (``optimizers.md`` gives
``optimizers.ipynb``), its ``##`` sections cells of their own. In both, the text between code
blocks becomes Markdown cells; each ```python block, a doctest session, becomes code cells:
the doctest parser splits it into examples, and every example that has an expected output ends
a cell, so the expected output sits under the code that prints it, stored as that cell's
output (the notebook opens looking as if it had been run, and running it must reproduce it).

A notebook runs in its own folder: Jupyter, ``jupyter nbconvert --execute`` and ``jupyter
execute`` all start its kernel in docs/notebooks/, wherever they are started from. So what is
relative in the Markdown is made relative to that folder in the notebook: links to files beside
a page (a figure, another page), and in code a file of the repository named from its root, as
the README's commands name them (``load_class("tests/users/nnfs.py:NnfsNetwork")`` becomes
``load_class("../../tests/users/nnfs.py:NnfsNetwork")``). The library itself is imported, so a
lesson runs the same with the package installed from the repository or from anywhere else.

Why not jupytext: it maps a ```python fence to one cell verbatim, ``>>>`` prompts and expected
outputs included, which Python cannot run; and plain code fences would lose the outputs the
web reader sees and the tests check. The doctest parser already separates the code from its
expected output, which is exactly a code cell and its output.

Needs nbformat (in the ``test`` extra).
"""
from __future__ import annotations

import argparse
import ast
import doctest
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent
TUTORIAL = DOCS / "tutorial.md"  # a lesson in each numbered section
PAGES = (DOCS / "optimizers.md", DOCS / "convolution.md", DOCS / "normalization.md")  # a lesson each, the whole page
SOURCES = (TUTORIAL, *PAGES)
NOTEBOOKS = DOCS / "notebooks"
FENCE = re.compile(r"^```\s*(\S*)\s*$")
SECTION = re.compile(r"^## (\d+)\. (.+)$")
PAGE_TITLE = re.compile(r"^# (.+)$")
# A lesson's links to files beside it (a figure, another page, ../README.md), which from
# docs/notebooks/ are one folder further up.
RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#|/)([^)]+)\)")
REPOSITORY = DOCS.parent
# A quoted path with a folder in it, up to a closing quote or a ``:Class``: a file of the
# repository when there is one at that path from its root.
QUOTED_PATH = re.compile(r"""(?<=["'])([\w.-]+(?:/[\w.-]+)+)(?=[:"'])""")
SOLUTION = "**Solution.**"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


@dataclass
class Cell:
    """One notebook cell: Markdown text, or code with the output the tutorial expects of it."""

    kind: str  # "markdown" or "code"
    source: str
    line: int  # where it starts in the Markdown file, numbered from 1
    want: str = ""  # code cells: the expected output (doctest's ``want``), "" for none
    expression: bool = False  # code cells: the output is the value of the last line, not printed
    examples: int = 0  # code cells: how many doctest examples it holds


@dataclass
class Section:
    """One lesson, one notebook: a ``## N. Title`` section of the tutorial, or a whole page."""

    number: int  # the tutorial's section number; 0 for a page
    title: str
    cells: list[Cell] = field(default_factory=list)
    suffix: str = ""  # "-without-solutions" for an exercise sheet
    source: str = TUTORIAL.name  # the Markdown file it comes from, in docs/
    page: str = ""  # a page's name ("optimizers"), which names its notebook; "" for the tutorial's

    @property
    def filename(self) -> str:
        if self.page:
            return f"{self.page}{self.suffix}.ipynb"
        slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"`", "", self.title.lower())).strip("-")
        return f"{self.number:02d}-{slug}{self.suffix}.ipynb"

    @property
    def cell_id_prefix(self) -> str:
        return self.page + self.suffix[:2] if self.page else f"{self.number:02d}{self.suffix[:2]}"


def _is_expression(source: str) -> bool:
    """Whether a doctest example shows a value (IPython's Out[]) rather than printing it."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return False
    call = body[0].value
    return not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print")


def from_notebooks(code: str) -> str:
    """``code`` with each file of the repository it names from the root named from docs/notebooks/."""

    def relative(found: re.Match) -> str:
        path = found.group(1)
        if not (REPOSITORY / path).is_file():
            return path
        return Path(os.path.relpath(REPOSITORY / path, NOTEBOOKS)).as_posix()

    return QUOTED_PATH.sub(relative, code)


def code_cells(lines: list[str], first_line: int) -> list[Cell]:
    """A doctest session as code cells; an example with an expected output ends its cell."""
    cells, pending, start = [], [], None
    parser = doctest.DocTestParser()
    for example in parser.get_examples("\n".join(lines) + "\n"):
        start = first_line + example.lineno if start is None else start
        pending.append(from_notebooks(example.source))
        if example.want:
            cells.append(Cell("code", "".join(pending).rstrip("\n"), start, example.want,
                              _is_expression(example.source), len(pending)))
            pending, start = [], None
    if pending:
        cells.append(Cell("code", "".join(pending).rstrip("\n"), start, examples=len(pending)))
    return cells


def sections(text: str) -> list[Section]:
    """The numbered sections of the tutorial, each as cells; the text before the first is left out."""

    def heading(line: str) -> tuple[Section, list[str]] | None:
        found = SECTION.match(line)
        if not found:
            return None
        number, title = found.groups()
        # The first cell's lines, its link written as the tutorial's own are (and rewritten with them).
        return Section(int(number), title), [
            f"# {number}. {title}", "",
            "*A lesson of [the tutorial](tutorial.md), generated from it by "
            "`docs/make_notebooks.py`; it starts on its own, so it can be run alone.*"]

    return _lessons(text, heading, ("### ",), RELATIVE_LINK)


def page(path: Path) -> Section:
    """A page that is one lesson, from its ``# Title`` on, as cells; each ``##`` or ``###`` heading
    starts a cell of its own."""

    def heading(line: str) -> tuple[Section, list[str]] | None:
        found = PAGE_TITLE.match(line)
        if not found:
            return None
        # The first cell's lines, its link written as the page's own are (and rewritten with them).
        return Section(0, found.group(1), source=path.name, page=path.stem), [
            line, "",
            f"*A lesson generated from [{path.name}]({path.name}) by `docs/make_notebooks.py`; "
            "it starts on its own, so it can be run alone.*"]

    found = _lessons(path.read_text(encoding="utf-8"), heading, ("## ", "### "), RELATIVE_LINK)
    if len(found) != 1:
        raise ValueError(f"{path} must be one lesson, from one '# Title' line on; it has {len(found)} such lines.")
    return found[0]


def _lessons(text: str, heading, subheadings: tuple[str, ...], links: re.Pattern) -> list[Section]:
    """The lessons of a Markdown text as cells. ``heading(line)`` gives a new lesson and the
    first lines of its first cell, or None; each of ``subheadings`` starts a cell of its own;
    ``links`` are made relative to docs/notebooks/."""
    found: list[Section] = []
    prose: list[str] = []
    prose_line = 1
    block: list[str] | None = None
    block_line = 0

    def flush_prose() -> None:
        body = "\n".join(prose).strip("\n")
        if found and body:
            found[-1].cells.append(Cell("markdown", links.sub(r"](../\1)", body), prose_line))
        prose.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        if block is not None:
            if line.strip() == "```":
                found[-1].cells.extend(code_cells(block, block_line))
                block, prose_line = None, number + 1
            else:
                block.append(line)
            continue
        fence, lesson = FENCE.match(line), heading(line)
        if fence and fence.group(1) == "python" and found:
            flush_prose()
            block, block_line = [], number + 1
        elif line.startswith(subheadings) and found:  # a subsection starts a cell of its own
            flush_prose()
            prose_line = number
            prose.append(line)
        elif lesson:
            flush_prose()
            section, first_lines = lesson
            found.append(section)
            prose_line = number
            prose.extend(first_lines)
        else:
            prose.append(line)
    flush_prose()
    return found


def lessons() -> list[Section]:
    """Every lesson of every source: the tutorial's sections, then each page."""
    return sections(TUTORIAL.read_text(encoding="utf-8")) + [page(path) for path in PAGES]


def notebook(section: Section):
    """The nbformat notebook of one section, with each code cell's expected output stored."""
    import nbformat.v4 as v4

    cells = []
    for cell in section.cells:
        if cell.kind == "markdown":
            cells.append(v4.new_markdown_cell(cell.source))
            continue
        outputs = []
        if cell.want and cell.expression:
            outputs.append(v4.new_output("execute_result", data={"text/plain": cell.want.rstrip("\n")},
                                         execution_count=None))
        elif cell.want:
            outputs.append(v4.new_output("stream", name="stdout", text=cell.want))
        cells.append(v4.new_code_cell(cell.source, outputs=outputs))
    book = v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for index, cell in enumerate(book.cells):  # stable ids, so regenerating changes nothing
        cell.id = f"{section.cell_id_prefix}-{index:03d}"
    return book


def without_solutions(section: Section) -> Section | None:
    """The section with each worked solution left out, for a class to work on; None if it has none.

    A solution starts at ``**Solution.**`` in the prose and runs to the next ``###`` heading;
    its code cells become one empty cell, and its prose is left out.
    """
    cells: list[Cell] = []
    in_solution = False
    for cell in section.cells:
        if cell.kind == "markdown" and cell.source.startswith("### "):
            in_solution = False
        if not in_solution and cell.kind == "markdown" and SOLUTION in cell.source:
            before = cell.source.split(SOLUTION)[0].rstrip()
            cells += [Cell("markdown", before, cell.line)] if before else []
            cells.append(Cell("markdown", f"*Your solution here. The worked one is in `{section.filename}`.*", cell.line))
            cells.append(Cell("code", "", cell.line))
            in_solution = True
        elif not in_solution:
            cells.append(cell)
    if not any(SOLUTION in cell.source for cell in section.cells):
        return None
    return Section(section.number, section.title, cells, "-without-solutions", section.source, section.page)


def generate() -> dict[str, str]:
    """File name -> notebook JSON text: every lesson of every source, and exercises without solutions."""
    import nbformat

    books = {}
    for section in lessons():
        for variant in (section, without_solutions(section)):
            if variant is not None:
                books[variant.filename] = nbformat.writes(notebook(variant)) + "\n"
    return books


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the lessons in the docs' Markdown as notebooks.")
    parser.add_argument("--out", type=Path, default=NOTEBOOKS, help=f"folder to write into (default {NOTEBOOKS})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    fresh = generate()
    existing = {path.name: path.read_text(encoding="utf-8") for path in args.out.glob("*.ipynb")}
    stale = sorted(name for name in fresh.keys() | existing.keys() if fresh.get(name) != existing.get(name))
    if args.check:
        for name in stale:
            print(f"{args.out / name} is out of date: run python docs/make_notebooks.py", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        path = args.out / name
        if name in fresh:
            path.write_text(fresh[name], encoding="utf-8")
            print(f"wrote {path}")
        else:
            path.unlink()
            print(f"removed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
