"""The contact EMV kernel (EMV 4.4 Book 3 §10, Book 4 §6-§11), sans-I/O.

:class:`ContactKernel` is a set of generators that yield :mod:`messages` requests
(APDUs, cardholder questions, the online request) and are resumed with the answers.
The phases follow the ABECS split a pinpad needs (mpos-bridge.md §4.7-§4.9):

``select_and_read()``   GCR: application selection, GPO, READ RECORD
``go_on_chip(params)``  GOC: ODA, restrictions, CVM, TRM, TAA, first GENERATE AC
``finish(response)``    FNC: issuer authentication, scripts, second GENERATE AC

and :meth:`ContactKernel.run` chains them with the online request in the middle.
Phases raise :class:`KernelStop` to end a transaction; :meth:`stopped` turns it into
an :class:`Outcome`. Nothing here sleeps, reads a clock or opens a port: the date and
time come with the :class:`Txn`, randomness from the ``random.Random`` handed in.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from simulator.masking import mask_pan
from virtual_devices.emv import tlv
from virtual_devices.emv.apdu import Command, Response, sw_name
from virtual_devices.emv.kernel import bits as B
from virtual_devices.emv.kernel import oda
from virtual_devices.emv.kernel.messages import (
    CANCEL,
    NO_ANSWER,
    Apdu,
    AuthRequest,
    Candidate,
    ChooseApp,
    Display,
    GoOnline,
    Interface,
    IssuerResponse,
    KernelStop,
    Outcome,
    Request,
    Status,
)
from virtual_devices.emv.terminal import AidParams, TerminalConfig

Gen = Generator[Request, Any, Any]

PSE = b"1PAY.SYS.DDF01"
PPSE = b"2PAY.SYS.DDF01"

DECISION_APPROVED = 0
DECISION_DECLINED = 1
DECISION_ONLINE = 2

# Objects a pinpad never hands out in the GOC/FNC tag data (mpos-bridge.md §4.8).
SENSITIVE_TAGS = frozenset({0x5A, 0x57, 0x56, 0x9F6B, 0x9F1F, 0x9F20, 0x5F20, 0x99})

# Terminal data objects that enter the cryptogram (Book 2 §8.1.1 minimum set).
CRYPTOGRAM_TERMINAL_TAGS = (0x9F02, 0x9F03, 0x9F1A, 0x95, 0x5F2A, 0x9A, 0x9C, 0x9F37)

# Templates whose primitive children are recorded from READ RECORD answers.
_CID_NAMES = {0x00: "AAC", 0x40: "TC", 0x80: "ARQC"}


@dataclass(frozen=True)
class Txn:
    """One transaction as the POS asks for it; amounts in minor units."""

    amount: int
    other_amount: int = 0
    type: int = 0x00  # 9C: 00 goods/services, 01 cash, 09 cashback, 20 refund
    when: datetime = datetime(2026, 11, 25, 12, 0, 0)
    force_online: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("amount must be an integer in minor units")
        if not 0 <= self.amount <= 999_999_999_999:
            raise ValueError("amount out of range for n12")

    @property
    def today(self) -> date:
        return self.when.date()


@dataclass(frozen=True)
class GocParams:
    """What GOC adds to the tables (mpos-bridge.md §4.8 block 1)."""

    exception_file: bool = False  # EXCLIST
    force_online: bool = False  # CONNECT
    risk_management: bool = True  # RISKMAN
    floor_limit: int | None = None  # FLRLIMIT, overrides the AID record
    target_percent: int | None = None  # TPBRS
    threshold: int | None = None  # TVBRS
    max_percent: int | None = None  # MTPBRS
    pin_bypass: bool = True  # ACQPR (acquirer 01): PIN bypass allowed


def bcd(value: int, length: int) -> bytes:
    return bytes.fromhex(str(value).rjust(length * 2, "0")[-length * 2 :])


def _yymmdd(data: bytes) -> date:
    s = data.hex()
    yy, mm, dd = int(s[0:2]), int(s[2:4]), int(s[4:6])
    return date(2000 + yy if yy < 50 else 1900 + yy, mm, dd)


@dataclass
class TraceLine:
    """One APDU exchange for the CLI trace (masked when printed)."""

    label: str
    command: bytes
    response: bytes


@dataclass
class CardData:
    """What the terminal read from the card: every primitive tag, first occurrence."""

    tags: dict[int, bytes] = field(default_factory=dict)
    oda_records: bytearray = field(default_factory=bytearray)
    oda_record_ok: bool = True

    @property
    def pan(self) -> str:
        return self.tags.get(0x5A, b"").hex().upper().rstrip("F")

    @property
    def psn(self) -> str:
        return self.tags[0x5F34].hex() if 0x5F34 in self.tags else "00"


class ContactKernel:
    """One transaction with one card on one interface.

    ``online_capable`` follows the terminal type (9F35) unless given; a pinpad whose
    host link is down passes ``False``.
    """

    interface: Interface = "contact"

    def __init__(
        self,
        config: TerminalConfig,
        txn: Txn,
        rng: random.Random,
        online_capable: bool | None = None,
    ) -> None:
        self.config = config
        self.txn = txn
        self.rng = rng
        self.tvr = B.BitField(5)
        self.tsi = B.BitField(2)
        self.card = CardData()
        self.trace: list[TraceLine] = []
        self.candidates: list[Candidate] = []
        self.app: AidParams | None = None
        self.selected: Candidate | None = None
        self.pdol_data = b""
        self.cdol1_data = b""
        self.cdol2_data = b""
        self.oda_method = ""
        self.oda_ok: bool | None = None
        self.icc_key: oda.PublicKey | None = None
        self.cvm = ""
        self.cvm_results = bytes.fromhex("3F0000")
        self.signature = False
        self.online_pin: str | None = None
        self.first_cid = -1
        self.final_cid = -1
        self.arc = ""
        self.auth_code = ""
        self.issuer_auth: bool | None = None
        self.script_results = bytearray()
        self.went_online = False
        self.oda_error = ""
        self.reference = ""
        # Terminal data as the card saw it when it made the (first) cryptogram: the
        # host needs exactly these values to verify it.
        self.crypto_values: dict[int, bytes] = {}
        self.goc = GocParams()
        self.un = bytes(rng.getrandbits(8) for _ in range(4))
        self._online_capable = online_capable
        # the transaction date and time tags (9A, 9F21) of ``txn.when``, made once: every
        # command the kernel sends reads the terminal's tags
        self._stamp: tuple[Any, bytes, bytes] | None = None

    # -- plumbing ------------------------------------------------------------------
    def terminal_tags(self) -> dict[int, bytes]:
        t = self.txn
        stamp = self._stamp
        if stamp is None or stamp[0] is not t.when:
            stamp = self._stamp = (t.when, bcd(int(t.when.strftime("%y%m%d")), 3),
                                   bcd(int(t.when.strftime("%H%M%S")), 3))
        out: dict[int, bytes] = {}
        if self.app is not None:
            out.update(self.app.terminal_tags())
            if self.goc.floor_limit is not None:
                out[0x9F1B] = self.goc.floor_limit.to_bytes(4, "big")
        out.update(
            {
                0x9F02: bcd(t.amount, 6),
                0x9F03: bcd(t.other_amount, 6),
                0x9A: stamp[1],
                0x9F21: stamp[2],
                0x9C: bytes([t.type]),
                0x9F37: self.un,
                0x95: bytes(self.tvr),
                0x9B: bytes(self.tsi),
                0x9F34: self.cvm_results,
                0x9F1E: self.config.ifd_serial.encode("ascii")[:8].ljust(8),
            }
        )
        # the binary forms (b4) exist only up to FFFFFFFFh; above that they are left out
        # and a card whose DOL asks for one ends the command (see _dol_data)
        if t.amount <= 0xFFFFFFFF:
            out[0x81] = t.amount.to_bytes(4, "big")
        if t.other_amount <= 0xFFFFFFFF:
            out[0x9F04] = t.other_amount.to_bytes(4, "big")
        if self.arc:
            out[0x8A] = self.arc.encode("ascii")
        return out

    def _dol_data(self, dol: bytes, values: dict[int, bytes]) -> bytes:
        """The DOL's data; a binary amount the card asks for that b4 cannot hold stops the
        transaction, since it "cannot be passed on correctly to the card" (ABECS 2.12
        §6.8.6.2, answered ST_INVAMOUNT)."""
        for tag in (0x81, 0x9F04):
            if tag not in values and tag in dict(tlv.parse_dol(dol)):
                raise KernelStop(Status.INVALID_AMOUNT,
                                 f"the card asks for tag {tag:X}h and the amount exceeds b4")
        return tlv.build_dol(dol, values)

    def values(self) -> dict[int, bytes]:
        """Card data overlaid with terminal data (terminal wins for its own tags)."""
        return {**self.card.tags, **self.terminal_tags()}

    def _xfer(self, cmd: Command, label: str) -> Generator[Request, Any, Response]:
        """One exchange, with T=0 style 61xx / 6Cxx handled as a reader does."""
        raw = yield Apdu(cmd.to_bytes(), label)
        if raw is None:
            raise KernelStop(Status.CARD_REMOVED, f"card removed during {label}")
        if isinstance(raw, str) and raw == NO_ANSWER:
            raise KernelStop(Status.CARD_ERROR, f"card does not answer {label} (timeout)")
        try:
            resp = Response.from_bytes(raw)
        except ValueError as exc:
            raise KernelStop(Status.CARD_ERROR, f"{label}: {exc}") from None
        self.trace.append(TraceLine(label, cmd.to_bytes(), bytes(raw)))
        if resp.sw1 == 0x6C:
            cmd = Command(cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data, resp.sw2 or 256)
            return (yield from self._xfer(cmd, label))
        data = resp.data
        while resp.sw1 == 0x61:
            raw = yield Apdu(Command.get_response(resp.sw2 or 256).to_bytes(), "GET RESPONSE")
            if raw is None:
                raise KernelStop(Status.CARD_REMOVED, "card removed during GET RESPONSE")
            if isinstance(raw, str) and raw == NO_ANSWER:
                raise KernelStop(Status.CARD_ERROR, "card does not answer GET RESPONSE (timeout)")
            resp = Response.from_bytes(raw)
            data += resp.data
        return Response(data, resp.sw1, resp.sw2)

    def cvm_capabilities(self) -> bytes:
        """Terminal capabilities (9F33) the CVM list is checked against."""
        assert self.app is not None
        return self.app.capabilities

    def _decode(self, data: bytes, what: str) -> list[tlv.TLV]:
        try:
            return tlv.decode(data)
        except tlv.TLVError as exc:
            raise KernelStop(Status.CARD_ERROR, f"{what}: malformed TLV ({exc})") from None

    @property
    def online_capable(self) -> bool:
        if self._online_capable is not None:
            return self._online_capable
        ttype = self.app.terminal_type if self.app else 22
        # Book 4 Annex A1: x3/x6 are offline only; everything else can go online.
        return ttype % 10 not in (3, 6)

    # -- application selection (Book 1 §12, Book 3 §10.1 is the data side) -----------
    def select_and_read(self) -> Gen:
        """GCR: build the candidate list, select one, GPO and read the records."""
        yield from self.build_candidates(PSE if self.config.supports_pse else None)
        yield from self.choose_and_initiate()
        yield from self.read_application_data()

    def _match(self, aid: bytes) -> AidParams | None:
        return self.config.aid(aid)

    def build_candidates(self, directory: bytes | None) -> Gen:
        cands: list[Candidate] = []
        if directory is not None:
            cands = yield from self._candidates_from_pse(directory)
        if not cands:
            cands = yield from self._candidates_from_list()
        if not cands:
            raise KernelStop(Status.NOT_ACCEPTED, "no application in common with the terminal")
        # Book 1 §12.4: priority 1 first, no priority last; stable for equal priority.
        cands.sort(key=lambda c: c.priority or 16)
        self.candidates = cands

    def _candidate(self, aid: bytes, fields: dict[int, bytes]) -> Candidate | None:
        rec = self._match(aid)
        if rec is None:
            return None
        prio = fields.get(0x87, b"\x00")[:1] or b"\x00"
        label = fields.get(0x9F12) or fields.get(0x50) or rec.label.encode()
        return Candidate(
            aid=aid,
            label=label.decode("latin-1", "replace").strip(),
            priority=prio[0] & 0x0F,
            confirmation_required=bool(prio[0] & 0x80),
            pdol=fields.get(0x9F38),
            language=fields.get(0x5F2D, b"").decode("ascii", "replace"),
        )

    def _candidates_from_pse(self, name: bytes) -> Generator[Request, Any, list[Candidate]]:
        resp = yield from self._xfer(Command.select(name), f"SELECT {name.decode()}")
        if resp.sw == 0x6A81:
            raise KernelStop(Status.CARD_BLOCKED, "card blocked or SELECT not supported")
        if not resp.ok:
            return []
        fci = tlv.flatten(self._decode(resp.data, "PSE FCI"))
        sfi = fci.get(0x88)
        if not sfi:
            return []
        found: list[Candidate] = []
        for rec in range(1, 256):
            r = yield from self._xfer(
                Command.read_record(sfi[0], rec), f"READ RECORD PSE SFI {sfi[0]} #{rec}"
            )
            if r.sw == 0x6A83 or not r.ok:
                break
            for entry in tlv.find_all(self._decode(r.data, "PSE record"), 0x61):
                fields = tlv.flatten(entry)
                aid = fields.get(0x4F)
                if aid is None:
                    continue  # a DDF entry (9D): not followed, as most readers
                cand = self._candidate(aid, fields)
                if cand is not None:
                    found.append(cand)
        return found

    def _candidates_from_list(self) -> Generator[Request, Any, list[Candidate]]:
        found: list[Candidate] = []
        for rec in self.config.aids:
            nxt = False
            while True:
                resp = yield from self._xfer(
                    Command.select(rec.aid, next_occurrence=nxt), f"SELECT {rec.aid.hex().upper()}"
                )
                if resp.sw == 0x6A81 and not found and not nxt:
                    raise KernelStop(Status.CARD_BLOCKED, "card blocked (SELECT 6A81)")
                if resp.sw not in (0x9000, 0x6283):
                    break
                items = self._decode(resp.data, "FCI")
                fields = tlv.flatten(items)
                dfname = fields.get(0x84, b"")
                if resp.ok and (
                    dfname == rec.aid or (rec.partial_selection and dfname.startswith(rec.aid))
                ):
                    cand = self._candidate(dfname, fields)
                    if cand is not None and all(c.aid != dfname for c in found):
                        found.append(cand)
                if dfname == rec.aid or not rec.partial_selection:
                    break
                nxt = True
        return found

    def choose_and_initiate(self) -> Gen:
        """Pick from the candidates (asking the cardholder when needed), SELECT, GPO."""
        while True:
            if not self.candidates:
                raise KernelStop(Status.NOT_ACCEPTED, "no application left to try")
            if len(self.candidates) == 1 and not self.candidates[0].confirmation_required:
                chosen = self.candidates[0]
            else:
                pick = yield ChooseApp(tuple(self.candidates))
                if pick is None or pick == CANCEL:
                    raise KernelStop(Status.CANCELLED, "cardholder cancelled application choice")
                if not isinstance(pick, int) or not 0 <= pick < len(self.candidates):
                    raise KernelStop(Status.CANCELLED, f"invalid application choice {pick!r}")
                chosen = self.candidates[pick]
            resp = yield from self._xfer(Command.select(chosen.aid), f"SELECT {chosen.label}")
            if not resp.ok:
                # Book 1 §12.4: remove it, tell the cardholder, try again.
                self.candidates.remove(chosen)
                yield Display("TRY AGAIN")
                continue
            fci = tlv.flatten(self._decode(resp.data, "FCI"))
            self.card = CardData(tags=dict(fci))
            self.selected = chosen
            self.app = self._match(chosen.aid)
            ok = yield from self.initiate()
            if ok:
                return
            self.candidates.remove(chosen)
            yield Display("NOT ACCEPTED")

    def initiate(self) -> Generator[Request, Any, bool]:
        """GET PROCESSING OPTIONS (Book 3 §10.1); False when the card refuses (6985)."""
        pdol = self.card.tags.get(0x9F38, b"")
        try:
            self.pdol_data = self._dol_data(pdol, self.values()) if pdol else b""
        except tlv.TLVError as exc:
            raise KernelStop(Status.CARD_ERROR, f"PDOL malformed ({exc})") from None
        resp = yield from self._xfer(Command.gpo(self.pdol_data), "GET PROCESSING OPTIONS")
        if resp.sw == 0x6985:
            return False
        if not resp.ok:
            raise KernelStop(Status.CARD_ERROR, f"GPO answered {resp.sw:04X} {sw_name(resp.sw)}")
        self._gpo_response(resp.data)
        return True

    def _gpo_response(self, data: bytes) -> None:
        items = self._decode(data, "GPO response")
        if len(items) != 1 or items[0].tag not in (0x80, 0x77):
            raise KernelStop(Status.CARD_ERROR, "GPO response is neither format 1 nor 2")
        if items[0].tag == 0x80:
            v = items[0].value
            if len(v) < 2 or (len(v) - 2) % 4:
                raise KernelStop(Status.CARD_ERROR, "GPO format 1 has a bad length")
            self.card.tags[0x82] = v[:2]
            self.card.tags[0x94] = v[2:]
        else:
            for tag, value in tlv.flatten(items).items():
                self.card.tags.setdefault(tag, value)
                if tag in (0x82, 0x94):
                    self.card.tags[tag] = value
            if 0x82 not in self.card.tags:
                raise KernelStop(Status.CARD_ERROR, "GPO response without AIP")

    def read_application_data(self) -> Gen:
        """READ RECORD per AFL (Book 3 §10.2), collecting ODA input as marked."""
        afl = self.card.tags.get(0x94, b"")
        if len(afl) % 4:
            raise KernelStop(Status.CARD_ERROR, "AFL length is not a multiple of 4")
        seen: set[int] = set()
        for i in range(0, len(afl), 4):
            sfi, first, last, n_oda = afl[i] >> 3, afl[i + 1], afl[i + 2], afl[i + 3]
            if not 1 <= sfi <= 30 or first == 0 or last < first or n_oda > last - first + 1:
                raise KernelStop(Status.CARD_ERROR, f"AFL entry {afl[i:i+4].hex()} invalid")
            for rec in range(first, last + 1):
                resp = yield from self._xfer(
                    Command.read_record(sfi, rec), f"READ RECORD SFI {sfi} #{rec}"
                )
                if not resp.ok:
                    raise KernelStop(
                        Status.CARD_ERROR, f"READ RECORD {sfi}/{rec} answered {resp.sw:04X}"
                    )
                items = self._decode(resp.data, f"record {sfi}/{rec}")
                is70 = len(items) == 1 and items[0].tag == 0x70
                if sfi <= 10 and not is70:
                    raise KernelStop(Status.CARD_ERROR, f"record {sfi}/{rec} is not template 70")
                if rec - first < n_oda:
                    if sfi <= 10:
                        self.card.oda_records += items[0].value
                    else:
                        self.card.oda_records += resp.data
                        self.card.oda_record_ok = self.card.oda_record_ok and is70
                for tag, value in tlv.flatten(items).items():
                    if tag in seen:
                        raise KernelStop(Status.CARD_ERROR, f"tag {tag:X} appears twice in records")
                    seen.add(tag)
                    self.card.tags[tag] = value
        missing = [t for t in (0x5F24, 0x5A, 0x8C, 0x8D) if t not in self.card.tags]
        if missing:
            self.tvr.set(B.TVR_ICC_DATA_MISSING)
            names = ", ".join(f"{t:X}" for t in missing)
            raise KernelStop(Status.CARD_ERROR, f"mandatory data missing: {names}")

    # -- GOC: everything up to the first GENERATE AC ---------------------------------
    def go_on_chip(self, params: GocParams | None = None) -> Generator[Request, Any, int]:
        """GOC: returns 0 approved offline, 1 declined offline, 2 go online."""
        if self.app is None:
            raise KernelStop(Status.CARD_ERROR, "GOC without a selected application")
        if params is not None:
            self.goc = params
        yield from self.offline_data_authentication()
        self.processing_restrictions()
        yield from self.cardholder_verification()
        yield from self.terminal_risk_management()
        requested = self.terminal_action_analysis()
        cid = yield from self.generate_ac(requested, first=True)
        self.first_cid = cid
        kind = cid & 0xC0
        if kind == 0x80:
            return DECISION_ONLINE
        self.final_cid = cid
        self.arc = "Y1" if kind == 0x40 else "Z1"
        return DECISION_APPROVED if kind == 0x40 else DECISION_DECLINED

    # ODA (Book 3 §10.3, Book 2 §5-§6)
    def offline_data_authentication(self) -> Gen:
        assert self.app is not None
        aip = self.card.tags.get(0x82, bytes(2))
        caps = self.app.capabilities
        if B.has(aip, B.AIP_CDA) and B.has(caps, B.CAP_CDA):
            method = "CDA"
        elif B.has(aip, B.AIP_DDA) and B.has(caps, B.CAP_DDA):
            method = "DDA"
        elif B.has(aip, B.AIP_SDA) and B.has(caps, B.CAP_SDA):
            method = "SDA"
        else:
            self.tvr.set(B.TVR_ODA_NOT_PERFORMED)
            return
        self.oda_method = method
        self.tsi.set(B.TSI_ODA_PERFORMED)
        fail_bit = {"SDA": B.TVR_SDA_FAILED, "DDA": B.TVR_DDA_FAILED, "CDA": B.TVR_CDA_FAILED}
        if method == "SDA":
            self.tvr.set(B.TVR_SDA_SELECTED)
        try:
            issuer = self._issuer_key()
            static = self._static_data()
            if method == "SDA":
                dac = oda.verify_ssad(issuer, self._need(0x93), static)
                self.card.tags[0x9F45] = dac
                self.oda_ok = True
                return
            self.icc_key = self._icc_key(issuer, static)
            if method == "DDA":
                yield from self._dda()
                self.oda_ok = True
            # CDA completes at GENERATE AC.
        except oda.OdaError as exc:
            self.tvr.set(fail_bit[method])
            self.oda_ok = False
            self.oda_error = str(exc)

    def _need(self, tag: int) -> bytes:
        v = self.card.tags.get(tag)
        if v is None:
            self.tvr.set(B.TVR_ICC_DATA_MISSING)
            raise oda.OdaError(f"tag {tag:X} missing")
        return v

    def _issuer_key(self) -> oda.PublicKey:
        assert self.selected is not None
        rid = self.selected.aid[:5]
        index = self._need(0x8F)[0]
        capk = self.config.capk(rid, index)
        if capk is None:
            raise oda.OdaError(f"no CAPK {rid.hex().upper()}/{index:02X} in the terminal")
        cert = self._need(0x90)
        exponent = self._need(0x9F32)
        key, serial = oda.recover_issuer_key(
            oda.PublicKey(capk.modulus, capk.exponent),
            cert,
            self.card.tags.get(0x92, b""),
            exponent,
            self.card.pan,
            self.txn.today,
        )
        if self.config.is_revoked(rid, index, serial):
            raise oda.OdaError("issuer certificate is on the revocation list")
        return key

    def _static_data(self) -> bytes:
        if not self.card.oda_record_ok:
            raise oda.OdaError("a record for ODA is not template 70")
        data = bytes(self.card.oda_records)
        taglist = self.card.tags.get(0x9F4A)
        if taglist is not None:
            if taglist != b"\x82":
                raise oda.OdaError("SDA tag list holds more than the AIP")
            data += self.card.tags.get(0x82, b"")
        return data

    def _icc_key(self, issuer: oda.PublicKey, static: bytes) -> oda.PublicKey:
        return oda.recover_icc_key(
            issuer,
            self._need(0x9F46),
            self.card.tags.get(0x9F48, b""),
            self._need(0x9F47),
            self.card.pan,
            static,
            self.txn.today,
        )

    def _dda(self) -> Gen:
        assert self.app is not None and self.icc_key is not None
        ddol = self.card.tags.get(0x9F49) or self.app.ddol
        if not ddol:
            raise oda.OdaError("no DDOL on the card or in the terminal")
        if 0x9F37 not in dict(tlv.parse_dol(ddol)):
            raise oda.OdaError("DDOL lacks the unpredictable number")
        data = self._dol_data(ddol, self.values())
        resp = yield from self._xfer(Command.internal_authenticate(data), "INTERNAL AUTHENTICATE")
        if not resp.ok:
            raise oda.OdaError(f"INTERNAL AUTHENTICATE answered {resp.sw:04X}")
        items = self._decode(resp.data, "INTERNAL AUTHENTICATE")
        sdad = items[0].value if items and items[0].tag == 0x80 else tlv.find(items, 0x9F4B)
        if sdad is None:
            raise oda.OdaError("no signed dynamic data")
        dyn = oda.verify_sdad(self.icc_key, sdad, data)
        if dyn:
            self.card.tags[0x9F4C] = dyn[1 : 1 + dyn[0]]

    # Processing restrictions (Book 3 §10.4)
    def processing_restrictions(self) -> None:
        assert self.app is not None
        tags = self.card.tags
        version = tags.get(0x9F08)
        if version is not None and version not in self.app.app_versions:
            self.tvr.set(B.TVR_DIFFERENT_APP_VERSIONS)
        auc = tags.get(0x9F07)
        if auc is not None:
            self._usage_control(auc)
        today = self.txn.today
        try:
            if 0x5F25 in tags and _yymmdd(tags[0x5F25]) > today:
                self.tvr.set(B.TVR_APP_NOT_YET_EFFECTIVE)
            if _yymmdd(tags[0x5F24]) < today:
                self.tvr.set(B.TVR_EXPIRED_APPLICATION)
        except ValueError:
            raise KernelStop(Status.CARD_ERROR, "application dates are not valid dates") from None

    def _usage_control(self, auc: bytes) -> None:
        assert self.app is not None
        domestic = self.card.tags.get(0x5F28) == bcd(self.app.country, 2)
        ttype = self.app.terminal_type
        # Book 3 §10.4.2: an ATM is a type 14/15/16 terminal with cash capability.
        is_atm = ttype in (14, 15, 16)
        if not B.has(auc, B.AUC_ATMS if is_atm else B.AUC_NON_ATMS):
            self.tvr.set(B.TVR_SERVICE_NOT_ALLOWED)
        t = self.txn.type
        if t in (0x01, 0x17):
            need = [B.AUC_DOMESTIC_CASH if domestic else B.AUC_INTERNATIONAL_CASH]
        elif t == 0x09:
            need = [B.AUC_DOMESTIC_CASHBACK if domestic else B.AUC_INTERNATIONAL_CASHBACK]
        else:
            need = (
                [B.AUC_DOMESTIC_GOODS, B.AUC_DOMESTIC_SERVICES]
                if domestic
                else [B.AUC_INTERNATIONAL_GOODS, B.AUC_INTERNATIONAL_SERVICES]
            )
        if not any(B.has(auc, b) for b in need):
            self.tvr.set(B.TVR_SERVICE_NOT_ALLOWED)

    # Cardholder verification (Book 3 §10.5, Book 4 §6.3)
    def cardholder_verification(self) -> Gen:
        from virtual_devices.emv.kernel.cvm import run_cvm_list

        aip = self.card.tags.get(0x82, bytes(2))
        if not B.has(aip, B.AIP_CVM):
            self.cvm_results = bytes.fromhex("3F0000")
            return
        yield from run_cvm_list(self)

    # Terminal risk management (Book 3 §10.6)
    def terminal_risk_management(self) -> Gen:
        assert self.app is not None
        goc = self.goc
        if goc.exception_file or self.card.pan in self.config.exception_pans:
            self.tvr.set(B.TVR_CARD_ON_EXCEPTION_FILE)
        if goc.force_online or self.txn.force_online:
            self.tvr.set(B.TVR_MERCHANT_FORCED_ONLINE)
        aip = self.card.tags.get(0x82, bytes(2))
        if not B.has(aip, B.AIP_TRM) or not goc.risk_management:
            return
        self.tsi.set(B.TSI_TRM_PERFORMED)
        floor = goc.floor_limit if goc.floor_limit is not None else self.app.floor_limit
        amount = self.txn.amount
        if amount >= floor:
            self.tvr.set(B.TVR_FLOOR_LIMIT_EXCEEDED)
        else:
            self._random_selection(amount, floor)
        yield from self._velocity()

    def _random_selection(self, amount: int, floor: int) -> None:
        assert self.app is not None
        goc = self.goc
        app = self.app
        target = app.random_target_percent if goc.target_percent is None else goc.target_percent
        top = app.random_max_percent if goc.max_percent is None else goc.max_percent
        threshold = app.random_threshold if goc.threshold is None else goc.threshold
        draw = self.rng.randint(1, 99)
        if amount < threshold:
            chance = target
        else:
            # Book 3 §10.6.2: the probability rises linearly from target to max
            # between the threshold and the floor limit (integer percent).
            span = max(1, floor - threshold)
            chance = target + (top - target) * (amount - threshold) // span
        if draw <= chance:
            self.tvr.set(B.TVR_RANDOMLY_SELECTED_ONLINE)

    def _velocity(self) -> Gen:
        lower = self.card.tags.get(0x9F14)
        upper = self.card.tags.get(0x9F23)
        if lower is None or upper is None:
            return
        atc = yield from self._get_data(0x9F36)
        last = yield from self._get_data(0x9F13)
        if atc is None or last is None:
            self.tvr.set(B.TVR_LOWER_OFFLINE_LIMIT_EXCEEDED)
            self.tvr.set(B.TVR_UPPER_OFFLINE_LIMIT_EXCEEDED)
            return
        a, lo = int.from_bytes(atc, "big"), int.from_bytes(last, "big")
        if lo == 0:
            self.tvr.set(B.TVR_NEW_CARD)
        if a - lo > lower[0]:
            self.tvr.set(B.TVR_LOWER_OFFLINE_LIMIT_EXCEEDED)
        if a - lo > upper[0]:
            self.tvr.set(B.TVR_UPPER_OFFLINE_LIMIT_EXCEEDED)

    def _get_data(self, tag: int) -> Generator[Request, Any, bytes | None]:
        resp = yield from self._xfer(Command.get_data(tag), f"GET DATA {tag:X}")
        if not resp.ok:
            return None
        try:
            value = tlv.find(resp.data, tag)
        except tlv.TLVError:
            return None
        return value

    # Terminal action analysis (Book 3 §10.7)
    def _codes(self) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
        assert self.app is not None
        t = self.card.tags
        return (
            self.app.tac_denial,
            self.app.tac_online,
            self.app.tac_default,
            t.get(0x9F0E, bytes(5)),
            t.get(0x9F0F, b"\xff" * 5),
            t.get(0x9F0D, b"\xff" * 5),
        )

    @staticmethod
    def _hits(tvr: bytes, *codes: bytes) -> bool:
        return any(tvr[i] & c[i] for c in codes for i in range(5) if i < len(c))

    def terminal_action_analysis(self) -> int:
        """The cryptogram type to ask for: 0x00 AAC, 0x40 TC, 0x80 ARQC."""
        tvr = bytes(self.tvr)
        tac_den, tac_onl, tac_def, iac_den, iac_onl, iac_def = self._codes()
        if self._hits(tvr, tac_den, iac_den):
            return 0x00
        if self.online_capable:
            return 0x80 if self._hits(tvr, tac_onl, iac_onl) else 0x40
        return 0x00 if self._hits(tvr, tac_def, iac_def) else 0x40

    def default_action(self) -> int:
        """Unable to go online: TAC/IAC default decide (Book 3 §10.7)."""
        tac_den, tac_onl, tac_def, iac_den, iac_onl, iac_def = self._codes()
        return 0x00 if self._hits(bytes(self.tvr), tac_def, iac_def) else 0x40

    # GENERATE AC (Book 3 §6.5.5, Book 2 §6.6 for CDA)
    def generate_ac(self, requested: int, first: bool) -> Generator[Request, Any, int]:
        dol_tag = 0x8C if first else 0x8D
        dol = self.card.tags.get(dol_tag, b"")
        values = self.values()
        if 0x98 in dict(tlv.parse_dol(dol)):
            values[0x98] = self._tc_hash(values)
        data = self._dol_data(dol, values)
        if first:
            self.cdol1_data = data
            self.crypto_values = values
        else:
            self.cdol2_data = data
        cda = self.oda_method == "CDA" and self.icc_key is not None and requested != 0x00
        p1 = requested | (0x10 if cda else 0)
        name = _CID_NAMES.get(requested, "?")
        self.tsi.set(B.TSI_CARD_RISK_MANAGEMENT_PERFORMED)
        resp = yield from self._xfer(
            Command.generate_ac(p1, data), f"GENERATE AC {'1' if first else '2'} ({name})"
        )
        if not resp.ok:
            raise KernelStop(Status.CARD_ERROR, f"GENERATE AC answered {resp.sw:04X}")
        items = self._decode(resp.data, "GENERATE AC response")
        if len(items) != 1 or items[0].tag not in (0x80, 0x77):
            raise KernelStop(Status.CARD_ERROR, "GENERATE AC response is neither format 1 nor 2")
        if items[0].tag == 0x80:
            v = items[0].value
            if len(v) < 11:
                raise KernelStop(Status.CARD_ERROR, "GENERATE AC format 1 too short")
            got = {0x9F27: v[:1], 0x9F36: v[1:3], 0x9F26: v[3:11]}
            if len(v) > 11:
                got[0x9F10] = v[11:]
        else:
            got = tlv.flatten(items)
        if 0x9F27 not in got or 0x9F36 not in got:
            raise KernelStop(Status.CARD_ERROR, "GENERATE AC response lacks CID or ATC")
        cid = got[0x9F27][0]
        kind = cid & 0xC0
        # Book 3 §9.3: a card may answer with the type asked or a "lower" one in the
        # order TC > ARQC > AAC; anything else (or the RFU value 11) is an error.
        allowed = {0x40: (0x40, 0x80, 0x00), 0x80: (0x80, 0x00), 0x00: (0x00,)}
        if kind not in allowed.get(requested, ()):
            raise KernelStop(
                Status.CARD_ERROR, f"card answered {cid:02X} to a request for {name}"
            )
        self.card.tags.update(got)
        if cda and kind != 0x00:
            try:
                self._verify_cda(items[0], got, first)
                self.oda_ok = True
            except oda.OdaError as exc:
                self.tvr.set(B.TVR_CDA_FAILED)
                self.oda_ok = False
                self.oda_error = str(exc)
                if kind == 0x80 and first:
                    # Book 3 §10.8: CDA failed on an ARQC: decline with a second GEN AC.
                    yield from self.generate_ac(0x00, first=False)
                return 0x00
        elif cda and kind == 0x00 and self.oda_ok is None:
            self.oda_ok = None
        if 0x9F26 not in self.card.tags:
            raise KernelStop(Status.CARD_ERROR, "GENERATE AC response lacks the cryptogram")
        return cid

    def _tc_hash(self, values: dict[int, bytes]) -> bytes:
        assert self.app is not None
        tdol = self.card.tags.get(0x97)
        if tdol is None:
            tdol = self.app.tdol
            self.tvr.set(B.TVR_DEFAULT_TDOL_USED)
            values[0x95] = bytes(self.tvr)
        return hashlib.sha1(tlv.build_dol(tdol, values)).digest()

    def _verify_cda(self, template: tlv.TLV, got: dict[int, bytes], first: bool) -> None:
        assert self.icc_key is not None
        if template.tag != 0x77:
            raise oda.OdaError("CDA requested but the answer is format 1")
        sdad = got.get(0x9F4B)
        if sdad is None:
            raise oda.OdaError("CDA requested but no signed dynamic data")
        dyn = oda.verify_sdad(self.icc_key, sdad, self.un)
        ln = dyn[0]
        number, cid, ac, hash_code = dyn[1 : 1 + ln], dyn[1 + ln], dyn[2 + ln : 10 + ln], dyn[
            10 + ln : 30 + ln
        ]
        if cid != got[0x9F27][0]:
            raise oda.OdaError("CID in the signature differs from the CID returned")
        tx = bytearray(self.pdol_data + self.cdol1_data)
        if not first:
            tx += self.cdol2_data
        for child in template.children:
            if child.tag != 0x9F4B:
                tx += child.to_bytes()
        if hashlib.sha1(bytes(tx)).digest() != hash_code:
            raise oda.OdaError("transaction data hash code does not match")
        self.card.tags[0x9F4C] = number
        self.card.tags[0x9F26] = ac

    # -- online request and FNC ------------------------------------------------------
    def auth_request(self) -> AuthRequest:
        assert self.selected is not None
        emv = {t: v for t, v in self.values().items() if t not in (0x8A,)}
        for tag in CRYPTOGRAM_TERMINAL_TAGS:
            if tag in self.crypto_values:
                emv[tag] = self.crypto_values[tag]
        return AuthRequest(
            interface=self.interface,
            amount=self.txn.amount,
            currency=self.app.currency if self.app else 986,
            pan=self.card.pan,
            psn=self.card.psn,
            aid=self.selected.aid,
            emv=emv,
            pin=self.online_pin,
        )

    def finish(self, response: IssuerResponse | None) -> Generator[Request, Any, Outcome]:
        """FNC: complete after the host answered (or could not be reached)."""
        if self.first_cid < 0:
            raise KernelStop(Status.CARD_ERROR, "FNC before GOC")
        if self.first_cid & 0xC0 != 0x80:
            return self.outcome()  # already decided offline; FNC is optional then
        if self.final_cid >= 0:
            return self.outcome()
        if response is None:
            requested = self.default_action()
            self.arc = "Y3" if requested == 0x40 else "Z3"
        else:
            self.went_online = True
            self.arc = response.arc[:2].ljust(2)
            self.auth_code = response.auth_code
            self.reference = response.reference
            if response.issuer_auth_data is not None:
                yield from self._issuer_authentication(response.issuer_auth_data)
            yield from self._scripts(response.scripts_71, before=True)
            requested = 0x40 if response.approved else 0x00
        cid = yield from self.generate_ac(requested, first=False)
        self.final_cid = cid
        if response is not None:
            yield from self._scripts(response.scripts_72, before=False)
        return self.outcome()

    def _issuer_authentication(self, data: bytes) -> Gen:
        """Book 3 §10.9: EXTERNAL AUTHENTICATE when the AIP says the card supports it.

        Profiles that check the ARPC inside the second GENERATE AC instead list tag
        91 in CDOL2 and leave the AIP bit clear; the 91 value then only travels in
        the CDOL2 data and the card's answer to GENERATE AC 2 tells the result.
        """
        self.card.tags[0x91] = data
        aip = self.card.tags.get(0x82, bytes(2))
        if not B.has(aip, B.AIP_ISSUER_AUTH):
            if 0x91 in dict(tlv.parse_dol(self.card.tags.get(0x8D, b""))):
                self.tsi.set(B.TSI_ISSUER_AUTH_PERFORMED)
            return
        self.tsi.set(B.TSI_ISSUER_AUTH_PERFORMED)
        resp = yield from self._xfer(Command.external_authenticate(data), "EXTERNAL AUTHENTICATE")
        self.issuer_auth = resp.ok
        if not resp.ok:
            self.tvr.set(B.TVR_ISSUER_AUTH_FAILED)

    def _scripts(self, scripts: tuple[bytes, ...], before: bool) -> Gen:
        for script in scripts:
            self.tsi.set(B.TSI_SCRIPT_PROCESSING_PERFORMED)
            try:
                items = tlv.decode(script)
                body = items[0].children if items else []
            except tlv.TLVError:
                body = []
            script_id = next((c.value for c in body if c.tag == 0x9F18), bytes(4))
            commands = [c.value for c in body if c.tag == 0x86]
            result = 0x20
            for seq, raw in enumerate(commands, start=1):
                try:
                    cmd = Command.from_bytes(raw)
                except ValueError:
                    result = 0x10 | min(seq, 15)
                    break
                resp = yield from self._xfer(cmd, f"SCRIPT {script_id.hex().upper()} #{seq}")
                if not (resp.ok or resp.sw1 in (0x62, 0x63)):
                    result = 0x10 | min(seq, 15)
                    break
            if result != 0x20 or not commands:
                if not commands:
                    result = 0x10
                self.tvr.set(
                    B.TVR_SCRIPT_FAILED_BEFORE_FINAL_GENAC
                    if before
                    else B.TVR_SCRIPT_FAILED_AFTER_FINAL_GENAC
                )
            self.script_results += bytes([result]) + script_id[:4].rjust(4, b"\0")

    # -- the whole flow ---------------------------------------------------------------
    def run(self, params: GocParams | None = None) -> Generator[Request, Any, Outcome]:
        try:
            yield from self.select_and_read()
            decision = yield from self.go_on_chip(params)
            if decision != DECISION_ONLINE:
                return self.outcome()
            response = yield GoOnline(self.auth_request())
            return (yield from self.finish(response))
        except KernelStop as stop:
            return self.stopped(stop)

    # -- results -----------------------------------------------------------------------
    def requested_tags(self, tags: list[int]) -> bytes:
        """TLV of the requested tags that exist, never PAN/track objects (GOC/FNC)."""
        values = self.values()
        if self.script_results:
            values[0x9F5B] = bytes(self.script_results)
        return b"".join(
            tlv.encode(t, values[t]) for t in tags if t in values and t not in SENSITIVE_TAGS
        )

    def outcome(self) -> Outcome:
        cid = self.final_cid if self.final_cid >= 0 else self.first_cid
        kind = cid & 0xC0 if cid >= 0 else -1
        if kind == 0x40:
            status = Status.APPROVED
        elif kind == 0x80:
            status = Status.ONLINE_REQUEST
        else:
            status = Status.DECLINED
        reason = ""
        if status is Status.DECLINED:
            if self.went_online and self.arc not in ("00", "08", "10", "11"):
                reason = f"declined by issuer (response code {self.arc})"
            elif self.went_online:
                reason = "declined by card after issuer approval"
            else:
                reason = "declined offline"
        return self._outcome(status, reason)

    def stopped(self, stop: KernelStop) -> Outcome:
        return self._outcome(stop.status, stop.reason)

    def _outcome(self, status: Status, reason: str) -> Outcome:
        tags = {t: v for t, v in self.values().items() if t not in SENSITIVE_TAGS}
        if self.script_results:
            tags[0x9F5B] = bytes(self.script_results)
        return Outcome(
            status=status,
            reason=reason,
            interface=self.interface,
            aid=self.selected.aid if self.selected else b"",
            label=self.selected.label if self.selected else "",
            pan_masked=mask_pan(self.card.pan) if self.card.pan else "",
            cryptogram=_CID_NAMES.get(self.final_cid & 0xC0, "") if self.final_cid >= 0 else (
                _CID_NAMES.get(self.first_cid & 0xC0, "") if self.first_cid >= 0 else ""
            ),
            first_cryptogram=_CID_NAMES.get(self.first_cid & 0xC0, "")
            if self.first_cid >= 0
            else "",
            oda=self.oda_method,
            oda_ok=self.oda_ok,
            cvm=self.cvm,
            tvr=bytes(self.tvr),
            tsi=bytes(self.tsi),
            arc=self.arc,
            auth_code=self.auth_code,
            issuer_auth=self.issuer_auth,
            script_results=bytes(self.script_results),
            online=self.went_online,
            reference=self.reference,
            tags=tags,
        )

