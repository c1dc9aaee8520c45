"""A virtual EMV card: contact and contactless applications, and a magnetic stripe.

The card is a sans-I/O object: :meth:`VirtualCard.transmit` takes command APDU bytes
and returns response APDU bytes, with no clock and no I/O, so a kernel drives it the
same way in a unit test, in a virtual world and behind a real reader port. Its
behaviour is what a personalised card does (EMV 4.4 Books 1-3, ISO/IEC 7816-4):

* SELECT of the PSE ``1PAY.SYS.DDF01`` (contact), the PPSE ``2PAY.SYS.DDF01``
  (contactless) or an application by AID, with partial names and next occurrence;
* GET PROCESSING OPTIONS with the PDOL (the ATC increments here), READ RECORD per the
  AFL, GET DATA (ATC, PIN try counter, last online ATC, offline limits);
* VERIFY with a plaintext (P2 80) or RSA-enciphered (P2 88) offline PIN, a try
  counter that blocks at zero, GET CHALLENGE and INTERNAL AUTHENTICATE (DDA);
* GENERATE AC first and second, decided by card risk management against what the
  terminal asked for, with CDA when asked and personalised; EXTERNAL AUTHENTICATE
  and ARPC in CDOL2 (issuer authentication); issuer script commands under secure
  messaging (PIN change/unblock, application block/unblock, card block, PUT DATA);
* contactless: a Visa qVSDC-like path where GPO returns the cryptogram (TTQ in,
  CTQ out, fDDA signature, offline approval against an available offline spending
  amount, "see phone" 6986 and "try another interface" 6984) and a Mastercard-like
  path that runs the contact flow over the contactless interface (phones: on-device
  CVM in the AIP, "see phone" at GENERATE AC until the owner verifies);
* a transaction log (SFI 11, format from GET DATA 9F4F), newest entry first;
* T=0 behaviour for profiles that ask for it: case-4 answers come through GET
  RESPONSE (``61xx``) and a wrong Le gets ``6Cxx``.

Bad input gets the status word a card would answer (``6700``, ``6D00``, ``6E00``,
``6A86``, ``6985``, ``6A82``, ``6A83``...), never an exception; an exception means
the *reader* misbehaved (APDU to an unpowered card).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from virtual_devices.emv import crypto, dynamic_track, magstripe, pki, tlv
from virtual_devices.emv.apdu import (
    SW_AUTH_METHOD_BLOCKED,
    SW_CLA_NOT_SUPPORTED,
    SW_CONDITIONS_NOT_SATISFIED,
    SW_FILE_NOT_FOUND,
    SW_FUNCTION_NOT_SUPPORTED,
    SW_INCORRECT_P1P2,
    SW_INS_NOT_SUPPORTED,
    SW_OK,
    SW_RECORD_NOT_FOUND,
    SW_REFERENCED_DATA_NOT_FOUND,
    SW_SELECTED_FILE_INVALIDATED,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    APDUError,
    Command,
    Response,
)
from virtual_devices.emv.catalogue import AppProfile, CardProfile, catalogue
from virtual_devices.emv.magstripe import Swipe, Tracks

if TYPE_CHECKING:
    from simulator.masking import Redactor
    from simulator.world import World

__all__ = [
    "VirtualCard",
    "CardError",
    "CardMute",
    "load_card",
    "Tracks",
    "Swipe",
    "PSE",
    "PPSE",
    "SW_SEE_PHONE",
    "SW_TRY_ANOTHER_INTERFACE",
    "SW_ISSUER_AUTH_FAILED",
    "SW_SM_MAC_WRONG",
    "pin_block",
]

PSE = b"1PAY.SYS.DDF01"
PPSE = b"2PAY.SYS.DDF01"
# Contactless GPO answers defined by the payment systems' contactless specs:
SW_SEE_PHONE = 0x6986  # CDCVM needed on the device: "see phone" (Visa VCPS)
SW_TRY_ANOTHER_INTERFACE = 0x6984  # "try another interface" -> insert card (VCPS)
SW_ISSUER_AUTH_FAILED = 0x6300  # EXTERNAL AUTHENTICATE: ARPC did not verify (Book 3 §6.5.4)
SW_SM_MAC_WRONG = 0x6988  # secure messaging data object incorrect (ISO 7816-4)

CID_AAC, CID_TC, CID_ARQC = 0x00, 0x40, 0x80
# Transaction log (Book 3 Annex D): SFI 11, ten records, newest first; the log format
# is the one most issuers personalise (date, time, amount, currencies, type, ATC, CID).
LOG_SFI, LOG_RECORDS = 11, 10
LOG_FORMAT = bytes.fromhex("9A039F21039F02065F2A029F1A029C019F36029F2701")
_CLASSES = {0x00, 0x80, 0x84, 0x04}

# ATR for T=1 (EMV Book 1 §8.3.4 basic ATR) and T=0 (basic ATR §8.3.3).
_ATR_T0 = bytes.fromhex("3B6000 00".replace(" ", ""))
_ATR_T1_BODY = bytes.fromhex("E0000081 31FE45".replace(" ", ""))
# ISO/IEC 14443-4 ATS: TL, T0 (FSCI 8, TA/TB/TC present), TA, TB, TC.
_ATS = bytes.fromhex("0578807002")


def _atr_t1() -> bytes:
    tck = 0
    for b in _ATR_T1_BODY:
        tck ^= b
    return b"\x3b" + _ATR_T1_BODY + bytes([tck])


class CardError(Exception):
    """The reader did something no card can answer (APDU before power-on, ...)."""


class CardMute(CardError):
    """The chip does not answer: no ATR at reset, or silence after a command APDU.

    A reader sees no bytes at all; it is the reader's own waiting time that turns
    the silence into an error (see the kernel's ``card_mute_timeout``).
    """


def pin_block(pin: str) -> bytes:
    """ISO 9564 format 2 plaintext PIN block, as VERIFY carries it (Book 3 §6.5.12)."""
    digits = f"2{len(pin):X}{pin}".ljust(16, "F")
    return bytes.fromhex(digits)


def _parse_pin_block(block: bytes) -> str | None:
    h = block.hex().upper()
    if len(block) != 8 or h[0] != "2":
        return None
    n = int(h[1], 16)
    if not 4 <= n <= 12:
        return None
    pin, pad = h[2 : 2 + n], h[2 + n :]
    if not pin.isdigit() or set(pad) - {"F"}:
        return None
    return pin


def _bcd(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex(digits)


def _n(value: int, nbytes: int) -> bytes:
    return bytes.fromhex(str(value).zfill(nbytes * 2))


def _dol_length(dol: bytes) -> int:
    return sum(length for _, length in tlv.parse_dol(dol))


def _dol_values(dol: bytes, data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    i = 0
    for tag, length in tlv.parse_dol(dol):
        out[tag] = data[i : i + length]
        i += length
    return out


def _flip(data: bytes, at: int = 20) -> bytes:
    b = bytearray(data)
    b[at % len(b)] ^= 0x01
    return bytes(b)


class _App:
    """One personalised application: data, records, keys and its own counters."""

    def __init__(self, card: CardProfile, app: AppProfile, atc_start: int) -> None:
        self.p = app
        self.keys = crypto.card_keys(card.brand, card.pan, card.psn)
        self.atc = atc_start
        self.last_online_atc = atc_start
        self.consecutive_offline = 0
        self.blocked = False
        self.offline_available = app.offline_spending
        self.lcol = app.lcol
        self.ucol = app.ucol
        self.last_issuer_auth_failed = False
        self.scripts_run = 0
        # (ATC, ARQC, UN) of the last contactless online request: a card that supports
        # issuer update processing takes the issuer's answer when tapped again (VCPS)
        self.pending_update: tuple[bytes, bytes, bytes] | None = None
        self.log: list[bytes] = []
        self.records: dict[tuple[int, int], bytes] = {}
        self._personalise(card)

    def _personalise(self, card: CardProfile) -> None:
        a = self.p
        yymm = a.expiry[:4]
        rec1 = tlv.encode_many(
            [
                (0x57, magstripe.track2_equivalent(card.brand, card.pan, yymm, card.service_code)),
                (0x5F20, card.cardholder_name.encode()),
                (0x9F1F, magstripe.track1_discretionary(card.brand, card.pan, yymm,
                                                        card.service_code)),
            ]
        )
        items: list[tuple[int, bytes]] = [
            (0x5A, _bcd(card.pan)),
            (0x5F24, bytes.fromhex(a.expiry)),
            (0x5F25, bytes.fromhex(a.effective)),
            (0x5F34, bytes.fromhex(card.psn)),
            (0x9F07, a.auc),
            (0x8E, a.cvm_list),
            (0x9F0D, a.iac_default),
            (0x9F0E, a.iac_denial),
            (0x9F0F, a.iac_online),
            (0x5F28, _n(a.country, 2)),
            (0x9F42, _n(a.currency, 2)),
            (0x9F44, b"\x02"),
            (0x8C, a.cdol1),
            (0x8D, a.cdol2),
            (0x9F08, a.app_version),
            (0x5F30, _n(int(card.service_code), 2)),
        ]
        # Offline velocity limits only on cards that may approve offline: without them
        # the terminal skips velocity checking (Book 3 §10.6.3), as it should for an
        # online-only card.
        if a.lcol or a.ucol:
            items += [(0x9F14, bytes([a.lcol])), (0x9F23, bytes([a.ucol]))]
        if not a.cvm_list:
            items = [i for i in items if i[0] != 0x8E]
        if a.oda != "none":
            items.append((0x9F4A, b"\x82"))
        if a.oda in ("dda", "cda"):
            items.append((0x9F49, a.ddol))
        if a.tdol:
            items.append((0x97, a.tdol))
        rec2 = tlv.encode_many(items)
        self.records[(1, 1)] = tlv.encode(0x70, rec1)
        self.records[(2, 1)] = tlv.encode(0x70, rec2)
        # Only SFI 2 record 1 is signed, so contact and contactless share one static
        # data set (and one ICC certificate): the records the AFL marks for ODA.
        self.static_data = rec2 + a.aip
        afl = bytes.fromhex("08010100" "10010101")
        if a.oda != "none":
            ic = pki.issuer_certificate(card.brand, card.pan)
            cert = _flip(ic.certificate) if a.oda_fault == "issuer-cert" else ic.certificate
            r3 = [(0x8F, bytes([pki.CAPK_INDEX])), (0x90, cert)]
            if ic.remainder:
                r3.append((0x92, ic.remainder))
            r3.append((0x9F32, ic.exponent))
            self.records[(3, 1)] = tlv.encode(0x70, tlv.encode_many(r3))
            if a.oda == "sda":
                dac = zlib.crc32(card.pan.encode()).to_bytes(4, "big")[:2]
                ssad = pki.sign_ssad(card.brand, dac, self.static_data)
                if a.oda_fault == "ssad":
                    ssad = _flip(ssad)
                r4 = [(0x93, ssad)]
            else:
                cc = pki.icc_certificate(card.brand, a.icc_key, card.pan, self.static_data)
                icert = _flip(cc.certificate) if a.oda_fault == "icc-cert" else cc.certificate
                r4 = [(0x9F46, icert), (0x9F47, cc.exponent)]
                if cc.remainder:
                    r4.append((0x9F48, cc.remainder))
            self.records[(3, 2)] = tlv.encode(0x70, tlv.encode_many(r4))
            last = 2
            if a.pin_key:
                pc = pki.icc_pin_certificate(card.brand, a.pin_key, card.pan)
                r5 = [(0x9F2D, pc.certificate), (0x9F2E, pc.exponent)]
                if pc.remainder:
                    r5.append((0x9F2F, pc.remainder))
                self.records[(3, 3)] = tlv.encode(0x70, tlv.encode_many(r5))
                last = 3
            afl += bytes([0x18, 0x01, last, 0x00])
        for sfi, rec, data in a.extra_records:
            self.records[(sfi, rec)] = data
        self.afl = afl
        self.ctls_afl = afl[4:]  # no track-2 record needed: 57 comes in the GPO answer
        self.ms_records: dict[tuple[int, int], bytes] = {}
        self.kd_cvc3 = b""
        if a.ctls_path == "magstripe":
            self._personalise_magstripe(card)
        self.kd_dcvv = b""
        if a.ctls_path == "msd":
            self.kd_dcvv = crypto.derive_icc_master_key(
                crypto.ISSUER_KEYS[card.brand].imk_dcvv, card.pan, card.psn)

    def _personalise_magstripe(self, card: CardProfile) -> None:
        """PayPass mag-stripe data (SFI 1 record 1 on the contactless interface): the
        track templates with their PCVC3 / PUNATC / NATC, and the CVC3 key."""
        lay = dynamic_track.DEFAULT_LAYOUT
        yymm, sc = self.p.expiry[:4], card.service_code
        dd = "100" + "0" * 10  # PVKI-like fixed digits, then the dynamic positions
        t2 = f"{card.pan}D{yymm}{sc}{dd}"
        name = card.cardholder_name[:26]
        t1 = f"B{card.pan}^{name}^{yymm}{sc}{dd}"
        self.ms_records[(1, 1)] = tlv.encode(0x70, tlv.encode_many([
            (0x9F6C, b"\x00\x01"),  # mag-stripe application version number (card)
            (0x9F62, lay.pcvc3.to_bytes(6, "big")), (0x9F63, lay.punatc.to_bytes(6, "big")),
            (0x56, t1.encode("ascii")), (0x9F64, bytes([lay.natc])),
            (0x9F65, lay.pcvc3.to_bytes(2, "big")), (0x9F66, lay.punatc.to_bytes(2, "big")),
            (0x9F6B, _bcd(t2)), (0x9F67, bytes([lay.natc])),
        ]))
        self.ctls_afl = bytes.fromhex("08010100")
        self.kd_cvc3 = crypto.derive_icc_master_key(
            crypto.ISSUER_KEYS[card.brand].imk_cvc3, card.pan, card.psn)

    @property
    def icc_private(self) -> str:
        return self.p.icc_key


@dataclass
class _Session:
    """What the card remembers between power-on and power-off."""

    interface: str
    df: str | None = None  # "pse" | "ppse" | "app"
    app: _App | None = None
    select_name: bytes = b""
    select_index: int = -1
    gpo_done: bool = False
    pdol_data: bytes = b""
    atc: bytes = b""
    gac_count: int = 0
    first_cid: int | None = None
    cdol1_data: bytes = b""
    values: dict[int, bytes] = field(default_factory=dict)
    arqc: bytes = b""
    un: bytes = b""
    challenge: bytes | None = None
    issuer_auth: bool | None = None
    external_auth_done: bool = False
    # card verification results of this transaction
    offline_pin_performed: bool = False
    offline_pin_failed: bool = False
    pin_try_exceeded: bool = False
    script_failed: bool = False
    pending: bytes = b""  # T=0: response data waiting for GET RESPONSE
    msd_record: bytes = b""  # Visa MSD: the track 2 record with this tap's dCVV


class VirtualCard:
    """A card made from a :class:`CardProfile`, with its own state.

    ``rng`` drives GET CHALLENGE, ICC dynamic numbers and stripe reads; give it
    ``world.rng("card:<name>")`` (or call :meth:`place_in`) for a reproducible run.
    """

    def __init__(self, profile: CardProfile, rng: random.Random | None = None) -> None:
        self.profile = profile
        self.name = profile.name
        self.pan = profile.pan
        self.psn = profile.psn
        self.interfaces: frozenset[str] = profile.interfaces
        self._rng = rng or random.Random(zlib.crc32(profile.name.encode()))
        self._pin = profile.pin
        self._pin_tries = profile.pin_tries
        self.card_blocked = False
        self.cdcvm_performed = profile.cdcvm_performed
        self._apps = [_App(profile, a, 0x0010 + 0x10 * i)
                      for i, a in enumerate(profile.applications)]
        self._session: _Session | None = None
        self._mute_after: int | None = None  # see mute_after_apdus()
        self._answered = 0
        self._tracks = magstripe.build_tracks(
            profile.brand, profile.pan, profile.expiry_yymm, profile.service_code,
            profile.cardholder_name,
        )

    # --- the physical card ------------------------------------------------------------

    def __repr__(self) -> str:
        from simulator.masking import mask_pan

        return f"<VirtualCard {self.name} {mask_pan(self.pan)}>"

    @property
    def pin_tries_left(self) -> int:
        return self._pin_tries

    @property
    def blocked(self) -> bool:
        """The whole card is unusable (card block), or every application is blocked."""
        return self.card_blocked or all(a.blocked for a in self._apps)

    @property
    def powered(self) -> bool:
        return self._session is not None

    def app_blocked(self, aid: bytes) -> bool:
        return any(a.blocked for a in self._apps if a.p.aid == aid)

    def atc(self, aid: bytes | None = None) -> int:
        app = self._find_app(aid)
        return app.atc

    def _find_app(self, aid: bytes | None) -> _App:
        for a in self._apps:
            if aid is None or a.p.aid == aid:
                return a
        raise KeyError(aid)

    def use_rng(self, rng: random.Random) -> None:
        self._rng = rng

    def register_secrets(self, redactor: Redactor) -> None:
        """Tell a world's redactor what must never be written: PAN, tracks, PIN, keys.

        PINs are registered as the PIN blocks that carry them (a bare 4-digit secret
        would blank every amount that happens to contain those digits).
        """
        add_pan = redactor.add_pan
        add_secret = redactor.add_secret
        add_pan(self.pan)
        add_secret(self._tracks.track1)
        add_secret(self._tracks.track2)
        add_secret(self._tracks.track2.split("=", 1)[1])
        for a in self._apps:
            t57 = a.records[(1, 1)]
            add_secret(tlv.find(t57, 0x57) or b"")
            add_secret(tlv.find(t57, 0x9F1F) or b"")
            for tag in (0x56, 0x9F6B):
                add_secret(tlv.find(a.ms_records.get((1, 1), b""), tag) or b"")
            add_secret(a.keys.ac)
            add_secret(a.keys.smi)
            add_secret(a.keys.smc)
        if self._pin:
            add_secret(pin_block(self._pin))
        for p in self.profile.cardholder.get("pins", []):
            add_secret(pin_block(str(p)))

    def place_in(self, world: World) -> VirtualCard:
        """Bind to a world: its seeded rng for this card, its redactor for the secrets."""
        self.use_rng(world.rng(f"card:{self.name}"))
        self.register_secrets(world.redactor)
        return self

    def power_on(self, interface: str = "contact") -> bytes:
        """Reset (contact: ATR) or activate (contactless: ATS). Starts a new session."""
        if interface not in ("contact", "contactless"):
            raise CardError(f"no chip interface {interface!r}")
        if interface not in self.interfaces:
            raise CardMute(f"{self.name} has no {interface} interface")
        if self.profile.mute:
            self._session = None
            raise CardMute(f"{self.name}: the chip does not answer")
        self._session = _Session(interface)
        if interface == "contactless":
            return _ATS
        return _ATR_T0 if self.profile.t0 else _atr_t1()

    def power_off(self) -> None:
        self._session = None

    def mute_after_apdus(self, n: int | None) -> None:
        """Fault: answer ``n`` more command APDUs, then fall silent (``None`` heals).

        This is the chip that answered reset and then stopped (a cracked module, a
        brown-out, a worn contact): the reset still gets its ATR, so the reader starts
        the transaction, and every later APDU raises :class:`CardMute` until the fault
        is cleared. The count is kept across power cycles: a chip that broke stays
        broken for the rest of the presentation.
        """
        self._mute_after = n
        self._answered = 0

    @property
    def is_mute(self) -> bool:
        return self._mute_after is not None and self._answered >= self._mute_after

    def tracks(self) -> Tracks | None:
        """The stripe's tracks, or None for a card without a stripe (phones)."""
        return self._tracks if "magstripe" in self.interfaces else None

    def swipe(self, rng: random.Random | None = None, misread: float = 0.0) -> Swipe:
        """One pass through a reader: damaged stripes and bad swipes read nothing.

        ``misread`` is the cardholder's own chance of a bad swipe (too fast, skewed),
        added to the stripe's damage from the profile.
        """
        if "magstripe" not in self.interfaces:
            return Swipe(None, None)
        r = rng or self._rng
        p = 1.0 - (1.0 - self.profile.stripe_damage) * (1.0 - misread)
        return magstripe.damaged(self._tracks, r, p)

    def confirm_cdcvm(self) -> None:
        """The cardholder unlocks the phone (consumer device CVM) before tapping again."""
        if self.profile.phone:
            self.cdcvm_performed = True

    # --- APDU interface ---------------------------------------------------------------

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU in, one response APDU out (sans-I/O)."""
        s = self._session
        if s is None:
            raise CardError("APDU sent to a card that is not powered")
        if self.is_mute:
            raise CardMute(f"{self.name}: the chip stopped answering")
        self._answered += 1
        try:
            cmd = Command.from_bytes(apdu)
        except APDUError as e:
            return Response.status(e.sw).to_bytes()
        if cmd.cla not in _CLASSES:
            return Response.status(SW_CLA_NOT_SUPPORTED).to_bytes()
        if self.profile.t0 and cmd.ins == 0xC0 and cmd.cla == 0x00:
            return self._get_response(s, cmd).to_bytes()
        s.pending = b""
        resp = self._dispatch(s, cmd)
        if self.profile.t0 and resp.data:
            resp = self._t0(s, cmd, resp)
        return resp.to_bytes()

    def _t0(self, s: _Session, cmd: Command, resp: Response) -> Response:
        # T=0 transport (ISO 7816-3 §10.3 / EMV Book 1 §9.3.1): a case-4 command's
        # answer waits for GET RESPONSE; a case-2 command with the wrong Le gets 6Cxx.
        n = len(resp.data)
        if cmd.data:
            s.pending = resp.data + bytes([resp.sw1, resp.sw2])
            return Response.status(0x6100 | (n & 0xFF))
        if cmd.le != n and not (cmd.le == 256 and n == 256):
            # Le absent (case 1) or wrong: the card says how many bytes it has.
            return Response.status(0x6C00 | (n & 0xFF))
        return resp

    def _get_response(self, s: _Session, cmd: Command) -> Response:
        if not s.pending:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        if cmd.p1 or cmd.p2:
            return Response.status(SW_INCORRECT_P1P2)
        data, sw = s.pending[:-2], s.pending[-2:]
        le = cmd.le if cmd.le is not None else 256
        if le != len(data) and le < len(data):
            out, rest = data[:le], data[le:]
            s.pending = rest + sw
            return Response(out, 0x61, min(len(rest), 255) & 0xFF)
        if le > len(data):
            return Response.status(0x6C00 | (len(data) & 0xFF))
        s.pending = b""
        return Response(data, sw[0], sw[1])

    def _dispatch(self, s: _Session, cmd: Command) -> Response:
        table = {
            (0x00, 0xA4): self._select,
            (0x80, 0xA8): self._gpo,
            (0x00, 0xB2): self._read_record,
            (0x80, 0xCA): self._get_data,
            (0x00, 0x20): self._verify,
            (0x00, 0x84): self._get_challenge,
            (0x00, 0x88): self._internal_authenticate,
            (0x80, 0xAE): self._generate_ac,
            (0x80, 0x2A): self._compute_cryptographic_checksum,
            (0x00, 0x82): self._external_authenticate,
            (0x00, 0xC0): self._get_response_t1,
            (0x84, 0x24): self._script,
            (0x84, 0x1E): self._script,
            (0x84, 0x18): self._script,
            (0x84, 0x16): self._script,
            (0x84, 0xDA): self._script,
            (0x04, 0xDA): self._script,
        }
        handler = table.get((cmd.cla, cmd.ins))
        if handler is None:
            if any(ins == cmd.ins for _, ins in table):
                return Response.status(SW_CLA_NOT_SUPPORTED)
            return Response.status(SW_INS_NOT_SUPPORTED)
        return handler(s, cmd)

    def _compute_cryptographic_checksum(self, s: _Session, cmd: Command) -> Response:
        """PayPass mag-stripe: CVC3 for track 2 (9F61) and track 1 (9F60) over the
        reader's numeric UN (the UDOL is the default 9F6A04) and the ATC of this tap."""
        app = s.app
        if cmd.p1 != 0x8E or cmd.p2 != 0x80:
            return Response.status(SW_INCORRECT_P1P2)
        if app is None or not app.ms_records or s.interface != "contactless" or not s.gpo_done:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        if len(cmd.data) != 4:
            return Response.status(SW_WRONG_LENGTH)
        un = cmd.data
        if not un.hex().isdigit():
            return Response.status(SW_WRONG_DATA)
        rec = app.ms_records[(1, 1)]
        t2, t1 = tlv.find(rec, 0x9F6B) or b"", tlv.find(rec, 0x56) or b""
        cvc3_2 = crypto.cvc3(app.kd_cvc3, t2, s.atc, un)
        cvc3_1 = crypto.cvc3(app.kd_cvc3, t1, s.atc, un)
        s.un = un
        self._log(app, s, CID_ARQC)
        body = tlv.encode_many([(0x9F61, cvc3_2.to_bytes(2, "big")),
                                (0x9F60, cvc3_1.to_bytes(2, "big")), (0x9F36, s.atc)])
        return Response(tlv.encode(0x77, body), 0x90, 0)

    def _get_response_t1(self, s: _Session, cmd: Command) -> Response:
        # T=1 cards answer in one go; there is never anything waiting.
        return Response.status(SW_CONDITIONS_NOT_SATISFIED)

    # --- SELECT -------------------------------------------------------------------------

    def _apps_on(self, interface: str) -> list[_App]:
        if interface == "contactless":
            return [a for a in self._apps if a.p.contactless]
        return [a for a in self._apps if a.p.contact]

    def _select(self, s: _Session, cmd: Command) -> Response:
        if cmd.p1 != 0x04 or cmd.p2 not in (0x00, 0x02):
            return Response.status(SW_INCORRECT_P1P2)
        name = cmd.data
        if not 1 <= len(name) <= 16:
            return Response.status(SW_WRONG_LENGTH)
        if self.card_blocked:
            return Response.status(SW_FUNCTION_NOT_SUPPORTED)
        prev_name, prev_index = s.select_name, s.select_index
        self._reset_transaction(s)
        if name == PSE:
            if s.interface != "contact" or not self.profile.pse:
                return Response.status(SW_FILE_NOT_FOUND)
            s.df = "pse"
            a5 = tlv.encode_many([(0x88, b"\x01"), (0x5F2D, self._apps[0].p.language.encode())])
            fci = tlv.encode(0x84, PSE) + tlv.encode(0xA5, a5)
            return Response(tlv.encode(0x6F, fci), 0x90, 0)
        if name == PPSE:
            if s.interface != "contactless":
                return Response.status(SW_FILE_NOT_FOUND)
            s.df = "ppse"
            entries = b"".join(
                tlv.encode(0x61, tlv.encode_many([
                    (0x4F, a.p.aid), (0x50, a.p.label.encode()),
                    (0x87, bytes([a.p.priority])), (0x9F2A, a.p.kernel_id),
                ]))
                for a in self._apps_on("contactless")
            )
            a5 = tlv.encode(0xBF0C, entries)
            fci = tlv.encode(0x84, PPSE) + tlv.encode(0xA5, a5)
            return Response(tlv.encode(0x6F, fci), 0x90, 0)
        matches = [a for a in self._apps_on(s.interface) if a.p.aid.startswith(name)]
        if cmd.p2 == 0x02 and prev_name == name:
            start = prev_index + 1
        else:
            start = 0
        if start >= len(matches):
            s.df, s.app, s.select_name, s.select_index = None, None, b"", -1
            return Response.status(SW_FILE_NOT_FOUND)
        app = matches[start]
        s.df, s.app, s.select_name, s.select_index = "app", app, name, start
        if s.interface == "contactless" and app.pending_update is not None:
            # tapped again after an online request: the issuer's authentication data
            # and scripts of that transaction may follow, under its ATC and ARQC
            s.atc, s.arqc, s.un = app.pending_update
            s.gac_count, s.first_cid = 1, CID_ARQC
        return Response(self._fci(app, s.interface), *divmod(
            SW_SELECTED_FILE_INVALIDATED if app.blocked else SW_OK, 256))

    def _fci(self, app: _App, interface: str) -> bytes:
        p = app.p
        visa_ctls = interface == "contactless" and p.ctls_path in ("qvsdc", "msd")
        pdol = p.ctls_pdol if visa_ctls else p.pdol
        prio = p.priority | (0x80 if p.confirm else 0)
        items: list[tuple[int, bytes]] = [(0x50, p.label.encode()), (0x87, bytes([prio]))]
        if pdol:
            items.append((0x9F38, pdol))
        items += [(0x5F2D, p.language.encode()), (0x9F11, b"\x01"),
                  (0x9F12, p.preferred_name.encode()),
                  (0xBF0C, tlv.encode(0x9F4D, bytes([LOG_SFI, LOG_RECORDS])))]
        a5 = tlv.encode_many(items)
        return tlv.encode(0x6F, tlv.encode(0x84, p.aid) + tlv.encode(0xA5, a5))

    def _reset_transaction(self, s: _Session) -> None:
        interface = s.interface
        s.__init__(interface)  # type: ignore[misc]

    # --- GET PROCESSING OPTIONS ---------------------------------------------------------

    def _gpo(self, s: _Session, cmd: Command) -> Response:
        app = s.app
        if cmd.p1 or cmd.p2:
            return Response.status(SW_INCORRECT_P1P2)
        if app is None or s.df != "app" or s.gpo_done:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        data = cmd.data
        if len(data) < 2 or data[0] != 0x83 or data[1] != len(data) - 2:
            return Response.status(SW_WRONG_DATA)
        qvsdc = s.interface == "contactless" and app.p.ctls_path == "qvsdc"
        msd = s.interface == "contactless" and app.p.ctls_path == "msd"
        pdol = app.p.ctls_pdol if qvsdc or msd else app.p.pdol
        pdol_data = data[2:]
        if len(pdol_data) != _dol_length(pdol):
            return Response.status(SW_WRONG_LENGTH)
        if app.atc >= 0xFFFF:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        s.pdol_data = pdol_data
        s.values = _dol_values(pdol, pdol_data)
        app.pending_update = None  # a new transaction: the last one's update is gone
        s.gac_count, s.first_cid, s.arqc = 0, None, b""
        if qvsdc:
            return self._qvsdc(s, app)
        if msd:
            return self._msd(s, app)
        app.atc += 1
        s.atc = app.atc.to_bytes(2, "big")
        s.gpo_done = True
        afl = app.ctls_afl if s.interface == "contactless" else app.afl
        if app.p.gpo_format == 1:
            return Response(tlv.encode(0x80, app.p.aip + afl), 0x90, 0)
        body = tlv.encode_many([(0x82, app.p.aip), (0x94, afl)])
        return Response(tlv.encode(0x77, body), 0x90, 0)

    def _msd(self, s: _Session, app: _App) -> Response:
        """Visa MSD: no cryptogram; the track 2 record read next carries a dynamic CVV
        over this tap's ATC. A reader that does not offer MSD (TTQ byte 1 bit 8) is
        told to try another interface."""
        ttq = s.values.get(0x9F66, bytes(4)).ljust(4, b"\0")
        if not ttq[0] & 0x80:
            return Response.status(SW_TRY_ANOTHER_INTERFACE)
        app.atc += 1
        s.atc = app.atc.to_bytes(2, "big")
        s.gpo_done = True
        yymm, sc = app.p.expiry[:4], self.profile.service_code
        # PVKI, PVV placeholder, dCVV, the ATC's four low digits, zero fill (13 digits)
        code = crypto.dcvv(app.kd_dcvv, self.pan, yymm, app.atc)
        dd = f"10000{code}{app.atc % 10000:04d}0"
        s.msd_record = tlv.encode(0x70, tlv.encode_many([
            (0x57, _bcd(f"{self.pan}D{yymm}{sc}{dd}")),
            (0x5F20, self.profile.cardholder_name.encode()),
        ]))
        self._log(app, s, CID_ARQC)
        return Response(tlv.encode(0x80, app.p.aip + bytes.fromhex("08010100")), 0x90, 0)

    def _qvsdc(self, s: _Session, app: _App) -> Response:
        """Visa qVSDC-like GPO: the card decides and returns the cryptogram at once."""
        p = app.p
        v = s.values
        ttq = v.get(0x9F66, bytes(4)).ljust(4, b"\0")
        cvm_required = bool(ttq[1] & 0x40)
        ctq = bytearray(2)
        if p.issuer_update:
            ctq[1] |= 0x40  # card supports issuer update processing at the POS
        if self.profile.phone and self.cdcvm_performed:
            ctq[1] |= 0x80  # consumer device CVM performed
        if cvm_required:
            if self.profile.phone:
                if not self.cdcvm_performed:
                    return Response.status(SW_SEE_PHONE)
            elif p.ctls_cvm == "insert-card":
                return Response.status(SW_TRY_ANOTHER_INTERFACE)
            elif p.ctls_cvm == "online-pin" and ttq[0] & 0x04:
                ctq[0] |= 0x80  # online PIN required
            elif ttq[0] & 0x02:
                ctq[0] |= 0x40  # signature required
            else:
                return Response.status(SW_TRY_ANOTHER_INTERFACE)
        app.atc += 1
        s.atc = app.atc.to_bytes(2, "big")
        s.gpo_done = True
        # Offline approval only when the reader does not demand an online cryptogram
        # (TTQ byte 2 bit 8: amount over its contactless floor limit) and the card's
        # available offline spending amount covers the amount (VCPS card risk checks).
        amount = int(v.get(0x9F02, bytes(6)).hex() or "0")
        offline_ok = (
            p.offline_allowed and not ttq[1] & 0x80 and amount <= app.offline_available
            and not app.blocked
        )
        if app.blocked:
            cid = CID_AAC
        elif offline_ok:
            cid = CID_TC
            app.offline_available -= amount
        else:
            cid = CID_ARQC
        iad = self._iad(p.ctls_scheme, s, first=cid, second=None)
        scheme = p.ctls_scheme
        un = v.get(0x9F37, bytes(4))
        sk = crypto.session_key(scheme, app.keys.ac, s.atc, un)
        ac = crypto.generate_cryptogram(
            scheme, sk, crypto.cryptogram_data(scheme, {**v, 0x82: p.aip, 0x9F36: s.atc,
                                                        0x9F10: iad}))
        s.gac_count, s.first_cid, s.arqc, s.un = 1, cid, ac, un
        if cid == CID_ARQC and p.issuer_update:
            app.pending_update = (s.atc, ac, un)
        self._log(app, s, cid)
        s.values.update({0x82: p.aip, 0x9F36: s.atc, 0x9F10: iad})
        t2 = tlv.find(app.records[(1, 1)], 0x57) or b""
        items: list[tuple[int, bytes]] = [
            (0x82, p.aip), (0x94, app.ctls_afl), (0x57, t2), (0x5F34, bytes.fromhex(self.psn)),
            (0x9F10, iad), (0x9F26, ac), (0x9F27, bytes([cid])), (0x9F36, s.atc),
            (0x9F6C, bytes(ctq)),
            # Form Factor Indicator byte 1: version 1 (bits 8-6), form factor 00011 for a
            # consumer mobile phone, 00000 for a standard card (VCPS)
            (0x9F6E, bytes.fromhex("23700000" if self.profile.phone else "20700000")),
        ]
        if p.offline_allowed:
            items.append((0x9F5D, _n(app.offline_available, 6)))
        if p.oda in ("dda", "cda"):
            card_un = self._rng.randbytes(4)
            carr = b"\x01" + card_un + bytes(ctq)
            terminal = un + v.get(0x9F02, bytes(6)) + v.get(0x5F2A, bytes(2)) + carr
            sdad = pki.sign_dynamic(p.icc_key, bytes([4]) + card_un, terminal)
            if p.oda_fault == "sdad":
                sdad = _flip(sdad)
            items += [(0x9F69, carr), (0x9F4B, sdad)]
        return Response(tlv.encode(0x77, tlv.encode_many(items)), 0x90, 0)

    # --- READ RECORD / GET DATA --------------------------------------------------------

    def _pse_records(self) -> dict[tuple[int, int], bytes]:
        entries = b"".join(
            tlv.encode(0x61, tlv.encode_many([
                (0x4F, a.p.aid), (0x50, a.p.label.encode()),
                (0x9F12, a.p.preferred_name.encode()),
                (0x87, bytes([a.p.priority | (0x80 if a.p.confirm else 0)])),
            ]))
            for a in self._apps_on("contact")
        )
        return {(1, 1): tlv.encode(0x70, entries)}

    def _read_record(self, s: _Session, cmd: Command) -> Response:
        if cmd.p2 & 0x07 != 0x04 or cmd.p1 == 0:
            return Response.status(SW_INCORRECT_P1P2)
        sfi, rec = cmd.p2 >> 3, cmd.p1
        if sfi == 0:
            return Response.status(SW_INCORRECT_P1P2)
        if s.df == "pse":
            records = self._pse_records()
        elif s.df == "app" and s.app is not None:
            if sfi == LOG_SFI:
                if rec > LOG_RECORDS:
                    return Response.status(SW_RECORD_NOT_FOUND)
                if rec > len(s.app.log):
                    return Response.status(SW_RECORD_NOT_FOUND)
                return Response(s.app.log[rec - 1], 0x90, 0)
            records = s.app.records
            if s.interface == "contactless" and s.app.ms_records:
                records = s.app.ms_records
            elif s.interface == "contactless" and s.msd_record:
                records = {(1, 1): s.msd_record}
        else:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        if not any(k[0] == sfi for k in records):
            return Response.status(SW_FILE_NOT_FOUND)
        data = records.get((sfi, rec))
        if data is None:
            return Response.status(SW_RECORD_NOT_FOUND)
        return Response(data, 0x90, 0)

    def _get_data(self, s: _Session, cmd: Command) -> Response:
        app = s.app
        if app is None:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        tag = (cmd.p1 << 8) | cmd.p2
        values = {
            0x9F36: app.atc.to_bytes(2, "big"),
            0x9F13: app.last_online_atc.to_bytes(2, "big"),
            0x9F14: bytes([app.lcol]),
            0x9F23: bytes([app.ucol]),
            0x9F4F: LOG_FORMAT,
        }
        if self._pin is not None:
            values[0x9F17] = bytes([self._pin_tries])
        if tag not in values:
            return Response.status(SW_REFERENCED_DATA_NOT_FOUND)
        return Response(tlv.encode(tag, values[tag]), 0x90, 0)

    # --- cardholder verification -----------------------------------------------------

    def _get_challenge(self, s: _Session, cmd: Command) -> Response:
        if cmd.p1 or cmd.p2:
            return Response.status(SW_INCORRECT_P1P2)
        s.challenge = self._rng.randbytes(8)
        return Response(s.challenge, 0x90, 0)

    def _verify(self, s: _Session, cmd: Command) -> Response:
        if cmd.p1 != 0x00 or cmd.p2 not in (0x80, 0x88):
            return Response.status(SW_INCORRECT_P1P2)
        if s.app is None:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        if self._pin is None:
            return Response.status(SW_REFERENCED_DATA_NOT_FOUND)
        if self._pin_tries == 0:
            s.pin_try_exceeded = True
            return Response.status(SW_AUTH_METHOD_BLOCKED)
        if cmd.p2 == 0x80:
            if len(cmd.data) != 8:
                return Response.status(SW_WRONG_LENGTH)
            block = cmd.data
        else:
            block_or_sw = self._decipher_pin(s, cmd.data)
            if isinstance(block_or_sw, int):
                return Response.status(block_or_sw)
            block = block_or_sw
        pin = _parse_pin_block(block)
        if pin is None:
            return Response.status(SW_WRONG_DATA)
        s.offline_pin_performed = True
        if pin == self._pin:
            self._pin_tries = self.profile.pin_try_limit
            s.offline_pin_failed = False
            return Response.status(SW_OK)
        self._pin_tries -= 1
        s.offline_pin_failed = True
        if self._pin_tries == 0:
            s.pin_try_exceeded = True
        return Response.status(0x63C0 | self._pin_tries)

    def _decipher_pin(self, s: _Session, data: bytes) -> bytes | int:
        """Book 2 §7: RSA-enciphered PIN: 7F | PIN block | challenge | padding.

        Under the ICC PIN encipherment key when the card has one, else the ICC key.
        """
        app = s.app
        assert app is not None
        if app.p.pin_key:
            key = pki.private_key(app.p.pin_key)
        elif app.p.oda in ("dda", "cda"):
            key = pki.private_key(app.icc_private)
        else:
            return SW_CONDITIONS_NOT_SATISFIED  # no private key to decipher with
        size = (key.key_size + 7) // 8
        if len(data) != size:
            return SW_WRONG_LENGTH
        challenge, s.challenge = s.challenge, None
        if challenge is None:
            return SW_CONDITIONS_NOT_SATISFIED
        m = pki.private_op(key, int.from_bytes(data, "big")).to_bytes(size, "big")
        # A wrong header or challenge means the data was not made for this card and
        # this VERIFY: refuse it as a condition failure, not as a wrong PIN (the try
        # counter is only for PINs the card could read).
        if m[0] != 0x7F or m[9:17] != challenge:
            return SW_CONDITIONS_NOT_SATISFIED
        return m[1:9]

    def _internal_authenticate(self, s: _Session, cmd: Command) -> Response:
        app = s.app
        if cmd.p1 or cmd.p2:
            return Response.status(SW_INCORRECT_P1P2)
        if app is None or app.p.oda not in ("dda", "cda"):
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        if not cmd.data:
            return Response.status(SW_WRONG_LENGTH)
        dn = self._rng.randbytes(8)
        sdad = pki.sign_dynamic(app.p.icc_key, bytes([len(dn)]) + dn, cmd.data)
        if app.p.oda_fault == "sdad":
            sdad = _flip(sdad)
        if app.p.gpo_format == 1:
            return Response(tlv.encode(0x80, sdad), 0x90, 0)
        return Response(tlv.encode(0x77, tlv.encode(0x9F4B, sdad)), 0x90, 0)

    # --- GENERATE AC ---------------------------------------------------------------------

    def _cvr(self, scheme: str, s: _Session, first: int | None, second: int | None) -> bytes:
        """Card Verification Results in the VIS (4 bytes) or M/Chip (6 bytes) layout."""
        app = s.app
        assert app is not None

        def ac_bits(cid: int | None, none: int) -> int:
            return {CID_AAC: 0, CID_TC: 1, CID_ARQC: 2}.get(cid, none) if cid is not None else none

        if crypto.SCHEMES[scheme].iad_in_ac == "cvr6":
            b1 = (ac_bits(second, 2) << 6) | (ac_bits(first, 0) << 4)
            if s.offline_pin_performed:
                b1 |= 0x04 | (0 if s.offline_pin_failed else 0x01)
            b2 = 0x10 if s.issuer_auth is not None else 0
            b3 = (self._pin_tries & 0x0F)
            b4 = 0x08 if s.issuer_auth is False else 0
            b4 |= 0x01 if s.pin_try_exceeded else 0
            b5 = (app.scripts_run & 0x0F) << 4
            return bytes([b1, b2, b3, b4, b5, 0])
        b2 = (ac_bits(second, 2) << 6) | (ac_bits(first, 0) << 4)
        if s.issuer_auth is False:
            b2 |= 0x08
        if s.offline_pin_performed:
            b2 |= 0x04
            if s.offline_pin_failed:
                b2 |= 0x02
        b3 = 0x40 if s.pin_try_exceeded else 0
        if app.last_issuer_auth_failed:
            b3 |= 0x08
        b4 = ((app.scripts_run & 0x0F) << 4) | (0x08 if s.script_failed else 0)
        return bytes([0x03, b2, b3, b4])

    def _iad(self, scheme: str, s: _Session, first: int | None, second: int | None) -> bytes:
        sc = crypto.SCHEMES[scheme]
        cvr = self._cvr(scheme, s, first, second)
        if sc.iad_in_ac == "cvr6":
            return bytes([0x01, sc.cvn]) + cvr + bytes(2) + bytes(8)
        return bytes([0x06, 0x01, sc.cvn]) + cvr

    def _generate_ac(self, s: _Session, cmd: Command) -> Response:
        app = s.app
        req, cda_req = cmd.p1 & 0xC0, bool(cmd.p1 & 0x10)
        if cmd.p2 or req == 0xC0 or cmd.p1 & 0x2F:
            return Response.status(SW_INCORRECT_P1P2)
        if app is None or not s.gpo_done:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        p = app.p
        scheme = p.ctls_scheme if s.interface == "contactless" else p.scheme
        if s.gac_count == 0:
            if len(cmd.data) != _dol_length(p.cdol1):
                return Response.status(SW_WRONG_LENGTH)
            v1 = _dol_values(p.cdol1, cmd.data)
            if self._needs_cdcvm(s, v1):
                return Response.status(SW_SEE_PHONE)
            s.cdol1_data = cmd.data
            s.values.update(v1)
            cid = self._first_decision(s, app, req)
            s.first_cid = cid
            first, second = cid, None
            cdol_data = cmd.data
        elif s.gac_count == 1 and s.first_cid == CID_ARQC:
            if len(cmd.data) != _dol_length(p.cdol2):
                return Response.status(SW_WRONG_LENGTH)
            if req == 0x80:
                return Response.status(SW_CONDITIONS_NOT_SATISFIED)
            v2 = _dol_values(p.cdol2, cmd.data)
            iad91 = v2.get(0x91, b"")
            if iad91 and any(iad91) and not s.external_auth_done:
                self._check_arpc(s, app, scheme, iad91)
            s.values.update(v2)
            cid = self._second_decision(s, app, req, v2.get(0x8A, b""))
            first, second = s.first_cid, cid
            cdol_data = s.cdol1_data + cmd.data
        else:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        s.gac_count += 1
        if s.gac_count == 2 or cid != CID_ARQC:
            self._log(app, s, cid)
        iad = self._iad(scheme, s, first, second)
        un = s.values.get(0x9F37, bytes(4))
        sk = crypto.session_key(scheme, app.keys.ac, s.atc, un)
        data = crypto.cryptogram_data(
            scheme, {**s.values, 0x82: p.aip, 0x9F36: s.atc, 0x9F10: iad}
        )
        ac = crypto.generate_cryptogram(scheme, sk, data)
        if s.gac_count == 1 and cid == CID_ARQC:
            s.arqc, s.un = ac, un
        if cda_req and cid != CID_AAC and p.aip[0] & 0x01:
            return self._cda_response(s, app, cid, ac, iad, un, cdol_data)
        if p.gac_format == 1:
            return Response(tlv.encode(0x80, bytes([cid]) + s.atc + ac + iad), 0x90, 0)
        body = tlv.encode_many([(0x9F27, bytes([cid])), (0x9F36, s.atc), (0x9F26, ac),
                                (0x9F10, iad)])
        return Response(tlv.encode(0x77, body), 0x90, 0)

    def _needs_cdcvm(self, s: _Session, v1: dict[int, bytes]) -> bool:
        """M/Chip phone: the reader asked for CDCVM (CVM Results method 01) and the
        owner has not verified on the device yet -> "see phone" (SW 6986)."""
        if not (self.profile.phone and s.interface == "contactless"):
            return False
        cvmr = v1.get(0x9F34, b"")
        return bool(cvmr) and cvmr[0] & 0x3F == 0x01 and not self.cdcvm_performed

    def _log(self, app: _App, s: _Session, cid: int) -> None:
        entry = tlv.build_dol(LOG_FORMAT, {**s.values, 0x9F36: s.atc, 0x9F27: bytes([cid])})
        app.log.insert(0, entry)
        del app.log[LOG_RECORDS:]

    def _cda_response(self, s: _Session, app: _App, cid: int, ac: bytes, iad: bytes,
                      un: bytes, cdol_data: bytes) -> Response:
        # Book 2 §6.6.1: the AC travels inside the signature; the hash binds PDOL data,
        # CDOL data and the other response data objects in order.
        head = tlv.encode_many([(0x9F27, bytes([cid])), (0x9F36, s.atc)])
        tail = tlv.encode(0x9F10, iad)
        tdhc = pki.cda_transaction_hash(s.pdol_data, cdol_data, head + tail)
        dn = self._rng.randbytes(8)
        dyn = bytes([len(dn)]) + dn + bytes([cid]) + ac + tdhc
        sdad = pki.sign_dynamic(app.p.icc_key, dyn, un)
        if app.p.oda_fault == "sdad":
            sdad = _flip(sdad)
        return Response(tlv.encode(0x77, head + tlv.encode(0x9F4B, sdad) + tail), 0x90, 0)

    def _first_decision(self, s: _Session, app: _App, req: int) -> int:
        """Card risk management at the first GENERATE AC (Book 3 §10.8, card side).

        The card may only answer with the requested cryptogram or a lower one
        (AAC < ARQC < TC is the order of what the card commits to).
        """
        p = app.p
        if req == 0x00 or app.blocked or p.first_gac == "aac":
            return CID_AAC
        if req == 0x80 or p.first_gac == "arqc":
            return CID_ARQC
        # TC requested: approve offline only if the issuer lets this card, and the
        # velocity and verification state allow it.
        if (
            p.offline_allowed
            and app.consecutive_offline < max(app.ucol, 1)
            and not s.pin_try_exceeded
            and not app.last_issuer_auth_failed
        ):
            app.consecutive_offline += 1
            return CID_TC
        return CID_ARQC

    def _second_decision(self, s: _Session, app: _App, req: int, arc: bytes) -> int:
        p = app.p
        if req == 0x00 or app.blocked:
            online_done = arc not in (b"Y3", b"Z3", b"")
            if online_done and s.issuer_auth is not False:
                app.last_online_atc = app.atc
            return CID_AAC
        # TC requested after the online step.
        if p.second_gac == "aac":
            return CID_AAC
        unable_online = arc in (b"Y3", b"Z3")
        if unable_online:
            return CID_TC if p.offline_allowed else CID_AAC
        if s.issuer_auth is False:
            return CID_AAC
        if s.issuer_auth is None and p.issuer_auth_required and p.aip[0] & 0x04:
            return CID_AAC
        app.last_online_atc = app.atc
        app.consecutive_offline = 0
        app.last_issuer_auth_failed = False
        app.offline_available = p.offline_spending
        return CID_TC

    # --- issuer authentication and scripts ----------------------------------------------

    def _check_arpc(self, s: _Session, app: _App, scheme: str, iad91: bytes) -> bool:
        check = crypto.verify_arpc(scheme, app.keys.ac, s.atc, s.un, s.arqc, iad91)
        s.issuer_auth = check.valid
        app.last_issuer_auth_failed = not check.valid
        if check.valid and len(check.code) == 4:
            csu = check.code
            if csu[1] & 0x20:  # CSU: application block
                app.blocked = True
            if csu[1] & 0x40:  # CSU: card block
                self.card_blocked = True
            if csu[1] & 0x10:  # CSU: update PIN try counter to byte 1 low nibble
                self._pin_tries = csu[0] & 0x0F
        return check.valid

    def _external_authenticate(self, s: _Session, cmd: Command) -> Response:
        app = s.app
        if cmd.p1 or cmd.p2:
            return Response.status(SW_INCORRECT_P1P2)
        if not 8 <= len(cmd.data) <= 16:
            return Response.status(SW_WRONG_LENGTH)
        if app is None or s.gac_count != 1 or s.first_cid != CID_ARQC or s.external_auth_done:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        s.external_auth_done = True
        scheme = app.p.ctls_scheme if s.interface == "contactless" else app.p.scheme
        ok = self._check_arpc(s, app, scheme, cmd.data)
        return Response.status(SW_OK if ok else SW_ISSUER_AUTH_FAILED)

    def _script(self, s: _Session, cmd: Command) -> Response:
        """Issuer script commands with a MAC under the SMI session key (Book 3 §6.5.2)."""
        app = s.app
        if app is None or not s.arqc:
            return Response.status(SW_CONDITIONS_NOT_SATISFIED)
        if len(cmd.data) < 8:
            return Response.status(SW_WRONG_LENGTH)
        scheme = app.p.ctls_scheme if s.interface == "contactless" else app.p.scheme
        body, mac = cmd.data[:-8], cmd.data[-8:]
        header = cmd.header + bytes([len(cmd.data)])
        want = crypto.script_mac(scheme, app.keys.smi, s.atc, s.arqc, header, body)
        if mac != want:
            s.script_failed = True
            return Response.status(SW_SM_MAC_WRONG)
        result = self._apply_script(s, app, scheme, cmd, body)
        if result == SW_OK:
            app.scripts_run += 1
        else:
            s.script_failed = True
        return Response.status(result)

    def _apply_script(self, s: _Session, app: _App, scheme: str, cmd: Command,
                      body: bytes) -> int:
        if cmd.ins == 0x1E:
            app.blocked = True
            return SW_OK
        if cmd.ins == 0x18:
            app.blocked = False
            return SW_OK
        if cmd.ins == 0x16:
            self.card_blocked = True
            return SW_OK
        if cmd.ins == 0x24:
            if cmd.p1 != 0 or cmd.p2 not in (0x00, 0x02):
                return SW_INCORRECT_P1P2
            if cmd.p2 == 0x00:
                if body:
                    return SW_WRONG_LENGTH
                self._pin_tries = self.profile.pin_try_limit
                return SW_OK
            new = self._script_pin(scheme, app, s, body)
            if new is None:
                return SW_WRONG_DATA
            self._pin = new
            self._pin_tries = self.profile.pin_try_limit
            return SW_OK
        # PUT DATA: the issuer may update the card's offline velocity limits.
        tag = (cmd.p1 << 8) | cmd.p2
        if tag not in (0x9F14, 0x9F23) or len(body) != 1:
            return SW_REFERENCED_DATA_NOT_FOUND if tag not in (0x9F14, 0x9F23) else SW_WRONG_LENGTH
        if tag == 0x9F14:
            app.lcol = body[0]
        else:
            app.ucol = body[0]
        return SW_OK

    def _script_pin(self, scheme: str, app: _App, s: _Session, enc: bytes) -> str | None:
        try:
            plain = crypto.decrypt_script_data(scheme, app.keys.smc, s.atc, s.arqc, enc)
        except crypto.CryptoError:
            return None
        if crypto.SCHEMES[scheme].sm == "visa":
            # VIS PIN block: (len || PIN || F pad) xor (00000000 || ICC MK-AC bytes 5-8)
            if len(plain) != 8:
                return None
            block = bytes(x ^ y for x, y in zip(plain, bytes(4) + app.keys.ac[4:8], strict=True))
            n = block[0]
            digits = block[1:].hex().upper()
            pin = digits[:n]
            return pin if 4 <= n <= 12 and pin.isdigit() else None
        # ISO 9564 format 2 block, enciphered in CBC without padding when it fits.
        return _parse_pin_block(plain[:8])


def load_card(
    name: str,
    catalogue: dict[str, CardProfile] | None = None,
    rng: random.Random | None = None,
) -> VirtualCard:
    """A fresh card (full PIN tries, initial ATC) from the named catalogue profile."""
    cards = catalogue if catalogue is not None else _catalogue()
    try:
        profile = cards[name]
    except KeyError:
        raise KeyError(f"no card named {name!r} in the catalogue") from None
    return VirtualCard(profile, rng)


_catalogue = catalogue
