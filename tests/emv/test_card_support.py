"""Test-side helpers that drive a card the way a terminal does (no kernel logic).

Only what the card tests need to reach a given state: select, GPO, read the AFL
records, build DOL data. The kernel's own flows are tested with the kernel.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from virtual_devices.emv import tlv
from virtual_devices.emv.apdu import Command, Response
from virtual_devices.emv.card import VirtualCard

warnings.filterwarnings("ignore", message=".*TripleDES.*")

TERMINAL: dict[int, bytes] = {
    0x9F02: bytes.fromhex("000000001000"),  # 10.00
    0x9F03: bytes(6),
    0x9F1A: bytes.fromhex("0076"),
    0x95: bytes(5),
    0x5F2A: bytes.fromhex("0986"),
    0x9A: bytes.fromhex("261125"),
    0x9C: b"\x00",
    0x9F37: bytes.fromhex("1A2B3C4D"),
    0x9F35: b"\x22",
    0x9F34: bytes.fromhex("1F0302"),
    0x9F66: bytes.fromhex("36004000"),  # TTQ: qVSDC, online PIN + signature, CDCVM
}


def raw_tx(card: VirtualCard, cmd: Command | bytes) -> Response:
    """Exactly one exchange, as the card answered it."""
    raw = cmd.to_bytes() if isinstance(cmd, Command) else cmd
    return Response.from_bytes(card.transmit(raw))


def tx(card: VirtualCard, cmd: Command | bytes) -> Response:
    """One command with the T=0 transport rules a reader applies (61xx, 6Cxx)."""
    c = cmd if isinstance(cmd, Command) else Command.from_bytes(cmd)
    r = raw_tx(card, c)
    if r.sw1 == 0x6C:
        r = raw_tx(card, Command(c.cla, c.ins, c.p1, c.p2, c.data, r.sw2 or 256))
    data = b""
    while r.sw1 == 0x61:
        data += r.data
        r = raw_tx(card, Command.get_response(r.sw2 or 256))
    return Response(data + r.data, r.sw1, r.sw2) if data else r


@dataclass
class Opened:
    card: VirtualCard
    aid: bytes
    gpo: Response
    tags: dict[int, bytes] = field(default_factory=dict)
    oda_data: bytes = b""
    pdol_data: bytes = b""


def open_app(
    card: VirtualCard,
    aid: bytes | None = None,
    interface: str = "contact",
    terminal: dict[int, bytes] | None = None,
    read: bool = True,
) -> Opened:
    """Power on, SELECT, GPO and READ RECORD everything the AFL lists."""
    values = {**TERMINAL, **(terminal or {})}
    card.power_on(interface)
    aid = aid or card.profile.applications[0].aid
    sel = tx(card, Command.select(aid))
    assert sel.sw in (0x9000, 0x6283), sel
    tags = tlv.flatten(sel.data)
    pdol = tags.get(0x9F38, b"")
    pdol_data = tlv.build_dol(pdol, values)
    gpo = tx(card, Command.gpo(pdol_data))
    opened = Opened(card, aid, gpo, dict(tags), pdol_data=pdol_data)
    if not gpo.ok:
        return opened
    top = tlv.decode(gpo.data)[0]
    if top.tag == 0x80:
        opened.tags[0x82], opened.tags[0x94] = top.value[:2], top.value[2:]
    else:
        opened.tags.update(tlv.flatten(gpo.data))
    if read:
        afl = opened.tags[0x94]
        for i in range(0, len(afl), 4):
            sfi, first, last, n_oda = afl[i] >> 3, afl[i + 1], afl[i + 2], afl[i + 3]
            for rec in range(first, last + 1):
                r = tx(card, Command.read_record(sfi, rec))
                assert r.ok, (sfi, rec, r)
                if rec < first + n_oda:
                    opened.oda_data += tlv.decode(r.data)[0].value
                for t, v in tlv.flatten(r.data).items():
                    opened.tags.setdefault(t, v)
    return opened


def cdol_data(opened: Opened, which: int, extra: dict[int, bytes] | None = None) -> bytes:
    values = {**TERMINAL, **(extra or {})}
    return tlv.build_dol(opened.tags[0x8C if which == 1 else 0x8D], values)


@dataclass
class Gac:
    cid: int
    atc: bytes
    ac: bytes | None
    iad: bytes
    sdad: bytes | None
    raw: bytes


def parse_gac(resp: Response) -> Gac:
    assert resp.ok, resp
    top = tlv.decode(resp.data)[0]
    if top.tag == 0x80:
        v = top.value
        return Gac(v[0], v[1:3], v[3:11], v[11:], None, resp.data)
    f = tlv.flatten(resp.data)
    return Gac(f[0x9F27][0], f[0x9F36], f.get(0x9F26), f[0x9F10], f.get(0x9F4B), resp.data)
