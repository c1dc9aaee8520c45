"""Terminal configuration: the tables a reader holds, shaped like ABECS table records.

A pinpad receives its EMV parameters from the host as ABECS TLR records (AID records,
TAB_ID 1, and CAPK records, TAB_ID 2; mpos-bridge.md §4.10). The kernel reads the
same facts from a :class:`TerminalConfig`, whose :class:`AidParams` and :class:`Capk`
fields map one to one onto those records, so a pinpad converts TLR records to a
``TerminalConfig`` without loss and a pinpad loaded with wrong tables fails the way a
real one does (no AID record -> no application; no CAPK -> ODA fails).

Amounts (floor limits, contactless limits) are integers in minor units of the
transaction currency, as the records carry them (hex N8 of cents).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class AidParams:
    """One AID record (TAB_ID 1, mpos-bridge.md §4.10), field by field.

    ``partial_selection`` is not in the record: ABECS pinpads always allow partial
    AID matching for the AIDs in their tables (EMV Book 1 §12.3.1), so it defaults
    to True and a scenario may turn it off.
    """

    aid: bytes
    acq_index: int = 1  # TAB_ACQ
    rec_index: str = "01"  # TAB_RECIDX
    app_type: int = 1  # APPTYPE: 1 credit, 2 debit
    label: str = ""  # DEFLABEL
    app_versions: tuple[bytes, ...] = (b"\x00\x8c",)  # APPVER1/2/3 (9F09)
    country: int = 76  # TRMCNTRY (9F1A), Brazil
    currency: int = 986  # TRNCURR (5F2A), BRL
    currency_exponent: int = 2  # TRNCRREXP (5F36)
    merchant_id: str = "000000000000001"  # MERCHID (9F16)
    mcc: int = 5999  # MCC (9F15)
    terminal_id: str = "00000001"  # TRMID (9F1C)
    capabilities: bytes = bytes.fromhex("E0F0C8")  # TRMCAPAB (9F33)
    additional_capabilities: bytes = bytes.fromhex("7000F0F001")  # ADDTRMCP (9F40)
    terminal_type: int = 22  # TRMTYP (9F35): attended, merchant, offline with online
    tac_default: bytes = bytes.fromhex("D84004F800")  # TACDEF
    tac_denial: bytes = bytes.fromhex("0010000000")  # TACDEN
    tac_online: bytes = bytes.fromhex("D84000A800")  # TACONL
    floor_limit: int = 0  # FLRLIMIT (9F1B), minor units
    tcc: str = "R"  # TCC (9F53)
    ctls_zero_amount: bool = False  # CTLSZEROAM
    ctls_mode: str = "1"  # CTLSMODE ("0" off; anything else on)
    ctls_txn_limit: int = 99999999  # CTLSTRNLIM
    ctls_floor_limit: int = 0  # CTLSFLRLIM
    ctls_cvm_limit: int = 5000  # CTLSCVMLIM
    ctls_app_version: bytes = b"\x00\x02"  # CTLSAPPVER (9F6D)
    tdol: bytes = bytes.fromhex("9F02065F2A029A039C0195059F3704")  # TDOLDEF
    ddol: bytes = bytes.fromhex("9F3704")  # DDOLDEF
    arc_offline: str = "Y1Z1Y3Z3"  # ARCOFFLN
    ctls_tac_default: bytes | None = None  # CTLSTACDEF (v2.0x records)
    ctls_tac_denial: bytes | None = None  # CTLSTACDEN
    ctls_tac_online: bytes | None = None  # CTLSTACONL
    ctls_capabilities: bytes | None = None  # CTLSTRMCP (v2.1x records)
    mobile_cvm: bool = True  # MOBCVM: accept on-device CVM (CDCVM)
    ctls_add_capabilities: bytes | None = None  # CTLSADDTC (9F40 on a tap; None: ADDTRMCP)
    ctls_mobile_limit: int | None = None  # CTLSMBTLIM: a phone's limit (None: CTLSTRNLIM)
    ctls_issuer_scripts: bool = False  # CTLSISSSCR: issuer update processing on a tap
    # The reader takes PayPass mag-stripe mode for this AID. ABECS 2.12 §6.8.1.3 turns it
    # off for debit records (Maestro: Terminal Risk Management Data byte 3 bit 8).
    ctls_magstripe: bool = True
    # Visa MSD (TTQ byte 1 bit 8). ABECS 2.12 §6.8.1.3 fixes it at 0 ("MSD Supported 0
    # (fixo)"), so an ABECS pinpad never offers it; other readers may.
    ctls_msd: bool = False
    partial_selection: bool = True
    brand: str = ""
    # Random transaction selection (EMV Book 3 §10.6.2); in ABECS it arrives with GOC.
    random_target_percent: int = 20
    random_max_percent: int = 80
    random_threshold: int = 0

    @property
    def ctls_enabled(self) -> bool:
        return self.ctls_mode not in ("", "0")

    def terminal_tags(self) -> dict[int, bytes]:
        """The terminal data objects this record supplies to the kernel (§4.7)."""
        return {
            0x9F09: self.app_versions[0],
            0x9F1A: _n(self.country, 2),
            0x5F2A: _n(self.currency, 2),
            0x5F36: _n(self.currency_exponent, 1),
            0x9F16: self.merchant_id.encode("ascii")[:15].ljust(15),
            0x9F15: _n(self.mcc, 2),
            0x9F1C: self.terminal_id.encode("ascii")[:8].ljust(8),
            0x9F33: self.capabilities,
            0x9F40: self.additional_capabilities,
            0x9F35: _n(self.terminal_type, 1),
            0x9F1B: self.floor_limit.to_bytes(4, "big"),
            0x9F53: self.tcc.encode("ascii")[:1],
            0x9F6D: self.ctls_app_version,
        }


@dataclass(frozen=True)
class Capk:
    """One CAPK record (TAB_ID 2, mpos-bridge.md §4.10)."""

    rid: bytes
    index: int  # CAPKIDX (9F22)
    exponent: bytes
    modulus: bytes
    checksum: bytes | None = None  # CHECKSUM: SHA-1(RID | index | modulus | exponent)
    acq_index: int = 1
    rec_index: str = "01"

    def expected_checksum(self) -> bytes:
        return hashlib.sha1(
            self.rid + bytes([self.index]) + self.modulus + self.exponent
        ).digest()

    @property
    def checksum_ok(self) -> bool:
        """A record whose checksum does not match is unusable, as on a real reader."""
        return self.checksum is None or self.checksum == self.expected_checksum()


@dataclass(frozen=True)
class RevokedCert:
    """A revoked issuer certificate (TAB_ID 3): RID, CAPK index, certificate serial."""

    rid: bytes
    index: int
    serial: bytes


@dataclass(frozen=True)
class TerminalConfig:
    """Everything the reader knows before a card arrives."""

    aids: tuple[AidParams, ...] = ()
    capks: tuple[Capk, ...] = ()
    revoked: tuple[RevokedCert, ...] = ()
    table_version: str = "0000000001"
    # Terminal-wide facts not in the AID record.
    ifd_serial: str = "CLOOP001"  # 9F1E
    language: str = "pt"
    supports_pse: bool = True
    exception_pans: frozenset[str] = field(default_factory=frozenset)

    def aid(self, aid: bytes) -> AidParams | None:
        """The AID record matching ``aid`` exactly, or by partial selection."""
        for rec in self.aids:
            if rec.aid == aid:
                return rec
        for rec in self.aids:
            if rec.partial_selection and aid.startswith(rec.aid):
                return rec
        return None

    def capk(self, rid: bytes, index: int) -> Capk | None:
        for key in self.capks:
            if key.rid == rid and key.index == index and key.checksum_ok:
                return key
        return None

    def is_revoked(self, rid: bytes, index: int, serial: bytes) -> bool:
        return any(r.rid == rid and r.index == index and r.serial == serial for r in self.revoked)

    def without_capks(self) -> TerminalConfig:
        return replace(self, capks=())

    def with_aids(self, aids: Iterable[AidParams]) -> TerminalConfig:
        return replace(self, aids=tuple(aids))


def _n(value: int, length: int) -> bytes:
    """Numeric (BCD) encoding of ``value`` in ``length`` bytes."""
    return bytes.fromhex(str(value).rjust(length * 2, "0"))
