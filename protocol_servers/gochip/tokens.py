"""Secure tokens (W-NEW328, semi-and-websockets.md §B.5 "Tokens"): a card kept at the
gateway under the merchant's reference, answered in ``RES_ON_SECURE_TOKEN_RESPONSE``.

From the material: the request names (``REQ_REGISTER/UPDATE/DELETE/RETRIEVE_SECURE_TOKEN``,
``REQ_RETRIEVE_SECURE_TOKEN_HISTORY``), the answer ``{secureTokenResponse:
{secureTokenCredentialsNumber, secureTokenMerchantReference, coreSecureToken:
{credentialsNumber, merchantReference, maskedPan, history, ...}}}``, the sale's
``secureTokenMerchantRef`` and the sale response's ``secureTokenCredentialsNumber`` /
``secureTokenMerchantRef``, ``secureTokenHistory`` of ``REQ_INIT_DEVICE`` turning the
``history`` on (a list of transaction summaries), and registration and update reading
the card on the device (IDTech, BBPos).

Ours (the material shows no request bodies): every token request names the token by
``merchantReference``; registration and update read the card on the connected reader
with no amount (:meth:`CardReader.read_without_amount`), then ask for it back (RMC);
registering a reference that exists, or touching one that does not, is refused
(``SECURE_TOKEN_EXISTS`` / ``SECURE_TOKEN_NOT_FOUND``); history retrieval without
``secureTokenHistory`` is refused (``SECURE_TOKEN_HISTORY_DISABLED``). A sale with
``secureTokenMerchantRef`` registers the card it read under that reference (or uses the
token already there for the same card; another card under it is refused at the final
frame's token fields, which are then left out). The credentials number is 16 digits that
never pass the Luhn check (it must not read as a card number). No money moves: tokens
never touch the ledger, and charging a token without the card has no WebSocket message
in the material, so it is not offered.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.gochip import frames
from protocol_servers.gochip.agent import handles
from protocol_servers.gochip.card_reader import ReaderFailure
from protocol_servers.gochip.frames import Amount, Frame
from protocol_servers.gochip.records import Record, iso
from simulator.masking import luhn_ok, mask_pan

if TYPE_CHECKING:
    from protocol_servers.gochip.agent import Session

Gen = Generator[simpy.Event, Any, Any]
ANSWER = "RES_ON_SECURE_TOKEN_RESPONSE"


@dataclass
class Token:
    merchant_ref: str
    credentials: str
    pan: str  # kept at the "gateway" only, never sent
    card_type: str
    expiry: str  # MMYY
    holder: str
    history: list[str] = field(default_factory=list)  # uniqueRefs of its transactions


class Tokens:
    """The gateway's secure tokens, by merchant reference."""

    def __init__(self, rng: Any) -> None:
        self.by_ref: dict[str, Token] = {}
        self._rng = rng

    def credentials(self) -> str:
        while True:
            digits = "".join(str(self._rng.randrange(10)) for _ in range(16))
            if digits[0] != "0" and not luhn_ok(digits):
                return digits

    def register(self, merchant_ref: str, pan: str, card_type: str, expiry: str,
                 holder: str) -> Token:
        token = Token(merchant_ref, self.credentials(), pan, card_type, expiry, holder)
        self.by_ref[merchant_ref] = token
        return token


def body(session: Session, token: Token, deleted: bool = False) -> dict[str, Any]:
    core: dict[str, Any] = {
        "credentialsNumber": token.credentials, "merchantReference": token.merchant_ref,
        "maskedPan": mask_pan(token.pan), "cardType": token.card_type,
        "expiryDate": token.expiry, "cardHolderName": token.holder, "customFields": [],
    }
    if session.device_params.get("secureTokenHistory"):
        core["history"] = [summary(rec) for ref in token.history
                           if (rec := session.agent.records.get(ref)) is not None]
    if deleted:
        core["deleted"] = True  # ours
    return {"secureTokenResponse": {"secureTokenCredentialsNumber": token.credentials,
                                    "secureTokenMerchantReference": token.merchant_ref,
                                    "coreSecureToken": core}}


def summary(rec: Record) -> dict[str, Any]:
    """A transaction as the token history lists it (W-NEW328's sample fields)."""
    return {"amount": Amount(rec.amount), "orderId": rec.order_id,
            "transactionDate": iso(rec.when), "transactionState": "",
            "transactionStatus": rec.status, "transactionType": rec.kind,
            "uniqueRef": rec.unique_ref, "cardNumber": rec.masked_pan,
            "cardType": rec.card_type, "currency": rec.currency, "code": rec.code,
            "description": rec.description}


def for_sale(session: Session, merchant_ref: str, pan: str, rec: Record,
             fields: dict[str, str]) -> dict[str, Any]:
    """The token fields of an approved sale that asked for ``merchant_ref`` (see module)."""
    tokens = session.agent.tokens
    token = tokens.by_ref.get(merchant_ref)
    if token is None:
        token = tokens.register(merchant_ref, pan, rec.card_type, fields["expiryDate"],
                                fields["cardHolderName"])
    elif token.pan != pan:
        return {}
    token.history.append(rec.unique_ref)
    return {"secureTokenCredentialsNumber": token.credentials,
            "secureTokenMerchantRef": token.merchant_ref}


def _reference(frame: Frame) -> str:
    ref = frames.text(frame.data, "merchantReference", required=True, limit=64)
    if not ref:
        raise frames.FieldError("merchantReference must not be empty")
    return ref


def _read_card(session: Session, frame: Frame, merchant_ref: str, update: bool) -> None:
    """Registration and update: the card on the reader, then the token."""
    from protocol_servers.gochip.card_reader import card_fields
    from protocol_servers.gochip.sale import card_type_of
    from virtual_devices.acquirer.host import rid_for_pan

    reader = session.device
    if reader is None:
        session.error(frames.SDK_ERROR, "DEVICE_NOT_CONNECTED",
                      "the card is read on the device: send REQ_INIT_DEVICE first", frame.type)
        return
    tokens = session.agent.tokens

    def run() -> Gen:
        with reader.lock.request() as turn:
            yield turn
            reader.on_message = session.message
            try:
                card = yield from reader.read_without_amount(
                    session.agent.clock(), session.agent.timings["card_presentation_timeout"])
            except ReaderFailure as exc:
                session.error(frames.DEVICE_ERROR, "CARD_READ_FAILED",
                              f"the card was not read: {exc}", frame.type)
                yield from reader.remove_card()
                reader.on_message = None
                return
            fields = card_fields(card)
            card_type = card_type_of(rid_for_pan(card.pan).hex().upper())
            if update:
                token = tokens.by_ref[merchant_ref]
                token.pan, token.card_type = card.pan, card_type
                token.expiry, token.holder = fields["expiryDate"], fields["cardHolderName"]
            else:
                token = tokens.register(merchant_ref, card.pan, card_type,
                                        fields["expiryDate"], fields["cardHolderName"])
            yield session.world.timeout(session.agent.timings["host_roundtrip"])
            session.send(frames.response(ANSWER, body(session, token)))
            reader.tell("REMOVE_CARD")
            yield from reader.remove_card(session.agent.timings["card_removal_timeout"])
            reader.on_message = None
    session.later(frame.type, run)


@handles("REQ_REGISTER_SECURE_TOKEN")
def register(session: Session, frame: Frame) -> None:
    ref = _reference(frame)
    if ref in session.agent.tokens.by_ref:
        session.error(frames.SDK_ERROR, "SECURE_TOKEN_EXISTS",
                      f"a secure token is registered as {ref[:32]}", frame.type)
        return
    _read_card(session, frame, ref, update=False)


def _known(session: Session, frame: Frame) -> Token | None:
    ref = _reference(frame)
    token = session.agent.tokens.by_ref.get(ref)
    if token is None:
        session.error(frames.SDK_ERROR, "SECURE_TOKEN_NOT_FOUND",
                      f"no secure token {ref[:32]}", frame.type)
    return token


@handles("REQ_UPDATE_SECURE_TOKEN")
def update(session: Session, frame: Frame) -> None:
    token = _known(session, frame)
    if token is not None:
        _read_card(session, frame, token.merchant_ref, update=True)


@handles("REQ_DELETE_SECURE_TOKEN")
def delete(session: Session, frame: Frame) -> None:
    token = _known(session, frame)
    if token is not None:
        del session.agent.tokens.by_ref[token.merchant_ref]
        session.send(frames.response(ANSWER, body(session, token, deleted=True)))


@handles("REQ_RETRIEVE_SECURE_TOKEN")
def retrieve(session: Session, frame: Frame) -> None:
    token = _known(session, frame)
    if token is not None:
        session.send(frames.response(ANSWER, body(session, token)))


@handles("REQ_RETRIEVE_SECURE_TOKEN_HISTORY")
def history(session: Session, frame: Frame) -> None:
    if not session.device_params.get("secureTokenHistory"):
        session.error(frames.SDK_ERROR, "SECURE_TOKEN_HISTORY_DISABLED",
                      "the history is on with secureTokenHistory true in REQ_INIT_DEVICE",
                      frame.type)
        return
    token = _known(session, frame)
    if token is not None:
        session.send(frames.response(ANSWER, body(session, token)))
