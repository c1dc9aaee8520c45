"""The contactless kernel paths (EMV Contactless Books A/B and the C-2/C-3 shapes).

One tap, no second GENERATE AC: the card answers once and leaves the field, so the
outcome is decided from that one answer (plus the host when it is an ARQC).

Entry point (Book B): pre-processing against the AID's contactless limits, PPSE,
highest-priority AID among those the reader supports, then the brand path:

``qvsdc``  Visa-like (C-3): GPO carries the TTQ (9F66); the card returns its
           cryptogram in the GPO answer, with the CTQ (9F6C) telling which CVM it
           wants and fDDA data (9F4B over UN, amount, currency, 9F69) for offline TCs.
``mchip``  Mastercard-like (C-2): GPO, READ RECORD, then GENERATE AC with CDA; CVM
           from the CVM list above the CVM limit, "no CVM" under it, CDCVM on a phone.

Outcomes follow Book A: approved, declined, online request, try another interface,
insert card (amount over the contactless transaction limit), see phone (SW 6986:
the phone wants its owner to verify on the device, then tap again).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from typing import Any

from virtual_devices.emv import tlv
from virtual_devices.emv.apdu import Command
from virtual_devices.emv.kernel import bits as B
from virtual_devices.emv.kernel import ctls_magstripe, oda
from virtual_devices.emv.kernel.contact import (
    DECISION_APPROVED,
    DECISION_DECLINED,
    DECISION_ONLINE,
    PPSE,
    ContactKernel,
    GocParams,
)
from virtual_devices.emv.kernel.cvm import run_cvm_list
from virtual_devices.emv.kernel.messages import (
    CANCEL,
    AuthRequest,
    Candidate,
    EnterPin,
    Interface,
    IssuerResponse,
    KernelStop,
    Outcome,
    Request,
    Status,
)
from virtual_devices.emv.terminal import AidParams

MASTERCARD_RID = bytes.fromhex("A000000004")
AMEX_RID = bytes.fromhex("A000000025")
# Contactless reader capabilities when the AID record has none (CTLSTRMCP absent):
# online PIN, signature, no CVM; CDA. No offline PIN on a contactless reader.
DEFAULT_CTLS_CAPABILITIES = bytes.fromhex("E06808")


def kernel_for(aid: bytes, kernel_id: bytes = b"") -> str:
    """Which path a tap takes: the PPSE's kernel identifier (9F2A), else the RID.

    Book B §3.3: kernel 2 (Mastercard) and 4 (American Express) read records and
    ask for the cryptogram with GENERATE AC; kernel 3 (Visa, also Elo's cards here)
    gets it in the GPO answer.
    """
    if kernel_id[:1] in (b"\x02", b"\x04"):
        return "mchip"
    if kernel_id[:1] == b"\x03":
        return "qvsdc"
    return "mchip" if aid.startswith(MASTERCARD_RID) else "qvsdc"


class ContactlessKernel(ContactKernel):
    interface: Interface = "contactless"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = ""
        self.ttq = bytes(4)
        self.mode = "emv"  # "magstripe": PayPass mag-stripe mode (ctls_magstripe)
        self.ms_track1 = ""
        self.ms_track2 = ""
        self.mobile = False  # the card is a phone (form factor, CDCVM, on-device CVM)

    # -- pre-processing and combination selection (Book B §3.1-§3.3) ---------------
    def _allowed(self, rec: AidParams) -> bool:
        if not rec.ctls_enabled:
            return False
        if self.txn.amount == 0 and not rec.ctls_zero_amount:
            return False
        # "equal or above" the contactless transaction limit is refused (Book A §5.2.1;
        # ABECS 2.10 changed T1_CTLSTRNLIM to the same rule). A phone has its own limit
        # (T1_CTLSMBTLIM, DF8125): before the card answers, either limit lets it in
        # (ABECS 2.12 §6.9.1.3); after GPO the one for what the card is applies.
        return self.txn.amount < max(rec.ctls_txn_limit, _mobile_limit(rec))

    def select_and_read(self) -> Generator[Request, Any, None]:
        usable = [r for r in self.config.aids if r.ctls_enabled]
        if not usable:
            raise KernelStop(Status.TRY_ANOTHER_INTERFACE, "no contactless application enabled")
        if not any(self._allowed(r) for r in usable):
            raise KernelStop(Status.INSERT_CARD, "amount over the contactless transaction limit")
        resp = yield from self._xfer(Command.select(PPSE), "SELECT 2PAY.SYS.DDF01")
        if not resp.ok:
            raise KernelStop(Status.TRY_ANOTHER_INTERFACE, f"PPSE answered {resp.sw:04X}")
        items = self._decode(resp.data, "PPSE FCI")
        cands: list[Candidate] = []
        for entry in tlv.find_all(items, 0x61):
            fields = tlv.flatten(entry)
            aid = fields.get(0x4F)
            if aid is None:
                continue
            rec = self.config.aid(aid)
            if rec is None or not self._allowed(rec):
                continue
            cand = self._candidate(aid, fields)
            if cand is not None:
                cands.append(replace(cand, kernel_id=fields.get(0x9F2A, b"")))
        if not cands:
            raise KernelStop(Status.TRY_ANOTHER_INTERFACE, "no contactless application in common")
        cands.sort(key=lambda c: c.priority or 16)
        chosen = cands[0]
        self.candidates = cands
        resp = yield from self._xfer(Command.select(chosen.aid), f"SELECT {chosen.label}")
        if not resp.ok:
            raise KernelStop(Status.TRY_ANOTHER_INTERFACE, f"SELECT AID answered {resp.sw:04X}")
        self.card.tags = dict(tlv.flatten(self._decode(resp.data, "FCI")))
        self.selected = chosen
        self.app = self.config.aid(chosen.aid)
        self.path = kernel_for(chosen.aid, chosen.kernel_id)
        self.ttq = self._ttq()
        gpo = yield from self._gpo()
        self._gpo_response(gpo)
        aip = self.card.tags.get(0x82, bytes(2))
        if self.path == "mchip" and ctls_magstripe.supported_by_card(aip):
            if not self.app or not self.app.ctls_magstripe:
                raise KernelStop(Status.TRY_ANOTHER_INTERFACE,
                                 "mag-stripe mode is not supported for this application")
            self.mode = "magstripe"
        yield from self.read_application_data_ctls()
        tags = self.card.tags
        if (self.path == "qvsdc" and 0x9F26 not in tags and 0x57 in tags
                and B.has(self.ttq, B.TTQ_MAGSTRIPE_MODE)):
            self.mode = "magstripe"  # Visa MSD: the card answered with a track, no AC
        if self.mode == "magstripe":
            ctls_magstripe.check_records(self)
        self._check_limit()

    def _check_limit(self) -> None:
        """The transaction limit for what the card turned out to be (card or phone)."""
        assert self.app is not None
        tags = self.card.tags
        if self.path == "mchip":
            # C-2: DF8125 applies when both the AIP and the kernel configuration (T1_MOBCVM,
            # "on device cardholder verification supported") say on-device CVM
            self.mobile = B.has(tags.get(0x82, bytes(2)), B.AIP_CDCVM) and self.app.mobile_cvm
        else:
            ffi = tags.get(0x9F6E, b"")
            self.mobile = (bool(ffi) and ffi[0] & 0x1F == 0x03) or B.has(
                tags.get(0x9F6C, bytes(2)), B.CTQ_CDCVM_PERFORMED)
        limit = _mobile_limit(self.app) if self.mobile else self.app.ctls_txn_limit
        if self.txn.amount >= limit:
            what = "mobile " if self.mobile else ""
            raise KernelStop(Status.INSERT_CARD,
                             f"amount over the contactless {what}transaction limit")

    def _ttq(self) -> bytes:
        """TTQ (9F66) from the AID record as ABECS 2.12 §6.8.1.3 sets it for Visa payWave.

        Byte 1: MSD 0 (fixed; ``ctls_msd`` for other readers), qVSDC 1 (fixed), contact
        chip (the kernel's own), online PIN and signature from byte 2 bits 7 and 6 of the
        contactless capabilities (T1_CTLSTRMCP). Byte 2: online cryptogram / CVM required
        from the limits, offline PIN (contact chip) from byte 2 bit 8 of T1_TRMCAPAB.
        Byte 3: issuer update processing when T1_CTLSISSSCR is 1; consumer device CVM
        always (2.12).
        """
        app = self.app
        assert app is not None
        caps = self._ctls_capabilities()
        b1 = 0x20 | 0x10 | (0x80 if app.ctls_msd else 0)
        if caps[1] & 0x40:
            b1 |= 0x04
        if caps[1] & 0x20:
            b1 |= 0x02
        b2 = 0
        if self.txn.amount > app.ctls_floor_limit or self.txn.force_online:
            b2 |= 0x80
        if self.txn.amount > app.ctls_cvm_limit:
            b2 |= 0x40
        if len(app.capabilities) > 1 and app.capabilities[1] & 0x80:
            b2 |= 0x20
        # byte 3 bit 7 (consumer device CVM supported) is always set: ABECS 2.12 §6.8.1.3
        # (Visa payWave); whether CDCVM is accepted is still T1_MOBCVM's (see _ctq_cvm)
        b3 = 0x40 | (0x80 if app.ctls_issuer_scripts else 0)
        return bytes([b1, b2, b3, 0x80])

    def cvm_capabilities(self) -> bytes:
        """PayPass "CVM Capability - CVM Required" (DF8118), ABECS 2.12 §6.8.1.3: byte 2
        of T1_CTLSTRMCP without plaintext PIN (b8), enciphered offline PIN (b5) and no
        CVM (b4), and without signature (b6) for debit (Maestro). A tap never verifies
        an offline PIN."""
        caps = bytearray(self._ctls_capabilities())
        caps[1] &= ~(0x80 | 0x10 | 0x08) & 0xFF
        if self.app is not None and self.app.app_type == 2:  # debit (Maestro)
            caps[1] &= ~0x20 & 0xFF
        return bytes(caps)

    def _ctls_capabilities(self) -> bytes:
        assert self.app is not None
        caps = self.app.ctls_capabilities or DEFAULT_CTLS_CAPABILITIES
        return caps if len(caps) == 3 else DEFAULT_CTLS_CAPABILITIES

    def terminal_tags(self) -> dict[int, bytes]:
        out = super().terminal_tags()
        out[0x9F66] = self.ttq
        if self.app is not None:
            out[0x9F33] = self._ctls_capabilities()
            # T1_CTLSADDTC: the additional capabilities a tap reports (§6.9.1.3)
            out[0x9F40] = self.app.ctls_add_capabilities or self.app.additional_capabilities
            if self._expresspay():
                out.update(self._expresspay_tags())
        return out

    def _expresspay(self) -> bool:
        sel = self.selected
        return sel is not None and (sel.kernel_id[:1] == b"\x04"
                                    or sel.aid.startswith(AMEX_RID))

    def _expresspay_tags(self) -> dict[int, bytes]:
        """Amex ExpressPay reader data, ABECS 2.12 §6.8.1.3: Contactless Reader
        Capabilities (9F6D) C0 fixed; Enhanced Contactless Reader Capabilities (9F6E):
        byte 1 contact, mag-stripe mode, EMV partial online and mobile supported (D8),
        byte 2 mobile CVM (T1_MOBCVM), online PIN and signature (byte 2 bits 7 and 6 of
        T1_CTLSTRMCP), bytes 3 and 4 the kernel's (zero here)."""
        assert self.app is not None
        caps = self._ctls_capabilities()
        b2 = (0x80 if self.app.mobile_cvm else 0) | (caps[1] & 0x60)
        return {0x9F6D: b"\xc0", 0x9F6E: bytes([0xD8, b2, 0, 0])}

    def _gpo(self) -> Generator[Request, Any, bytes]:
        pdol = self.card.tags.get(0x9F38, b"")
        self.crypto_values = self.values()
        self.pdol_data = tlv.build_dol(pdol, self.crypto_values) if pdol else b""
        resp = yield from self._xfer(Command.gpo(self.pdol_data), "GET PROCESSING OPTIONS")
        self._check_sw(resp.sw, "GPO")
        return resp.data

    def _check_sw(self, sw: int, what: str) -> None:
        if sw == 0x9000:
            return
        if sw == 0x6986:
            raise KernelStop(Status.SEE_PHONE, "see phone: verify on the device, then tap again")
        if sw in (0x6984, 0x6985):
            raise KernelStop(Status.TRY_ANOTHER_INTERFACE, f"{what} answered {sw:04X}")
        raise KernelStop(Status.CARD_ERROR, f"{what} answered {sw:04X}")

    def read_application_data_ctls(self) -> Generator[Request, Any, None]:
        afl = self.card.tags.get(0x94, b"")
        if afl:
            yield from self.read_application_data_records()
        if 0x5A not in self.card.tags:
            track2 = self.card.tags.get(0x57) or self.card.tags.get(0x9F6B)
            if track2:
                pan = _pan_from_track2(track2)
                self.card.tags[0x5A] = bytes.fromhex(pan + ("F" if len(pan) % 2 else ""))

    def read_application_data_records(self) -> Generator[Request, Any, None]:
        # Contactless cards need not carry CDOL2; only the records' validity counts.
        saved = {t: self.card.tags[t] for t in (0x8D,) if t in self.card.tags}
        if 0x8D not in self.card.tags:
            self.card.tags[0x8D] = b""
        try:
            yield from ContactKernel.read_application_data(self)
        except KernelStop as stop:
            # mag-stripe records carry tracks, not the EMV mandatory objects
            emv_mchip = self.path == "mchip" and self.mode != "magstripe"
            if "mandatory data missing" not in stop.reason or emv_mchip:
                raise
        if not saved and self.card.tags.get(0x8D) == b"":
            del self.card.tags[0x8D]

    # -- GOC equivalent ----------------------------------------------------------------
    def go_on_chip(self, params: GocParams | None = None) -> Generator[Request, Any, int]:
        if params is not None:
            self.goc = params
        if self.mode == "magstripe":
            yield from ctls_magstripe.run(self)
            return DECISION_ONLINE
        if self.path == "mchip":
            return (yield from self._mchip())
        return (yield from self._qvsdc())

    def _qvsdc(self) -> Generator[Request, Any, int]:
        assert self.app is not None
        tags = self.card.tags
        cid_raw = tags.get(0x9F27)
        if cid_raw is None:
            # Visa cards may leave 9F27 out; the CVR in the IAD (byte 5) holds the type.
            iad = tags.get(0x9F10, b"")
            kind = (iad[4] & 0x30) << 2 if len(iad) > 4 else 0x80
            cid_raw = bytes([kind])
            tags[0x9F27] = cid_raw
        if 0x9F26 not in tags or 0x9F36 not in tags:
            raise KernelStop(Status.CARD_ERROR, "qVSDC GPO answer lacks cryptogram or ATC")
        kind = cid_raw[0] & 0xC0
        self.tsi.set(B.TSI_CARD_RISK_MANAGEMENT_PERFORMED)
        self.processing_restrictions()
        yield from self._ctq_cvm()
        if kind == 0x40:
            ok = self._fdda()
            if not ok:
                # C-3: an offline approval without valid fDDA is not trusted; the
                # reader goes online when it can, else declines.
                kind = 0x80 if self.online_capable else 0x00
        if kind == 0x40 and B.has(bytes(self.tvr), B.TVR_EXPIRED_APPLICATION):
            kind = 0x00
        self.first_cid = kind
        if kind == 0x80:
            return DECISION_ONLINE
        self.final_cid = kind
        self.arc = "Y1" if kind == 0x40 else "Z1"
        return DECISION_APPROVED if kind == 0x40 else DECISION_DECLINED

    def _ctq_cvm(self) -> Generator[Request, Any, None]:
        """CVM from the card's CTQ when the reader asked for one (TTQ byte 2 bit 7)."""
        ctq = self.card.tags.get(0x9F6C, bytes(2))
        if not B.has(self.ttq, B.TTQ_CVM_REQUIRED):
            self.cvm = "no-cvm"
            self.cvm_results = bytes.fromhex("1F0002")
            return
        self.tsi.set(B.TSI_CVM_PERFORMED)
        if B.has(ctq, B.CTQ_CDCVM_PERFORMED) and self.app is not None and self.app.mobile_cvm:
            self.cvm = "cdcvm"
            self.cvm_results = bytes.fromhex("010002")
            return
        if B.has(ctq, B.CTQ_ONLINE_PIN_REQUIRED):
            ok = yield from self._online_pin()
            if ok:
                return
        if B.has(ctq, B.CTQ_SIGNATURE_REQUIRED):
            self.cvm = "signature"
            self.signature = True
            self.cvm_results = bytes.fromhex("1E0000")
            return
        if not (B.has(ctq, B.CTQ_ONLINE_PIN_REQUIRED) or B.has(ctq, B.CTQ_SIGNATURE_REQUIRED)):
            # The card asked for nothing the reader can do above the CVM limit.
            ok = yield from self._online_pin()
            if ok:
                return
        self.tvr.set(B.TVR_CV_NOT_SUCCESSFUL)
        self.cvm = "failed"
        self.cvm_results = bytes.fromhex("3F0001")

    def _online_pin(self) -> Generator[Request, Any, bool]:
        pin = yield EnterPin("online", self.txn.amount)
        if pin == CANCEL:
            raise KernelStop(Status.CANCELLED, "cardholder cancelled at the PIN prompt")
        if pin is None:
            self.tvr.set(B.TVR_PIN_NOT_ENTERED)
            return False
        self.online_pin = str(pin)
        self.tvr.set(B.TVR_ONLINE_PIN_ENTERED)
        self.cvm = "online-pin"
        self.cvm_results = bytes.fromhex("020000")
        return True

    def _fdda(self) -> bool:
        """fDDA (C-3): SDAD over UN, amount, currency and card authentication data."""
        tags = self.card.tags
        self.oda_method = "fDDA"
        self.tsi.set(B.TSI_ODA_PERFORMED)
        try:
            sdad = tags.get(0x9F4B)
            if sdad is None:
                raise oda.OdaError("no signed dynamic data")
            issuer = self._issuer_key()
            self.icc_key = self._icc_key(issuer, self._static_data())
            values = self.values()
            signed = values[0x9F37] + values[0x9F02] + values[0x5F2A] + tags.get(0x9F69, b"")
            dyn = oda.verify_sdad(self.icc_key, sdad, signed)
            if dyn:
                tags[0x9F4C] = dyn[1 : 1 + dyn[0]]
            self.oda_ok = True
            return True
        except oda.OdaError as exc:
            self.tvr.set(B.TVR_DDA_FAILED)
            self.oda_ok = False
            self.oda_error = str(exc)
            return False

    def _mchip(self) -> Generator[Request, Any, int]:
        assert self.app is not None
        yield from self.offline_data_authentication()
        self.processing_restrictions()
        above = self.txn.amount > self.app.ctls_cvm_limit
        aip = self.card.tags.get(0x82, bytes(2))
        if not above:
            self.cvm = "no-cvm"
            self.cvm_results = bytes.fromhex("3F0002")
        elif B.has(aip, B.AIP_CDCVM) and self.app.mobile_cvm:
            self.cvm = "cdcvm"
            self.cvm_results = bytes.fromhex("010002")
            self.tsi.set(B.TSI_CVM_PERFORMED)
        else:
            yield from run_cvm_list(self)
        self.tsi.set(B.TSI_TRM_PERFORMED)
        if self.txn.amount > self.app.ctls_floor_limit:
            self.tvr.set(B.TVR_FLOOR_LIMIT_EXCEEDED)
        if self.goc.force_online or self.txn.force_online:
            self.tvr.set(B.TVR_MERCHANT_FORCED_ONLINE)
        requested = self.terminal_action_analysis()
        cid = yield from self.generate_ac_ctls(requested)
        self.first_cid = cid
        kind = cid & 0xC0
        if kind == 0x80:
            return DECISION_ONLINE
        self.final_cid = cid
        self.arc = "Y1" if kind == 0x40 else "Z1"
        return DECISION_APPROVED if kind == 0x40 else DECISION_DECLINED

    def generate_ac_ctls(self, requested: int) -> Generator[Request, Any, int]:
        gen = self.generate_ac(requested, first=True)
        answer: Any = None
        try:
            while True:
                req = gen.send(answer)
                answer = yield req
                if isinstance(answer, bytes | bytearray) and answer[-2:] == b"\x69\x86":
                    self._check_sw(0x6986, "GENERATE AC")
        except StopIteration as stop:
            return int(stop.value)

    def _codes(self) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes]:
        den, onl, dflt, iden, ionl, idef = super()._codes()
        app = self.app
        assert app is not None
        return (
            app.ctls_tac_denial or den,
            app.ctls_tac_online or onl,
            app.ctls_tac_default or dflt,
            iden,
            ionl,
            idef,
        )

    # -- online completion: no second GENERATE AC for a tap -----------------------------
    def finish(self, response: IssuerResponse | None) -> Generator[Request, Any, Outcome]:
        if self.first_cid < 0:
            raise KernelStop(Status.CARD_ERROR, "FNC before GOC")
        if self.first_cid & 0xC0 != 0x80 or self.final_cid >= 0:
            return self.outcome()
        if response is None:
            self.arc = "Z3"
            self.final_cid = 0x00
        else:
            self.went_online = True
            self.arc = response.arc[:2].ljust(2)
            self.auth_code = response.auth_code
            self.reference = response.reference
            self.final_cid = 0x40 if response.approved else 0x00
        yield from ()  # a generator like the contact finish, with nothing to send
        return self.outcome()

    def can_update(self) -> bool:
        """Issuer update processing on a second tap (VCPS): the reader allows it
        (T1_CTLSISSSCR, TTQ byte 3 bit 8) and the qVSDC card says it supports it in
        its CTQ (byte 2 bit 7), after an online request."""
        ctq = self.card.tags.get(0x9F6C, bytes(2))
        return (self.path == "qvsdc" and self.app is not None and self.app.ctls_issuer_scripts
                and len(ctq) > 1 and bool(ctq[1] & 0x40) and self.first_cid & 0xC0 == 0x80)

    def issuer_update(self, response: IssuerResponse) -> Generator[Request, Any, None]:
        """The card tapped again: select it, issuer authentication, then the scripts.

        No GPO: the card answers under the ATC and ARQC of the tap that went online,
        so a different card (or a new transaction in between) fails the scripts.
        """
        assert self.selected is not None
        resp = yield from self._xfer(Command.select(PPSE), "SELECT 2PAY.SYS.DDF01")
        if not resp.ok:
            raise KernelStop(Status.CARD_ERROR, f"PPSE answered {resp.sw:04X} on the second tap")
        resp = yield from self._xfer(Command.select(self.selected.aid),
                                     f"SELECT {self.selected.label}")
        if not resp.ok:
            raise KernelStop(Status.CARD_ERROR, f"SELECT answered {resp.sw:04X} on the second tap")
        if response.issuer_auth_data is not None:
            self.tsi.set(B.TSI_ISSUER_AUTH_PERFORMED)
            got = yield from self._xfer(Command.external_authenticate(response.issuer_auth_data),
                                        "EXTERNAL AUTHENTICATE")
            self.issuer_auth = got.ok
            if not got.ok:
                self.tvr.set(B.TVR_ISSUER_AUTH_FAILED)
        yield from self._scripts(response.scripts_71, before=True)
        yield from self._scripts(response.scripts_72, before=False)

    def outcome(self) -> Outcome:
        """A tap has one cryptogram: after the host answered it stays the ARQC.

        A mag-stripe mode tap has none: its online request carries the CVC3 in the
        tracks, and the outcome says so (``magstripe_mode``, no cryptogram names).
        """
        out = super().outcome()
        if self.mode == "magstripe":
            out.magstripe_mode = True
            out.cryptogram = out.first_cryptogram = ""
        elif self.first_cid >= 0 and self.first_cid & 0xC0 == 0x80:
            out.cryptogram = "ARQC"
        return out

    def auth_request(self) -> AuthRequest:
        """A mag-stripe mode tap goes online with its tracks (CVC3 inside), no EMV data."""
        if self.mode != "magstripe":
            return super().auth_request()
        assert self.selected is not None and self.app is not None
        return AuthRequest(
            interface="contactless", amount=self.txn.amount, currency=self.app.currency,
            pan=self.card.pan, psn="00", aid=self.selected.aid, emv={},
            track2=self.ms_track2, pin=self.online_pin,
        )


def _mobile_limit(rec: AidParams) -> int:
    return rec.ctls_txn_limit if rec.ctls_mobile_limit is None else rec.ctls_mobile_limit


def _pan_from_track2(track2: bytes) -> str:
    digits = track2.hex().upper()
    return digits.split("D", 1)[0]
