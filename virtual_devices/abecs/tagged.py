"""The parameter-tagged ("Abecs") command format of ABECS 2.12 §3.1.3.

A command is ``CMD_ID`` followed by blocks ``CMD_LENn (N3) + data``; each block's data
is a run of ``CMD_PARID (X2) + CMD_PARLEN (X2) + CMD_PAR``. A response is
``RSP_ID + RSP_STAT`` followed by blocks of ``RSP_DATID (X2) + RSP_DATLEN (X2) +
RSP_DAT``. Parameters come in any order and may be spread over several blocks; a
parameter never straddles two blocks (each block is a whole run). Unknown parameters
are ignored by the receiver; a missing mandatory one is ST_MANDAT (019).

This module is sans-I/O: :func:`decode_params` takes the blocks of a decoded
:class:`~virtual_devices.abecs.fields.Command`, :func:`encode_params` returns blocks
for a :class:`~virtual_devices.abecs.fields.Response` (or a host's command).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from virtual_devices.abecs.fields import CodecError

MAX_PARLEN = 995  # 03E3h: the largest value that fits a 999-byte block with its header
BLOCK_MAX = 999

# -- SPE_* parameter ids (§3.1.3.1) ------------------------------------------------
SPE_IDLIST = 0x0001
SPE_MTHDPIN = 0x0002
SPE_MTHDDAT = 0x0003
SPE_TAGLIST = 0x0004
SPE_EMVDATA = 0x0005
SPE_CEXOPT = 0x0006
SPE_TRACKS = 0x0007
SPE_OPNDIG = 0x0008
SPE_KEYIDX = 0x0009
SPE_WKENC = 0x000A
SPE_MSGIDX = 0x000B
SPE_TIMEOUT = 0x000C
SPE_MINDIG = 0x000D
SPE_MAXDIG = 0x000E
SPE_DATAIN = 0x000F
SPE_ACQREF = 0x0010
SPE_APPTYPE = 0x0011
SPE_AIDLIST = 0x0012
SPE_AMOUNT = 0x0013
SPE_CASHBACK = 0x0014
SPE_TRNDATE = 0x0015
SPE_TRNTIME = 0x0016
SPE_GCXOPT = 0x0017
SPE_GOXOPT = 0x0018
SPE_FCXOPT = 0x0019
SPE_TRMPAR = 0x001A
SPE_DSPMSG = 0x001B
SPE_ARC = 0x001C
SPE_IVCBC = 0x001D
SPE_MFNAME = 0x001E
SPE_MFINFO = 0x001F
SPE_MNUOPT = 0x0020
SPE_TRNTYPE = 0x0021
SPE_TRNCURR = 0x0022
SPE_PANMASK = 0x0023
SPE_PBKMOD = 0x0024
SPE_PBKEXP = 0x0025

# -- PP_* response data ids (§3.1.3.2) ----------------------------------------------
PP_SERNUM = 0x8001
PP_PARTNBR = 0x8002
PP_MODEL = 0x8003
PP_MNNAME = 0x8004
PP_CAPAB = 0x8005
PP_SOVER = 0x8006
PP_SPECVER = 0x8007
PP_MANVERS = 0x8008
PP_APPVERS = 0x8009
PP_GENVERS = 0x800A
PP_KRNLVER = 0x8010
PP_CTLSVER = 0x8011
PP_MCTLSVER = 0x8012
PP_VCTLSVER = 0x8013
PP_AECTLSVER = 0x8014
PP_DPCTLSVER = 0x8015
PP_PUREVER = 0x8016
PP_DSPTXTSZ = 0x8020
PP_DSPGRSZ = 0x8021
PP_MFSUP = 0x8022
PP_MKDESP = 0x8030
PP_MKDESD = 0x8031
PP_MKTDESP = 0x8032
PP_MKTDESD = 0x8033
PP_DKPTDESP = 0x8034
PP_DKPTTDESP = 0x8035
PP_DKPTTDESD = 0x8036
PP_EVENT = 0x8040
PP_TRK1INC = 0x8041
PP_TRK2INC = 0x8042
PP_TRK3INC = 0x8043
PP_TRACK1 = 0x8044
PP_TRACK2 = 0x8045
PP_TRACK3 = 0x8046
PP_TRK1KSN = 0x8047
PP_TRK2KSN = 0x8048
PP_TRK3KSN = 0x8049
PP_ENCPAN = 0x804A
PP_ENCPANKSN = 0x804B
PP_KSN = 0x804C
PP_VALUE = 0x804D
PP_DATAOUT = 0x804E
PP_CARDTYPE = 0x804F
PP_ICCSTAT = 0x8050
PP_AIDTABINFO = 0x8051
PP_PAN = 0x8052
PP_PANSEQNO = 0x8053
PP_EMVDATA = 0x8054
PP_CHNAME = 0x8055
PP_GOXRES = 0x8056
PP_PINBLK = 0x8057
PP_FCXRES = 0x8058
PP_ISRESULTS = 0x8059
PP_BIGRAND = 0x805A
PP_LABEL = 0x805B
PP_ISSCNTRY = 0x805C
PP_CARDEXP = 0x805D
PP_MFNAME = 0x805E
PP_DEVTYPE = 0x8060
PP_TLRMEM = 0x8062
PP_ENCKRAND = 0x8063
PP_KSNDESP = 0x9000  # + key index (hex sum: index 14 is 900Eh)
PP_KSNTDESP = 0x9100
PP_KSNTDESD = 0x9200
PP_TABVER = 0x9300


@dataclass
class Params:
    """Decoded parameters: every value of each id, in the order they came."""

    values: dict[int, list[bytes]] = field(default_factory=dict)

    def __contains__(self, pid: int) -> bool:
        return pid in self.values

    def get(self, pid: int) -> bytes | None:
        vals = self.values.get(pid)
        return vals[0] if vals else None

    def all(self, pid: int) -> list[bytes]:
        return list(self.values.get(pid, ()))

    def need(self, pid: int) -> bytes:
        """A mandatory parameter, or ST_MANDAT (019) when it is missing."""
        got = self.get(pid)
        if got is None:
            raise CodecError(f"mandatory parameter {pid:04X}h is missing", 19)
        return got

    def digits(self, pid: int, width: int | None = None, default: str | None = None) -> str | None:
        """An N-format parameter (ASCII digits); a malformed one is ST_INVPARM (011)."""
        raw = self.get(pid)
        if raw is None:
            return default
        text = raw.decode("latin-1")
        if not text.isdigit() or (width is not None and len(text) != width):
            raise CodecError(f"parameter {pid:04X}h is not {width or ''} digits: {text!r}", 11)
        return text

    def number(self, pid: int, default: int = 0) -> int:
        """An X1/X2/X4 parameter (binary big-endian)."""
        raw = self.get(pid)
        return default if raw is None else int.from_bytes(raw, "big")


def _runs(data: bytes) -> Iterable[tuple[int, bytes]]:
    pos = 0
    while pos < len(data):
        head = data[pos : pos + 4]
        if len(head) < 4:
            raise CodecError("parameter header cut short", 11)
        pid = int.from_bytes(head[:2], "big")
        plen = int.from_bytes(head[2:], "big")
        value = data[pos + 4 : pos + 4 + plen]
        if plen > MAX_PARLEN or len(value) != plen:
            raise CodecError(f"parameter {pid:04X}h longer than its block", 11)
        yield pid, value
        pos += 4 + plen


def decode_params(blocks: Sequence[bytes]) -> Params:
    """All parameters of all blocks (ids kept as numbers; unknown ones are kept too and
    simply never asked for, which is how a receiver ignores them)."""
    out = Params()
    for data in blocks:
        for pid, value in _runs(data):
            out.values.setdefault(pid, []).append(value)
    return out


def encode_params(items: Iterable[tuple[int, bytes]]) -> tuple[bytes, ...]:
    """Pack ``(id, value)`` pairs into as few blocks of at most 999 bytes as they fit."""
    blocks: list[bytes] = []
    cur = b""
    for pid, value in items:
        if len(value) > MAX_PARLEN:
            raise CodecError(f"value of {pid:04X}h is {len(value)} bytes (> {MAX_PARLEN})", 45)
        run = pid.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value
        if len(cur) + len(run) > BLOCK_MAX:
            blocks.append(cur)
            cur = b""
        cur += run
    if cur:
        blocks.append(cur)
    return tuple(blocks)


def id_list(raw: bytes) -> list[int]:
    """SPE_IDLIST: up to 64 two-byte ids."""
    if len(raw) % 2:
        raise CodecError("SPE_IDLIST has an odd length", 11)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def mask_pan(field: str, panmask: str | None) -> str:
    """SPE_PANMASK "eedd" applied to a field (§5.4.1): keep ``ee`` digits on the left
    and ``dd`` on the right, the others become ``*`` (2Ah).

    The PAN is the first run of digits from the left of the field (a track's format
    character before it is not part of it); spaces inside it stay where they are and
    are not counted. When ``ee + dd`` covers the PAN's digits nothing is hidden.
    """
    if panmask is None:
        return field
    left, right = int(panmask[:2]), int(panmask[2:])
    start = next((i for i, c in enumerate(field) if c.isdigit()), None)
    if start is None:
        return field
    end = start
    while end < len(field) and (field[end].isdigit() or field[end] == " "):
        end += 1
    digits = [i for i in range(start, end) if field[i].isdigit()]
    if left + right >= len(digits):
        return field
    chars = list(field)
    for i in digits[left : len(digits) - right]:
        chars[i] = "*"
    return "".join(chars)


def nibbles(text: str) -> bytes:
    """A digit string as packed nibbles, ``=`` as ``D``, padded with ``F`` (PP_TRACK2,
    PP_ENCPAN)."""
    hexed = text.replace("=", "D")
    if len(hexed) % 2:
        hexed += "F"
    return bytes.fromhex(hexed)
