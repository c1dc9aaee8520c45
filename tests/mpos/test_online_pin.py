"""The merchant step verifies the online PIN the bridge put in card_hash (mpos-bridge.md
§3.4: ``card_pin`` and ``card_pin_kek``): the acquirer decrypts the pinpad's DUKPT block,
or its master key / working key block (KSN of zeros, the working key the acquirer gave
the terminal with its tables), approves the right PIN and declines a wrong one with 55
(Pagar.me code 0055)."""

from __future__ import annotations

from typing import Any

from protocol_servers.merchant_api import MerchantBackend
from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.lab import build_lab
from simulator.world import World
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.acquirer import AcquirerHost, PinKeys
from virtual_devices.emv.catalogue import catalogue

CARD = "visa-online-pin"
AMOUNT = 2500


def _sale(wrong_pins: int, pin_keys: PinKeys | None = None) -> tuple[World, Any, dict[str, Any]]:
    w = World(seed=4)
    pin = catalogue()[CARD].pin
    assert pin is not None
    backend = MerchantBackend(w, AcquirerHost(pin_keys=pin_keys)) if pin_keys else None
    lab = build_lab(w, readers=1, cards=[card_from_name(w, CARD)],
                    behaviour=Behaviour(pin=pin, wrong_pins=wrong_pins), backend=backend)
    c = MposClient(w, lab.connect())
    out: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        p = yield from c.process("s", AMOUNT)
        out["process"] = p
        card_hash = p["process"]["card_hash"]
        out["fields"] = lab.backend.read_card_hash(card_hash)
        txn = lab.backend.create_transaction(card_hash, AMOUNT)
        out["txn"] = txn
        yield from c.finish("s", success=True, response_code=int(txn.acquirer_response_code),
                            emv_data=txn.card_emv_response)
        yield from c.close("s")

    w.run(until=w.process(flow()))
    return w, lab, out


def test_right_online_pin_is_authorized() -> None:
    w, lab, out = _sale(0)
    assert out["process"]["process"]["is_online_pin"] is True
    assert out["fields"]["card_pin_mode"] == "online" and len(out["fields"]["card_pin"]) == 16
    assert out["txn"].status == "authorized"
    assert [e.response_code for e in lab.backend.host.ledger.entries] == ["00"]
    assert out["fields"]["card_pin"] not in w.transcript.jsonl()


def test_wrong_online_pin_is_refused_55() -> None:
    w, lab, out = _sale(1)
    assert out["txn"].status == "refused"
    assert int(out["txn"].acquirer_response_code) == 55
    assert [e.response_code for e in lab.backend.host.ledger.entries] == ["55"]
    assert lab.backend.host.ledger.balance()["settled"] == 0


def test_master_key_working_key_pin_is_verified() -> None:
    keys = PinKeys.master_key(key_index=1)
    w, lab, out = _sale(0, keys)
    assert out["fields"]["card_pin_mode"] == "online"
    assert out["fields"]["card_pin_kek"] == "0" * 20  # no KSN: an MK/WK block
    assert out["txn"].status == "authorized"
    assert [e.response_code for e in lab.backend.host.ledger.entries] == ["00"]
    # the block really is under the acquirer's working key, not a DUKPT one
    from virtual_devices.acquirer.pinpad_keys import open_mk_pin

    block = bytes.fromhex(out["fields"]["card_pin"])
    assert open_mk_pin(keys.working_key or b"", block, out["fields"]["card_number"]) == \
        catalogue()[CARD].pin


def test_master_key_working_key_wrong_pin_is_refused_55() -> None:
    w, lab, out = _sale(1, PinKeys.master_key(key_index=1))
    assert out["txn"].status == "refused"
    assert int(out["txn"].acquirer_response_code) == 55


def test_an_mk_wk_block_at_a_dukpt_acquirer_is_a_pin_crypto_error() -> None:
    """A block with no KSN reaching an acquirer whose terminals use DUKPT: 81, never
    an approval."""
    from psec import pinblock

    from virtual_devices.acquirer import verify_pin_block
    from virtual_devices.acquirer.pinpad_keys import TEST_PIN_WORKING_KEY, _tdes_encrypt
    from virtual_devices.emv.kernel.messages import AuthRequest

    pan = "4761739001010010"
    block = _tdes_encrypt(TEST_PIN_WORKING_KEY, pinblock.encode_pinblock_iso_0("1234", pan))
    req = AuthRequest(interface="contact", amount=100, currency=986, pan=pan, psn="00",
                      aid=b"", emv={}, pin_block=block, ksn=bytes(10))
    assert verify_pin_block(req, "1234", PinKeys()) == "81"
    assert verify_pin_block(req, "1234", PinKeys.master_key()) is None
    assert verify_pin_block(req, "4321", PinKeys.master_key()) == "55"
