"""card_hash (mpos-bridge.md §3.4) round-trips through the key holder's private key."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from protocol_servers.mpos.card_hash import (
    CardFields,
    build_card_hash,
    decrypt_card_hash,
    form_encode,
    form_fields,
    holder_name_display,
)

KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _card(**kw: object) -> CardFields:
    base: dict[str, object] = dict(
        capture_method="emv",
        payment_method="credit_card",
        card_number="4761739001010010",
        expiration_yymmdd="281231",
        sequence_number=1,
        track_2="4761739001010010=28122011143878089",
        holder_name="SILVA/JOAO",
        emv_data="9F2608AABBCCDDEEFF0011",
    )
    base.update(kw)
    return CardFields(**base)  # type: ignore[arg-type]


def test_field_order_and_formats() -> None:
    keys = [
        k
        for k, _ in form_fields(
            _card(
                pin_mode="online",
                pin_block="A" * 16,
                pin_ksn="F" * 20,
                track_1="B4761^SILVA/JOAO^2812",
            )
        )
    ]
    assert keys == [
        "capture_method",
        "payment_method",
        "card_number",
        "card_expiration_date",
        "card_sequence_number",
        "card_track_2",
        "card_track_1",
        "card_holder_name",
        "card_emv_data",
        "card_pin_mode",
        "card_pin",
        "card_pin_kek",
    ]
    values = dict(form_fields(_card()))
    assert values["card_expiration_date"] == "1228"
    assert values["card_holder_name"] == "JOAO SILVA"


def test_escaping_is_uri_escape_data_string() -> None:
    assert form_encode([("card_holder_name", "JOAO SILVA/X=1&y~")]) == (
        "card_holder_name=JOAO%20SILVA%2FX%3D1%26y~"
    )


def test_magstripe_has_no_emv_data_and_offline_pin_has_no_block() -> None:
    keys = dict(form_fields(_card(capture_method="magstripe", pin_mode="offline")))
    assert "card_emv_data" not in keys
    assert keys["card_pin_mode"] == "offline"
    assert "card_pin" not in keys


def test_round_trip_in_chunks_under_the_key() -> None:
    card = _card(track_1="B4761739001010010^SILVA/JOAO^28122011143878089" * 3)
    digest = build_card_hash(card, 77, KEY.public_key())
    key_id, _, body = digest.partition("_")
    assert key_id == "77" and body
    assert decrypt_card_hash(digest, KEY) == dict(form_fields(card))


def test_holder_name_reordering() -> None:
    assert holder_name_display("SILVA/JOAO ") == "JOAO SILVA"
    assert holder_name_display("DOUGLAS") == "DOUGLAS"
    assert holder_name_display("   ") is None


def test_seeded_padding_is_reproducible_and_standard() -> None:
    import random

    card = _card()
    a = build_card_hash(card, 1, KEY.public_key(), random.Random("s"))
    b = build_card_hash(card, 1, KEY.public_key(), random.Random("s"))
    c = build_card_hash(card, 1, KEY.public_key(), random.Random("t"))
    assert a == b != c
    assert decrypt_card_hash(a, KEY) == dict(form_fields(card))
