"""The pinpad's card slot: the one owner of which card is in and how far its chip went.

GCR, GOC, FNC, RMC, CKE, OPN and CLO all change what the slot holds; they do it
through these methods, so the rules (a chip session exists only after an ICC GCR, FNC
only after GOC, a fallback belongs to the next swipe) live in one place and every
change of the card's presence reaches the observers once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from virtual_devices.abecs import messages as m

CardEvent = Callable[[str, Any], None]  # ("insert" | "tap" | "swipe" | "remove", card)


class CardSlot:
    def __init__(self, on_event: CardEvent | None = None) -> None:
        self.on_event = on_event or (lambda what, card: None)
        self.card: Any = None  # the card in the chip slot
        self.chip: Any = None  # the chip session after a successful ICC GCR
        self.goc_done = False  # GOC answered; FNC may follow
        self.fallback_pending = False  # the chip failed: the next read is a swipe
        self.gcr_saved: m.GcrRequest | None = None  # what a bare GCR resumes (§4.7)
        self.antenna_on = False  # the contactless field is up (a card read waits for a tap)
        self.insert_requested = False  # 087: the tap was refused, insert or swipe next
        self.handed_back: Any = None  # the card given back for the fallback swipe

    # -- the card -------------------------------------------------------------------------
    def insert(self, card: Any) -> None:
        self.card = card
        self.on_event("insert", card)

    def swiped(self, card: Any) -> int:
        """A swipe read; returns GCR's STATCHIP (1 when it is the fallback of a chip)."""
        self.on_event("swipe", card)
        stat = 1 if self.fallback_pending else 0
        self.fallback_pending = False
        return stat

    def tapped(self, card: Any) -> None:
        """A tap: the card crossed the field; it stays in the customer's hand."""
        self.insert_requested = False
        self.on_event("tap", card)

    def tap_refused(self, status: int) -> None:
        """The contactless read ended in error; 087 asks for the chip or the stripe."""
        self.insert_requested = status == m.ST_CTLSIFCHG

    def remove(self) -> None:
        had = self.card
        self.card = None
        self.chip = None
        if had is not None:
            self.on_event("remove", had)

    def chip_failed(self) -> Any:
        """The chip cannot be read (076): the customer pulls it out to swipe it next."""
        card = self.card
        self.fallback_pending = True
        self.handed_back = card
        self.card = None
        self.chip = None
        return card

    # -- the chip's progress ------------------------------------------------------------------
    def begin_read(self, req: m.GcrRequest | None) -> m.GcrRequest | None:
        """A GCR starts: the request to use (a bare GCR resumes the saved one)."""
        if req is None:
            req = self.gcr_saved
        else:
            self.gcr_saved = req
        self.chip = None
        self.goc_done = False
        return req

    def chip_read(self, session: Any) -> None:
        self.chip = session

    def can_go_on_chip(self) -> bool:
        return self.chip is not None and not self.goc_done

    def can_finish(self) -> bool:
        return self.chip is not None and self.goc_done

    def went_on_chip(self, ok: bool) -> None:
        if ok:
            self.goc_done = True
        else:
            self.chip = None

    def finished(self, ok: bool) -> None:
        self.goc_done = False
        if not ok:
            self.chip = None

    def aborted(self, cmd_id: str) -> None:
        if cmd_id == "GCR":
            self.chip = None

    def reset(self) -> Any:
        """OPN and CLO: the transaction is over (a fallback belongs to it, not the pinpad).

        Returns the card handed back for a fallback swipe that never came (or None): the
        customer takes it away with them, so it must not be the next card read.
        """
        taken = self.handed_back if self.fallback_pending else None
        self.handed_back = None
        self.chip = None
        self.gcr_saved = None
        self.goc_done = False
        self.fallback_pending = False
        self.antenna_on = False
        self.insert_requested = False
        return taken
