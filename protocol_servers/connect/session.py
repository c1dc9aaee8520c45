"""One EPoS socket: the JSON-RPC endpoint, the reading loop, requests of ours.

A session reads messages from its end, feeds them to the sans-I/O endpoint and hands
requests to the routed handler; whatever the endpoint queues is sent at once. A handler
that fails unexpectedly answers -32603 and the session goes on (§6): one bad message
never ends a connection, and a closed connection never ends a transaction (the terminal
finishes it; the EPoS may ask for a ``duplicate``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.connect import errors
from protocol_servers.connect import jsonrpc as rpc
from protocol_servers.connect.routing import LATER, route

if TYPE_CHECKING:
    from protocol_servers.connect.handshake import Accepted
    from protocol_servers.connect.server import ConnectServer
    from simulator.streams import MessageEnd

Gen = Generator[simpy.Event, Any, Any]
MAX_ID = 999999
TOP_LEVEL = {"request": {"jsonrpc", "id", "method", "params"},
             "notification": {"jsonrpc", "method", "params"}}


def connect_id(value: Any) -> str | None:
    """§3: ids are integers 0…999999 (the schemas allow no strings)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID:
        return None
    return "id must be an integer from 0 to 999999"


RPC_PING = "ping"


class Session:
    def __init__(self, server: ConnectServer, end: MessageEnd, accepted: Accepted) -> None:
        self.server = server
        self.world = server.world
        self.end = end
        self.accepted = accepted
        self.version = accepted.version
        self.integration = accepted.integration
        self.endpoint = rpc.Endpoint(id_rule=connect_id, max_id=MAX_ID)
        self._answers: dict[Any, simpy.Event] = {}
        self._asked: dict[Any, str] = {}  # our request ids -> method, for the grades
        self.conduct = server.conduct
        self.process = self.world.process(self._read())
        if server.config.rpc_ping:
            self.world.process(self._rpc_ping())

    @property
    def open(self) -> bool:
        return not self.end.is_closed

    # -- sending ----------------------------------------------------------------------
    def flush(self) -> None:
        for text in self.endpoint.data_to_send():
            if self.open:
                self.end.send(text)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        if self.open:
            self.endpoint.notify(method, params)
            self.flush()

    def terminal_notification(self, tid: str, value: str) -> None:
        key = "tid" if self.version == "v1" else "tpi"
        self.notify("terminalNotification", {key: tid, "notificationValue": value})

    def ask(self, method: str, params: dict[str, Any]) -> tuple[Any, simpy.Event]:
        """Send a request of ours; the event fires with the Response (None if closed)."""
        event = self.world.event()
        if not self.open:
            event.succeed(None)
            return None, event
        rid = self.endpoint.request(method, params)
        self._answers[rid] = event
        self._asked[rid] = method
        self.conduct.asked(method)
        self.flush()
        return rid, event

    def forget(self, rid: Any) -> None:
        """Stop waiting for the answer to ``rid``: it did not come in time."""
        self.endpoint.forget(rid)
        self._answers.pop(rid, None)
        method = self._asked.pop(rid, None)
        if method is not None:
            self.conduct.unanswered(method, rid)

    def answer(self, request: rpc.Request, result: Any) -> None:
        if not self.endpoint.answered(request):
            self.endpoint.result(request, result)
            self.flush()

    def fail(self, request: rpc.Request, error: rpc.RpcError) -> None:
        if not self.endpoint.answered(request):
            self.endpoint.error(request, error)
            self.flush()

    # -- receiving --------------------------------------------------------------------
    def _read(self) -> Gen:
        while True:
            message = yield self.end.recv()
            if message is None:
                break
            self.conduct.received()
            try:
                events = self.endpoint.receive(message)
            except Exception:  # never expected: the codec classifies everything
                events = []
            for event in events:
                self._handle(event)
            self.flush()
        for waiter in self._answers.values():
            if not waiter.triggered:
                waiter.succeed(None)
        self._answers.clear()
        self.server.detach(self)

    def _handle(self, event: rpc.Event) -> None:
        if isinstance(event, rpc.Response):
            self._asked.pop(event.id, None)
            self.conduct.answered(event)
            waiter = self._answers.pop(event.id, None)
            if waiter is not None and not waiter.triggered:
                waiter.succeed(event)
            return
        if isinstance(event, rpc.UnexpectedResponse):
            self.world.transcript.event(self.end.name,
                                        f"answer to nothing we asked: id {event.id!r}")
            self.conduct.unexpected(event.id)
            return
        if isinstance(event, rpc.Rejected):
            self.conduct.refused(None, event.error)
            return  # rejections are already answered
        if isinstance(event, rpc.Notification):
            return  # notifications are never answered
        extra = set(event.raw) - TOP_LEVEL["request"]
        if extra:
            self._refuse(event, errors.error(
                rpc.INVALID_REQUEST, f"unknown member(s) {sorted(extra)} (§3: no extra members)"))
            return
        found = route(self.integration, self.version, event.method)
        if found is None:
            where = f"/{self.integration} {self.version}"
            self._refuse(event, errors.error(
                rpc.METHOD_NOT_FOUND, f"no method {event.method!r} on {where}"))
            return
        params = event.params
        if params is None:
            params = {}
        if not isinstance(params, dict):
            self._refuse(event, errors.bad_params("params must be an object"))
            return
        if found.allowed is not None:
            unknown = set(params) - found.allowed
            if unknown:
                self._refuse(event, errors.bad_params(
                    f"unknown parameter(s) {sorted(unknown)} for {event.method}"))
                return
        self._grade_request(event.method, params)
        try:
            result = found.handler(self, event)
        except rpc.RpcError as exc:
            self._refuse(event, exc)
            return
        except Exception as exc:  # a bug of ours ends this request only
            self.world.transcript.event(self.end.name, f"internal error: {type(exc).__name__}")
            self.endpoint.error(event, errors.error(rpc.INTERNAL_ERROR,
                                                    "internal error; please try again"))
            return
        if result is not LATER:
            self.endpoint.result(event, result)

    def _refuse(self, request: rpc.Request, error: rpc.RpcError) -> None:
        self.conduct.refused(request.method, error)
        self.endpoint.error(request, error)

    def _grade_request(self, method: str, params: dict[str, Any]) -> None:
        tid = params.get("tid" if self.version == "v1" else "tpi")
        term = self.server.terminals.get(tid) if isinstance(tid, str) else None
        self.conduct.request(method, None if term is None else term.tid,
                             term is not None and term.busy_with is not None)

    def _rpc_ping(self) -> Gen:
        """The JSON-RPC keep-alive (§2.3 leaves its shape open; the method name ``ping``
        with empty params is ours). Any answer, a result or an error, shows the EPoS is
        alive: one that does not know the method still answers -32601. No answer within
        pong_timeout closes the socket with 1011, as a missed RFC 6455 pong does."""
        t = self.server.timings
        while True:
            yield self.world.timeout(t["ping_interval"])
            if not self.open:
                return
            rid = self.endpoint.request(RPC_PING, {})
            answer = self.world.event()
            self._answers[rid] = answer
            self.flush()
            yield self.world.any_of([answer, self.world.timeout(t["pong_timeout"])])
            if not self.open:
                return
            if not answer.triggered:
                self.endpoint.forget(rid)
                self._answers.pop(rid, None)
                self.world.transcript.event(self.end.name, "no answer to the JSON-RPC ping")
                self.close(1011, "no answer to ping")
                return

    def close(self, code: int, reason: str) -> None:
        """Close the socket; a real WebSocket end sends ``code`` and ``reason``."""
        from simulator.ports.ws import WsEnd

        if isinstance(self.end, WsEnd):
            self.end.close(code, reason)
        else:
            self.end.close()
