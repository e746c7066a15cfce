"""Point every chapter's Colab badge and install cell at one repository address.

The address lives in one place, `_config.yml` (`repository.url`, `repository.branch`).
An instructor who publishes a fork runs

    python book/set_repository.py https://github.com/ME/mscad --branch main

which writes the address into `_config.yml` and rewrites, in every chapter, the Colab
badge (colab.research.google.com/github/ME/mscad/blob/main/colab/<chapter>.ipynb, the
plain edition that book/editions.py writes, which it then rewrites too), the
`pip install git+...` line and the `git clone` of the chapters that read committed
results. Without an address it re-applies the one in `_config.yml`; `--check` only lists
the chapters that point elsewhere (exit status 1 if any), which the tests run.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
GITHUB = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def configured() -> tuple[str, str]:
    """(url, branch) from _config.yml's repository section."""
    text = CONFIG.read_text()
    url = re.search(r"^repository:\n(?:  .*\n)*?  url: *(\S+)", text, re.M).group(1)
    branch = re.search(r"^repository:\n(?:  .*\n)*?  branch: *(\S+)", text, re.M).group(1)
    return url.rstrip("/"), branch


def book_url(url: str | None = None) -> str:
    """Where the HTML book of the repository at ``url`` is published: its GitHub Pages
    address (``jupyter-book build`` + ``ghp-import``, the publishing route the README gives)."""
    owner, repo = (url or configured()[0]).removeprefix("https://github.com/").split("/")[:2]
    return f"https://{owner.lower()}.github.io/{repo}"


def write_config(url: str, branch: str):
    text = CONFIG.read_text()
    text = re.sub(r"(^repository:\n(?:  .*\n)*?  url: *)\S+", rf"\g<1>{url}", text, flags=re.M)
    text = re.sub(r"(^repository:\n(?:  .*\n)*?  branch: *)\S+", rf"\g<1>{branch}", text, flags=re.M)
    CONFIG.write_text(text)


def rewrite(source: str, chapter: str, url: str, branch: str) -> str:
    """One cell's source with every repository address replaced by ``url`` at ``branch``."""
    slug = url.removeprefix("https://github.com/")
    # The badge opens the chapter's plain edition (colab/, written by book/editions.py):
    # Colab renders CommonMark, not the MyST of book/.
    source = re.sub(r"https://colab\.research\.google\.com/github/[^)\s\"]+?/(?:book|colab)/[A-Za-z0-9_]+\.ipynb",
                    f"https://colab.research.google.com/github/{slug}/blob/{branch}/colab/{chapter}",
                    source)
    source = re.sub(r"git\+https://github\.com/[^\"@\s]+?\.git(@[^\"\s]+)?", f"git+{url}.git@{branch}",
                    source)
    source = re.sub(r'"--depth", "1",( "--branch", "[^"]*",)? "https://github\.com/[^"]+?\.git"',
                    f'"--depth", "1", "--branch", "{branch}", "{url}.git"', source)
    return source


def chapters() -> list:
    return sorted((ROOT / "book").glob("*.ipynb"))


def apply(url: str, branch: str, check: bool = False) -> list:
    """Rewrite (or with ``check``, only compare) every chapter; returns the chapters that
    did not already point at ``url``/``branch``."""
    changed = []
    for path in chapters():
        nb = json.loads(path.read_text())
        touched = False
        for cell in nb["cells"]:
            old = "".join(cell["source"])
            new = rewrite(old, path.name, url, branch)
            if new != old:
                touched = True
                lines = new.split("\n")
                cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
        if touched:
            changed.append(path.name)
            if not check:
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url", nargs="?", help="https://github.com/OWNER/REPO (default: _config.yml's)")
    p.add_argument("--branch", default=None, help="branch the badges and installs use")
    p.add_argument("--check", action="store_true", help="only list chapters that point elsewhere")
    a = p.parse_args(argv)
    url, branch = configured()
    url, branch = (a.url or url).rstrip("/").removesuffix(".git"), a.branch or branch
    if not GITHUB.match(url):
        print(f"set_repository: {url} is not https://github.com/OWNER/REPO (Colab opens GitHub "
              "notebooks only).", file=sys.stderr)
        return 2
    if a.check:
        stale = apply(url, branch, check=True)
        for name in stale:
            print(f"{name} does not point at {url} ({branch})")
        return 1 if stale else 0
    if (url, branch) != configured():
        write_config(url, branch)
    changed = apply(url, branch)
    print(f"{len(changed)} chapter(s) rewritten for {url} ({branch})" + (f": {', '.join(changed)}" if changed else ""))
    import editions  # the plain editions carry the same badges and installs

    editions.write_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
