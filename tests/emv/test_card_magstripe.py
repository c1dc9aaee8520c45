"""Magnetic stripe: tracks agree with the chip, service codes, bad swipes."""

from __future__ import annotations

import random

from psec.cvv import generate_cvv
from test_card_support import open_app

from virtual_devices.emv import crypto, magstripe
from virtual_devices.emv.card import load_card


def test_tracks_agree_with_chip_records() -> None:
    card = load_card("visa-chip-pin")
    tracks = card.tracks()
    assert tracks is not None
    o = open_app(card)
    pan, yymm, sc, disc = magstripe.parse_track2(tracks.track2)
    assert pan == card.pan == o.tags[0x5A].hex().upper().rstrip("F")
    assert yymm == o.tags[0x5F24].hex()[:4]
    assert sc == card.profile.service_code and o.tags[0x5F30].hex().endswith(sc)
    t1 = tracks.track1
    assert t1.startswith("B" + card.pan + "^")
    assert t1.split("^")[1].strip() == o.tags[0x5F20].decode()
    assert t1.split("^")[2][:7] == yymm + sc
    # chip track 2 equivalent: same PAN/expiry/service code, but an iCVV
    cpan, cyymm, csc, cdisc = magstripe.parse_track2(o.tags[0x57].hex().upper())
    assert (cpan, cyymm, csc) == (pan, yymm, sc)
    assert cdisc != disc


def test_cvv_is_the_brand_cvk_cvv() -> None:
    card = load_card("mc-mute-chip-fallback")
    tracks = card.tracks()
    assert tracks is not None
    pan, yymm, sc, disc = magstripe.parse_track2(tracks.track2)
    cvk = crypto.ISSUER_KEYS["mastercard"].cvk
    assert disc[5:8] == generate_cvv(cvk, pan, yymm, sc)
    icvv = magstripe.track2_equivalent("mastercard", pan, yymm, sc).hex().upper()
    assert magstripe.parse_track2(icvv)[3][5:8] == generate_cvv(cvk, pan, yymm, "999")


def test_chip_card_service_code_starts_with_2() -> None:
    for name in ("visa-chip-pin", "mc-mute-chip-fallback", "elo-combo"):
        card = load_card(name)
        tracks = card.tracks()
        assert tracks is not None
        assert magstripe.parse_track2(tracks.track2)[2][0] == "2"


def test_swipes_read_or_fail_by_probability() -> None:
    card = load_card("visa-chip-pin")
    good = card.swipe(random.Random(1))
    assert good.readable and good.track2 == card.tracks().track2  # type: ignore[union-attr]
    rng = random.Random(7)
    results = [card.swipe(rng, misread=0.3).readable for _ in range(2000)]
    bad = results.count(False)
    assert 450 < bad < 750  # about 30 %
    assert not card.swipe(rng, misread=1.0).readable


def test_same_seed_same_swipes() -> None:
    card = load_card("visa-chip-pin")
    a = [card.swipe(random.Random(3), 0.5).readable for _ in range(1)]
    b = [card.swipe(random.Random(3), 0.5).readable for _ in range(1)]
    assert a == b


def test_phone_has_no_stripe() -> None:
    phone = load_card("visa-phone-cdcvm")
    assert phone.tracks() is None
    assert not phone.swipe(random.Random(1)).readable
