"""The contactless reader's RF field, with the cards held in it.

Collision is a property of the field, not of a card: ISO/IEC 14443-3 anticollision
finds more than one card answering and an EMV reader must then stop and ask for a
single card (EMV Contactless Book D §9 / Book A "collision" outcome). Cards without a
contactless interface in the field are invisible to it, as they are to a real reader.
"""

from __future__ import annotations

from virtual_devices.emv.card import CardError, VirtualCard

__all__ = ["Field", "Collision", "NoCard"]


class Collision(CardError):
    """More than one contactless card answered polling."""


class NoCard(CardError):
    """Nothing in the field answers polling."""


class Field:
    def __init__(self) -> None:
        self._cards: list[VirtualCard] = []

    def enter(self, card: VirtualCard) -> None:
        if card not in self._cards:
            self._cards.append(card)

    def leave(self, card: VirtualCard) -> None:
        if card in self._cards:
            self._cards.remove(card)
            card.power_off()

    def clear(self) -> None:
        for c in list(self._cards):
            self.leave(c)

    @property
    def cards(self) -> tuple[VirtualCard, ...]:
        return tuple(self._cards)

    def responding(self) -> list[VirtualCard]:
        return [c for c in self._cards if "contactless" in c.interfaces]

    def poll(self) -> VirtualCard:
        """Polling and anticollision: the one card in the field, else an error."""
        found = self.responding()
        if not found:
            raise NoCard("no contactless card in the field")
        if len(found) > 1:
            raise Collision(f"{len(found)} cards in the field")
        return found[0]

    def activate(self) -> tuple[VirtualCard, bytes]:
        """Poll, then activate the single card: returns it and its ATS."""
        card = self.poll()
        return card, card.power_on("contactless")
