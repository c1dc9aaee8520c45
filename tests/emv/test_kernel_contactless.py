"""Contactless and magstripe paths: limits, outcomes, CVMs, swipes."""

from __future__ import annotations

import random
import warnings
from dataclasses import replace

from simulator.world import World
from virtual_devices.acquirer import AcquirerHost, default_terminal_config
from virtual_devices.cardholder import Behaviour, Cardholder
from virtual_devices.emv.card import load_card
from virtual_devices.emv.field import Field
from virtual_devices.emv.kernel import ContactlessKernel, Status, Txn, run_virtual
from virtual_devices.emv.kernel import bits as B
from virtual_devices.emv.kernel.loop import PlainLoop as Loop
from virtual_devices.emv.kernel.magstripe import Track2, swipe

warnings.filterwarnings("ignore", category=DeprecationWarning)


def tap(name: str, amount: int, config=None, pins=None):  # type: ignore[no-untyped-def]
    card = load_card(name)
    card.power_on("contactless")
    k = ContactlessKernel(config or default_terminal_config(), Txn(amount), random.Random(5))
    loop = Loop(card, pins or [card.profile.pin], AcquirerHost())
    return loop.run(k.run()), loop, k


def test_ppse_then_qvsdc_gpo_carries_the_ttq_and_returns_the_cryptogram() -> None:
    out, loop, k = tap("visa-contactless", 1234)
    assert loop.commands[0][5:].startswith(b"2PAY.SYS.DDF01")
    assert k.path == "qvsdc"
    assert not any(c[1] == 0xAE for c in loop.commands)  # no GENERATE AC on qVSDC
    assert B.has(k.ttq, B.TTQ_QVSDC) and B.has(k.ttq, B.TTQ_ONLINE_CRYPTOGRAM_REQUIRED)
    assert not B.has(k.ttq, B.TTQ_CVM_REQUIRED)
    assert out.status is Status.APPROVED and out.cvm == "no-cvm" and out.online


def test_over_the_cvm_limit_the_card_asks_for_online_pin() -> None:
    out, loop, k = tap("visa-contactless", 25000)
    assert B.has(k.ttq, B.TTQ_CVM_REQUIRED)
    assert [p.kind for p in loop.prompts] == ["online"]
    assert out.cvm == "online-pin" and out.status is Status.APPROVED


def test_over_the_transaction_limit_the_reader_asks_for_the_chip() -> None:
    config = default_terminal_config()
    config = config.with_aids(replace(a, ctls_txn_limit=10000) for a in config.aids)
    out, loop, _ = tap("visa-contactless", 20000, config=config)
    assert out.status is Status.INSERT_CARD
    assert loop.commands == []  # decided before PPSE


def test_contactless_disabled_in_the_tables_means_try_another_interface() -> None:
    config = default_terminal_config()
    config = config.with_aids(replace(a, ctls_mode="0") for a in config.aids)
    out, _, _ = tap("visa-contactless", 1000, config=config)
    assert out.status is Status.TRY_ANOTHER_INTERFACE


def test_card_that_cannot_verify_contactless_sends_the_cardholder_to_the_chip() -> None:
    out, _, _ = tap("visa-contactless-insert-card", 25000)
    assert out.status is Status.TRY_ANOTHER_INTERFACE


def test_locked_phone_answers_see_phone_then_cdcvm_after_unlock() -> None:
    out, _, _ = tap("visa-phone-see-phone", 25000)
    assert out.status is Status.SEE_PHONE
    out, _, _ = tap("visa-phone-cdcvm", 25000)
    assert out.status is Status.APPROVED and out.cvm == "cdcvm"


def test_mchip_path_reads_records_and_uses_generate_ac_with_cda() -> None:
    out, loop, k = tap("mc-contactless", 1234)
    assert k.path == "mchip"
    assert any(c[1] == 0xB2 for c in loop.commands)
    gen_ac = [c for c in loop.commands if c[1] == 0xAE]
    assert len(gen_ac) == 1 and gen_ac[0][2] & 0x10  # one GENERATE AC, CDA requested
    assert out.oda == "CDA" and out.oda_ok is True
    assert out.status is Status.APPROVED and out.cvm == "no-cvm"


def test_mchip_over_cvm_limit_uses_the_cvm_list() -> None:
    out, loop, _ = tap("mc-contactless", 25000)
    assert out.cvm == "online-pin" and loop.prompts[0].kind == "online"


def test_issuer_decline_on_a_tap() -> None:
    out, _, _ = tap("mc-issuer-decline", 1234)
    assert out.status is Status.DECLINED and out.arc == "51"


def test_two_cards_in_the_field_collide() -> None:
    world = World(seed=1)
    field = Field()
    field.enter(load_card("visa-contactless"))
    field.enter(load_card("mc-contactless"))
    holder = Cardholder(world, Behaviour(interface="contactless", follow_prompts=False))
    out = run_virtual(world, field, default_terminal_config(), Txn(1000), holder, AcquirerHost())
    assert out.status is Status.COLLISION
    field.leave(field.cards[1])
    world2 = World(seed=1)
    holder2 = Cardholder(world2, Behaviour(interface="contactless"))
    out = run_virtual(world2, field, default_terminal_config(), Txn(1000), holder2,
                      AcquirerHost())
    assert out.status is Status.APPROVED


def test_a_tap_fits_in_the_500_ms_target() -> None:
    world = World(seed=2)
    card = load_card("visa-contactless").place_in(world)
    holder = Cardholder(world, Behaviour(interface="contactless"))
    run_virtual(world, card, default_terminal_config(), Txn(1000), holder, AcquirerHost())
    card_times = [e.sim for e in world.transcript.entries if e.port == "card"]
    assert card_times[-1] - card_times[0] <= 0.5


# -- magstripe -------------------------------------------------------------------------------


def test_track2_parse_and_service_code_rules() -> None:
    t = Track2.parse("4761739001010010=31122010000000000")
    assert t.pan == "4761739001010010" and t.expiry == "3112" and t.service_code == "201"
    assert t.chip and not t.pin_required
    assert Track2.parse("5413330089010442D30121260000").pin_required  # 126: PIN required


def test_chip_card_swiped_is_asked_to_insert_unless_fallback() -> None:
    config = default_terminal_config()
    track = "5413330089010442=30122011234567890"
    loop = Loop(load_card("mc-mute-chip-fallback"), host=AcquirerHost())
    out = loop.run(swipe(config, Txn(1000), track))
    assert out.status is Status.INSERT_CARD and not out.online
    out = loop.run(swipe(config, Txn(1000), track, fallback=True))
    assert out.status is Status.APPROVED and out.online


def test_bad_swipe_and_garbage_track_are_card_errors() -> None:
    config = default_terminal_config()
    loop = Loop(load_card("visa-chip-pin"))
    assert loop.run(swipe(config, Txn(1000), None)).status is Status.CARD_ERROR
    assert loop.run(swipe(config, Txn(1000), "4761=ABC")).status is Status.CARD_ERROR


def test_bad_swipes_are_retried_by_the_cardholder() -> None:
    world = World(seed=4)
    card = load_card("mc-mute-chip-fallback").place_in(world)
    holder = Cardholder(world, Behaviour(interface="contact", bad_swipes=2))
    host = AcquirerHost()
    out = run_virtual(world, card, default_terminal_config(), Txn(1000), holder, host)
    assert out.status is Status.APPROVED and out.interface == "magstripe"
    assert holder.swipes == 3
    assert host.ledger.entries[0].meta["interface"] == "magstripe"


def test_fdda_signature_over_the_tap_data_verifies_and_detects_tampering() -> None:
    card = load_card("visa-contactless")
    card.power_on("contactless")
    k = ContactlessKernel(default_terminal_config(), Txn(1000), random.Random(9))
    Loop(card).run(k.select_and_read())
    assert k._fdda() is True and k.oda_method == "fDDA"
    k.card.tags[0x9F02] = bytes.fromhex("000000009999")  # the amount the card did not sign
    k.txn = Txn(9999)
    assert k._fdda() is False
    assert B.has(bytes(k.tvr), B.TVR_DDA_FAILED)


def test_kernel_identifier_chooses_the_path() -> None:
    from virtual_devices.emv.kernel.contactless import kernel_for

    amex = bytes.fromhex("A00000002501")
    assert kernel_for(amex, b"\x04") == "mchip"
    assert kernel_for(bytes.fromhex("A0000004941010"), b"\x03") == "qvsdc"
    assert kernel_for(bytes.fromhex("A0000000041010")) == "mchip"
    assert kernel_for(bytes.fromhex("A0000000031010")) == "qvsdc"


def test_offline_tap_under_the_contactless_floor_limit_needs_fdda() -> None:
    config = default_terminal_config()
    config = config.with_aids(replace(a, ctls_floor_limit=5000) for a in config.aids)
    out, loop, k = tap("visa-contactless-offline", 1000, config=config)
    assert not B.has(k.ttq, B.TTQ_ONLINE_CRYPTOGRAM_REQUIRED)
    assert out.status is Status.APPROVED and not out.online and out.cryptogram == "TC"
    assert out.oda == "fDDA" and out.oda_ok is True

    def corrupt_sdad(cmd: bytes, resp: bytes) -> bytes:
        i = resp.find(b"\x9f\x4b\x81")
        if cmd[1] == 0xA8 and i >= 0:
            j = i + 3 + 20
            return resp[:j] + bytes([resp[j] ^ 0x01]) + resp[j + 1 :]
        return resp

    card = load_card("visa-contactless-offline")
    card.power_on("contactless")
    k = ContactlessKernel(config, Txn(1000), random.Random(5))
    out = Loop(card, host=AcquirerHost(), tamper=corrupt_sdad).run(k.run())
    # a TC whose fDDA fails is not trusted: the online-capable reader goes online
    assert out.oda_ok is False and out.online
