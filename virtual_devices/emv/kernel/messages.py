"""What the kernel asks of the world, and what a transaction ends with.

The kernel is a generator: it yields one request at a time and is resumed with the
answer. Requests are plain values so the same kernel runs under the SimPy reader
(which adds the time each exchange takes) or under a plain loop in tests.

=====================  ==========================================================
request                answer sent back
=====================  ==========================================================
:class:`Apdu`          the card's response bytes (data + SW1 SW2); ``None`` when the
                       card is gone (removed); :data:`NO_ANSWER` when the card is
                       there but stayed silent past the reader's waiting time
:class:`ChooseApp`     index into ``candidates``; ``None`` = cardholder cancelled
:class:`EnterPin`      the digits typed; ``None`` = PIN bypassed; :data:`CANCEL`
:class:`Display`       nothing (``None``)
:class:`GoOnline`      an :class:`IssuerResponse`; ``None`` = host unreachable
=====================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Interface = Literal["contact", "contactless", "magstripe"]
# how a card reached the host: a reader's interface, or typed on a keypad
EntryInterface = Literal["contact", "contactless", "magstripe", "keyed"]

CANCEL = "cancel"

# The answer to an Apdu when the card is in the slot/field but sent nothing back before
# the reader's waiting time ran out (ISO/IEC 7816-3 WWT/BWT, ISO/IEC 14443-4 FWT): a
# communication error, not a removal (EMV Book 1 §9.2.3: the terminal deactivates the
# card and ends the transaction).
NO_ANSWER = "no-answer"


@dataclass(frozen=True)
class Apdu:
    command: bytes
    label: str


@dataclass(frozen=True)
class Candidate:
    aid: bytes
    label: str
    priority: int  # 1 highest .. 15; 0 = none given
    confirmation_required: bool
    pdol: bytes | None = None
    language: str = ""
    kernel_id: bytes = b""  # 9F2A from the PPSE entry (contactless)


@dataclass(frozen=True)
class ChooseApp:
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class EnterPin:
    kind: Literal["offline-plaintext", "offline-enciphered", "online"]
    amount: int
    tries_left: int | None = None
    last_wrong: bool = False


@dataclass(frozen=True)
class Display:
    message: str


@dataclass(frozen=True, repr=False)
class AuthRequest:
    """What the reader sends to the host: the EMV data and how it was read."""

    interface: EntryInterface
    amount: int
    currency: int
    pan: str
    psn: str
    aid: bytes
    emv: dict[int, bytes]  # tag -> value, for the host (never logged in clear)
    track2: str | None = field(default=None, repr=False)  # magstripe only
    # the online PIN as typed, handed to the host only; never in a repr or a log
    pin: str | None = field(default=None, repr=False)
    fallback: bool = False
    # an online PIN captured by a pinpad: ISO 9564 format 0 block under DUKPT and its KSN
    pin_block: bytes | None = field(default=None, repr=False)
    ksn: bytes | None = field(default=None, repr=False)
    # keyed entry (interface "keyed"): the expiry typed (YYMM), the security code from
    # the back of the card (never in a repr or a log) and the terminal's date (YYMMDD),
    # against which the host checks the expiry
    expiry: str | None = None
    security_code: str | None = field(default=None, repr=False)
    date: str | None = None

    def __repr__(self) -> str:
        from simulator.masking import mask_pan

        return (f"AuthRequest({self.interface}, amount={self.amount}, pan={mask_pan(self.pan)}, "
                f"aid={self.aid.hex().upper()}, tags={len(self.emv)}, "
                f"pin={'yes' if self.pin or self.pin_block else 'no'}, fallback={self.fallback})")


@dataclass(frozen=True)
class GoOnline:
    request: AuthRequest


@dataclass(frozen=True)
class IssuerResponse:
    """The host's answer: response code and the issuer data for the card."""

    arc: str  # two characters, "00" approved
    auth_code: str = ""
    issuer_auth_data: bytes | None = None  # 91
    scripts_71: tuple[bytes, ...] = ()  # whole 71 templates
    scripts_72: tuple[bytes, ...] = ()
    extra: dict[int, bytes] = field(default_factory=dict)
    reference: str = ""  # the host's id for this authorisation (for reversal/capture)

    @property
    def approved(self) -> bool:
        return self.arc in ("00", "08", "10", "11", "Y1", "Y3")


Request = Apdu | ChooseApp | EnterPin | Display | GoOnline


class Status(StrEnum):
    """How a transaction ends (EMV Book A outcomes, plus contact-kernel endings)."""

    APPROVED = "approved"
    DECLINED = "declined"
    ONLINE_REQUEST = "online-request"  # GOC said "go online"; FNC not run yet
    TRY_ANOTHER_INTERFACE = "try-another-interface"
    INSERT_CARD = "insert-card"
    SEE_PHONE = "see-phone"
    NOT_ACCEPTED = "not-accepted"  # no common application
    CARD_BLOCKED = "card-blocked"
    CARD_REMOVED = "card-removed"
    CANCELLED = "cancelled"
    CARD_ERROR = "card-error"  # malformed or missing card data: terminate
    FALLBACK = "fallback"  # chip failed; magstripe fallback allowed
    COLLISION = "collision"  # more than one contactless card in the field
    INVALID_AMOUNT = "invalid-amount"  # an amount the card asks for in a form too small for it


@dataclass
class Outcome:
    status: Status
    reason: str = ""
    interface: Interface = "contact"
    aid: bytes = b""
    label: str = ""
    pan_masked: str = ""
    cryptogram: str = ""  # "TC", "AAC", "ARQC" of the final GENERATE AC
    first_cryptogram: str = ""
    oda: str = ""  # "SDA", "DDA", "CDA", "fDDA", "" (none) and whether it passed
    oda_ok: bool | None = None
    cvm: str = ""  # "offline-plaintext-pin", "online-pin", "signature", "no-cvm", "cdcvm", ...
    tvr: bytes = bytes(5)
    tsi: bytes = bytes(2)
    arc: str = ""
    auth_code: str = ""
    issuer_auth: bool | None = None
    script_results: bytes = b""
    online: bool = False
    reference: str = ""  # host reference of the online authorisation
    reversed: bool = False  # the reader reversed a host approval the card refused
    magstripe_mode: bool = False  # a tap in mag-stripe mode: tracks with a CVC3, no AC
    tags: dict[int, bytes] = field(default_factory=dict)
    trace: list[Any] = field(default_factory=list)  # kernel TraceLines, for the CLI

    @property
    def approved(self) -> bool:
        return self.status is Status.APPROVED


class KernelStop(Exception):
    """Ends the transaction early with an outcome status (raised inside the kernel)."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(f"{status.value}: {reason}")
        self.status = status
        self.reason = reason
