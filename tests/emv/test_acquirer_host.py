"""The acquirer host: cryptogram checks, rules, ledger invariants, tables, card_hash."""

from __future__ import annotations

import base64
import random
import urllib.parse
import warnings
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from virtual_devices.acquirer import (
    AcquirerHost,
    Ledger,
    LedgerError,
    Rule,
    default_terminal_config,
    load_rules,
)
from virtual_devices.acquirer.ledger import Entry
from virtual_devices.emv import pki, tlv
from virtual_devices.emv.card import load_card
from virtual_devices.emv.kernel import AuthRequest, ContactKernel, Txn
from virtual_devices.emv.kernel.loop import PlainLoop as Loop

warnings.filterwarnings("ignore", category=DeprecationWarning)


def online_request(name: str = "visa-chip-pin", amount: int = 1234) -> AuthRequest:
    """A real ARQC request: the kernel runs up to the first GENERATE AC."""
    card = load_card(name)
    card.power_on("contact")
    k = ContactKernel(default_terminal_config(), Txn(amount), random.Random(1))
    loop = Loop(card, [card.profile.pin])
    loop.run(k.select_and_read())
    loop.run(k.go_on_chip())
    return k.auth_request()


def test_valid_arqc_is_approved_with_an_arpc() -> None:
    host = AcquirerHost()
    resp = host.authorise(online_request())
    assert resp is not None and resp.arc == "00" and resp.approved
    assert resp.issuer_auth_data is not None and len(resp.issuer_auth_data) == 10
    assert host.ledger.entries[0].meta["scheme"] == "visa-cvn10"


@pytest.mark.parametrize("name", ["mc-chip-signature", "elo-credit", "amex-chip-pin"])
def test_each_brand_scheme_verifies(name: str) -> None:
    host = AcquirerHost()
    resp = host.authorise(online_request(name))
    assert resp is not None and resp.approved, host.log


def test_tampered_arqc_is_declined_without_issuer_data() -> None:
    req = online_request()
    bad = replace(req, emv={**req.emv, 0x9F26: bytes(8)})
    host = AcquirerHost()
    resp = host.authorise(bad)
    assert resp is not None and resp.arc == "82" and resp.issuer_auth_data is None
    assert not host.ledger.entries[0].approved


def test_changed_amount_breaks_the_cryptogram() -> None:
    req = online_request()
    bad = replace(req, amount=9999, emv={**req.emv, 0x9F02: bytes.fromhex("000000009999")})
    resp = AcquirerHost().authorise(bad)
    assert resp is not None and resp.arc == "82"


def test_same_cryptogram_twice_is_one_transaction() -> None:
    host = AcquirerHost()
    req = online_request()
    first = host.authorise(req)
    again = host.authorise(req)
    assert first is again
    assert len(host.ledger) == 1 and host.ledger.duplicates_refused == 1
    assert host.ledger.balance()["settled"] == req.amount


def test_rules_magic_amounts_and_card_rules() -> None:
    host = AcquirerHost()
    assert host.authorise(online_request(amount=4567)) is None  # no response
    assert len(host.ledger) == 0
    resp = host.authorise(online_request(amount=5100))
    assert resp is not None and resp.arc == "51"
    resp = host.authorise(online_request("mc-issuer-decline"))
    assert resp is not None and resp.arc == "51"


def test_scripts_are_sent_when_a_rule_says_so() -> None:
    resp = AcquirerHost().authorise(online_request(amount=7100))
    assert resp is not None and len(resp.scripts_71) == 1 and not resp.scripts_72
    script = tlv.decode(resp.scripts_71[0])[0]
    assert script.tag == 0x71
    command = tlv.find(script.children, 0x86)
    assert command is not None and command[:4] == bytes.fromhex("04DA9F14")


def test_other_rule_profiles() -> None:
    fd = load_rules("first-data")
    assert fd.decide(10123, "4761739001010010").response_code == "23"
    tsys = load_rules("tsys")
    assert tsys.decide(1001, "4761739001010010").action == "decline"
    assert tsys.decide(1000, "4761739001010010").action == "approve"
    with pytest.raises(KeyError):
        load_rules("nope")


def test_scenario_rule_overrides_the_profile() -> None:
    host = AcquirerHost()
    host.rules.add(Rule(action="decline", response_code="05", amount=1234))
    resp = host.authorise(online_request())
    assert resp is not None and resp.arc == "05"


def test_preauth_capture_refund_reversal() -> None:
    host = AcquirerHost()
    pre = host.preauthorise(online_request(amount=5000))
    assert pre is not None and pre.approved
    assert host.ledger.balance() == {"settled": 0, "refunded": 0, "net": 0, "held": 5000}
    cap = host.capture(pre.reference, 4000, key="cap-1")
    assert cap.approved and host.capture(pre.reference, 4000, key="cap-1") is cap
    assert host.capture(pre.reference, 2000, key="cap-2").response_code == "12"  # > held
    refund = host.refund(cap.ref, 1500, key="ref-1")
    assert refund.approved
    assert host.refund(cap.ref, 3000, key="ref-2").approved is False
    assert host.ledger.balance() == {"settled": 4000, "refunded": 1500, "net": 2500,
                                     "held": 1000}
    sale = host.authorise(online_request(amount=700))
    assert sale is not None
    host.reverse(sale.reference)
    assert host.ledger.balance()["net"] == 2500
    assert host.reverse("T999999").response_code == "25"


def test_ledger_check_finds_lost_and_unknown_payments() -> None:
    host = AcquirerHost()
    resp = host.authorise(online_request())
    assert resp is not None
    assert host.ledger.check([{"ref": resp.reference, "amount": 1234, "approved": True}]) == []
    problems = host.ledger.check([])
    assert any("unknown to the POS" in p for p in problems)
    problems = host.ledger.check([
        {"ref": resp.reference, "amount": 1234, "approved": True},
        {"key": "pos-42", "amount": 100, "approved": True},
    ])
    assert any("lost" in p for p in problems)
    problems = host.ledger.check([{"ref": resp.reference, "amount": 999, "approved": True}])
    assert any("amount" in p for p in problems)


def test_ledger_refuses_bad_entries() -> None:
    ledger = Ledger()
    ledger.add(Entry("T1", "sale", 100, 986, True, "00", "k1"))
    with pytest.raises(LedgerError):
        ledger.add(Entry("T2", "sale", 100, 986, True, "00", "k1"))
    with pytest.raises(LedgerError):
        ledger.add(Entry("T3", "sale", -5, 986, True, "00", "k3"))
    with pytest.raises(LedgerError):
        ledger.add(Entry("T4", "bogus", 5, 986, True, "00", "k4"))


def test_default_tables_hold_the_test_capks_and_brand_aids() -> None:
    config = default_terminal_config()
    rids = {a.aid[:5].hex().upper() for a in config.aids}
    assert {"A000000003", "A000000004", "A000000025", "A000000494"} <= rids
    for capk in pki.capk_records():
        mine = config.capk(capk.rid, capk.index)
        assert mine is not None and mine.modulus == capk.modulus and mine.checksum_ok
    assert AcquirerHost().table_version == config.table_version


def test_card_hash_round_trip() -> None:
    host = AcquirerHost()
    key_id, pem = host.card_hash_key()
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    form = urllib.parse.urlencode({"capture_method": "emv", "card_number": "4761739001010010",
                                   "card_emv_data": "9F2608" + "00" * 8 + "AB" * 100})
    size = public.key_size // 8 - 11
    raw = form.encode()
    blob = b"".join(public.encrypt(raw[i:i + size], padding.PKCS1v15())
                    for i in range(0, len(raw), size))
    fields = host.decrypt_card_hash(f"{key_id}_{base64.b64encode(blob).decode()}")
    assert fields["card_number"] == "4761739001010010"
    with pytest.raises(ValueError):
        host.decrypt_card_hash("other_" + base64.b64encode(blob).decode())
    with pytest.raises(ValueError):
        host.decrypt_card_hash(f"{key_id}_!!!")


def test_authorize_card_fields_from_goc_tags() -> None:
    req = online_request()
    tags = [0x5F2A, 0x82, 0x95, 0x9A, 0x9C, 0x9F02, 0x9F10, 0x9F1A, 0x9F1E, 0x9F26, 0x9F33,
            0x9F36, 0x9F37, 0x9F27, 0x9F34]
    emv = b"".join(tlv.encode(t, req.emv[t]) for t in tags if t in req.emv)
    host = AcquirerHost()
    decision = host.authorize_card_fields(
        {"card_number": req.pan, "card_sequence_number": str(int(req.psn)),
         "capture_method": "emv", "card_emv_data": emv.hex()}, req.amount)
    assert decision.approved and decision.response_code == "00"
    assert tlv.find(bytes.fromhex(decision.issuer_data_hex), 0x91) is not None


def test_request_without_aid_uses_the_pan_brand() -> None:
    req = online_request("mc-chip-signature")
    resp = AcquirerHost().authorise(replace(req, aid=b""))
    assert resp is not None and resp.approved
