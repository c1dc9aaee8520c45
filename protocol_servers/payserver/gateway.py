"""The PayServer's MOCK gateway: authorises, reverses, captures, refunds, with a ledger.

In ``providerMode MOCK`` the Payworks SDK has no gateway (payworks-p3.md §11, S11); the
outcome is driven by the amount digits. This gateway is that mock made explicit, with a
ledger so that every run can be checked for balance: each authorisation is either
captured, still open (pre-authorised), or reversed, and refunds never exceed captures.
Approval codes come from the world's seeded stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LedgerEntry:
    kind: str  # AUTH | REVERSAL | CAPTURE | REFUND | TIP_ADJUST
    identifier: str
    amount: int
    currency: str
    reference: str | None = None
    reason: str | None = None


@dataclass
class Ledger:
    entries: list[LedgerEntry] = field(default_factory=list)

    def add(self, entry: LedgerEntry) -> None:
        self.entries.append(entry)

    def by_kind(self, kind: str) -> list[LedgerEntry]:
        return [e for e in self.entries if e.kind == kind]

    def problems(self) -> list[str]:
        """Why the ledger does not balance; empty when it does."""
        out: list[str] = []
        auths: dict[str, LedgerEntry] = {}
        for e in self.entries:
            if e.kind == "AUTH":
                if e.identifier in auths:
                    out.append(f"{e.identifier}: authorised twice")
                auths[e.identifier] = e
        reversed_ = [e.identifier for e in self.by_kind("REVERSAL")]
        for ident in reversed_:
            if ident not in auths:
                out.append(f"{ident}: reversal without authorisation")
            if reversed_.count(ident) > 1:
                out.append(f"{ident}: reversed twice")
        captured: dict[str, int] = {}
        for e in self.by_kind("CAPTURE"):
            if e.identifier in reversed_:
                out.append(f"{e.identifier}: captured and reversed")
            auth = auths.get(e.identifier)
            if auth is None:
                out.append(f"{e.identifier}: capture without authorisation")
                continue
            captured[e.identifier] = captured.get(e.identifier, 0) + e.amount
        for e in self.by_kind("TIP_ADJUST"):
            captured[e.identifier] = captured.get(e.identifier, 0) + e.amount
        refunded: dict[str, int] = {}
        for e in self.by_kind("REFUND"):
            if e.reference is None:
                continue
            refunded[e.reference] = refunded.get(e.reference, 0) + e.amount
        for ref, amount in refunded.items():
            if amount > captured.get(ref, 0):
                out.append(f"{ref}: refunded {amount} of {captured.get(ref, 0)} captured")
        return sorted(set(out))

    @property
    def balanced(self) -> bool:
        return not self.problems()


@dataclass(frozen=True)
class AuthResult:
    approved: bool
    code: str
    authorization_code: str | None


class MockGateway:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ledger = Ledger()

    def authorise(self, identifier: str, amount: int, currency: str, approve: bool,
                  capture: bool) -> AuthResult:
        if not approve:
            return AuthResult(False, "DECLINED_PROCESSOR", None)
        code = f"{self.rng.randrange(1_000_000):06d}"
        self.ledger.add(LedgerEntry("AUTH", identifier, amount, currency))
        if capture:
            self.ledger.add(LedgerEntry("CAPTURE", identifier, amount, currency))
        return AuthResult(True, "APPROVED", code)

    def reverse(self, identifier: str, amount: int, currency: str, reason: str) -> None:
        self.ledger.add(LedgerEntry("REVERSAL", identifier, amount, currency, reason=reason))

    def capture(self, identifier: str, amount: int, currency: str) -> None:
        self.ledger.add(LedgerEntry("CAPTURE", identifier, amount, currency))

    def tip_adjust(self, identifier: str, tip: int, currency: str) -> None:
        self.ledger.add(LedgerEntry("TIP_ADJUST", identifier, tip, currency))

    def refund(self, identifier: str, amount: int, currency: str, reference: str | None) -> None:
        self.ledger.add(LedgerEntry("REFUND", identifier, amount, currency, reference=reference))
