"""``terminalNotification`` values (paymentsense-connect.md §4.4) and what raises them.

The v1 set is the 31 values of §4.4; v0 lacks the cancel values, REPLACE_PAPER and
ENTER_CASHBACK (§10). What the card machine reports (:mod:`card_machine` events) maps to
values here, so the order a POS sees is the order things happen on the terminal:
TRANSACTION_STARTED, PRESENT_CARD, PLEASE_WAIT (card read), PIN_ENTRY (the pinpad shows
its PIN prompt), CONNECTING, CONNECTION_MADE, APPROVED or DECLINED, REMOVE_CARD (inserted
cards only), TRANSACTION_FINISHED. A keyed card (``cardholderNotPresent``) skips
PRESENT_CARD and REMOVE_CARD and says PLEASE_WAIT once its details are typed.
"""

from __future__ import annotations

V1 = (
    "APPROVED", "ATTEMPTING_CANCEL", "BAD_SWIPE", "CANCELLING", "CARD_ERROR", "CARD_EXPIRED",
    "CARD_NOT_SUPPORTED", "CONNECTING", "CONNECTION_MADE", "DECLINED", "DECLINED_BY_CARD",
    "INSERT_CARD", "PIN_ENTRY", "PLEASE_WAIT", "PRESENT_CARD", "PRESENT_ONLY_ONE_CARD",
    "PROCESSING_ERROR", "REMOVE_CARD", "RETRYING", "REQUEST_SENT", "RE_PRESENT_CARD",
    "SIGNATURE_VERIFICATION", "SIGNATURE_VERIFICATION_PROCESS_COMPLETED",
    "SIGNATURE_VERIFICATION_PROCESS_COULD_NOT_BE_COMPLETED",
    "SIGNATURE_VERIFICATION_IN_PROGRESS", "SIGNATURE_VERIFICATION_TIMEOUT",
    "TRANSACTION_FINISHED", "TRANSACTION_STARTED", "UNABLE_TO_CANCEL", "REPLACE_PAPER",
    "ENTER_CASHBACK",
)
V0 = tuple(v for v in V1 if v not in ("ATTEMPTING_CANCEL", "CANCELLING", "UNABLE_TO_CANCEL",
                                      "REPLACE_PAPER", "ENTER_CASHBACK"))

#: card machine event -> notification value (None: nothing the EPoS hears)
FROM_EVENT: dict[str, str | None] = {
    "card_inserted": "PLEASE_WAIT",
    "card_tapped": "PLEASE_WAIT",
    "card_swiped": "PLEASE_WAIT",
    # keyed entry: the PDQ's own prompts (number, expiry, code) have no value in the
    # §4.4 enum, so the EPoS hears nothing while they are typed and PLEASE_WAIT once
    # they are in, as after a card is read
    "card_keyed": "PLEASE_WAIT",
    "pin_entry": "PIN_ENTRY",
    "connecting": "CONNECTING",
    "connection_made": "CONNECTION_MADE",
    "host_answered": None,  # APPROVED/DECLINED come once the card has finished too
    "card_removed": None,
}

#: chip and PIN sale, chronological (§4.4 from the REST v2 example; REMOVE_CARD §9 A)
CHIP_AND_PIN = ("TRANSACTION_STARTED", "PRESENT_CARD", "PLEASE_WAIT", "PIN_ENTRY",
                "CONNECTING", "CONNECTION_MADE", "APPROVED", "REMOVE_CARD",
                "TRANSACTION_FINISHED")

#: keyed sale with cardholderNotPresent: no present-card screen (§4.3), no card to take
KEYED_CNP = ("TRANSACTION_STARTED", "PLEASE_WAIT", "CONNECTING", "CONNECTION_MADE",
             "APPROVED", "TRANSACTION_FINISHED")


def allowed(version: str) -> tuple[str, ...]:
    return V1 if version == "v1" else V0
