"""A sans-I/O JSON-RPC 2.0 endpoint for a two-way connection.

Connect is JSON-RPC 2.0 in both directions over one WebSocket (paymentsense-connect.md
§3): the EPoS sends requests and the server answers them, and the server also sends
requests of its own (``signatureVerificationRequest``, the Pay-At-Table table requests)
and matches the EPoS's answers by id. The maintained Python JSON-RPC libraries are
either one-way dispatchers or bound to an HTTP or asyncio transport, so this module is
a small codec in the manner of h11: :meth:`Endpoint.receive` takes one text message and
returns events; everything the endpoint wants to send is queued and drained with
:meth:`Endpoint.data_to_send`. No sockets, no clock.

What the specification (jsonrpc.org/specification) asks and this codec does:

* a message that is not JSON gets ``-32700`` with ``id: null``;
* a message that is JSON but not a request, notification or response gets ``-32600``,
  with the request's id when one can be read, else ``null``;
* a batch (an array) is answered with one array holding the answers to its requests,
  sent once every request of the batch is answered; an empty array is one ``-32600``;
  a batch of notifications only is answered with nothing;
* notifications are never answered, not even with an error;
* answers to our own requests (results or errors) are matched to what we sent by id.

A protocol may narrow what an id may be (Connect: an integer 0…999999) with
``id_rule``; the codec's default is the specification's (string, number or null).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.textsafe import MAX_JSON_DEPTH, escape_surrogates, json_too_deep

VERSION = "2.0"

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
}

_NO_ID = object()  # the member is absent (a notification), as opposed to "id": null
IdRule = Callable[[Any], "str | None"]


def spec_id_rule(value: Any) -> str | None:
    """JSON-RPC 2.0 §4: an id is a String, a Number or Null (fractions discouraged)."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None
    return "id must be a string, a number or null"


@dataclass(frozen=True)
class RpcError(Exception):
    """An error object: raise it from a handler, or send it with :meth:`Endpoint.error`."""

    code: int
    message: str = ""
    data: Any = None

    def __post_init__(self) -> None:
        if not self.message:
            object.__setattr__(self, "message", MESSAGES.get(self.code, "Server error"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


# -- events -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """The peer asks; answer with :meth:`Endpoint.result` or :meth:`Endpoint.error`."""

    id: Any
    method: str
    params: Any  # dict, list, or None when absent
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    batch: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Notification:
    method: str
    params: Any
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class Response:
    """The peer answered one of our requests (``error`` is None on success)."""

    id: Any
    result: Any = None
    error: RpcError | None = None
    method: str = ""  # the method of our request it answers


@dataclass(frozen=True)
class UnexpectedResponse:
    """A result or error whose id matches nothing we asked (logged, never answered)."""

    id: Any
    raw: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """Input the endpoint has already answered with an error (``error``)."""

    id: Any
    error: RpcError
    raw: Any = None


Event = Request | Notification | Response | UnexpectedResponse | Rejected


def dumps(obj: Any) -> str:
    """Compact JSON text that always encodes as UTF-8: a lone surrogate a peer sent (and an
    error echoes back) goes out as its ``\\udXXX`` escape, never as a send that raises."""
    return escape_surrogates(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


class _Batch:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.answers: list[dict[str, Any]] = []


class Endpoint:
    """One side of a JSON-RPC 2.0 connection (either side may ask and answer)."""

    def __init__(self, id_rule: IdRule = spec_id_rule, max_id: int | None = None) -> None:
        self.id_rule = id_rule
        self.max_id = max_id  # outgoing ids wrap after it (Connect: 999999)
        self._out: list[str] = []
        self._pending: dict[Any, str] = {}  # our request id -> method
        self._next_id = 1
        self._batches: dict[int, _Batch] = {}
        self._batch_seq = 0
        self._open: dict[int, int | None] = {}  # id(Request) -> batch number, to answer once

    # -- receiving --------------------------------------------------------------------
    def receive(self, text: str | bytes) -> list[Event]:
        """One WebSocket message in; the events it carries out (errors already queued)."""
        if json_too_deep(text):
            # ten thousand nested arrays take the parser to the recursion limit and the
            # message would die unanswered: refuse it as unreadable, before parsing
            err = RpcError(PARSE_ERROR, data={
                "userMessage": f"JSON nested deeper than {MAX_JSON_DEPTH} levels"})
            self._queue({"jsonrpc": VERSION, "id": None, "error": err.to_json()})
            return [Rejected(None, err, None)]
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError):
            err = RpcError(PARSE_ERROR)
            self._queue({"jsonrpc": VERSION, "id": None, "error": err.to_json()})
            return [Rejected(None, err, text)]
        if isinstance(doc, list):
            return self._receive_batch(doc)
        event, answer = self._one(doc, None)
        if answer is not None:
            self._queue(answer)
        return [event] if event is not None else []

    def _receive_batch(self, items: list[Any]) -> list[Event]:
        if not items:
            err = RpcError(INVALID_REQUEST, data={"userMessage": "an empty batch asks nothing"})
            self._queue({"jsonrpc": VERSION, "id": None, "error": err.to_json()})
            return [Rejected(None, err, items)]
        self._batch_seq += 1
        number = self._batch_seq
        batch = _Batch(0)
        self._batches[number] = batch
        events: list[Event] = []
        for item in items:
            event, answer = self._one(item, number)
            if answer is not None:
                batch.answers.append(answer)
            if isinstance(event, Request):
                batch.expected += 1
            if event is not None:
                events.append(event)
        self._flush_batch(number)
        return events

    def _one(self, doc: Any, batch: int | None) -> tuple[Event | None, dict[str, Any] | None]:
        """Classify one object; the error answer to send for it, if any."""
        if not isinstance(doc, dict):
            return self._reject(None, "a message must be a JSON object", doc)
        if "method" not in doc and ("result" in doc or "error" in doc):
            return self._response(doc), None
        rid = doc.get("id", _NO_ID)
        answer_id = None if rid is _NO_ID else rid
        if answer_id is not None and self.id_rule(answer_id) is not None:
            answer_id = None  # an id we refuse cannot be echoed back
        if doc.get("jsonrpc") != VERSION:
            return self._reject(answer_id, 'member "jsonrpc" must be exactly "2.0"', doc)
        method = doc.get("method")
        if not isinstance(method, str):
            return self._reject(answer_id, 'member "method" must be a string', doc)
        if rid is not _NO_ID:
            why = self.id_rule(rid)
            if why is not None:
                return self._reject(None, why, doc)
        params = doc.get("params")
        if "params" in doc and not isinstance(params, dict | list):
            return self._reject(answer_id, 'member "params" must be an object or an array', doc)
        if rid is _NO_ID:
            return Notification(method, params, doc), None
        req = Request(rid, method, params, doc, batch)
        self._open[id(req)] = batch
        return req, None

    def _reject(self, rid: Any, why: str, raw: Any) -> tuple[Event, dict[str, Any]]:
        err = RpcError(INVALID_REQUEST, data={"userMessage": why})
        return Rejected(rid, err, raw), {"jsonrpc": VERSION, "id": rid, "error": err.to_json()}

    def _response(self, doc: dict[str, Any]) -> Event:
        rid = doc.get("id")
        method = self._pending.pop(rid, None) if _hashable(rid) else None
        if method is None or doc.get("jsonrpc") != VERSION:
            if method is not None:
                self._pending[rid] = method  # not a valid answer: still waiting
            return UnexpectedResponse(rid, doc)
        error = doc.get("error")
        if error is not None:
            if isinstance(error, dict) and isinstance(error.get("code"), int):
                return Response(rid, None, RpcError(error["code"], str(error.get("message", "")),
                                                    error.get("data")), method)
            return Response(rid, None, RpcError(INVALID_REQUEST, "malformed error object",
                                                error), method)
        return Response(rid, doc.get("result"), None, method)

    # -- answering --------------------------------------------------------------------
    def result(self, request: Request, value: Any) -> None:
        self._answer(request, {"jsonrpc": VERSION, "id": request.id, "result": value})

    def error(self, request: Request, error: RpcError) -> None:
        self._answer(request, {"jsonrpc": VERSION, "id": request.id, "error": error.to_json()})

    def answered(self, request: Request) -> bool:
        return id(request) not in self._open

    def _answer(self, request: Request, message: dict[str, Any]) -> None:
        key = id(request)
        if key not in self._open:
            raise RuntimeError(f"request {request.id!r} was already answered")
        batch = self._open.pop(key)
        if batch is None:
            self._queue(message)
            return
        self._batches[batch].answers.append(message)
        self._batches[batch].expected -= 1
        self._flush_batch(batch)

    def _flush_batch(self, number: int) -> None:
        batch = self._batches[number]
        if batch.expected > 0:
            return
        del self._batches[number]
        if batch.answers:
            self._out.append(dumps(batch.answers))

    # -- asking -----------------------------------------------------------------------
    def request(self, method: str, params: Any = None) -> Any:
        """Queue a request of ours; returns its id (answers come back as Response)."""
        rid = self._take_id()
        self._pending[rid] = method
        msg: dict[str, Any] = {"jsonrpc": VERSION, "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self._queue(msg)
        return rid

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": VERSION, "method": method}
        if params is not None:
            msg["params"] = params
        self._queue(msg)

    def forget(self, rid: Any) -> None:
        """Stop waiting for an answer (a timeout): a late answer becomes unexpected."""
        self._pending.pop(rid, None)

    @property
    def pending(self) -> dict[Any, str]:
        return dict(self._pending)

    def _take_id(self) -> int:
        for _ in range(2 + len(self._pending)):
            rid = self._next_id
            self._next_id += 1
            if self.max_id is not None and self._next_id > self.max_id:
                self._next_id = 0
            if rid not in self._pending:
                return rid
        raise RuntimeError("every request id is in use")

    # -- output -----------------------------------------------------------------------
    def _queue(self, message: dict[str, Any]) -> None:
        self._out.append(dumps(message))

    def data_to_send(self) -> list[str]:
        out, self._out = self._out, []
        return out


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float) or value is None
