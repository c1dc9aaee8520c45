"""The shared device fixtures wrap the real parts and keep card numbers masked."""

from __future__ import annotations

import pytest

CASE = '''
import pytest
from conformance import case


@case("demo/1/1", title="fixtures")
@pytest.mark.card("mc-chip-signature")
@pytest.mark.acquirer(rules="default")
def test_fixtures(world, card, cardholder, acquirer, reader):
    assert card.name == "mc-chip-signature"
    assert reader.pinpad.cards[0] is card
    assert cardholder.world is world and reader.world is world
    assert acquirer.ledger is not None
    world.transcript.event("pos", f"card {card.pan} presented")

    def flow():
        secure = yield from reader.host.opn()
        assert secure is True
        yield from reader.host.clo("bye")

    reader.run(flow)
'''


def test_device_fixtures_run_a_real_pinpad(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_f=CASE)
    result = pytester.runpytest("--cardloop-reports=rep")
    assert result.ret == 0, result.stdout.str()
    text = (pytester.path / "rep" / "transcripts" / "demo_1_1.jsonl").read_text()
    assert '"port":"host","dir":"tx"' in text  # the host really spoke to the pinpad
    assert "presented" in text
    from virtual_devices.emv.catalogue import catalogue

    pan = catalogue()["mc-chip-signature"].pan
    assert pan not in text and pan[:6] in text
