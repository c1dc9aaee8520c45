"""inputMethod -> the interfaces the reader opens; GCR's card type -> the entry reported."""

from __future__ import annotations

import pytest

from protocol_servers.gochip import entry
from protocol_servers.gochip.agent import INPUT_METHODS
from virtual_devices.abecs import messages as m


@pytest.mark.parametrize("method", INPUT_METHODS)
def test_every_input_method_opens_what_it_names(method: str) -> None:
    opened = entry.allowed(method)
    assert opened == frozenset(method.split("_OR_"))
    assert opened <= set(entry.INTERFACES)


def test_no_input_method_opens_every_interface() -> None:
    assert entry.allowed(None) == frozenset({"SWIPE", "INSERT", "TAP", "KEYED"})


def _card(card_type: int, stat_chip: int = 0) -> m.GcrResponse:
    return m.GcrResponse(card_type=card_type, stat_chip=stat_chip, app_type=1, acq_idx=1,
                         rec_idx="01", track1="", track2="", track3="", pan="4761739001010010",
                         pan_seq=0, app_label="", service_code="201", holder_name="",
                         expiry="311231", issuer_country="076")


@pytest.mark.parametrize(("card_type", "stat", "how", "pos"), [
    (m.CARD_ICC, 0, "INSERT", "05"), (m.CARD_CTLS_EMV, 0, "TAP", "07"),
    (m.CARD_CTLS_MAG, 0, "TAP", "91"), (m.CARD_MAGSTRIPE, 0, "SWIPE", "90"),
    (m.CARD_MAGSTRIPE, 1, "SWIPE", "80")])
def test_entry_fields_follow_the_card_type(card_type: int, stat: int, how: str,
                                           pos: str) -> None:
    assert entry.fields(_card(card_type, stat)) == {"transactionInputMethod": how,
                                                    "posEntryMode": pos}
