"""The README is a front page (issue 16, point 7): short, linking every reference page under
db/docs/, every relative link landing on a file (and heading) that exists, every ``senate-db``
subcommand listed in its Commands table, and every page's SQL examples run by some test."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from senate_db import cli, paths

ROOT = paths.repo_root()
README = ROOT / "README.md"
DOCS = ROOT / "db" / "docs"

#: Pages the front page links to that other branches of issue 16 write. A link to one of them
#: may dangle only while the page does not exist here; once it lands it is checked like any
#: other (drop the entry then).
WRITTEN_ELSEWHERE: set[Path] = set()

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def links(path: Path) -> list[str]:
    """The link targets of a markdown file, outside code blocks."""
    return LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8")))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(h) for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}


def relative_links(path: Path) -> list[tuple[Path, str]]:
    found = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        found.append(((path.parent / file).resolve() if file else path.resolve(), anchor))
    return found


def subcommands() -> set[str]:
    parser = cli.build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return set(actions[0].choices)


def commands_table() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `senate-db "))


def test_the_readme_is_a_front_page_under_200_lines() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) < 200


def test_the_readme_links_every_reference_page() -> None:
    linked = {target for target, _ in relative_links(README)}
    assert pages(), "db/docs/ holds no page"
    for page in pages():
        assert page.resolve() in linked, f"README does not link {page.relative_to(ROOT)}"


def test_every_relative_link_of_the_readme_and_the_pages_lands_on_a_file_and_heading() -> None:
    checked = 0
    for source in [README, *pages()]:
        for target, anchor in relative_links(source):
            where = f"{source.relative_to(ROOT)} -> {target}#{anchor}"
            if not target.exists() and target in {p.resolve() for p in WRITTEN_ELSEWHERE}:
                continue
            assert target.exists(), where
            if anchor:
                assert target.suffix == ".md" and anchor in anchors(target), where
            checked += 1
    assert checked >= 20


def test_every_registered_subcommand_is_in_the_commands_table() -> None:
    listed = set(re.findall(r"`senate-db ([a-z][a-z-]*)", commands_table()))
    missing = subcommands() - listed
    assert not missing, f"README Commands table lacks {sorted(missing)}"
    assert {"up", "down", "migrate", "demo", "bench"} <= subcommands()


def test_every_page_with_sql_examples_is_read_by_a_test() -> None:
    tests = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "tests").glob("test_*.py") if p.is_file()
    )
    for page in pages():
        if "```sql\n" in page.read_text(encoding="utf-8"):
            assert f'"{page.name}"' in tests, f"no test runs the examples of {page.name}"


def test_the_layout_table_lists_every_module_of_the_package() -> None:
    """Issue 17 point 6: the Layout section (operations.md, linked from the front page) names
    every module of tools/senate_db."""
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    layout = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(\w+)`", layout))
    modules = {p.stem for p in (ROOT / "tools" / "senate_db").glob("*.py")} - {"__init__"}
    assert len(modules) > 20
    assert modules <= listed, f"Layout lacks {sorted(modules - listed)}"
