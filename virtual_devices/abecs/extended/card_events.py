"""CEX (§3.3.1): wait for a key, a swipe, an insert, a removal or a tap, as enabled."""

from __future__ import annotations

from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.cards import stripe_of
from virtual_devices.abecs.customer import CANCEL_KEY
from virtual_devices.abecs.extended.base import Gen, handles, panmask, params, tagged, wait_for
from virtual_devices.abecs.extended.state import state
from virtual_devices.abecs.extended.tracks import incomplete_tracks
from virtual_devices.abecs.fields import Command, Response

EVENT_KEYS = {"enter": "00", "up": "02", "down": "03", "f1": "04", "f2": "05", "f3": "06",
              "f4": "07", "clear": "08", "cancel": "13", CANCEL_KEY: "13"}


@handles("CEX")
def cex(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    opt = p.need(t.SPE_CEXOPT).decode("latin-1")
    if (len(opt) != 6 or opt[0] not in "01" or opt[1] not in "01" or opt[2] not in "012"
            or opt[3] not in "01"):
        return Response("CEX", m.ST_INVPARM)
    mask = panmask(p)
    timeout = p.number(t.SPE_TIMEOUT) or None
    keys, mag, icc, ctls = opt[0] == "1", opt[1] == "1", opt[2], opt[3] == "1"
    ctls = ctls and bool(pinpad.info.ctls)  # no antenna: nothing to switch on
    if icc == "1" and pinpad.inserted is not None:
        return tagged("CEX", [(t.PP_EVENT, b"92")])
    if icc == "2":
        if pinpad.inserted is None:
            return tagged("CEX", [(t.PP_EVENT, b"91")])
        got = yield from wait_for(pinpad, pinpad.customer.remove_card(pinpad), timeout)
        if got is None and timeout:
            return Response("CEX", m.ST_TIMEOUT)
        pinpad.slot.remove()
        return tagged("CEX", [(t.PP_EVENT, b"91")])
    if (mag or icc == "1" or ctls) and pinpad.has_card():
        # the antenna, when on, gives up after two minutes with event 93 (§3.3.1)
        ctls_wait = float(pinpad.t["ctls_wait"]) if ctls else None
        limit = min(x for x in (timeout, ctls_wait) if x) if (timeout or ctls_wait) else None
        pinpad.slot.antenna_on = ctls
        try:
            got = yield from wait_for(pinpad, pinpad.customer.present_card(pinpad), limit)
        finally:
            pinpad.slot.antenna_on = False
        if got is None:
            if ctls and limit == ctls_wait:
                return tagged("CEX", [(t.PP_EVENT, b"93")])
            return Response("CEX", m.ST_TIMEOUT)
        if got == CANCEL_KEY:
            return tagged("CEX", [(t.PP_EVENT, b"13")]) if keys else Response("CEX", m.ST_CANCEL)
        card, how = got
        if how == "tap" and ctls:
            pinpad.slot.tapped(card)  # in the customer's hand for the card command next
            return tagged("CEX", [(t.PP_EVENT, b"94")])
        if how == "insert" and icc == "1":
            pinpad.slot.insert(card)
            return tagged("CEX", [(t.PP_EVENT, b"92")])
        yield pinpad.world.timeout(pinpad.t["magstripe_read"])
        pinpad.card_event("swipe", card)
        t1, t2 = stripe_of(card)
        st = state(pinpad)
        st.tracks, st.pan, st.gcx_card_type = (t1 or "", t2 or "", ""), "", None
        # no track read: ST_OK with the event alone (unlike CKE's 041, §3.3.1)
        return tagged("CEX", [(t.PP_EVENT, b"90"), *incomplete_tracks(t1 or "", t2 or "",
                                                                      mask)])
    if keys:
        got = yield from wait_for(pinpad, pinpad.customer.press_key(pinpad), timeout)
        if got is None:
            return Response("CEX", m.ST_TIMEOUT)
        return tagged("CEX", [(t.PP_EVENT, EVENT_KEYS.get(got, "00").encode())])
    if not (mag or icc == "1" or ctls):
        # nothing to wait for: a real pinpad rejects the options rather than hang
        return Response("CEX", m.ST_INVPARM)
    # only card events enabled and nobody holds a card: wait for the timeout or CAN
    yield pinpad.world.timeout(timeout) if timeout else pinpad.world.event()
    return Response("CEX", m.ST_TIMEOUT)
