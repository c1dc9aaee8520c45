"""The request and response dictionary of Valor semi-integration (semi-and-websockets.md §A.5-§A.7).

``parse(payload)`` turns one JSON object into a :class:`Request`, an :class:`Echo` (an
object that is not a request but a client's ACK or an echo of our own frame: skipped
without an answer), or a :class:`NotRequest` (answered with ``STATE -1``). Every value on
the wire is a string and every amount is integer cents (§A.5); builders here make the
frames the terminal sends, with the field names of §A.6.

Error texts are Valor's where §A.7 lists one. The numeric ``ERROR_CODE`` table is in a
PDF nobody has published (§A.7, NOT FOUND): the codes below are ours, marked ``V9xxx`` so
no one mistakes them for Valor's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from protocol_servers.valor.wire import MAX_DEPTH
from simulator.textsafe import json_too_deep

# -- TRAN_MODE / TRAN_CODE (§A.5) ---------------------------------------------------------
MODE_FETCH, MODE_CREDIT, MODE_DEBIT, MODE_CASH = "0", "1", "2", "6"
MODE_STATUS, MODE_QUERY, MODE_CANCEL = "90", "96", "99"
CARD_MODES = {MODE_CREDIT: "Credit", MODE_DEBIT: "Debit", MODE_CASH: "Cash"}
KNOWN_MODES = {"0", "1", "2", "3", "4", "5", "6", "8", "9", "90", "91", "92", "93", "94",
               "95", "96", "97", "98", "99"}
CODE_SALE, CODE_VOID, CODE_PREAUTH, CODE_TICKET, CODE_REFUND = "1", "2", "3", "4", "5"
CODE_SETTLE, CODE_REPRINT, CODE_TIP_ADJUST = "9", "11", "20"
#: client timeouts of §A.4 (C-RN, C-TS1, C-EL2), in seconds: ACK, "Payload Request
#: Received", a sale's final, a settlement's final
ACK_TIMEOUT, PAYLOAD_TIMEOUT, SALE_TIMEOUT, SETTLE_TIMEOUT = 5.0, 10.0, 120.0, 180.0
METHOD = {CODE_SALE: "Sale", CODE_VOID: "Void", CODE_PREAUTH: "Pre-Auth", CODE_TICKET: "Ticket",
          CODE_REFUND: "Refund", CODE_SETTLE: "Settlement", CODE_REPRINT: "Reprint",
          CODE_TIP_ADJUST: "Tip Adjust"}

# -- error texts (§A.7) and our codes ------------------------------------------------------
INVALID_AMOUNT = "Invalid Amount"
NO_RECORD = "No Record Found!"
NOTHING_TO_SETTLE = "No Transaction To Settle"
BUSY = "PROCESSING ERROR"
TXN_ID_REQUIRED = "REQUEST TXN ID REQUIRED"
KEY_EMPTY = "Tran/Card Number/Transaction ID is Empty"
TIMEOUT_CANCELLED = "Transaction Timeout/Cancelled"
CLEARED = "TRANSACTION CLEARED SUCCESSFULLY"
# ours (no public text): what the terminal says where §A.7 lists nothing
NOT_A_REQUEST = "INVALID REQUEST"
MODE_NOT_SUPPORTED = "TRAN_MODE NOT SUPPORTED"
CODE_NOT_SUPPORTED = "TRAN_CODE NOT SUPPORTED"
CANCEL_TOO_LATE = "CANCEL NOT ALLOWED: CARD ALREADY READ"
NOTHING_TO_CANCEL = "NO TRANSACTION IN PROGRESS"
IN_PROGRESS = "TRANSACTION IN PROGRESS"
DECLINED = "DECLINED"
NO_HOST = "NO RESPONSE FROM HOST"
CARD_DECLINED = "DECLINED BY CARD"
INDETERMINATE = "TRANSACTION STATUS UNKNOWN"
CANCEL_PORT_ONLY = "ONLY TRAN_MODE 99 OR 96 ON THE CANCEL PORT"
ERROR_CODES = {
    INVALID_AMOUNT: "V9001", NO_RECORD: "V9002", NOTHING_TO_SETTLE: "V9003", BUSY: "V9004",
    TXN_ID_REQUIRED: "V9005", KEY_EMPTY: "V9006", TIMEOUT_CANCELLED: "V9007",
    NOT_A_REQUEST: "V9010", MODE_NOT_SUPPORTED: "V9011", CODE_NOT_SUPPORTED: "V9012",
    CANCEL_TOO_LATE: "V9013", NOTHING_TO_CANCEL: "V9014", IN_PROGRESS: "V9015",
    DECLINED: "V9020", NO_HOST: "V9021", CARD_DECLINED: "V9022", INDETERMINATE: "V9023",
    CANCEL_PORT_ONLY: "V9016",
}
#: REQ_TXN_ID is "up to 25 chars" (§A.5)
MAX_REQ_TXN_ID = 25


@dataclass(frozen=True)
class Request:
    """One request. ``fields`` holds every field as sent (unknown fields are ignored)."""

    mode: str
    code: str
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    @property
    def req_txn_id(self) -> str:
        return self.fields.get("REQ_TXN_ID", "")

    def flag(self, name: str) -> bool:
        return self.fields.get(name, "0") == "1"


@dataclass(frozen=True)
class Echo:
    """A JSON object that is not a request: the POS's ACK, or our own frame echoed back."""

    fields: dict[str, Any]

    @property
    def is_ack(self) -> bool:
        return self.fields.get("MSG") == "ACK"


@dataclass(frozen=True)
class NotRequest:
    reason: str


Parsed = Request | Echo | NotRequest


def _text(value: Any) -> str | None:
    """Values are strings; clients that send a whole number (``100``) are forgiven."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return None


def parse(payload: bytes | str) -> Parsed:
    # A WebSocket message reaches here without the stream decoder's depth count: ten
    # thousand nested arrays would take the parser to the recursion limit, and the
    # request would die unanswered. The same limit as the byte streams refuses it.
    if json_too_deep(payload, MAX_DEPTH):
        return NotRequest(f"nested deeper than {MAX_DEPTH} levels")
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return NotRequest(f"not JSON: {str(exc)[:80]}")
    if not isinstance(obj, dict):
        return NotRequest("not a JSON object")
    if "TRAN_MODE" not in obj:
        # Choice: an object carrying STATE or MSG is a response shape (the POS's trailing
        # ACK, or a client echoing our frame back): skipped, never answered, so two peers
        # cannot bounce errors at each other. Anything else is not a request: STATE -1.
        if "STATE" in obj or "MSG" in obj:
            return Echo(obj)
        return NotRequest("TRAN_MODE missing")
    fields: dict[str, str] = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            continue
        text = _text(value)
        if text is None:
            if name in ("TRAN_MODE", "TRAN_CODE", "AMOUNT", "TIP_AMOUNT", "TRAN_NO",
                        "STAN_NO", "REQ_TXN_ID", "CARD_NO"):
                return NotRequest(f"{name} is not a string")
            continue  # line items and other structured extras are ignored
        fields[name] = text.strip()
    mode = fields["TRAN_MODE"]
    if mode not in KNOWN_MODES:
        return NotRequest(f"unknown TRAN_MODE {mode[:8]!r}")
    return Request(mode, fields.get("TRAN_CODE", ""), fields)


def cents(text: str) -> int | None:
    """Integer cents from a string; None for anything else ("10.00" is a client bug, §A.5)."""
    if not text or not text.isdigit() or len(text) > 12:
        return None
    return int(text)


def dumps(frame: dict[str, str]) -> bytes:
    """Compact JSON, field order kept; never a control byte (STX/ETX/newline) inside."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def ack() -> dict[str, str]:
    return {"STATE": "0", "MSG": "ACK"}


def error_frame(message: str, identity: dict[str, str], req: Request | None = None,
                state: str = "-1") -> dict[str, str]:
    frame = {"STATE": state, **identity, "ERROR_CODE": ERROR_CODES.get(message, "V9000"),
             "ERROR_MSG": message}
    if req is not None and req.req_txn_id:
        frame["MER_TXN_ID"] = req.req_txn_id
        frame["REQ_TXN_ID"] = req.req_txn_id
    return frame
