"""Direct access to the chip in the coupler: CHP (§3.3.2)."""

from __future__ import annotations

from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.extended.base import ST_NOSAM, Gen, handles
from virtual_devices.abecs.fields import Command, Response


@handles("CHP")
def chp(pinpad: Any, cmd: Command) -> Gen:
    """Direct chip access (§3.3.2): the ICC in the main coupler; no SAM is fitted."""
    data = cmd.data
    if (len(data) < 5 or not data[:1].isdigit() or data[1:2] not in b"0123"
            or not data[2:5].isdigit()):
        return Response("CHP", m.ST_INVPARM)
    slot, oper, n = int(data[:1]), int(data[1:2]), int(data[2:5])
    try:
        apdu = bytes.fromhex(data[5 : 5 + 2 * n].decode("latin-1"))
    except ValueError:
        return Response("CHP", m.ST_INVPARM)
    if len(apdu) != n:
        return Response("CHP", m.ST_INVPARM)
    if 1 <= slot <= 8:
        return Response("CHP", ST_NOSAM)
    if slot == 9:
        if not pinpad.info.ctls:
            return Response("CHP", m.ST_NOCARD)
        return Response("CHP", m.ST_NOCARD)  # nothing at the antenna outside a card command
    card = pinpad.inserted
    if card is None:
        return Response("CHP", m.ST_NOCARD)

    def answer(raw: bytes) -> Response:
        return Response("CHP", 0, (f"{len(raw):03d}{raw.hex().upper()}".encode(),))

    try:
        if oper == 0:
            card.power_off()
            return answer(b"")
        if oper == 1:
            atr = card.power_on("contact")
            yield pinpad.world.timeout(pinpad.t["card_power_up"])
            return answer(atr)
        if oper == 2:
            if len(apdu) < 4:
                return Response("CHP", m.ST_INVPARM)
            return answer(card.transmit(apdu))
        # oper 3: capture a PIN and send it to the card in the chosen block format
        if len(apdu) != 4:
            return Response("CHP", m.ST_INVPARM)
        fmt = data[5 + 2 * n : 6 + 2 * n]
        msg = data[6 + 2 * n : 38 + 2 * n].decode("latin-1")
        if fmt not in (b"0", b"1", b"2", b"9"):
            return Response("CHP", m.ST_INVPARM)
        pinpad.display.show(msg)
        got = yield from pinpad.pin_entry(4, 12, None)
        if isinstance(got, int):
            return Response("CHP", got)
        pinpad.world.redactor.add_secret(got.encode())
        if fmt == b"9":
            body = got.encode("ascii")
        else:
            head = {b"0": "0", b"1": "2", b"2": ""}[fmt]
            nib = (head + (f"{len(got):X}" if head else "") + got).ljust(16, "F")
            body = bytes.fromhex(nib[:16])
        pinpad.world.redactor.add_secret(body)
        return answer(card.transmit(apdu + bytes((len(body),)) + body))
    except Exception as exc:  # noqa: BLE001 - the card model's mute/comm errors
        pinpad.world.transcript.event(pinpad.name, f"CHP: card error: {exc}")
        return Response("CHP", m.ST_DUMBCARD if oper == 1 else m.ST_ERRCARD)
