"""The acquirer host: authorises, verifies cryptograms, answers with issuer data, keeps books.

In-process API (a local HTTP facade can wrap it)::

    host = AcquirerHost()                       # default rules profile, default tables
    resp = host.authorise(auth_request)         # IssuerResponse (ARC, 91, 71/72) or None
    host.preauthorise(req); host.capture(ref, amount, key)
    host.refund(ref, amount, key); host.reverse(ref, key)
    host.refund_to_card(card_request, key)      # standalone card-present refund (credit)
    host.tip_adjust(ref, tip, key)              # add a tip to an approved, live charge
    host.ledger.balance(); host.ledger.check(pos_view)
    host.terminal_config(); host.table_version
    host.card_hash_key() -> (key_id, public key PEM); host.decrypt_card_hash(s)

The issuer side is folded in, as test hosts do: the card's keys derive from the
brand's test issuer master keys (``virtual_devices.emv.crypto``), so the host
verifies each ARQC and answers with an ARPC the card can check (tag 91: method 1
ARPC || ARC or method 2 ARPC || CSU, per the card's cryptogram version).
"""

from __future__ import annotations

import base64
import hashlib
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulator.masking import mask_pan
from virtual_devices.acquirer.ledger import Entry, Ledger, LedgerError
from virtual_devices.acquirer.pinpad_keys import PinKeys
from virtual_devices.acquirer.rules import Decision, Rule, Rules, load_rules
from virtual_devices.acquirer.tables import default_terminal_config
from virtual_devices.emv import crypto, dynamic_track, magstripe, tlv
from virtual_devices.emv.kernel.messages import AuthRequest, IssuerResponse
from virtual_devices.emv.terminal import TerminalConfig

BRAND_BY_RID = {
    "A000000003": "visa",
    "A000000004": "mastercard",
    "A000000025": "amex",
    "A000000494": "elo",
}
# Schemes tried per brand when the IAD's CVN is not one we recognise.
SCHEMES_BY_BRAND = {
    "visa": ("visa-cvn10", "visa-cvn18"),
    "mastercard": ("mc-cvn16",),
    "amex": ("visa-cvn18",),
    "elo": ("visa-cvn18",),
}
# ISO 8583 field 39 for a cryptogram that does not verify. No single public code
# exists across brands; Visa's 82 ("negative CAM/dCVV/iCVV/CVV result") is used.
RC_BAD_CRYPTOGRAM = "82"
RC_WRONG_PIN = "55"
# ISO 8583 field 39 for a PIN block the host cannot decrypt or decode (wrong length,
# unknown key, not format 0). No code is common to all brands; Visa's 81 ("PIN
# cryptographic error found") says what happened without blaming the cardholder.
RC_PIN_CRYPTO_ERROR = "81"
RC_INVALID_TRANSACTION = "12"
RC_NO_ORIGINAL = "25"  # unable to locate record
# How far a contactless mag-stripe ATC may run ahead of the last one the issuer saw (taps
# the issuer never heard of: offline, declined elsewhere). No public figure; ours, wide
# enough for a card used offline for months, narrow enough that four ATC digits repeat
# only after a window has passed.
ATC_WINDOW = 1000


@dataclass(frozen=True)
class CardFieldsDecision:
    """The host's answer to an mpos transaction (what the merchant API reads back)."""

    approved: bool
    response_code: str
    issuer_data_hex: str  # 91 / 71 / 72 TLV, the card_emv_response for FNC
    reference: str
    timed_out: bool = False


@dataclass(frozen=True)
class CardRecord:
    """What the issuer knows about a test card: PIN and its documented host rule."""

    pan: str
    pin: str | None
    rule: Rule | None


def _catalogue_cards() -> dict[str, CardRecord]:
    """The catalogue's cards as the host knows them (a fresh dict of immutable records)."""
    return dict(_catalogue_records())


@cache  # the catalogue is fixed for the process; every host (each virtual sale's) reads it
def _catalogue_records() -> dict[str, CardRecord]:
    from virtual_devices.emv.catalogue import catalogue

    out: dict[str, CardRecord] = {}
    for profile in catalogue().values():
        host = profile.host or {}
        rule = None
        if host.get("decision") in ("approve", "decline"):
            rule = Rule(
                action=host["decision"],
                response_code=host.get("response_code", ""),
                pan=profile.pan,
                source=f"catalogue card {profile.name}",
            )
        out[profile.pan] = CardRecord(profile.pan, profile.pin, rule)
    return out


class AcquirerHost:
    def __init__(
        self,
        rules: Rules | str = "default",
        tables: TerminalConfig | None = None,
        cards: Mapping[str, CardRecord] | None = None,
        pin_keys: PinKeys | None = None,
    ) -> None:
        self.rules = load_rules(rules) if isinstance(rules, str) else rules
        # how its terminals encrypt online PINs (DUKPT:TDES 16 unless told otherwise)
        self.pin_keys = pin_keys or PinKeys()
        self._tables = tables
        self.cards = dict(cards) if cards is not None else _catalogue_cards()
        self.ledger = Ledger()
        self._seq = 0
        self.log: list[str] = []  # masked, one line per decision
        # the highest ATC seen in a CVC3 or dCVV per PAN: a track replayed (same or
        # older ATC) no longer verifies
        self._cvc3_atc: dict[str, int] = {}

    # -- tables and keys ---------------------------------------------------------------
    def terminal_config(self) -> TerminalConfig:
        return self._tables if self._tables is not None else default_terminal_config()

    @property
    def table_version(self) -> str:
        return self.terminal_config().table_version

    def card_hash_key(self) -> tuple[str, str]:
        """(key id, public key PEM) for mpos card_hash (mpos-bridge.md §3.4)."""
        key_id, key = _card_hash_private()
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return key_id, pem.decode()

    def decrypt_card_hash(self, card_hash: str) -> dict[str, str]:
        """``<key id>_<base64>`` -> the form fields it carries (PKCS#1 v1.5 chunks)."""
        key_id, sep, body = card_hash.partition("_")
        my_id, key = _card_hash_private()
        if not sep or key_id != my_id:
            raise ValueError(f"card_hash key id {key_id!r} is not {my_id!r}")
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise ValueError(f"card_hash is not base64: {exc}") from None
        size = key.key_size // 8
        if not raw or len(raw) % size:
            raise ValueError("card_hash length is not a multiple of the key size")
        plain = b"".join(
            key.decrypt(raw[i : i + size], padding.PKCS1v15()) for i in range(0, len(raw), size)
        )
        return dict(urllib.parse.parse_qsl(plain.decode("utf-8"), keep_blank_values=True))

    # -- authorisation ------------------------------------------------------------------
    def _ref(self) -> str:
        self._seq += 1
        return f"T{self._seq:06d}"

    def _natural_key(self, req: AuthRequest) -> str | None:
        atc, ac = req.emv.get(0x9F36), req.emv.get(0x9F26)
        if atc is None or ac is None:
            return None
        return hashlib.sha256(req.pan.encode() + atc + ac).hexdigest()[:24]

    def authorise(
        self, request: AuthRequest, kind: str = "sale", key: str | None = None
    ) -> IssuerResponse | None:
        """Decide one online request; ``None`` means the host does not answer.

        A repeated idempotency key (given, or the card's ATC + cryptogram) returns the
        first answer without recording anything new.
        """
        if kind not in ("sale", "authorisation", "preauth"):
            raise LedgerError(f"authorise cannot do {kind!r}")
        key = key or self._natural_key(request) or f"auto-{self._seq + 1}"
        earlier = self.ledger.seen(key)
        if earlier is not None:
            return earlier.meta["response"]  # type: ignore[no-any-return]
        card = self.cards.get(request.pan)
        if request.interface == "keyed":
            refused = self.keyed_refusal(request, payment=True)
            if refused is not None:
                return self._keyed_decline(request, kind, key, refused)
        card_rules = [card.rule] if card is not None and card.rule is not None else []
        decision = self.rules.decide(request.amount, request.pan, card_rules)
        if decision.action == "no-response":
            self.log.append(f"{mask_pan(request.pan)} {request.amount}: no response (rule)")
            return None
        crypto_ok, scheme, keys = self._verify_arqc(request)
        code = decision.response_code
        approved = decision.action == "approve"
        if approved and request.pin is not None and card is not None and card.pin is not None:
            if request.pin != card.pin:
                approved, code = False, RC_WRONG_PIN
        if approved and request.pin_block is not None:
            pin_code = verify_pin_block(request, card.pin if card is not None else None,
                                        self.pin_keys)
            if pin_code is not None:
                approved, code = False, pin_code
        if not crypto_ok:
            approved, code = False, RC_BAD_CRYPTOGRAM
        ref = self._ref()
        issuer_data: bytes | None = None
        s71: tuple[bytes, ...] = ()
        s72: tuple[bytes, ...] = ()
        if crypto_ok and scheme is not None and keys is not None:
            issuer_data = self._arpc(request, scheme, keys, approved, code)
            if approved:
                s71 = self._scripts(decision.scripts_71, 0x71, request, scheme, keys)
                s72 = self._scripts(decision.scripts_72, 0x72, request, scheme, keys)
        response = IssuerResponse(
            arc=code,
            auth_code=f"{self._seq:06d}" if approved else "",
            issuer_auth_data=issuer_data,
            scripts_71=s71,
            scripts_72=s72,
            reference=ref,
        )
        self.ledger.add(
            Entry(
                ref=ref,
                kind=kind,
                amount=request.amount,
                currency=request.currency,
                approved=approved,
                response_code=code,
                key=key,
                pan_masked=mask_pan(request.pan),
                meta={"response": response, "interface": request.interface,
                      "cryptogram_ok": crypto_ok, "scheme": scheme or ""},
            )
        )
        self.log.append(
            f"{ref} {kind} {mask_pan(request.pan)} {request.amount}: {code}"
            + ("" if crypto_ok else " (cryptogram did not verify)")
        )
        return response

    def keyed_refusal(self, request: AuthRequest, payment: bool) -> str | None:
        """The response code a keyed card fails on (None: it passes), per ``[keyed]`` of
        rules.toml: a number that fails Luhn or belongs to no brand we acquire; an expiry
        that is not a month or is before the terminal's date (a card is valid through
        its expiry month); for a payment, a security code that is not the one printed
        on the card (computed under the brand's CVK, as the issuer does)."""
        from simulator.masking import luhn_ok
        from virtual_devices.emv.printed import security_code

        rules = self.rules.keyed
        pan = request.pan
        brand = BRAND_BY_RID.get(_rid_for_pan(pan).hex().upper())
        if not (pan.isdigit() and 12 <= len(pan) <= 19 and luhn_ok(pan)) or brand is None:
            return rules.invalid_number
        expiry, today = request.expiry or "", request.date or ""
        if not (len(expiry) == 4 and expiry.isdigit() and 1 <= int(expiry[2:]) <= 12):
            return rules.expired
        if len(today) >= 4 and today[:4].isdigit() and expiry < today[:4]:
            return rules.expired
        if payment and rules.require_security_code:
            printed = security_code(brand, pan, expiry)
            if not printed or request.security_code != printed:
                return rules.security_code
        return None

    def _keyed_decline(self, request: AuthRequest, kind: str, key: str,
                       code: str) -> IssuerResponse:
        """Book a keyed authorisation the checks refused (declined, nothing held)."""
        ref = self._ref()
        response = IssuerResponse(arc=code, reference=ref)
        self.ledger.add(Entry(
            ref=ref, kind=kind, amount=request.amount, currency=request.currency,
            approved=False, response_code=code, key=key, pan_masked=mask_pan(request.pan),
            meta={"response": response, "interface": "keyed", "cryptogram_ok": True,
                  "scheme": ""}))
        self.log.append(f"{ref} {kind} {mask_pan(request.pan)} {request.amount}: {code} "
                        "(keyed card refused)")
        return response

    def authorize_card_fields(
        self, card: Mapping[str, str], amount: int, key: str | None = None
    ) -> CardFieldsDecision:
        """Authorise from mpos card_hash fields (mpos-bridge.md §3.4).

        ``card_emv_data`` is the GOC tag data (hex TLV); the AID is not among those
        tags, so the brand comes from the PAN's IIN. An online PIN comes as ``card_pin``
        (the DUKPT-encrypted format 0 block, 16 hex) with ``card_pin_kek`` (its KSN, 20
        hex) when ``card_pin_mode`` is ``online``; the host decrypts and checks it.
        """
        response = self.authorise(self.card_fields_request(card, amount), kind="sale", key=key)
        return self.card_fields_decision(response)

    def card_fields_request(self, card: Mapping[str, str], amount: int) -> AuthRequest:
        """The online request mpos card_hash fields make (see :meth:`authorize_card_fields`),
        for a caller that sends it over its own line (:class:`~.link.HostLink`)."""
        pan = card.get("card_number", "")
        emv_hex = card.get("card_emv_data") or ""
        try:
            emv = tlv.flatten(bytes.fromhex(emv_hex)) if emv_hex else {}
        except (ValueError, tlv.TLVError):
            emv = {}
        emv_capture = card.get("capture_method", "emv") == "emv" and bool(emv)
        aid = emv.get(0x4F) or emv.get(0x84) or emv.get(0x9F06) or _rid_for_pan(pan)
        psn = card.get("card_sequence_number", "0") or "0"
        pin_block, ksn = _online_pin_fields(card)
        # a tap carries EMV data too; card_entry_mode says the card was read contactless
        tapped = card.get("card_entry_mode", "") == "contactless"
        # a tap in mag-stripe mode (card type 05) sends tracks with a CVC3, no EMV data
        ms_tap = card.get("card_entry_mode", "") == "contactless-magstripe"
        request = AuthRequest(
            interface=("contactless" if tapped else "contact") if emv_capture else (
                "contactless" if ms_tap else "magstripe"),
            amount=amount,
            currency=int((emv.get(0x5F2A) or b"\x09\x86").hex()),
            pan=pan,
            psn=psn.zfill(2)[-2:],
            aid=aid,
            emv=emv,
            track2=card.get("card_track_2"),
            pin_block=pin_block,
            ksn=ksn,
        )
        return request

    def natural_key(self, request: AuthRequest) -> str | None:
        """The idempotency key the host gives a request that names none (ATC + ARQC)."""
        return self._natural_key(request)

    @staticmethod
    def card_fields_decision(response: IssuerResponse | None) -> CardFieldsDecision:
        """The merchant API's reading of the host's answer (None: no answer came)."""
        if response is None:
            return CardFieldsDecision(False, "", "", "", timed_out=True)
        issuer = b""
        if response.issuer_auth_data is not None:
            issuer += tlv.encode(0x91, response.issuer_auth_data)
        issuer += b"".join(response.scripts_71) + b"".join(response.scripts_72)
        return CardFieldsDecision(
            response.approved, response.arc, issuer.hex().upper(), response.reference
        )

    def preauthorise(self, request: AuthRequest, key: str | None = None) -> IssuerResponse | None:
        return self.authorise(request, kind="preauth", key=key)

    def _verify_arqc(
        self, req: AuthRequest
    ) -> tuple[bool, str | None, crypto.CardKeys | None]:
        """(valid, scheme, card keys). Magstripe has no cryptogram: valid, no scheme.
        A contactless mag-stripe tap has its CVC3 (or Visa dCVV) in track 2 instead."""
        if req.interface == "contactless" and 0x9F26 not in req.emv and req.track2:
            brand = BRAND_BY_RID.get(_rid_for_pan(req.pan).hex().upper())
            ok = self._verify_dcvv(req) if brand == "visa" else self._verify_cvc3(req)
            return ok, None, None
        if req.interface in ("magstripe", "keyed") or 0x9F26 not in req.emv:
            # a stripe or a keyed card has no cryptogram to check
            return (req.interface in ("magstripe", "keyed")), None, None
        # The AID may be absent (GOC tag lists rarely carry 84/4F): use the PAN's IIN.
        rid = (req.aid or _rid_for_pan(req.pan))[:5]
        brand = BRAND_BY_RID.get(rid.hex().upper())
        if brand is None or brand not in crypto.ISSUER_KEYS:
            return False, None, None
        keys = crypto.card_keys(brand, req.pan, req.psn)
        emv = req.emv
        atc, un, arqc = emv.get(0x9F36, b""), emv.get(0x9F37), emv[0x9F26]
        for scheme in self._schemes(brand, emv.get(0x9F10, b"")):
            try:
                sk = crypto.session_key(scheme, keys.ac, atc, un)
                data = crypto.cryptogram_data(scheme, emv)
                if crypto.generate_cryptogram(scheme, sk, data) == arqc:
                    return True, scheme, keys
            except (crypto.CryptoError, ValueError):
                continue
        return False, None, None

    def _verify_cvc3(self, req: AuthRequest) -> bool:
        """PayPass mag-stripe: the CVC3 in track 2 over its UN and ATC digits.

        The issuer knows where it personalised the dynamic digits (the catalogue's
        :data:`~virtual_devices.emv.dynamic_track.DEFAULT_LAYOUT`), rebuilds the static
        track the card MACs, and recovers the full ATC from its low digits: the first
        value above the last one seen whose CVC3 matches. A replayed track fails.
        """
        brand = BRAND_BY_RID.get(_rid_for_pan(req.pan).hex().upper())
        keys = crypto.ISSUER_KEYS.get(brand or "")
        if keys is None or not keys.imk_cvc3 or not req.track2:
            return False
        try:
            pan, yymm, sc, dd = magstripe.parse_track2(req.track2)
        except ValueError:
            return False
        lay = dynamic_track.DEFAULT_LAYOUT
        if pan != req.pan or not dd.isdigit() or len(dd) < 13:
            return False
        cvc3_digits, un_digits, atc_digits = dynamic_track.read(dd, lay)
        static = f"{pan}D{yymm}{sc}{dynamic_track.template(dd, lay)}"
        template = bytes.fromhex(static + ("F" if len(static) % 2 else ""))
        un = bytes.fromhex(un_digits.rjust(8, "0"))
        kd = crypto.derive_icc_master_key(keys.imk_cvc3, pan, req.psn or "00")
        for atc in self._atc_candidates(pan, int(atc_digits), 10 ** len(atc_digits)):
            value = crypto.cvc3(kd, template, atc.to_bytes(2, "big"), un)
            if f"{value:05d}"[-lay.q:] == cvc3_digits:
                self._cvc3_atc[pan] = atc
                return True
        return False

    def _atc_candidates(self, pan: str, low: int, modulus: int) -> list[int]:
        """The full ATCs a track's low ATC digits may stand for.

        Once a card was seen only the next ATC with those digits counts, and only
        within :data:`ATC_WINDOW` of the last one (so a replay or an older track fails
        even where the dynamic value repeats with the low digits); a card seen for the
        first time may have any ATC with those low digits.
        """
        last = self._cvc3_atc.get(pan)
        if last is None:
            return list(range(low, 0x10000, modulus))
        nxt = last + 1 + (low - (last + 1)) % modulus
        return [nxt] if nxt < 0x10000 and nxt - last <= ATC_WINDOW else []

    def _verify_dcvv(self, req: AuthRequest) -> bool:
        """Visa MSD: the dCVV in track 2 over the ATC digits beside it (the layout the
        catalogue's MSD cards are personalised with: PVKI, PVV, dCVV, ATC, fill)."""
        keys = crypto.ISSUER_KEYS.get("visa")
        if keys is None or not keys.imk_dcvv or not req.track2:
            return False
        try:
            pan, yymm, _, dd = magstripe.parse_track2(req.track2)
        except ValueError:
            return False
        if pan != req.pan or not dd.isdigit() or len(dd) < 12:
            return False
        code, atc_low = dd[5:8], int(dd[8:12])
        kd = crypto.derive_icc_master_key(keys.imk_dcvv, pan, req.psn or "00")
        for atc in self._atc_candidates(pan, atc_low, 10000):
            if crypto.dcvv(kd, pan, yymm, atc) == code:
                self._cvc3_atc[pan] = atc
                return True
        return False

    @staticmethod
    def _schemes(brand: str, iad: bytes) -> tuple[str, ...]:
        candidates = SCHEMES_BY_BRAND.get(brand, tuple(crypto.SCHEMES))
        by_cvn = [s for s in candidates if _cvn(iad, s) == crypto.SCHEMES[s].cvn]
        return tuple(by_cvn) + tuple(s for s in candidates if s not in by_cvn)

    def _arpc(
        self, req: AuthRequest, scheme: str, keys: crypto.CardKeys, approved: bool, code: str
    ) -> bytes:
        emv = req.emv
        arc = code.encode("ascii")[:2]
        return crypto.issuer_authentication_data(
            scheme, keys.ac, emv[0x9F36], emv.get(0x9F37), emv[0x9F26], approved, arc
        )

    def _scripts(
        self,
        names: tuple[str, ...],
        template: int,
        req: AuthRequest,
        scheme: str,
        keys: crypto.CardKeys,
    ) -> tuple[bytes, ...]:
        out = []
        emv = req.emv
        for i, name in enumerate(names):
            script = self.rules.scripts[name]
            header = script.command[:4]
            lc = len(script.data) + 8
            mac = crypto.script_mac(
                scheme, keys.smi, emv[0x9F36], emv[0x9F26], header + bytes([lc]), script.data
            )
            command = header + bytes([lc]) + script.data + mac
            body = tlv.encode(0x9F18, (i + 1).to_bytes(4, "big")) + tlv.encode(0x86, command)
            out.append(tlv.encode(template, body))
        return tuple(out)

    # -- follow-up operations --------------------------------------------------------------
    def _follow_up(self, kind: str, parent_ref: str, amount: int, key: str) -> Entry:
        earlier = self.ledger.seen(key)
        if earlier is not None:
            return earlier
        parent = self.ledger.get(parent_ref)
        ref = self._ref()
        code, approved = "00", True
        if parent is None or not parent.live:
            code, approved = RC_NO_ORIGINAL, False
        elif kind == "capture" and (
            parent.kind != "preauth" or amount > parent.amount - parent.captured
        ):
            code, approved = RC_INVALID_TRANSACTION, False
        elif kind == "refund" and (
            parent.kind not in ("sale", "capture") or amount > parent.amount - parent.refunded
        ):
            code, approved = RC_INVALID_TRANSACTION, False
        entry = Entry(
            ref=ref, kind=kind, amount=amount,
            currency=parent.currency if parent else 986, approved=approved,
            response_code=code, key=key, pan_masked=parent.pan_masked if parent else "",
            parent=parent_ref,
        )
        self.ledger.add(entry)
        if approved and parent is not None:
            if kind == "capture":
                parent.captured += amount
            elif kind == "refund":
                parent.refunded += amount
            elif kind == "reversal":
                parent.reversed = True
        self.log.append(f"{ref} {kind} of {parent_ref} {amount}: {code}")
        return entry

    def capture(self, ref: str, amount: int, key: str) -> Entry:
        return self._follow_up("capture", ref, amount, key)

    def refund(self, ref: str, amount: int, key: str) -> Entry:
        return self._follow_up("refund", ref, amount, key)

    def refund_to_card(self, request: AuthRequest, key: str) -> Entry:
        """A standalone, card-present refund: a credit to the card read at the terminal.

        There is no earlier sale to refund against, so the entry has no parent and its own
        idempotency key (a retry returns the first entry). Choices where no public spec
        speaks: the issuer is not asked (a credit needs no cardholder funds, as refunds go
        online to the acquirer only); the host refuses (12) a card whose PAN belongs to no
        brand it acquires, and a zero amount; the cryptogram, if any, is not required.
        """
        earlier = self.ledger.seen(key)
        if earlier is not None:
            return earlier
        brand = BRAND_BY_RID.get(_rid_for_pan(request.pan).hex().upper())
        approved = brand is not None and request.amount > 0
        code = "00" if approved else RC_INVALID_TRANSACTION
        refused = (self.keyed_refusal(request, payment=False)
                   if request.interface == "keyed" else None)
        if refused is not None:
            approved, code = False, refused
        ref = self._ref()
        entry = self.ledger.add(Entry(
            ref=ref, kind="refund", amount=request.amount, currency=request.currency,
            approved=approved, response_code=code, key=key, pan_masked=mask_pan(request.pan),
            meta={"standalone": True, "interface": request.interface,
                  "auth_code": f"{self._seq:06d}" if approved else ""},
        ))
        self.log.append(f"{ref} standalone refund {mask_pan(request.pan)} {request.amount}: "
                        f"{code}")
        return entry

    def tip_adjust(self, ref: str, tip: int, key: str) -> Entry:
        """Add ``tip`` to an approved charge that was neither reversed nor refunded.

        payworks-p3.md §6/§7.8 (TipAdjustStatus ADJUSTABLE -> ADJUSTED) says nothing of
        capture; card-present tip adjust is done before the batch is cleared, so a sale
        (captured at once) and a pre-authorisation, captured or not, both take a tip. The
        charge's amount grows in place (``tipped`` keeps the part that is tip); a captured
        pre-authorisation's tip goes onto its capture too, so what is settled grows and
        what is held stays. A refunded or partly captured charge is refused (12).
        """
        earlier = self.ledger.seen(key)
        if earlier is not None:
            return earlier
        parent = self.ledger.get(ref)
        capture: Entry | None = None
        code = "00"
        if parent is None or not parent.live:
            code = RC_NO_ORIGINAL
        elif parent.kind not in ("sale", "capture", "preauth") or parent.refunded or tip <= 0:
            code = RC_INVALID_TRANSACTION
        elif parent.kind == "preauth" and parent.captured:
            captures = [e for e in self.ledger.entries
                        if e.kind == "capture" and e.parent == ref and e.live]
            if len(captures) != 1 or parent.captured != parent.amount or captures[0].refunded:
                code = RC_INVALID_TRANSACTION
            else:
                capture = captures[0]
        approved = code == "00"
        entry = self.ledger.add(Entry(
            ref=self._ref(), kind="tip_adjust", amount=tip,
            currency=parent.currency if parent else 986, approved=approved,
            response_code=code, key=key, pan_masked=parent.pan_masked if parent else "",
            parent=ref,
        ))
        if approved and parent is not None:
            parent.amount += tip
            parent.tipped += tip
            if capture is not None:
                parent.captured += tip
                capture.amount += tip
        self.log.append(f"{entry.ref} tip_adjust of {ref} {tip}: {code}")
        return entry

    def reverse(self, ref: str, key: str | None = None) -> Entry:
        """Undo an approved authorisation/sale/preauth (full amount)."""
        parent = self.ledger.get(ref)
        return self._follow_up(
            "reversal", ref, parent.amount if parent else 0, key or f"reversal-of-{ref}"
        )


def rid_for_pan(pan: str) -> bytes:
    """The brand RID for a PAN's IIN (Elo ranges first: some start with 4 or 5)."""
    elo = ("401178", "401179", "431274", "438935", "451416", "457393", "457631", "457632",
           "504175", "506699", "5067", "509", "627780", "636297", "636368", "6500", "6504",
           "6505", "6507", "6509", "6516", "6550")
    if pan.startswith(elo):
        return bytes.fromhex("A000000494")
    if pan.startswith(("34", "37")):
        return bytes.fromhex("A000000025")
    if pan.startswith("4"):
        return bytes.fromhex("A000000003")
    if pan.startswith(("5", "2")):
        return bytes.fromhex("A000000004")
    return b""


_rid_for_pan = rid_for_pan


def make_acquirer(world: Any = None, rules: str = "default") -> AcquirerHost:
    """The host a server uses when none was given (``world`` kept for future timing)."""
    return AcquirerHost(rules)


def verify_pin_block(request: AuthRequest, known_pin: str | None,
                     pin_keys: PinKeys | None = None) -> str | None:
    """Check the request's PIN block as the issuer would: ``None`` when it holds the PIN
    the issuer knows (or the issuer knows none), else the response code.

    A block under master key / working key comes with a KSN of zeros (the pinpad has no
    KSN for it) and opens with the working key this acquirer gave its terminals
    (``pin_keys``). A DUKPT block opens with the pinpad's test BDK
    (``virtual_devices/abecs/data/keys.toml``), found by the KSN's key set: the KSN with
    its 21-bit counter cleared must be the BDK's initial KSN. The PIN itself never
    leaves this function.
    """
    from virtual_devices.abecs import dukpt

    block, ksn = request.pin_block or b"", request.ksn or b""
    if len(block) != 8 or len(ksn) != 10:
        return RC_PIN_CRYPTO_ERROR
    if not any(ksn):
        try:
            opened = (pin_keys or PinKeys()).open_pin_block(block, ksn, request.pan)
        except ValueError:  # not format 0 under our working key
            return RC_PIN_CRYPTO_ERROR
        if opened is None:
            return RC_PIN_CRYPTO_ERROR  # an MK/WK block, but this host set up DUKPT
        return RC_WRONG_PIN if known_pin is not None and opened != known_pin else None
    counter_mask = (1 << 21) - 1
    base = int.from_bytes(ksn, "big") & ~counter_mask
    bdks = [k.bdk for k in dukpt.load_test_keys().values()
            if int.from_bytes(k.initial_ksn, "big") & ~counter_mask == base]
    if not bdks:
        return RC_PIN_CRYPTO_ERROR  # a key set this host does not hold
    try:
        pin = dukpt.decrypt_pin(bdks[0], ksn, block, request.pan)
    except ValueError:  # not format 0, bad filler or non-digit PIN: garbage under our key
        return RC_PIN_CRYPTO_ERROR
    if known_pin is not None and pin != known_pin:
        return RC_WRONG_PIN
    return None


def _online_pin_fields(card: Mapping[str, str]) -> tuple[bytes | None, bytes | None]:
    """``pin_block``/``ksn`` from card_hash fields (mpos-bridge.md §3.4) for an online PIN.

    Hex that does not parse becomes an empty block, which the host declines with 81.
    """
    if card.get("card_pin_mode") != "online":
        return None, None
    try:
        return bytes.fromhex(card.get("card_pin", "")), bytes.fromhex(card.get("card_pin_kek", ""))
    except ValueError:
        return b"", b""


def _cvn(iad: bytes, scheme: str) -> int | None:
    """The CVN byte where the scheme's IAD carries it (Visa byte 3, Mastercard byte 2)."""
    if scheme.startswith("visa"):
        return iad[2] if len(iad) > 2 else None
    return iad[1] if len(iad) > 1 else None


_CARD_HASH: tuple[str, rsa.RSAPrivateKey] | None = None


def _card_hash_private() -> tuple[str, rsa.RSAPrivateKey]:
    global _CARD_HASH
    if _CARD_HASH is None:
        text = resources.files("virtual_devices.acquirer").joinpath("card_hash_key.toml")
        raw: dict[str, Any] = tomllib.loads(text.read_text())
        # our own test key: OpenSSL's consistency check (tens of ms) is skipped
        key = serialization.load_pem_private_key(
            raw["pem"].strip().encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        assert isinstance(key, rsa.RSAPrivateKey)
        _CARD_HASH = (str(raw["key_id"]), key)
    return _CARD_HASH


def decision_for(rules: Rules, amount: int, pan: str) -> Decision:
    """The rule outcome alone (for reports): what the host would decide."""
    return rules.decide(amount, pan)
