"""The case registry: every conformance case has an id tied to a spec section.

A case id is ``<protocol>/<section>/<n>`` where ``<section>`` is the section number in
that protocol's note (``mpos/2.6/3``, ``abecs/4.2/5``). Tying ids to sections lets a
vendor read a failing case next to the sentence of the document it checks, the way
Autobahn|Testsuite numbers its cases by RFC section.

The registry is filled when case modules are imported. Two different functions that
claim the same id are an error at collection (see :func:`check_duplicates`), because a
report with two rows under one id cannot be trusted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

CASE_ID = re.compile(
    r"^(?P<protocol>[a-z][a-z0-9_-]*)/(?P<section>[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*)/(?P<n>[0-9]+)$"
)
MARK_NAME = "cardloop_case"

F = TypeVar("F", bound=Callable[..., Any])


class CaseIdError(ValueError):
    """A malformed or duplicated case id."""


@dataclass(frozen=True)
class CaseInfo:
    """What the report says about a case besides its verdict."""

    id: str
    title: str
    section: str
    failure: str
    protocol: str
    number: int
    where: str = ""  # module:function that defines it, to name both sides of a duplicate

    @property
    def sort_key(self) -> tuple[str, tuple[Any, ...], int]:
        return (self.protocol, section_key(self.section), self.number)


def section_key(section: str) -> tuple[Any, ...]:
    """Sort key for section numbers: "2.10" after "2.9", "A.7" after numbers."""
    parts: list[Any] = []
    for p in section.split("."):
        parts.append((0, int(p), "") if p.isdigit() else (1, 0, p))
    return tuple(parts)


def parse_case_id(case_id: str) -> tuple[str, str, int]:
    """``"mpos/2.6/3"`` -> ``("mpos", "2.6", 3)``; raises :class:`CaseIdError`."""
    m = CASE_ID.match(case_id)
    if m is None:
        raise CaseIdError(
            f"case id {case_id!r} is not <protocol>/<section>/<n> (e.g. 'mpos/2.6/3')"
        )
    return m["protocol"], m["section"], int(m["n"])


def case(
    case_id: str,
    *,
    title: str,
    section: str | None = None,
    failure: str = "",
) -> Callable[[F], F]:
    """Mark a pytest test function as conformance case ``case_id``.

    ``section`` defaults to the one in the id; when given it must agree with it, so a
    renumbered section cannot leave a stale id behind. ``failure`` says, in a
    vendor's words, what a failing verdict means for the implementation under test.
    """
    protocol, id_section, number = parse_case_id(case_id)
    if section is not None and str(section) != id_section:
        raise CaseIdError(
            f"case {case_id!r} says section {section!r} but its id names section {id_section!r}"
        )
    if not title.strip():
        raise CaseIdError(f"case {case_id!r} needs a title")

    def mark(func: F) -> F:
        info = CaseInfo(
            id=case_id,
            title=title.strip(),
            section=id_section,
            failure=failure.strip(),
            protocol=protocol,
            number=number,
            where=_where(func),
        )
        marked: F = pytest.mark.cardloop_case(info)(func)
        return marked

    return mark


def _where(func: Callable[..., Any]) -> str:
    code = getattr(func, "__code__", None)
    filename = code.co_filename if code is not None else getattr(func, "__module__", "?")
    return f"{filename}:{getattr(func, '__qualname__', '?')}"


def case_of(item: pytest.Item) -> CaseInfo | None:
    """The :class:`CaseInfo` of a collected item, or None for an ordinary test."""
    marker = item.get_closest_marker(MARK_NAME)
    if marker is None or not marker.args:
        return None
    info = marker.args[0]
    return info if isinstance(info, CaseInfo) else None


def check_duplicates(items: Iterable[pytest.Item]) -> dict[str, CaseInfo]:
    """Map id -> case for collected items; raise if two functions share an id.

    Parametrised items of one function share its id on purpose and are not
    duplicates; the same function reached twice (a module collected under two
    names) is not either.
    """
    seen: dict[str, CaseInfo] = {}
    for item in items:
        info = case_of(item)
        if info is None:
            continue
        other = seen.get(info.id)
        if other is not None and other.where != info.where:
            raise CaseIdError(
                f"duplicate conformance case id {info.id!r}: {other.where} and {info.where}"
            )
        seen.setdefault(info.id, info)
    return seen
