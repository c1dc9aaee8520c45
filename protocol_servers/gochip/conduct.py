"""How a POS under test behaved on one connection: the client-under-test grades.

When a vendor's POS drives the reference agent (``python -m conformance --serve gochip``,
``cardloop serve gochip``), the agent notes what the POS did and grades it per note
section; ``GET /state`` of the control API shows the grades while the run goes on:

* ``gochip/B.4/sequence`` - init before configuration, configuration before the device,
  the device before a sale, one sale at a time (no out-of-order refusal);
* ``gochip/B.4/prompts`` - every application, signature and amount prompt answered,
  in time and with an answer that fits;
* ``gochip/B.6/comm-error`` - after ``RES_ON_TRANSACTION_COMM_ERROR`` the POS looks the
  sale up (``REQ_GET_TRANSACTIONS``) before it sells again, as §B.6 says a reversal
  may be needed;
* ``gochip/B.5/late-cancel`` - after a cancel answered ``NOT_ALLOWED`` the POS waits
  for the sale's final frame instead of starting another sale.

A grade is ``pass``, ``fail`` (with the reasons) or ``not seen`` (nothing in the run
exercised it). :func:`observations` sums every connection's grades up under the suite's
case ids (``RULES``) for ``--serve`` (:mod:`protocol_servers.grading`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from protocol_servers.grading import Grade as Rule
from protocol_servers.grading import Observation

SEQUENCE_CODES = frozenset({"WS_NOT_INITIALISED", "SDK_NOT_INITIALISED",
                            "DEVICE_NOT_CONNECTED", "TRANSACTION_IN_PROGRESS"})
PROMPT_REQUESTS = frozenset({"REQ_SUBMIT_APPLICATION", "REQ_SUBMIT_SIGNATURE",
                             "REQ_SUBMIT_AMOUNT"})
MAX_REASONS = 20


@dataclass
class Grade:
    seen: bool = False
    reasons: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.seen = True
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(why)

    def verdict(self) -> dict[str, Any]:
        if self.reasons:
            return {"verdict": "fail", "reasons": list(self.reasons)}
        return {"verdict": "pass" if self.seen else "not seen"}


@dataclass
class Conduct:
    """Fed by the session as things happen; :meth:`grades` sums them up."""

    sequence: Grade = field(default_factory=Grade)
    prompts: Grade = field(default_factory=Grade)
    comm_error: Grade = field(default_factory=Grade)
    late_cancel: Grade = field(default_factory=Grade)
    _comm_pending: str | None = None  # uniqueRef of a comm error not looked up yet
    _refused_cancel: str | None = None  # uniqueRef of a sale whose cancel was NOT_ALLOWED

    def request(self, kind: str) -> None:
        if kind in ("REQ_PROCESS_SALE", "REQ_INIT_DEVICE") or kind.startswith("REQ_PROCESS"):
            self.sequence.seen = True
        if kind == "REQ_GET_TRANSACTIONS" and self._comm_pending is not None:
            self._comm_pending = None
        elif kind == "REQ_PROCESS_SALE" and self._comm_pending is not None:
            self.comm_error.fail(f"sold again after the comm error of {self._comm_pending} "
                                 "without REQ_GET_TRANSACTIONS")
            self._comm_pending = None

    def refused(self, kind: str, code: str) -> None:
        if code in SEQUENCE_CODES:
            self.sequence.fail(f"{kind} refused: {code}")
            if (code == "TRANSACTION_IN_PROGRESS" and kind == "REQ_PROCESS_SALE"
                    and self._refused_cancel is not None):
                self.late_cancel.fail(f"a new sale while {self._refused_cancel} was still "
                                      "running after NOT_ALLOWED")
        if kind in PROMPT_REQUESTS:
            self.prompts.fail(f"{kind} refused: {code}")

    def prompt_asked(self) -> None:
        self.prompts.seen = True

    def prompt_unanswered(self, kind: str) -> None:
        self.prompts.fail(f"{kind.lower()} prompt left unanswered")

    def comm_error_sent(self, unique_ref: str) -> None:
        self.comm_error.seen = True
        self._comm_pending = unique_ref

    def cancel_answered(self, status: str, unique_ref: str | None) -> None:
        if status == "NOT_ALLOWED":
            self.late_cancel.seen = True
            self._refused_cancel = unique_ref

    def transaction_ended(self) -> None:
        self._refused_cancel = None

    def grades(self) -> dict[str, dict[str, Any]]:
        return {
            "gochip/B.4/sequence": self.sequence.verdict(),
            "gochip/B.4/prompts": self.prompts.verdict(),
            "gochip/B.6/comm-error": self.comm_error.verdict(),
            "gochip/B.5/late-cancel": self.late_cancel.verdict(),
        }


# attribute of Conduct -> (case id, what it checks, what a failure means in the field)
RULES: dict[str, tuple[str, str, str]] = {
    "sequence": ("gochip/B.4/101", "the POS sets up in order (init, configuration, device) "
                 "before a sale, and runs one sale at a time",
                 "the agent refuses the request; the POS's sale never starts"),
    "prompts": ("gochip/B.4/102", "every application, signature and amount prompt is "
                "answered in time with an answer that fits",
                "the reader waits, then the sale ends declined at the counter"),
    "late_cancel": ("gochip/B.5/101", "after a cancel answered NOT_ALLOWED the POS waits "
                    "for the sale's final frame before it sells again",
                    "the POS believes a sale cancelled that the gateway approved"),
    "comm_error": ("gochip/B.6/101", "after RES_ON_TRANSACTION_COMM_ERROR the POS looks the "
                   "sale up (REQ_GET_TRANSACTIONS) before it sells again",
                   "a sale the gateway may have approved is charged twice or never "
                   "reversed"),
}


class PastConduct:
    """What ended connections showed, in two fixed-size records instead of one per
    connection: the grades they broke (with the first reasons) and the ones they kept.
    :func:`observations` reads the two as it would read every ended connection."""

    def __init__(self) -> None:
        self.broke = Conduct()
        self.kept = Conduct()

    def absorb(self, conduct: Conduct) -> None:
        for name in RULES:
            grade: Grade = getattr(conduct, name)
            if grade.reasons:
                for why in grade.reasons:
                    getattr(self.broke, name).fail(why)
            elif grade.seen:
                getattr(self.kept, name).seen = True

    def conducts(self) -> tuple[Conduct, Conduct]:
        return self.broke, self.kept


def observations(conducts: Iterable[Conduct]) -> list[Observation]:
    """Every connection's grades as one observation per rule (a rule fails when any
    connection broke it, passes when any kept it)."""
    rules = {name: Rule(*spec) for name, spec in RULES.items()}
    for conduct in conducts:
        for name, rule in rules.items():
            grade: Grade = getattr(conduct, name)
            for why in grade.reasons:
                rule.fail(why)
            if grade.seen and not grade.reasons:
                rule.saw()
    return [rule.observation() for rule in rules.values()]
