"""Data encryption with the pinpad's keys: EBX (§3.3.6) and ENB (§3.3.7)."""

from __future__ import annotations

from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.extended.base import Gen, handles, params, tagged
from virtual_devices.abecs.fields import CodecError, Command, Response


@handles("EBX")
def ebx(pinpad: Any, cmd: Command) -> Gen:
    from virtual_devices.abecs.keys import KeyError_

    p = params(cmd)
    data = p.need(t.SPE_DATAIN)
    method = p.need(t.SPE_MTHDDAT).decode("latin-1")
    idx_text = p.digits(t.SPE_KEYIDX, 2)
    if idx_text is None:
        raise CodecError("SPE_KEYIDX missing", 19)
    if method not in ("00", "01", "10", "11", "30", "50", "51"):
        return Response("EBX", m.ST_INVPARM)
    if method[0] in "01" and p.get(t.SPE_WKENC) is None:
        return Response("EBX", m.ST_MANDAT)
    if not data or len(data) % 8 or len(data) > 256:
        return Response("EBX", m.ST_INVPARM)
    try:
        crypt, ksn = pinpad.key_store.encrypt_data(
            int(method), int(idx_text), data, p.get(t.SPE_WKENC) or b"",
            p.get(t.SPE_IVCBC) or bytes(8))
    except KeyError_:
        return Response("EBX", m.ST_ERRKEY)
    items = [(t.PP_DATAOUT, crypt)]
    if method[0] in "35":
        items.append((t.PP_KSN, ksn))
    return tagged("EBX", items)
    yield  # pragma: no cover


@handles("ENB")
def enb(pinpad: Any, cmd: Command) -> Gen:
    """8 bytes under MK/WK:TDES:DAT (method "1"); the DES method "0" has no keys: 042."""
    from virtual_devices.abecs.keys import KeyError_

    data = cmd.data
    if len(data) != 51 or data[:1] not in (b"0", b"1") or not data[1:3].isdigit():
        return Response("ENB", m.ST_INVPARM)
    try:
        wkenc, block = bytes.fromhex(data[3:35].decode()), bytes.fromhex(data[35:51].decode())
    except ValueError:
        return Response("ENB", m.ST_INVPARM)
    if data[:1] == b"0":
        return Response("ENB", m.ST_ERRKEY)
    try:
        crypt, _ = pinpad.key_store.encrypt_data(10, int(data[1:3]), block, wkenc)
    except KeyError_:
        return Response("ENB", m.ST_ERRKEY)
    return Response("ENB", 0, (crypt.hex().upper().encode(),))
    yield  # pragma: no cover
