"""Magnetic stripe reading: the service code rule and the online-only path.

A swiped card with service code 2xx or 6xx carries a chip (ISO/IEC 7813), so a
reader asks for it to be inserted instead, unless the chip already failed on this
transaction (fallback). Swipes always go online (no offline data to trust); the
third service code digit says whether the issuer wants a PIN (0, 3, 5: PIN required;
6, 7: PIN if a PIN pad is present, which it is on a pinpad).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from simulator.masking import mask_pan
from virtual_devices.emv.kernel.contact import Txn
from virtual_devices.emv.kernel.messages import (
    CANCEL,
    AuthRequest,
    EnterPin,
    GoOnline,
    Outcome,
    Request,
    Status,
)
from virtual_devices.emv.terminal import AidParams, TerminalConfig


@dataclass(frozen=True)
class Track2:
    pan: str
    expiry: str  # YYMM
    service_code: str
    discretionary: str

    @classmethod
    def parse(cls, text: str) -> Track2:
        """``PAN=YYMMSSS...`` (ASCII) or ``PAN D YYMM...`` (the BCD form's hex)."""
        body = text.strip().strip(";?").upper().replace("D", "=")
        pan, sep, rest = body.partition("=")
        if not sep or not pan.isdigit() or not 12 <= len(pan) <= 19 or len(rest) < 7:
            raise ValueError("track 2 unreadable")
        rest = rest.rstrip("F")
        if not rest[:7].isdigit():
            raise ValueError("track 2 unreadable")
        return cls(pan, rest[:4], rest[4:7], rest[7:])

    @property
    def chip(self) -> bool:
        return self.service_code[0] in "26"

    @property
    def pin_required(self) -> bool:
        return self.service_code[2] in "03567"


def swipe(
    config: TerminalConfig,
    txn: Txn,
    track2_text: str | None,
    fallback: bool = False,
) -> Generator[Request, Any, Outcome]:
    """The swipe path; ``track2_text`` None or garbled means a bad swipe."""
    if track2_text is None:
        return Outcome(Status.CARD_ERROR, "bad swipe: read the card again", "magstripe")
    try:
        track = Track2.parse(track2_text)
    except ValueError as exc:
        return Outcome(Status.CARD_ERROR, f"bad swipe: {exc}", "magstripe")
    masked = mask_pan(track.pan)
    if track.chip and not fallback:
        return Outcome(Status.INSERT_CARD, "chip card: insert it", "magstripe", pan_masked=masked)
    rec = _record_for(config, track.pan)
    if rec is None:
        return Outcome(Status.NOT_ACCEPTED, "card brand not accepted", "magstripe",
                       pan_masked=masked)
    pin: str | None = None
    cvm = "signature"
    if track.pin_required:
        answer = yield EnterPin("online", txn.amount)
        if answer == CANCEL:
            return Outcome(Status.CANCELLED, "cancelled at the PIN prompt", "magstripe",
                           pan_masked=masked)
        if answer is not None:
            pin = str(answer)
            cvm = "online-pin"
    request = AuthRequest(
        interface="magstripe",
        amount=txn.amount,
        currency=rec.currency,
        pan=track.pan,
        psn="00",
        aid=rec.aid,
        emv={},
        track2=f"{track.pan}={track.expiry}{track.service_code}{track.discretionary}",
        pin=pin,
        fallback=fallback,
    )
    response = yield GoOnline(request)
    if response is None:
        return Outcome(Status.DECLINED, "host unreachable", "magstripe", pan_masked=masked,
                       cvm=cvm, arc="Z3")
    status = Status.APPROVED if response.approved else Status.DECLINED
    reason = "" if response.approved else f"declined by issuer (response code {response.arc})"
    return Outcome(status, reason, "magstripe", aid=rec.aid, label=rec.label,
                   pan_masked=masked, cvm=cvm, arc=response.arc,
                   auth_code=response.auth_code, online=True, reference=response.reference)


# IIN ranges that say which AID record (brand) a swiped card belongs to.
_BRAND_PREFIXES: tuple[tuple[str, bytes], ...] = (
    ("4", bytes.fromhex("A000000003")),
    ("5", bytes.fromhex("A000000004")),
    ("2", bytes.fromhex("A000000004")),
    ("34", bytes.fromhex("A000000025")),
    ("37", bytes.fromhex("A000000025")),
    ("6", bytes.fromhex("A000000494")),
    ("50", bytes.fromhex("A000000494")),
)


def _record_for(config: TerminalConfig, pan: str) -> AidParams | None:
    for prefix, rid in sorted(_BRAND_PREFIXES, key=lambda p: -len(p[0])):
        if pan.startswith(prefix):
            for rec in config.aids:
                if rec.aid.startswith(rid):
                    return rec
    return None
