"""The error table of paymentsense-connect.md §6, as our server answers.

JSON-RPC 2.0's own codes for framing and parameters; the vendor codes (-32070 and on)
are OURS, placed in the range the successor Dojo API documents (§6, SUCCESSOR): the
public record has no Connect WebSocket error object. Every error carries
``data.userMessage`` (the REST error envelope's field, which public clients read).
"""

from __future__ import annotations

from typing import Any

from protocol_servers.connect.jsonrpc import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)

TERMINAL_UNAVAILABLE = -32070
TERMINAL_BUSY = -32071
UNABLE_TO_CANCEL = -32072
CONNECTION_DISCONTINUED = -32073

TABLE: dict[int, str] = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
    TERMINAL_UNAVAILABLE: "Terminal unavailable",
    TERMINAL_BUSY: "Terminal busy",
    UNABLE_TO_CANCEL: "Unable to cancel",
    CONNECTION_DISCONTINUED: "Connection discontinued",
}


def error(code: int, user_message: str, **extra: Any) -> RpcError:
    """An error object of the table with ``data.userMessage`` (and ``tid`` etc.)."""
    return RpcError(code, TABLE[code], {"userMessage": user_message, **extra})


def unavailable(tid: str) -> RpcError:
    return error(TERMINAL_UNAVAILABLE,
                 f"Unavailable terminal or no data available for: '{tid}'. Please check "
                 "that the card machine is switched on and connected.", tid=tid)


def busy(tid: str) -> RpcError:
    return error(TERMINAL_BUSY, f"The card machine {tid} is busy processing another request. "
                 "Please wait for it to finish.", tid=tid)


def bad_params(why: str, tid: str | None = None) -> RpcError:
    return error(INVALID_PARAMS, why, **({"tid": tid} if tid is not None else {}))
