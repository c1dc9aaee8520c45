"""A host and a virtual pinpad on one in-memory serial line (virtual mode).

Used by the unit tests, the conformance fixture and the benchmark; the sample tables
are the Pagar.me TMS AIDs of mpos-bridge.md §3.5 under ABECS acquirer 08.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from simulator.streams import ByteEnd
from simulator.world import World
from virtual_devices.abecs.customer import Behaviour, Customer, MagstripeCard
from virtual_devices.abecs.host import AbecsHost
from virtual_devices.abecs.pinpad import Pinpad
from virtual_devices.abecs.tables import AID_V21_LEN, AidRecord, CapkRecord

VERSION = "0000000042"


@dataclass
class Rig:
    world: World
    host: AbecsHost
    pinpad: Pinpad
    host_end: ByteEnd
    pinpad_end: ByteEnd

    def run(self, flow: Callable[[], Generator[Any, Any, Any]]) -> Any:
        proc = self.world.process(flow())
        self.world.run(until=proc)
        return proc.value


def make_rig(seed: int = 1, cards: list[Any] | None = None, behaviour: Behaviour | None = None,
             secure: bool = True, world: World | None = None, baud: int | None = None,
             **pinpad_kw: Any) -> Rig:
    from virtual_devices.terminal.ends import pinpad_end

    world = world or World(seed=seed)
    end = pinpad_end(world, "memory", cards=cards or [], customer=Customer(world, behaviour),
                     secure=secure, baud=baud, **pinpad_kw)
    return Rig(world, end.host, end.pinpad, end.host_end, end.pinpad.end)


def aid_records() -> list[bytes]:
    return [
        AidRecord(8, "01", bytes.fromhex("A0000000031010"), 1, "VISA CREDITO",
                  ctls_mode="2", ctls_txn_limit=100000, ctls_cvm_limit=5000,
                  layout=AID_V21_LEN).encode(),
        AidRecord(8, "02", bytes.fromhex("A0000000032010"), 2, "VISA DEBITO").encode(),
        AidRecord(8, "03", bytes.fromhex("A0000000041010"), 1, "MASTERCARD",
                  ctls_mode="4", ctls_txn_limit=100000, ctls_cvm_limit=5000,
                  layout=AID_V21_LEN).encode(),
        CapkRecord(8, "04", bytes.fromhex("A000000003"), 0x92, b"\x03", bytes(range(176))).encode(),
    ]


def visa_swipe() -> MagstripeCard:
    return MagstripeCard("4761739001010010", "2812", "SILVA/JOAO")

