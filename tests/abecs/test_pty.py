"""The pinpad and the host on the two ends of a real pty pair, on the wall clock."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Generator
from pathlib import Path
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
    world = World(seed=5, mode="realtime", factor=factor)

    async def main() -> Any:
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

    return asyncio.run(main()), world


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

    (code, v), _ = over_pty(flow, factor=1.0)
    assert code == 13 and v == "0000000000"


def test_cli_prints_a_path_a_host_can_open(tmp_path: Path) -> None:
    """No ``--pty`` needed (its only mode), and the path is the same on every start."""
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "reader", "--duration", "20",
         "--factor", "0.1", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path == str(tmp_path / "cardloop" / "reader" / "host"), path

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


def test_table_load_and_chip_and_pin_sale_over_pty_at_factor_1() -> None:
    from virtual_devices.abecs.flows import sale
    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()["visa-chip-pin"]

    def flow(host: AbecsHost, pinpad: Pinpad) -> Generator[Any, Any, Any]:
        pinpad.cards.clear()
        pinpad.queue_card(VirtualCard(profile).place_in(host.world))
        acquirer = make_acquirer(host.world)
        cfg = acquirer.terminal_config()
        version = cfg.table_version[:10].ljust(10, "0")
        yield from host.cancel()
        yield from host.opn()
        res = yield from sale(host, acquirer, 4990, version, records_from_config(cfg))
        return res, len(pinpad.tables.aids())

    (res, n_aids), world = over_pty(flow, factor=1.0)
    assert res.approved and res.goc.decision == 2 and res.fnc.decision == 0
    assert n_aids > 0 and any(s.startswith("GCR") for s in res.steps)
    frames = [e for e in world.transcript.entries if e.direction in ("tx", "rx")
              and e.port in ("host", "pinpad")]
    assert frames and all(e.label for e in frames)  # every chunk decoded
    assert any("[sec] GOC" in e.label for e in frames)
