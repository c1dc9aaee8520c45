"""``cardloop cards`` and ``cardloop card``: the catalogue and one flow from the shell."""

from __future__ import annotations

import json

import pytest

from simulator.cli import main
from virtual_devices.emv.catalogue import catalogue


def test_cards_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cards"]) == 0
    out = capsys.readouterr().out
    for name in catalogue():
        assert name in out


def test_card_prints_a_masked_trace_and_the_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["card", "visa-chip-pin", "--amount", "1234", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "GENERATE AC 1 (ARQC)" in out and "status            approved" in out
    assert "4761739001010010" not in out and "476173******0010" in out
    assert main(["card", "visa-chip-pin", "--amount", "1234", "--seed", "3"]) == 0
    assert capsys.readouterr().out == out  # same seed, same trace


@pytest.mark.parametrize(("args", "status", "cvm"), [
    (["--interface", "contactless", "--amount", "25000"], "approved", "online-pin"),
    (["--interface", "magstripe"], "approved", "offline-enciphered-pin"),  # told to insert
    (["--pin", "0000"], "approved", "offline-enciphered-pin"),  # wrong, then the right one
])
def test_card_options(capsys: pytest.CaptureFixture[str], args: list[str], status: str,
                      cvm: str) -> None:
    assert main(["card", "visa-contactless", "--json", *args]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["status"] == status and got["cvm"] == cvm


def test_unknown_card_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["card", "no-such-card"]) == 2
    assert "no card named" in capsys.readouterr().err
