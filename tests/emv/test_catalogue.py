"""Catalogue sanity: every named card is consistent, and the required cases exist."""

from __future__ import annotations

import pytest
from test_card_support import open_app

from simulator.masking import Redactor, luhn_ok, mask_pan
from virtual_devices.emv import magstripe, tlv
from virtual_devices.emv.card import load_card, pin_block
from virtual_devices.emv.catalogue import OUTCOMES, CatalogueError, catalogue, load_profile

CARDS = catalogue()


def test_required_cases_are_present() -> None:
    by_outcome: dict[str, list[str]] = {}
    for p in CARDS.values():
        for k, v in p.expected.items():
            by_outcome.setdefault(f"{k}={v}", []).append(p.name)
    assert "outcome=approved-online" in by_outcome
    assert "outcome=declined-offline" in by_outcome
    assert "outcome=declined-online" in by_outcome
    assert "outcome=declined-by-card" in by_outcome
    assert "outcome=fallback" in by_outcome
    assert "contactless_over_cvm_limit=see-phone" in by_outcome
    assert "contactless_over_cvm_limit=insert-card" in by_outcome
    assert "cvm=signature" in by_outcome and "cvm=online-pin" in by_outcome
    assert "cvm=pin-blocked" in by_outcome and "cvm_contactless_over_cvm_limit=cdcvm" in by_outcome
    assert any(len(p.applications) > 1 and p.applications[0].confirm for p in CARDS.values())
    assert any(p.mute for p in CARDS.values())
    assert any(p.t0 for p in CARDS.values())
    assert any(p.cardholder.get("pins", [None])[0] != p.pin for p in CARDS.values()
               if p.pin and p.cardholder.get("pins"))
    aids = {a.aid.hex().upper() for p in CARDS.values() for a in p.applications}
    assert {"A0000004941010", "A0000004942010", "A0000000031010", "A0000000041010",
            "A00000002501"} <= aids


@pytest.mark.parametrize("name", sorted(CARDS))
def test_profile_consistency(name: str) -> None:
    p = CARDS[name]
    assert luhn_ok(p.pan)
    assert set(p.expected) - {"outcome", "cvm"} <= {
        "contactless", "cvm_contactless", "contactless_over_cvm_limit",
        "cvm_contactless_over_cvm_limit", "magstripe"}
    for k, v in p.expected.items():
        assert k.startswith("cvm") or v in OUTCOMES
    if "contact" in p.interfaces and not p.mute:
        assert "outcome" in p.expected
    if "contactless" in p.interfaces:
        assert "contactless" in p.expected
    for a in p.applications:
        assert a.aid[:5].hex().upper() == {"visa": "A000000003", "mastercard": "A000000004",
                                           "amex": "A000000025", "elo": "A000000494"}[p.brand]
        assert a.oda in ("none", "sda", "dda", "cda")
        assert (a.aip[0] & 0x01 == 1) == (a.oda == "cda")
    if p.pin is not None:
        assert 0 <= p.pin_tries <= p.pin_try_limit


@pytest.mark.parametrize("name", sorted(n for n, p in CARDS.items()
                                        if "contact" in p.interfaces and not p.mute))
def test_chip_data_matches_profile_and_stripe(name: str) -> None:
    card = load_card(name)
    for app in card.profile.applications:
        o = open_app(card, aid=app.aid)
        assert o.tags[0x5A].hex().upper().rstrip("F") == card.pan
        assert o.tags[0x5F24].hex() == app.expiry
        assert o.tags[0x5F34].hex() == card.psn
        assert o.tags.get(0x8E, b"") == app.cvm_list
        assert o.tags[0x82] == app.aip
        tracks = card.tracks()
        if tracks is not None:
            pan, yymm, sc, _ = magstripe.parse_track2(tracks.track2)
            assert (pan, sc) == (card.pan, card.profile.service_code)
            assert yymm == card.profile.expiry[:4]
        card.power_off()


def test_bad_profiles_are_refused() -> None:
    brands = {"visa": {"scheme": "visa-cvn10", "ctls_scheme": "visa-cvn18",
                       "ctls_path": "qvsdc", "kernel_id": "03", "iac_default": "00",
                       "iac_denial": "00", "iac_online": "00", "pdol": "", "ctls_pdol": "",
                       "cdol1": "", "cdol2": "", "ddol": "", "tdol": "", "app_version": "01",
                       "gpo_format": 1, "gac_format": 1}}
    good = {"name": "x", "brand": "visa", "pan": "4761739001010010", "expiry": "301231",
            "applications": [{"aid": "A0000000031010"}]}
    assert load_profile(good, brands).pan == "4761739001010010"
    with pytest.raises(CatalogueError, match="Luhn"):
        load_profile({**good, "pan": "4761739001010011"}, brands)
    with pytest.raises(CatalogueError, match="brand"):
        load_profile({**good, "brand": "diners"}, brands)
    with pytest.raises(CatalogueError, match="outcome"):
        load_profile({**good, "expected": {"outcome": "approved-maybe"}}, brands)
    with pytest.raises(CatalogueError, match="scheme"):
        load_profile({**good, "applications": [{"aid": "A0000000031010",
                                                 "scheme": "visa-cvn99"}]}, brands)


def test_register_secrets_masks_card_data() -> None:
    card = load_card("visa-chip-pin")
    r = Redactor()
    card.register_secrets(r)
    tracks = card.tracks()
    assert tracks is not None
    text = r.text(f"pan {card.pan} t2 {tracks.track2} t1 {tracks.track1}")
    assert card.pan not in text and mask_pan(card.pan) in text
    assert tracks.track2 not in text and tracks.track1 not in text
    o = open_app(card)
    record = tlv.encode(0x70, tlv.encode(0x57, o.tags[0x57]))
    assert o.tags[0x57].hex() not in r.hex(record)
    assert pin_block("1234").hex() not in r.hex(b"\x00\x20\x00\x80\x08" + pin_block("1234"))


def test_fresh_state_per_load() -> None:
    a = load_card("visa-chip-pin")
    open_app(a, read=False)
    b = load_card("visa-chip-pin")
    assert b.atc() == a.atc() - 1


def test_enciphered_pin_needs_a_key_on_the_card() -> None:
    brands = {"visa": {"scheme": "visa-cvn10", "ctls_scheme": "visa-cvn18",
                       "ctls_path": "qvsdc", "kernel_id": "03", "iac_default": "00",
                       "iac_denial": "00", "iac_online": "00", "pdol": "", "ctls_pdol": "",
                       "cdol1": "", "cdol2": "", "ddol": "", "tdol": "", "app_version": "01",
                       "gpo_format": 1, "gac_format": 1}}
    card = {"name": "x", "brand": "visa", "pan": "4761739001010010", "expiry": "301231"}
    sda = {"aid": "A0000000031010", "oda": "sda", "cvm": "offline-pin"}
    with pytest.raises(CatalogueError, match="enciphered"):
        load_profile({**card, "applications": [sda]}, brands)
    assert load_profile({**card, "applications": [{**sda, "pin_key": "icc_08"}]}, brands)
    assert load_profile({**card, "applications": [{**sda, "cvm": "offline-plaintext-pin"}]},
                        brands)
