"""Contactless mag-stripe modes end to end: card, kernel on the SimPy reader, acquirer.

PayPass mag-stripe (CVC3 from COMPUTE CRYPTOGRAPHIC CHECKSUM) and Visa MSD (dCVV in
track 2) both go online with tracks and no cryptogram; the acquirer recomputes the
dynamic value, refuses a replayed or altered track, and a reader that does not offer the
mode (ABECS fixes Visa MSD off; Maestro has no PayPass mag-stripe) asks for another
interface.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

from simulator.world import World
from virtual_devices.acquirer import AcquirerHost
from virtual_devices.cardholder import Behaviour, Cardholder
from virtual_devices.emv import dynamic_track as dt
from virtual_devices.emv.card import load_card
from virtual_devices.emv.kernel import Status, Txn, run_virtual
from virtual_devices.emv.kernel.messages import AuthRequest

warnings.filterwarnings("ignore", message=".*TripleDES.*")


def _tap(name: str, amount: int, follow: bool = True,
         **aid_knobs: object) -> tuple[object, AcquirerHost, object]:
    world = World(seed=3, mode="virtual")
    card = load_card(name).place_in(world)
    host = AcquirerHost()
    config = host.terminal_config()
    if aid_knobs:
        config = config.with_aids(replace(a, **aid_knobs) for a in config.aids)  # type: ignore[arg-type]
    holder = Cardholder(world, Behaviour(interface="contactless", pins=("1234",),
                                         follow_prompts=follow), pin="1234")
    outcome = run_virtual(world, card, config, Txn(amount=amount), holder, host)
    return outcome, host, card


def _drive(phase: Any, card: Any) -> Any:
    """Run one kernel phase against the card directly (APDUs only, no clock)."""
    answer = None
    while True:
        try:
            req = phase.send(answer)
        except StopIteration as stop:
            return stop.value
        answer = card.transmit(req.command)


def test_paypass_magstripe_goes_online_with_a_cvc3_the_issuer_verifies() -> None:
    outcome, host, card = _tap("mc-paypass-magstripe", 1234)
    assert outcome.status is Status.APPROVED and outcome.magstripe_mode  # type: ignore[attr-defined]
    entry = host.ledger.entries[0]
    assert entry.meta["interface"] == "contactless" and entry.meta["cryptogram_ok"]
    assert 0x9F26 not in outcome.tags  # type: ignore[attr-defined]


def test_a_replayed_or_altered_paypass_track_is_refused() -> None:
    world = World(seed=4, mode="virtual")
    card = load_card("mc-paypass-magstripe").place_in(world)
    from virtual_devices.emv.kernel import ContactlessKernel

    host = AcquirerHost()
    kernel = ContactlessKernel(host.terminal_config(), Txn(amount=1234), world.rng("kernel"))
    card.power_on("contactless")
    _drive(kernel.select_and_read(), card)
    _drive(kernel.go_on_chip(), card)
    track = kernel.ms_track2
    req = AuthRequest("contactless", 1234, 986, card.pan, "00", b"", {}, track2=track)
    assert host.authorise(req).approved  # type: ignore[union-attr]
    assert host.authorise(req).arc == "82"  # type: ignore[union-attr]  # replay: ATC not new
    pan, rest = track.split("=")
    dd = rest[7:]
    cvc3, _, _ = dt.read(dd, dt.DEFAULT_LAYOUT)
    wrong = str((int(cvc3) + 1) % 1000).zfill(3)
    forged = dt.fill(dd, dt.Layout(dt.DEFAULT_LAYOUT.pcvc3, 0, 0), int(wrong), "", 0)
    forged = forged[:-1] + dd[-1]  # keep the reader's nUN digit
    fresh = AcquirerHost()
    bad = AuthRequest("contactless", 1234, 986, card.pan, "00", b"", {},
                      track2=f"{pan}={rest[:7]}{forged}")
    assert fresh.authorise(bad).arc == "82"  # type: ignore[union-attr]


def test_paypass_magstripe_over_the_cvm_limit_takes_the_online_pin() -> None:
    outcome, host, _ = _tap("mc-paypass-magstripe", 25000)
    assert outcome.cvm == "online-pin"  # type: ignore[attr-defined]
    assert host.ledger.entries[0].approved


def test_maestro_reader_without_magstripe_mode_asks_for_another_interface() -> None:
    outcome, host, _ = _tap("mc-paypass-magstripe", 1234, follow=False, ctls_magstripe=False)
    assert outcome.status is Status.TRY_ANOTHER_INTERFACE  # type: ignore[attr-defined]
    assert host.ledger.entries == []


def test_visa_msd_needs_a_reader_that_offers_it() -> None:
    outcome, host, _ = _tap("visa-msd", 1234, follow=False)  # TTQ MSD 0, as on ABECS
    assert outcome.status is Status.TRY_ANOTHER_INTERFACE  # type: ignore[attr-defined]
    outcome, host, _ = _tap("visa-msd", 1234, ctls_msd=True)
    assert outcome.status is Status.APPROVED and outcome.magstripe_mode  # type: ignore[attr-defined]
    entry = host.ledger.entries[0]
    assert entry.meta["interface"] == "contactless" and entry.meta["cryptogram_ok"]


def test_visa_msd_dcvv_changes_with_the_atc_and_a_replay_fails() -> None:
    world = World(seed=5, mode="virtual")
    card = load_card("visa-msd").place_in(world)
    host = AcquirerHost()
    config = host.terminal_config()
    config = config.with_aids(replace(a, ctls_msd=True) for a in config.aids)
    from virtual_devices.emv.kernel import ContactlessKernel

    tracks = []
    for _ in range(2):
        kernel = ContactlessKernel(config, Txn(amount=1234), world.rng("kernel"))
        card.power_on("contactless")
        _drive(kernel.select_and_read(), card)
        _drive(kernel.go_on_chip(), card)
        tracks.append(kernel.ms_track2)
    assert tracks[0] != tracks[1] and tracks[0][:24] == tracks[1][:24]
    for t in tracks:
        req = AuthRequest("contactless", 1234, 986, card.pan, "00", b"", {}, track2=t)
        assert host.authorise(req).approved  # type: ignore[union-attr]
    old = AuthRequest("contactless", 1234, 986, card.pan, "00", b"", {}, track2=tracks[0])
    assert host.authorise(old).arc == "82"  # type: ignore[union-attr]
