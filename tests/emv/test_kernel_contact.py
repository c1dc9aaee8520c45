"""The contact kernel driven by a plain loop (no clock): phases, bits, bad input."""

from __future__ import annotations

import random
import warnings
from dataclasses import replace
from typing import Any

import pytest

from virtual_devices.acquirer import AcquirerHost, default_terminal_config
from virtual_devices.emv import tlv
from virtual_devices.emv.card import VirtualCard, load_card
from virtual_devices.emv.kernel import (
    CANCEL,
    DECISION_ONLINE,
    Apdu,
    ContactKernel,
    GocParams,
    KernelStop,
    Outcome,
    Status,
    Txn,
)
from virtual_devices.emv.kernel import bits as B
from virtual_devices.emv.kernel.cvm import pin_block
from virtual_devices.emv.kernel.loop import PlainLoop
from virtual_devices.emv.terminal import TerminalConfig

warnings.filterwarnings("ignore", category=DeprecationWarning)


Loop = PlainLoop


def kernel(config: TerminalConfig | None = None, amount: int = 1234, **kw: Any) -> ContactKernel:
    return ContactKernel(config or default_terminal_config(), Txn(amount, **kw), random.Random(3))


def powered(name: str) -> VirtualCard:
    card = load_card(name)
    card.power_on("contact")
    return card


def full_run(name: str, pins: list[str | None] | None = None, amount: int = 1234,
             config: TerminalConfig | None = None, **loop_kw: Any) -> tuple[Outcome, Loop]:
    loop = Loop(powered(name), pins if pins is not None else [], AcquirerHost(), **loop_kw)
    k = kernel(config, amount)
    return loop.run(k.run()), loop


INS = {0xA4: "SELECT", 0xA8: "GPO", 0xB2: "READ RECORD", 0xAE: "GENERATE AC",
       0x88: "INTERNAL AUTHENTICATE", 0x20: "VERIFY", 0x82: "EXTERNAL AUTHENTICATE"}


def names(loop: Loop) -> list[str]:
    return [INS.get(c[1], f"{c[1]:02X}") for c in loop.commands]


# -- selection ---------------------------------------------------------------------------


def test_pse_selection_reads_the_directory_and_selects_the_application() -> None:
    out, loop = full_run("visa-chip-pin", ["1234"])
    assert out.status is Status.APPROVED
    first = loop.commands[0]
    assert first[5:].startswith(b"1PAY.SYS.DDF01")
    assert out.aid == bytes.fromhex("A0000000031010")


def test_list_of_aids_is_used_when_the_terminal_does_not_use_the_pse() -> None:
    config = replace(default_terminal_config(), supports_pse=False)
    out, loop = full_run("visa-chip-pin", ["1234"], config=config)
    assert out.status is Status.APPROVED
    assert b"1PAY.SYS.DDF01" not in b"".join(loop.commands)
    assert loop.commands[0][5:12] == bytes.fromhex("A0000000031010")


def test_missing_aid_record_means_no_application() -> None:
    config = default_terminal_config()
    config = config.with_aids(a for a in config.aids if not a.aid.startswith(b"\xa0\0\0\0\x03"))
    out, _ = full_run("visa-chip-pin", ["1234"], config=config)
    assert out.status is Status.NOT_ACCEPTED
    assert out.cryptogram == ""


def test_cardholder_chooses_among_candidates_in_priority_order() -> None:
    out, loop = full_run("elo-combo", ["1234"], choice=1)
    menu = loop.menus[0]
    assert [c.priority for c in menu.candidates] == [1, 2]
    assert out.aid == menu.candidates[1].aid == bytes.fromhex("A0000004942010")
    assert out.status is Status.APPROVED


def test_cancelled_application_menu_ends_the_transaction() -> None:
    out, loop = full_run("elo-combo", ["1234"], choice=None)
    assert out.status is Status.CANCELLED
    assert not any(c[1] == 0xA8 for c in loop.commands)  # no GPO sent


# -- data, ODA, restrictions -----------------------------------------------------------


def test_dda_verifies_with_the_terminal_capk_and_sets_tsi() -> None:
    out, loop = full_run("visa-chip-pin", ["1234"])
    assert out.oda == "DDA" and out.oda_ok is True
    assert "INTERNAL AUTHENTICATE" in names(loop)
    assert B.has(out.tsi, B.TSI_ODA_PERFORMED)
    assert not B.has(out.tvr, B.TVR_DDA_FAILED) and not B.has(out.tvr, B.TVR_ODA_NOT_PERFORMED)


def test_missing_capk_fails_oda_and_the_action_codes_decide() -> None:
    out, _ = full_run("visa-chip-pin", ["1234"], config=default_terminal_config().without_capks())
    assert out.oda_ok is False
    assert B.has(out.tvr, B.TVR_DDA_FAILED)
    # Visa TAC online D84000A800 has byte 1 bit 4 (DDA failed): the terminal asks online.
    assert out.first_cryptogram == "ARQC"


def test_sda_card_is_verified_with_sda() -> None:
    out, loop = full_run("amex-chip-pin", ["1234"])
    assert out.oda == "SDA" and out.oda_ok is True
    assert B.has(out.tvr, B.TVR_SDA_SELECTED)
    assert "INTERNAL AUTHENTICATE" not in names(loop)
    assert out.tags.get(0x9F45) is not None  # data authentication code recovered


def test_cda_signature_is_checked_at_generate_ac() -> None:
    out, loop = full_run("mc-chip-signature")
    assert out.oda == "CDA" and out.oda_ok is True
    gen_ac = [c for c in loop.commands if c[1] == 0xAE]
    assert gen_ac[0][2] == 0x80 | 0x10  # ARQC with CDA requested


def test_cda_failure_sets_the_tvr_bit_and_declines() -> None:
    def corrupt_signature(cmd: bytes, resp: bytes) -> bytes:
        if cmd[1] == 0xAE and b"\x9f\x4b" in resp:
            i = resp.index(b"\x9f\x4b") + 3 + 10
            return resp[:i] + bytes([resp[i] ^ 0xFF]) + resp[i + 1 :]
        return resp

    out, _ = full_run("mc-chip-signature", tamper=corrupt_signature)
    assert B.has(out.tvr, B.TVR_CDA_FAILED)
    assert out.status is Status.DECLINED and out.cryptogram == "AAC"


def test_icc_certificate_fault_fails_dda() -> None:
    out, _ = full_run("visa-oda-failure", ["1234"])
    assert out.oda_ok is False and B.has(out.tvr, B.TVR_DDA_FAILED)
    assert out.status is Status.DECLINED and not out.online


def test_expired_application_sets_the_expiry_bit() -> None:
    out, _ = full_run("visa-expired", ["1234"])
    assert B.has(out.tvr, B.TVR_EXPIRED_APPLICATION)
    assert out.cryptogram == "AAC"


def test_not_yet_effective_and_usage_control() -> None:
    card = powered("visa-chip-pin")
    k = kernel(when=__import__("datetime").datetime(2019, 1, 1))
    loop = Loop(card, ["1234"])
    loop.run(k.select_and_read())
    k.card.tags[0x9F07] = bytes.fromhex("0000")  # usage control: nothing allowed
    k.processing_restrictions()
    assert B.has(bytes(k.tvr), B.TVR_APP_NOT_YET_EFFECTIVE)
    assert B.has(bytes(k.tvr), B.TVR_SERVICE_NOT_ALLOWED)


# -- CVM -----------------------------------------------------------------------------------


def test_enciphered_offline_pin_uses_get_challenge_and_verify_88() -> None:
    out, loop = full_run("visa-chip-pin", ["1234"])
    assert out.cvm == "offline-enciphered-pin"
    verify = [c for c in loop.commands if c[1] == 0x20]
    assert verify and verify[0][3] == 0x88
    assert any(c[1] == 0x84 for c in loop.commands)
    assert out.tags[0x9F34] == bytes([0x44, 0x03, 0x02])
    assert pin_block("1234") not in b"".join(loop.commands)  # never in clear


def test_plaintext_offline_pin_when_the_card_lists_it() -> None:
    out, loop = full_run("amex-chip-pin", ["1234"])
    assert out.cvm == "offline-plaintext-pin"
    assert [c for c in loop.commands if c[1] == 0x20][0][3] == 0x80


def test_wrong_pin_is_asked_again_with_the_tries_left() -> None:
    card = powered("mc-wrong-pin-then-right")
    right = card.profile.pin
    loop = Loop(card, ["0000", right], AcquirerHost())
    out = loop.run(kernel().run())
    assert len(loop.prompts) == 2
    assert loop.prompts[1].last_wrong and loop.prompts[1].tries_left == 2
    assert out.status is Status.APPROVED and not B.has(out.tvr, B.TVR_CV_NOT_SUCCESSFUL)


def test_pin_try_limit_reached_fails_cvm() -> None:
    card = powered("visa-chip-pin")
    loop = Loop(card, ["0000", "0000", "0000"], AcquirerHost())
    out = loop.run(kernel().run())
    assert B.has(out.tvr, B.TVR_PIN_TRY_LIMIT_EXCEEDED)
    # The list goes on after the PIN rules (bit 7 set): signature is the next method.
    assert out.cvm == "signature"
    assert card.pin_tries_left == 0


def test_blocked_pin_is_not_prompted() -> None:
    out, loop = full_run("visa-pin-blocked", ["1234"])
    assert loop.prompts == []
    assert B.has(out.tvr, B.TVR_PIN_TRY_LIMIT_EXCEEDED)
    assert out.status is Status.DECLINED


def test_pin_bypass_sets_pin_not_entered() -> None:
    out, _ = full_run("visa-online-pin", [None])
    assert B.has(out.tvr, B.TVR_PIN_NOT_ENTERED)


def test_online_pin_goes_to_the_host_and_sets_the_bit() -> None:
    card = powered("visa-online-pin")
    host = AcquirerHost()
    loop = Loop(card, [card.profile.pin], host)
    out = loop.run(kernel().run())
    assert out.cvm == "online-pin" and B.has(out.tvr, B.TVR_ONLINE_PIN_ENTERED)
    assert out.status is Status.APPROVED


def test_wrong_online_pin_is_declined_by_the_host() -> None:
    out, _ = full_run("visa-online-pin", ["9999"])
    assert out.status is Status.DECLINED and out.arc == "55"


def test_signature_cvm() -> None:
    out, _ = full_run("mc-chip-signature")
    assert out.cvm == "signature"
    assert out.tags[0x9F34] == bytes([0x5E, 0x03, 0x00])  # result unknown: paper signature


def test_cancel_at_pin_prompt() -> None:
    out, _ = full_run("visa-chip-pin", [CANCEL])
    assert out.status is Status.CANCELLED


# -- TRM and TAA ---------------------------------------------------------------------------


def test_floor_limit_exceeded_goes_online() -> None:
    out, _ = full_run("mc-offline-approved", amount=1234)
    assert B.has(out.tvr, B.TVR_FLOOR_LIMIT_EXCEEDED)
    assert out.first_cryptogram == "ARQC"


def test_under_the_floor_limit_the_card_approves_offline() -> None:
    card = powered("mc-offline-approved")
    k = kernel(amount=1234)
    loop = Loop(card)
    loop.run(k.select_and_read())
    decision = loop.run(k.go_on_chip(GocParams(floor_limit=5000, target_percent=0,
                                               max_percent=0)))
    assert decision == 0 and k.outcome().status is Status.APPROVED
    assert any(c[1] == 0xCA and c[2:4] == b"\x9f\x36" for c in loop.commands)  # velocity
    assert B.has(bytes(k.tsi), B.TSI_TRM_PERFORMED)


def test_random_selection_picks_some_transactions_under_the_floor() -> None:
    picked = 0
    for seed in range(40):
        card = powered("mc-offline-approved")
        k = ContactKernel(default_terminal_config(), Txn(100), random.Random(seed))
        loop = Loop(card)
        loop.run(k.select_and_read())
        loop.run(k.go_on_chip(GocParams(floor_limit=5000, target_percent=50, max_percent=50,
                                        threshold=1000)))
        picked += B.has(bytes(k.tvr), B.TVR_RANDOMLY_SELECTED_ONLINE)
    assert 8 < picked < 32


def test_exception_file_and_forced_online() -> None:
    card = powered("mc-offline-approved")
    k = kernel()
    loop = Loop(card)
    loop.run(k.select_and_read())
    decision = loop.run(k.go_on_chip(GocParams(exception_file=True, force_online=True,
                                               floor_limit=5000)))
    assert B.has(bytes(k.tvr), B.TVR_CARD_ON_EXCEPTION_FILE)
    assert B.has(bytes(k.tvr), B.TVR_MERCHANT_FORCED_ONLINE)
    assert decision == DECISION_ONLINE


def test_denial_action_code_declines_without_asking_for_arqc() -> None:
    config = default_terminal_config()
    config = config.with_aids(replace(a, tac_denial=b"\xff" * 5) for a in config.aids)
    out, loop = full_run("visa-chip-pin", ["1234"], config=config)
    assert [c[2] for c in loop.commands if c[1] == 0xAE] == [0x00]
    assert out.status is Status.DECLINED and not out.online


def test_unable_to_go_online_uses_default_action_codes() -> None:
    card = powered("visa-chip-pin")
    loop = Loop(card, ["1234"], host=None)
    out = loop.run(kernel().run())
    assert out.arc in ("Y3", "Z3") and not out.online
    assert out.status is Status.DECLINED  # Visa TAC default D84004F800 hits the TVR


# -- split API, issuer data, scripts ---------------------------------------------------------


def test_split_phases_and_requested_tags_never_carry_pan_or_track() -> None:
    card = powered("visa-chip-pin")
    k = kernel()
    loop = Loop(card, ["1234"])
    loop.run(k.select_and_read())
    assert k.card.pan == card.pan
    decision = loop.run(k.go_on_chip(GocParams()))
    assert decision == DECISION_ONLINE
    data = k.requested_tags([0x5A, 0x57, 0x9F26, 0x9F27, 0x95, 0x9F36, 0x82, 0x9F37])
    got = tlv.flatten(data)
    assert 0x5A not in got and 0x57 not in got
    assert got[0x9F27] == b"\x80" and len(got[0x9F26]) == 8
    response = AcquirerHost().authorise(k.auth_request())
    out = loop.run(k.finish(response))
    assert out.status is Status.APPROVED and out.issuer_auth is True


def test_forged_arpc_fails_issuer_authentication() -> None:
    card = powered("visa-chip-pin")
    k = kernel()
    loop = Loop(card, ["1234"])
    loop.run(k.select_and_read())
    loop.run(k.go_on_chip())
    response = AcquirerHost().authorise(k.auth_request())
    assert response is not None and response.issuer_auth_data is not None
    forged = replace(response, issuer_auth_data=bytes(8) + response.issuer_auth_data[8:])
    out = loop.run(k.finish(forged))
    assert B.has(out.tvr, B.TVR_ISSUER_AUTH_FAILED) and out.issuer_auth is False
    assert out.status is Status.DECLINED


@pytest.mark.parametrize(("amount", "template"), [(7100, 0x71), (7200, 0x72)])
def test_issuer_scripts_run_and_results_are_recorded(amount: int, template: int) -> None:
    out, loop = full_run("visa-chip-pin", ["1234"], amount=amount)
    assert out.status is Status.APPROVED
    assert B.has(out.tsi, B.TSI_SCRIPT_PROCESSING_PERFORMED)
    assert out.script_results[:1] == b"\x20"  # script 1 successful
    scripts = [i for i, c in enumerate(loop.commands) if c[:2] == b"\x04\xda"]
    second_gac = [i for i, c in enumerate(loop.commands) if c[1] == 0xAE][-1]
    assert scripts and (scripts[0] < second_gac) == (template == 0x71)


def test_blocking_script_blocks_the_application() -> None:
    card = powered("visa-chip-pin")
    out = Loop(card, ["1234"], AcquirerHost()).run(kernel(amount=7300).run())
    assert out.status is Status.APPROVED and out.script_results[:1] == b"\x20"
    assert card.app_blocked(bytes.fromhex("A0000000031010"))


# -- bad input -------------------------------------------------------------------------------


def test_malformed_record_terminates_with_card_error() -> None:
    def garble(cmd: bytes, resp: bytes) -> bytes:
        return b"\x70\x30\x5a" + resp[3:] if cmd[1] == 0xB2 and cmd[3] != 0x0C else resp

    out, _ = full_run("visa-chip-pin", ["1234"], tamper=garble)
    assert out.status is Status.CARD_ERROR and "malformed" in out.reason


def test_card_answering_tc_to_an_arqc_request_is_rejected() -> None:
    def upgrade(cmd: bytes, resp: bytes) -> bytes:
        if cmd[1] == 0xAE and cmd[2] & 0xC0 == 0x80 and resp[:1] == b"\x80":
            return resp[:2] + b"\x40" + resp[3:]
        return resp

    out, _ = full_run("visa-chip-pin", ["1234"], tamper=upgrade)
    assert out.status is Status.CARD_ERROR


def test_card_removed_mid_transaction() -> None:
    card = powered("visa-chip-pin")
    k = kernel()
    gen = k.run()
    req = gen.send(None)
    assert isinstance(req, Apdu)
    out = None
    try:
        gen.send(None)  # no answer: the card left
    except StopIteration as stop:
        out = stop.value
    assert out is not None and out.status is Status.CARD_REMOVED
    assert card.powered


def test_t0_card_get_response_is_handled() -> None:
    out, loop = full_run("visa-t0", ["1234"])
    assert out.status is Status.APPROVED
    assert any(c[1] == 0xC0 for c in loop.commands)


def test_kernel_stop_carries_status() -> None:
    stop = KernelStop(Status.NOT_ACCEPTED, "x")
    assert stop.status is Status.NOT_ACCEPTED and "not-accepted" in str(stop)


def test_blocked_application_is_not_selectable_on_the_next_transaction() -> None:
    card = powered("visa-chip-pin")
    first = Loop(card, ["1234"], AcquirerHost()).run(kernel(amount=7300).run())
    assert first.status is Status.APPROVED
    card.power_off()
    card.power_on("contact")
    loop = Loop(card, ["1234"], AcquirerHost())
    second = loop.run(kernel().run())
    assert second.status is Status.NOT_ACCEPTED
    assert "TRY AGAIN" in loop.displays


def test_different_application_versions_set_the_tvr_bit() -> None:
    config = default_terminal_config()
    config = config.with_aids(replace(a, app_versions=(b"\x00\x01",)) for a in config.aids)
    card = powered("visa-chip-pin")
    k = kernel(config)
    PlainLoop(card).run(k.select_and_read())
    k.processing_restrictions()
    assert B.has(bytes(k.tvr), B.TVR_DIFFERENT_APP_VERSIONS)


@pytest.mark.parametrize(("amount", "cvm"), [(500, "signature"), (5000, "online-pin")])
def test_cvm_conditions_on_amount_x(amount: int, cvm: str) -> None:
    card = powered("visa-chip-pin")
    k = kernel(amount=amount)
    loop = PlainLoop(card, ["1234"])
    loop.run(k.select_and_read())
    # X = 10.00: signature under X (condition 06), online PIN over X (07)
    k.card.tags[0x8E] = bytes.fromhex("000003E8" "00000000" "1E06" "0207")
    loop.run(k.cardholder_verification())
    assert k.cvm == cvm
    assert k.cvm_results[1] == (0x06 if cvm == "signature" else 0x07)


def test_velocity_limits_push_an_offline_card_online() -> None:
    card = powered("mc-offline-approved")
    lower = None
    for i in range(8):
        card.power_off()
        card.power_on("contact")
        k = ContactKernel(default_terminal_config(), Txn(1000), random.Random(i))
        loop = PlainLoop(card, host=AcquirerHost())
        loop.run(k.select_and_read())
        loop.run(k.go_on_chip(GocParams(floor_limit=5000, target_percent=0, max_percent=0)))
        if B.has(bytes(k.tvr), B.TVR_LOWER_OFFLINE_LIMIT_EXCEEDED):
            lower = i
            assert k.outcome().first_cryptogram == "ARQC"
            break
        assert k.outcome().status is Status.APPROVED and not k.went_online
    assert lower == 5  # LCOL 5: the sixth offline transaction exceeds it


def test_revoked_issuer_certificate_and_corrupt_capk_fail_oda() -> None:
    from virtual_devices.emv.kernel import oda
    from virtual_devices.emv.terminal import RevokedCert

    config = default_terminal_config()
    card = powered("visa-chip-pin")
    k = kernel(config)
    PlainLoop(card).run(k.select_and_read())
    tags = k.card.tags
    rid, index = bytes.fromhex("A000000003"), tags[0x8F][0]
    capk = config.capk(rid, index)
    assert capk is not None
    _, serial = oda.recover_issuer_key(oda.PublicKey(capk.modulus, capk.exponent), tags[0x90],
                                       tags.get(0x92, b""), tags[0x9F32], k.card.pan,
                                       k.txn.today)
    revoked = replace(config, revoked=(RevokedCert(rid, index, serial),))
    out, _ = full_run("visa-chip-pin", ["1234"], config=revoked)
    assert out.oda_ok is False and B.has(out.tvr, B.TVR_DDA_FAILED)
    bad = replace(capk, modulus=capk.modulus[:-1] + bytes([capk.modulus[-1] ^ 1]))
    corrupt = replace(config, capks=tuple(bad if c is capk else c for c in config.capks))
    assert corrupt.capk(rid, index) is None  # checksum no longer matches: unusable
    out, _ = full_run("visa-chip-pin", ["1234"], config=corrupt)
    assert out.oda_ok is False


def _arpc_in_cdol2_card() -> VirtualCard:
    """An M/Chip-style profile: no AIP issuer-authentication bit, ARPC (91) in CDOL2."""
    from virtual_devices.emv.catalogue import catalogue

    prof = catalogue()["mc-chip-signature"]
    app = prof.applications[0]
    app = replace(app, aip=bytes([app.aip[0] & ~0x04, app.aip[1]]),
                  cdol2=bytes.fromhex("8A029F02069F03069F1A0295055F2A029A039C019F3704910A"))
    custom = replace(prof, applications=(app,))
    card = load_card(prof.name, catalogue={prof.name: custom})
    card.power_on("contact")
    return card


def test_arpc_in_cdol2_is_checked_by_the_card_without_external_authenticate() -> None:
    card = _arpc_in_cdol2_card()
    loop = PlainLoop(card, host=AcquirerHost())
    out = loop.run(kernel().run())
    assert out.status is Status.APPROVED and out.cryptogram == "TC"
    assert not any(c[1] == 0x82 for c in loop.commands)
    assert B.has(out.tsi, B.TSI_ISSUER_AUTH_PERFORMED)

    card = _arpc_in_cdol2_card()
    k = kernel()
    loop = PlainLoop(card)
    loop.run(k.select_and_read())
    loop.run(k.go_on_chip())
    response = AcquirerHost().authorise(k.auth_request())
    assert response is not None and response.issuer_auth_data is not None
    forged = replace(response, issuer_auth_data=bytes(8) + response.issuer_auth_data[8:])
    out = loop.run(k.finish(forged))
    assert out.status is Status.DECLINED and out.cryptogram == "AAC"


def test_auth_request_repr_hides_card_data() -> None:
    card = powered("visa-online-pin")
    pin = card.profile.pin
    assert pin is not None
    k = kernel(amount=500)
    loop2 = PlainLoop(card, [pin])
    loop2.run(k.select_and_read())
    loop2.run(k.go_on_chip())
    text = repr(k.auth_request())
    assert card.pan not in text and pin not in text and "pin=yes" in text


# -- amounts beyond the binary form (b4) -------------------------------------------------

def test_an_amount_beyond_b4_leaves_the_binary_tags_out_and_a_sale_still_runs() -> None:
    big = 5_000_000_000  # 50.000.000,00: above FFFFFFFFh cents
    k = kernel(amount=big)
    tags = k.terminal_tags()
    assert 0x81 not in tags and tags[0x9F02] == bytes.fromhex("005000000000")
    outcome, _ = full_run("visa-chip-pin", pins=["1234"], amount=big)
    assert outcome.status is not Status.INVALID_AMOUNT  # its CDOL asks for 9F02 only


def test_a_dol_asking_for_a_binary_amount_beyond_b4_stops_with_invalid_amount() -> None:
    k = kernel(amount=5_000_000_000)
    with pytest.raises(KernelStop) as stop:
        k._dol_data(bytes.fromhex("9F0206" "8104"), k.terminal_tags())
    assert stop.value.status is Status.INVALID_AMOUNT
    small = kernel(amount=1234)
    got = small._dol_data(bytes.fromhex("8104"), small.terminal_tags())
    assert got == bytes.fromhex("000004D2")
