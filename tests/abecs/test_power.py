"""A pinpad that reboots or loses power forgets its RAM and keeps its flash.

Volatile: the secure session of OPN, the chip session, the display; persistent: the
tables and the keys (DUKPT registers with their counters). While it is off or booting it
answers nothing; after the boot the host's secure packets get 003 until it opens again.
"""

from __future__ import annotations

import pytest

from simulator.timings import load_timings
from virtual_devices.abecs import power
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.rig import VERSION, aid_records, make_rig

T = load_timings("virtual_devices.abecs")


def _opened_with_tables():  # type: ignore[no-untyped-def]
    rig = make_rig()

    def flow():  # type: ignore[no-untyped-def]
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, VERSION, aid_records())
        yield from rig.host.dsp("VENDA 12,00")

    rig.run(flow)
    return rig


@pytest.mark.parametrize("off", [0.0, T["power_loss_off"]])
def test_reboot_forgets_the_session_and_keeps_tables_and_keys(off: float) -> None:
    rig = _opened_with_tables()
    pinpad = rig.pinpad
    assert pinpad.session is not None and "VENDA" in pinpad.display.current.text
    counters = {i: k.counter for i, k in pinpad.keys.items()}
    t0 = rig.world.now
    booted = power.power_cycle(pinpad, off, "power_loss" if off else "reboot")
    assert pinpad.session is None and not pinpad.powered
    assert pinpad.display.current.text == ""  # dark

    def talk_while_off():  # type: ignore[no-untyped-def]
        try:
            yield from rig.host.gin()
        except AbecsError as exc:
            return exc
        return None

    err = rig.run(talk_while_off)
    assert isinstance(err, AbecsError), "a pinpad without power answered"
    rig.world.run(until=booted)
    assert rig.world.now - t0 == pytest.approx(off + T["boot_time"])
    assert pinpad.powered and pinpad.booted == 1 and pinpad.display.current.text == ""
    assert {i: k.counter for i, k in pinpad.keys.items()} == counters  # flash: kept

    def after_boot():  # type: ignore[no-untyped-def]
        try:  # the host still believes in its session: the pinpad has none (003)
            yield from rig.host.gts(0)
        except AbecsError as exc:
            refused = exc.code
        else:
            refused = None
        rig.host.session = None
        yield from rig.host.opn()  # opening again is all it takes...
        return refused, (yield from rig.host.gts(0))

    refused, version = rig.run(after_boot)
    assert refused == 3
    assert version[:10] == VERSION  # ...the tables survived the power cycle


def test_an_armed_fault_takes_the_power_as_its_command_arrives() -> None:
    rig = _opened_with_tables()
    fault = power.arm(rig.world, power.PowerFault(at="GTS", kind="reboot"))

    def flow():  # type: ignore[no-untyped-def]
        yield from rig.host.gin()  # other commands pass
        try:
            yield from rig.host.gts(0)
        except AbecsError as exc:
            return exc
        return None

    assert isinstance(rig.run(flow), AbecsError)
    assert fault.fired == [rig.pinpad.name] and not rig.pinpad.powered
    assert "device.reboot" in rig.world.transcript.jsonl()
    power.disarm(rig.world)
