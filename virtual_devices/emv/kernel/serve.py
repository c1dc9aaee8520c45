"""The one loop that serves a kernel's requests, whoever answers them.

The kernel is a generator of requests (:mod:`.messages`). A driver answers each one:
the SimPy reader on the world's clock, the pinpad's chip session inside an ABECS
command, the plain loop with no clock. They differ only in *how* they answer, so each
is a :class:`Services` object (one generator method per request type, registered in
:data:`ROUTES`) and :func:`serve` is the loop they share. A service that needs time
yields SimPy events; the plain loop's services never do, and :func:`run_at_once` runs
the loop without a clock.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from virtual_devices.emv.kernel.messages import Apdu, ChooseApp, Display, EnterPin, GoOnline

Gen = Generator[Any, Any, Any]


class Services(Protocol):
    """What answers a kernel: each method is a generator returning the answer."""

    def apdu(self, request: Apdu) -> Gen: ...
    def choose_app(self, request: ChooseApp) -> Gen: ...
    def enter_pin(self, request: EnterPin) -> Gen: ...
    def display(self, request: Display) -> Gen: ...
    def go_online(self, request: GoOnline) -> Gen: ...


# request type -> the Services method that answers it
ROUTES: dict[type, str] = {
    Apdu: "apdu",
    ChooseApp: "choose_app",
    EnterPin: "enter_pin",
    Display: "display",
    GoOnline: "go_online",
}


def serve(gen: Gen, services: Any) -> Gen:
    """Serve ``gen`` until it returns; its return value is returned."""
    send = gen.send
    answer: Any = None
    while True:
        try:
            request = send(answer)
        except StopIteration as stop:
            return stop.value
        answer = yield from getattr(services, ROUTES[type(request)])(request)


def run_at_once(gen: Gen, services: Any) -> Any:
    """:func:`serve` with services that never wait: no clock, the answer at once."""
    loop = serve(gen, services)
    try:
        loop.send(None)
    except StopIteration as stop:
        return stop.value
    loop.close()
    raise RuntimeError("a service waited for an event, but this loop has no clock")
