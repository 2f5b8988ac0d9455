"""Every relative link in the user and contributor docs points at a file, and at a heading that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [
        *(ROOT / name for name in ("README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md")),
        *(ROOT / "docs").glob("*.md"),
        ROOT / "example_dags" / "README.md",
    ]
)
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(match) for match in re.findall(r"^#+ (.+)$", text, re.M)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # an absolute URL
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        missing_anchor = bool(anchor) and path.suffix == ".md" and anchor not in anchors(path)
        if not path.exists() or missing_anchor:
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)}: broken links {broken}"


def test_user_docs_speak_of_the_product_only() -> None:
    """No history of how the project was built in the docs users read."""
    words = re.compile(r"\bround[- ]?\d\b|\bissues? \d+\b|(?<!User-)\bagents?\b|\bafter merging\b", re.I)
    user_docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = {str(p.relative_to(ROOT)): words.findall(p.read_text()) for p in user_docs}
    assert not {name: hits for name, hits in found.items() if hits}
