"""TVR and TSI bits, named as EMV 4.4 Book 3 Annex C5/C6 name them.

Each constant is ``(byte index, mask)`` with the byte index counted from 1 as the
book counts, so ``TVR_ODA_NOT_PERFORMED == (1, 0x80)`` reads "byte 1, bit 8".
"""

from __future__ import annotations

Bit = tuple[int, int]

# -- Terminal Verification Results (95), Book 3 Annex C5 ----------------------------
TVR_ODA_NOT_PERFORMED: Bit = (1, 0x80)
TVR_SDA_FAILED: Bit = (1, 0x40)
TVR_ICC_DATA_MISSING: Bit = (1, 0x20)
TVR_CARD_ON_EXCEPTION_FILE: Bit = (1, 0x10)
TVR_DDA_FAILED: Bit = (1, 0x08)
TVR_CDA_FAILED: Bit = (1, 0x04)
TVR_SDA_SELECTED: Bit = (1, 0x02)

TVR_DIFFERENT_APP_VERSIONS: Bit = (2, 0x80)
TVR_EXPIRED_APPLICATION: Bit = (2, 0x40)
TVR_APP_NOT_YET_EFFECTIVE: Bit = (2, 0x20)
TVR_SERVICE_NOT_ALLOWED: Bit = (2, 0x10)
TVR_NEW_CARD: Bit = (2, 0x08)

TVR_CV_NOT_SUCCESSFUL: Bit = (3, 0x80)
TVR_UNRECOGNISED_CVM: Bit = (3, 0x40)
TVR_PIN_TRY_LIMIT_EXCEEDED: Bit = (3, 0x20)
TVR_PIN_PAD_NOT_PRESENT: Bit = (3, 0x10)
TVR_PIN_NOT_ENTERED: Bit = (3, 0x08)
TVR_ONLINE_PIN_ENTERED: Bit = (3, 0x04)

TVR_FLOOR_LIMIT_EXCEEDED: Bit = (4, 0x80)
TVR_LOWER_OFFLINE_LIMIT_EXCEEDED: Bit = (4, 0x40)
TVR_UPPER_OFFLINE_LIMIT_EXCEEDED: Bit = (4, 0x20)
TVR_RANDOMLY_SELECTED_ONLINE: Bit = (4, 0x10)
TVR_MERCHANT_FORCED_ONLINE: Bit = (4, 0x08)

TVR_DEFAULT_TDOL_USED: Bit = (5, 0x80)
TVR_ISSUER_AUTH_FAILED: Bit = (5, 0x40)
TVR_SCRIPT_FAILED_BEFORE_FINAL_GENAC: Bit = (5, 0x20)
TVR_SCRIPT_FAILED_AFTER_FINAL_GENAC: Bit = (5, 0x10)

# -- Transaction Status Information (9B), Book 3 Annex C6 ---------------------------
TSI_ODA_PERFORMED: Bit = (1, 0x80)
TSI_CVM_PERFORMED: Bit = (1, 0x40)
TSI_CARD_RISK_MANAGEMENT_PERFORMED: Bit = (1, 0x20)
TSI_ISSUER_AUTH_PERFORMED: Bit = (1, 0x10)
TSI_TRM_PERFORMED: Bit = (1, 0x08)
TSI_SCRIPT_PROCESSING_PERFORMED: Bit = (1, 0x04)

# -- Application Interchange Profile (82), Book 3 Annex C1 --------------------------
AIP_SDA: Bit = (1, 0x40)
AIP_DDA: Bit = (1, 0x20)
AIP_CVM: Bit = (1, 0x10)
AIP_TRM: Bit = (1, 0x08)
AIP_ISSUER_AUTH: Bit = (1, 0x04)
AIP_CDCVM: Bit = (1, 0x02)
AIP_CDA: Bit = (1, 0x01)

# -- Terminal Capabilities (9F33), Book 4 Annex A2 ----------------------------------
CAP_PLAINTEXT_PIN: Bit = (2, 0x80)
CAP_ONLINE_PIN: Bit = (2, 0x40)
CAP_SIGNATURE: Bit = (2, 0x20)
CAP_ENCIPHERED_PIN: Bit = (2, 0x10)
CAP_NO_CVM: Bit = (2, 0x08)
CAP_SDA: Bit = (3, 0x80)
CAP_DDA: Bit = (3, 0x40)
CAP_CARD_CAPTURE: Bit = (3, 0x20)
CAP_CDA: Bit = (3, 0x08)

# -- Application Usage Control (9F07), Book 3 Annex C2 ------------------------------
AUC_DOMESTIC_CASH: Bit = (1, 0x80)
AUC_INTERNATIONAL_CASH: Bit = (1, 0x40)
AUC_DOMESTIC_GOODS: Bit = (1, 0x20)
AUC_INTERNATIONAL_GOODS: Bit = (1, 0x10)
AUC_DOMESTIC_SERVICES: Bit = (1, 0x08)
AUC_INTERNATIONAL_SERVICES: Bit = (1, 0x04)
AUC_ATMS: Bit = (1, 0x02)
AUC_NON_ATMS: Bit = (1, 0x01)
AUC_DOMESTIC_CASHBACK: Bit = (2, 0x80)
AUC_INTERNATIONAL_CASHBACK: Bit = (2, 0x40)

# -- Terminal Transaction Qualifiers (9F66) and Card Transaction Qualifiers (9F6C) ---
TTQ_MAGSTRIPE_MODE: Bit = (1, 0x80)
TTQ_QVSDC: Bit = (1, 0x20)
TTQ_CONTACT_EMV: Bit = (1, 0x10)
TTQ_OFFLINE_ONLY: Bit = (1, 0x08)
TTQ_ONLINE_PIN: Bit = (1, 0x04)
TTQ_SIGNATURE: Bit = (1, 0x02)
TTQ_ODA_ONLINE: Bit = (1, 0x01)
TTQ_ONLINE_CRYPTOGRAM_REQUIRED: Bit = (2, 0x80)
TTQ_CVM_REQUIRED: Bit = (2, 0x40)
TTQ_CDCVM: Bit = (3, 0x40)
CTQ_ONLINE_PIN_REQUIRED: Bit = (1, 0x80)
CTQ_SIGNATURE_REQUIRED: Bit = (1, 0x40)
CTQ_CDCVM_PERFORMED: Bit = (2, 0x80)


def has(data: bytes | bytearray | None, bit: Bit) -> bool:
    """True when ``bit`` is set in ``data`` (absent data or short data: False)."""
    byte, mask = bit
    return data is not None and len(data) >= byte and bool(data[byte - 1] & mask)


class BitField:
    """A mutable TVR/TSI-like field that is set bit by bit."""

    def __init__(self, size: int) -> None:
        self._data = bytearray(size)

    def set(self, bit: Bit) -> None:
        byte, mask = bit
        self._data[byte - 1] |= mask

    def clear(self, bit: Bit) -> None:
        byte, mask = bit
        self._data[byte - 1] &= ~mask & 0xFF

    def __contains__(self, bit: Bit) -> bool:
        return has(self._data, bit)

    def __bytes__(self) -> bytes:
        return bytes(self._data)

    def hex(self) -> str:
        return self._data.hex().upper()


def names(data: bytes, table: dict[str, Bit], prefix: str) -> list[str]:
    """Names of the set bits, for reports (``names(tvr, globals(), 'TVR_')``)."""
    return [n[len(prefix):] for n, b in table.items() if n.startswith(prefix) and has(data, b)]
