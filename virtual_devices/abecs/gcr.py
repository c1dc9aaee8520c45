"""GCR, GOC and FNC on the pinpad (mpos-bridge.md §4.7–§4.9, §4.11).

GCR waits for the customer to swipe or insert. A swipe is answered from the tracks.
An insert hands the card to a *chip session* (:mod:`virtual_devices.abecs.icc`), which
drives the EMV kernel: GCR selects and reads the application, GOC runs ODA, CVM, risk
management, action analysis and the first GENERATE AC, FNC the second GENERATE AC and
issuer scripts. The session lives on the pinpad between the three commands.
"""

from __future__ import annotations

import calendar
from collections.abc import Generator
from typing import Any

import simpy

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.cards import stripe_of
from virtual_devices.abecs.customer import CANCEL_KEY
from virtual_devices.abecs.device import CardDevice, ChipRead, ChipSession
from virtual_devices.abecs.fields import Command, Response
from virtual_devices.abecs.keys import encrypt_pan_in
from virtual_devices.abecs.tables import AidRecord

Gen = Generator[Any, Any, Any]


# the kernel's selection takes up to 128 candidate AID records per technology (§6.1.2);
# more is ST_ERRMAXAID (§6.8.1.2)
MAX_CANDIDATES = 128


def candidates(pinpad: CardDevice, req: m.GcrRequest) -> list[AidRecord]:
    """AID records the card may use: ICC standard 03, acquirer and type filters (§4.7)."""
    out: list[AidRecord] = []
    for rec in pinpad.tables.aids():
        if rec.icc_std != 3:
            continue
        if req.acq_idx not in (0, rec.acquirer):
            continue
        if req.app_type == 0:
            if (rec.acquirer, rec.record_index) not in set(req.apps):
                continue
        elif req.app_type != 99 and rec.app_type != req.app_type:
            continue
        out.append(rec)
    return out  # more than MAX_CANDIDATES is the caller's ST_ERRMAXAID, not a cut list


def ctls_candidate(rec: AidRecord, amount: int) -> bool:
    """A record that lets the antenna on for ``amount`` (§6.9.1 note (*), §6.9.1.3):
    contactless mode set, a zero amount only with T1_CTLSZEROAM 1, and T1_CTLSTRNLIM or
    T1_CTLSMBTLIM at least the amount. (At the limit itself the kernel still refuses
    the tap with 087: 2.10's "equal or above".)"""
    if not rec.ctls_enabled or (amount == 0 and rec.ctls_zero_amount != "1"):
        return False
    mobile = rec.ctls_txn_limit if rec.ctls_mobile_limit is None else rec.ctls_mobile_limit
    return max(rec.ctls_txn_limit, mobile) >= amount


def _expiry_yymmdd(yymm: str) -> str:
    """Tracks carry YYMM; GCR wants YYMMDD: the card is valid to the month's last day."""
    if len(yymm) != 4 or not yymm.isdigit() or not 1 <= int(yymm[2:]) <= 12:
        return "000000"
    last = calendar.monthrange(2000 + int(yymm[:2]), int(yymm[2:]))[1]
    return f"{yymm}{last:02d}"


def _holder_from_track1(track1: str) -> str:
    parts = track1.split("^")
    return parts[1].strip() if len(parts) >= 3 else ""


def _magstripe_response(pinpad: CardDevice, req: m.GcrRequest, card: Any) -> Response:
    track1, track2 = stripe_of(card)
    if "=" not in track2:
        return Response("GCR", m.ST_MCDATAERR)
    pan, rest = track2.split("=", 1)
    if not pan.isdigit() or len(rest) < 7:
        return Response("GCR", m.ST_MCDATAERR)
    pool = candidates(pinpad, req)
    app_type = req.app_type if 1 <= req.app_type <= 98 else (pool[0].app_type if pool else 1)
    rec = next((r for r in pool if r.app_type == app_type), pool[0] if pool else None)
    stat = pinpad.slot.swiped(card)
    return m.GcrResponse(
        card_type=m.CARD_MAGSTRIPE, stat_chip=stat, app_type=app_type,
        acq_idx=rec.acquirer if rec else req.acq_idx, rec_idx=rec.record_index if rec else "00",
        track1=_protect(pinpad, track1), track2=_protect(pinpad, track2),
        track3=_protect(pinpad, str(getattr(card, "track3", "") or "")[:104]),
        pan=_protect(pinpad, pan), pan_seq=0, app_label="",
        service_code=rest[4:7], holder_name=_holder_from_track1(track1),
        expiry=_expiry_yymmdd(rest[:4]), issuer_country="000",
    ).to_response()


def get_card(pinpad: CardDevice, cmd: Command) -> Gen:
    return (yield from read_card(pinpad, m.GcrRequest.from_command(cmd) if cmd.blocks else None))


def read_card(pinpad: CardDevice, new_req: m.GcrRequest | None, prompt: str | None = None) -> Gen:
    """The card session's first phase, shared by GCR and GCX: wait for a card, read it.

    Answers as GCR (GCX converts); ``prompt`` replaces the default card prompt.
    """
    slot = pinpad.slot
    got_req = slot.begin_read(new_req)
    if got_req is None:
        return Response("GCR", m.ST_INVCALL)  # bare GCR with nothing to resume
    req = got_req
    pool = candidates(pinpad, req)
    card = slot.card
    how = "insert"
    if card is None:
        # the antenna goes on when the host allows it (GCR_CTLSON, default on) and a
        # candidate AID is enabled for contactless (T1_CTLSMODE, §4.1.1)
        ctls_on = (pinpad.info.ctls and req.ctls is not False
                   and any(ctls_candidate(r, req.amount) for r in pool))
        pinpad.display.show(prompt or ("APROXIME, INSIRA OU PASSE CARTAO" if ctls_on
                                       else "INSIRA OU PASSE O CARTAO"))
        slot.antenna_on = ctls_on
        acting = pinpad.act(pinpad.customer.present_card(pinpad))
        waits: list[simpy.Event] = [acting]
        if ctls_on:
            waits.append(pinpad.world.timeout(pinpad.t["ctls_wait"]))
        try:
            yield pinpad.world.any_of(waits)
        except simpy.Interrupt:
            if acting.is_alive:
                acting.interrupt("aborted")
            raise
        finally:
            slot.antenna_on = False
        if not acting.triggered:
            acting.interrupt("timeout")
            pinpad.display.clear()
            return Response("GCR", m.ST_TIMEOUT)
        got: Any = acting.value
        if got == CANCEL_KEY:
            pinpad.display.clear()
            return Response("GCR", m.ST_CANCEL)
        card, how = got
        if how == "tap":
            return (yield from _contactless(pinpad, req, card, pool))
        if how != "insert":
            yield pinpad.world.timeout(pinpad.t["magstripe_read"])
            pinpad.display.show("PROCESSANDO...")
            return _magstripe_response(pinpad, req, card)
        slot.insert(card)
        pinpad.display.show("PROCESSANDO...")
        yield pinpad.world.timeout(pinpad.t["card_power_up"])
    # the table version is checked once a chip card is in (§4.7)
    if req.table_version != pinpad.tables.version(req.acq_idx):
        return Response("GCR", m.ST_TABVERDIF)
    if not pool:
        pinpad.display.clear()
        return Response("GCR", m.ST_CARDAPPNAV)
    if len(pool) > MAX_CANDIDATES:
        pinpad.display.clear()
        return Response("GCR", m.ST_ERRMAXAID)
    factory = pinpad.chip_factory
    if factory is None:
        return Response("GCR", m.ST_ERRFALLBACK)
    session: ChipSession = factory(pinpad, card, pool, req)
    got = yield from session.read()
    if isinstance(got, int):
        if got == m.ST_ERRFALLBACK:
            # the customer pulls the card out and will swipe it at the next GCR
            pinpad.in_hand = slot.chip_failed()  # the same card, swiped next time
        pinpad.display.clear()
        return Response("GCR", got)
    read: ChipRead = got
    slot.chip_read(session)
    return _chip_response(pinpad, read)


def _protect(pinpad: CardDevice, text: str) -> str:
    """§5.3: with a WKPAN set (DWK), the PAN in GCR_PAN and the tracks goes encrypted."""
    wkpan = pinpad.key_store.wkpan
    return encrypt_pan_in(wkpan, text) if wkpan and text else text


def _chip_response(pinpad: CardDevice, read: ChipRead) -> Response:
    """GCR's answer for a chip read: contact (03), contactless mag-stripe (05) or
    contactless EMV (06), §6.8.1.2/3."""
    acq_data = b""
    if read.record.acquirer == 1:
        acq_data = (f"{len(read.aid):02d}{read.aid.hex().upper():<32}"
                    f"{read.app_label[:16]:<16}{read.app_label[:16]:<16}").encode("latin-1")
    elif read.record.acquirer == 2:
        acq_data = b"9F0702FF00"
    return m.GcrResponse(
        card_type=read.card_type, stat_chip=0, app_type=read.record.app_type,
        acq_idx=read.record.acquirer, rec_idx=read.record.record_index,
        track1=_protect(pinpad, read.track1),
        track2=_protect(pinpad, read.track2), track3="", pan=_protect(pinpad, read.pan),
        pan_seq=read.pan_seq,
        app_label=read.app_label, service_code=read.service_code,
        holder_name=read.holder_name, expiry=read.expiry, issuer_country=read.issuer_country,
        acq_data=acq_data,
    ).to_response()


def _contactless(pinpad: CardDevice, req: m.GcrRequest, card: Any,
                 pool: list[AidRecord]) -> Gen:
    """A tap (§6.8.1.3): the whole card read happens now, in one pass through the field."""
    from virtual_devices.abecs.ctls import ContactlessSession

    slot = pinpad.slot
    slot.tapped(card)
    pinpad.display.show("PROCESSANDO...")
    if req.table_version != pinpad.tables.version(req.acq_idx):
        return Response("GCR", m.ST_TABVERDIF)  # the card stays in the customer's hand
    usable = [r for r in pool if r.ctls_enabled]
    session = ContactlessSession(pinpad, card, usable, req)
    got = yield from session.read()
    if isinstance(got, int):
        slot.tap_refused(got)  # the customer keeps the card: tap again, insert, swipe
        pinpad.display.clear()
        return Response("GCR", got)
    slot.chip_read(session)
    return _chip_response(pinpad, got)


def go_on_chip(pinpad: CardDevice, cmd: Command) -> Gen:
    if not pinpad.slot.can_go_on_chip():
        return Response("GOC", m.ST_INVCALL)
    return (yield from go_on(pinpad, m.GocRequest.from_command(cmd)))


def go_on(pinpad: CardDevice, req: m.GocRequest) -> Gen:
    """The second phase, shared by GOC and GOX (answers as GOC)."""
    slot = pinpad.slot
    if not slot.can_go_on_chip():
        return Response("GOC", m.ST_INVCALL)
    if req.cashback > req.amount:
        # Amount, Other is part of Amount, Authorised (EMV Book 3 §5.4): it cannot exceed it
        return Response("GOC", m.ST_INVAMOUNT)
    if not pinpad.key_store.has_pin_key(req.method, req.key_idx):
        return Response("GOC", m.ST_ERRKEY)  # checked before any PIN prompt
    got = yield from slot.chip.go_on_chip(req)
    slot.went_on_chip(not isinstance(got, int))
    if isinstance(got, int):
        pinpad.display.clear()
        return Response("GOC", got)
    return got.to_response()


def finish_chip(pinpad: CardDevice, cmd: Command) -> Gen:
    if not pinpad.slot.can_finish():
        return Response("FNC", m.ST_INVCALL)
    return (yield from finish(pinpad, m.FncRequest.from_command(cmd)))


def finish(pinpad: CardDevice, req: m.FncRequest) -> Gen:
    """The last phase, shared by FNC and FCX (answers as FNC)."""
    slot = pinpad.slot
    if not slot.can_finish():
        return Response("FNC", m.ST_INVCALL)
    got = yield from slot.chip.finish(req)
    slot.finished(not isinstance(got, int))
    if isinstance(got, int):
        return Response("FNC", got)
    pinpad.display.show("APROVADA" if got.decision == 0 else "NEGADA")
    return got.to_response()
