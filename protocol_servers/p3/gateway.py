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
        """Why the ledger does not balance; empty when it does.

        Read in booking order: an authorisation is booked once, reversed at most once
        (a reversal voids its captures too: the void of a charge before clearing),
        captured only while not reversed, and refunds never exceed what was captured.
        """
        out: list[str] = []
        authorised: set[str] = set()
        refunds: dict[str, LedgerEntry] = {}
        reversed_: set[str] = set()
        captured: dict[str, int] = {}
        refunded: dict[str, int] = {}
        for e in self.entries:
            ident = e.identifier
            if e.kind == "AUTH":
                if ident in authorised:
                    out.append(f"{ident}: authorised twice")
                authorised.add(ident)
            elif e.kind == "REVERSAL" and ident in refunds:
                # a refund taken back (the POS never heard of it)
                if ident in reversed_:
                    out.append(f"{ident}: reversed twice")
                reversed_.add(ident)
                ref = refunds[ident].reference
                if ref is not None:
                    refunded[ref] = refunded.get(ref, 0) - refunds[ident].amount
            elif e.kind == "REVERSAL":
                if ident not in authorised:
                    out.append(f"{ident}: reversal without authorisation")
                if ident in reversed_:
                    out.append(f"{ident}: reversed twice")
                if refunded.get(ident):
                    out.append(f"{ident}: reversed after a refund")
                reversed_.add(ident)
                captured[ident] = 0
            elif e.kind in ("CAPTURE", "TIP_ADJUST"):
                if ident not in authorised or ident in reversed_:
                    out.append(f"{ident}: {e.kind.lower()} without a live authorisation")
                captured[ident] = captured.get(ident, 0) + e.amount
            elif e.kind == "REFUND":
                refunds[ident] = e
                if e.reference is None:
                    continue
                ref = e.reference
                refunded[ref] = refunded.get(ref, 0) + e.amount
                if refunded[ref] > captured.get(ref, 0):
                    out.append(f"{ref}: refunded {refunded[ref]} of {captured.get(ref, 0)}")
        return sorted(set(out))

    def bookings(self) -> list[tuple[str, int]]:
        """Money moved, as (transaction id, signed minor units), for
        ``conformance.invariants.ledger_balanced``: captures and tips count for the
        charge, a reversal takes back what its charge had captured, a refund is
        negative under the refund's own identifier."""
        out: list[tuple[str, int]] = []
        captured: dict[str, int] = {}
        refunds = {e.identifier: e.amount for e in self.entries if e.kind == "REFUND"}
        for e in self.entries:
            if e.kind in ("CAPTURE", "TIP_ADJUST"):
                captured[e.identifier] = captured.get(e.identifier, 0) + e.amount
                out.append((e.identifier, e.amount))
            elif e.kind == "REVERSAL" and e.identifier in refunds:
                out.append((e.identifier, refunds[e.identifier]))
            elif e.kind == "REVERSAL" and captured.get(e.identifier):
                out.append((e.identifier, -captured.pop(e.identifier)))
            elif e.kind == "REFUND":
                out.append((e.identifier, -e.amount))
        return out

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
