"""The pinpad and the host on the two ends of a real pty pair, on the wall clock."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Callable, Generator
from typing import Any

import pytest

from simulator.ports.pty import PtyPair, open_serial_end
from simulator.world import World
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour, Customer
from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys
from virtual_devices.abecs.host import AbecsError, AbecsHost
from virtual_devices.abecs.labeler import FrameLabeler
from virtual_devices.abecs.pinpad import Pinpad
from virtual_devices.abecs.rig import VERSION, aid_records, visa_swipe

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed"),
]
QUICK = Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1))


def over_pty(flow: Callable[[AbecsHost, Pinpad], Generator[Any, Any, Any]], factor: float,
             behaviour: Behaviour = QUICK) -> tuple[Any, World]:
    async def main() -> Any:
        world = World(seed=5, mode="realtime", factor=factor)
        holder: list[Pinpad] = []
        labeler = FrameLabeler(lambda: holder[0].session if holder else None)
        with PtyPair(names=("host", "pinpad")) as pair:
            host_end = open_serial_end(world, pair.host_path, name="host", labeler=labeler)
            dev_end = open_serial_end(world, pair.device_path, name="pinpad", labeler=labeler)
            pinpad = Pinpad(world, dev_end, cards=[visa_swipe()],
                            customer=Customer(world, behaviour))
            holder.append(pinpad)
            pinpad.start()
            host = AbecsHost(world, host_end)
            proc = world.process(flow(host, pinpad))
            try:
                return await asyncio.wait_for(world.run_realtime(until=proc), 60)
            finally:
                host_end.close()
                dev_end.close()

    world_box: list[World] = []
    result = asyncio.run(main())
    return result, world_box[0] if world_box else None  # type: ignore[return-value]


def sale(host: AbecsHost, pinpad: Pinpad) -> Generator[Any, Any, Any]:
    yield from host.cancel()
    yield from host.opn()
    yield from host.load_tables(0, VERSION, aid_records())
    card = yield from host.gcr(m.GcrRequest(2500, "261125", "130000", VERSION, app_type=2))
    pin = yield from host.gpn(m.GpnRequest(card.pan))
    yield from host.clo("OBRIGADO")
    return card, pin, pinpad.display.texts()


def test_magstripe_sale_with_online_pin_over_pty_at_factor_1() -> None:
    (card, pin, screens), _ = over_pty(sale, factor=1.0)
    assert card.pan == "4761739001010010" and card.app_type == 2
    keys = load_test_keys()[16]
    assert decrypt_pin(keys.bdk, pin.ksn, pin.pin_block, card.pan) == "1234"
    assert screens[-1].startswith("OBRIGADO")


def test_cancel_by_can_over_pty() -> None:
    def flow(host: AbecsHost, pinpad: Pinpad) -> Generator[Any, Any, Any]:
        yield from host.opn()
        pinpad.cards.clear()  # nobody presents a card: GCR waits until CAN

        def cancel_later() -> Generator[Any, Any, None]:
            yield host.world.timeout(1.0)
            yield from host.cancel()

        host.world.process(cancel_later())
        try:
            yield from host.gcr(m.GcrRequest(100, "261125", "130000", VERSION))
        except AbecsError as exc:
            code = exc.code
        v = yield from host.gts(0)
        return code, v

    (code, v), _ = over_pty(flow, factor=0.2)
    assert code == 13 and v == "0000000000"


def test_cli_prints_a_path_a_host_can_open() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "reader", "--pty", "--duration", "20",
         "--factor", "0.1", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path

        async def main() -> Any:
            world = World(seed=1, mode="realtime", factor=0.1)
            end = open_serial_end(world, path, name="host")
            host = AbecsHost(world, end)

            def flow() -> Generator[Any, Any, Any]:
                yield from host.cancel()
                yield from host.opn()
                info = yield from host.gin(0)
                yield from host.dsp("POS PRONTO")
                return info

            p = world.process(flow())
            try:
                return await asyncio.wait_for(world.run_realtime(until=p), 20)
            finally:
                end.close()

        info = asyncio.run(main())
        assert info.manufacturer == "CARDLOOP"
    finally:
        proc.terminate()
        proc.wait(10)
