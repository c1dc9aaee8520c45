"""The Valor target of the conformance cases (semi-and-websockets.md part A).

By default the reference terminal runs inside the case's world in virtual mode and the
suite plays the POS over in-memory links that carry exactly what each transport carries
(WebSocket messages; TCP bytes in the case's framing; the USB line paced at its baud
rate). With ``--mode realtime`` the reference listens on loopback ports (WebSocket and
TCP on one port, the cancel socket beside it) and the suite connects through them. With
``--target valor=tcp://HOST:5000`` or ``ws://HOST:5000`` the suite plays the POS against
that terminal: framings of the other transport are skipped, and cases that must choose
the card, arm a fault or read the reference's ledger become informational.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.options import get_options, target_url
from conformance.targets import Target
from protocol_servers.valor.pos import ValorPos
from protocol_servers.valor.terminal import ValorTerminal
from protocol_servers.valor.wire import Style
from simulator.world import World

Script = Callable[..., Generator[Any, Any, Any]]
FRAMINGS: tuple[Style, ...] = ("ws", "bare", "newline", "stx")


class ValorTarget(Target):
    """One terminal under test and the POS connections a case opens to it."""

    def __init__(self, world: World, framing: Style, url: str | None,
                 profile: str = "local") -> None:
        super().__init__(world, Target.kind_for(world, url=url))
        self.framing = framing
        self.url = url
        self.terminal: ValorTerminal | None = None
        self.poses: list[ValorPos] = []
        self.book: dict[str, dict[str, Any]] = {}  # the POS's books over all connections
        self.tran_nos: dict[str, str] = {}
        self._fronts: list[Any] = []
        self.cancel_url: str | None = None
        if self.reference:
            # the customer inserts: the cases read the contact kernel's data (TVR, TSI)
            self.terminal = ValorTerminal(world, profile=profile,
                                          customer={"presentation": "insert"})
        if self.kind == "served":
            from protocol_servers.valor import live

            assert self.terminal is not None
            main = self.wait(live.Front(world, self.terminal, "valor").start("127.0.0.1", 0))
            cancel = self.wait(
                live.Front(world, self.terminal, "valor-cancel", True).start("127.0.0.1", 0))
            self._fronts = [main, cancel]
            scheme = "ws" if framing == "ws" else "tcp"
            self.url = f"{scheme}://127.0.0.1:{main.port}"
            self.cancel_url = f"tcp://127.0.0.1:{cancel.port}"
        elif self.kind == "foreign":
            parts = urlsplit(url or "")
            # §A.4 step 8: the cancel socket is the next port (5001 beside 5000)
            self.cancel_url = f"tcp://{parts.hostname}:{(parts.port or 5000) + 1}"

    @property
    def transport(self) -> str:
        return "ws" if self.framing == "ws" else ("usb" if self.framing == "usb" else "tcp")

    def end(self, cancel_port: bool = False, baud: int | None = None) -> Any:
        if self.kind == "virtual":
            assert self.terminal is not None
            return self.terminal.connect_local(self.transport, cancel_port=cancel_port,
                                               baud=baud)
        from protocol_servers.valor import live

        url = self.cancel_url if cancel_port else self.url
        assert url is not None
        return self.wait(live.open_end(self.world, url, f"pos#{len(self.poses) + 1}"))

    def pos(self, trailing_ack: bool = True, cancel_port: bool = False,
            baud: int | None = None) -> ValorPos:
        style: Style = "bare" if cancel_port and self.framing == "ws" else self.framing
        p = ValorPos(self.world, self.end(cancel_port, baud), style,
                     name=f"pos#{len(self.poses) + 1}", trailing_ack=trailing_ack,
                     book=self.book, by_tran_no=self.tran_nos)
        self.poses.append(p)
        return p

    def pos_in_run(self, baud: int | None = None) -> Generator[Any, Any, ValorPos]:
        """:meth:`pos` from inside a running script (a realtime socket opens while the
        world runs, so the script waits for it on the world)."""
        if self.kind == "virtual":
            return self.pos(baud=baud)
        end = yield self._open_later()
        p = ValorPos(self.world, end, self.framing, name=f"pos#{len(self.poses) + 1}",
                     book=self.book, by_tran_no=self.tran_nos)
        self.poses.append(p)
        return p

    def connector(self) -> Callable[[], Any]:
        """A new connection to the same terminal (what a POS does after a lost socket):
        an end in virtual mode, else a world event that the opened socket triggers."""
        if self.kind == "virtual":
            return lambda: self.end()
        return self._open_later

    def _open_later(self) -> Any:
        import asyncio

        from protocol_servers.valor import live

        assert self.url is not None
        ev = self.world.event()
        task = asyncio.ensure_future(live.open_end(self.world, self.url,
                                                   f"pos#{len(self.poses) + 1}b"))

        def done(t: Any) -> None:
            self.world.inject(lambda: ev.fail(t.exception()) if t.exception()
                              else ev.succeed(t.result()))

        task.add_done_callback(done)
        return ev

    def written(self) -> list[bytes]:
        """Each write the reference terminal made, in order (one transcript entry each)."""
        assert self.terminal is not None
        ports = set(self.terminal.ports)
        return [bytes.fromhex(e.hex) for e in self.world.transcript
                if e.direction == "tx" and e.port in ports]

    def arrived(self, pos: ValorPos) -> bytes:
        """Everything that reached ``pos`` (any split), as one byte string."""
        return b"".join(bytes.fromhex(e.hex) for e in self.world.transcript
                        if e.direction == "rx" and e.port == pos.end.name)

    def arm(self, fault: str, times: int = 1) -> None:
        """Arm a fault of §A.9: a knob name, or a fault catalogue id
        (``transport.terminal_no_ack``) whose action is that knob."""
        self.need_reference("arming a fault of §A.9 (informational against a target)")
        assert self.terminal is not None
        if "." in fault:
            from conformance.faults import load_catalogue

            spec = load_catalogue()[fault]
            assert spec.action is not None
            fault, times = spec.action, int(spec.params.get("times", times))
        self.terminal.set_knob(fault, times)

    def teardown(self) -> None:
        if self.loop is None:
            return
        for p in self.poses:
            if not p.closed:
                p.end.close()
        for front in self._fronts:
            self.wait(front.close())


def _target(request: pytest.FixtureRequest, world: World, framing: Style,
            profile: str = "local") -> Iterator[ValorTarget]:
    url = target_url(request.config, "valor")
    if url is not None:
        from protocol_servers.valor.live import transport_of

        if (transport_of(url) == "ws") != (framing == "ws") or framing == "usb":
            pytest.skip(f"the target speaks {transport_of(url)} only")
    elif framing == "usb" and world.mode == "realtime":
        pytest.skip("the USB variant runs on its own pty (see valor/A.3 USB cases)")
    # ``--profile local+no-busy-rule`` (or ``+late-cancel``) switches a rule off in the
    # reference terminal: the suite's own tests show that the named cases then fail
    chosen = get_options(request.config).profile
    if chosen is not None and chosen.split("+")[0] == profile and "+" in chosen:
        profile = chosen
    target = ValorTarget(world, framing, url, profile)
    yield target
    target.close()


@pytest.fixture(params=FRAMINGS)
def framing(request: pytest.FixtureRequest) -> Style:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def valor(request: pytest.FixtureRequest, world: World, framing: Style) -> Iterator[ValorTarget]:
    yield from _target(request, world, framing)


@pytest.fixture
def valor_cloud(request: pytest.FixtureRequest, world: World,
                framing: Style) -> Iterator[ValorTarget]:
    if target_url(request.config, "valor") is not None:
        pytest.skip("the cloud profile is a setting of the reference terminal")
    yield from _target(request, world, framing, "cloud")
