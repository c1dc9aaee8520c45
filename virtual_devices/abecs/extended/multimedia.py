"""Multimedia files (§3.4): MLI, MLR, MLE load one, LMF lists, DMF deletes, DSI shows."""

from __future__ import annotations

import struct
from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.extended.base import (
    ST_MFERR,
    ST_MFERRFMT,
    ST_MFNFOUND,
    Gen,
    handles,
    params,
    tagged,
)
from virtual_devices.abecs.extended.media_store import MediaFile
from virtual_devices.abecs.extended.state import state
from virtual_devices.abecs.fields import CodecError, Command, Response
from virtual_devices.abecs.link import crc16

# Display: a 2x16 text display on a 240-line x 320-column colour screen (a common
# colour pinpad screen); DSI takes PNG, JPG and GIF.
DISPLAY_GRAPHIC = (240, 320)
MFSUP = "111"


def _file_name(raw: bytes) -> str:
    name = raw.decode("latin-1")
    if not 0 < len(name) <= 8 or not name.isalnum():
        raise CodecError(f"multimedia file name {name!r} is not 1-8 letters/digits", 11)
    return name.upper()


def image_size(kind: int, data: bytes) -> tuple[int, int] | None:
    """(width, height) from the file's own header, or None when it is not that format."""
    if kind == 1 and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if kind == 3 and data[:4] == b"GIF8" and len(data) >= 10:
        w, h = struct.unpack("<HH", data[6:10])
        return w, h
    if kind == 2 and data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker, seg = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + seg
    return None


def show_file(pinpad: Any, name: str) -> int:
    f = state(pinpad).files.get(name.upper())
    if f is None:
        return ST_MFNFOUND
    size = image_size(f.kind, f.data)
    if size is None or size[0] > DISPLAY_GRAPHIC[1] or size[1] > DISPLAY_GRAPHIC[0]:
        return ST_MFERRFMT
    kind = {1: "PNG", 2: "JPG", 3: "GIF"}[f.kind]
    # the text model of the screen: what is shown, its format and size, centred
    pinpad.display.show_lines(f"[{f.name}]", f"{kind} {size[0]}x{size[1]}")
    return 0


@handles("MLI")
def mli(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    name = _file_name(p.need(t.SPE_MFNAME))
    info = p.need(t.SPE_MFINFO)
    # §6.6.1: any SPE_MFINFO of 7 bytes or more is taken (the RUF bytes are not looked
    # at), and the type is not judged here, only when the file is used (DSI, CLX: 101)
    if len(info) < 7:
        return Response("MLI", m.ST_INVPARM)
    size, crc = int.from_bytes(info[:4], "big"), int.from_bytes(info[4:6], "big")
    st = state(pinpad)
    st.loading = (name, size, crc, info[6])
    st.received = bytearray()
    return Response("MLI")
    yield  # pragma: no cover


@handles("MLR")
def mlr(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    st = state(pinpad)
    if st.loading is None:
        return Response("MLR", m.ST_INVCALL)
    chunks = p.all(t.SPE_DATAIN)
    if not chunks:
        return Response("MLR", m.ST_MANDAT)
    for c in chunks:
        st.received += c
    if len(st.received) > st.files.room_for(st.loading[0]):
        st.loading, st.received = None, bytearray()
        return Response("MLR", m.ST_INTERR)
    return Response("MLR")
    yield  # pragma: no cover


@handles("MLE")
def mle(pinpad: Any, cmd: Command) -> Gen:
    """Accept the file when its size and CRC match MLI's. The CRC is the link's own
    CRC-16 (§2.2, polynomial 1021h, initial 0), the one CRC the specification defines."""
    st = state(pinpad)
    if st.loading is None:
        return Response("MLE", m.ST_INVCALL)
    name, size, crc, kind = st.loading
    data = bytes(st.received)
    st.loading, st.received = None, bytearray()
    if len(data) != size or crc16(data) != crc:
        return Response("MLE", ST_MFERR)
    if len(data) > st.files.room_for(name):
        return Response("MLE", m.ST_INTERR)
    st.files.put(MediaFile(name, kind, data))
    return Response("MLE")
    yield  # pragma: no cover


@handles("LMF")
def lmf(pinpad: Any, cmd: Command) -> Gen:
    names = sorted(state(pinpad).files)
    return tagged("LMF", [(t.PP_MFNAME, n.ljust(8).encode("latin-1")) for n in names])
    yield  # pragma: no cover


@handles("DMF")
def dmf(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    names = p.all(t.SPE_MFNAME)
    if not names:
        return Response("DMF", m.ST_MANDAT)
    for raw in names:
        state(pinpad).files.delete(raw.decode("latin-1").strip().upper())
    return Response("DMF")
    yield  # pragma: no cover


@handles("DSI")
def dsi(pinpad: Any, cmd: Command) -> Gen:
    p = params(cmd)
    name = _file_name(p.need(t.SPE_MFNAME))
    status = show_file(pinpad, name)
    return Response("DSI", status)
    yield  # pragma: no cover
