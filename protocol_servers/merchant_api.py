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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from protocol_servers.mpos.tables import TerminalTables, tables_from_config
from simulator.masking import mask_pan

if TYPE_CHECKING:
    from simulator.world import World
    from virtual_devices.acquirer import AcquirerHost


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
            self._tables = tables_from_config(self.host.terminal_config())
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
        """POST /1/transactions: authorize at the acquirer, book, answer."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise MerchantError("amount must be a positive integer in cents")
        card = self.read_card_hash(card_hash)
        pan = card.get("card_number", "")
        self.world.redactor.add_pan(pan)
        decision = self.host.authorize_card_fields(card, amount)
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

MAX_BODY = 64 * 1024


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        raise MerchantError("body too large", 413)
    body = await reader.readexactly(length) if length else b""
    return method.upper(), target, headers, body


def _body_fields(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in headers.get("content-type", "json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise MerchantError("body is not JSON") from None
        if not isinstance(data, dict):
            raise MerchantError("body must be a JSON object")
        return data
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def handle_http(
    backend: MerchantBackend, method: str, target: str, fields: dict[str, Any]
) -> tuple[int, dict[str, Any] | list[Any]]:
    """Route one request (sans-I/O: the caller runs it inside the world)."""
    path = urlsplit(target).path.rstrip("/")
    try:
        if method == "GET" and path == "/1/transactions/card_hash_key":
            return 200, backend.card_hash_key_json()
        if method == "POST" and path == "/1/transactions":
            raw_amount = fields.get("amount")
            try:
                amount = int(raw_amount) if not isinstance(raw_amount, bool) else -1  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise MerchantError("amount must be an integer in cents") from None
            card_hash = fields.get("card_hash")
            if not isinstance(card_hash, str) or not card_hash:
                raise MerchantError("card_hash is required")
            return 200, backend.create_transaction(card_hash, amount).as_json()
        if method == "POST" and path.startswith("/1/transactions/") and path.endswith(
            "/reversal"
        ):
            middle = path[len("/1/transactions/") : -len("/reversal")]
            if not middle.isdigit():
                raise MerchantError("transaction id must be a number", 404)
            return 200, backend.reverse_transaction(int(middle)).as_json()
        if method == "GET" and path.startswith("/1/transactions/"):
            tail = path.rsplit("/", 1)[1]
            if not tail.isdigit():
                raise MerchantError("transaction id must be a number", 404)
            return 200, backend.transaction(int(tail)).as_json()
        if method == "GET" and path == "/ledger":
            return 200, [t.as_json() for t in backend.ledger]
        return 404, {"errors": [{"type": "not_found", "message": f"{method} {path}"}]}
    except MerchantError as exc:
        return exc.status, {"errors": [{"type": "invalid_parameter", "message": str(exc)}]}


async def serve_merchant_http(
    backend: MerchantBackend, host: str = "127.0.0.1", port: int = 0
) -> asyncio.Server:
    """Serve the API on ``host:port`` (loopback only); each request runs inside the world."""
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the merchant API listens on loopback only")

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    method, target, headers, body = await _read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except (ValueError, MerchantError) as exc:
                    status, payload = 400, {"errors": [{"message": str(exc)}]}
                    _write(writer, status, payload, close=True)
                    return
                status, payload = _run_in_world(backend, method, target, headers, body)
                close = headers.get("connection", "").lower() == "close"
                _write(writer, status, payload, close)
                await writer.drain()
                if close:
                    return
        finally:
            writer.close()

    return await asyncio.start_server(client, host, port)


def _run_in_world(
    backend: MerchantBackend, method: str, target: str, headers: dict[str, str], body: bytes
) -> tuple[int, Any]:
    result: list[tuple[int, Any]] = []

    def run() -> None:
        try:
            result.append(handle_http(backend, method, target, _body_fields(headers, body)))
        except MerchantError as exc:
            result.append((exc.status, {"errors": [{"message": str(exc)}]}))

    backend.world.inject(run)
    return result[0]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    413: "Payload Too Large",
    502: "Bad Gateway",
    504: "Gateway Timeout",
}


def _write(writer: asyncio.StreamWriter, status: int, payload: Any, close: bool) -> None:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    writer.write(head.encode() + body)
