"""Graded verdicts: a case does not just pass or fail.

Payment protocols are documented loosely and implemented in several generations,
so "it works but not as the document says" must be reportable without being a
failure, the way h2spec and Autobahn|Testsuite grade their cases:

``pass``
    the behaviour matches the document.
``non-strict``
    it works but deviates from the document (``--strict`` turns this into ``fail``).
``informational``
    nothing to grade; the case records what the target did.
``unimplemented``
    the target says it does not support the feature; the case stops there.
``fail``
    the behaviour is wrong (an assertion failed or the case crashed).

A case reports through the ``verdict`` fixture (a :class:`VerdictRecorder`); the
plugin combines that with the pytest outcome into the final :class:`Verdict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pytest


class Verdict(StrEnum):
    PASS = "pass"
    NON_STRICT = "non-strict"
    INFORMATIONAL = "informational"
    UNIMPLEMENTED = "unimplemented"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """Worse verdicts rank higher; a matrix cell shows the worst of its cases."""
        return _RANK[self]

    def __str__(self) -> str:
        return self.value


_RANK = {
    Verdict.PASS: 0,
    Verdict.INFORMATIONAL: 1,
    Verdict.UNIMPLEMENTED: 2,
    Verdict.NON_STRICT: 3,
    Verdict.FAIL: 4,
}

ALL_VERDICTS: tuple[Verdict, ...] = (
    Verdict.PASS,
    Verdict.NON_STRICT,
    Verdict.INFORMATIONAL,
    Verdict.UNIMPLEMENTED,
    Verdict.FAIL,
)


def worst(verdicts: list[Verdict]) -> Verdict | None:
    return max(verdicts, key=lambda v: v.rank) if verdicts else None


class Unimplemented(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """Raised by :meth:`VerdictRecorder.unimplemented` to stop a case.

    A case cannot go on once the target said it does not support the feature, so
    this behaves like ``pytest.skip``: the plugin turns it into a skipped test whose
    verdict is ``unimplemented`` (not a failure, in strict mode too).
    """


# as pytest does for its own outcomes: reports then read "Unimplemented: why"
Unimplemented.__module__ = "builtins"


@dataclass
class Note:
    kind: Verdict
    text: str


@dataclass
class VerdictRecorder:
    """What a case says about its own result besides assertions."""

    notes: list[Note] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def non_strict(self, why: str) -> None:
        """It works, but deviates from the document; the case goes on."""
        self.notes.append(Note(Verdict.NON_STRICT, why))

    def informational(self, note: str) -> None:
        """Nothing to grade (or worth telling besides the grade); the case goes on."""
        self.notes.append(Note(Verdict.INFORMATIONAL, note))

    def unimplemented(self, why: str) -> None:
        """The target says it does not support this; stops the case."""
        self.notes.append(Note(Verdict.UNIMPLEMENTED, why))
        raise Unimplemented(why)

    def step(self, text: str) -> None:
        """A named step of the flow, shown in the report (one per message is typical)."""
        self.steps.append(text)

    def of_kind(self, kind: Verdict) -> list[str]:
        return [n.text for n in self.notes if n.kind is kind]


def decide(
    outcome: str,
    recorder: VerdictRecorder | None,
    *,
    strict: bool = False,
    unimplemented: bool = False,
) -> Verdict:
    """The final verdict from pytest's outcome and what the case recorded.

    ``outcome`` is pytest's ("passed", "failed", "skipped"); ``unimplemented`` says the
    case stopped through :meth:`VerdictRecorder.unimplemented`.
    """
    if outcome == "failed":
        return Verdict.FAIL
    if unimplemented:
        return Verdict.UNIMPLEMENTED
    if outcome == "skipped":
        # a plain pytest.skip (missing fixture target, platform) is not a grade of the
        # target; report it as informational so the matrix shows the case was not run
        return Verdict.INFORMATIONAL
    notes = recorder.notes if recorder is not None else []
    kinds = {n.kind for n in notes}
    if Verdict.NON_STRICT in kinds:
        return Verdict.FAIL if strict else Verdict.NON_STRICT
    if Verdict.INFORMATIONAL in kinds:
        return Verdict.INFORMATIONAL
    return Verdict.PASS
