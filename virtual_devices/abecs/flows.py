"""Whole payments as a host drives them over ABECS (mpos-bridge.md §4.11).

``sale(host, acquirer, ...)`` is GTS (reload tables when stale) → GCR (020 → reload,
bare GCR) → for a chip: GOC → acquirer → FNC → RMC; for a stripe: GPN when a PIN is
wanted → acquirer. The acquirer is anything with ``authorise(AuthRequest)`` (the
virtual acquirer host). The result says what the card, the host and the pinpad
decided; an online PIN block (GPN, or GOC's when the card asked for an online PIN) goes
to the acquirer with its KSN, which verifies it as the issuer would.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.host import AbecsError, AbecsHost

Gen = Generator[Any, Any, Any]

# Pagar.me's authorisation tags (mpos-bridge.md §3.5) plus what an issuer needs to
# check the ARQC (CDOL1 inputs) and to know the application (84).
GOC_TAGS: tuple[int, ...] = (
    0x5F2A, 0x82, 0x95, 0x9A, 0x9C, 0x9F02, 0x9F10, 0x9F1A, 0x9F1E, 0x9F26, 0x9F33, 0x9F36,
    0x9F37, 0x9F27, 0x9F34, 0x9F03, 0x9F35, 0x84, 0x4F, 0x9F09, 0x5F34, 0x9F45, 0x9F4C,
    0x9F21, 0x9F6E, 0x9F7C,
)
FNC_TAGS: tuple[int, ...] = (0x9F27, 0x95, 0x9B, 0x9F26, 0x9F36, 0x8A)


@dataclass
class SaleResult:
    card_type: int = -1
    pan: str = ""
    goc: m.GocResponse | None = None
    fnc: m.FncResponse | None = None
    pin: m.PinResponse | None = None
    arc: str = ""
    host_answered: bool = False
    approved: bool = False
    error: int | None = None  # ABECS status that ended the sale
    reversed: bool = False  # an approval was undone because the card could not finish
    steps: list[str] = field(default_factory=list)


def _stamp(when: datetime) -> tuple[str, str]:
    return when.strftime("%y%m%d"), when.strftime("%H%M%S")


def _floor_limit(records: Sequence[bytes], acq: int, rec_idx: str) -> int:
    """The floor limit of the AID record GCR chose (the host passes it back in GOC)."""
    from virtual_devices.abecs.tables import AidRecord, decode_record

    for raw in records:
        try:
            rec = decode_record(raw)
        except ValueError:
            continue
        if isinstance(rec, AidRecord) and (rec.acquirer, rec.record_index) == (acq, rec_idx):
            return rec.floor_limit
    return 0


def ensure_tables(host: AbecsHost, version: str, records: Sequence[bytes]) -> Gen:
    """GTS, and TLI/TLR/TLE when the pinpad's version differs."""
    held = yield from host.gts(0)
    if held != version:
        yield from host.load_tables(0, version, records)
        return True
    return False


def sale(
    host: AbecsHost,
    acquirer: Any,
    amount: int,
    version: str,
    records: Sequence[bytes],
    when: datetime = datetime(2026, 11, 25, 12, 0, 0),
    app_type: int = 99,
    magstripe_pin: bool = True,
    check_tables: bool = True,
    floor_limit: int | None = None,
) -> Gen:
    from virtual_devices.emv import tlv
    from virtual_devices.emv.kernel.messages import AuthRequest

    res = SaleResult()
    approval: Any = None  # the acquirer's approval while the card still has to finish
    date, time = _stamp(when)
    try:
        if check_tables:
            yield from ensure_tables(host, version, records)
        req = m.GcrRequest(amount, date, time, version, app_type=app_type)
        try:
            card = yield from host.gcr(req)
        except AbecsError as exc:
            if exc.code == m.ST_TABVERDIF:
                res.steps.append("GCR 020: reload tables, bare GCR")
                yield from host.load_tables(0, version, records)
                card = yield from host.gcr(None)
            elif exc.code == m.ST_ERRFALLBACK:
                res.steps.append("GCR 076: chip failed, GCR again for the stripe")
                card = yield from host.gcr(req)
            else:
                raise
        res.card_type, res.pan = card.card_type, card.pan
        res.steps.append(f"GCR card type {card.card_type:02d}")
        if card.card_type in (m.CARD_MAGSTRIPE, m.CARD_CTLS_MAG):
            if magstripe_pin:
                res.pin = yield from host.gpn(m.GpnRequest(card.pan))
                res.steps.append("GPN")
            pin = res.pin
            auth = AuthRequest("magstripe", amount, 986, card.pan, "00", b"", {},
                               track2=card.track2, fallback=card.stat_chip == 1,
                               pin_block=pin.pin_block if pin else None,
                               ksn=pin.ksn if pin else None)
            rsp = acquirer.authorise(auth)
            res.host_answered = rsp is not None
            res.arc = rsp.arc if rsp is not None else ""
            res.approved = rsp is not None and rsp.approved
            return res
        floor = (_floor_limit(records, card.acq_idx, card.rec_idx) if floor_limit is None
                 else floor_limit)
        res.goc = yield from host.goc(m.GocRequest(amount, GOC_TAGS, floor_limit=floor))
        res.steps.append(f"GOC decision {res.goc.decision}")
        if res.goc.decision == m.DECISION_ONLINE:
            emv = tlv.flatten(res.goc.emv_data)
            aid = emv.get(0x84) or emv.get(0x4F, b"")
            goc = res.goc
            auth = AuthRequest("contact", amount, 986, card.pan, f"{card.pan_seq:02d}", aid, emv,
                               pin_block=goc.pin_block if goc.online_pin else None,
                               ksn=goc.ksn if goc.online_pin else None)
            rsp = acquirer.authorise(auth)
            res.host_answered = rsp is not None
            if rsp is None:
                fnc = m.FncRequest(1, "00", b"", FNC_TAGS)
            else:
                res.arc = rsp.arc
                iss = tlv.encode(0x91, rsp.issuer_auth_data) if rsp.issuer_auth_data else b""
                iss += b"".join(rsp.scripts_71) + b"".join(rsp.scripts_72)
                commst = 0 if rsp.approved or rsp.arc == "00" else 9
                fnc = m.FncRequest(commst, rsp.arc, iss, FNC_TAGS)
                approval = rsp if rsp.approved else None
            res.fnc = yield from host.fnc(fnc)
            approval = None
            res.steps.append(f"FNC decision {res.fnc.decision}")
            res.approved = res.fnc.decision == 0
        else:
            res.approved = res.goc.decision == m.DECISION_APPROVED
        yield from host.rmc("OBRIGADO" if res.approved else "NEGADA")
        res.steps.append("RMC")
    except AbecsError as exc:
        res.error = exc.code
        res.steps.append(f"error {exc.code:03d} on {exc.command}")
        if approval is not None and approval.reference and hasattr(acquirer, "reverse"):
            # The issuer approved but FNC failed (card mute or pulled out before the
            # second GENERATE AC): the sale did not complete, so the host reverses it
            # (EMV Book 4 §12.2.2, as the reader does in virtual_devices.emv.kernel).
            acquirer.reverse(approval.reference)
            res.reversed = True
            res.steps.append(f"reversal of {approval.reference}")
    return res
