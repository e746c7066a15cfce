"""The plain editions (what a chapter's Colab badge opens) read right in a plain notebook
front end, and the student edition has no solutions."""
import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
import editions  # noqa: E402
import student_edition  # noqa: E402


def test_the_committed_editions_are_current():
    assert editions.write_all(check=True) == [], "run python book/editions.py"


@pytest.mark.parametrize("path", editions.chapters(), ids=lambda p: p.name)
def test_a_plain_front_end_shows_no_raw_myst(path):
    """Rendered as JupyterLab or Colab would (nbconvert's HTML of the CommonMark), the
    edition has no MyST token left, every solution folded, every exercise numbered and
    every glued number in place."""
    from nbconvert import HTMLExporter
    import nbformat

    source = json.loads(path.read_text())
    assert editions.raw_myst(source), "the source is MyST: the check would see it"
    edition = ROOT / "colab" / path.name
    cells = json.loads(edition.read_text())["cells"]  # nbformat 4.5: every cell has an id
    ids = [c.get("id") for c in cells]
    assert all(ids) and len(set(ids)) == len(ids), "cell ids missing or repeated"
    from traitlets.config import Config

    config = Config()  # a live prose cell's code is folded: the reader sees its output
    config.TagRemovePreprocessor.remove_input_tags = {"live-prose"}
    config.TagRemovePreprocessor.enabled = True
    html, _ = HTMLExporter(config=config).from_notebook_node(nbformat.read(edition, as_version=4))
    text = re.sub(r"<[^>]+>", "", html)
    for token in ("{glue:text}", "{cite}", "{exercise}", "{solution}", "{admonition}", ":label:",
                  ":class: dropdown"):
        assert token not in text, (path.name, token)
    markdown = "\n".join("".join(c["source"]) for c in source["cells"] if c["cell_type"] == "markdown")
    n_solutions = len(re.findall(r"^`{3,}\{solution\}", markdown, re.M))
    n_exercises = len(re.findall(r"^`{3,}\{exercise\}", markdown, re.M))
    # folded: every solution, and every recall question's answer (a dropdown admonition)
    n_recall = len(re.findall(r"^`{3,}\{admonition\}[^\n]*\n:class: dropdown", markdown, re.M))
    assert n_recall >= 5 and html.count("<summary>Solution</summary>") == n_solutions
    assert html.count("<details>") == n_solutions + n_recall
    shown = re.findall(r"Exercise (\d+)\.(\d*)", text)  # numbered within the chapter: 1, 2
    assert [int(k) for k, _ in shown] == list(range(1, n_exercises + 1))
    assert not any(rest for _, rest in shown)  # never "4.1", which reads like a measured number
    values = editions.glued_values(source)
    for key, fmt in re.findall(r"\{glue:text\}`([^`:]+)(?::([^`]*))?`", markdown)[:10]:
        assert format(values[key], fmt) in text, (path.name, key)


def test_plain_markdown_converts_each_construct():
    source = ("(sec-x)=\n## Title\n\nMSC {cite}`reiss2023msc` ends at {glue:text}`auc:.1f`% on "
              "{glue:text}`cls`.\n\n```{admonition} Why\n:class: note\nBecause.\n```\n\n"
              "```{exercise} Try it\n:label: ex-1\nDo this.\n```\n\n```{solution} ex-1\n"
              ":class: dropdown\nLike that.\n```\n")
    cites = {"reiss2023msc": "Reiss & Hoshen, 2023"}
    out = editions.plain_markdown(source, {"auc": 97.1234, "cls": "horse"}, cites, [4], "t", "BIB")
    assert out.startswith("## Title")
    assert "MSC ([Reiss & Hoshen, 2023](BIB)) ends at 97.1% on horse." in out
    assert "> **Why**\n>\n> Because." in out
    assert "**Exercise 5.** Try it\n\nDo this." in out
    assert "<details>\n<summary>Solution</summary>\n\nLike that.\n\n</details>" in out
    student = editions.plain_markdown(source, {"auc": 1.0, "cls": "x"}, cites, [0], "t", "BIB",
                                      solutions=False)
    assert "Like that" not in student and "Exercise 1." in student
    numbered = editions.plain_markdown(source, {"auc": 1.0, "cls": "x"}, cites, [0], "t", "BIB")
    assert "**Exercise 1.** Try it" in numbered and "4.1" not in numbered
    with pytest.raises(editions.EditionError, match="no cell glued 'auc'"):
        editions.plain_markdown(source, {"cls": "x"}, cites, [0], "ch", "BIB")
    recall = editions.plain_markdown("```{admonition} 1. Why?\n:class: dropdown\nBecause.\n```\n",
                                     {}, cites, [0], "t", "BIB")
    assert "<details>\n<summary>1. Why?</summary>\n\nBecause.\n\n</details>" in recall


def test_the_bibliography_gives_author_and_year():
    cites = editions.bibliography()
    assert cites["reiss2023msc"] == "Reiss & Hoshen, 2023"


def test_the_student_edition_has_no_solutions(tmp_path):
    out = tmp_path / "student"
    counts = student_edition.write(out)
    assert sum(counts.values()) > 0 and len(counts) == len(editions.chapters())
    for path in sorted((out / "book").glob("[0-9]*.ipynb")):
        text = path.read_text()
        original = (ROOT / "book" / path.name).read_text()
        assert "{solution}" not in text
        assert text.count("{exercise}") == original.count("{exercise}")  # the exercises stay
        plain = (out / "colab" / path.name).read_text()
        assert "<summary>Solution</summary>" not in plain and "Exercise " in plain
        assert plain.count("<details>") >= 5  # the recall questions keep their folded answers
    assert (out / "_toc.yml").exists() and (out / "_config.yml").exists()
    with pytest.raises(SystemExit, match="is not empty"):
        student_edition.write(out)


@pytest.mark.parametrize("path", editions.chapters(), ids=lambda p: p.name)
def test_every_glued_number_is_live_in_the_edition(path):
    """No sentence of an edition states a committed number as the reader's: every glue
    reference of the chapter sits in a live prose cell (shown from the reader's run), and
    none in a markdown cell."""
    source = json.loads(path.read_text())
    refs = sum(len(editions.GLUE.findall("".join(c["source"]))) for c in source["cells"]
               if c["cell_type"] == "markdown")
    cells = json.loads((ROOT / "colab" / path.name).read_text())["cells"]
    live = [c for c in cells if "live-prose" in c["metadata"].get("tags", [])]
    in_live = sum(len(editions.GLUE.findall("".join(c["source"]))) for c in live)
    solutions_only = refs - in_live  # refs inside solutions are kept too (folded, live)
    assert in_live == refs, (path.name, solutions_only)
    assert not any(editions.GLUE.search("".join(c["source"])) for c in cells if c["cell_type"] == "markdown")
    if refs:
        assert "beside_the_book" in "".join(cells[-1]["source"])


# `make test` runs every edition this way (MSCAD_EDITIONS=all, the quick profile, the run
# cache the book's chapters filled); a plain `pytest tests` runs chapter 1's alone.
EXECUTED = ([p.name for p in editions.chapters()] if os.environ.get("MSCAD_EDITIONS") == "all"
            else ["01_dn2.ipynb"])


@pytest.mark.parametrize("name", EXECUTED)
def test_an_executed_edition_shows_the_readers_numbers_not_the_books(name, shared_data, monkeypatch):
    """An edition run at the quick profile: each prose cell shows the values this run
    glued; a committed value that differs appears only inside "(the book's run: ...)"."""
    monkeypatch.setenv("MSCAD_PROFILE", "quick")
    _, _, problems, checked = editions.run_edition(name, timeout=1800)
    assert problems == []
    assert checked == len(committed_references(name)), "every prose reference was checked"


def committed_references(name: str) -> list:
    """The glue references of a chapter's prose cells in its committed edition."""
    cells = json.loads((ROOT / "colab" / name).read_text())["cells"]
    return [m["key"] for c in cells if "live-prose" in c["metadata"].get("tags", [])
            and "prose(" in "".join(c["source"]) for m in editions.GLUE.finditer("".join(c["source"]))]


def test_the_prose_check_catches_a_books_number_stated_as_the_readers():
    """The check above can fail: a prose cell whose output states the committed value."""
    import nbformat

    cell = nbformat.v4.new_code_cell('prose("DN2 reaches {glue:text}`auroc:.1f`% on 10 classes.",\n      book={"auroc": 84.4})')
    cell.metadata["tags"] = ["live-prose"]
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "DN2 reaches 84.4% on 10 classes."})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    problems, checked = editions.prose_disagreements(nb, {"auroc": 84.4}, {"auroc": 55.3})
    assert checked == 1 and [p[2] for p in problems] == [
        "this run's '55.3' is not in the prose", "the book's '84.4' is stated as the reader's"]
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "DN2 reaches 55.3% (the book's run: 84.4%) on 10 classes."})]
    assert editions.prose_disagreements(nb, {"auroc": 84.4}, {"auroc": 55.3}) == ([], 1)
    # a committed value that the static text also states ("of 10") is not a false alarm...
    cell.source = 'prose("It holds on {glue:text}`n` classes of 10.",\n      book={"n": 10})'
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "It holds on 9 (the book's run: 10) classes of 10."})]
    assert editions.prose_disagreements(nb, {"n": 10}, {"n": 9}) == ([], 1)
    # ...but one more than the static text's is
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "It holds on 9 classes of 10, 10 in all."})]
    assert editions.prose_disagreements(nb, {"n": 10}, {"n": 9})[0] == [(0, "n", "the book's '10' is stated as the reader's")]
    # a value found only inside another number is missing ("9" is not in "2019")
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "It holds on 2019 (the book's run: 10) classes of 10."})]
    assert editions.prose_disagreements(nb, {"n": 10}, {"n": 9})[0] == [(0, "n", "this run's '9' is not in the prose")]
    # a formatted value this run never glued, or the book never did, is reported, not a crash
    cell.source = 'prose("DN2 reaches {glue:text}`auroc:.1f`%.",\n      book={})'
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "DN2 reaches 55.3%."})]
    assert editions.prose_disagreements(nb, {"auroc": 84.4}, {}) == ([(0, "auroc", "this run did not glue it")], 0)
    assert editions.prose_disagreements(nb, {}, {"auroc": 55.3}) == ([], 1)
    # a value glued below its paragraph shows the book's, labelled as such: no alarm
    cell.outputs = [nbformat.v4.new_output("display_data", {"text/markdown": "DN2 reaches 84.4% (the book's run; yours is computed further down)."})]
    assert editions.prose_disagreements(nb, {"auroc": 84.4}, {"auroc": 55.3}) == ([], 1)


def test_the_student_edition_leaves_out_the_instructors_page(tmp_path):
    student_edition.write(tmp_path / "student")
    assert "instructors" not in (tmp_path / "student" / "_toc.yml").read_text()
    assert not (tmp_path / "student" / "book" / "instructors.md").exists()
    assert (tmp_path / "student" / "book" / "glossary.md").exists()


@pytest.mark.parametrize("text", ["ends with a quote '", "two ''", "a ''' triple", "a \\ back\\slash\\",
                                  "\\N{x} and {braces}", "plain"])
def test_a_paragraph_round_trips_into_its_live_cell(text):
    import ast

    assert ast.literal_eval(editions._literal(text)) == text


def test_every_exercise_gets_the_number_of_its_place_in_the_chapter():
    """Chapter 1's exercises in cell order, the first of them in a cell after one that
    ends without a newline (where a joined-text search missed it and the references
    that followed were off by one)."""
    nb = json.loads((ROOT / "book" / "01_dn2.ipynb").read_text())
    numbers = editions.exercise_numbers(nb, 1)
    assert list(numbers) == ["ch1-ex-eq5", "ch1-ex-k", "ch1-ex-size", "ch1-ex-derive"]
    assert numbers["ch1-ex-derive"] == "4"
    edition = (ROOT / "colab" / "01_dn2.ipynb").read_text()
    assert "exercise 4](" in edition and "exercise 3](" not in edition and "exercise 1.4" not in edition


def test_the_book_bracket_is_matched_to_its_own_parenthesis():
    text = "below: contrastive (Eq. 2) (the book's run: contrastive (Eq. 2) and raw DN2 (raw)); done"
    assert editions._without_book_brackets(text) == "below: contrastive (Eq. 2) ; done"


def test_a_glossary_term_links_to_its_entry_on_the_html_glossary():
    text = "the {term}`kNN score` and {term}`the spread <uniformity>`"
    out = editions.TERM.sub(lambda m: editions._term(m, "https://site"), text)
    # Sphinx's own ids keep capitals (browsers match fragments case-sensitively)
    assert out == ("the [kNN score](https://site/book/glossary.html#term-kNN-score) and "
                   "[the spread](https://site/book/glossary.html#term-uniformity)")
    assert editions.RAW_MYST.search(text) and not editions.RAW_MYST.search(out)
