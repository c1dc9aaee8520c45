"""Typed ABECS commands and responses with the byte layouts of mpos-bridge.md §4.5–§4.9.

Each request has ``to_command()`` and ``from_command(cmd)``; each response has
``to_response()`` and ``from_response(rsp)``. Both the pinpad and the host use them, so
a layout is written once and a round trip proves both directions.
"""

from __future__ import annotations

from dataclasses import dataclass

from virtual_devices.abecs.fields import (
    CodecError,
    Command,
    Response,
    Spec,
    num,
    pack,
    pack_field,
    unpack,
)

# ABECS return codes used by name (mpos-bridge.md §4.4)
ST_OK = 0
ST_NOSEC = 3
ST_F1, ST_F2, ST_F3, ST_F4 = 4, 5, 6, 7
ST_BACKSP = 8
ST_ERRPKTSEC = 9
ST_INVCALL = 10
ST_INVPARM = 11
ST_TIMEOUT = 12
ST_CANCEL = 13
ST_MANDAT = 19
ST_TABVERDIF = 20
ST_TABERR = 21
ST_INTERR = 40
ST_MCDATAERR = 41
ST_ERRKEY = 42
ST_NOCARD = 43
ST_PINBUSY = 44  # too many PIN captures in too short a time (PCI)
ST_RSPOVRFL = 45
ST_ERRCRYPT = 46  # a key or cryptogram that fails validation
ST_NOSAM = 51
ST_DUMBCARD = 60
ST_ERRCARD = 61
ST_CARDINVALIDAT = 67
ST_CARDPROBLEMS = 68
ST_CARDINVDATA = 69
ST_CARDAPPNAV = 70
ST_CARDAPPNAUT = 71
ST_ERRFALLBACK = 76
ST_INVAMOUNT = 77
ST_ERRMAXAID = 78  # more candidate AIDs than the kernel takes (128, §6.1.2)
ST_CARDBLOCKED = 79
# contactless (§3.1.1; 086 and 087 since 2.10)
ST_CTLSMULTIPLE = 80  # more than one card in the field
ST_CTLSCOMMERR = 81  # antenna/card communication error (or on-device CVM, old hosts)
ST_CTLSINVALIDAT = 82  # SELECT answered 6A81 or 6283
ST_CTLSPROBLEMS = 83  # the card misbehaved: end the transaction
ST_CTLSAPPNAV = 84  # no application in common
ST_CTLSAPPNAUT = 85  # GPO answered 6985
ST_CTLSEXTCVM = 86  # verify on the phone, then present it again
ST_CTLSIFCHG = 87  # use the chip or the stripe instead


def _one(cmd: Command) -> bytes:
    if not cmd.blocks:
        raise CodecError(f"{cmd.cmd_id} needs a data block", 19)
    return cmd.blocks[0]


def _hexlen(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CodecError("not hex") from None


# -- OPN / CLO / DSP / DEX / GIN / GKY ----------------------------------------------


@dataclass(frozen=True)
class OpnRequest:
    """Secure OPN carries the host's RSA public key; ``modulus=None`` is classic OPN."""

    modulus: int | None = None
    exponent: int = 65537

    def to_command(self) -> Command:
        if self.modulus is None:
            return Command("OPN")
        mod = self.modulus.to_bytes((self.modulus.bit_length() + 7) // 8, "big")
        exp = self.exponent.to_bytes((self.exponent.bit_length() + 7) // 8, "big")
        body = b"0" + f"{len(mod):03d}".encode() + mod.hex().upper().encode()
        body += str(len(exp)).encode() + exp.hex().upper().encode()
        return Command("OPN", (body,))

    @classmethod
    def from_command(cls, cmd: Command) -> OpnRequest:
        if not cmd.blocks or not cmd.blocks[0]:
            return cls(None)
        data = cmd.blocks[0]
        head, pos = unpack([("mode", "N", 1), ("modlen", "N", 3)], data)
        if head["mode"] != "0":
            raise CodecError("OPN mode must be 0")
        n = num(head["modlen"])
        if not 1 <= n <= 256:
            raise CodecError("OPN modulus length out of range")
        mod = _hexlen(data[pos : pos + 2 * n].decode("latin-1"))
        pos += 2 * n
        if len(mod) != n:
            raise CodecError("OPN modulus cut short")
        explen_t = data[pos : pos + 1].decode("latin-1")
        if not explen_t.isdigit() or not 1 <= int(explen_t) <= 3:
            raise CodecError("OPN exponent length must be 1 to 3")
        exp = _hexlen(data[pos + 1 : pos + 1 + 2 * int(explen_t)].decode("latin-1"))
        if len(exp) != int(explen_t) or pos + 1 + 2 * len(exp) != len(data):
            raise CodecError("OPN exponent length does not match the block")
        return cls(int.from_bytes(mod, "big"), int.from_bytes(exp, "big"))


@dataclass(frozen=True)
class OpnResponse:
    crksec: bytes | None = None  # RSA-wrapped session key; None = classic "OPN000"

    def to_response(self) -> Response:
        if self.crksec is None:
            return Response("OPN", 0)
        body = f"{len(self.crksec):03d}".encode() + self.crksec.hex().upper().encode()
        return Response("OPN", 0, (body,))

    @classmethod
    def from_response(cls, rsp: Response) -> OpnResponse:
        if not rsp.blocks or not rsp.blocks[0]:
            return cls(None)
        data = rsp.blocks[0]
        n = num(data[:3].decode("latin-1"))
        crk = _hexlen(data[3 : 3 + 2 * n].decode("latin-1"))
        if len(crk) != n:
            raise CodecError("CRKSEC cut short")
        return cls(crk)


@dataclass(frozen=True)
class MessageRequest:
    """CLO, DSP and RMC: one 32-character message (two lines of 16)."""

    cmd_id: str
    message: str = ""

    def to_command(self) -> Command:
        return Command(self.cmd_id, (pack_field("S", 32, self.message),))

    @classmethod
    def from_command(cls, cmd: Command) -> MessageRequest:
        if not cmd.blocks:
            if cmd.cmd_id == "CLO":
                return cls("CLO", "")  # a bare CLO is common; leave the display blank
            raise CodecError(f"{cmd.cmd_id} needs a message block", 19)
        # fewer chars are space padded; extra ones are ignored (§4.6 DSP)
        return cls(cmd.cmd_id, cmd.blocks[0][:32].decode("latin-1"))


@dataclass(frozen=True)
class DexRequest:
    message: str

    def to_command(self) -> Command:
        raw = self.message.encode("latin-1", errors="replace")
        return Command("DEX", (f"{len(raw):03d}".encode() + raw,))

    @classmethod
    def from_command(cls, cmd: Command) -> DexRequest:
        data = _one(cmd)
        n = num(data[:3].decode("latin-1"))
        if n > 160 or len(data) != 3 + n:
            raise CodecError("DEX message length wrong or above 160")
        return cls(data[3:].decode("latin-1"))


@dataclass(frozen=True)
class GinRequest:
    acq_idx: int = 0

    def to_command(self) -> Command:
        return Command("GIN", (f"{self.acq_idx:02d}".encode(),))

    @classmethod
    def from_command(cls, cmd: Command) -> GinRequest:
        data = _one(cmd)
        if len(data) != 2:
            raise CodecError("GIN takes ACQIDX N2")
        return cls(num(data.decode("latin-1")))


GIN_SPECS: list[Spec] = [
    ("mname", "A", 20), ("model", "A", 19), ("ctlssup", "A", 1), ("sover", "A", 20),
    ("specver", "A", 4), ("manver", "A", 16), ("sernum", "A", 20),
]


@dataclass(frozen=True)
class GinResponse:
    manufacturer: str
    model: str
    ctls: bool
    os_version: str
    spec_version: str
    app_version: str
    serial: str

    def to_response(self) -> Response:
        return Response("GIN", 0, (pack(GIN_SPECS, {
            "mname": self.manufacturer, "model": self.model,
            "ctlssup": "C" if self.ctls else " ", "sover": self.os_version,
            "specver": self.spec_version, "manver": self.app_version, "sernum": self.serial,
        }),))

    @classmethod
    def from_response(cls, rsp: Response) -> GinResponse:
        v, _ = unpack(GIN_SPECS, rsp.data)
        return cls(v["mname"].rstrip(), v["model"].rstrip(), v["ctlssup"] == "C",
                   v["sover"].rstrip(), v["specver"].rstrip(), v["manver"].rstrip(),
                   v["sernum"].rstrip())


# -- CKE -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CkeRequest:
    key: bool = True
    mag: bool = True
    icc: int = 1  # 0 ignore, 1 insertion, 2 removal
    ctls: bool | None = None

    def to_command(self) -> Command:
        body = f"{int(self.key)}{int(self.mag)}{self.icc}"
        if self.ctls is not None:
            body += str(int(self.ctls))
        return Command("CKE", (body.encode(),))

    @classmethod
    def from_command(cls, cmd: Command) -> CkeRequest:
        data = _one(cmd).decode("latin-1")
        if len(data) not in (3, 4) or not data.isdigit():
            raise CodecError("CKE takes three or four digits")
        if data[0] not in "01" or data[1] not in "01" or data[2] not in "012":
            raise CodecError("CKE flag out of range")
        ctls = None if len(data) == 3 else data[3] == "1"
        return cls(data[0] == "1", data[1] == "1", int(data[2]), ctls)


TRACK_SPECS: list[Spec] = [
    ("trk1len", "N", 2), ("trk1", "A", 76), ("trk2len", "N", 2), ("trk2", "A", 37),
    ("trk3len", "N", 3), ("trk3", "A", 104),
]


def pack_tracks(t1: str, t2: str, t3: str) -> bytes:
    return pack(TRACK_SPECS, {"trk1len": len(t1), "trk1": t1, "trk2len": len(t2), "trk2": t2,
                              "trk3len": len(t3), "trk3": t3})


def unpack_tracks(v: dict[str, str]) -> tuple[str, str, str]:
    return (v["trk1"][: num(v["trk1len"])], v["trk2"][: num(v["trk2len"])],
            v["trk3"][: num(v["trk3len"])])


@dataclass(frozen=True)
class CkeResponse:
    event: int  # 0 key, 1 magstripe, 2 ICC, 3 CTLS
    keycode: int = 0
    track1: str = ""
    track2: str = ""
    track3: str = ""
    status: int = 0  # ICCSTAT / CTLSSTAT

    def to_response(self) -> Response:
        if self.event == 0:
            body = f"0{self.keycode:02d}".encode()
        elif self.event == 1:
            body = b"1" + pack_tracks(self.track1, self.track2, self.track3)
        else:
            body = f"{self.event}{self.status}".encode()
        return Response("CKE", 0, (body,))

    @classmethod
    def from_response(cls, rsp: Response) -> CkeResponse:
        data = rsp.data
        ev = num(data[:1].decode("latin-1"))
        if ev == 0:
            return cls(0, keycode=num(data[1:3].decode("latin-1")))
        if ev == 1:
            v, _ = unpack(TRACK_SPECS, data[1:], strict=False)
            t1, t2, t3 = unpack_tracks(v)
            return cls(1, track1=t1, track2=t2, track3=t3)
        return cls(ev, status=num(data[1:2].decode("latin-1")))


# -- keys: GDU / GPN -------------------------------------------------------------------


@dataclass(frozen=True)
class GduRequest:
    method: int = 3
    key_idx: int = 16

    def to_command(self) -> Command:
        return Command("GDU", (f"{self.method}{self.key_idx:02d}".encode(),))

    @classmethod
    def from_command(cls, cmd: Command) -> GduRequest:
        data = _one(cmd).decode("latin-1")
        if len(data) != 3 or not data.isdigit():
            raise CodecError("GDU takes METHOD N1 + IDX N2")
        return cls(int(data[0]), int(data[1:]))


@dataclass(frozen=True)
class KsnResponse:
    ksn: bytes

    def to_response(self) -> Response:
        return Response("GDU", 0, (self.ksn.hex().upper().encode(),))

    @classmethod
    def from_response(cls, rsp: Response) -> KsnResponse:
        return cls(_hexlen(rsp.data.decode("latin-1")))


GPN_SPECS: list[Spec] = [
    ("method", "N", 1), ("keyidx", "N", 2), ("wkenc", "H", 32), ("panlen", "N", 2),
    ("pan", "A", 19), ("entries", "N", 1), ("min", "N", 2), ("max", "N", 2), ("msg", "S", 32),
]


@dataclass(frozen=True)
class GpnRequest:
    pan: str
    method: int = 3
    key_idx: int = 16
    min_len: int = 4
    max_len: int = 12
    message: str = "SENHA:"
    working_key: str = "0" * 32

    def to_command(self) -> Command:
        return Command("GPN", (pack(GPN_SPECS, {
            "method": self.method, "keyidx": self.key_idx, "wkenc": self.working_key,
            "panlen": len(self.pan), "pan": self.pan, "entries": 1, "min": self.min_len,
            "max": self.max_len, "msg": self.message,
        }),))

    @classmethod
    def from_command(cls, cmd: Command) -> GpnRequest:
        v, _ = unpack(GPN_SPECS, _one(cmd))
        panlen = num(v["panlen"])
        pan = v["pan"][:panlen]
        if not pan.isdigit() or not 8 <= panlen <= 19:
            raise CodecError("GPN PAN must be 8 to 19 digits")
        if num(v["entries"]) != 1:
            raise CodecError("this pinpad accepts one PIN entry per GPN")
        lo, hi = num(v["min"]), num(v["max"])
        if lo < 4 or hi > 12 or lo > hi:
            raise CodecError("GPN PIN length limits out of range")
        return cls(pan, num(v["method"]), num(v["keyidx"]), lo, hi, v["msg"].rstrip(),
                   v["wkenc"])


@dataclass(frozen=True)
class PinResponse:
    pin_block: bytes
    ksn: bytes

    def to_response(self) -> Response:
        return Response("GPN", 0, (self.pin_block.hex().upper().encode()
                                   + self.ksn.hex().upper().encode(),))

    @classmethod
    def from_response(cls, rsp: Response) -> PinResponse:
        text = rsp.data.decode("latin-1")
        if len(text) != 36:
            raise CodecError("GPN response is PINBLK H16 + KSN H20")
        return cls(_hexlen(text[:16]), _hexlen(text[16:]))


# -- tables: GTS / TLI / TLR ---------------------------------------------------------


@dataclass(frozen=True)
class GtsRequest:
    acq_idx: int = 0

    def to_command(self) -> Command:
        return Command("GTS", (f"{self.acq_idx:02d}".encode(),))

    @classmethod
    def from_command(cls, cmd: Command) -> GtsRequest:
        data = _one(cmd)
        if len(data) != 2 or not data.isdigit():
            raise CodecError("GTS takes ACQIDX N2")
        return cls(int(data))


@dataclass(frozen=True)
class TliRequest:
    acq_idx: int
    version: str

    def to_command(self) -> Command:
        return Command("TLI", (f"{self.acq_idx:02d}".encode() + pack_field("A", 10, self.version),))

    @classmethod
    def from_command(cls, cmd: Command) -> TliRequest:
        data = _one(cmd)
        if len(data) != 12 or not data[:2].isdigit():
            raise CodecError("TLI takes ACQIDX N2 + TABVER A10")
        return cls(int(data[:2]), data[2:].decode("latin-1"))


@dataclass(frozen=True)
class TlrRequest:
    records: tuple[bytes, ...]

    def to_command(self) -> Command:
        return Command("TLR", (f"{len(self.records):02d}".encode() + b"".join(self.records),))

    @classmethod
    def from_command(cls, cmd: Command) -> TlrRequest:
        data = _one(cmd)
        if len(data) < 2 or not data[:2].isdigit():
            raise CodecError("TLR starts with NREC N2")
        count = int(data[:2])
        pos = 2
        records: list[bytes] = []
        for _ in range(count):
            head = data[pos : pos + 3]
            if len(head) < 3 or not head.isdigit() or int(head) < 6:
                raise CodecError("TLR record length invalid", 21)
            rec = data[pos : pos + int(head)]
            if len(rec) != int(head):
                raise CodecError("TLR record cut short", 21)
            records.append(rec)
            pos += int(head)
        if pos != len(data):
            raise CodecError("TLR holds bytes past its records", 21)
        return cls(tuple(records))


# -- GCR -----------------------------------------------------------------------------

GCR_SPECS: list[Spec] = [
    ("acqidx", "N", 2), ("apptyp", "N", 2), ("amount", "N", 12), ("date", "N", 6),
    ("time", "N", 6), ("tabver", "A", 10), ("qtdapp", "N", 2),
]


@dataclass(frozen=True)
class GcrRequest:
    amount: int
    date: str  # YYMMDD
    time: str  # HHMMSS
    table_version: str
    acq_idx: int = 0
    app_type: int = 99
    apps: tuple[tuple[int, str], ...] = ()  # (acquirer, record index) when app_type is 00
    ctls: bool | None = None
    # GCX's SPE_TRNCURR (ICC only, §3.7.1): the Transaction Currency Code (5F2A) for every
    # candidate application instead of T1_TRNCURR; the classic GCR has no such field
    currency: int | None = None

    def to_command(self) -> Command:
        body = pack(GCR_SPECS, {
            "acqidx": self.acq_idx, "apptyp": self.app_type, "amount": self.amount,
            "date": self.date, "time": self.time, "tabver": self.table_version,
            "qtdapp": len(self.apps),
        })
        body += b"".join(f"{a:02d}{r:>2}".encode() for a, r in self.apps)
        if self.ctls is not None:
            body += b"1" if self.ctls else b"0"
        return Command("GCR", (body,))

    @classmethod
    def from_command(cls, cmd: Command) -> GcrRequest:
        data = _one(cmd)
        v, pos = unpack(GCR_SPECS, data)
        n = num(v["qtdapp"])
        apps = []
        for i in range(n):
            ida = data[pos + 4 * i : pos + 4 * i + 4].decode("latin-1")
            if len(ida) != 4 or not ida[:2].isdigit():
                raise CodecError("GCR application list cut short")
            apps.append((int(ida[:2]), ida[2:]))
        pos += 4 * n
        rest = data[pos:]
        if rest not in (b"", b"0", b"1"):
            raise CodecError("GCR has unexpected bytes after the application list")
        # no lower bound: "um valor zerado deve ser aceito normalmente pelo pinpad, cabendo ao
        # cartão a decisão de acatá-lo" (§6.8.6.2); N12 cannot be negative
        return cls(num(v["amount"]), v["date"], v["time"], v["tabver"], num(v["acqidx"]),
                   num(v["apptyp"]), tuple(apps), None if not rest else rest == b"1")


GCR_RSP_SPECS: list[Spec] = [
    ("cardtype", "N", 2), ("statchip", "N", 1), ("apptype", "N", 2), ("acqidx", "N", 2),
    ("recidx", "A", 2), *TRACK_SPECS, ("panlen", "N", 2), ("pan", "A", 19),
    ("panseqno", "N", 2), ("applabel", "A", 16), ("srvcode", "N", 3), ("chname", "A", 26),
    ("cardexp", "N", 6), ("ruf", "N", 29), ("isscntry", "N", 3), ("acqrdlen", "N", 3),
]
CARD_MAGSTRIPE, CARD_ICC, CARD_CTLS_MAG, CARD_CTLS_EMV = 0, 3, 5, 6


@dataclass(frozen=True)
class GcrResponse:
    card_type: int
    stat_chip: int
    app_type: int
    acq_idx: int
    rec_idx: str
    track1: str
    track2: str
    track3: str
    pan: str
    pan_seq: int
    app_label: str
    service_code: str
    holder_name: str
    expiry: str  # YYMMDD
    issuer_country: str
    acq_data: bytes = b""

    def to_response(self) -> Response:
        body = pack(GCR_RSP_SPECS, {
            "cardtype": self.card_type, "statchip": self.stat_chip, "apptype": self.app_type,
            "acqidx": self.acq_idx, "recidx": self.rec_idx, "trk1len": len(self.track1),
            "trk1": self.track1, "trk2len": len(self.track2), "trk2": self.track2,
            "trk3len": len(self.track3), "trk3": self.track3, "panlen": len(self.pan),
            "pan": self.pan, "panseqno": self.pan_seq, "applabel": self.app_label,
            "srvcode": self.service_code or "0", "chname": self.holder_name,
            "cardexp": self.expiry or "0", "ruf": 0, "isscntry": self.issuer_country or "0",
            "acqrdlen": len(self.acq_data),
        }) + self.acq_data
        return Response("GCR", 0, (body,))

    @classmethod
    def from_response(cls, rsp: Response) -> GcrResponse:
        v, pos = unpack(GCR_RSP_SPECS, rsp.data, strict=False)
        t1, t2, t3 = unpack_tracks(v)
        return cls(num(v["cardtype"]), num(v["statchip"]), num(v["apptype"]), num(v["acqidx"]),
                   v["recidx"], t1, t2, t3, v["pan"][: num(v["panlen"])], num(v["panseqno"]),
                   v["applabel"].rstrip(), v["srvcode"], v["chname"].rstrip(), v["cardexp"],
                   v["isscntry"], rsp.data[pos : pos + num(v["acqrdlen"])])


# -- GOC / FNC / CNG -----------------------------------------------------------------

GOC_SPECS: list[Spec] = [
    ("amount", "N", 12), ("cashback", "N", 12), ("exclist", "N", 1), ("connect", "N", 1),
    ("ruf", "N", 1), ("method", "N", 1), ("keyidx", "N", 2), ("wkenc", "H", 32),
    ("riskman", "N", 1), ("flrlimit", "H", 8), ("tpbrs", "N", 2), ("tvbrs", "H", 8),
    ("mtpbrs", "N", 2), ("acqprlen", "N", 3),
]


def _tag_list_block(tags: tuple[int, ...]) -> bytes:
    hexed = "".join(f"{t:X}" if t > 0xFF else f"{t:02X}" for t in tags)
    return f"{len(hexed) // 2:03d}{hexed}".encode()


def _parse_tag_list(data: bytes) -> tuple[int, ...]:
    """A TAGSLEN N3 (bytes) + concatenated tag ids block, e.g. ``011829F27…``."""
    if len(data) < 3 or not data[:3].isdigit():
        raise CodecError("tag list length is not three digits")
    n = int(data[:3])
    raw = _hexlen(data[3 : 3 + 2 * n].decode("latin-1"))
    if len(raw) != n:
        raise CodecError("tag list shorter than its length")
    tags: list[int] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        i += 1
        if t & 0x1F == 0x1F:
            while True:
                if i >= len(raw):
                    raise CodecError("tag list ends inside a tag")
                t = (t << 8) | raw[i]
                i += 1
                if not raw[i - 1] & 0x80:
                    break
        tags.append(t)
    return tuple(tags)


def _hex_tlv_field(data: bytes, pos: int, width: int) -> tuple[bytes, int]:
    n = num(data[pos : pos + width].decode("latin-1"))
    raw = _hexlen(data[pos + width : pos + width + 2 * n].decode("latin-1"))
    if len(raw) != n:
        raise CodecError("TLV data shorter than its length")
    return raw, pos + width + 2 * n


@dataclass(frozen=True)
class GocRequest:
    amount: int
    tags: tuple[int, ...]
    cashback: int = 0
    blacklisted: bool = False
    force_online: bool = False
    method: int = 3
    key_idx: int = 16
    risk_management: bool = True
    floor_limit: int = 0
    target_pct: int = 0
    threshold: int = 0
    max_target_pct: int = 0
    acq_params: bytes = b""
    tags2: tuple[int, ...] = ()
    working_key: str = "0" * 32

    def to_command(self) -> Command:
        b1 = pack(GOC_SPECS, {
            "amount": self.amount, "cashback": self.cashback, "exclist": int(self.blacklisted),
            "connect": int(self.force_online), "ruf": 0, "method": self.method,
            "keyidx": self.key_idx, "wkenc": self.working_key,
            "riskman": int(self.risk_management), "flrlimit": f"{self.floor_limit:08X}",
            "tpbrs": self.target_pct, "tvbrs": f"{self.threshold:08X}",
            "mtpbrs": self.max_target_pct, "acqprlen": len(self.acq_params),
        }) + self.acq_params
        return Command("GOC", (b1, _tag_list_block(self.tags), _tag_list_block(self.tags2)))

    @classmethod
    def from_command(cls, cmd: Command) -> GocRequest:
        # ABECS 2.12 §3.6.3 lists CMD_LEN3 and GOC_TAGS2 among GOC's fields like the other
        # two blocks (TAGS2 is kept "for historical reasons", an empty list is "000"); a
        # GOC without its third block is missing a mandatory field: 019 ST_MANDAT
        if len(cmd.blocks) < 3:
            raise CodecError("GOC needs its three blocks", 19)
        b1 = cmd.blocks[0]
        v, pos = unpack(GOC_SPECS, b1)
        acqpr = b1[pos : pos + num(v["acqprlen"])]
        if len(acqpr) != num(v["acqprlen"]) or pos + len(acqpr) != len(b1):
            raise CodecError("GOC block 1 length does not match ACQPRLEN")
        tags2 = _parse_tag_list(cmd.blocks[2])
        if num(v["method"]) > 3:
            raise CodecError("GOC method must be 0 to 3")
        return cls(num(v["amount"]), _parse_tag_list(cmd.blocks[1]), num(v["cashback"]),
                   v["exclist"] == "1", v["connect"] == "1", num(v["method"]),
                   num(v["keyidx"]), v["riskman"] == "1", int(v["flrlimit"], 16),
                   num(v["tpbrs"]), int(v["tvbrs"], 16), num(v["mtpbrs"]), acqpr, tags2,
                   v["wkenc"])


DECISION_APPROVED, DECISION_DECLINED, DECISION_ONLINE = 0, 1, 2


@dataclass(frozen=True)
class GocResponse:
    decision: int
    signature: bool = False
    offline_pin: bool = False
    # GOC_ERRPINOFF N1 is a count, "the number of invalid offline PIN presentations in
    # this transaction" (ABECS 2.12 §3.6.3), not a yes/no flag like its neighbours
    wrong_offline_pins: int = 0
    pin_blocked: bool = False
    online_pin: bool = False
    pin_block: bytes = bytes(8)
    ksn: bytes = bytes(10)
    emv_data: bytes = b""

    def to_response(self) -> Response:
        text = (f"{self.decision}{int(self.signature)}{int(self.offline_pin)}"
                f"{min(self.wrong_offline_pins, 9)}{int(self.pin_blocked)}{int(self.online_pin)}"
                f"{self.pin_block.hex().upper()}{self.ksn.hex().upper()}"
                f"{len(self.emv_data):03d}{self.emv_data.hex().upper()}000")
        return Response("GOC", 0, (text.encode(),))

    @classmethod
    def from_response(cls, rsp: Response) -> GocResponse:
        d = rsp.data
        flags = d[:6].decode("latin-1")
        if len(flags) != 6 or not flags.isdigit():
            raise CodecError("GOC response flags malformed")
        pinblk = _hexlen(d[6:22].decode("latin-1"))
        ksn = _hexlen(d[22:42].decode("latin-1"))
        emv, _ = _hex_tlv_field(d, 42, 3)
        return cls(int(flags[0]), flags[1] == "1", flags[2] == "1", int(flags[3]),
                   flags[4] == "1", flags[5] == "1", pinblk, ksn, emv)


@dataclass(frozen=True)
class FncRequest:
    comm_status: int  # 0 host answered, 1 no host, 9 approved with ARC != 00
    arc: str = "00"
    issuer_data: bytes = b""
    tags: tuple[int, ...] = ()
    # FCX only (§6.9.4.4): a tap's issuer scripts may be run on a second tap, waiting
    # SPE_TIMEOUT seconds (None: two minutes) for it; classic FNC never does (§6.8.5.4)
    via_fcx: bool = False
    card_wait: float | None = None

    def to_command(self) -> Command:
        b1 = (f"{self.comm_status}0{self.arc[:2]:<2}{len(self.issuer_data):03d}"
              f"{self.issuer_data.hex().upper()}000").encode()
        return Command("FNC", (b1, _tag_list_block(self.tags)))

    @classmethod
    def from_command(cls, cmd: Command) -> FncRequest:
        if len(cmd.blocks) < 2:
            raise CodecError("FNC needs two blocks", 19)
        b1 = cmd.blocks[0]
        head = b1[:4].decode("latin-1")
        if len(head) != 4 or head[0] not in "019" or head[1] != "0":
            raise CodecError("FNC COMMST/ISSMODE invalid")
        iss, pos = _hex_tlv_field(b1, 4, 3)
        if b1[pos:] != b"000":
            raise CodecError("FNC ACQPRLEN must be 000")
        return cls(int(head[0]), head[2:4], iss, _parse_tag_list(cmd.blocks[1]))


@dataclass(frozen=True)
class FncResponse:
    decision: int  # 0 approved, 1 declined by card, 2 declined by network
    emv_data: bytes = b""
    script_results: bytes = b""

    def to_response(self) -> Response:
        text = (f"{self.decision}{len(self.emv_data):03d}{self.emv_data.hex().upper()}"
                f"{len(self.script_results):02d}{self.script_results.hex().upper()}000")
        return Response("FNC", 0, (text.encode(),))

    @classmethod
    def from_response(cls, rsp: Response) -> FncResponse:
        d = rsp.data
        dec = num(d[:1].decode("latin-1"))
        emv, pos = _hex_tlv_field(d, 1, 3)
        isr, _ = _hex_tlv_field(d, pos, 2)
        return cls(dec, emv, isr)


@dataclass(frozen=True)
class CngRequest:
    emv_data: bytes

    def to_command(self) -> Command:
        return Command("CNG", (f"{len(self.emv_data):02d}{self.emv_data.hex().upper()}".encode(),))

    @classmethod
    def from_command(cls, cmd: Command) -> CngRequest:
        data = _one(cmd)
        raw, pos = _hex_tlv_field(data, 0, 2)
        if pos != len(data):
            raise CodecError("CNG length does not match its data")
        return cls(raw)


@dataclass(frozen=True)
class Notification:
    text: str

    def to_response(self) -> Response:
        raw = self.text.encode("latin-1", errors="replace")[:32]
        return Response("NTM", 0, (raw,))

    @classmethod
    def from_response(cls, rsp: Response) -> Notification:
        return cls(rsp.data.decode("latin-1"))

