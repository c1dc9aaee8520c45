"""A connection's reader and paced writer over any world end (both roles, every transport).

The link is the only place that touches an end. It reads what arrives (WebSocket
messages whole; TCP and serial bytes through the stream decoder of :mod:`wire`), hands
each item to the connection's :class:`~protocol_servers.valor.session.Session`, and
carries out what the session says: a reply now, or a request for the terminal.

Writes go through one queue and leave one frame per write, ``frame_spacing`` apart
(DECISIONS.md: some clients read one frame per socket read, so two frames must never
share a write). An object that starts but never closes is given up after
``partial_frame_timeout`` with a ``STATE -1`` frame.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.valor import dictionary as d
from protocol_servers.valor.session import Dispatch, Reply, Session
from protocol_servers.valor.wire import Frame, JsonStreamDecoder, Junk, Style, encode
from simulator.streams import ByteEnd

if TYPE_CHECKING:
    from protocol_servers.valor.terminal import ValorTerminal

Gen = Generator[simpy.Event, Any, Any]


class Link:
    def __init__(self, terminal: ValorTerminal, end: Any, transport: str,
                 cancel_port: bool = False) -> None:
        self.terminal = terminal
        self.world = terminal.world
        self.end = end
        self.transport = transport  # ws | tcp | usb
        self.name = str(getattr(end, "name", transport))
        self.bytes = isinstance(end, ByteEnd)
        self.session = Session(terminal.identity, cancel_port=cancel_port,
                               last_style=self._default_style())
        self.decoder = JsonStreamDecoder(strict_stx=terminal.knob("strict_stx"))
        self._queue: simpy.Store = simpy.Store(self.world.env)
        self.closed = False
        self.sent_frames = 0

    def start(self) -> None:
        self.world.process(self._reader())
        self.world.process(self._writer())

    # -- writing ---------------------------------------------------------------------------
    def send(self, frame: dict[str, str], style: str, final: bool = False) -> None:
        if self.closed:
            self.world.transcript.event(self.name, "frame for a closed connection dropped")
            return
        if final:
            self.session.final_sent()
        self._queue.put((d.dumps(frame), style))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.lost()
            self.end.close()
            self.terminal.forget(self)

    def close_after_writes(self) -> None:
        """Close once every frame queued so far is written (the drop_after_stan fault)."""
        self._queue.put((None, ""))

    def _writer(self) -> Gen:
        while True:
            payload, style = yield self._queue.get()
            if self.closed:
                return
            if payload is None:
                self.close()
                return
            if self.bytes:
                if self.terminal.knob("bare_replies"):
                    style = "bare"
                self.end.write(encode(payload, style))
            else:
                self.end.send(payload.decode("ascii"))
            self.sent_frames += 1
            yield self.world.timeout(self.terminal.t["frame_spacing"])

    # -- reading ---------------------------------------------------------------------------
    def _reader(self) -> Gen:
        pending: simpy.Event | None = None
        while not self.closed:
            if pending is None:
                pending = self.end.read() if self.bytes else self.end.recv()
            if self.bytes and self.decoder.buffered:
                limit = self.world.timeout(self.terminal.t["partial_frame_timeout"])
                yield self.world.any_of([pending, limit])
                if not pending.triggered:
                    self._handle(self.decoder.flush())
                    continue
            else:
                yield pending
            item, pending = pending.value, None
            if item in (b"", None):
                break
            if self.bytes:
                self.decoder.strict_stx = self.terminal.knob("strict_stx")
                self._handle(self.decoder.feed(item))
            else:
                text = item.encode("utf-8", "replace") if isinstance(item, str) else item
                self._handle([Frame(text, "ws")])
        self.close()  # the peer ended it (closing an ended end again is harmless)
        self._queue.put((None, ""))  # wake the writer so that it ends too

    def _default_style(self) -> Style:
        """The framing of a connection before it sent anything readable."""
        if not self.bytes:
            return "ws"
        return "usb" if self.transport == "usb" else "bare"

    def _handle(self, items: list[Any]) -> None:
        for item in items:
            if isinstance(item, Junk):
                self.world.transcript.event(self.name, f"not a request: {item.reason}")
            for action in self.session.receive(item):
                if isinstance(action, Reply):
                    self.send(action.frame, action.style)
                elif isinstance(action, Dispatch):
                    self.terminal.dispatch(self, action.request, action.style)
