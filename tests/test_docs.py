"""The Markdown in docs/ is executed, so that it cannot drift from the code.

Each ```python block is a doctest session (``>>>`` prompts with their expected output); all the
blocks of one file run in order, in one namespace, as a single doctest whose line numbers are
the Markdown file's. The lessons are the exception (the tutorial, whose sections are lessons, and
the pages that are one lesson each, as docs/make_notebooks.py lists them): they are run as the
Jupyter notebooks generated from them, each in an emptied namespace (tests/test_notebooks.py),
and not a second time here. Each ```console block holds ``$ python -m compare ...`` lines, which are
parsed (not run: some need the full data set or a GPU) so that every option they use exists.
No other kind of code block is allowed, so none can go untested.
"""
from __future__ import annotations

import doctest
import io
import re
import runpy
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
MARKDOWN = sorted(DOCS.glob("*.md"))
# executed as notebooks by tests/test_notebooks.py
LESSONS = {path.name for path in runpy.run_path(str(DOCS / "make_notebooks.py"))["SOURCES"]}
LANGUAGES = ("python", "console")
# Fewer examples than this and the tutorial has lost a section (it has about 316).
MIN_EXAMPLES = {"tutorial.md": 300}
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
FENCE = re.compile(r"^```\s*(\S*)\s*$")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


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


def test_every_picture_linked_from_the_docs_is_there():
    for path in MARKDOWN:
        for name in IMAGE.findall(path.read_text(encoding="utf-8")):
            assert (DOCS / name).is_file(), f"{path.name} shows {name}, which is not in docs/"


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
    from compare.race.cli import build_parser, config_from_args

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


def test_make_figures_draws_every_picture_the_tutorial_shows(tmp_path):
    """docs/make_figures.py, which draws the tutorial's pictures, runs and draws each one linked."""
    pytest.importorskip("matplotlib")
    import runpy

    namespace = runpy.run_path(str(DOCS / "make_figures.py"))
    written = namespace["main"](["--out", str(tmp_path)])
    linked = set(IMAGE.findall((DOCS / "tutorial.md").read_text(encoding="utf-8")))
    assert linked <= {f"figures/{p.name}" for p in written}, "a picture in the tutorial that make_figures.py does not draw"
    for path in written:
        assert path.read_bytes().startswith(b"\x89PNG"), path
        assert (DOCS / "figures" / path.name).is_file(), f"docs/figures/{path.name} is not committed"


# -- prose that names code: checked against the code --------------------------------------------

GRAPH_NODE = re.compile(r"^(?:[A-Z]\w*Backward\d+|AccumulateGrad)$")
TABLE_SOURCES = ("from_scratch", "torch_impl")


def line_by_line_table() -> list[str]:
    """The rows of the tutorial's table that sets from_scratch's lines beside torch's."""
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    section = text[text.index("### Line by line"):]
    section = section[:section.index("\n### ", 1)]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_line_by_line_table_quotes_the_code_and_names_the_real_graph():
    """Every `code` in the table is in the library's source; every backward node is in torch's graph.

    Catches a table left behind by a change to either network (a renamed call, a new node).
    """
    runpy_namespace = __import__("runpy").run_path(str(DOCS / "make_figures.py"))
    from common.data import load_embedded

    nodes, _ = runpy_namespace["backward_graph"](runpy_namespace["one_step_loss"](load_embedded()))
    graph = {label.split("\n")[0] for _, label in nodes}
    source = " ".join(" ".join(path.read_text(encoding="utf-8").split())
                      for package in TABLE_SOURCES for path in (REPO / package).rglob("*.py"))
    rows = line_by_line_table()
    assert len(rows) >= 8, "the line-by-line table is gone"
    quoted = [snippet for row in rows for snippet in re.findall(r"`([^`]+)`", row)]
    named_nodes = {snippet for snippet in quoted if GRAPH_NODE.match(snippet)}
    assert named_nodes, "the table names no autograd node"
    assert named_nodes <= graph, f"nodes not in torch's graph of one step: {sorted(named_nodes - graph)}"
    missing = [s for s in quoted if not GRAPH_NODE.match(s) and " ".join(s.split()) not in source]
    assert not missing, f"code the table quotes that is not in {TABLE_SOURCES}: {missing}"


def readme_speed_table() -> dict[str, float]:
    """The README's table of µs per sample: loop -> µs."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (.+?) \| (\d+) \| [\d.]+ \|$", text, flags=re.MULTILINE)
    return {loop: float(us) for loop, us in rows}


def test_readme_speed_prose_states_what_its_table_shows():
    """The sentence comparing torch_impl with the 2017 port quotes the table and computes from it."""
    table = readme_speed_table()
    ours, port = table["`torch_impl.Network.train`"], table["the 2017 port's loop"]
    text = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    claim = re.search(r"(\d+) µs against the 2017 port's (\d+) µs, (\d+)% less", text)
    assert claim, "the README no longer compares torch_impl with the 2017 port in figures"
    assert (float(claim[1]), float(claim[2])) == (ours, port), "the prose quotes other figures than the table"
    assert int(claim[3]) == round(100 * (1 - ours / port)), "the percentage is not the table's"


# Words a newcomer cannot look up: "the seed" for the 2017 tutorial (it collides with --seed),
# and this repository's own folder layout given as if it were the reader's.
PRIVATE_WORDS = re.compile(r"the seed's|--preset seed|\.\./shared/")


def test_readme_docs_and_help_name_only_what_a_newcomer_can_look_up():
    from compare.race.cli import build_parser

    texts = {path.name: path.read_text(encoding="utf-8") for path in [REPO / "README.md", *MARKDOWN]}
    texts["python -m compare --help"] = build_parser().format_help()
    found = {name: PRIVATE_WORDS.findall(text) for name, text in texts.items()}
    assert not {name: words for name, words in found.items() if words}, (
        "say 'the 2017 tutorial' and '--preset 2017', and a folder as DIR")


def test_check_your_network_says_how_backends_builds_a_network():
    """The constructor's arguments and the keywords passed only to a class that takes them, as
    compare.plugins.build_network passes them (the doc's examples run, above)."""
    from common.architecture import keywords

    text = " ".join((DOCS / "check-your-network.md").read_text(encoding="utf-8").split())
    assert "(input_nodes, hidden_nodes, output_nodes, learning_rate, dtype='float64')" in text
    assert "`dtype` is a keyword" in text and "passed as keywords only if the constructor takes them" in text
    assert all(f"`{keyword}` (" in text for keyword in keywords())
    assert "build_network(MyNetwork, Architecture(784, [200, 100], 10, activation=\"relu\"), 0.05)" in text


def test_check_your_network_says_what_query_returns_and_that_one_sample_has_no_batch_axis():
    """Under cross-entropy query returns softmax probabilities, not the scores the loss reads; for one
    sample every array, a convolution's intermediate gradients included, comes without its n."""
    text = " ".join((DOCS / "check-your-network.md").read_text(encoding="utf-8").split())
    assert "for `loss=\"cross_entropy\"` the softmax *probabilities*, each row summing to 1, not the scores z" in text
    assert "for one sample, inputs of shape `(784,)`, the n is dropped, `(C, H', W')`" in text


# Terms a lesson uses, and words of the sentence that says what each is: it must be said in the
# paragraph where the term first appears or before, so that no reader meets a term unexplained.
TERMS = {
    "optimizers.md": {"l2": "`l2` is a penalty in the loss", "bias correction": "and it divides them by 1 − βᵗ",
                      "relative_difference": "is max |a − b| / max |b|"},
    "convolution.md": {"check_network": "sets a network of your own beside autograd layer by layer",
                       "BLAS": "Basic Linear Algebra Subprograms", "LeNet-5": "Yann LeCun's network",
                       "stride": "the kernel moves one pixel at a time (its *stride* is 1)"},
    "normalization.md": {"batch normalization": "which rescales each feature over the batch",
                         "layer normalization": "which rescales each sample over its own features",
                         "running statistics": "the averages a batch normalization keeps for evaluation",
                         "finite differences": "the loss's change when one input is nudged",
                         "check_network": "sets a network of your own beside autograd layer by layer",
                         "inverted": "the kept units scaled up in training",
                         "layer_rng": "a NumPy generator seeded by the network's seed, the step and the layer",
                         "relative_difference": "max |a − b| / max |b|",
                         "unbiased": "divides it by n − 1",
                         "evaluation mode": "a batch normalization uses *running statistics* instead",
                         "floor": "divides by the larger of max |b| and the floor"},
}


@pytest.mark.parametrize("page", sorted(TERMS))
def test_a_lesson_explains_each_term_where_it_first_uses_it(page):
    paragraphs = [" ".join(p.split()) for p in (DOCS / page).read_text(encoding="utf-8").split("\n\n")]
    for term, explanation in TERMS[page].items():
        first = next(i for i, p in enumerate(paragraphs)
                     if re.search(rf"(?<![\w-]){re.escape(term)}(?![\w-])", p, re.IGNORECASE))
        said = " ".join(paragraphs[:first + 1]).lower()
        assert explanation.lower() in said, f"{page}: {term!r} first appears unexplained in: {paragraphs[first][:200]}"
