"""EMV tables in the pinpad (mpos-bridge.md §4.6 TLI/TLR/TLE/GTS and §4.10 records).

Records are kept as parsed dataclasses; the pinpad loads them with TLI → TLR… → TLE
into a temporary area and commits on TLE, either for one acquirer or for all at once
(the "unified" version, acquirer ``00``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from virtual_devices.abecs.fields import CodecError, Spec, num, pack, unpack

HEADER: list[Spec] = [("tab_len", "N", 3), ("tab_id", "N", 1), ("acq", "N", 2), ("recidx", "A", 2)]

AID_SPECS: list[Spec] = [
    ("aidlen", "N", 2), ("aid", "H", 32), ("apptype", "N", 2), ("label", "S", 16),
    ("iccstd", "N", 2), ("appver1", "H", 4), ("appver2", "H", 4), ("appver3", "H", 4),
    ("country", "N", 3), ("currency", "N", 3), ("exponent", "N", 1), ("merchant_id", "A", 15),
    ("mcc", "N", 4), ("terminal_id", "A", 8), ("capabilities", "H", 6),
    ("add_capabilities", "H", 10), ("terminal_type", "N", 2), ("tac_default", "H", 10),
    ("tac_denial", "H", 10), ("tac_online", "H", 10), ("floor_limit", "H", 8), ("tcc", "A", 1),
    ("ctls_zero_amount", "A", 1), ("ctls_mode", "A", 1), ("ctls_txn_limit", "H", 8),
    ("ctls_floor_limit", "H", 8), ("ctls_cvm_limit", "H", 8), ("ctls_appver", "H", 4),
    ("ruf1", "N", 1), ("tdol", "H", 40), ("ddol", "H", 40), ("arc_offline", "A", 8),
]
# v2.0x records (314 bytes) add the contactless action codes; 2.1x records (340 bytes)
# add the contactless capabilities, mobile CVM, mobile limit and issuer scripts (§4.1.1).
AID_V20_SPECS: list[Spec] = [
    ("ctls_tac_default", "H", 10), ("ctls_tac_denial", "H", 10), ("ctls_tac_online", "H", 10),
]
AID_V21_SPECS: list[Spec] = [
    ("ctls_capabilities", "H", 6), ("mobile_cvm", "N", 1), ("ctls_add_capabilities", "H", 10),
    ("ctls_mobile_limit", "H", 8), ("ctls_issuer_scripts", "N", 1),
]
CAPK_SPECS: list[Spec] = [
    ("rid", "H", 10), ("index", "H", 2), ("ruf1", "N", 2), ("explen", "N", 1), ("exp", "H", 6),
    ("modlen", "N", 3), ("mod", "H", 496), ("chkstat", "N", 1), ("checksum", "H", 40),
    ("ruf2", "N", 42),
]
AID_LEN = 8 + sum(w for _, _, w in AID_SPECS)  # 284 (BibComp layout, as libabecs sends)
AID_V20_LEN = AID_LEN + sum(w for _, _, w in AID_V20_SPECS)  # 314
AID_V21_LEN = AID_V20_LEN + sum(w for _, _, w in AID_V21_SPECS)  # 340
CAPK_LEN = 8 + sum(w for _, _, w in CAPK_SPECS)  # 611
REVOKED_LEN = 26


@dataclass(frozen=True)
class AidRecord:
    acquirer: int
    record_index: str
    aid: bytes
    app_type: int  # 1 credit, 2 debit
    label: str
    app_versions: tuple[str, str, str] = ("008C", "0000", "0000")
    country: int = 76
    currency: int = 986
    exponent: int = 2
    merchant_id: str = "000000000000001"
    mcc: int = 4816
    terminal_id: str = "00000001"
    capabilities: str = "E0F0E8"
    add_capabilities: str = "7000F0F001"
    terminal_type: int = 22
    tac_default: str = "D84004F800"
    tac_denial: str = "0010000000"
    tac_online: str = "D84000A800"
    floor_limit: int = 0
    tcc: str = "P"
    tdol: str = "9F02065F2A029A039C0195059F3704"
    ddol: str = "9F3704"
    arc_offline: str = "Y1Z1Y3Z3"
    icc_std: int = 3
    # contactless fields (§4.1.1); absent ones take the defaults the section gives
    ctls_zero_amount: str = "0"  # "1": a zero amount is accepted, online only
    ctls_mode: str = "0"  # "0": the AID is not used on the contactless interface
    ctls_txn_limit: int = 0  # contactless not allowed at or above it (2.10: "equal or above")
    ctls_floor_limit: int = 0
    ctls_cvm_limit: int = 0
    ctls_app_version: str = "0000"  # 9F6D
    ctls_tac_default: str | None = None  # None: T1_TACDEF
    ctls_tac_denial: str | None = None
    ctls_tac_online: str | None = None
    ctls_capabilities: str | None = None  # None: T1_TRMCAPAB
    mobile_cvm: bool = False
    ctls_add_capabilities: str | None = None  # None: T1_ADDTRMCP
    ctls_mobile_limit: int | None = None  # None: T1_CTLSTRNLIM
    ctls_issuer_scripts: bool = False
    layout: int = AID_LEN  # 284, 314 or 340: the record size to send

    @property
    def ctls_enabled(self) -> bool:
        return self.ctls_mode not in ("", "0")

    def encode(self) -> bytes:
        body = pack(AID_SPECS, {
            "aidlen": len(self.aid), "aid": self.aid, "apptype": self.app_type,
            "label": self.label, "iccstd": self.icc_std, "appver1": self.app_versions[0],
            "appver2": self.app_versions[1], "appver3": self.app_versions[2],
            "country": self.country, "currency": self.currency, "exponent": self.exponent,
            "merchant_id": self.merchant_id, "mcc": self.mcc, "terminal_id": self.terminal_id,
            "capabilities": self.capabilities, "add_capabilities": self.add_capabilities,
            "terminal_type": self.terminal_type, "tac_default": self.tac_default,
            "tac_denial": self.tac_denial, "tac_online": self.tac_online,
            "floor_limit": f"{self.floor_limit:08X}", "tcc": self.tcc,
            "ctls_zero_amount": self.ctls_zero_amount, "ctls_mode": self.ctls_mode,
            "ctls_txn_limit": f"{self.ctls_txn_limit:08X}",
            "ctls_floor_limit": f"{self.ctls_floor_limit:08X}",
            "ctls_cvm_limit": f"{self.ctls_cvm_limit:08X}", "ctls_appver": self.ctls_app_version,
            "ruf1": 0, "tdol": self.tdol, "ddol": self.ddol, "arc_offline": self.arc_offline,
        })
        if self.layout >= AID_V20_LEN:
            body += pack(AID_V20_SPECS, {
                "ctls_tac_default": self.ctls_tac_default or self.tac_default,
                "ctls_tac_denial": self.ctls_tac_denial or self.tac_denial,
                "ctls_tac_online": self.ctls_tac_online or self.tac_online,
            })
        if self.layout >= AID_V21_LEN:
            limit = (self.ctls_txn_limit if self.ctls_mobile_limit is None
                     else self.ctls_mobile_limit)
            body += pack(AID_V21_SPECS, {
                "ctls_capabilities": self.ctls_capabilities or self.capabilities,
                "mobile_cvm": int(self.mobile_cvm),
                "ctls_add_capabilities": self.ctls_add_capabilities or self.add_capabilities,
                "ctls_mobile_limit": f"{limit:08X}",
                "ctls_issuer_scripts": int(self.ctls_issuer_scripts),
            })
        return _header(1, self.acquirer, self.record_index, len(body)) + body

    @classmethod
    def decode(cls, acq: int, recidx: str, data: bytes) -> AidRecord:
        v, pos = unpack(AID_SPECS, data)
        extra: dict[str, Any] = {"layout": AID_LEN}
        if len(data) + 8 >= AID_V20_LEN:
            c, pos2 = unpack(AID_V20_SPECS, data[pos:])
            extra.update(layout=AID_V20_LEN, ctls_tac_default=c["ctls_tac_default"],
                         ctls_tac_denial=c["ctls_tac_denial"],
                         ctls_tac_online=c["ctls_tac_online"])
            pos += pos2
        if len(data) + 8 >= AID_V21_LEN:
            c, _ = unpack(AID_V21_SPECS, data[pos:])
            extra.update(layout=AID_V21_LEN, ctls_capabilities=c["ctls_capabilities"],
                         mobile_cvm=c["mobile_cvm"] == "1",
                         ctls_add_capabilities=c["ctls_add_capabilities"],
                         ctls_mobile_limit=int(c["ctls_mobile_limit"], 16),
                         ctls_issuer_scripts=c["ctls_issuer_scripts"] == "1")
        n = num(v["aidlen"])
        if not 5 <= n <= 16:
            raise CodecError("AID length out of range", 21)
        return cls(acq, recidx, bytes.fromhex(v["aid"])[:n], num(v["apptype"]),
                   v["label"].rstrip(), (v["appver1"], v["appver2"], v["appver3"]),
                   num(v["country"]), num(v["currency"]), num(v["exponent"]),
                   v["merchant_id"], num(v["mcc"]), v["terminal_id"], v["capabilities"],
                   v["add_capabilities"], num(v["terminal_type"]), v["tac_default"],
                   v["tac_denial"], v["tac_online"], int(v["floor_limit"], 16), v["tcc"],
                   _trim_dol(v["tdol"]), _trim_dol(v["ddol"]), v["arc_offline"],
                   num(v["iccstd"]), ctls_zero_amount=v["ctls_zero_amount"],
                   ctls_mode=v["ctls_mode"], ctls_txn_limit=int(v["ctls_txn_limit"], 16),
                   ctls_floor_limit=int(v["ctls_floor_limit"], 16),
                   ctls_cvm_limit=int(v["ctls_cvm_limit"], 16),
                   ctls_app_version=v["ctls_appver"], **extra)


def _trim_dol(hexed: str) -> str:
    """DOLs are left-aligned and zero filled; keep the part that holds tag/length pairs."""
    raw = bytes.fromhex(hexed)
    i = 0
    while i < len(raw) and raw[i] != 0:
        first = raw[i]
        i += 1
        if first & 0x1F == 0x1F:
            while i < len(raw) and raw[i] & 0x80:
                i += 1
            i += 1
        i += 1  # length byte
    return raw[:i].hex().upper()


@dataclass(frozen=True)
class CapkRecord:
    acquirer: int
    record_index: str
    rid: bytes
    index: int
    exponent: bytes
    modulus: bytes
    checksum: bytes | None = None

    def encode(self) -> bytes:
        body = pack(CAPK_SPECS, {
            "rid": self.rid, "index": f"{self.index:02X}", "ruf1": 0,
            "explen": len(self.exponent), "exp": self.exponent, "modlen": len(self.modulus),
            "mod": self.modulus, "chkstat": 1 if self.checksum else 0,
            "checksum": self.checksum or b"", "ruf2": 0,
        })
        return _header(2, self.acquirer, self.record_index, len(body)) + body

    @classmethod
    def decode(cls, acq: int, recidx: str, data: bytes) -> CapkRecord:
        v, _ = unpack(CAPK_SPECS, data)
        explen, modlen = num(v["explen"]), num(v["modlen"])
        if explen not in (1, 3) or not 1 <= modlen <= 248:
            raise CodecError("CAPK exponent or modulus length out of range", 21)
        chk = bytes.fromhex(v["checksum"]) if v["chkstat"] == "1" else None
        return cls(acq, recidx, bytes.fromhex(v["rid"]), int(v["index"], 16),
                   bytes.fromhex(v["exp"])[:explen], bytes.fromhex(v["mod"])[:modlen], chk)


@dataclass(frozen=True)
class RevokedRecord:
    acquirer: int
    record_index: str
    rid: bytes
    index: int
    serial: bytes

    def encode(self) -> bytes:
        body = f"{self.rid.hex().upper()}{self.index:02X}{self.serial.hex().upper()}".encode()
        return _header(3, self.acquirer, self.record_index, len(body)) + body


Record = AidRecord | CapkRecord | RevokedRecord


def _header(tab_id: int, acq: int, recidx: str, body_len: int) -> bytes:
    return pack(HEADER, {"tab_len": body_len + 8, "tab_id": tab_id, "acq": acq,
                         "recidx": recidx})


@lru_cache(maxsize=1024)
def decode_record(raw: bytes) -> Record:
    """Parse one TLR record; raises :class:`CodecError` for a record to drop.

    Records are immutable and a host loads the same few into every pinpad it opens
    (each virtual sale's pinpad, a thousand terminals' pinpads), so a record already
    read is not parsed again; a bad one is (errors are not remembered).
    """
    h, pos = unpack(HEADER, raw)
    tab_id, acq, recidx = num(h["tab_id"]), num(h["acq"]), h["recidx"]
    if not 1 <= acq <= 99:
        raise CodecError("record acquirer out of range", 21)
    body = raw[pos:]
    if tab_id == 1 and len(raw) >= AID_LEN:
        # 284, 314 and 340 are the known layouts; longer records are a future
        # specification's and their extra bytes are ignored (§4.1.1 TAB_LEN)
        return AidRecord.decode(acq, recidx, body[: AID_V21_LEN - 8])
    if tab_id == 2 and len(raw) == CAPK_LEN:
        return CapkRecord.decode(acq, recidx, body)
    if tab_id == 3 and len(raw) == REVOKED_LEN:
        text = body.decode("latin-1")
        return RevokedRecord(acq, recidx, bytes.fromhex(text[:10]), int(text[10:12], 16),
                             bytes.fromhex(text[12:18]))
    raise CodecError(f"record type {tab_id} of {len(raw)} bytes not understood", 21)


NO_VERSION = "0000000000"
# Non-volatile memory for table records (PP_TLRMEM reports what is left). §6.1.2 asks
# for 160 AID and 80 CAPK records, "around 96 KB" unoptimised; this pinpad has 100 000
# bytes, a little over that minimum.
TABLE_MEMORY = 100_000


@dataclass
class TableStore:
    """Committed tables and their versions, plus the load in progress."""

    records: list[Record] = field(default_factory=list)
    unified_version: str | None = None
    versions: dict[int, str] = field(default_factory=dict)
    _loading: int | None = None
    _load_version: str = ""
    _pending: list[Record] = field(default_factory=list)
    _got_tlr: bool = False
    dropped: int = 0
    capacity: int = TABLE_MEMORY
    # bytes of committed records (as loaded, TAB_LEN), per acquirer index
    _bytes: dict[int, int] = field(default_factory=dict)
    _pending_bytes: dict[int, int] = field(default_factory=dict)

    @property
    def free_bytes(self) -> int:
        return max(0, self.capacity - sum(self._bytes.values()))

    def version(self, acq: int) -> str:
        if acq == 0:
            return self.unified_version or NO_VERSION
        if self.unified_version is not None:
            return self.unified_version
        return self.versions.get(acq, NO_VERSION)

    def begin(self, acq: int, version: str) -> bool:
        """TLI: start a load; True when the version equals the one held."""
        same = self.version(acq) == version
        self._loading = acq
        self._load_version = version
        self._pending = []
        self._pending_bytes = {}
        self._got_tlr = False
        return same

    @property
    def loading(self) -> bool:
        return self._loading is not None

    def add(self, raws: tuple[bytes, ...]) -> None:
        """TLR: keep good records of the acquirer being loaded, drop the others."""
        assert self._loading is not None
        self._got_tlr = True
        for raw in raws:
            try:
                rec = decode_record(raw)
            except (CodecError, ValueError):
                self.dropped += 1
                continue
            if self._loading != 0 and rec.acquirer != self._loading:
                self.dropped += 1
                continue
            self._pending.append(rec)
            self._pending_bytes[rec.acquirer] = self._pending_bytes.get(rec.acquirer, 0) + len(raw)

    def commit(self) -> bool:
        """TLE: replace the acquirer's tables (all of them for a unified load). False
        (ST_TABERR, §6.7.4) when the new set does not fit the memory: the previous
        tables stay, as TLR kept the new records apart for exactly that case (§6.7.3)."""
        assert self._loading is not None
        acq = self._loading
        kept_bytes = {} if acq == 0 else {a: n for a, n in self._bytes.items() if a != acq}
        total = sum(kept_bytes.values()) + sum(self._pending_bytes.values())
        if total > self.capacity:
            self._loading = None
            self._pending, self._pending_bytes = [], {}
            return False
        self._bytes = {**kept_bytes, **self._pending_bytes}
        if acq == 0:
            self.records = list(self._pending)
            self.unified_version = self._load_version
            self.versions.clear()
        else:
            kept = [r for r in self.records if r.acquirer != acq]
            self.records = kept + self._pending
            self.versions[acq] = self._load_version
            self.unified_version = None
        self._loading = None
        self._pending, self._pending_bytes = [], {}
        return True

    def aids(self) -> list[AidRecord]:
        return [r for r in self.records if isinstance(r, AidRecord)]

    def capks(self) -> list[CapkRecord]:
        return [r for r in self.records if isinstance(r, CapkRecord)]

    def find_capk(self, rid: bytes, index: int) -> CapkRecord | None:
        for r in self.capks():
            if r.rid == rid and r.index == index:
                return r
        return None


def record_fields(rec: Record) -> dict[str, object]:
    return {f.name: getattr(rec, f.name) for f in fields(rec)}


def records_from_config(config: Any) -> list[bytes]:
    """TLR records for a kernel :class:`TerminalConfig` (AIDs as 284-byte records, CAPKs).

    The inverse of what the pinpad does when it hands its tables to the kernel, so the
    acquirer's table set reaches a pinpad exactly as a TMS would send it.
    """
    out: list[bytes] = []
    for p in config.aids:
        versions = [v.hex().upper() for v in p.app_versions] + ["0000"] * 3
        out.append(AidRecord(
            acquirer=p.acq_index, record_index=p.rec_index, aid=p.aid, app_type=p.app_type,
            label=p.label, app_versions=(versions[0], versions[1], versions[2]),
            country=p.country, currency=p.currency, exponent=p.currency_exponent,
            merchant_id=p.merchant_id, mcc=p.mcc, terminal_id=p.terminal_id,
            capabilities=p.capabilities.hex().upper(),
            add_capabilities=p.additional_capabilities.hex().upper(),
            terminal_type=p.terminal_type, tac_default=p.tac_default.hex().upper(),
            tac_denial=p.tac_denial.hex().upper(), tac_online=p.tac_online.hex().upper(),
            floor_limit=p.floor_limit, tcc=p.tcc, tdol=p.tdol.hex().upper(),
            ddol=p.ddol.hex().upper(), arc_offline=p.arc_offline, **ctls_fields(p),
        ).encode())
    for k in config.capks:
        out.append(CapkRecord(k.acq_index, k.rec_index, k.rid, k.index, k.exponent, k.modulus,
                              k.checksum).encode())
    return out


def ctls_fields(p: Any) -> dict[str, Any]:
    """The contactless fields of a kernel ``AidParams`` as a 340-byte record holds them."""
    hexed = lambda b: None if b is None else b.hex().upper()  # noqa: E731
    return {
        "ctls_zero_amount": "1" if p.ctls_zero_amount else "0", "ctls_mode": p.ctls_mode,
        "ctls_txn_limit": min(p.ctls_txn_limit, 0xFFFFFFFF),
        "ctls_floor_limit": p.ctls_floor_limit, "ctls_cvm_limit": p.ctls_cvm_limit,
        "ctls_app_version": p.ctls_app_version.hex().upper(),
        "ctls_tac_default": hexed(p.ctls_tac_default), "ctls_tac_denial": hexed(p.ctls_tac_denial),
        "ctls_tac_online": hexed(p.ctls_tac_online),
        "ctls_capabilities": hexed(p.ctls_capabilities), "mobile_cvm": bool(p.mobile_cvm),
        "ctls_add_capabilities": hexed(p.ctls_add_capabilities),
        "ctls_mobile_limit": p.ctls_mobile_limit, "ctls_issuer_scripts": p.ctls_issuer_scripts,
        "layout": AID_V21_LEN,
    }
