"""The generic command GEN (§3.8): sub-commands by acquirer and code.

``GEN`` carries ``ACQ (N2) + LEN (N3) + CODE (A2) + data``; each (acquirer, code) pair
the specification keeps has its own handler, registered with :func:`sub_command`. A pair
nobody registered is ST_INVCALL, as an unknown command is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.extended.base import ST_NOSAM, Gen, emv_data, handles, tag_list
from virtual_devices.abecs.extended.control import key_map, presence
from virtual_devices.abecs.fields import Command, Response

SubHandler = Callable[[Any, bytes], Gen]
SUB_COMMANDS: dict[tuple[str, str], SubHandler] = {}


def sub_command(acq: str, code: str) -> Callable[[SubHandler], SubHandler]:
    def register(fn: SubHandler) -> SubHandler:
        SUB_COMMANDS[(acq, code)] = fn
        return fn
    return register


def out(text: str) -> Response:
    """A GEN answer: its data as one length-prefixed (N3) field."""
    return Response("GEN", 0, (f"{len(text):03d}{text}".encode("latin-1"),))


@handles("GEN")
def gen(pinpad: Any, cmd: Command) -> Gen:
    data = cmd.data
    if len(data) < 7 or not data[:5].isdigit() or int(data[2:5]) != len(data) - 5:
        return Response("GEN", m.ST_INVPARM)
    acq, code, body = data[:2].decode(), data[5:7].decode("latin-1"), data[7:]
    handler = SUB_COMMANDS.get((acq, code))
    if handler is None:
        return Response("GEN", m.ST_INVCALL)
    return (yield from handler(pinpad, body))


@sub_command("02", "K3")
def key_states(pinpad: Any, body: bytes) -> Gen:
    """GEN/02/K3: the state of each key index in a range, for one method and use."""
    if len(body) != 6 or not body.isdigit():
        return Response("GEN", m.ST_INVPARM)
    kind, use, lo, hi = int(body[:1]), int(body[1:2]), int(body[2:4]), int(body[4:6])
    if lo > hi or kind > 3 or use > 1:
        return Response("GEN", m.ST_INVPARM)
    if kind in (0, 2):
        states = key_map(set(), False)  # DES keys: removed in ABECS 2.10
    elif kind == 1:
        states = presence(pinpad, "mk_dat" if use else "mk_pin")
    else:
        states = presence(pinpad, "dukpt_dat" if use else "dukpt_pin")
    return out(states[lo : hi + 1])
    yield  # pragma: no cover


@sub_command("03", "02")
def chip_tags_bare(pinpad: Any, body: bytes) -> Gen:
    """GEN/03/02: EMV objects of the card session, by a bare tag list."""
    return chip_tags(pinpad, body.decode("latin-1"))
    yield  # pragma: no cover


@sub_command("04", "04")
def chip_tags_counted(pinpad: Any, body: bytes) -> Gen:
    """GEN/04/04: EMV objects of the card session, by a tag list with its N3 length."""
    return chip_tags(pinpad, body.decode("latin-1")[3:])
    yield  # pragma: no cover


def chip_tags(pinpad: Any, hexed: str) -> Response:
    session = pinpad.slot.chip
    if session is None:
        return Response("GEN", m.ST_INVCALL)
    try:
        raw = bytes.fromhex(hexed)
    except ValueError:
        return Response("GEN", m.ST_INVPARM)
    emv = emv_data(session, tag_list(raw))
    return out(f"{len(emv):03d}{emv.hex().upper()}")


@sub_command("04", "01")
def power(pinpad: Any, body: bytes) -> Gen:
    """GEN/04/01: power a coupler on (ATR) or off; only the ICC coupler 0 is fitted."""
    if len(body) != 2 or body[:1] not in b"1234" or not body[1:].isdigit():
        return Response("GEN", m.ST_INVPARM)
    slot = body[1:].decode()
    if slot != "0":
        return out(f"{slot}4" + "00" + "0" * 72)  # no SAM reader: "4"
    card = pinpad.inserted
    if card is None:
        return out("00" + "00" + "0" * 72)
    if body[:1] == b"3":
        card.power_off()
        return out("01" + "00" + "0" * 72)
    try:
        atr = card.power_on("contact")
    except Exception:  # noqa: BLE001 - a mute chip
        return out("02" + "00" + "0" * 72)
    return out("03" + f"{len(atr):02d}" + atr.hex().upper().ljust(72, "0"))
    yield  # pragma: no cover


@sub_command("04", "02")
def apdu(pinpad: Any, body: bytes) -> Gen:
    """GEN/04/02: one APDU to the chip, its data and status words back."""
    card = pinpad.inserted
    if card is None:
        return Response("GEN", m.ST_NOCARD)
    text = body.decode("latin-1")
    try:
        head = bytes.fromhex(text[1:9])
        lc = int(text[9:12])
        cdata = bytes.fromhex(text[12 : 12 + 2 * lc])
        le = int(text[12 + 2 * lc : 15 + 2 * lc])
    except ValueError:
        return Response("GEN", m.ST_INVPARM)
    command = head + (bytes((lc,)) + cdata if lc else b"") + (bytes((le % 256,)) if le else b"")
    try:
        rsp = card.transmit(command)
    except Exception:  # noqa: BLE001
        return Response("GEN", m.ST_ERRCARD)
    dat, sw = rsp[:-2], rsp[-2:]
    return out(f"{text[:1]}{sw.hex().upper()}{len(dat):03d}{dat.hex().upper()}")
    yield  # pragma: no cover


@sub_command("04", "03")
def pin_to_chip(pinpad: Any, body: bytes) -> Gen:
    """GEN/04/03 (§3.8.4): capture a PIN and present it to the chip for offline
    verification; answers the slot and the card's status words.

    Body: SLOT N1, APDU H8 (CLA INS P1 P2), FORMAT H1 (``0`` ISO-0, ``2`` ISO-2, ``A``
    ASCII digits), MIN N2, MAX N2, PINMSG S32. The PIN goes to the card as the data of
    the APDU named (Lc the block's length). For ISO-0 the PAN field is the card's own PAN
    (the chip read it in GCR), as a pinpad building that block must.
    """
    text = body.decode("latin-1")
    if len(text) != 46 or not text[:1].isdigit() or any(c not in HEX for c in text[1:9]) \
            or text[9:10] not in ("0", "2", "A") or not text[10:14].isdigit():
        return Response("GEN", m.ST_INVPARM)
    slot, head, fmt = text[:1], bytes.fromhex(text[1:9]), text[9:10]
    lo, hi, msg = int(text[10:12]), int(text[12:14]), text[14:46]
    if not 1 <= lo <= hi <= 12:
        return Response("GEN", m.ST_INVPARM)
    if slot != "0":
        return Response("GEN", ST_NOSAM)  # no SAM positions are fitted
    card = pinpad.inserted
    if card is None:
        return Response("GEN", m.ST_NOCARD)
    pinpad.display.show(msg)
    got = yield from pinpad.pin_entry(lo, hi, None)
    if isinstance(got, int):
        return Response("GEN", got)
    pinpad.world.redactor.add_secret(got.encode())
    block = pin_block_for_card(fmt, got, str(getattr(card, "pan", "") or ""))
    pinpad.world.redactor.add_secret(block)
    try:
        rsp = card.transmit(head + bytes((len(block),)) + block)
    except Exception as exc:  # noqa: BLE001 - the card model's mute/comm errors
        pinpad.world.transcript.event(pinpad.name, f"GEN/04/03: card error: {exc}")
        return Response("GEN", m.ST_ERRCARD)
    pinpad.display.show("PROCESSANDO...")
    return out(f"{slot}{rsp[-2:].hex().upper()}")


def pin_block_for_card(fmt: str, pin: str, pan: str) -> bytes:
    """The PIN as the card receives it: ISO 9564 format 0 (PIN field XOR PAN field),
    format 2 (``2`` + length + digits, ``F`` padding) or plain ASCII digits."""
    if fmt == "A":
        return pin.encode("ascii")
    field = f"{0 if fmt == '0' else 2}{len(pin):X}{pin}".ljust(16, "F")
    block = bytes.fromhex(field)
    if fmt == "0":
        digits = "".join(c for c in pan if c.isdigit())
        pan_field = bytes.fromhex("0000" + digits[:-1][-12:].rjust(12, "0"))
        block = bytes(a ^ b for a, b in zip(block, pan_field, strict=True))
    return block


HEX = frozenset("0123456789ABCDEFabcdef")


@sub_command("03", "03")
def dukpt_dat1(pinpad: Any, body: bytes) -> Gen:
    """GEN/03/03 (§3.8.7): a block under DUKPT:TDES:DAT#1, ECB, one KSN for all of it.

    Body: METHOD N1 (``3``), IDX N2, INPUT H..256 (a multiple of 16 hex digits); the
    answer is the KSN (H20) and the cryptogram (as long as the input). In encrypted-PAN
    mode the host sends the input under TDES⁻¹ with WKPAN (§5.3), so the pinpad applies
    TDES with WKPAN first to get it back.
    """
    from virtual_devices.abecs.keys import POSITIONS, KeyError_, tdes

    text = body.decode("latin-1")
    if (len(text) < 3 or text[:1] != "3" or not text[1:3].isdigit()
            or any(c not in HEX for c in text[3:]) or not 0 < len(text) - 3 <= 256
            or (len(text) - 3) % 16):
        return Response("GEN", m.ST_INVPARM)
    idx, data = int(text[1:3]), bytes.fromhex(text[3:])
    if idx not in POSITIONS:
        return Response("GEN", m.ST_INVPARM)  # outside the positions this pinpad has
    wkpan = pinpad.key_store.wkpan
    if wkpan is not None:
        data = tdes(wkpan, data)
    try:
        crypt, ksn = pinpad.key_store.encrypt_data(30, idx, data)
    except KeyError_:
        return Response("GEN", m.ST_ERRKEY)
    return out(ksn.hex().upper() + crypt.hex().upper())
    yield  # pragma: no cover
