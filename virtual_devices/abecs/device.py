"""What the card commands (:mod:`.gcr`, :mod:`.icc`) need of the pinpad they run in.

The pinpad (:mod:`.pinpad`) imports the card commands; they see it only through
:class:`CardDevice`, so the modules form a line (device ← gcr, icc ← pinpad), not a
circle, and the card slot's state stays with its owner (:class:`.slot.CardSlot`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.tables import AidRecord

if TYPE_CHECKING:
    import simpy

    from simulator.timings import Timings
    from simulator.world import World
    from virtual_devices.abecs.display import Display
    from virtual_devices.abecs.dukpt import DukptKey
    from virtual_devices.abecs.keys import KeyStore
    from virtual_devices.abecs.slot import CardSlot
    from virtual_devices.abecs.tables import TableStore
    from virtual_devices.cardholder import Cardholder

Gen = Generator[Any, Any, Any]


@dataclass(frozen=True)
class ChipRead:
    """What GCR reports about a chip card after selection and READ RECORD."""

    record: AidRecord
    track2: str  # from tag 57, "D" as "="
    pan: str
    pan_seq: int
    app_label: str
    service_code: str
    holder_name: str
    expiry: str  # YYMMDD
    issuer_country: str
    aid: bytes
    card_type: int = m.CARD_ICC  # 03 ICC EMV, 05 CTLS mag-stripe, 06 CTLS EMV
    track1: str = ""  # type 05 only: track 1 with the CVC3


class ChipSession(Protocol):
    def read(self) -> Gen: ...  # -> ChipRead | int (status)

    def go_on_chip(self, req: m.GocRequest) -> Gen: ...  # -> GocResponse | int

    def finish(self, req: m.FncRequest) -> Gen: ...  # -> FncResponse | int

    def change_parameters(self, tlv: bytes) -> None: ...


class CardDevice(Protocol):
    """The pinpad as its card commands see it."""

    world: World
    t: Timings
    display: Display
    tables: TableStore
    slot: CardSlot
    keys: dict[int, DukptKey]
    key_store: KeyStore
    cards: deque[Any]
    in_hand: Any  # the card the customer holds, presented again until another is chosen
    customer: Cardholder
    chooser: Callable[[list[str]], Gen] | None
    chip_factory: Callable[..., Any] | None
    pin_kind: str

    @property
    def info(self) -> Any: ...

    @property
    def inserted(self) -> Any: ...

    @property
    def fallback_pending(self) -> bool: ...

    def take_card(self) -> Any: ...

    def card_chosen(self) -> simpy.Event: ...

    def act(self, action: Gen) -> simpy.Process: ...

    def notify(self, text: str) -> None: ...

    def pin_entry(self, min_len: int, max_len: int, amount: int | None,
                  bypass: bool = False) -> Gen: ...

    def encrypt_pin(self, method: int, key_idx: int, wkenc: str, pin: str,
                    pan: str) -> tuple[bytes, bytes]: ...
