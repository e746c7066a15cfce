"""The chapters point at the repository address configured in _config.yml."""
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("set_repository", ROOT / "book" / "set_repository.py")
set_repository = importlib.util.module_from_spec(spec)
spec.loader.exec_module(set_repository)


def test_every_chapter_points_at_the_configured_repository():
    url, branch = set_repository.configured()
    assert set_repository.apply(url, branch, check=True) == []
    for path in set_repository.chapters():
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        slug = url.removeprefix("https://github.com/")
        assert f"colab.research.google.com/github/{slug}/blob/{branch}/colab/{path.name}" in text, path.name
        assert f"{url}.git" in text, path.name  # the install or clone line


def test_a_fork_gets_every_address_rewritten():
    cell = ('[![Open In Colab](images/colab-badge.svg)]'
            '(https://colab.research.google.com/github/mscad-book/mscad/blob/main/book/03_contrastive.ipynb)\n'
            '"mscad @ git+https://github.com/mscad-book/mscad.git"\n'
            'subprocess.run(["git", "clone", "-q", "--depth", "1", "https://github.com/mscad-book/mscad.git",')
    new = set_repository.rewrite(cell, "03_contrastive.ipynb", "https://github.com/prof-x/ad-course", "fall")
    assert "mscad-book" not in new
    assert "colab.research.google.com/github/prof-x/ad-course/blob/fall/colab/03_contrastive.ipynb" in new
    assert "git+https://github.com/prof-x/ad-course.git@fall" in new
    assert '"--branch", "fall", "https://github.com/prof-x/ad-course.git"' in new
    assert set_repository.rewrite(new, "03_contrastive.ipynb", "https://github.com/prof-x/ad-course",
                                  "fall") == new  # applying twice changes nothing
    assert set_repository.main(["https://gitlab.com/x/y", "--check"]) == 2


def test_committed_outputs_hold_nothing_of_the_machine_that_ran_them():
    """No stderr (progress bars, warnings) and no absolute paths in what readers see;
    book/execute.py scrubs them when it writes a chapter."""
    import re

    home = str(Path.home())
    pattern = re.compile(r"(?<![\w.])/(?:work|root|home|tmp|Users)/|" + re.escape(home) + "/"
                         + "|" + re.escape(str(ROOT)))
    for path in set_repository.chapters():
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            for out in cell.get("outputs", []):
                assert not (out["output_type"] == "stream" and out["name"] == "stderr"), (path.name, i)
                text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
                assert not pattern.search(text), (path.name, i, pattern.search(text).group(0))


def test_scrub_takes_out_stderr_and_paths(tmp_path, monkeypatch):
    import nbformat

    spec2 = importlib.util.spec_from_file_location("execute", ROOT / "book" / "execute.py")
    execute = importlib.util.module_from_spec(spec2)
    spec2.loader.exec_module(execute)
    monkeypatch.setenv("MSCAD_DATA", str(tmp_path / "data"))
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="100%|####| 5/5\n"),
                    nbformat.v4.new_output("stream", name="stdout",
                                           text=f"data: {tmp_path / 'data'}/cifar10 in {ROOT}/book\n")]
    nb.cells = [cell]
    out = execute.scrub(nb, ROOT).cells[0].outputs
    assert len(out) == 1 and out[0]["text"] == "data: $MSCAD_DATA/cifar10 in ./book\n"


def test_page_check_finds_loads_from_other_hosts_and_missing_files(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_pages", ROOT / "book" / "check_pages.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "local.js").write_text("")
    page = tmp_path / "page.html"
    page.write_text('<html><head><script src="_static/local.js"></script>'
                    '<a href="https://arxiv.org/abs/2106.03844">the paper</a></head></html>')
    assert check.static_problems(tmp_path) == []  # a local script and an outgoing link are fine
    page.write_text('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
                    '<img src="https://colab.research.google.com/assets/colab-badge.svg">'
                    '<link rel="stylesheet" href="//fonts.example.org/a.css"><img src="missing.png">')
    problems = check.static_problems(tmp_path)
    assert len(problems) == 4
    (tmp_path / "_static" / "theme.css").write_text(
        "@font-face { src: url('https://fonts.gstatic.com/x.woff2'); } a { color: red }")
    page.write_text('<link rel="stylesheet" href="_static/theme.css">')
    assert any("fonts.gstatic.com" in p for p in check.static_problems(tmp_path))
    assert any("cdn.jsdelivr.net" in p for p in problems) and any("missing.png" in p for p in problems)


def lesson_chapters():
    return sorted((ROOT / "book").glob("0*.ipynb"))


def test_every_chapter_reads_as_a_lesson():
    assert len(lesson_chapters()) >= 5
    for path in lesson_chapters():
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        first = code[0]
        assert "parameters" in first["metadata"].get("tags", []), f"{path.name}: no parameters cell first"
        assert "SEED =" in "".join(first["source"]) and "PROFILE =" in "".join(first["source"]), path.name
        install = [c for c in code if "google.colab" in "".join(c["source"])]
        assert install and "hide-cell" in install[0]["metadata"].get("tags", []), path.name
        assert markdown.count("```{exercise}") >= 3, f"{path.name}: fewer than three exercises"
        assert markdown.count("```{solution}") == markdown.count("```{exercise}"), path.name
        assert markdown.count(":class: dropdown") >= markdown.count("```{solution}"), path.name
        assert "{cite}`" in markdown, f"{path.name}: cites nothing"
        for cell in code:
            for line in "".join(cell["source"]).splitlines():
                assert len(line) <= 88, f"{path.name}: code line of {len(line)} characters: {line}"


def test_execute_injects_parameters_after_the_parameters_cell():
    import nbformat
    import pytest

    spec = importlib.util.spec_from_file_location("execute", ROOT / "book" / "execute.py")
    execute = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(execute)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("NORMAL_CLASS = None\nSEED = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(NORMAL_CLASS, SEED)")])
    execute.inject_parameters(nb, {"NORMAL_CLASS": execute.parse_value('"cat"'),
                                   "SEED": execute.parse_value("3")})
    injected = nb.cells[2]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert "NORMAL_CLASS = 'cat'" in injected.source and "SEED = 3" in injected.source
    assert execute.parse_value("cat") == "cat"  # not a literal: a string
    with pytest.raises(SystemExit, match="EPOCHS is not set"):
        execute.inject_parameters(nb, {"EPOCHS": 5})
    with pytest.raises(SystemExit, match="CLASS is not set"):  # a part of NORMAL_CLASS
        execute.inject_parameters(nb, {"CLASS": "cat"})


def test_the_book_builds_strictly_with_a_chapter_dropped(tmp_path):
    """An instructor drops a chapter from _toc.yml alone: the strict build (-W) still
    passes, chapters are renumbered, and references to the dropped one say so."""
    import shutil
    import subprocess

    shutil.copytree(ROOT / "book", tmp_path / "book",
                    ignore=shutil.ignore_patterns("_build", "__pycache__", ".ipynb_checkpoints"))
    shutil.copy2(ROOT / "_config.yml", tmp_path / "_config.yml")
    toc = (ROOT / "_toc.yml").read_text()
    assert "      - file: book/06_benchmarks\n" in toc
    (tmp_path / "_toc.yml").write_text(toc.replace("      - file: book/06_benchmarks\n", ""))
    jb = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run([str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    page = (tmp_path / "_build" / "html" / "book" / "07_your_images.html").read_text()
    assert "<title>6. " in page  # renumbered
    assert "(not in this edition)" in (tmp_path / "_build" / "html" / "book" / "05_ablations.html").read_text()


def test_the_colab_install_cell_survives_a_second_run_all():
    """The clone is skipped when /content/mscad is already there (a second "Run all", or
    after a restart), and every chapter says which runtime to choose."""
    for path in set_repository.chapters():
        cells = json.loads(path.read_text())["cells"]
        install = "".join(cells[2]["source"])
        if '"git", "clone"' in install:
            guard = install.index('os.path.isdir("/content/mscad/.git")')
            assert guard < install.index('"git", "clone"'), path.name
        assert "Change runtime type" in "".join(cells[0]["source"]), path.name


def test_every_figure_reference_names_a_figure_of_the_book():
    """A dropped chapter's figure reads "(not in this edition)" in the strict build, so a
    typo in a figure label would too: every {numref} to a fig- label must name a figure
    some chapter defines."""
    import re

    names, targets = set(), set()
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            name = cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")
            if name:
                names.add(name)
            if cell["cell_type"] == "markdown":
                targets |= set(re.findall(r"<(fig-[A-Za-z0-9-]+)>`", "".join(cell["source"])))
    assert targets, "no figure reference found: the pattern is stale"
    assert targets <= names, targets - names
