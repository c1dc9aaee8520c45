"""Many payments with mistakes: the host's ledger always agrees with what the reader saw.

Hypothesis picks cards, amounts (including the host's magic amounts), cardholder
mistakes and card faults (a chip falling silent, a second card in the field); whatever
happens, every approval the reader reports is in the ledger once,
every host approval that did not complete was reversed, and no full PAN or typed PIN
reaches the transcript.
"""

from __future__ import annotations

import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.world import World
from virtual_devices.acquirer import AcquirerHost, default_terminal_config
from virtual_devices.cardholder import Behaviour, Cardholder
from virtual_devices.emv.card import load_card
from virtual_devices.emv.kernel import Status, Txn, run_virtual

warnings.filterwarnings("ignore", message=".*TripleDES.*")

CARDS = [
    "mc-mute-chip-fallback", "visa-chip-pin", "mc-chip-signature", "visa-online-pin",
    "elo-combo", "visa-card-decline-2nd-gac", "mc-issuer-decline", "visa-contactless",
    "mc-contactless",
]
AMOUNTS = st.one_of(st.sampled_from([4567, 5100, 7100, 7200, 25000]),
                    st.integers(min_value=1, max_value=99_999))
BEHAVIOURS = st.builds(
    Behaviour,
    interface=st.sampled_from(["contact", "contactless", "magstripe"]),
    pins=st.lists(st.sampled_from(["0000", None, "1234", "1111"]), max_size=2).map(tuple),
    remove_after_apdus=st.one_of(st.none(), st.integers(min_value=1, max_value=20)),
    cancel_at_pin=st.booleans(),
    bad_swipes=st.integers(min_value=0, max_value=2),
    second_card_in_field=st.booleans(),
)
MUTE_AFTER = st.one_of(st.none(), st.integers(min_value=0, max_value=20))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payments=st.lists(st.tuples(st.sampled_from(CARDS), AMOUNTS, BEHAVIOURS, MUTE_AFTER),
                         min_size=1, max_size=4),
       seed=st.integers(min_value=0, max_value=1000))
def test_ledger_matches_the_readers_view(payments, seed) -> None:  # type: ignore[no-untyped-def]
    host = AcquirerHost()
    pos_view = []
    texts = []
    for i, (name, amount, behaviour, mute_after) in enumerate(payments):
        world = World(seed=seed + i)
        card = load_card(name).place_in(world)
        card.mute_after_apdus(mute_after)
        holder = Cardholder(world, behaviour, pin=card.profile.pin or "0000")
        out = run_virtual(world, card, default_terminal_config(), Txn(amount), holder, host)
        if out.reference:
            pos_view.append({"ref": out.reference, "amount": amount,
                             "approved": out.status is Status.APPROVED})
        else:
            assert out.status is not Status.APPROVED or not out.online
        texts.append((card.pan, world.transcript.jsonl()))
    assert host.ledger.check(pos_view) == []
    approved = sum(p["amount"] for p in pos_view if p["approved"])
    assert host.ledger.balance()["net"] == approved
    for pan, text in texts:
        assert pan not in text
