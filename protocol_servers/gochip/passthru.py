"""``REQ_DEVICE_PASSTHRU``: a call straight to the reader (W-NEW328, §B.5 "Admin").

The material documents it with the IDTech MiniSmart II's APDU exchange: ``methodName``
``setCardTypeOption`` (``cardType`` "00", ISO), ``icc_powerOnICC`` (answers ``atr``),
``icc_exchangeEncryptedAPDU`` (``commandAPDU`` hex, ``outputBufferSize``; answers
``responseData``) and ``icc_powerOffICC``, each answered ``RES_ON_DEVICE_PASSTHRU_RESPONSE
{responseCode, responseCodeString, ...}`` with ``responseCode`` 0 and "no error, beginning
task." when it worked.

On our reader these are ABECS CHP (direct chip access, ABECS 2.12 §3.3.2) on the main
coupler: operation 1 powers the card on, 2 exchanges an APDU, 0 powers it off; a card
must be in the slot (a card left in after a sale, as the material's steps say "insert a
card"). Ours: ``setCardTypeOption`` takes "00" only (the ABECS coupler is ISO 7816 and
has nothing to switch); the APDU goes and comes in clear (an ABECS pinpad has no
encrypted exchange); a pinpad refusal is answered with the ABECS status as
``responseCode`` and ``responseType`` ``RESPONSE_ERROR_GENERAL``; a method not in the
list is refused with ``RES_ON_ERROR`` (``UNKNOWN_PASSTHRU_METHOD``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.gochip import frames
from protocol_servers.gochip.agent import handles
from protocol_servers.gochip.frames import Frame

if TYPE_CHECKING:
    from protocol_servers.gochip.agent import Session

Gen = Generator[simpy.Event, Any, Any]
ANSWER = "RES_ON_DEVICE_PASSTHRU_RESPONSE"
NO_ERROR = "no error, beginning task."
# methodName -> (CHP operation, the answer's data key)
CHIP_METHODS = {"icc_powerOffICC": (0, None), "icc_powerOnICC": (1, "atr"),
                "icc_exchangeEncryptedAPDU": (2, "responseData")}


def _apdu(parameters: dict[str, Any]) -> bytes:
    raw = frames.text(parameters, "commandAPDU", required=True, limit=2 * 261)
    frames.integer(parameters, "outputBufferSize", 1, 65536)
    try:
        apdu = bytes.fromhex(raw or "")
    except ValueError:
        raise frames.FieldError("commandAPDU must be hex") from None
    if len(apdu) < 4:
        raise frames.FieldError("commandAPDU needs at least CLA INS P1 P2")
    return apdu


@handles("REQ_DEVICE_PASSTHRU")
def passthru(session: Session, frame: Frame) -> None:
    method = frames.text(frame.data, "methodName", required=True, limit=64)
    parameters = frame.data.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise frames.FieldError("parameters must be an object")
    if method == "setCardTypeOption":
        frames.text(parameters, "cardType", required=True, choices=("00",))
        session.send(frames.response(ANSWER, {"responseCode": 0,
                                              "responseCodeString": NO_ERROR}))
        return
    if method not in CHIP_METHODS:
        session.error(frames.SDK_ERROR, "UNKNOWN_PASSTHRU_METHOD",
                      f"methodName {str(method)[:48]!r} is not one this reader offers: "
                      f"setCardTypeOption, {', '.join(CHIP_METHODS)}", frame.type)
        return
    oper, key = CHIP_METHODS[method]
    apdu = _apdu(parameters) if oper == 2 else b""
    reader = session.device
    assert reader is not None

    def run() -> Gen:
        from virtual_devices.abecs.fields import Command
        from virtual_devices.abecs.host import AbecsError

        body = f"0{oper}{len(apdu):03d}{apdu.hex().upper()}".encode()
        with reader.lock.request() as turn:
            yield turn
            try:
                rsp = yield from reader.term.host.call(Command("CHP", (body,)))
            except AbecsError as exc:
                session.send(frames.error(ANSWER, f"the reader refused: ABECS status "
                                          f"{exc.code:03d}", frame.type,
                                          {"responseCode": exc.code,
                                           "responseCodeString": f"ABECS status {exc.code:03d}"}))
                return
        data = rsp.data.decode("latin-1")
        out: dict[str, Any] = {"responseCode": 0, "responseCodeString": NO_ERROR}
        if key is not None:
            out[key] = data[3:]
        session.send(frames.response(ANSWER, out))
    session.later(frame.type, run)
