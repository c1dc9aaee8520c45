"""The parameter-tagged card commands GCX, GED, GOX and FCX (§3.7, §6.9).

They run the same card session as GCR/GOC/FNC (:mod:`virtual_devices.abecs.gcr`): GCX
builds a GCR request and converts the answer, GOX a GOC request, FCX an FNC one.
"""

from __future__ import annotations

import struct
from typing import Any

import simpy

from virtual_devices.abecs import gcr
from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.extended.base import (
    Gen,
    emv_data,
    guard,
    handles,
    panmask,
    params,
    tag_list,
    tagged,
)
from virtual_devices.abecs.extended.state import state
from virtual_devices.abecs.extended.tracks import incomplete_tracks
from virtual_devices.abecs.fields import CodecError, Command, Response


def _amount_text(cents: int) -> str:
    return f"R$ {cents // 100},{cents % 100:02d}"


def _gcx_request(pinpad: Any, p: t.Params) -> tuple[m.GcrRequest, bool]:
    date = p.digits(t.SPE_TRNDATE, 6)
    time = p.digits(t.SPE_TRNTIME, 6)
    if date is None or time is None:
        raise CodecError("GCX needs SPE_TRNDATE and SPE_TRNTIME", 19)
    amount = int(p.digits(t.SPE_AMOUNT, 12) or 0)
    opt = p.digits(t.SPE_GCXOPT, 5) or "00000"
    acq = int(p.digits(t.SPE_ACQREF, 2) or 0)
    app_type = 99
    apps: tuple[tuple[int, str], ...] = ()
    aidlist = p.get(t.SPE_AIDLIST)
    if aidlist is not None:
        text = aidlist.decode("latin-1")
        if len(text) % 4 or not text:
            raise CodecError("SPE_AIDLIST is not a list of 4-character entries", 11)
        apps = tuple((int(text[i : i + 2]), text[i + 2 : i + 4]) for i in range(0, len(text), 4))
        app_type, acq = 0, 0  # the list wins over SPE_ACQREF and SPE_APPTYPE (§3.7.1)
    elif (types := p.digits(t.SPE_APPTYPE)) is not None:
        if len(types) % 2:
            raise CodecError("SPE_APPTYPE is not two-digit ids", 11)
        wanted = {int(types[i : i + 2]) for i in range(0, len(types), 2)}
        if len(wanted) == 1:
            app_type = wanted.pop()
        else:
            apps = tuple((r.acquirer, r.record_index) for r in pinpad.tables.aids()
                         if r.app_type in wanted and acq in (0, r.acquirer))
            app_type, acq = 0, 0
    # GCX does no table version control (§3.7.1): the request carries the loaded one
    currency = p.digits(t.SPE_TRNCURR, 3)
    req = m.GcrRequest(amount, date, time, pinpad.tables.version(acq), acq, app_type, apps,
                       ctls=opt[0] == "1", currency=int(currency) if currency else None)
    return req, opt[1] == "1"


def _apply_emv_params(session: Any, p: t.Params, cashback_given: bool,
                      currency: str | None = None) -> None:
    """SPE_EMVDATA, SPE_TRNTYPE and a transaction currency as transaction data for the
    card session (the kernel takes amount, other amount, type and currency; other
    terminal objects are its constants). The named parameters come after SPE_EMVDATA,
    so they win over the same tag inside it."""
    data = p.get(t.SPE_EMVDATA) or b""
    trntype = p.get(t.SPE_TRNTYPE)
    if trntype is None and cashback_given:
        trntype = b"\x09"
    if trntype is not None:
        data += b"\x9c\x01" + trntype[:1]
    if currency is not None:
        data += b"\x5f\x2a\x02" + bytes.fromhex(currency.rjust(4, "0"))
    if data and session is not None:
        session.change_parameters(data)


@handles("GCX")
def gcx(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    req, hide_amount = _gcx_request(pinpad, p)
    mask = panmask(p)
    timeout = p.number(t.SPE_TIMEOUT) or None
    msg = p.get(t.SPE_DSPMSG)
    if msg is not None:
        lines = msg.decode("latin-1").replace("\r", "\n").split("\n")
        prompt = lines[0][:16].ljust(16) + (lines[1][:16] if len(lines) > 1 else "")
        if len(lines) == 1:
            prompt = lines[0]
    elif req.amount and not hide_amount:
        wait = "APROXIME/INSIRA" if req.ctls and pinpad.info.ctls else "INSIRA OU PASSE"
        prompt = _amount_text(req.amount)[:16].ljust(16) + wait
    else:
        prompt = None
    st = state(pinpad)
    st.tracks, st.pan, st.gcx_card_type = None, "", None
    reading = pinpad.world.process(guard(gcr.read_card(pinpad, req, prompt)))
    waits: list[simpy.Event] = [reading]
    if timeout:
        waits.append(pinpad.world.timeout(timeout))
    try:
        yield pinpad.world.any_of(waits)
    except simpy.Interrupt:
        if reading.is_alive:
            reading.interrupt("aborted")
        raise
    if not reading.triggered:
        reading.interrupt("timeout")
        pinpad.display.clear()
        return Response("GCX", m.ST_TIMEOUT)
    rsp: Response = reading.value
    if rsp is None or rsp.status:
        return Response("GCX", rsp.status if rsp is not None else m.ST_TIMEOUT)
    read = m.GcrResponse.from_response(rsp)
    session = pinpad.slot.chip
    _apply_emv_params(session, p, p.get(t.SPE_CASHBACK) is not None)
    st.tracks = (read.track1, read.track2, read.track3)
    st.gcx_card_type = read.card_type
    items: list[tuple[int, bytes]] = [(t.PP_CARDTYPE, f"{read.card_type:02d}".encode())]
    if read.card_type == m.CARD_MAGSTRIPE:
        items.append((t.PP_ICCSTAT, str(read.stat_chip).encode()))
        items += incomplete_tracks(read.track1, read.track2, mask, read.track3)
        return tagged("GCX", items)
    st.pan = read.pan
    info = f"{read.acq_idx:02d}{read.rec_idx:>2}{read.app_type:02d}"
    items += [(t.PP_AIDTABINFO, info.encode("latin-1")),
              (t.PP_LABEL, read.app_label.encode("latin-1"))]
    if read.card_type in (m.CARD_ICC, m.CARD_CTLS_EMV):
        items += [(t.PP_PAN, t.mask_pan(read.pan, mask).encode("latin-1")),
                  (t.PP_PANSEQNO, f"{read.pan_seq:02d}".encode())]
    items += incomplete_tracks(read.track1, read.track2, mask, read.track3)
    if read.card_type in (m.CARD_ICC, m.CARD_CTLS_EMV):
        if read.holder_name:
            items.append((t.PP_CHNAME, read.holder_name.encode("latin-1")))
        if read.issuer_country.strip("0"):
            items.append((t.PP_ISSCNTRY, read.issuer_country.encode()))
        if read.expiry.strip("0"):
            items.append((t.PP_CARDEXP, read.expiry.encode()))
    if read.card_type in (m.CARD_CTLS_MAG, m.CARD_CTLS_EMV):
        # 01 a phone (the card model's mobile-device profile), else 00 a card (§3.7.1)
        profile = getattr(getattr(session, "card", None), "profile", None)
        items.append((t.PP_DEVTYPE, b"01" if getattr(profile, "phone", False) else b"00"))
    taglist = p.get(t.SPE_TAGLIST)
    if taglist is not None:
        items.append((t.PP_EMVDATA, emv_data(session, tag_list(taglist))))
    return tagged("GCX", items)


@handles("GED")
def ged(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    tags = tag_list(p.need(t.SPE_TAGLIST))
    st = state(pinpad)
    if pinpad.slot.chip is None or st.gcx_card_type not in (3, 5, 6):
        return Response("GED", m.ST_INVCALL)
    return tagged("GED", [(t.PP_EMVDATA, emv_data(pinpad.slot.chip, tags))])
    yield  # pragma: no cover


@handles("GOX")
def gox(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    acq = p.digits(t.SPE_ACQREF, 2)
    method = p.digits(t.SPE_MTHDPIN, 1)
    key_idx = p.digits(t.SPE_KEYIDX, 2)
    if acq is None or method is None or key_idx is None:
        return Response("GOX", m.ST_MANDAT)
    wk = p.get(t.SPE_WKENC)
    if method in "01" and wk is None:
        return Response("GOX", m.ST_MANDAT)
    if method not in "0123":
        return Response("GOX", m.ST_INVPARM)
    if not pinpad.slot.can_go_on_chip():
        return Response("GOX", m.ST_INVCALL)
    opt = p.digits(t.SPE_GOXOPT, 5) or "00000"
    # SPE_TRNCURR (ICC only): GOX's own, else GCX's (already in the session), else the
    # AID record's T1_TRNCURR (§3.7.3)
    currency = p.digits(t.SPE_TRNCURR, 3)
    trm = p.get(t.SPE_TRMPAR) or bytes(10)
    if len(trm) != 10:
        return Response("GOX", m.ST_INVPARM)
    floor, tp, thr, mtp = struct.unpack(">IBIB", trm)
    taglist = p.get(t.SPE_TAGLIST)
    tags = tuple(tag_list(taglist)) if taglist is not None else ()
    _apply_emv_params(pinpad.slot.chip, p, p.get(t.SPE_CASHBACK) is not None, currency)
    req = m.GocRequest(
        amount=int(p.digits(t.SPE_AMOUNT, 12) or 0), tags=tags,
        cashback=int(p.digits(t.SPE_CASHBACK, 12) or 0), blacklisted=opt[0] == "1",
        force_online=opt[1] == "1", method=int(method), key_idx=int(key_idx),
        risk_management=True, floor_limit=floor, target_pct=tp, threshold=thr,
        max_target_pct=mtp, working_key=(wk or bytes(16)).hex().upper().ljust(32, "0")[:32],
    )
    msg = p.get(t.SPE_DSPMSG)
    pinpad.pin_prompt = msg.decode("latin-1") if msg is not None else None
    # the PIN screen's inactivity limit: SPE_TIMEOUT, else one minute (§3.7.3, PCI)
    pinpad.pin_timeout = float(p.number(t.SPE_TIMEOUT) or 60)
    # "xx1xx": no PIN bypass; [OK/ENTRA] alone at the PIN prompt is refused (§3.7.3)
    pinpad.pin_bypass_allowed = opt[2] != "1"
    try:
        rsp = yield from gcr.go_on(pinpad, req)
    finally:
        pinpad.pin_prompt, pinpad.pin_timeout = None, None
        pinpad.pin_bypass_allowed = True
    if rsp.status:
        return Response("GOX", rsp.status)
    goc = m.GocResponse.from_response(rsp)
    pin = "1" if goc.offline_pin else "2" if goc.online_pin else "0"
    kernel = getattr(pinpad.slot.chip, "kernel", None)
    cdcvm = "1" if getattr(kernel, "cvm", None) == "cdcvm" else "0"  # verified on the phone
    items = [(t.PP_GOXRES, f"{goc.decision}{int(goc.signature)}{pin}{cdcvm}00".encode())]
    if goc.online_pin:
        items.append((t.PP_PINBLK, goc.pin_block))
        if method in "23":
            items.append((t.PP_KSN, goc.ksn))
    if taglist is not None:
        items.append((t.PP_EMVDATA, goc.emv_data))
    return tagged("GOX", items)


@handles("FCX")
def fcx(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    opt = p.digits(t.SPE_FCXOPT, 4)
    if opt is None:
        return Response("FCX", m.ST_MANDAT)
    if opt[0] not in "012":
        return Response("FCX", m.ST_INVPARM)
    arc = p.get(t.SPE_ARC)
    if opt[0] in "01" and arc is None:
        return Response("FCX", m.ST_MANDAT)
    if not pinpad.slot.can_finish():
        return Response("FCX", m.ST_INVCALL)
    arc_text = (arc or b"00").decode("latin-1")[:2]
    if opt[0] == "2":
        comm, arc_text, issuer = 1, "00", b""
    else:
        # approved with a response code other than "00" is the classic COMMST 9
        comm = 9 if opt[0] == "0" and arc_text != "00" else 0
        issuer = p.get(t.SPE_EMVDATA) or b""
    taglist = p.get(t.SPE_TAGLIST)
    tags = tuple(tag_list(taglist)) if taglist is not None else ()
    wait = p.number(t.SPE_TIMEOUT)
    rsp = yield from gcr.finish(pinpad, m.FncRequest(comm, arc_text, issuer, tags, via_fcx=True,
                                                     card_wait=float(wait) if wait else None))
    if rsp.status:
        return Response("FCX", rsp.status)
    fnc = m.FncResponse.from_response(rsp)
    items = [(t.PP_FCXRES, b"000" if fnc.decision == 0 else b"100")]
    if taglist is not None:
        items.append((t.PP_EMVDATA, fnc.emv_data))
    if fnc.script_results:
        items.append((t.PP_ISRESULTS, fnc.script_results))
    return tagged("FCX", items)
