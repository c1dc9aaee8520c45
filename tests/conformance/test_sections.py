"""Every section a case cites has an entry on its protocol's page, with a current case list."""

from __future__ import annotations

from pathlib import Path

from conformance.registry import CaseInfo
from conformance.sections import (
    problems,
    read_page,
    registered_cases,
    write_case_lists,
)


def test_every_cited_section_has_a_page_entry_with_its_current_cases() -> None:
    cases = registered_cases()
    assert {c.protocol for c in cases} >= {"abecs", "mpos", "p3", "world"}
    assert problems(cases) == [], "run: python -m conformance.sections --write"
    for protocol in {c.protocol for c in cases}:
        for section in read_page(protocol).values():
            text = " ".join(section.paragraphs())
            assert "Requires." in text and "Source." in text, (protocol, section.number)


def _info(cid: str, title: str) -> CaseInfo:
    protocol, section, n = cid.split("/")
    return CaseInfo(cid, title, section, "", protocol, int(n))


def test_a_missing_entry_and_a_stale_list_are_named(tmp_path: Path) -> None:
    (tmp_path / "demo.md").write_text(
        "# demo\n\n## 1.2 Framing\n\n**Requires.** frames.\n\n**Source.** a note.\n",
        encoding="utf-8")
    cases = [_info("demo/1.2/1", "frames are cut"), _info("demo/3/1", "other")]
    found = problems(cases, tmp_path)
    assert any("section 3 is cited by demo/3/1" in p for p in found), found
    assert any("section 1.2 has no <!-- cases --> block" in p for p in found), found
    write_case_lists(cases, tmp_path)
    page = read_page("demo", tmp_path)
    assert "`demo/1.2/1` frames are cut" in page["1.2"].body
    assert [p for p in problems(cases, tmp_path) if "1.2" in p] == []
    cases.append(_info("demo/1.2/2", "a new case"))
    assert any("1.2 is out of date" in p for p in problems(cases, tmp_path))
