"""The P3 envelope codec: wire text in, :class:`Request` or :class:`BadRequest` out.

Sans-I/O: nothing here reads a socket. Every message is one JSON object with ``type``,
``tag`` and ``resource``; the payload sits under the lowerCamelCase name of the type
(payworks-p3.md §3). Requests are checked against the JSON schemas in ``schemas/``;
anything that fails becomes a :class:`BadRequest` that already knows the response type
and tag to answer with, so a bad message is always answered, never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema

from protocol_servers.p3 import jsonwire
from protocol_servers.p3.errors import P3Error
from simulator.textsafe import has_surrogates

REQUEST_TYPES = (
    "LOGIN_MERCHANT_REQUEST",
    "EXECUTE_TRANSACTION_REQUEST",
    "ABORT_TRANSACTION_REQUEST",
    "SUBMIT_SIGNATURE_REQUEST",
    "SUBMIT_APPLICATION_SELECTION_REQUEST",
    "SUBMIT_IDENTIFICATION_REQUEST",
    "SUBMIT_CREDIT_DEBIT_SELECTION_REQUEST",
)
# payworks-p3.md §4.2: the abort message's name is not in the stored docs; the
# documents call it "abort operation", so that spelling is accepted too and answered
# under the name the client used.
ALIASES = {"ABORT_OPERATION_REQUEST": "ABORT_TRANSACTION_REQUEST"}

# Answer to input that is not a JSON object at all: there is no request type to echo.
# Our name (payworks-p3.md §9 leaves it open).
UNPARSEABLE_RESPONSE = "UNKNOWN_RESPONSE"

SERVER_RESOURCES = (None, "/", "")


def payload_key(type_: str) -> str:
    """``EXECUTE_TRANSACTION_UPDATE`` -> ``executeTransactionUpdate``."""
    first, *rest = type_.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def response_type(request_type: str) -> str:
    if request_type.endswith("_REQUEST"):
        return request_type[: -len("_REQUEST")] + "_RESPONSE"
    return request_type + "_RESPONSE"


def _schema(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas", f"{name}.json").read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


_ENVELOPE = jsonschema.Draft202012Validator(_schema("envelope"))
_PAYLOADS = {t: jsonschema.Draft202012Validator(_schema(t)) for t in REQUEST_TYPES}


@dataclass(frozen=True)
class Request:
    """A well-formed request. ``type`` is canonical, ``wire_type`` as the client spelled it."""

    type: str
    wire_type: str
    tag: str
    resource: str | None
    payload: dict[str, Any]

    @property
    def response_type(self) -> str:
        return response_type(self.wire_type)


@dataclass(frozen=True)
class BadRequest:
    """Input that gets an error response; ``close`` when the stream cannot go on."""

    response_type: str
    tag: str
    resource: str | None
    error: P3Error
    close: bool = False


def _schema_error(validator: jsonschema.Draft202012Validator, doc: Any) -> P3Error | None:
    best = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if best is None:
        return None
    where = "/".join(str(p) for p in best.absolute_path) or "message"
    kind = "PARAMETER_MISSING" if best.validator == "required" else "PARAMETER_INVALID"
    return P3Error(kind, f"{where}: {best.message}")


def decode(raw: str | bytes) -> Request | BadRequest:
    """Parse one wire message (a WebSocket message or a TCP frame's payload)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return BadRequest(
                UNPARSEABLE_RESPONSE, "", None,
                P3Error("PARAMETER_INVALID", f"message is not valid UTF-8 (byte {exc.start})"),
            )
    else:
        text = raw
    try:
        doc = jsonwire.loads(text)
    except ValueError as exc:
        return BadRequest(
            UNPARSEABLE_RESPONSE, "", None, P3Error("PARAMETER_INVALID", f"not JSON: {exc}")
        )
    if not isinstance(doc, dict):
        return BadRequest(
            UNPARSEABLE_RESPONSE, "", None,
            P3Error("PARAMETER_INVALID", "a P3 message is a JSON object"),
        )
    raw_type = doc.get("type")
    raw_tag = doc.get("tag")
    tag: str = raw_tag if isinstance(raw_tag, str) else ""
    resource = doc.get("resource") if isinstance(doc.get("resource"), str) else None
    answer = response_type(raw_type) if isinstance(raw_type, str) and raw_type else None
    if has_surrogates(doc):
        # JSON lets "\ud800" through, UTF-8 does not: such text cannot be a merchant
        # identifier, a tag we store, or anything a receipt prints. Refused here, with the
        # tag and type echoed (as JSON escapes) so the POS can match the answer.
        return BadRequest(
            answer if answer is not None and not has_surrogates(raw_type) else UNPARSEABLE_RESPONSE,
            tag, resource,
            P3Error("PARAMETER_INVALID", "text holds a lone surrogate code point (U+D800-DFFF)"),
        )
    problem = _schema_error(_ENVELOPE, doc)
    if problem is not None:
        return BadRequest(answer or UNPARSEABLE_RESPONSE, tag, resource, problem)
    assert isinstance(raw_type, str) and answer is not None
    canonical = ALIASES.get(raw_type, raw_type)
    if canonical not in _PAYLOADS:
        return BadRequest(
            answer, tag, resource,
            P3Error("PARAMETER_INVALID", f"unknown message type {raw_type}"),
        )
    problem = _schema_error(_PAYLOADS[canonical], doc)
    if problem is not None:
        return BadRequest(answer, tag, resource, problem)
    body = doc.get(payload_key(raw_type))
    if body is None:
        body = doc.get(payload_key(canonical))
    return Request(canonical, raw_type, tag, resource, body if isinstance(body, dict) else {})


# -- building messages ----------------------------------------------------------------

def _envelope(type_: str, tag: str, resource: str | None) -> dict[str, Any]:
    return {"tag": tag, "type": type_, "resource": resource}


def ok_response(
    type_: str, tag: str, resource: str | None, payload: dict[str, Any] | None = None
) -> dict[str, Any]:
    msg = _envelope(type_, tag, resource)
    msg["status"] = "OK"
    if payload is not None:
        msg[payload_key(type_)] = payload
    return msg


def error_response(type_: str, tag: str, resource: str | None, error: P3Error
                   ) -> dict[str, Any]:
    """An ERROR answer carries the error and no payload: no transaction could be run
    (payworks-p3.md §4.4, Response)."""
    msg = _envelope(type_, tag, resource)
    msg["status"] = "ERROR"
    msg["error"] = error.body()
    return msg


def bad_request_response(bad: BadRequest) -> dict[str, Any]:
    return error_response(bad.response_type, bad.tag, bad.resource, bad.error)


def unsolicited(
    type_: str, tag: str, resource: str | None, payload: dict[str, Any]
) -> dict[str, Any]:
    """Updates and actions: no ``status`` (payworks-p3.md §3, decision §15.2)."""
    msg = _envelope(type_, tag, resource)
    msg[payload_key(type_)] = payload
    return msg


def encode(message: dict[str, Any]) -> str:
    return jsonwire.dumps(message)


def stream_label(chunk: bytes) -> str:
    """Transcript label for a framed-TCP chunk: the P3 messages it holds whole, if any."""
    labels: list[str] = []
    rest = chunk
    while len(rest) >= 4:
        length = int.from_bytes(rest[:4], "big")
        if length == 0 or len(rest) < 4 + length:
            break
        labels.append(label(rest[4:4 + length]))
        rest = rest[4 + length:]
    if rest:
        labels.append(f"({len(rest)} bytes of a frame)")
    return "; ".join(labels)


def label(message: str | bytes) -> str:
    """Transcript label: type, tag and status, never the payload (it may hold secrets)."""
    try:
        doc = jsonwire.loads(message.decode("utf-8") if isinstance(message, bytes) else message)
    except (ValueError, UnicodeDecodeError):
        return "P3 <not JSON>"
    if not isinstance(doc, dict):
        return "P3 <not an object>"
    parts = [str(doc.get("type")), f"tag={doc.get('tag')}"]
    if "status" in doc:
        parts.append(str(doc["status"]))
    for key in ("executeTransactionUpdate", "executeTransactionAction"):
        body = doc.get(key)
        if isinstance(body, dict):
            detail = body.get("action") or (body.get("details") or {}).get("stateDetails")
            if detail:
                parts.append(str(detail))
    return "P3 " + " ".join(parts)
