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


class PlainLoop:
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

    def run(self, gen: Generator[Any, Any, Any]) -> Any:
        """Serve ``gen`` until it returns; its return value is returned."""
        answer: Any = None
        while True:
            try:
                req = gen.send(answer)
            except StopIteration as stop:
                return stop.value
            answer = None
            if isinstance(req, Apdu):
                self.commands.append(req.command)
                try:
                    answer = self.card.transmit(req.command)
                except CardMute:
                    answer = NO_ANSWER  # no clock here: the waiting time is not modelled
                    continue
                if self.tamper is not None:
                    answer = self.tamper(req.command, answer)
            elif isinstance(req, EnterPin):
                self.prompts.append(req)
                answer = self.pins.pop(0) if self.pins else None
            elif isinstance(req, ChooseApp):
                self.menus.append(req)
                answer = self.choice
            elif isinstance(req, Display):
                self.displays.append(req.message)
            elif isinstance(req, GoOnline):
                answer = self.host.authorise(req.request) if self.host is not None else None
