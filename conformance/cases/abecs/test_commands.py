"""mpos-bridge.md §4.6 and §4.10: the classic command set and table loading."""

from __future__ import annotations

from typing import Any

from conformance import case
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys
from virtual_devices.abecs.fields import Command
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.rig import aid_records, visa_swipe

Gen = Any
VERSION = "CL00000042"


@case("abecs/4.6/1", title="GIN 00 answers the 100-byte device information", section="4.6",
      failure="the host cannot identify the pinpad")
def test_gin(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from abecs_device.host.exchange(m.GinRequest(0).to_command()))

    rsp = abecs_device.run(flow)
    assert rsp.status == 0 and len(rsp.data) == 100
    info = m.GinResponse.from_response(rsp)
    assert info.manufacturer and info.spec_version


@case("abecs/4.6/2", title="DSP shows 32 characters on two lines", section="4.6",
      failure="messages sent to the pinpad display are refused")
def test_dsp(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from abecs_device.host.dsp("APROXIME OU     INSIRA O CARTAO")
        yield from abecs_device.host.dex("LINHA UM\rLINHA DOIS")

    abecs_device.run(flow)
    if abecs_device.virtual:
        texts = abecs_device.pinpad.display.texts()
        assert "APROXIME OU / INSIRA O CARTAO" in texts and "LINHA UM / LINHA DOIS" in texts


@case("abecs/4.6/3", title="GDU: a KSN for the DUKPT key at index 16, 042 elsewhere",
      section="4.6", failure="the PIN key the acquirer expects is missing or misreported")
def test_gdu(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        ksn = yield from abecs_device.host.gdu(16)
        other = yield from abecs_device.host.exchange(m.GduRequest(3, 17).to_command())
        return ksn, other

    ksn, other = abecs_device.run(flow)
    assert len(ksn) == 10
    assert other.status == 42 and len(other.encode()) == 6


@case("abecs/4.6/4", title="TLI/TLR/TLE load tables and GTS reports the version",
      section="4.6", failure="EMV tables cannot be loaded or their version is wrong")
def test_table_load(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        yield from abecs_device.host.load_tables(0, VERSION, aid_records())
        v = yield from abecs_device.host.gts(0)
        same = yield from abecs_device.host.tli(0, VERSION)
        yield from abecs_device.host.tlr(aid_records()[:2])
        yield from abecs_device.host.tle()
        return v, same

    v, same = abecs_device.run(flow)
    assert v == VERSION and same is True
    if abecs_device.virtual:
        # the second load (same version) replaced the first: two AIDs, no CAPK left
        assert len(abecs_device.pinpad.tables.aids()) == 2
        assert abecs_device.pinpad.tables.capks() == []


@case("abecs/4.6/5", title="TLR and TLE without TLI are refused with 010", section="4.6",
      failure="records are accepted outside a table load")
def test_tlr_without_tli(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        tlr = m.TlrRequest(tuple(aid_records()[:1])).to_command()
        a = yield from abecs_device.host.exchange(tlr)
        b = yield from abecs_device.host.exchange(Command("TLE"))
        return a, b

    a, b = abecs_device.run(flow)
    assert a.status == 10 and b.status == 10


@case("abecs/4.6/6", title="GPN returns a DUKPT PIN block that decrypts to the typed PIN",
      section="4.6", failure="online PINs cannot be verified by the acquirer")
def test_gpn(abecs_device: Any) -> None:
    abecs_device.present(visa_swipe(), Behaviour(pin="2468"))

    def flow() -> Gen:
        yield from abecs_device.host.opn()
        return (yield from abecs_device.host.gpn(m.GpnRequest("4761739001010010")))

    pin = abecs_device.run(flow)
    keys = load_test_keys()[16]
    assert decrypt_pin(keys.bdk, pin.ksn, pin.pin_block, "4761739001010010") == "2468"


@case("abecs/4.6/7", title="GPN without a key press answers 012 after the PIN timeout",
      section="4.6", failure="a PIN prompt never ends")
def test_gpn_timeout(abecs_device: Any) -> None:
    abecs_device.present(visa_swipe(), Behaviour(walk_away_at="pin"))

    def flow() -> Gen:
        try:
            yield from abecs_device.host.gpn(m.GpnRequest("4761739001010010"))
        except AbecsError as exc:
            return exc.code
        return 0

    assert abecs_device.run(flow) == 12


@case("abecs/4.6/8", title="GPN with an unknown key index answers 042", section="4.6",
      failure="a PIN is asked for under a key the pinpad does not hold")
def test_gpn_missing_key(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from abecs_device.host.opn()
        req = m.GpnRequest("4761739001010010", key_idx=33)
        return (yield from abecs_device.host.exchange(req.to_command()))

    assert abecs_device.run(flow).status == 42


@case("abecs/4.6/9", title="a GPN PIN block reaches the acquirer: the right PIN approves, "
      "a wrong one is declined 55", section="4.6",
      failure="the acquirer approves whatever PIN the pinpad encrypted")
def test_gpn_pin_verified_by_the_acquirer(abecs_device: Any) -> None:
    from virtual_devices.abecs.flows import sale
    from virtual_devices.acquirer import AcquirerHost
    from virtual_devices.emv.catalogue import catalogue

    # visa_swipe() carries the catalogue visa-chip-pin PAN; the issuer knows its PIN
    pin = catalogue()["visa-chip-pin"].pin
    assert pin is not None
    acquirer = AcquirerHost()
    results = []
    for wrong in (0, 1):
        abecs_device.present(visa_swipe(), Behaviour(pin=pin, wrong_pins=wrong))

        def flow() -> Gen:
            yield from abecs_device.host.opn()
            return (yield from sale(abecs_device.host, acquirer, 1000, VERSION, aid_records()))

        results.append(abecs_device.run(flow))
    right, wrong_pin = results
    assert right.pin is not None and (right.arc, right.approved) == ("00", True)
    assert wrong_pin.pin is not None and (wrong_pin.arc, wrong_pin.approved) == ("55", False)
