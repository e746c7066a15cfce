"""The chapters point at the repository address configured in _config.yml."""
import importlib.util
import json
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
        assert f"colab.research.google.com/github/{slug}/blob/{branch}/book/{path.name}" in text, path.name
        assert f"{url}.git" in text, path.name  # the install or clone line


def test_a_fork_gets_every_address_rewritten():
    cell = ('[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]'
            '(https://colab.research.google.com/github/mscad-book/mscad/blob/main/book/03_contrastive.ipynb)\n'
            '"mscad @ git+https://github.com/mscad-book/mscad.git"\n'
            'subprocess.run(["git", "clone", "-q", "--depth", "1", "https://github.com/mscad-book/mscad.git",')
    new = set_repository.rewrite(cell, "03_contrastive.ipynb", "https://github.com/prof-x/ad-course", "fall")
    assert "mscad-book" not in new
    assert "colab.research.google.com/github/prof-x/ad-course/blob/fall/book/03_contrastive.ipynb" in new
    assert "git+https://github.com/prof-x/ad-course.git@fall" in new
    assert '"--branch", "fall", "https://github.com/prof-x/ad-course.git"' in new
    assert set_repository.rewrite(new, "03_contrastive.ipynb", "https://github.com/prof-x/ad-course",
                                  "fall") == new  # applying twice changes nothing
    assert set_repository.main(["https://gitlab.com/x/y", "--check"]) == 2
