"""README.md and docs/ hold together: every relative link and #anchor resolves; README stays short.

Headings are turned into anchors as GitHub and GitLab do (lowercase, punctuation dropped, spaces
to hyphens, `-1`, `-2` for repeats); links inside code are not links.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose(markdown: str) -> str:
    """The text with fenced code blocks and inline code removed."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def slug(heading: str) -> str:
    """The anchor GitHub and GitLab give a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", markdown)):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(markdown: str) -> list[str]:
    return [target for target in LINK.findall(prose(markdown)) if not EXTERNAL.match(target)]


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif (
            anchor
            and linked.suffix == ".md"
            and anchor not in anchors(linked.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no such heading in {linked.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_stays_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def test_the_readme_links_every_docs_page() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README.read_text())}
    assert [page.name for page in PAGES[1:] if page not in linked] == []


def test_the_screenshots_are_shown() -> None:
    shown = set(links((ROOT / "docs" / "service.md").read_text()))
    assert {"swagger-ui.png", "redoc.png"} <= shown


def test_a_broken_link_and_anchor_are_caught(tmp_path: Path) -> None:
    """The control: the checker finds what it is meant to find, and ignores links in code."""
    (tmp_path / "other.md").write_text("# Other page\n\n## Did it deploy? `wait`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\n[ok](other.md#did-it-deploy-wait) [self](#title) [web](https://x.invalid/y)\n"
        "[gone](missing.md) [bad anchor](other.md#nope)\n\n"
        "```\n[in code](nowhere.md)\n```\n`[inline](nowhere.md)`\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nope: no such heading in other.md",
    ]


def test_the_readme_lists_every_command():
    from ci.cli import command_names

    row = next(line for line in README.read_text().splitlines() if line.startswith("| `ci/` |"))
    listed = re.search(r"python -m ci COMMAND`: ([^)]*)\)", row)
    assert listed, row
    assert tuple(listed.group(1).split(", ")) == command_names()


ARCHITECTURE = ROOT / "docs" / "architecture.md"
CODE = re.compile(r"`([^`]+)`")


def listed_modules(markdown: str) -> set[str]:
    """The modules named in the first column of the tables: full paths, or file names in the
    folder of the full path before them in the same cell."""
    found = set()
    for line in markdown.splitlines():
        if not line.startswith("| `"):
            continue
        folder = ""
        for name in CODE.findall(line.split(" | ")[0]):
            if "/" in name:
                folder = name.rsplit("/", 1)[0]
                found.add(name)
            elif name.endswith(".py") and folder:
                found.add(f"{folder}/{name}")
    return {name for name in found if name.endswith(".py")}


def test_the_architecture_lists_every_module_of_app_and_ci():
    actual = {
        path.relative_to(ROOT).as_posix()
        for package in ("app", "ci")
        for path in (ROOT / package).rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    }
    listed = {
        name
        for name in listed_modules(ARCHITECTURE.read_text())
        if name.startswith(("app/", "ci/"))
    }
    assert sorted(actual - listed) == [], "modules missing from docs/architecture.md"
    assert sorted(listed - actual) == [], "docs/architecture.md lists modules that do not exist"
