"""Sans-I/O codec of the mpos-bridge WebSocket messages (mpos-bridge.md §2.2–§2.7).

Text in, typed requests out; typed answers in, text out. Nothing here touches a socket,
a clock or a pinpad, so the same code serves the reference server, the conformance
client and the property tests.

The reader copies Newtonsoft's defaults as the shipped server had them (§2.2): key
matching is case-insensitive, unknown keys are ignored, numbers written as strings are
accepted, enums take the integer or the member name. The writer emits every key of the
response class in declaration order, nulls included, and enums as integers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from protocol_servers.mpos.profiles import Profile
from simulator.textsafe import MAX_JSON_DEPTH, json_too_deep


class RequestType(IntEnum):
    """§2.3; 3 is unused on requests."""

    UnknownCommand = 0
    ListDevices = 1
    Initialize = 2
    Process = 4
    Finish = 5
    DisplayMessage = 6
    Status = 7
    CloseContext = 8


class ResponseType(IntEnum):
    """§2.4."""

    UnknownCommand = 0
    DevicesListed = 1
    Initialized = 2
    AlreadyInitialized = 3
    Processed = 4
    Finished = 5
    MessageDisplayed = 6
    Status = 7
    ContextClosed = 8
    Error = 9


class PaymentStatus(IntEnum):
    Accepted = 0
    Rejected = 1
    Errored = 2
    Canceled = 3


class ContextStatus(IntEnum):
    Uninitialized = 0
    Ready = 1
    InUse = 2
    Closed = 3


class PaymentMethod(IntEnum):
    Credit = 1
    Debit = 2


# The README's names (§2.9): accepted by the documented profile only.
DOCUMENT_NAMES: dict[str, int] = {
    "listdevices": 1,
    "list_devices": 1,
    "initialize": 2,
    "process": 4,
    "finish": 5,
    "displaymessage": 6,
    "display_message": 6,
    "status": 7,
    "close": 8,
}

DEFAULT_CONTEXT = "<default>"

# §2.7, verbatim.
GENERIC_ERROR = (
    "An error has occured with the [{name}] request. See the log and contact the support."
)
CONTEXT_ERROR = "Error on creating context"
SEQUENCE_ERROR = "Just follow operations allowed: {names}"
DEVICE_IN_USE = "Device already in use by context {context}"
INIT_TIMEOUT = "Could not initialize device. Perhaps it's not the right port."
TRANSACTION_FAILED = "Transaction {status}"
PINPAD_ERROR = "Error: {code}"
# Finish after the card refused at FNC what the host approved (documented profile only).
CARD_DECLINED = "Transaction declined by card"


class BadRequest(Exception):
    """A request the server cannot read; answered with the generic error of §2.7.

    ``request_type_name`` is what the shipped server would have put between the
    brackets: the enum name when the type could be read, else ``UnknownCommand`` (the
    default of an unread enum), and ``context_id`` is echoed when it was readable.
    """

    def __init__(
        self, reason: str, request_type_name: str = "UnknownCommand", context_id: Any = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_type_name = request_type_name
        self.context_id = context_id


@dataclass(frozen=True)
class ApplicationFilter:
    brand: str
    payment_method: PaymentMethod


# The bodies carry no defaults: the parsers below fill every field, so what an absent
# key means (0, false, null, credit) is decided in one place, where the JSON is read.
@dataclass(frozen=True)
class InitializeBody:
    device_id: str | None
    encryption_key: str | None
    baud_rate: int
    simple_initialize: bool
    timeout_milliseconds: int


@dataclass(frozen=True)
class ProcessBody:
    amount: int
    applications: tuple[ApplicationFilter, ...] | None
    magstripe_payment_method: PaymentMethod


@dataclass(frozen=True)
class FinishBody:
    success: bool
    response_code: int
    emv_data: str | None


@dataclass(frozen=True)
class Request:
    """A parsed request. ``request_type`` is an int: undefined values are kept (§2.7)."""

    request_type: int
    raw_context_id: Any
    initialize: InitializeBody | None = None
    process: ProcessBody | None = None
    finish: FinishBody | None = None
    display_message: str | None = None

    @property
    def context_id(self) -> str:
        """The context key: null or empty names the default context (§2.3)."""
        if self.raw_context_id is None or self.raw_context_id == "":
            return DEFAULT_CONTEXT
        return str(self.raw_context_id)

    @property
    def type_name(self) -> str:
        try:
            return RequestType(self.request_type).name
        except ValueError:
            return str(self.request_type)


# -- reading ----------------------------------------------------------------------


def _lower_keys(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ValueError("expected an object")
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out.setdefault(str(k).lower(), v)
    return out


# The shipped bridge was C#: every integer field (amount, baud_rate, timeout, codes) is an
# Int32, and Newtonsoft refuses a value outside that range before the bridge sees it. The
# same bound here keeps 1e26 or 1E+999999 from ever reaching a pinpad or the acquirer.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected an integer")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        # Int32.Parse: blanks around, one sign, any number of leading zeros, ASCII digits
        # only (Python's int() would also read other scripts' digits); the range check
        # below refuses what does not fit, and int() itself refuses more than 4300 digits
        text = value.strip()
        digits = text[1:] if text[:1] in ("+", "-") else text
        if digits.isdigit() and digits.isascii():
            number = int(text)
    if number is None:
        raise ValueError(f"{what}: expected an integer, got {_short(value)}")
    if not INT32_MIN <= number <= INT32_MAX:
        raise ValueError(f"{what}: {_short(number)} is outside the Int32 range")
    return number


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int):
        return value != 0
    raise ValueError(f"{what}: expected a boolean, got {value!r}")


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise ValueError("expected a string")
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _enum(value: Any, enum: type[IntEnum], what: str) -> int:
    """Integer, numeric string or member name (case-insensitive), as Newtonsoft reads."""
    if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
        for member in enum:
            if member.name.lower() == value.strip().lower():
                return int(member)
        raise ValueError(f"{what}: unknown name {value!r}")
    return _int(value, what)


def parse_request_type(value: Any, profile: Profile) -> int:
    """§2.2/§2.3: integers always; names per profile; undefined integers pass through."""
    if value is None:
        return int(RequestType.UnknownCommand)
    if isinstance(value, str) and profile.accept_document_names:
        key = value.strip().lower()
        if key in DOCUMENT_NAMES:
            return DOCUMENT_NAMES[key]
    return _enum(value, RequestType, "request_type")


def _payment_method(value: Any, what: str) -> PaymentMethod:
    if value is None:
        return PaymentMethod.Credit
    n = _enum(value, PaymentMethod, what)
    if n == 0:
        return PaymentMethod.Credit  # 0/absent -> credit (§2.5)
    try:
        return PaymentMethod(n)
    except ValueError:
        raise ValueError(f"{what}: {n} is not a payment method") from None


def parse_request(text: str | bytes, profile: Profile) -> Request:
    """Read one request frame; raises :class:`BadRequest` with what §2.7 would echo."""
    if json_too_deep(text):
        raise BadRequest(f"not JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise BadRequest("a request is a JSON object")
    top = _lower_keys(raw)
    context_id = top.get("context_id")
    if isinstance(context_id, (dict, list)):
        raise BadRequest("context_id must be a string")
    try:
        rtype = parse_request_type(top.get("request_type"), profile)
    except ValueError as exc:
        raise BadRequest(str(exc), context_id=context_id) from None
    name = _type_name(rtype)
    try:
        init = proc = fin = None
        display = None
        if rtype == RequestType.Initialize:
            init = _parse_initialize(_lower_keys(top.get("initialize")))
        elif rtype == RequestType.Process:
            proc = _parse_process(_lower_keys(top.get("process")), profile)
        elif rtype == RequestType.Finish:
            fin = _parse_finish(_lower_keys(top.get("finish")))
        elif rtype == RequestType.DisplayMessage:
            display = _str(_lower_keys(top.get("display_message")).get("message")) or ""
    except ValueError as exc:
        raise BadRequest(str(exc), name, context_id) from None
    return Request(rtype, context_id, init, proc, fin, display)


def _type_name(rtype: int) -> str:
    try:
        return RequestType(rtype).name
    except ValueError:
        return str(rtype)


def _parse_initialize(body: dict[str, Any]) -> InitializeBody:
    return InitializeBody(
        device_id=_str(body.get("device_id")),
        encryption_key=_str(body.get("encryption_key")),
        baud_rate=_int(body.get("baud_rate") or 0, "baud_rate"),
        simple_initialize=_bool(body.get("simple_initialize") or False, "simple_initialize"),
        timeout_milliseconds=_int(body.get("timeout_milliseconds") or 0, "timeout_milliseconds"),
    )


def _parse_process(body: dict[str, Any], profile: Profile) -> ProcessBody:
    amount = _int(body.get("amount") or 0, "amount")
    if amount < 0:
        raise ValueError("amount must not be negative")
    apps_raw = body.get("applications")
    apps: tuple[ApplicationFilter, ...] | None = None
    if apps_raw is not None:
        if not isinstance(apps_raw, list):
            raise ValueError("applications must be a list")
        items = []
        for entry in apps_raw:
            e = _lower_keys(entry)
            items.append(
                ApplicationFilter(
                    brand=(_str(e.get("brand")) or "").lower(),
                    payment_method=_payment_method(e.get("payment_method"), "payment_method"),
                )
            )
        apps = tuple(items)
    method_raw = body.get("magstripe_payment_method")
    if method_raw is None and profile.accept_payment_method_alias:
        method_raw = body.get("payment_method")
    return ProcessBody(amount, apps, _payment_method(method_raw, "magstripe_payment_method"))


def _parse_finish(body: dict[str, Any]) -> FinishBody:
    return FinishBody(
        success=_bool(body.get("success") or False, "success"),
        response_code=_int(body.get("response_code") or 0, "response_code"),
        emv_data=_str(body.get("emv_data")),
    )


# -- writing ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    """One serial port as list devices shows it (§2.5 type 1)."""

    port: str
    id: str
    name: str
    manufacturer: str = ""
    kind: int = 0  # Serial

    def as_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "id": self.id,
            "name": self.name,
            "manufacturer": self.manufacturer,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class PaymentResult:
    """The ``process`` object (§2.5 type 4), in the shipped class's key order."""

    status: PaymentStatus
    card_hash: str | None = None
    error_code: int | None = None
    payment_method: int | None = None
    card_holder_name: str | None = None
    is_online_pin: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "card_hash": self.card_hash,
            "status": int(self.status),
            "error_code": self.error_code,
            "payment_method": self.payment_method,
            "card_holder_name": self.card_holder_name,
            "is_online_pin": self.is_online_pin,
        }


@dataclass(frozen=True)
class StatusBody:
    code: ContextStatus
    connected_device_id: str | None
    available_devices: int


@dataclass
class Response:
    response_type: ResponseType
    context_id: Any = None
    device_list: list[DeviceInfo] | None = None
    process: PaymentResult | None = None
    status: StatusBody | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def encode_response(resp: Response, profile: Profile) -> str:
    """One JSON text frame, keys in the order of §2.4, nulls written."""
    status: dict[str, Any] | None = None
    if resp.status is not None:
        status = {}
        if profile.status_field_alias:
            status["status"] = int(resp.status.code)
        status["code"] = int(resp.status.code)
        status["connected_device_id"] = resp.status.connected_device_id
        status["available_devices"] = resp.status.available_devices
    body: dict[str, Any] = {
        "device_list": None
        if resp.device_list is None
        else [d.as_json() for d in resp.device_list],
        "process": None if resp.process is None else resp.process.as_json(),
        "status": status,
        "context_id": resp.context_id,
        "response_type": int(resp.response_type),
    }
    if profile.echo_request_type:
        body["request_type"] = int(resp.response_type)
    body["error"] = resp.error
    return json.dumps(body, separators=(",", ":"))


def error_response(
    message: str, context_id: Any = None, process: PaymentResult | None = None
) -> Response:
    return Response(ResponseType.Error, context_id=context_id, process=process, error=message)


def generic_error(type_name: str, context_id: Any) -> Response:
    return error_response(GENERIC_ERROR.format(name=type_name), context_id)


def pinpad_error_frame(code: int) -> Response:
    """The unsolicited frame of the SDK's ``Errored`` event: context_id is always null."""
    return error_response(PINPAD_ERROR.format(code=code), None)


# -- the sequence rule (§2.6) -------------------------------------------------------

TRACKED = frozenset({RequestType.Initialize, RequestType.Process, RequestType.Finish})
UNTRACKED = frozenset(
    {
        RequestType.ListDevices,
        RequestType.DisplayMessage,
        RequestType.Status,
        RequestType.CloseContext,
        RequestType.UnknownCommand,
    }
)

ALLOWED_AFTER: dict[int, tuple[RequestType, ...]] = {
    0: (RequestType.Initialize,),
    RequestType.Initialize: (RequestType.Initialize, RequestType.Process),
    RequestType.Process: (RequestType.Finish, RequestType.Initialize),
    RequestType.Finish: (RequestType.Process, RequestType.Initialize),
}


def check_sequence(current: int, requested: int) -> str | None:
    """None if ``requested`` may follow ``current``, else the §2.7 error text.

    Untracked types pass; an undefined integer (3, 9, 42...) is not untracked and not
    in any allowed list, so it fails here as the shipped code did (§2.7).
    """
    if requested in UNTRACKED:
        return None
    allowed = ALLOWED_AFTER.get(current, ALLOWED_AFTER[0])
    if requested in allowed:
        return None
    return SEQUENCE_ERROR.format(names=", ".join(a.name for a in allowed))


def frame_label(item: str | bytes | None) -> str:
    """A one-line transcript label for a WebSocket frame in either direction."""
    if item is None:
        return ""
    if json_too_deep(item):
        return "frame nested too deep"
    try:
        data = json.loads(item)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "unreadable frame"
    if not isinstance(data, dict):
        return "non-object frame"
    low = {str(k).lower(): v for k, v in data.items()}
    ctx = low.get("context_id")
    if "response_type" in low:
        text = f"response_type {low.get('response_type')} ctx {ctx!r}"
        if low.get("error"):
            text += f": {low['error']}"
        proc = low.get("process")
        if isinstance(proc, dict):
            text += f" status {proc.get('status')} error_code {proc.get('error_code')}"
        return text
    return f"request_type {low.get('request_type')!r} ctx {ctx!r}"
