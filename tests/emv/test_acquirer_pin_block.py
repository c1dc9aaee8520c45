"""The acquirer verifies online PIN blocks as an issuer would: DUKPT key from the test BDK
and the KSN, ISO 9564 format 0 with the PAN, compared with the PIN the catalogue card
holds; wrong PIN 55, a block it cannot decrypt or decode 81."""

from __future__ import annotations

import warnings

import pytest

from virtual_devices.abecs.dukpt import load_test_keys, provision
from virtual_devices.acquirer import AcquirerHost
from virtual_devices.emv.catalogue import catalogue
from virtual_devices.emv.kernel import AuthRequest

warnings.filterwarnings("ignore", message=".*TripleDES.*")

CARD = catalogue()["visa-online-pin"]


def block_for(pin: str, pan: str = CARD.pan) -> tuple[bytes, bytes]:
    """What the pinpad sends: a PIN block under the next DUKPT key, and its KSN."""
    return provision(load_test_keys()[16]).encrypt_pin(pin, pan)


def stripe_request(pin_block: bytes | None, ksn: bytes | None) -> AuthRequest:
    return AuthRequest("magstripe", 1000, 986, CARD.pan, "00", b"", {},
                       pin_block=pin_block, ksn=ksn)


def test_the_catalogue_pin_is_approved_and_another_is_55() -> None:
    assert CARD.pin is not None
    host = AcquirerHost()
    right = host.authorise(stripe_request(*block_for(CARD.pin)), key="right")
    wrong = host.authorise(stripe_request(*block_for("9999")), key="wrong")
    assert right is not None and right.approved and right.arc == "00"
    assert wrong is not None and not wrong.approved and wrong.arc == "55"
    assert [e.response_code for e in host.ledger.entries] == ["00", "55"]
    assert not any(CARD.pin in line or "9999" in line for line in host.log)


def test_a_block_made_with_another_pan_does_not_verify() -> None:
    """Format 0 binds the PIN to the PAN: the same PIN under another PAN decodes wrong."""
    assert CARD.pin is not None
    rsp = AcquirerHost().authorise(stripe_request(*block_for(CARD.pin, "5413330089010012")))
    assert rsp is not None and rsp.arc in ("55", "81")


@pytest.mark.parametrize("mangle", ["short-block", "short-ksn", "unknown-key-set"])
def test_a_block_the_host_cannot_decrypt_is_81(mangle: str) -> None:
    assert CARD.pin is not None
    block, ksn = block_for(CARD.pin)
    if mangle == "short-block":
        block = block[:5]
    elif mangle == "short-ksn":
        ksn = ksn[:8]
    else:
        ksn = bytes.fromhex("AAAA") + ksn[2:]
    rsp = AcquirerHost().authorise(stripe_request(block, ksn))
    assert rsp is not None and not rsp.approved and rsp.arc == "81"


def test_card_hash_fields_carry_the_block_to_the_check() -> None:
    """mpos-bridge.md §3.4: card_pin (16 hex) and card_pin_kek (the KSN, 20 hex)."""
    assert CARD.pin is not None

    def fields(pin: str) -> dict[str, str]:
        block, ksn = block_for(pin)
        return {"capture_method": "magstripe", "card_number": CARD.pan,
                "card_pin_mode": "online", "card_pin": block.hex().upper(),
                "card_pin_kek": ksn.hex().upper()}

    host = AcquirerHost()
    right = host.authorize_card_fields(fields(CARD.pin), 1000, key="a")
    wrong = host.authorize_card_fields(fields("0000"), 1000, key="b")
    garbled = host.authorize_card_fields({**fields(CARD.pin), "card_pin": "zz"}, 1000, key="c")
    assert (right.approved, right.response_code) == (True, "00")
    assert (wrong.approved, wrong.response_code) == (False, "55")
    assert (garbled.approved, garbled.response_code) == (False, "81")
