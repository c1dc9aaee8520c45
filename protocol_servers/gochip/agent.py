"""The GoChip agent: connections, the request handlers, the readers and the records.

:meth:`Agent.accept` serves one connection (a WebSocket, or an in-memory message link
in virtual mode): it sends ``RES_ON_WS_INIT_REQUIRED`` (§B.4 step 1) and hands each
text message to :meth:`Session.handle`, which decodes it (:mod:`frames`), checks it
against the connection's state table (:mod:`states`) and calls the handler registered
for its type with :func:`handles`. Every refusal is an error frame of §B.6 with
``messageTypeSource``; an exception in a handler ends that request only.

Response names the note does not give are ours and listed in :data:`OUR_NAMES`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import simpy

from protocol_servers.gochip import frames
from protocol_servers.gochip.card_reader import CardReader, ReaderFailure
from protocol_servers.gochip.conduct import Conduct, PastConduct, observations
from protocol_servers.gochip.frames import Amount, FieldError, Frame
from protocol_servers.gochip.records import Record, Records, iso
from protocol_servers.gochip.sale import CardTransaction
from protocol_servers.gochip.settings import GATEWAYS, Gateway, Settings
from protocol_servers.gochip.states import ConnectionState, State
from protocol_servers.grading import Observation
from simulator.masking import luhn_ok, mask_pan
from simulator.streams import MessageEnd
from simulator.timings import Timings, load_timings
from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]
Handler = Callable[["Session", Frame], None]
HANDLERS: dict[str, Handler] = {}
#: ended connections the agent remembers (for its state page and the grades it gives)
ENDED_KEPT = 20

MODES = ("TEST", "LIVE", "DEV")
DEVICES = ("IDTECH", "PAX", "BBPOSDEVICE", "INGENICO")
CONNECTIONS = ("USB", "BLUETOOTH", "AIDL")
INPUT_METHODS = ("SWIPE", "INSERT", "TAP", "SWIPE_OR_INSERT", "SWIPE_OR_TAP", "INSERT_OR_TAP",
                 "SWIPE_OR_INSERT_OR_TAP", "SWIPE_OR_INSERT_OR_TAP_OR_KEYED",
                 "SWIPE_OR_INSERT_OR_KEYED", "SWIPE_OR_KEYED")
EMV_TYPES = ("STANDARD", "QUICK_CHIP")
# requests of the material this agent knows of but does not offer: a clear refusal, not
# "unknown". Polling and delayed auth with a secure token (W-NEW328's frictionless
# payment) need the gateway's token uniqueness and auto sharing, which are not modelled.
NOT_OFFERED = ("REQ_SET_POLLING_WITH_SECURE_TOKEN_ENABLED",
               "REQ_SET_DELAYED_AUTH_WITH_SECURE_TOKEN_ENABLED")
# message types we had to name ourselves (the note gives no name, or only infers one)
OUR_NAMES = ("RES_ON_SET_API_KEY", "RES_ON_SET_INTEGRATION_ID", "RES_ON_DEVICE_DISCONNECTED",
             "RES_ON_SET_POLLING_ENABLED", "RES_ON_POLLING_ENABLED",
             "RES_ON_SET_DELAYED_AUTH_ENABLED", "RES_ON_DELAYED_AUTH_ENABLED",
             "REQ_PROCESS_REVERSAL", "RES_ON_REVERSAL_RETRIEVED")


def handles(*kinds: str) -> Callable[[Handler], Handler]:
    """Register the decorated method as the handler of request types ``kinds``."""
    def register(fn: Handler) -> Handler:
        for kind in kinds:
            if kind in HANDLERS:
                raise ValueError(f"two handlers for {kind}")
            HANDLERS[kind] = fn
        return fn
    return register


# Rule switches: each turns off one rule a vendor's agent often gets wrong, so the
# suite's own tests can show that the case named for the rule notices.
# ``no-refund-limit`` refunds past what is left of the sale (§B.5, AMOUNT_EXCEEDS_ORIGINAL);
# ``remove-card-first`` tells the POS to remove the card before the result (§B.4 step 9).
SWITCHES = ("no-refund-limit", "remove-card-first")


def switches_of(profile: str | None) -> frozenset[str]:
    """``"documented+no-refund-limit"`` -> {"no-refund-limit"}."""
    return frozenset((profile or "").split("+")[1:])


@dataclass
class AgentConfig:
    """What a GoChip install is configured with (payconfig, §B.2) plus our readers."""

    gateway: str = "first-data"
    readers: tuple[str, ...] = ("reader0",)
    cards: tuple[str, ...] = ("visa-chip-pin",)
    # terminalId -> secret (1.5.x) or API key (1.6); empty: any terminal with either
    terminals: dict[str, str] = field(default_factory=dict)
    customer: dict[str, Any] = field(default_factory=dict)
    # rules switched off (``documented+no-refund-limit``), see SWITCHES
    switches: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.gateway not in GATEWAYS:
            raise ValueError(f"gateway must be one of {', '.join(GATEWAYS)}")
        unknown = sorted(self.switches - set(SWITCHES))
        if unknown:
            raise ValueError(f"unknown rule switch(es) {unknown}; known: {list(SWITCHES)}")
        if not self.readers:
            raise ValueError("the agent needs at least one reader")


class Session:
    """One POS connection: its state, its device and its transaction."""

    def __init__(self, agent: Agent, send_text: Callable[[str], None], name: str) -> None:
        self.agent = agent
        self.world = agent.world
        self.name = name
        self._send_text = send_text
        self.state = ConnectionState()
        self.alive = True
        self.mode = ""
        self.terminal_id: str | None = None
        self.api_key: str | None = None
        # the SDK line the POS configured: "1.5" (terminalId + secret) or "1.6" (API key)
        self.sdk = "1.5"
        self.device: CardReader | None = None
        self.device_params: dict[str, Any] = {}
        self.polling = False
        self.offline = False  # offline mode: sales are handed to the POS, not the gateway
        self.offline_when_down = False  # processOfflineWhenCommsDown
        self.health: simpy.Process | None = None  # the terminal health listener
        self.delayed_auth: int | None = None  # the initial amount when enabled
        self.current: CardTransaction | None = None
        self.busy: str | None = None  # a request whose answer is still being prepared
        self.conduct = Conduct()  # how the POS behaves, graded for --serve

    # -- wire ---------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        if self.alive:
            self._send_text(frames.encode(message))

    def message(self, value: str) -> None:
        """A reader prompt/status as ``RES_ON_MESSAGE`` (§B.4 step 7)."""
        self.send(frames.response("RES_ON_MESSAGE", {"message": value}))

    def error(self, kind: str, code: str, description: str, source: str | None) -> None:
        self.conduct.refused(source or "", code)
        self.send(frames.error(kind, description, source, {"error": code}))

    def handle(self, raw: str | bytes) -> None:
        frame = frames.decode(raw)
        if isinstance(frame, frames.BadFrame):
            self.error(frames.WS_ERROR, "MALFORMED_FRAME", frame.reason, frame.source)
            return
        handler = HANDLERS.get(frame.type)
        if handler is None:
            why = ("not offered by this agent" if frame.type in NOT_OFFERED
                   else "unknown request type")
            self.error(frames.WS_ERROR, "UNSUPPORTED_REQUEST", f"{frame.type[:64]}: {why}",
                       frame.type[:64])
            return
        self.conduct.request(frame.type)
        refusal = self.state.refusal(frame.type)
        if refusal is not None:
            kind, code, why = refusal
            self.error(kind, code, why, frame.type)
            return
        if self.busy is not None and frame.type != "REQ_CANCEL_TRANSACTION":
            self.error(frames.SDK_ERROR, "REQUEST_IN_PROGRESS",
                       f"{self.busy} is still being answered", frame.type)
            return
        try:
            handler(self, frame)
        except FieldError as exc:
            self.error(frames.SDK_ERROR, "INVALID_PARAMETER", str(exc), frame.type)
        except Exception as exc:  # noqa: BLE001 - one request fails, the agent serves on
            self.world.transcript.event(self.name, f"handler {frame.type} failed: {exc!r}")
            self.error(frames.SDK_ERROR, "INTERNAL_ERROR", "the request could not be processed",
                       frame.type)

    def gone(self) -> None:
        """The POS closed the connection."""
        if not self.alive:
            return
        self.alive = False
        if self.current is not None:
            self.current.owner_gone()
        elif self.device is not None:
            self.device.owner = None

    def device_taken(self) -> None:
        """Another connection initialised this connection's (idle) reader."""
        self.device = None
        self.state.fire("DEVICE_LOST")
        self.send(frames.error(frames.DEVICE_ERROR, "another connection initialised the device",
                               None, {"deviceError": "DEVICE_TAKEN_BY_ANOTHER_CONNECTION"}))

    def later(self, source: str, work: Callable[[], Gen]) -> None:
        """Run ``work`` as a process; the session answers nothing else meanwhile."""
        self.busy = source

        def run() -> Gen:
            try:
                yield from work()
            except FieldError as exc:
                self.error(frames.SDK_ERROR, "INVALID_PARAMETER", str(exc), source)
            except Exception as exc:  # noqa: BLE001
                self.world.transcript.event(self.name, f"{source} failed: {exc!r}")
                self.error(frames.SDK_ERROR, "INTERNAL_ERROR", "the request failed", source)
            finally:
                self.busy = None
        self.world.process(run())

    # -- §B.4 set-up ----------------------------------------------------------------------
    @handles("REQ_WS_INIT")
    def ws_init(self, frame: Frame) -> None:
        mode = frames.text(frame.data, "mode", required=True, choices=MODES)
        level = frames.text(frame.data, "logLevel") or "LEVEL_FULL"
        assert mode is not None
        self.mode = mode
        self.state.fire("REQ_WS_INIT")
        self.send(frames.response("RES_ON_WS_INIT", {"mode": mode, "logLevel": level}))

    # -- administration (§B.5 "Admin") ---------------------------------------------------
    @handles("REQ_SET_MODE")
    def set_mode(self, frame: Frame) -> None:
        mode = frames.text(frame.data, "mode", required=True, choices=MODES)
        assert mode is not None
        self.mode = mode
        self.send(frames.response("RES_ON_SET_MODE", {"mode": mode}))

    @handles("REQ_SET_LOG_LEVEL")
    def set_log_level(self, frame: Frame) -> None:
        # Choice: LEVEL_FULL is the one level seen (§B.4 step 2); any LEVEL_* is taken
        level = frames.text(frame.data, "logLevel", required=True, limit=32)
        if not (level or "").startswith("LEVEL_"):
            raise FieldError("logLevel must be a LEVEL_* name such as LEVEL_FULL")
        self.send(frames.response("RES_ON_SET_LOG_LEVEL", {"logLevel": level}))

    @handles("REQ_WS_RESTART")
    def ws_restart(self, frame: Frame) -> None:
        """The service restarts for this connection: RES_ON_WS_RESTART, then it is back at
        §B.4 step 1 (RES_ON_WS_INIT_REQUIRED). Choice: the reader is let go and the SDK
        configuration, modes and listener forgotten, as a restarted process would."""
        if self.device is not None:
            self.device.owner = None
        self.device, self.device_params = None, {}
        self.terminal_id, self.api_key, self.sdk = None, None, "1.5"
        self.polling, self.delayed_auth, self.offline = False, None, False
        if self.health is not None and self.health.is_alive:
            self.health.interrupt("restart")
        self.health = None
        self.state.fire("WS_RESTARTED")
        self.send(frames.response("RES_ON_WS_RESTART", {}))
        self.send(frames.response("RES_ON_WS_INIT_REQUIRED", {}))

    @handles("REQ_SET_API_KEY")
    def set_api_key(self, frame: Frame) -> None:
        key = frames.text(frame.data, "key", required=True, limit=512)
        if key == "":  # absent is refused by ``required``, empty here
            raise FieldError("key must not be empty")
        self.api_key = key
        self.send(frames.response("RES_ON_SET_API_KEY", {}))  # ours

    @handles("REQ_SET_INTEGRATION_ID")
    def set_integration_id(self, frame: Frame) -> None:
        key = frames.text(frame.data, "key", required=True, limit=512)
        if key == "":  # absent is refused by ``required``, empty here
            raise FieldError("key must not be empty")
        self.send(frames.response("RES_ON_SET_INTEGRATION_ID", {}))  # ours

    @handles("REQ_INIT_WITH_CONFIGURATION")
    def init_with_configuration(self, frame: Frame) -> None:
        data = frame.data
        terminal = frames.text(data, "terminalId", required=True)
        secret = frames.text(data, "secret", limit=512)
        offline_when_down = frames.flag(data, "processOfflineWhenCommsDown")
        if not terminal:
            raise FieldError("terminalId must not be empty")
        credential = secret or self.api_key
        if not credential:
            self.error(frames.SDK_ERROR, "AUTHENTICATION_FAILED",
                       "no credentials: give secret (1.5.x) or send REQ_SET_API_KEY first (1.6)",
                       frame.type)
            return
        known = self.agent.config.terminals
        if known and known.get(terminal) != credential:
            self.error(frames.SDK_ERROR, "AUTHENTICATION_FAILED",
                       f"terminal {terminal[:32]} and its secret or API key do not match",
                       frame.type)
            return

        def retrieve() -> Gen:
            yield self.world.timeout(self.agent.timings["settings_retrieval"])
            self.terminal_id = terminal
            self.sdk = "1.5" if secret else "1.6"
            self.offline_when_down = offline_when_down
            self.state.fire("SETTINGS_RETRIEVED")
            self.send(frames.response("RES_ON_SETTINGS_RETRIEVED",
                                      self.agent.settings.frame_data()))
        self.later(frame.type, retrieve)

    @handles("REQ_RETRIEVE_SETTINGS")
    def retrieve_settings(self, frame: Frame) -> None:
        self.send(frames.response("RES_ON_SETTINGS_RETRIEVED", self.agent.settings.frame_data()))

    @handles("REQ_LIST_SUPPORTED_DEVICES")
    def list_devices(self, frame: Frame) -> None:
        self.send(frames.response("RES_ON_SUPPORTED_DEVICES_RETRIEVED", {
            "supportedDevices": list(DEVICES),
            "connectionTypes": list(CONNECTIONS),
            "ports": list(self.agent.readers),  # ours: the readers portName can pick
        }))

    @handles("REQ_INIT_DEVICE")
    def init_device(self, frame: Frame) -> None:
        d = frame.data
        params = {
            "device": frames.text(d, "device", required=True, choices=DEVICES),
            "connectionType": frames.text(d, "connectionType", required=True,
                                          choices=CONNECTIONS),
            "inputMethod": frames.text(d, "inputMethod", required=True, choices=INPUT_METHODS),
            "portName": frames.text(d, "portName", limit=128),
            "emvType": frames.text(d, "emvType", choices=EMV_TYPES) or "STANDARD",
            "secureTokenHistory": frames.flag(d, "secureTokenHistory"),
            "quickChipCardRemovalTimeoutInMillis": frames.integer(
                d, "quickChipCardRemovalTimeoutInMillis", 1000, 255000),
            "postTransactionCardRemovalTimeoutInMillis": frames.integer(
                d, "postTransactionCardRemovalTimeoutInMillis", 1000, 255000),
            "externalPinpad": frames.flag(d, "externalPinpad"),
        }
        port = params["portName"]
        reader = self.agent.pick_reader(port if isinstance(port, str) else None, self)
        if isinstance(reader, str):
            self.error(frames.DEVICE_ERROR, "DEVICE_NOT_FOUND", reader, frame.type)
            return
        if self.device is not None and self.device is not reader:
            self.device.owner = None
        reader.owner = self

        def connect() -> Gen:
            yield self.world.timeout(self.agent.timings["device_connect"])
            try:
                with reader.lock.request() as turn:
                    yield turn
                    yield from reader.connect()
            except ReaderFailure as exc:
                reader.owner = None
                self.device = None
                self.state.fire("DEVICE_LOST")
                self.error(frames.DEVICE_ERROR, "DEVICE_NOT_CONNECTED",
                           f"the reader did not answer: {exc}", frame.type)
                return
            self.device = reader
            self.device_params = params
            self.state.fire("DEVICE_CONNECTED")
            self.send(frames.response("RES_ON_DEVICE_CONNECTED", {
                "deviceType": params["device"], "deviceInfo": self._device_info(reader)}))
        self.later(frame.type, connect)

    def _device_info(self, reader: CardReader) -> dict[str, Any]:
        info = reader.info
        assert info is not None
        return {"serialNumber": info.serial_number, "kernelVersion": info.kernel_version,
                "firmwareVersion": info.firmware_version,
                "connectionType": self.device_params.get("connectionType", "USB"),
                "model": info.model, "portName": reader.name}

    @handles("REQ_GET_DEVICE_INFO")
    def device_info(self, frame: Frame) -> None:
        reader = self.device
        assert reader is not None

        def ask() -> Gen:
            try:
                with reader.lock.request() as turn:
                    yield turn
                    yield from reader.device_info()
            except ReaderFailure as exc:
                self.error(frames.DEVICE_ERROR, "DEVICE_COMMUNICATION_ERROR",
                           f"the reader did not answer: {exc}", frame.type)
                return
            self.send(frames.response("RES_ON_DEVICE_INFO_RETURNED",
                                      {"deviceInfo": self._device_info(reader)}))
        self.later(frame.type, ask)

    @handles("REQ_DISCONNECT_DEVICE")
    def disconnect_device(self, frame: Frame) -> None:
        if self.device is not None:
            self.device.owner = None
        self.device = None
        self.state.fire("DEVICE_DISCONNECTED")
        self.send(frames.response("RES_ON_DEVICE_DISCONNECTED", {}))  # ours

    # -- modes -----------------------------------------------------------------------------
    @handles("REQ_SET_POLLING_ENABLED")
    def set_polling(self, frame: Frame) -> None:
        self.polling = frames.flag(frame.data, "enabled")
        self.send(frames.response("RES_ON_SET_POLLING_ENABLED", {"enabled": self.polling}))

    @handles("REQ_GET_POLLING_ENABLED")
    def get_polling(self, frame: Frame) -> None:
        self.send(frames.response("RES_ON_POLLING_ENABLED", {"enabled": self.polling}))

    @handles("REQ_SET_DELAYED_AUTH_ENABLED")
    def set_delayed_auth(self, frame: Frame) -> None:
        enabled = frames.flag(frame.data, "enabled")
        initial = frames.amount(frame.data, "initialAmount", required=enabled)
        self.delayed_auth = initial if enabled else None
        body: dict[str, Any] = {"enabled": enabled}
        if initial is not None and enabled:
            body["initialAmount"] = Amount(initial)
        self.send(frames.response("RES_ON_SET_DELAYED_AUTH_ENABLED", body))

    @handles("REQ_GET_DELAYED_AUTH_ENABLED")
    def get_delayed_auth(self, frame: Frame) -> None:
        body: dict[str, Any] = {"enabled": self.delayed_auth is not None}
        if self.delayed_auth is not None:
            body["initialAmount"] = Amount(self.delayed_auth)
        self.send(frames.response("RES_ON_DELAYED_AUTH_ENABLED", body))

    # -- transactions (§B.4 steps 6-9, §B.5) ---------------------------------------------------
    def _record(self, kind: str, amount: int, order_id: str | None) -> Record:
        agent = self.agent
        return agent.records.add(Record(agent.new_ref(), order_id or agent.new_ref(6), kind,
                                        amount, agent.settings.currency, agent.clock(),
                                        owner=self))

    def _start(self, tx: CardTransaction) -> None:
        self.current = tx
        self.state.fire("TRANSACTION_STARTED")
        self.world.process(tx.run())

    def transaction_ended(self, tx: CardTransaction) -> None:
        if self.current is tx:
            self.current = None
            self.conduct.transaction_ended()
            self.state.fire("TRANSACTION_ENDED" if self.device is not None
                            else "TRANSACTION_ENDED_NO_DEVICE")
        if not self.alive and self.device is not None:
            self.device.owner = None

    @handles("REQ_PROCESS_SALE")
    def process_sale(self, frame: Frame) -> None:
        d = frame.data
        amount = frames.amount(d)
        order_id = frames.text(d, "orderId", limit=24)
        frames.text(d, "dateTime", limit=40)
        token_ref = frames.text(d, "secureTokenMerchantRef", limit=64)
        assert amount is not None and self.device is not None
        ask: int | None = None
        if self.delayed_auth is not None:
            ask = self.delayed_auth
        elif self.polling:
            ask = amount
        rec = self._record("SALE", amount, order_id)
        tx = CardTransaction(self, self.device, rec, set_amount=ask)
        tx.token_ref = token_ref or None
        self._start(tx)

    @handles("REQ_CANCEL_TRANSACTION")
    def cancel_transaction(self, frame: Frame) -> None:
        tx = self.current
        status = "NOTHING_TO_CANCEL" if tx is None else tx.cancel()
        body: dict[str, Any] = {"cancellationStatus": status}
        if tx is not None:
            body["uniqueRef"] = tx.record.unique_ref
        self.conduct.cancel_answered(status, body.get("uniqueRef"))
        self.send(frames.response("RES_ON_CANCEL_TRANSACTION_ATTEMPT", body))

    def _submit(self, frame: Frame, kind: str, value: Any) -> None:
        tx = self.current
        why = ("no transaction is waiting for that answer" if tx is None
               else tx.answer(kind, value))
        if why is not None:
            self.error(frames.SDK_ERROR, "NO_PROMPT_PENDING", why, frame.type)

    @handles("REQ_SUBMIT_APPLICATION")
    def submit_application(self, frame: Frame) -> None:
        index = frames.integer(frame.data, "index", 0, 99)
        if index is None:
            raise FieldError("index is required")
        tx = self.current
        if tx is not None and tx.prompt is not None and tx.prompt.kind == "APPLICATION":
            if index >= tx.prompt.choices:
                raise FieldError(f"index must be 0..{tx.prompt.choices - 1}")
        self._submit(frame, "APPLICATION", index)

    @handles("REQ_SUBMIT_SIGNATURE")
    def submit_signature(self, frame: Frame) -> None:
        points = frame.data.get("signatureData")
        if not isinstance(points, list) or not points:
            raise FieldError("signatureData must be a non-empty list of points")
        self._submit(frame, "SIGNATURE", len(points))

    @handles("REQ_SUBMIT_AMOUNT")
    def submit_amount(self, frame: Frame) -> None:
        sale = frame.data.get("sale")
        confirmed = frames.flag(frame.data, "confirmation", default=True)
        if not isinstance(sale, dict):
            raise FieldError("sale must be an object with the amount")
        amount = frames.amount(sale)
        self._submit(frame, "AMOUNT", amount if confirmed else None)

    @handles("REQ_PROCESS_REFUND")
    def process_refund(self, frame: Frame) -> None:
        d = frame.data
        ref = frames.text(d, "uniqueRef", required=True)
        amount = frames.amount(d, required=False)
        frames.text(d, "reason", limit=256)
        assert ref is not None
        agent = self.agent
        sale = agent.records.get(ref)
        if sale is None or sale.kind != "SALE":
            self.error(frames.SDK_ERROR, "TRANSACTION_NOT_FOUND", f"no sale {ref[:32]}",
                       frame.type)
            return
        left = sale.amount - sale.refunded
        amount = left if amount is None else amount
        if not sale.approved or sale.ledger_ref is None:
            self.error(frames.SDK_ERROR, "TRANSACTION_NOT_REFUNDABLE",
                       f"sale {ref} is {sale.status.lower()}", frame.type)
            return
        if amount > left and "no-refund-limit" not in agent.config.switches:
            self.error(frames.SDK_ERROR, "AMOUNT_EXCEEDS_ORIGINAL",
                       f"refund {Amount(amount).text()} exceeds the {Amount(left).text()} "
                       "left to refund", frame.type)
            return
        if reversals.as_reversal(self, sale, amount):
            # 1.6: a refund of an unsettled sale is not possible; the gateway reverses
            # it and the refund's answer carries the sale response (see reversals)
            reversals.reverse(self, sale, "RES_ON_REFUND_RESPONSE", frame.type)
            return
        rec = self._record("REFUND", amount, sale.order_id)
        rec.original, rec.masked_pan, rec.card_type = ref, sale.masked_pan, sale.card_type
        sale_ref = sale.ledger_ref

        def refund() -> Gen:
            yield self.world.timeout(agent.timings["host_roundtrip"])
            entry = agent.acquirer.refund(sale_ref, amount, key=rec.unique_ref)
            rec.ledger_ref = entry.ref
            if entry.approved:
                sale.refunded += amount
            self._refund_answer(rec, entry.approved, entry.response_code)
        self.later(frame.type, refund)

    def _refund_answer(self, rec: Record, approved: bool, response_code: str) -> None:
        from protocol_servers.gochip.records import DESCRIPTIONS, code_for

        rec.code = code_for(approved, response_code)
        rec.description = DESCRIPTIONS[rec.code]
        self.send(frames.response("RES_ON_REFUND_RESPONSE", {"refundResponse": {
            "uniqueRef": rec.unique_ref, "originalUniqueRef": rec.original,
            "orderId": rec.order_id, "refundedAmount": Amount(rec.amount if approved else 0),
            "currency": rec.currency, "code": rec.code, "description": rec.description,
            "dateTime": iso(rec.when), "cardNumber": rec.masked_pan, "cardType": rec.card_type,
        }}))
        rec.told = self.alive

    @handles("REQ_PROCESS_UNREFERENCED_REFUND")
    def unreferenced_refund(self, frame: Frame) -> None:
        d = frame.data
        amount = frames.amount(d)
        frames.text(d, "reason", limit=256)
        assert amount is not None
        pan = frames.text(d, "cardNumber", limit=19)
        if pan is None:
            # card present: the reader reads the card to credit
            if self.device is None:
                self.error(frames.SDK_ERROR, "DEVICE_NOT_CONNECTED",
                           "no device is connected to read the card: send REQ_INIT_DEVICE, "
                           "or key the card (cardNumber, expiryDate)", frame.type)
                return
            rec = self._record("REFUND", amount, frames.text(d, "orderId", limit=24))
            self._start(CardTransaction(self, self.device, rec))
            return
        if pan.isdigit():  # a card number in clear: hidden from here on, valid or not
            self.world.redactor.add_pan(pan)
        expiry = frames.text(d, "expiryDate", required=True) or ""  # MMYY, checked below
        cvv = frames.text(d, "cardCvv", limit=4)
        if cvv:
            self.world.redactor.add_secret(cvv)
        frames.text(d, "cardHolderName", limit=64)
        if not (pan.isdigit() and 12 <= len(pan) <= 19 and luhn_ok(pan)):
            raise FieldError("cardNumber is not a valid card number")
        if not (len(expiry) == 4 and expiry.isdigit() and 1 <= int(expiry[:2]) <= 12):
            raise FieldError("expiryDate must be MMYY")
        rec = self._record("REFUND", amount, frames.text(d, "orderId", limit=24))
        rec.masked_pan = mask_pan(pan)
        agent = self.agent

        def refund() -> Gen:
            from protocol_servers.gochip.sale import card_type_of
            from virtual_devices.acquirer.host import rid_for_pan
            from virtual_devices.emv.kernel.messages import AuthRequest

            yield self.world.timeout(agent.timings["host_roundtrip"])
            rid = rid_for_pan(pan)
            rec.card_type = card_type_of(rid.hex())
            req = AuthRequest("magstripe", amount, agent.settings.currency_code, pan, "00",
                              rid, {})
            entry = agent.acquirer.refund_to_card(req, key=rec.unique_ref)
            rec.ledger_ref = entry.ref
            self._refund_answer(rec, entry.approved, entry.response_code)
        self.later(frame.type, refund)

    # -- consults (§B.5) ---------------------------------------------------------------------
    @handles("REQ_GET_TRANSACTIONS")
    def get_transactions(self, frame: Frame) -> None:
        raw = frame.data.get("filter", frame.data)
        if not isinstance(raw, dict):
            raise FieldError("filter must be an object")
        listing = self.agent.records.listing(
            order_id=frames.text(raw, "orderId", limit=24),
            unique_ref=frames.text(raw, "uniqueRef", limit=32),
            kind=frames.text(raw, "transactionType", choices=("SALE", "REFUND")))
        self.send(frames.response("RES_ON_TRANSACTION_LIST_RESPONSE", {"transactions": listing}))

    @handles("REQ_CLOSE_TRANSACTIONS_BATCH")
    def close_batch(self, frame: Frame) -> None:
        self.send(frames.response("RES_ON_REQUEST_CLOSE_BATCH_RESPONSE",
                                  self.agent.records.close_batch(self.agent.clock())))

    @handles("REQ_GET_CALCULATED_AMOUNT")
    def calculated_amount(self, frame: Frame) -> None:
        d = frame.data
        amount = frames.amount(d)
        assert amount is not None
        tax = d.get("tax")
        if tax is None:
            taxes: list[str] = []
        elif isinstance(tax, str):
            taxes = [tax]
        elif isinstance(tax, list) and all(isinstance(t, str) for t in tax):
            taxes = list(tax)
        else:
            raise FieldError("tax must be a tax uid or a list of them")
        tip = frames.text(d, "tip", limit=64)
        custom = frames.amount(d, "customTipAmount", required=False, positive=False)
        self.send(frames.response("RES_ON_CALCULATED_AMOUNT_RESPONSE",
                                  self.agent.settings.calculate(amount, tip, taxes, custom)))


class Agent:
    """The reference GoChip Websockets service inside one world."""

    def __init__(self, world: World, config: AgentConfig | None = None, acquirer: Any = None,
                 settings: Settings | None = None, timings: Timings | None = None,
                 epoch: datetime | None = None, readers: dict[str, CardReader] | None = None
                 ) -> None:
        self.world = world
        self.config = config or AgentConfig()
        self.gateway = Gateway.load(self.config.gateway)
        self.acquirer = acquirer if acquirer is not None else self.gateway.acquirer()
        self.settings = settings or Settings.load()
        self.timings = timings or load_timings("protocol_servers.gochip")
        self.epoch = epoch or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        self.records = Records()
        # live connections; ended ones are kept only as the last few (for ``state`` and
        # the grades of a POS under test), so a long-running agent's memory stays flat
        self.sessions: list[Session] = []
        self.ended: deque[Session] = deque(maxlen=ENDED_KEPT)
        self.past = PastConduct()  # the grades of every ended connection, summed up
        self._refs = world.rng("gochip.refs")
        self.tokens = tokens.Tokens(world.rng("gochip.tokens"))  # the gateway's secure tokens
        # whether the gateway answers at all (a network fault the health listener sees;
        # False: every online request goes unanswered, as the $45.67 amount does)
        self.gateway_up = True
        self.readers: dict[str, CardReader] = dict(readers or {})
        if not self.readers and world.mode == "virtual":
            from protocol_servers.gochip import card_reader

            for name in self.config.readers:
                self.readers[name] = card_reader.virtual(world, name, self.acquirer,
                                                         self.config.cards,
                                                         self.config.customer,
                                                         self.settings.currency_code)

    def clock(self) -> datetime:
        return self.epoch + timedelta(seconds=self.world.now)

    def new_ref(self, length: int = 10) -> str:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        while True:
            ref = "".join(alphabet[self._refs.randrange(len(alphabet))] for _ in range(length))
            if ref not in self.records.items:
                return ref

    def pick_reader(self, port: str | None, session: Session) -> CardReader | str:
        """The reader ``portName`` names, or the first free one.

        Choice (the note is silent; the service is a local agent for one POS): a reader
        held by another connection that is idle is taken over by the connection that
        initialises it now - a POS that reconnects after a dropped socket, before the
        agent noticed the drop, gets its reader back. A reader in a transaction is not.
        """
        def owner_of(r: CardReader) -> Session | None:
            owner = r.owner
            if not isinstance(owner, Session) or owner is session or not owner.alive:
                return None
            return owner

        def usable(r: CardReader) -> bool:
            owner = owner_of(r)
            return owner is None or owner.current is None

        if port:
            reader = self.readers.get(port)
            if reader is None:
                return f"no reader on port {port[:64]}; ports: {', '.join(self.readers)}"
            candidates = [reader]
        else:
            # a free reader first, then one an idle connection holds
            candidates = sorted(self.readers.values(), key=lambda r: owner_of(r) is not None)
        for reader in candidates:
            if usable(reader):
                owner = owner_of(reader)
                if owner is not None:
                    owner.device_taken()
                return reader
        if port:
            return f"the reader on {port} is in a transaction of another connection"
        return "every reader is in a transaction of another connection"

    # -- transports -----------------------------------------------------------------------
    def accept(self, end: MessageEnd, info: Any = None) -> Session:
        def send(text: str) -> None:
            if not end.is_closed:
                end.send(text)

        session = Session(self, send, end.name)
        self.sessions.append(session)
        session.send(frames.response("RES_ON_WS_INIT_REQUIRED", {}))
        self.world.process(self._serve(session, end))
        return session

    def _serve(self, session: Session, end: MessageEnd) -> Gen:
        while True:
            msg = yield end.recv()
            if msg is None:
                session.gone()
                if session in self.sessions:
                    self.sessions.remove(session)
                    self.ended.append(session)
                    self.past.absorb(session.conduct)
                return
            if isinstance(msg, (str, bytes)):
                session.handle(msg)
            else:
                session.error(frames.WS_ERROR, "MALFORMED_FRAME", str(msg)[:200], None)

    # -- ledger ---------------------------------------------------------------------------
    def bookings(self) -> list[tuple[str, int]]:
        """Money the acquirer holds per record (signed minor units), for the invariant."""
        out = []
        ledger = self.acquirer.ledger
        for rec in self.records.items.values():
            entry = ledger.get(rec.ledger_ref) if rec.ledger_ref else None
            if entry is None or not entry.approved or entry.reversed:
                continue
            out.append((rec.unique_ref, entry.amount if rec.kind == "SALE" else -entry.amount))
        return out

    def ledger_problems(self) -> list[str]:
        out = list(self.acquirer.ledger.problems())
        for rec in self.records.items.values():
            if rec.told and rec.approved and rec.ledger_ref is None:
                out.append(f"{rec.unique_ref}: the POS was told approved, nothing was booked")
        return out

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()

    def observations(self) -> list[Observation]:
        """How every POS connection of the run behaved, graded (``--serve gochip``)."""
        return observations([*self.past.conducts(), *(s.conduct for s in self.sessions)])

    def state(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway.name,
            "sessions": [{"name": s.name, "state": s.state.state.value, "alive": s.alive,
                          "pos_grades": s.conduct.grades()}
                         for s in [*self.ended, *self.sessions][-ENDED_KEPT:]],
            "readers": {n: ("in use" if r.owner is not None else "free")
                        for n, r in self.readers.items()},
            "transactions": len(self.records.items),
        }


# request handlers that live in their own modules register themselves on import
from protocol_servers.gochip import offline, passthru, reversals, tokens  # noqa: E402, F401

__all__ = ["HANDLERS", "OUR_NAMES", "Agent", "AgentConfig", "Session", "State", "handles"]
