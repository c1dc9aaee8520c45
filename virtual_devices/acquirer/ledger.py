"""The acquirer's ledger: every transaction once, so a test can prove nothing was lost.

Each request carries an idempotency key (a POS-chosen id, or for chip cards the
card's own ATC + cryptogram, which is unique per transaction by construction). A
repeated key returns the first answer and records nothing new, so retries after a
dropped connection never count a payment twice.

``balance()`` sums what the merchant is owed; ``check(pos_view)`` compares the
host's truth with what a POS believes and lists every disagreement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "authorisation", "sale", "preauth", "capture", "refund", "reversal", "tip_adjust",
)


@dataclass
class Entry:
    ref: str
    kind: str
    amount: int
    currency: int
    approved: bool
    response_code: str
    key: str
    pan_masked: str = ""
    parent: str | None = None
    reversed: bool = False
    captured: int = 0  # preauth: amount captured so far
    refunded: int = 0  # sale/capture: amount refunded so far
    # sale/capture/preauth: tips added after authorisation, already inside ``amount`` (a
    # tip adjust raises the amount in place so every sum and limit sees the new total)
    tipped: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.approved and not self.reversed


class LedgerError(ValueError):
    """A request the ledger cannot accept (unknown parent, amount too large...)."""


class Ledger:
    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._by_key: dict[str, Entry] = {}
        self._by_ref: dict[str, Entry] = {}
        self.duplicates_refused = 0
        # called with each new entry (the live console shows the host's answers)
        self.listeners: list[Callable[[Entry], None]] = []

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, ref: str) -> Entry | None:
        return self._by_ref.get(ref)

    def by_key(self, key: str) -> Entry | None:
        return self._by_key.get(key)

    def seen(self, key: str) -> Entry | None:
        """The earlier entry for ``key`` (counted as a refused duplicate), or None."""
        hit = self._by_key.get(key)
        if hit is not None:
            self.duplicates_refused += 1
        return hit

    def add(self, entry: Entry) -> Entry:
        if entry.kind not in KINDS:
            raise LedgerError(f"unknown transaction kind {entry.kind!r}")
        if not isinstance(entry.amount, int) or entry.amount < 0:
            raise LedgerError("amount must be a non-negative integer in minor units")
        if entry.key in self._by_key:
            raise LedgerError(f"idempotency key {entry.key!r} already used")
        self.entries.append(entry)
        self._by_key[entry.key] = entry
        self._by_ref[entry.ref] = entry
        for listener in self.listeners:
            listener(entry)
        return entry

    # -- invariants --------------------------------------------------------------------
    def balance(self) -> dict[str, int]:
        """What the merchant is owed, and what is still only authorised."""
        settled = sum(
            e.amount for e in self.entries if e.live and e.kind in ("sale", "capture")
        )
        # a standalone refund (no parent) is a credit to the card like any other refund
        refunds = sum(e.amount for e in self.entries if e.live and e.kind == "refund")
        held = sum(
            e.amount - e.captured
            for e in self.entries
            if e.live and e.kind in ("preauth", "authorisation")
        )
        return {"settled": settled, "refunded": refunds, "net": settled - refunds, "held": held}

    def problems(self) -> list[str]:
        """Internal consistency: each key once, refunds/captures within their parent."""
        out: list[str] = []
        keys = [e.key for e in self.entries]
        if len(keys) != len(set(keys)):
            out.append("an idempotency key was recorded twice")
        for e in self.entries:
            if e.kind in ("sale", "capture") and e.refunded > e.amount:
                out.append(f"{e.ref}: refunded {e.refunded} > amount {e.amount}")
            if e.kind == "preauth" and e.captured > e.amount:
                out.append(f"{e.ref}: captured {e.captured} > authorised {e.amount}")
            if e.tipped > e.amount:
                out.append(f"{e.ref}: tipped {e.tipped} > amount {e.amount}")
        tips: dict[str, int] = {}
        for e in self.entries:
            if e.kind == "tip_adjust" and e.approved and e.parent is not None:
                tips[e.parent] = tips.get(e.parent, 0) + e.amount
        for e in self.entries:
            if e.kind != "tip_adjust" and e.tipped != tips.get(e.ref, 0):
                out.append(f"{e.ref}: tipped {e.tipped} != approved tip adjusts "
                           f"{tips.get(e.ref, 0)}")
        return out

    def check(self, pos_view: Iterable[Mapping[str, Any]]) -> list[str]:
        """Compare with what the POS believes: ``{"key"|"ref", "amount", "approved"}``.

        Returns every disagreement: a payment the POS thinks approved that the host
        does not hold (lost), one the host holds that the POS does not know or thinks
        failed (unreconciled, needs a reversal), amounts that differ, and keys the POS
        reports twice (duplicated).
        """
        out = self.problems()
        seen: set[str] = set()
        for item in pos_view:
            key = str(item.get("key") or item.get("ref") or "")
            entry = self._by_key.get(key) or self._by_ref.get(key)
            if key in seen:
                out.append(f"{key}: reported twice by the POS (duplicated)")
                continue
            seen.add(key)
            pos_ok = bool(item.get("approved"))
            if entry is None:
                if pos_ok:
                    out.append(f"{key}: POS says approved, host has no record (lost)")
                continue
            seen.add(entry.key)
            seen.add(entry.ref)
            if pos_ok != entry.live:
                out.append(
                    f"{key}: POS says {'approved' if pos_ok else 'not approved'}, "
                    f"host says {'approved' if entry.live else 'not approved'}"
                )
            if "amount" in item and int(item["amount"]) != entry.amount:
                out.append(f"{key}: POS amount {item['amount']} != host amount {entry.amount}")
        for e in self.entries:
            if e.live and e.kind in ("sale", "capture", "preauth", "authorisation", "refund"):
                if e.key not in seen and e.ref not in seen:
                    out.append(f"{e.ref}: approved at the host, unknown to the POS")
        return out
