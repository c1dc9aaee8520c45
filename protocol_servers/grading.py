"""Grades a served reference server gives the POS under test (the client-under-test role).

When a vendor's POS drives one of our servers (``python -m conformance --serve NAME``),
the server is the only one who sees what the POS sent, so the server grades it. Each
server keeps one :class:`Grade` per rule it checks, names it with a case id of the
suite's form (``<protocol>/<section>/<n>``; numbers from 101 up so that they never meet
the server-role cases of the same section), and hands the lot to ``--serve`` through
:attr:`protocol_servers.contract.Started.observations`. ``--serve`` writes them into the
reports the suite writes (``serve.json``, ``summary.json``, ``junit.xml``, the matrix)
when the run ends.

The verdicts are the suite's words as plain strings (this layer does not import the
suite): ``pass``, ``fail`` (with what was seen), and ``not seen`` when nothing in the run
exercised the rule; the suite reports that last one as ``informational``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS = "pass"
FAIL = "fail"
NOT_SEEN = "not seen"
MAX_REASONS = 20  # a POS that repeats one mistake a thousand times is told twenty


@dataclass(frozen=True)
class Observation:
    """One graded rule: its case id, what it checks, the verdict and what was seen."""

    case: str
    title: str
    verdict: str
    seen: str
    failure: str = ""  # what a fail means for a POS in the field

    def to_json(self) -> dict[str, Any]:
        return {"id": self.case, "title": self.title, "verdict": self.verdict,
                "seen": self.seen, "failure_means": self.failure}


@dataclass
class Grade:
    """One rule, fed as things happen: :meth:`saw` when the rule was in play, :meth:`fail`
    when the POS broke it."""

    case: str
    title: str
    failure: str = ""
    times: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def seen(self) -> bool:
        return self.times > 0 or bool(self.reasons)

    def saw(self) -> None:
        self.times += 1

    def fail(self, why: str) -> None:
        self.times += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(why)

    def merge(self, other: Grade) -> None:
        """Add ``other``'s counts and reasons (one grade over several connections)."""
        self.times += other.times
        for why in other.reasons:
            if len(self.reasons) < MAX_REASONS:
                self.reasons.append(why)

    def observation(self) -> Observation:
        if self.reasons:
            return Observation(self.case, self.title, FAIL, "; ".join(self.reasons),
                               self.failure)
        if self.times:
            return Observation(self.case, self.title, PASS,
                               f"kept {self.times} time{'s' if self.times != 1 else ''}",
                               self.failure)
        return Observation(self.case, self.title, NOT_SEEN,
                           "nothing in the run exercised this rule", self.failure)


__all__ = ["FAIL", "NOT_SEEN", "PASS", "Grade", "Observation"]
