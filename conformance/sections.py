"""The protocol pages: what each section the cases cite requires, and which cases check it.

A case id names a section (``mpos/2.6/3`` is section 2.6 of the mpos page), but the
notes those numbers come from are not something a user of the suite has. So each
protocol has one page in this package, ``conformance/sections/<protocol>.md``, written
in the project's own words: per section a heading ``## <number> <title>``, what the
section requires, the source it rests on, and the cases that check it.

The case lists are not written by hand: they sit between ``<!-- cases -->`` and
``<!-- /cases -->`` under each heading and are generated from the case registry
(``python -m conformance.sections --write``). ``python -m conformance.sections`` checks
that every cited section has an entry and that every list is current; the test suite
runs the same check. The matrix reads the titles and links its heads here.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from conformance.registry import MARK_NAME, CaseInfo, section_key

PAGES = Path(__file__).resolve().parent / "sections"
HEADING = re.compile(r"^## (?P<section>[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*) (?P<title>.+?)\s*$")
CASES_BLOCK = re.compile(r"<!-- cases -->\n.*?<!-- /cases -->", re.S)


@dataclass(frozen=True)
class Section:
    protocol: str
    number: str
    title: str
    body: str  # the page's text under the heading (markdown), case list included

    @property
    def anchor(self) -> str:
        """An HTML id for this section (``sec-mpos-2.6``)."""
        return f"sec-{self.protocol}-{self.number}"

    def paragraphs(self) -> list[str]:
        """The hand-written text (the generated case list left out), one per paragraph."""
        text = CASES_BLOCK.sub("", self.body)
        return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def page_path(protocol: str, root: Path = PAGES) -> Path:
    return root / f"{protocol}.md"


def read_page(protocol: str, root: Path = PAGES) -> dict[str, Section]:
    """The sections of one protocol's page by number (empty when there is no page)."""
    path = page_path(protocol, root)
    if not path.is_file():
        return {}
    out: dict[str, Section] = {}
    current: tuple[str, str] | None = None
    lines: list[str] = []

    def flush() -> None:
        if current is not None:
            out[current[0]] = Section(protocol, current[0], current[1], "\n".join(lines).strip())

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            flush()
            m = HEADING.match(line)
            current = (m["section"], m["title"]) if m else None  # other headings end it
            lines = []
        elif current is not None:
            lines.append(line)
    flush()
    return out


def read_pages(protocols: Iterable[str], root: Path = PAGES) -> dict[str, dict[str, Section]]:
    return {p: read_page(p, root) for p in protocols}


def registered_cases(package: str = "conformance.cases") -> list[CaseInfo]:
    """Every case the suite defines, found by importing its case modules."""
    root = importlib.import_module(package)
    found: dict[str, CaseInfo] = {}
    for mod in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not mod.name.rsplit(".", 1)[-1].startswith("test_"):
            continue
        module = importlib.import_module(mod.name)
        for obj in vars(module).values():
            for mark in getattr(obj, "pytestmark", ()):
                if getattr(mark, "name", "") == MARK_NAME and mark.args:
                    info = mark.args[0]
                    if isinstance(info, CaseInfo):
                        found.setdefault(info.id, info)
    return sorted(found.values(), key=lambda i: i.sort_key)


def by_section(cases: Iterable[CaseInfo]) -> dict[tuple[str, str], list[CaseInfo]]:
    out: dict[tuple[str, str], list[CaseInfo]] = defaultdict(list)
    for info in cases:
        out[(info.protocol, info.section)].append(info)
    return out


def case_list(cases: Sequence[CaseInfo]) -> str:
    """The generated block under a section heading."""
    lines = ["<!-- cases -->", "Cases that check it:", ""]
    lines += [f"- `{c.id}` {c.title}" for c in cases] or ["- (no case yet)"]
    return "\n".join([*lines, "<!-- /cases -->"])


def problems(cases: Sequence[CaseInfo], root: Path = PAGES) -> list[str]:
    """Cited sections without an entry, entries without a case list, stale lists."""
    out: list[str] = []
    grouped = by_section(cases)
    for protocol in sorted({c.protocol for c in cases}):
        path = page_path(protocol, root)
        pages = read_page(protocol, root)
        if not pages:
            out.append(f"{path}: no page for protocol {protocol!r}")
            continue
        for (proto, number), infos in sorted(grouped.items(), key=lambda kv: (
                kv[0][0], section_key(kv[0][1]))):
            if proto != protocol:
                continue
            entry = pages.get(number)
            if entry is None:
                out.append(f"{path}: section {number} is cited by {infos[0].id} but has no "
                           f"'## {number} <title>' entry")
                continue
            block = CASES_BLOCK.search(entry.body)
            if block is None:
                out.append(f"{path}: section {number} has no <!-- cases --> block")
            elif block.group(0) != case_list(infos):
                out.append(f"{path}: the case list of section {number} is out of date")
    return out


def write_case_lists(cases: Sequence[CaseInfo], root: Path = PAGES) -> list[Path]:
    """Regenerate every page's case lists from the registry; returns the pages changed."""
    grouped = by_section(cases)
    changed: list[Path] = []
    for protocol in sorted({c.protocol for c in cases}):
        path = page_path(protocol, root)
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        out: list[str] = []
        number = ""
        for chunk in re.split(r"(?m)^(?=## )", text):
            m = HEADING.match(chunk.splitlines()[0]) if chunk.startswith("## ") else None
            number = m["section"] if m else ""
            if number:
                block = case_list(grouped.get((protocol, number), []))
                if CASES_BLOCK.search(chunk):
                    chunk = CASES_BLOCK.sub(lambda _m, b=block: b, chunk)
                else:
                    chunk = chunk.rstrip("\n") + "\n\n" + block + "\n\n"
            out.append(chunk)
        new = "".join(out)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m conformance.sections",
        description="Check the protocol pages against the case registry, or --write "
        "their case lists.",
    )
    p.add_argument("--write", action="store_true",
                   help="regenerate the case lists of every page from the registry")
    args = p.parse_args(argv)
    cases = registered_cases()
    if args.write:
        for path in write_case_lists(cases):
            print(f"updated {path}")
    found = problems(cases)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
