"""Drive a kernel with a plain loop, no clock: the card answers at once.

The SimPy reader adds time to every exchange; this driver does not, which is what a
unit test, a fuzzer or a quick script wants. Requests are answered by the real card
(``card.transmit``), a list of PINs, an application choice and an optional host. An
optional ``tamper(command, response) -> response`` hook alters card answers on the
way back, for fault injection.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from virtual_devices.emv.card import CardMute
from virtual_devices.emv.kernel.messages import (
    NO_ANSWER,
    Apdu,
    ChooseApp,
    Display,
    EnterPin,
    GoOnline,
)
from virtual_devices.emv.kernel.serve import run_at_once

Gen = Generator[Any, Any, Any]


class PlainLoop:
    """Services that answer at once (see :mod:`.serve`), and the loop that uses them."""

    def __init__(
        self,
        card: Any,
        pins: list[str | None] | None = None,
        host: Any = None,
        choice: int | None = 0,
        tamper: Callable[[bytes, bytes], bytes] | None = None,
    ) -> None:
        self.card = card
        self.pins = list(pins or [])
        self.host = host
        self.choice = choice
        self.tamper = tamper
        self.commands: list[bytes] = []
        self.prompts: list[EnterPin] = []
        self.menus: list[ChooseApp] = []
        self.displays: list[str] = []

    def run(self, gen: Gen) -> Any:
        """Serve ``gen`` until it returns; its return value is returned."""
        return run_at_once(gen, self)

    def apdu(self, req: Apdu) -> Gen:
        self.commands.append(req.command)
        try:
            answer = self.card.transmit(req.command)
        except CardMute:
            return NO_ANSWER  # no clock here: the waiting time is not modelled
        if self.tamper is not None:
            answer = self.tamper(req.command, answer)
        return answer
        yield  # pragma: no cover

    def enter_pin(self, req: EnterPin) -> Gen:
        self.prompts.append(req)
        return self.pins.pop(0) if self.pins else None
        yield  # pragma: no cover

    def choose_app(self, req: ChooseApp) -> Gen:
        self.menus.append(req)
        return self.choice
        yield  # pragma: no cover

    def display(self, req: Display) -> Gen:
        self.displays.append(req.message)
        return None
        yield  # pragma: no cover

    def go_online(self, req: GoOnline) -> Gen:
        return self.host.authorise(req.request) if self.host is not None else None
        yield  # pragma: no cover
