"""The named card catalogue: card profiles as data files in ``cards/*.toml``.

A card file holds what an issuer personalises (PAN, expiry, names, applications with
AID, label, priority, CVM list, IACs, PIN and tries, ODA method and key reference,
contactless behaviour) and what a test expects to happen with it. Brand defaults
live in ``cards/_brands.toml``; a card file overrides them key by key, and each
``[[applications]]`` entry overrides the card's ``[app]`` table.

``expected`` is the documented outcome a correct kernel + acquirer reaches with the
card's default cardholder behaviour (``[cardholder]``) and host rule (``[host]``):

``outcome`` (contact chip) / ``contactless`` / ``contactless_over_cvm_limit`` /
``magstripe``, each one of:

* ``approved-online``  ARQC at first GENERATE AC, host approves, TC at second;
* ``approved-offline`` TC at first GENERATE AC (card and terminal allow offline);
* ``declined-offline`` AAC at first GENERATE AC (terminal or card risk decision);
* ``declined-online``  the host declines (issuer decline), AAC at second GENERATE AC;
* ``declined-by-card`` host approves but the card answers AAC to second GENERATE AC;
* ``fallback``         chip unusable; magstripe fallback is allowed and goes online;
* ``insert-card``      contactless/swipe refused; the reader asks for the chip;
* ``see-phone``        phone needs the cardholder to unlock it (CDCVM) and tap again;
* ``collision``        more than one card in the field.

``cvm`` says how the cardholder is verified: ``offline-pin``, ``online-pin``,
``signature``, ``no-cvm``, ``cdcvm``, ``pin-blocked``.

``[host]`` is the acquirer rule for this card: ``decision`` (``approve`` / ``decline``)
and ``response_code`` (ISO 8583 field 39, two characters). ``[cardholder]`` gives the
PINs the cardholder types in order (``pins``) and the application they pick
(``select``, an AID) when the card asks for confirmation.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from simulator.masking import luhn_ok

__all__ = [
    "AppProfile",
    "CardProfile",
    "CatalogueError",
    "catalogue",
    "load_profile",
    "CVM_LISTS",
    "OUTCOMES",
]

OUTCOMES = frozenset(
    {"approved-online", "approved-offline", "declined-offline", "declined-online",
     "declined-by-card", "fallback", "insert-card", "see-phone", "collision"}
)

# CVM lists by name: amount X and Y (zero), then CV rules (method, condition).
# Method 0x40 bit = "apply succeeding rule if this one fails" (Book 3 Annex C3).
CVM_LISTS: dict[str, str] = {
    # enciphered offline PIN, else plaintext offline PIN, else signature, if supported
    "offline-pin": "00000000" "00000000" "4403" "4103" "1E03" "1F03",
    # offline PIN only: a blocked or failed PIN fails cardholder verification
    "offline-pin-only": "00000000" "00000000" "4403" "0103",
    # plaintext offline PIN, else signature: for cards with no key to decipher a PIN
    "offline-plaintext-pin": "00000000" "00000000" "4103" "1E03" "1F03",
    "online-pin": "00000000" "00000000" "4203" "1E03" "1F03",
    "signature": "00000000" "00000000" "5E03" "1F03",
    "no-cvm": "00000000" "00000000" "1F00",
}


class CatalogueError(ValueError):
    """A card file is inconsistent (bad Luhn, unknown scheme, missing field...)."""


@dataclass(frozen=True)
class AppProfile:
    """One EMV application on a card, as personalised."""

    aid: bytes
    label: str
    preferred_name: str
    priority: int
    confirm: bool  # priority indicator bit 8: cardholder confirmation required
    scheme: str
    ctls_scheme: str
    # "qvsdc" (GPO returns the cryptogram) | "mchip" (GENERATE AC) | "magstripe"
    # (PayPass mag-stripe mode only: a CVC3 from COMPUTE CRYPTOGRAPHIC CHECKSUM) |
    # "msd" (Visa MSD only: track 2 with a dynamic CVV, when the reader offers MSD)
    ctls_path: str
    kernel_id: bytes
    aip: bytes
    cvm_list: bytes
    iac_default: bytes
    iac_denial: bytes
    iac_online: bytes
    pdol: bytes
    ctls_pdol: bytes
    cdol1: bytes
    cdol2: bytes
    ddol: bytes
    tdol: bytes
    app_version: bytes
    currency: int
    country: int
    auc: bytes
    effective: str  # YYMMDD
    expiry: str  # YYMMDD
    oda: str  # "none" | "sda" | "dda" | "cda"
    oda_fault: str  # "" | "ssad" | "icc-cert" | "issuer-cert" | "sdad"
    icc_key: str
    pin_key: str  # ICC PIN encipherment key (9F2D); "" = encipher PINs with the ICC key
    gpo_format: int
    gac_format: int
    contact: bool
    contactless: bool
    ctq: bytes
    ctls_cvm: str  # what the card wants above the reader's CVM limit
    first_gac: str  # "auto" | "arqc" | "aac"
    second_gac: str  # "auto" | "aac"
    offline_allowed: bool
    offline_spending: int  # contactless: available offline spending amount, minor units
    lcol: int
    ucol: int
    issuer_auth_required: bool
    language: str
    payment_method: str  # "credit" | "debit" | "prepaid"
    extra_records: tuple[tuple[int, int, bytes], ...] = ()
    issuer_update: bool = False  # qVSDC: issuer update processing at the POS (CTQ b2 b7)

    @property
    def rid(self) -> bytes:
        return self.aid[:5]


@dataclass(frozen=True)
class CardProfile:
    """A whole card: identity, interfaces, applications and the expected outcome."""

    name: str
    description: str
    pan: str
    psn: str
    expiry: str  # YYMMDD
    cardholder_name: str
    brand: str
    interfaces: frozenset[str]
    applications: tuple[AppProfile, ...]
    service_code: str
    pin: str | None
    pin_tries: int
    pin_try_limit: int
    t0: bool  # T=0 behaviour: case-4 answers need GET RESPONSE (61xx), wrong Le -> 6Cxx
    mute: bool  # the chip does not answer reset
    pse: bool  # the card has a PSE directory (contact)
    phone: bool  # a mobile device (CDCVM capable)
    cdcvm_performed: bool
    stripe_damage: float  # probability a swipe of this stripe reads nothing
    expected: dict[str, str] = field(default_factory=dict)
    host: dict[str, str] = field(default_factory=dict)
    cardholder: dict[str, Any] = field(default_factory=dict)

    @property
    def expiry_yymm(self) -> str:
        return self.expiry[:4]


def _hex(v: Any, what: str) -> bytes:
    try:
        return bytes.fromhex(str(v).replace(" ", ""))
    except ValueError as e:
        raise CatalogueError(f"{what}: not hex: {v!r}") from e


def _aip(oda: str, cvm_list: bytes, issuer_auth: bool, ctls_mchip: bool,
         phone: bool = False) -> bytes:
    b1 = {"none": 0x00, "sda": 0x40, "dda": 0x20, "cda": 0x21}[oda]
    if phone and ctls_mchip:
        b1 |= 0x02  # M/Chip: on-device cardholder verification supported
    if cvm_list:
        b1 |= 0x10  # cardholder verification supported
    b1 |= 0x08  # terminal risk management to be performed
    if issuer_auth:
        b1 |= 0x04
    # M/Chip on contactless: byte 2 bit 8 "EMV mode supported" (only for cards with an
    # antenna; contact-only cards leave byte 2 zero as EMV Book 3 defines it RFU).
    b2 = 0x80 if ctls_mchip else 0x00
    return bytes([b1, b2])


def _app(brand_defaults: dict[str, Any], card: dict[str, Any], entry: dict[str, Any],
         card_name: str) -> AppProfile:
    from virtual_devices.emv.crypto import SCHEMES

    a: dict[str, Any] = {**brand_defaults, **card.get("app", {}), **entry}
    where = f"{card_name}/{a.get('aid', '?')}"
    for k in ("scheme", "ctls_scheme"):
        if a[k] not in SCHEMES:
            raise CatalogueError(f"{where}: unknown scheme {a[k]!r}")
    if a["ctls_path"] not in ("qvsdc", "mchip", "magstripe", "msd"):
        raise CatalogueError(f"{where}: unknown contactless path {a['ctls_path']!r}")
    cvm_name = a.get("cvm", "offline-pin")
    cvm_list = _hex(a["cvm_list"], where) if "cvm_list" in a else _hex(CVM_LISTS[cvm_name], where)
    oda = a.get("oda", "dda")
    if oda not in ("none", "sda", "dda", "cda"):
        raise CatalogueError(f"{where}: unknown ODA method {oda!r}")
    # Enciphered offline PIN (CVM 04/05) needs a private key on the card to decipher it.
    rules = [cvm_list[i] & 0x3F for i in range(8, len(cvm_list) - 1, 2)]
    if any(r in (0x04, 0x05) for r in rules) and oda not in ("dda", "cda") \
            and not a.get("pin_key"):
        raise CatalogueError(f"{where}: enciphered offline PIN in the CVM list but no ICC or "
                             "PIN encipherment key (use offline-plaintext-pin or set pin_key)")
    issuer_auth = bool(a.get("issuer_auth_required", True))
    interfaces_early = set(card.get("interfaces", ["contact", "contactless", "magstripe"]))
    aip = (
        _hex(a["aip"], where)
        if "aip" in a
        else _aip(oda, cvm_list, issuer_auth,
                  a["ctls_path"] == "mchip" and "contactless" in interfaces_early,
                  bool(card.get("phone", False)))
    )
    extra = tuple(
        (int(r["sfi"]), int(r["record"]), _hex(r["data"], where))
        for r in a.get("extra_records", [])
    )
    interfaces = set(card.get("interfaces", ["contact", "contactless", "magstripe"]))
    return AppProfile(
        aid=_hex(a["aid"], where),
        label=a.get("label", "CREDIT"),
        preferred_name=a.get("preferred_name", a.get("label", "CREDIT")),
        priority=int(a.get("priority", 1)),
        confirm=bool(a.get("confirm", False)),
        scheme=a["scheme"],
        ctls_scheme=a["ctls_scheme"],
        ctls_path=a["ctls_path"],
        kernel_id=_hex(a["kernel_id"], where),
        aip=aip,
        cvm_list=cvm_list,
        iac_default=_hex(a["iac_default"], where),
        iac_denial=_hex(a["iac_denial"], where),
        iac_online=_hex(a["iac_online"], where),
        pdol=_hex(a["pdol"], where),
        ctls_pdol=_hex(a["ctls_pdol"], where),
        cdol1=_hex(a["cdol1"], where),
        cdol2=_hex(a["cdol2"], where),
        ddol=_hex(a["ddol"], where),
        tdol=_hex(a["tdol"], where),
        app_version=_hex(a["app_version"], where),
        currency=int(a.get("currency", 986)),
        country=int(a.get("country", 76)),
        auc=_hex(a.get("auc", "FF00"), where),
        effective=str(a.get("effective", card.get("effective", "200101"))),
        expiry=str(a.get("expiry", card["expiry"])),
        oda=oda,
        oda_fault=str(a.get("oda_fault", "")),
        icc_key=str(a.get("icc_key", card.get("icc_key", "icc_01"))),
        pin_key=str(a.get("pin_key", card.get("pin_key", ""))),
        gpo_format=int(a["gpo_format"]),
        gac_format=int(a["gac_format"]),
        contact=bool(a.get("contact_app", "contact" in interfaces)),
        contactless=bool(a.get("contactless_app", "contactless" in interfaces)),
        ctq=_hex(a.get("ctq", "8000"), where),
        ctls_cvm=str(a.get("ctls_cvm", "online-pin")),
        first_gac=str(a.get("first_gac", "auto")),
        second_gac=str(a.get("second_gac", "auto")),
        offline_allowed=bool(a.get("offline_allowed", False)),
        offline_spending=int(a.get("offline_spending", 0)),
        lcol=int(a.get("lcol", 0)),
        ucol=int(a.get("ucol", 0)),
        issuer_auth_required=issuer_auth,
        language=str(a.get("language", "ptenes")),
        payment_method=str(a.get("payment_method", "credit")),
        extra_records=extra,
        issuer_update=bool(a.get("issuer_update", False)),
    )


def load_profile(raw: dict[str, Any], brands: dict[str, dict[str, Any]]) -> CardProfile:
    """Build a :class:`CardProfile` from a parsed card file, checking it."""
    name = raw["name"]
    brand = raw["brand"]
    if brand not in brands:
        raise CatalogueError(f"{name}: unknown brand {brand!r}")
    pan = str(raw["pan"])
    if not pan.isdigit() or not 12 <= len(pan) <= 19 or not luhn_ok(pan):
        raise CatalogueError(f"{name}: PAN fails Luhn or length")
    apps = tuple(_app(brands[brand], raw, e, name) for e in raw.get("applications", [{}]))
    if not apps:
        raise CatalogueError(f"{name}: no applications")
    expected = {k: str(v) for k, v in raw.get("expected", {}).items()}
    for k, v in expected.items():
        if k != "cvm" and not k.startswith("cvm") and v not in OUTCOMES:
            raise CatalogueError(f"{name}: expected.{k} = {v!r} is not a known outcome")
    pin = raw.get("pin")
    return CardProfile(
        name=name,
        description=raw.get("description", ""),
        pan=pan,
        psn=str(raw.get("psn", "00")).zfill(2),
        expiry=str(raw["expiry"]),
        cardholder_name=raw.get("cardholder_name", "CARDLOOP/TEST"),
        brand=brand,
        interfaces=frozenset(raw.get("interfaces", ["contact", "contactless", "magstripe"])),
        applications=apps,
        service_code=str(raw.get("service_code", "201")),
        pin=str(pin) if pin is not None else None,
        pin_tries=int(raw.get("pin_tries", raw.get("pin_try_limit", 3))),
        pin_try_limit=int(raw.get("pin_try_limit", 3)),
        t0=bool(raw.get("t0", False)),
        mute=bool(raw.get("mute", False)),
        pse=bool(raw.get("pse", True)),
        phone=bool(raw.get("phone", False)),
        cdcvm_performed=bool(raw.get("cdcvm_performed", False)),
        stripe_damage=float(raw.get("stripe_damage", 0.0)),
        expected=expected,
        host={k: str(v) for k, v in raw.get("host", {"decision": "approve"}).items()},
        cardholder=dict(raw.get("cardholder", {})),
    )


def _read(name: str) -> str:
    return resources.files("virtual_devices.emv").joinpath(f"cards/{name}").read_text()


@cache
def _catalogue() -> dict[str, CardProfile]:
    brands = tomllib.loads(_read("_brands.toml"))
    out: dict[str, CardProfile] = {}
    folder = resources.files("virtual_devices.emv").joinpath("cards")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml") or entry.name.startswith("_"):
            continue
        profile = load_profile(tomllib.loads(entry.read_text()), brands)
        if profile.name in out:
            raise CatalogueError(f"duplicate card name {profile.name!r}")
        out[profile.name] = profile
    return out


def catalogue() -> dict[str, CardProfile]:
    """Every named card profile, by name (a fresh dict; profiles are immutable)."""
    return dict(_catalogue())


def describe() -> str:
    """The catalogue as a table (masked PANs), for people choosing a card for a test."""
    from simulator.masking import mask_pan

    rows = []
    for p in _catalogue().values():
        aids = ",".join(a.aid.hex().upper() for a in p.applications)
        exp = " ".join(f"{k}={v}" for k, v in p.expected.items())
        rows.append(f"{p.name:<30} {p.brand:<10} {mask_pan(p.pan):<19} "
                    f"{'/'.join(sorted(p.interfaces)):<30} {aids:<32} {exp}")
    return "\n".join(rows)


if __name__ == "__main__":
    print(describe())
