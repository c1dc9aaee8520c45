"""The mpos-bridge behaviour: one SimPy process per connection, one per request.

The same code runs everywhere: in virtual mode POS clients arrive through in-memory
message links (``server.accept(end, info)``) and pinpads sit on in-memory byte links;
in realtime mode the WebSocket port calls ``accept`` for each client and the pinpads
sit on ptys. Protocol rules live in the sans-I/O modules (codec, contexts); this module
only orders the work in simulated time and talks to pinpads through
:class:`~protocol_servers.mpos.session.PinpadSession`.

Concurrency follows the shipped bridge (mpos-bridge.md §2.6): requests are read in
order, the sequence rule is applied at arrival, then each request runs on its own;
initialize/process/finish/display/close take the context's lock one at a time, while
list devices and status answer at once (a POS may poll status during a payment).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.mpos.codec import (
    CARD_DECLINED,
    CONTEXT_ERROR,
    DEVICE_IN_USE,
    INIT_TIMEOUT,
    TRANSACTION_FAILED,
    BadRequest,
    ContextStatus,
    PaymentStatus,
    Request,
    RequestType,
    Response,
    ResponseType,
    StatusBody,
    encode_response,
    error_response,
    generic_error,
    parse_request,
    pinpad_error_frame,
)
from protocol_servers.mpos.contexts import Context, ContextTable
from protocol_servers.mpos.devices import DeviceRegistry, SerialDevice
from protocol_servers.mpos.profiles import DOCUMENTED, Profile
from protocol_servers.mpos.session import (
    FinishStatus,
    PinpadError,
    PinpadSession,
    finish_status,
)
from protocol_servers.mpos.tables import AcquirerLink
from simulator.timings import load_timings

if TYPE_CHECKING:
    from simulator.streams import MessageEnd
    from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]
_LOG = logging.getLogger("cardloop.mpos")


class _Connection:
    def __init__(self, server: MposBridgeServer, end: MessageEnd, number: int) -> None:
        self.server = server
        self.end = end
        self.number = number

    def send(self, resp: Response) -> None:
        if not self.end.is_closed:
            self.end.send(encode_response(resp, self.server.profile))


class MposBridgeServer:
    """The reference bridge. ``accept(end, info)`` serves one POS connection."""

    def __init__(
        self,
        world: World,
        devices: DeviceRegistry,
        acquirer: AcquirerLink,
        profile: Profile = DOCUMENTED,
    ) -> None:
        self.world = world
        self.devices = devices
        self.acquirer = acquirer
        self.profile = profile
        self.contexts = ContextTable(sequence_rule=profile.sequence_rule)
        self._numbers = itertools.count(1)
        self.connections: list[_Connection] = []
        self.requests_seen = 0
        self.answers_sent = 0
        self.timings = load_timings("protocol_servers.mpos")
        # when the idle contexts were last looked at; None: not yet (the first request
        # looks, and finds nothing old enough: no context is older than the server)
        self._last_sweep: float | None = None

    # -- transport side ----------------------------------------------------------------
    def accept(self, end: MessageEnd, info: Any = None) -> simpy.Process:
        conn = _Connection(self, end, next(self._numbers))
        self.connections.append(conn)
        self.world.transcript.event(end.name, f"mpos-bridge connection {conn.number} accepted")
        return self.world.process(self._serve(conn))

    def _serve(self, conn: _Connection) -> Gen:
        while True:
            message = yield conn.end.recv()
            if message is None:
                self.world.transcript.event(
                    conn.end.name, f"mpos-bridge connection {conn.number} ended"
                )
                if conn in self.connections:
                    self.connections.remove(conn)
                return
            self.requests_seen += 1
            try:
                self._dispatch(conn, message)
            except Exception as exc:  # noqa: BLE001 - one bad request never ends the bridge
                _LOG.error("mpos-bridge request failed", exc_info=exc)
                self.world.transcript.event(conn.end.name, f"request failed: {exc!r}")
                self._answer(conn, generic_error("UnknownCommand", None))

    def _answer(self, conn: _Connection, resp: Response) -> None:
        self.answers_sent += 1
        conn.send(resp)

    # -- dispatch (at arrival, in order) ---------------------------------------------
    def _dispatch(self, conn: _Connection, message: str | bytes) -> None:
        try:
            req = parse_request(message, self.profile)
        except BadRequest as exc:
            self.world.transcript.event(conn.end.name, f"bad request: {exc.reason}")
            self._answer(conn, generic_error(exc.request_type_name, exc.context_id))
            return
        rtype = req.request_type
        if rtype == RequestType.UnknownCommand:
            self._answer(conn, Response(ResponseType.UnknownCommand, context_id=req.raw_context_id))
            return
        self._expire_idle()
        known = self.contexts.get(req.context_id) is not None
        # any request names (and so creates) its context, as the shipped bridge's static
        # dictionary did (§2.6, and the update lock of §2.7 refuses new ones); a context
        # that never got further than that is forgotten soon (see _expire_idle)
        ctx = self.contexts.get_or_create(req.context_id, self.world.now)
        if ctx is None:
            self._answer(conn, error_response(CONTEXT_ERROR, req.raw_context_id))
            return
        ctx.last_seen = self.world.now
        seq_error = self.contexts.advance(ctx, rtype)
        if seq_error is not None:
            if not known and ctx.status == ContextStatus.Uninitialized:
                self.contexts.remove(ctx.id)  # nothing to remember about a refused stranger
            self._answer(conn, error_response(seq_error, req.raw_context_id))
            return
        if rtype == RequestType.ListDevices:
            self._answer(
                conn,
                Response(
                    ResponseType.DevicesListed,
                    context_id=req.raw_context_id,
                    device_list=self.devices.listing(),
                ),
            )
        elif rtype == RequestType.Status:
            self._answer(conn, self._status(ctx, req))
        elif rtype == RequestType.Initialize:
            self._spawn(conn, req, self._initialize(conn, ctx, req))
        elif rtype == RequestType.Process:
            self._spawn(conn, req, self._process(conn, ctx, req))
        elif rtype == RequestType.Finish:
            self._spawn(conn, req, self._finish(conn, ctx, req))
        elif rtype == RequestType.DisplayMessage:
            self._spawn(conn, req, self._display(conn, ctx, req))
        elif rtype == RequestType.CloseContext:
            self.contexts.remove(ctx.id)
            self._spawn(conn, req, self._close(conn, ctx, req))
        else:
            # an undefined type that got past a disabled sequence rule
            self._answer(conn, generic_error(req.type_name, req.raw_context_id))

    def _expire_idle(self) -> None:
        """Forget contexts idle longer than ``context_idle_expiry``, freeing their devices.

        Checked as requests arrive (no timer process, so a virtual world still runs
        dry), at most once per tenth of the limit. A context whose operation still holds
        its lock is left alone: its own timeouts end it first.
        """
        limit = self.timings["context_idle_expiry"]
        unused = self.timings["context_unused_expiry"]
        now = self.world.now
        if self._last_sweep is not None and now - self._last_sweep < unused / 10:
            return
        self._last_sweep = now
        for ctx in self.contexts.idle(now, unused):
            never_used = (ctx.status == ContextStatus.Uninitialized and ctx.device_id is None
                          and "session" not in ctx.runtime)
            if not never_used and now - ctx.last_seen <= limit:
                continue
            lock = ctx.runtime.get("lock")
            if lock is not None and (lock.count or lock.queue):
                continue
            self.world.transcript.event("mpos-bridge", f"context {ctx.id!r} expired after "
                                        f"{limit:g} s idle")
            self.contexts.remove(ctx.id)
            self._release_device(ctx)
            ctx.status = ContextStatus.Closed

    def _spawn(self, conn: _Connection, req: Request, gen: Gen) -> None:
        self.world.process(self._guard(conn, req, gen))

    def _guard(self, conn: _Connection, req: Request, gen: Gen) -> Gen:
        """Any failure inside an operation is answered with the generic error (§2.7)."""
        try:
            resp = yield from gen
        except Exception as exc:  # noqa: BLE001 - the shipped server caught everything too
            if not isinstance(exc, (PinpadError, LookupError)):
                _LOG.error("mpos-bridge %s failed", req.type_name, exc_info=exc)
            self.world.transcript.event(conn.end.name, f"{req.type_name} failed: {exc}")
            resp = generic_error(req.type_name, req.raw_context_id)
        if resp is not None:
            self._answer(conn, resp)

    # -- per-context lock ----------------------------------------------------------------
    def _lock(self, ctx: Context) -> simpy.Resource:
        lock = ctx.runtime.get("lock")
        if lock is None:
            lock = simpy.Resource(self.world.env, capacity=1)
            ctx.runtime["lock"] = lock
        return lock

    def _locked(self, ctx: Context, body: Gen, request: Request | None = None) -> Gen:
        lock = self._lock(ctx)
        req = lock.request()
        yield req
        release = True
        try:
            if request is not None and ctx.runtime.get("closing"):
                # a close came in while this operation queued: it is answered, not run
                body.close()
                return generic_error(request.type_name, request.raw_context_id)
            result = yield from body
            return result
        except _KeepLocked as keep:
            release = False
            return keep.response
        finally:
            if release:
                lock.release(req)

    # -- operations ---------------------------------------------------------------------
    def _status(self, ctx: Context, req: Request) -> Response:
        return Response(
            ResponseType.Status,
            context_id=req.raw_context_id,
            status=StatusBody(ctx.status, ctx.device_id, len(self.devices.present())),
        )

    def _session(self, ctx: Context) -> PinpadSession:
        session = ctx.runtime.get("session")
        if session is None:
            raise LookupError(f"context {ctx.id!r} has no device; initialize first")
        return session  # type: ignore[no-any-return]

    def _pick_device(self, ctx: Context, device_id: str | None) -> SerialDevice:
        if device_id:
            dev = self.devices.get(device_id)
            if dev is None:
                raise LookupError(f"no device with id {device_id!r}")
            return dev
        if not self.profile.pick_first_device:
            raise LookupError("initialize needs a device_id")
        for dev in self.devices.present():
            if dev.owner is None or dev.owner == ctx.id:
                return dev
        raise LookupError("no free device")

    def _initialize(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        if ctx.status == ContextStatus.Ready:
            # answered before the lock ("Remove lock on already initialized", §2.6)
            return Response(ResponseType.AlreadyInitialized, context_id=req.raw_context_id)
        return (yield from self._locked(ctx, self._initialize_locked(conn, ctx, req), req))

    def _initialize_locked(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        body = req.initialize
        assert body is not None
        if ctx.status == ContextStatus.Ready:
            return Response(ResponseType.AlreadyInitialized, context_id=req.raw_context_id)
        dev = self._pick_device(ctx, body.device_id)
        if self.profile.device_ownership and dev.owner not in (None, ctx.id):
            return error_response(DEVICE_IN_USE.format(context=dev.owner), req.raw_context_id)
        self._release_device(ctx)
        dev.owner = ctx.id
        ctx.device_id = dev.id
        ok = False
        try:
            # a port that cannot be opened fails like a pinpad that does not answer:
            # the finally below frees the device, _guard answers the generic error
            end = dev.opener(body.baud_rate)
            session = PinpadSession(
                self.world, end, on_error=lambda code: self._unsolicited(conn, code)
            )
            ctx.runtime["session"] = session
            opened = self.world.process(_attempt(session.initialize()))
            waits: list[simpy.Event] = [opened]
            if body.timeout_milliseconds > 0:
                waits.append(self.world.timeout(body.timeout_milliseconds / 1000.0))
            yield self.world.any_of(waits)
            if not opened.triggered:
                # closing the port (finally below) ends the open attempt with a link error
                return error_response(INIT_TIMEOUT, req.raw_context_id)
            outcome: tuple[bool, Any] = opened.value  # type: ignore[assignment]
            if not outcome[0]:
                raise outcome[1]
            if not body.simple_initialize:
                yield from session.sync_tables(self.acquirer.terminal_tables(), force=False)
            ctx.status = ContextStatus.Ready
            ok = True
            return Response(ResponseType.Initialized, context_id=req.raw_context_id)
        finally:
            if not ok:
                self._release_device(ctx)

    def _release_device(self, ctx: Context) -> None:
        session = ctx.runtime.pop("session", None)
        if session is not None:
            session.shutdown()
        if ctx.device_id is not None:
            for dev in self.devices.present():
                if dev.id == ctx.device_id and dev.owner == ctx.id:
                    dev.owner = None
        ctx.device_id = None

    def _busy_check(self, ctx: Context, req: Request) -> None:
        """Process/finish need a Ready context ("Another operation is in progress")."""
        if ctx.status != ContextStatus.Ready:
            resp = generic_error(req.type_name, req.raw_context_id)
            if self.profile.busy_error_keeps_lock:
                ctx.stuck = True
                raise _KeepLocked(resp)
            raise _Answer(resp)

    def _process(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        return (yield from self._locked(
            ctx, self._answering(self._process_locked(conn, ctx, req)), req))

    def _answering(self, body: Gen) -> Gen:
        try:
            return (yield from body)
        except _Answer as answer:
            return answer.response

    def _process_locked(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        body = req.process
        assert body is not None
        self._busy_check(ctx, req)
        session = self._session(ctx)
        ctx.status = ContextStatus.InUse
        try:
            outcome = yield from session.process_payment(
                body.amount,
                body.applications,
                body.magstripe_payment_method,
                self.acquirer.terminal_tables(),
                self.acquirer.card_hash_key(),
            )
        finally:
            if ctx.status == ContextStatus.InUse:
                ctx.status = ContextStatus.Ready
        result = outcome.result
        if result.status == PaymentStatus.Accepted:
            return Response(ResponseType.Processed, context_id=req.raw_context_id, process=result)
        return error_response(
            TRANSACTION_FAILED.format(status=result.status.name), req.raw_context_id, process=result
        )

    def _finish(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        return (yield from self._locked(
            ctx, self._answering(self._finish_locked(conn, ctx, req)), req))

    def _finish_locked(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        body = req.finish
        assert body is not None
        self._busy_check(ctx, req)
        session = self._session(ctx)
        ctx.status = ContextStatus.InUse
        status: FinishStatus = finish_status(body.success, body.response_code)
        try:
            declined = yield from session.finish(status, body.response_code, body.emv_data or "")
        finally:
            if ctx.status == ContextStatus.InUse:
                ctx.status = ContextStatus.Ready
        if declined:
            self.world.transcript.event(
                conn.end.name, f"context {ctx.id}: the card declined at FNC after the host approved"
            )
            if self.profile.report_card_decline:
                # The answer to finish itself, in the shape process uses for a payment that
                # did not go through (type 9, "Transaction ..."), rather than the unsolicited
                # "Error: <code>" frame: that frame has a null context_id (a POS running
                # several contexts could not tell which sale it is about) and carries an
                # ABECS status, while FNC itself answered 000 with DECISION 1. The POS must
                # then undo the sale with its backend (Pagar.me's 2019 example refunded it;
                # here POST /1/transactions/<id>/reversal on the merchant API), because the
                # bridge never learns which API transaction the card_hash became.
                return error_response(CARD_DECLINED, req.raw_context_id)
        return Response(ResponseType.Finished, context_id=req.raw_context_id)

    def _display(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        def body() -> Gen:
            session = self._session(ctx)
            yield from session.display(req.display_message or "")
            return Response(ResponseType.MessageDisplayed, context_id=req.raw_context_id)

        return (yield from self._locked(ctx, body(), req))

    def _close(self, conn: _Connection, ctx: Context, req: Request) -> Gen:
        """Close: cancel what runs, CLO ignoring errors, free the port; always type 8."""
        ctx.runtime["closing"] = True
        lock = self._lock(ctx)
        lreq = None
        if not ctx.stuck:
            # Operations queued for the lock give way (see _locked); the one holding it is
            # aborted with CAN, again every EOT wait while it still holds the lock (it may
            # have been between commands when the first CAN went out), so close is always
            # answered and always frees the device, whatever order requests came in.
            lreq = lock.request()
            while not lreq.triggered:
                session: PinpadSession | None = ctx.runtime.get("session")
                if session is not None and lock.count:
                    yield from session.abort()
                if not lreq.triggered:
                    yield self.world.any_of([lreq, self.world.timeout(self.timings["close_retry"])])
        try:
            closing: PinpadSession | None = ctx.runtime.get("session")
            if closing is not None:
                try:
                    yield from closing.close()
                except PinpadError:
                    pass
            self._release_device(ctx)
            ctx.status = ContextStatus.Closed
        finally:
            if lreq is not None:
                lock.release(lreq)
        return Response(ResponseType.ContextClosed, context_id=req.raw_context_id)

    def _unsolicited(self, conn: _Connection, code: int) -> None:
        """The SDK's ``Errored`` event: its own frame, context_id null (§2.7)."""
        conn.send(pinpad_error_frame(code))

    # -- views for tests and invariants ----------------------------------------------------
    def context_states(self) -> dict[str, ContextStatus]:
        return {ctx.id: ctx.status for ctx in self.contexts}


def _attempt(gen: Gen) -> Gen:
    """Run ``gen`` as a process that never fails: (True, value) or (False, exception)."""
    try:
        return True, (yield from gen)
    except Exception as exc:  # noqa: BLE001 - handed back to the waiting operation
        return False, exc


class _Answer(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class _KeepLocked(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response
