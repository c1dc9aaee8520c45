"""Every catalogue card runs through the kernel to its documented outcome.

Each case runs the real card, the real kernel on the SimPy reader, the cardholder
and the acquirer host in a virtual world; the host verifies the ARQC (ledger entry
``cryptogram_ok``) and, where the card checks the ARPC, the second GENERATE AC only
yields a TC if the ARPC verified.
"""

from __future__ import annotations

import warnings

import pytest

from virtual_devices.emv.catalogue import catalogue
from virtual_devices.emv.cli import run_card
from virtual_devices.emv.kernel import Status
from virtual_devices.emv.kernel import bits as B

warnings.filterwarnings("ignore", category=DeprecationWarning)

UNDER_CVM_LIMIT = 1234
OVER_CVM_LIMIT = 25000  # the default tables' contactless CVM limit is 20000

CASES = [
    (name, key, iface, amount)
    for name, prof in catalogue().items()
    for key, iface, amount in (
        ("outcome", "contact", UNDER_CVM_LIMIT),
        ("contactless", "contactless", UNDER_CVM_LIMIT),
        ("contactless_over_cvm_limit", "contactless", OVER_CVM_LIMIT),
        ("magstripe", "magstripe", UNDER_CVM_LIMIT),
    )
    if key in prof.expected
]


def _cvm_key(key: str) -> str:
    return {"outcome": "cvm", "contactless": "cvm_contactless",
            "contactless_over_cvm_limit": "cvm_contactless_over_cvm_limit"}.get(key, "")


@pytest.mark.parametrize(("name", "key", "iface", "amount"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_catalogue_card_reaches_documented_outcome(
    name: str, key: str, iface: str, amount: int
) -> None:
    prof = catalogue()[name]
    expected = prof.expected[key]
    if expected == "collision":
        _collide(name)
        return
    floor = 5000 if expected == "approved-offline" else None
    follow = expected not in ("insert-card", "fallback", "see-phone")
    outcome, world, host = run_card(name, amount, seed=1, interface=iface,
                                    floor_limit=floor, follow_prompts=follow)
    entries = host.ledger.entries
    if expected == "approved-online":
        assert outcome.status is Status.APPROVED, outcome.reason
        assert outcome.online and outcome.arc == "00"
        assert len(entries) == 1 and entries[0].approved
        if outcome.magstripe_mode:
            # a tap in mag-stripe mode: no cryptogram, the host checked the CVC3
            assert outcome.cryptogram == "" and entries[0].meta["cryptogram_ok"]
        elif outcome.interface != "magstripe":
            assert outcome.first_cryptogram == "ARQC"
            # contact: TC at the second GENERATE AC; a tap has only its ARQC
            assert outcome.cryptogram == ("TC" if outcome.interface == "contact" else "ARQC")
            assert entries[0].meta["cryptogram_ok"], "host did not verify the ARQC"
        if outcome.interface == "contact":
            assert outcome.issuer_auth is True, "card did not verify the ARPC"
    elif expected == "approved-offline":
        assert outcome.status is Status.APPROVED
        assert not outcome.online and outcome.cryptogram == "TC" and outcome.arc == "Y1"
        assert entries == []
    elif expected == "declined-offline":
        assert outcome.status is Status.DECLINED
        assert not outcome.online and outcome.cryptogram == "AAC"
        assert entries == []
    elif expected == "declined-online":
        assert outcome.status is Status.DECLINED and outcome.online
        assert outcome.arc == prof.host.get("response_code", "05")
        assert entries[0].meta["cryptogram_ok"] and not entries[0].approved
    elif expected == "declined-by-card":
        assert outcome.status is Status.DECLINED and outcome.online and outcome.arc == "00"
        assert outcome.first_cryptogram == "ARQC" and outcome.cryptogram == "AAC"
        assert outcome.reversed, "a host approval the card refused must be reversed"
        assert host.ledger.balance()["net"] == 0
    elif expected == "insert-card":
        assert outcome.status in (Status.INSERT_CARD, Status.TRY_ANOTHER_INTERFACE)
        assert entries == []
    elif expected == "fallback":
        assert outcome.status is Status.FALLBACK
        again, _, host2 = run_card(name, amount, seed=1, interface=iface)
        assert again.status is Status.APPROVED and again.interface == "magstripe"
        assert host2.ledger.entries[0].approved
    elif expected == "see-phone":
        assert outcome.status is Status.SEE_PHONE
        again, _, _ = run_card(name, amount, seed=1, interface=iface)
        assert again.status is Status.APPROVED and again.cvm == "cdcvm"
    else:  # pragma: no cover - the catalogue validates its outcome names
        pytest.fail(f"unknown expectation {expected}")
    cvm = prof.expected.get(_cvm_key(key))
    if cvm and outcome.status in (Status.APPROVED, Status.DECLINED):
        if cvm == "offline-pin":
            assert outcome.cvm.startswith("offline-"), outcome.cvm
        elif cvm == "pin-blocked":
            assert outcome.cvm == "failed"
            assert B.has(outcome.tvr, B.TVR_PIN_TRY_LIMIT_EXCEEDED)
        else:
            assert outcome.cvm == cvm
    assert host.ledger.check(
        [{"ref": e.ref, "amount": e.amount, "approved": e.live} for e in entries]
    ) == []
    text = "\n".join(e.to_json() for e in world.transcript.entries)
    assert prof.pan not in text, "full PAN in the transcript"


def _collide(name: str) -> None:
    from simulator.world import World
    from virtual_devices.acquirer import AcquirerHost, default_terminal_config
    from virtual_devices.cardholder import Behaviour, Cardholder
    from virtual_devices.emv.card import load_card
    from virtual_devices.emv.field import Field
    from virtual_devices.emv.kernel import Txn, run_virtual

    world = World(seed=1)
    field = Field()
    field.enter(load_card(name).place_in(world))
    other = "mc-contactless" if name != "mc-contactless" else "visa-contactless"
    field.enter(load_card(other).place_in(world))
    holder = Cardholder(world, Behaviour(interface="contactless", follow_prompts=False))
    host = AcquirerHost()
    out = run_virtual(world, field, default_terminal_config(), Txn(UNDER_CVM_LIMIT), holder,
                      host)
    assert out.status is Status.COLLISION and len(host.ledger) == 0


@pytest.mark.realtime
def test_same_flow_runs_on_the_wall_clock() -> None:
    """The reader only waits on the world's clock, so realtime mode runs it unchanged."""
    import asyncio

    from simulator.world import World
    from virtual_devices.acquirer import AcquirerHost, default_terminal_config
    from virtual_devices.cardholder import Behaviour, Cardholder
    from virtual_devices.emv.card import load_card
    from virtual_devices.emv.kernel import Txn, run_transaction

    world = World(seed=1, mode="realtime", factor=0.002)  # 500x faster than real time
    card = load_card("visa-chip-pin").place_in(world)
    holder = Cardholder(world, Behaviour(), pin="1234")
    proc = world.process(run_transaction(world, card, default_terminal_config(), Txn(1234),
                                         holder, AcquirerHost()))
    outcome = asyncio.run(world.run_realtime(until=proc))
    assert outcome.status is Status.APPROVED
    assert world.now > 5.0  # the cardholder and the host took simulated seconds
