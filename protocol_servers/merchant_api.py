"""The merchant step between process and finish: Pagar.me's API, played by the acquirer side.

After process, a real merchant backend posts the ``card_hash`` to Pagar.me
(``POST /1/transactions``) and reads back ``acquirer_response_code`` and
``card_emv_response`` for finish (mpos-bridge.md §3.4, §5 step 4). Here that API is
:class:`MerchantBackend`, callable in-process (virtual mode, tests) and over local
HTTP on 127.0.0.1 (:func:`serve_merchant_http`), so a POS under test can do exactly
what its backend would. The backend owns the card_hash key pair, decrypts the hash
and hands the card to the acquirer host, which decides and computes the ARPC.

Every transaction is kept in :attr:`MerchantBackend.ledger` with its amount and
outcome, so a run can check that what the POS was told matches what was booked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Generator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol_servers.mpos.tables import TerminalTables, tables_from_config
from simulator.masking import mask_pan
from simulator.ports.http import JSON, Answer, HttpServer, Request, RouteError, Routes, serve_http

if TYPE_CHECKING:
    from simulator.world import World
    from virtual_devices.acquirer import AcquirerHost
    from virtual_devices.acquirer.link import HostLink

_LOG = logging.getLogger("cardloop.merchant_api")


class MerchantError(ValueError):
    """A request the API refuses; ``status`` is the HTTP status it answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Transaction:
    id: int
    amount: int
    status: str  # "authorized" | "refused" | "reversed"
    acquirer_response_code: str
    card_emv_response: str | None
    capture_method: str
    payment_method: str
    card_masked: str
    card_holder_name: str | None
    reference: str = ""
    entry_mode: str = ""  # the pinpad's reading ("chip", "contactless", ...), when told

    def as_json(self) -> dict[str, Any]:
        return {
            "object": "transaction",
            "id": self.id,
            "status": self.status,
            "amount": self.amount,
            "authorized_amount": self.amount if self.status == "authorized" else 0,
            "reversed_amount": self.amount if self.status == "reversed" else 0,
            "acquirer_response_code": self.acquirer_response_code,
            "card_emv_response": self.card_emv_response,
            "capture_method": self.capture_method,
            "payment_method": self.payment_method,
            "entry_mode": self.entry_mode,
            "card": {
                "first_digits": self.card_masked[:6],
                "last_digits": self.card_masked[-4:],
                "holder_name": self.card_holder_name,
            },
        }


def pagarme_code(iso: str) -> str:
    """Pagar.me reports 4-digit acquirer codes ("0000" approved); the host answers ISO 8583
    field 39 (2 characters). Numeric codes are zero-padded, others kept as they are."""
    return iso.zfill(4) if iso.isdigit() else iso


@dataclass
class MerchantBackend:
    """Pagar.me's API as the merchant sees it; also the bridge's acquirer link."""

    world: World
    acquirer: AcquirerHost | None = None
    ledger: list[Transaction] = field(default_factory=list)
    _tables: TerminalTables | None = None
    _public: rsa.RSAPublicKey | None = None
    _line: HostLink | None = None  # the API's own line to the acquirer (made when used)

    def __post_init__(self) -> None:
        if self.acquirer is None:
            from virtual_devices.acquirer import make_acquirer

            self.acquirer = make_acquirer(self.world)

    @property
    def host(self) -> AcquirerHost:
        assert self.acquirer is not None
        return self.acquirer

    # -- the bridge's acquirer link ------------------------------------------------------
    def terminal_tables(self) -> TerminalTables:
        if self._tables is None:
            keys = self.host.pin_keys
            self._tables = replace(tables_from_config(self.host.terminal_config()),
                                   pin_method=keys.method, pin_key=keys.key_index,
                                   working_key=keys.session_key())
        return self._tables

    def card_hash_key(self) -> tuple[str, rsa.RSAPublicKey]:
        key_id, pem = self.host.card_hash_key()
        if self._public is None:
            key = serialization.load_pem_public_key(pem.encode())
            assert isinstance(key, rsa.RSAPublicKey)
            self._public = key
        return key_id, self._public

    def card_hash_key_json(self) -> dict[str, Any]:
        key_id, pem = self.host.card_hash_key()
        return {"object": "card_hash_key", "id": key_id, "public_key": pem}

    # -- the merchant step ---------------------------------------------------------------
    def read_card_hash(self, card_hash: str) -> dict[str, str]:
        """The card fields inside a card_hash (what tests compare with the card shown)."""
        try:
            return self.host.decrypt_card_hash(card_hash)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MerchantError(f"card_hash cannot be read: {exc}") from None

    def create_transaction(self, card_hash: str, amount: int) -> Transaction:
        """POST /1/transactions: authorize at the acquirer, book, answer.

        On a healthy line the acquirer answers at once. With a back-end fault on the
        world's line (:func:`~virtual_devices.acquirer.link.set_line_fault`) the request
        goes over :meth:`transact`, which takes simulated time: a caller outside the
        world (a test between runs) has the world run until the answer; a caller inside
        a world process must ``yield from`` :meth:`transact` itself.
        """
        from virtual_devices.acquirer.link import line_fault

        if line_fault(self.world).mode == "none":
            card, request = self._request(card_hash, amount)
            return self._book(card, amount, self.host.card_fields_decision(
                self.host.authorise(request, kind="sale")))
        if self.world.mode != "virtual" or self.world.env.active_process is not None:
            raise RuntimeError("the line to the acquirer has a fault and takes time: "
                               "call transact() from inside the world")
        proc = self.world.process(self.transact(card_hash, amount))
        self.world.run(until=proc)
        return proc.value  # type: ignore[return-value]

    def transact(self, card_hash: str, amount: int) -> Generator[Any, Any, Transaction]:
        """POST /1/transactions over the line to the acquirer, on the world clock.

        The API is the acquirer's terminal here: it waits the host timeout, and when no
        answer came it sends the timeout reversal itself (by the request's key) and
        answers 504, so the merchant finishes with ``success=false`` and nothing stays
        booked (:class:`~virtual_devices.acquirer.link.HostLink`).
        """
        from virtual_devices.acquirer.link import HostLink

        card, request = self._request(card_hash, amount)
        key = self.host.natural_key(request) or f"merchant-{self.world.now:.6f}-{amount}"
        if self._line is None:
            self._line = HostLink(self.world, self.host, name="merchant.acquirer")
        response = yield from self._line.authorise(request, "sale", key)
        return self._book(card, amount, self.host.card_fields_decision(response))

    def _request(self, card_hash: str, amount: int) -> tuple[dict[str, str], Any]:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise MerchantError("amount must be a positive integer in cents")
        card = self.read_card_hash(card_hash)
        self.world.redactor.add_pan(card.get("card_number", ""))
        return card, self.host.card_fields_request(card, amount)

    def _book(self, card: dict[str, str], amount: int, decision: Any) -> Transaction:
        pan = card.get("card_number", "")
        if decision.timed_out:
            self.world.transcript.event("merchant", f"acquirer did not answer for {mask_pan(pan)}")
            raise MerchantError("the acquirer did not answer; finish with success=false", 504)
        txn = Transaction(
            id=len(self.ledger) + 1,
            amount=amount,
            status="authorized" if decision.approved else "refused",
            acquirer_response_code=pagarme_code(decision.response_code),
            card_emv_response=decision.issuer_data_hex or None,
            capture_method=card.get("capture_method", ""),
            payment_method=card.get("payment_method", ""),
            card_masked=mask_pan(pan),
            card_holder_name=card.get("card_holder_name"),
            reference=decision.reference,
            entry_mode=card.get("card_entry_mode", ""),
        )
        self.ledger.append(txn)
        self.world.transcript.event(
            "merchant",
            f"transaction {txn.id}: {txn.status} {txn.amount} {txn.card_masked} "
            f"code {txn.acquirer_response_code}",
        )
        return txn

    def reverse_transaction(self, txn_id: int) -> Transaction:
        """POST /1/transactions/<id>/reversal: undo an authorized sale at the acquirer.

        What the POS calls when the bridge's finish says the card declined after the
        host approved (mpos-bridge.md §3.3: Pagar.me's example refunded the API
        transaction then). Asking again for a reversed transaction answers it unchanged,
        so a POS retrying after a lost answer never reverses twice.
        """
        txn = self.transaction(txn_id)
        if txn.status == "reversed":
            return txn
        if txn.status != "authorized":
            raise MerchantError(f"transaction {txn_id} is {txn.status}; nothing to reverse")
        entry = self.host.reverse(txn.reference, key=f"merchant-reversal-{txn.reference}")
        if not entry.approved:
            raise MerchantError(
                f"the acquirer refused the reversal ({entry.response_code})", 502
            )
        txn.status = "reversed"
        self.world.transcript.event(
            "merchant", f"transaction {txn.id}: reversed {txn.amount} {txn.card_masked}"
        )
        return txn

    def transaction(self, txn_id: int) -> Transaction:
        for t in self.ledger:
            if t.id == txn_id:
                return t
        raise MerchantError(f"transaction {txn_id} not found", 404)


# -- local HTTP facade ----------------------------------------------------------------
# Pagar.me's routes, registered by decorator; each takes the backend and the request
# (already parsed by aiohttp) and returns an answer (sans-I/O: tests call them directly)
ROUTES = Routes()


def _error(status: int, message: str, kind: str = "invalid_parameter") -> Answer:
    return status, {"errors": [{"type": kind, "message": message}]}, JSON


def _id(request: Request) -> int:
    raw = request.params.get("id", "")
    if not raw.isdigit():
        raise MerchantError("transaction id must be a number", 404)
    return int(raw)


@ROUTES.route("GET", "/1/transactions/card_hash_key")
def _card_hash_key(backend: MerchantBackend, request: Request) -> Answer:
    return 200, backend.card_hash_key_json(), JSON


@ROUTES.route("POST", "/1/transactions")
def _create(backend: MerchantBackend, request: Request) -> Answer:
    return 200, backend.create_transaction(*_create_args(request)).as_json(), JSON


def _create_args(request: Request) -> tuple[str, int]:
    """card_hash and amount of a POST /1/transactions, checked."""
    fields = request.fields()
    raw_amount = fields.get("amount")
    try:
        amount = int(raw_amount) if not isinstance(raw_amount, bool) else -1  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MerchantError("amount must be an integer in cents") from None
    card_hash = fields.get("card_hash")
    if not isinstance(card_hash, str) or not card_hash:
        raise MerchantError("card_hash is required")
    return card_hash, amount


@ROUTES.route("POST", "/1/transactions/{id}/reversal")
def _reversal(backend: MerchantBackend, request: Request) -> Answer:
    return 200, backend.reverse_transaction(_id(request)).as_json(), JSON


@ROUTES.route("GET", "/1/transactions/{id}")
def _transaction(backend: MerchantBackend, request: Request) -> Answer:
    return 200, backend.transaction(_id(request)).as_json(), JSON


@ROUTES.route("GET", "/ledger")
def _ledger(backend: MerchantBackend, request: Request) -> Answer:
    return 200, [t.as_json() for t in backend.ledger], JSON


def dispatch(backend: MerchantBackend, request: Request) -> Answer:
    """Route one request to its handler; errors in Pagar.me's shape."""
    try:
        handler, params = ROUTES.match(request.method, request.path.rstrip("/") or "/")
        return handler(backend, Request(request.method, request.path, request.headers,
                                        request.body, params))
    except RouteError as exc:
        kind = "not_found" if exc.status == 404 else "method_not_allowed"
        return _error(exc.status, f"{request.method} {request.path}", kind)
    except MerchantError as exc:
        return _error(exc.status, str(exc))
    except ValueError as exc:  # a body that is neither JSON nor a form
        return _error(400, str(exc))


def handle_http(
    backend: MerchantBackend, method: str, target: str, fields: dict[str, Any]
) -> tuple[int, dict[str, Any] | list[Any]]:
    """One request with its fields already read (in-process callers and tests)."""
    body = json.dumps(fields).encode() if fields else b""
    status, payload, _ = dispatch(
        backend, Request(method.upper(), urlsplit(target).path, {"content-type": JSON}, body)
    )
    return status, payload


def _error_body(status: int, message: str) -> Any:
    return {"errors": [{"type": "invalid_request", "message": message}]}


async def serve_merchant_http(
    backend: MerchantBackend, host: str = "127.0.0.1", port: int = 0
) -> HttpServer:
    """Serve the API on ``http://host:port`` (loopback only); each request runs inside
    the world. Returns the running server (``.url``, ``await .close()``)."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the merchant API listens on loopback only")

    def handle(request: Request) -> Answer | Awaitable[Answer]:
        if (backend.world.running_realtime and request.method == "POST"
                and request.path.rstrip("/") == "/1/transactions"):
            return _create_on_line(backend, request)
        result: list[Answer] = []
        backend.world.inject(lambda: result.append(dispatch(backend, request)))
        return result[0]

    return await serve_http(handle, host=host, port=port, error_body=_error_body)


async def _create_on_line(backend: MerchantBackend, request: Request) -> Answer:
    """POST /1/transactions while the world runs in real time: the request goes over the
    API's line to the acquirer (:meth:`MerchantBackend.transact`) and the HTTP answer
    waits for the line's answer or its timeout, as Pagar.me's would."""
    done: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

    def settle(answer: Answer) -> None:
        if not done.done():
            done.set_result(answer)

    def run() -> Generator[Any, Any, None]:
        try:
            txn = yield from backend.transact(*_create_args(request))
        except MerchantError as exc:
            settle(_error(exc.status, str(exc)))
        except ValueError as exc:  # a body that is neither JSON nor a form
            settle(_error(400, str(exc)))
        except Exception as exc:  # contained: the API answers, the world goes on
            _LOG.error("merchant API request failed", exc_info=exc)
            settle(_error(500, "internal error"))
        else:
            settle((200, txn.as_json(), JSON))

    backend.world.inject(lambda: backend.world.process(run()))
    return await done
