"""The Markdown in docs/ is executed, so that it cannot drift from the code.

Each ```python block is a doctest session (``>>>`` prompts with their expected output); all the
blocks of one file run in order, in one namespace, as a single doctest whose line numbers are
the Markdown file's. The tutorial is the exception: it is run as the Jupyter notebooks generated
from it, one per section, each in an emptied namespace (tests/test_notebooks.py), and not a
second time here. Each ```console block holds ``$ python -m compare ...`` lines, which are
parsed (not run: some need the full data set or a GPU) so that every option they use exists.
No other kind of code block is allowed, so none can go untested.
"""
from __future__ import annotations

import doctest
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MARKDOWN = sorted(DOCS.glob("*.md"))
LESSONS = {"tutorial.md"}  # executed as notebooks by tests/test_notebooks.py
LANGUAGES = ("python", "console")
# Fewer examples than this and the tutorial has lost a section (it has about 316).
MIN_EXAMPLES = {"tutorial.md": 300}
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
FENCE = re.compile(r"^```\s*(\S*)\s*$")


@dataclass
class Block:
    """One fenced code block: its language and its lines, numbered from 1 as in the file."""

    language: str
    first_line: int  # the line number of the block's first line of code
    lines: list[str]


def code_blocks(text: str, path: Path) -> list[Block]:
    """Every fenced block of a Markdown text, in order."""
    blocks, current = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if current is None and fence:
            current = Block(fence.group(1), number + 1, [])
        elif current is not None and line.strip() == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.lines.append(line)
    if current is not None:
        raise AssertionError(f"{path}:{current.first_line - 1}: a code block is never closed.")
    return blocks


def doctest_source(text: str, blocks: list[Block]) -> str:
    """The text with everything outside ```python blocks blanked, so line numbers still match."""
    lines = [""] * len(text.splitlines())
    for block in blocks:
        if block.language == "python":
            lines[block.first_line - 1:block.first_line - 1 + len(block.lines)] = block.lines
    return "\n".join(lines) + "\n"


def parse(path: Path) -> tuple[doctest.DocTest, list[Block]]:
    text = path.read_text(encoding="utf-8")
    blocks = code_blocks(text, path)
    test = doctest.DocTestParser().get_doctest(
        doctest_source(text, blocks), globs={"__name__": path.stem}, name=path.name, filename=str(path), lineno=0)
    return test, blocks


def test_tutorial_is_collected():
    assert DOCS / "tutorial.md" in MARKDOWN


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_every_code_block_is_executed(path):
    """Only python and console blocks, and no python block without a ``>>>`` prompt."""
    _, blocks = parse(path)
    for block in blocks:
        where = f"{path.name}:{block.first_line - 1}"
        assert block.language in LANGUAGES, (
            f"{where}: a ```{block.language} block; docs/ allows only {LANGUAGES}, which the tests execute.")
        if block.language == "python":
            assert block.lines and block.lines[0].startswith(">>> "), (
                f"{where}: a ```python block must be a doctest session starting with '>>> '.")
        if block.language == "console":
            assert all(line.startswith("$ python -m compare") for line in block.lines if line.strip()), (
                f"{where}: a ```console block may hold only '$ python -m compare ...' lines.")


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_has_enough_examples(path):
    test, blocks = parse(path)
    python_blocks = [b for b in blocks if b.language == "python"]
    assert len(test.examples) >= MIN_EXAMPLES.get(path.name, 1), (
        f"{path.name}: only {len(test.examples)} doctest examples.")
    # Every python block contributes examples: none of its lines escaped the parser.
    lines_with_examples = {example.lineno + 1 for example in test.examples}
    for block in python_blocks:
        span = range(block.first_line, block.first_line + len(block.lines))
        assert lines_with_examples.intersection(span), f"{path.name}:{block.first_line}: no examples found."


@pytest.mark.parametrize("path", [p for p in MARKDOWN if p.name not in LESSONS], ids=lambda p: p.name)
def test_python_blocks_run_as_doctests(path, monkeypatch):
    """Run every example; a failure reports the Markdown line, the expected and the actual output."""
    monkeypatch.chdir(REPO)  # the tutorial runs ``python -m compare`` from the repository root
    test, _ = parse(path)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    try:
        result = runner.run(test, out=report.write)
    finally:
        test.globs.clear()
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed:\n{report.getvalue()}"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_console_commands_parse(path):
    """Each ``$ python -m compare ...`` line names only options that exist, with valid values."""
    from compare.cli import build_parser, config_from_args

    _, blocks = parse(path)
    for block in (b for b in blocks if b.language == "console"):
        for offset, line in enumerate(block.lines):
            if not line.strip():
                continue
            argv = shlex.split(line)[4:]  # after "$ python -m compare"
            where = f"{path.name}:{block.first_line + offset}"
            try:
                args = build_parser().parse_args(argv)
            except SystemExit:
                pytest.fail(f"{where}: python -m compare rejects {' '.join(argv)!r}.")
            config_from_args(args, stderr_is_terminal=False)


def test_make_figures_draws_both_pictures(tmp_path):
    """docs/make_figures.py, which draws the tutorial's pictures, still runs (needs matplotlib)."""
    pytest.importorskip("matplotlib")
    import runpy

    namespace = runpy.run_path(str(DOCS / "make_figures.py"))
    written = namespace["main"](["--out", str(tmp_path)])
    assert sorted(p.name for p in written) == ["digit.png", "outputs.png"]
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG"), path
