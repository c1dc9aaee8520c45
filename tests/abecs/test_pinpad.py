"""Host and virtual pinpad over an in-memory line: commands, secure rules, the customer."""

from __future__ import annotations

from typing import Any

import pytest

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour, MagstripeCard
from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys
from virtual_devices.abecs.fields import Command
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.rig import VERSION, Rig, aid_records, make_rig, visa_swipe

Gen = Any


def gcr_req(version: str = VERSION, app_type: int = 99) -> m.GcrRequest:
    return m.GcrRequest(1500, "261125", "120000", version, app_type=app_type)


def test_secure_open_encrypts_every_later_packet(rig: Rig) -> None:
    def flow() -> Gen:
        assert (yield from rig.host.opn()) is True
        yield from rig.host.dsp("OLA")

    rig.run(flow)
    wire = [e for e in rig.world.transcript.entries if e.port == "host" and e.direction == "tx"]
    assert bytes.fromhex(wire[-1].hex)[1] == 0x12  # DC2 after SYN
    assert rig.pinpad.display.current.line1.startswith("OLA")


def test_legacy_pinpad_answers_opn000_and_stays_clear() -> None:
    rig = make_rig(secure=False)

    def flow() -> Gen:
        secure = yield from rig.host.opn()
        yield from rig.host.dsp("CLEAR")
        return secure

    assert rig.run(flow) is False
    assert rig.pinpad.session is None
    assert any("DSP032CLEAR" in e.label for e in rig.world.transcript.entries)


def test_secure_mode_error_rules() -> None:
    rig = make_rig()
    out: dict[str, Any] = {}

    def flow() -> Gen:
        # encrypted packet before any session: ERR003
        from virtual_devices.abecs.secure import SecureSession

        rogue = SecureSession(bytes(16)).seal(b"DSP000")
        out["nosec"] = (yield from rig.host.raw_exchange(rogue))
        yield from rig.host.opn()
        # a clear command while secure: that command's response with 009, in clear
        out["clear"] = (yield from rig.host.exchange(Command("GTS", (b"00",)), clear=True))
        # an encrypted OPN: OPN010 and the session is closed
        out["encopn"] = (yield from rig.host.exchange(Command("OPN")))
        rig.host.session = None
        out["after"] = (yield from rig.host.exchange(Command("GTS", (b"00",))))

    rig.run(flow)
    assert (out["nosec"].cmd_id, out["nosec"].status) == ("ERR", 3)
    assert (out["clear"].cmd_id, out["clear"].status) == ("GTS", 9)
    assert (out["encopn"].cmd_id, out["encopn"].status) == ("OPN", 10)
    assert out["after"].status == 0 and rig.pinpad.session is None


def test_clo_response_is_clear_and_ends_session(rig: Rig) -> None:
    def flow() -> Gen:
        yield from rig.host.opn()
        yield from rig.host.clo("ATE LOGO")
        yield from rig.host.gts(0)  # works in clear: the pinpad behaves as if opened

    rig.run(flow)
    assert rig.pinpad.session is None
    assert rig.pinpad.display.current.line1.startswith("ATE LOGO")


def test_unknown_command_and_bad_parameters(rig: Rig) -> None:
    out: dict[str, Any] = {}

    def flow() -> Gen:
        yield from rig.host.opn()
        out["xyz"] = yield from rig.host.exchange(Command("XYZ"))
        out["gts"] = yield from rig.host.exchange(Command("GTS", (b"0A",)))
        out["tlr"] = yield from rig.host.exchange(Command("TLR", (b"00",)))
        out["fnc"] = yield from rig.host.exchange(m.FncRequest(0).to_command())
        out["goc"] = yield from rig.host.exchange(m.GocRequest(100, (0x9F27,)).to_command())
        out["bare"] = yield from rig.host.exchange(Command("GCR"))

    rig.run(flow)
    assert (out["xyz"].cmd_id, out["xyz"].status) == ("ERR", 10)
    assert out["gts"].status == 11 and out["gts"].encode() == b"GTS011"
    assert out["tlr"].status == 10  # TLR without TLI
    assert out["fnc"].status == 10 and out["goc"].status == 10 and out["bare"].status == 10


def test_gin_and_gdu() -> None:
    rig = make_rig()

    def flow() -> Gen:
        info = yield from rig.host.gin(0)
        ksn = yield from rig.host.gdu(16)
        with pytest.raises(AbecsError) as missing:
            yield from rig.host.gdu(15)
        return info, ksn, missing.value.code

    info, ksn, code = rig.run(flow)
    assert info.manufacturer == "CARDLOOP" and info.spec_version == "2.12"
    assert ksn.hex().upper() == "FFFF9876543210E00000" and code == 42


def test_table_load_then_version_and_tli_same_version() -> None:
    rig = make_rig()

    def flow() -> Gen:
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, VERSION, aid_records())
        v = yield from rig.host.gts(0)
        same = yield from rig.host.tli(0, VERSION)
        yield from rig.host.tle()  # TLE right after TLI: tables erased
        return v, same, (yield from rig.host.gts(0))

    v, same, after = rig.run(flow)
    assert v == VERSION and same is True and after == VERSION
    assert rig.pinpad.tables.aids() == []


def test_magstripe_debit_sale_with_online_pin_decrypts_at_the_host() -> None:
    rig = make_rig(cards=[visa_swipe()], behaviour=Behaviour(pin="4321"))

    def flow() -> Gen:
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, VERSION, aid_records())
        card = yield from rig.host.gcr(gcr_req(app_type=2))
        pin = yield from rig.host.gpn(m.GpnRequest(card.pan))
        yield from rig.host.dsp("APROVADA")
        return card, pin

    card, pin = rig.run(flow)
    assert card.card_type == m.CARD_MAGSTRIPE and card.app_type == 2
    assert card.pan == "4761739001010010" and card.expiry == "281231"
    assert card.holder_name == "SILVA/JOAO" and card.rec_idx == "02"
    keys = load_test_keys()[16]
    assert decrypt_pin(keys.bdk, pin.ksn, pin.pin_block, card.pan) == "4321"
    assert "INSIRA OU PASSE / O CARTAO" in rig.pinpad.display.texts()
    assert not any("4761739001010010" in e.label or "4761739001010010" in e.hex
                   for e in rig.world.transcript.entries)


def test_cancel_key_during_gcr_answers_013() -> None:
    rig = make_rig(cards=[visa_swipe()], behaviour=Behaviour(cancel_at="card"))

    def flow() -> Gen:
        with pytest.raises(AbecsError) as err:
            yield from rig.host.gcr(gcr_req())
        return err.value.code

    assert rig.run(flow) == 13


def test_pin_timeout_answers_012_after_a_minute() -> None:
    rig = make_rig(cards=[visa_swipe()], behaviour=Behaviour(walk_away_at="pin"))

    def flow() -> Gen:
        start = rig.world.now
        with pytest.raises(AbecsError) as err:
            yield from rig.host.gpn(m.GpnRequest("4761739001010010"))
        return err.value.code, rig.world.now - start

    code, took = rig.run(flow)
    assert code == 12 and took >= 60.0


def test_can_mid_gcr_gets_eot_and_the_pinpad_keeps_serving() -> None:
    rig = make_rig(cards=[], behaviour=Behaviour())

    def canceller() -> Gen:
        yield rig.world.timeout(5)
        yield from rig.host.cancel()

    def flow() -> Gen:
        rig.world.process(canceller())
        with pytest.raises(AbecsError) as err:
            yield from rig.host.gcr(gcr_req())
        v = yield from rig.host.gts(0)
        return err.value.code, v

    code, v = rig.run(flow)
    assert code == 13 and v == "0000000000"
    assert ("GCR", -1) in rig.pinpad.handled


def test_new_packet_aborts_a_blocking_command() -> None:
    from virtual_devices.abecs.link import frame

    rig = make_rig(cards=[], behaviour=Behaviour())

    def flow() -> Gen:
        gcr = rig.world.process(rig.host.exchange(gcr_req().to_command(), blocking=True))
        yield rig.world.timeout(3)
        # another packet on the line while GCR waits for a card: the pinpad drops GCR
        rig.host_end.write(frame(b"GTS00200"))
        rsp = yield gcr
        return rsp

    rsp = rig.run(flow)
    assert (rsp.cmd_id, rsp.status) == ("GTS", 0)
    assert ("GCR", -1) in rig.pinpad.handled


def test_table_version_mismatch_then_reload_and_bare_gcr() -> None:
    chip_card = MagstripeCard("5502090000000011", "2901", "LIMA/ANA", "201", has_chip=True)
    rig = make_rig(cards=[chip_card])

    def flow() -> Gen:
        yield from rig.host.opn()
        with pytest.raises(AbecsError) as err:
            yield from rig.host.gcr(gcr_req(version="9999999999"))
        yield from rig.host.load_tables(0, "9999999999", aid_records())
        try:
            yield from rig.host.gcr(None)
        except AbecsError as exc:
            return err.value.code, exc.code
        return err.value.code, 0

    first, second = rig.run(flow)
    assert first == 20 and second != 20  # the bare GCR resumed with the saved parameters


def test_rmc_waits_for_removal_and_alternates_message() -> None:
    chip_card = MagstripeCard("5502090000000011", "2901", has_chip=True)
    rig = make_rig(cards=[chip_card], behaviour=Behaviour(removal_s=(4.0, 4.0)))

    def flow() -> Gen:
        yield from rig.host.cke(m.CkeRequest(False, False, 1))
        yield from rig.host.rmc("OBRIGADO")

    rig.run(flow)
    assert rig.pinpad.inserted is None
    assert "RETIRE O CARTAO" in rig.pinpad.display.texts()


def test_same_seed_same_transcript() -> None:
    def once() -> str:
        rig = make_rig(seed=7, cards=[visa_swipe()])

        def flow() -> Gen:
            yield from rig.host.opn()
            yield from rig.host.load_tables(0, VERSION, aid_records())
            card = yield from rig.host.gcr(gcr_req())
            yield from rig.host.gpn(m.GpnRequest(card.pan))

        rig.run(flow)
        return rig.world.transcript.jsonl()

    assert once() == once()


def test_shared_cardholder_model_types_its_pins_on_the_keypad() -> None:
    from virtual_devices.cardholder import Behaviour as HolderBehaviour
    from virtual_devices.cardholder import Cardholder

    rig = make_rig(cards=[visa_swipe()])
    holder = Cardholder(rig.world, HolderBehaviour(interface="magstripe", pins=("9876",)),
                        pin="1111")
    rig.pinpad.customer = holder

    def flow() -> Gen:
        first = yield from rig.host.gpn(m.GpnRequest("4761739001010010"))
        second = yield from rig.host.gpn(m.GpnRequest("4761739001010010"))
        return first, second

    first, second = rig.run(flow)
    keys = load_test_keys()[16]
    assert decrypt_pin(keys.bdk, first.ksn, first.pin_block, "4761739001010010") == "9876"
    assert decrypt_pin(keys.bdk, second.ksn, second.pin_block, "4761739001010010") == "1111"


@pytest.mark.parametrize(("keys", "code"), [(["enter"], 0), (["f2"], 5), (["clear"], 8)])
def test_gky_reports_the_key_in_the_status(keys: list[str], code: int) -> None:
    rig = make_rig(behaviour=Behaviour(keys=list(keys)))

    def flow() -> Gen:
        return (yield from rig.host.gky())

    assert rig.run(flow) == code


def test_cke_reports_a_swipe() -> None:
    rig = make_rig(cards=[visa_swipe()], behaviour=Behaviour(presentation="swipe"))

    def flow() -> Gen:
        return (yield from rig.host.cke(m.CkeRequest(True, True, 1)))

    ev = rig.run(flow)
    assert ev.event == 1 and ev.track2.startswith("4761739001010010=")


def test_sale_over_a_paced_19200_baud_line() -> None:
    rig = make_rig(cards=[visa_swipe()], baud=19200)

    def flow() -> Gen:
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, VERSION, aid_records())
        card = yield from rig.host.gcr(gcr_req(app_type=2))
        return (yield from rig.host.gpn(m.GpnRequest(card.pan)))

    pin = rig.run(flow)
    keys = load_test_keys()[16]
    assert decrypt_pin(keys.bdk, pin.ksn, pin.pin_block, "4761739001010010") == "1234"
    # bytes arrived one at a time: the pinpad saw single-byte chunks
    rx = [e for e in rig.world.transcript.entries if e.port == "pinpad" and e.direction == "rx"]
    assert sum(1 for e in rx if len(e.hex) == 2) > 100


def test_gcr_with_contactless_antenna_times_out_after_two_minutes() -> None:
    from virtual_devices.abecs.pinpad import DeviceInfo

    rig = make_rig(cards=[], info=DeviceInfo(ctls=True))

    def flow() -> Gen:
        yield from rig.host.load_tables(0, VERSION, aid_records())
        start = rig.world.now
        with pytest.raises(AbecsError) as err:
            yield from rig.host.gcr(gcr_req())
        return err.value.code, rig.world.now - start

    code, took = rig.run(flow)
    assert code == 12 and 120.0 <= took < 121.0
    assert "APROXIME, INSIRA OU PASSE CARTAO" in [s.line1 + s.line2 for s in
                                                  rig.pinpad.display.history]
