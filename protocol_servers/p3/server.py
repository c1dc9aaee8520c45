"""The PayServer: devices, connections and the dispatch of P3 requests.

One behaviour for both transports. A transport hands the server an end:

* :meth:`PayServer.accept` takes a :class:`~simulator.streams.MessageEnd` whose messages
  are whole P3 messages (a WebSocket connection, or an in-memory link in virtual mode);
* :meth:`PayServer.accept_stream` takes a :class:`~simulator.streams.ByteEnd` carrying
  the framed TCP byte stream and cuts it with :class:`~tcpframes.FrameDecoder`.

Both end in :meth:`Connection.handle`, so a flow behaves the same whichever way its bytes
came. Each EXECUTE_TRANSACTION_REQUEST becomes a :class:`~flows.Flow` process; at most one
runs per device (payworks-p3.md §2.4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from protocol_servers.p3 import envelope, params, tcpframes
from protocol_servers.p3.config import DeviceConfig, ServerConfig
from protocol_servers.p3.errors import P3Error
from protocol_servers.p3.flows import Flow
from protocol_servers.p3.gateway import MockGateway
from protocol_servers.p3.outcomes import OutcomeRules
from protocol_servers.p3.receipts import Merchant
from protocol_servers.p3.transaction import SUBMIT_TYPES, Transaction
from simulator.streams import ByteEnd, MessageEnd
from simulator.timings import Timings, load_timings
from simulator.world import World

_LOG = logging.getLogger("cardloop.p3")
LOGIN_MISSING = "Merchant login missing"


@dataclass
class Device:
    config: DeviceConfig
    current: Flow | None = None
    # None: the PayServer's own MOCK reader; else the ABECS reader behind a serial line
    reader: Any = None


@dataclass
class Connection:
    """One POS connection: its login and the transactions it started."""

    server: PayServer
    transport: str
    send_text: Callable[[str], None]
    close: Callable[[], None]
    merchant: str | None = None
    flows: list[Flow] = field(default_factory=list)
    alive: bool = True
    answered: int = 0

    def send(self, message: dict[str, Any]) -> None:
        if self.alive:
            self.send_text(envelope.encode(message))

    def gone(self) -> None:
        """The POS went away: every unfinished transaction it started loses its owner."""
        if not self.alive:
            return
        self.alive = False
        for flow in self.flows:
            if not flow.tx.is_final:
                flow.lose_owner()
        self.flows.clear()

    @property
    def logged_in(self) -> bool:
        return self.merchant is not None or (
            self.server.config.global_login and self.server.global_merchant is not None)

    def handle(self, raw: str | bytes) -> None:
        """Answer one message. Whatever goes wrong in here ends this request only: an
        unexpected exception is logged with its traceback and answered with P3's error
        shape, and the connection and the world go on."""
        self._req: envelope.Request | envelope.BadRequest | None = None
        try:
            self._handle(raw)
        except Exception as exc:  # noqa: BLE001 - one request's bug is not the server's
            _LOG.error("P3 request failed on a %s connection", self.transport, exc_info=exc)
            self.server.world.transcript.event("payserver", f"request failed: {exc!r}")
            req = self._req
            self.send(envelope.error_response(
                req.response_type if req is not None else envelope.UNPARSEABLE_RESPONSE,
                req.tag if req is not None else "", req.resource if req is not None else None,
                P3Error("INTERNAL_INCONSISTENCY", "the request could not be processed")))

    def _handle(self, raw: str | bytes) -> None:
        req = self._req = envelope.decode(raw)
        if isinstance(req, envelope.BadRequest):
            self.send(envelope.bad_request_response(req))
            return
        try:
            if req.type == "LOGIN_MERCHANT_REQUEST":
                self._login(req)
            elif req.type == "EXECUTE_TRANSACTION_REQUEST":
                self._execute(req)
            elif req.type == "ABORT_TRANSACTION_REQUEST":
                self._abort(req)
            elif req.type in SUBMIT_TYPES:
                self._submit(req)
            else:  # every schema'd type is handled above
                raise P3Error("INTERNAL_INCONSISTENCY", f"no handler for {req.type}")
        except P3Error as err:
            self.send(envelope.error_response(req.response_type, req.tag, req.resource, err))

    # -- requests -----------------------------------------------------------------------
    def _login(self, req: envelope.Request) -> None:
        body = req.payload
        mode = body["providerMode"]
        ident, secret = body["merchantIdentifier"], body["merchantSecret"]
        known = self.server.config.merchants
        if mode != "MOCK" and known and known.get(ident) != secret:
            raise P3Error("SERVER_AUTHENTICATION_FAILED",
                          "merchantIdentifier/merchantSecret do not match the configuration")
        self.merchant = ident
        self.server.global_merchant = ident
        self.send(envelope.ok_response(req.response_type, req.tag, req.resource, {
            "information": {"location": self.server.config.location},
            "devices": [d.config.describe() for d in self.server.devices.values()],
        }))

    def _device(self, req: envelope.Request) -> Device:
        if not self.logged_in:
            # Not an authentication failure: nobody offered credentials yet. The SDK has
            # no type for it (payworks-p3.md §9), so PARAMETER_MISSING, whose text says
            # what is missing (DECISIONS.md, "Payworks PayServer P3").
            where = ("on this connection" if not self.server.config.global_login
                     else "on any connection")
            raise P3Error("PARAMETER_MISSING",
                          f"no merchant is logged in: send LOGIN_MERCHANT_REQUEST {where} "
                          "before this request", message=LOGIN_MISSING)
        if req.resource in envelope.SERVER_RESOURCES:
            raise P3Error("PARAMETER_MISSING", "resource must name a device (devices/<id>)")
        device = self.server.device_for(req.resource or "")
        if device is None:
            raise P3Error("ACCESSORY_NOT_FOUND", f"no device at resource {req.resource}")
        return device

    def _execute(self, req: envelope.Request) -> None:
        device = self._device(req)
        if device.current is not None:
            raise P3Error("ACCESSORY_BUSY",
                          f"{device.config.resource} is running transaction "
                          f"{device.current.tx.identifier}")
        if device.config.type != "MOCK" and device.reader is None:
            raise P3Error("ACCESSORY_NOT_CONNECTED",
                          f"the reader of {device.config.resource} is not open "
                          "(a real serial port needs a realtime server)")
        p = params.parse(req.payload)
        if p.mode != "ONLINE":
            raise P3Error("SDK_FEATURE_NOT_ENABLED", "OFFLINE mode is not enabled on this server")
        original = self.server.check_reference(p)
        tx = Transaction(self.server.new_identifier(), p, device.config.resource, req.tag,
                         self.server.world.now)
        behaviour = None
        if p.amount is not None and p.currency is not None and original is None:
            behaviour = self.server.rules.behaviour(p.amount, p.currency)
        flow = Flow(self.server, device, tx, self.send, behaviour, original)
        device.current = flow
        self.flows.append(flow)
        self.server.transactions[tx.identifier] = tx
        self.server.world.process(flow.run())

    def _abort(self, req: envelope.Request) -> None:
        device = self._device(req)
        flow = device.current
        if flow is None:
            raise P3Error("TRANSACTION_INVALID",
                          f"no transaction is running on {device.config.resource}")
        err = flow.tx.request_abort()
        if err is not None:
            raise err
        self.send(envelope.ok_response(req.response_type, req.tag, req.resource,
                                       {"transaction": flow.tx.brief()}))
        flow.abort()

    def _submit(self, req: envelope.Request) -> None:
        device = self._device(req)
        flow = device.current
        if flow is None:
            raise P3Error("TRANSACTION_ACTION_ERROR",
                          f"no transaction is running on {device.config.resource}")
        body = req.payload
        err = flow.tx.answer(req.type, body)
        if err is not None:
            raise err
        self.send(envelope.ok_response(req.response_type, req.tag, req.resource,
                                       {"transaction": flow.tx.brief()}))
        flow.answered(body)


class PayServer:
    """The reference PayServer inside one world."""

    def __init__(
        self,
        world: World,
        config: ServerConfig | None = None,
        rules: OutcomeRules | None = None,
        timings: Timings | None = None,
        merchant: Merchant | None = None,
        epoch: datetime | None = None,
        acquirer: Any = None,
    ) -> None:
        self.world = world
        self.config = config or ServerConfig()
        self.rules = rules or OutcomeRules.default()
        # switched off only to show that the conformance suite notices (``+no-refund-limit``)
        self.refund_limit = True
        self.timings = timings or load_timings("protocol_servers.p3")
        self.merchant = merchant or Merchant()
        self.epoch = epoch or datetime(2026, 1, 1, tzinfo=UTC)
        self.gateway = MockGateway(world.rng("payserver.gateway"))
        self.devices = {d.identifier: Device(d) for d in self.config.devices}
        self._acquirer: Any = acquirer
        if world.mode == "virtual":
            # realtime readers need the asyncio loop: live.attach_readers() opens them
            from protocol_servers.p3.abecs_reader import virtual_reader

            for dev in self.devices.values():
                if dev.config.type != "MOCK" and dev.config.serial_port is None:
                    dev.reader = virtual_reader(world, dev.config.identifier, self.acquirer,
                                                dev.config.cards, dev.config.customer)
        self.transactions: dict[str, Transaction] = {}
        self.global_merchant: str | None = None
        # what the line to the acquirer does to ABECS readers' authorisations (the
        # catalogue's backend.* faults; healthy unless a case or the control API sets it)
        from virtual_devices.acquirer.link import HostFault

        self.host_fault = HostFault()

    @property
    def acquirer(self) -> Any:
        """The shared acquirer host that ABECS readers' charges go to (made on first use)."""
        if self._acquirer is None:
            from protocol_servers.p3.outcomes import acquirer_rules
            from virtual_devices.acquirer.host import AcquirerHost

            self._acquirer = AcquirerHost(acquirer_rules(self.rules))
        return self._acquirer

    def bookings(self) -> list[tuple[str, int]]:
        """Money moved per transaction identifier, signed minor units, both routes: the
        MOCK gateway's ledger and, for ABECS readers, the shared acquirer's entries."""
        out = list(self.gateway.ledger.bookings())
        if self._acquirer is None:
            return out
        ledger = self._acquirer.ledger
        for tx in self.transactions.values():
            entry = ledger.get(tx.acquirer_ref) if tx.acquirer_ref else None
            if entry is None or not entry.approved or entry.reversed:
                continue
            if entry.kind == "refund":
                out.append((tx.identifier, -entry.amount))
            elif entry.kind == "sale":
                out.append((tx.identifier, entry.amount))
            elif entry.kind == "preauth" and entry.captured:
                out.append((tx.identifier, entry.captured))
        return out

    def ledger_problems(self) -> list[str]:
        """Why either ledger (MOCK gateway, shared acquirer) does not balance."""
        out = self.gateway.ledger.problems()
        if self._acquirer is not None:
            out += list(self._acquirer.ledger.problems())
        return out

    def close(self) -> None:
        for dev in self.devices.values():
            if dev.reader is not None:
                dev.reader.close()

    # -- lookups --------------------------------------------------------------------------
    def device_for(self, resource: str) -> Device | None:
        prefix = "devices/"
        name = resource.strip("/")
        if not name.startswith(prefix):
            return None
        return self.devices.get(name[len(prefix):])

    def new_identifier(self) -> str:
        return f"{self.world.rng('payserver.identifiers').getrandbits(128):032x}"

    def record(self, tx: Transaction) -> None:
        self.transactions[tx.identifier] = tx

    def check_reference(self, p: params.Params) -> Transaction | None:
        """Validate a referenced REFUND/CAPTURE/TIP_ADJUST and fill in defaults."""
        if p.reference is None:
            if p.type == "REFUND" and not self.config.allow_standalone_refund:
                raise P3Error("TRANSACTION_INVALID",
                              "standalone refunds are disabled; reference the charge")
            return None
        orig = self.transactions.get(p.reference)
        if orig is None:
            raise P3Error("TRANSACTION_REFERENCE_NOT_FOUND", f"no transaction {p.reference}")
        op = orig.params
        if op.type != "CHARGE" or orig.status != "APPROVED" or orig.reversed:
            raise P3Error("TRANSACTION_INVALID",
                          f"{p.reference} is a {op.type} with status {orig.status}")
        if p.currency is None:
            p.currency = op.currency
        if p.currency != op.currency:
            raise P3Error("PARAMETER_INVALID", f"currency must be {op.currency} as in the charge")
        assert op.amount is not None
        if p.type == "REFUND":
            if not orig.captured:
                raise P3Error("TRANSACTION_INVALID", "an uncaptured charge is not refundable; "
                              "it can only be captured")
            left = op.amount - orig.refunded
            p.amount = left if p.amount is None else p.amount
            if (p.amount > left or left <= 0) and self.refund_limit:
                raise P3Error("PARAMETER_INVALID",
                              f"refund amount exceeds the {left} minor units left to refund")
        elif p.type == "CAPTURE":
            if orig.captured:
                raise P3Error("TRANSACTION_INVALID", f"{p.reference} is already captured")
            p.amount = op.amount if p.amount is None else p.amount
            if p.amount > op.amount:
                raise P3Error("PARAMETER_INVALID", "capture amount exceeds the authorised amount")
        return orig

    # -- transports -------------------------------------------------------------------------
    def accept(self, end: MessageEnd, info: Any = None, transport: str = "ws",
               binary: bool = False) -> Connection:
        """Serve one message-carrying connection (WebSocket or a framed-TCP message end)."""
        def send(text: str) -> None:
            if not end.is_closed:
                end.send(text.encode("utf-8") if binary else text)

        conn = Connection(self, transport, send, end.close)
        self.world.process(self._serve_messages(conn, end))
        return conn

    def _serve_messages(self, conn: Connection, end: MessageEnd):  # type: ignore[no-untyped-def]
        while True:
            msg = yield end.recv()
            if msg is None:
                conn.gone()
                return
            if isinstance(msg, (str, bytes)):
                conn.handle(msg)
            else:  # a framing problem reported by a framed port
                conn.send(envelope.error_response(
                    envelope.UNPARSEABLE_RESPONSE, "", None,
                    P3Error("PARAMETER_INVALID", str(msg))))

    def accept_stream(self, end: ByteEnd, info: Any = None) -> Connection:
        """Serve one framed-TCP byte stream (payworks-p3.md §2.2)."""
        def send(text: str) -> None:
            if not end.is_closed:
                end.write(tcpframes.encode(text.encode("utf-8")))

        conn = Connection(self, "tcp", send, end.close)
        self.world.process(self._serve_stream(conn, end))
        return conn

    def _serve_stream(self, conn: Connection, end: ByteEnd):  # type: ignore[no-untyped-def]
        decoder = tcpframes.FrameDecoder(self.config.max_frame_bytes)
        limit = self.timings["tcp_frame_timeout"]
        while True:
            read = end.read()
            if decoder.partial:
                timer = self.world.timeout(limit)
                yield self.world.any_of([read, timer])
                if not read.triggered:
                    self._fatal(conn, end, f"frame incomplete after {limit:g} s: the length "
                                "prefix promised more bytes than arrived")
                    return
            else:
                yield read
            data = read.value
            if not data:
                conn.gone()
                return
            for item in decoder.feed(data):
                if isinstance(item, tcpframes.FrameError):
                    self._fatal(conn, end, item.reason)
                    return
                conn.handle(item)

    def _fatal(self, conn: Connection, end: ByteEnd, reason: str) -> None:
        conn.send(envelope.error_response(envelope.UNPARSEABLE_RESPONSE, "", None,
                                          P3Error("PARAMETER_INVALID", reason)))
        conn.gone()
        end.close()
