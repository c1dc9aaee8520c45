"""The key methods of ABECS 2.12 §5: each one from the pinpad, opened by the acquirer.

The §5.3.1 vectors are the specification's own examples (WKPAN
EA528A43B02652FDEB538B42B12753FC), copied from its text, not computed here.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.keys import (
    KeyError_,
    KeyStore,
    decrypt_incoming_pan,
    decrypt_pan_in,
    e2e_encrypt,
    encrypt_pan_in,
    load_dukpt_dat_keys,
    load_master_keys,
    new_krand,
)
from virtual_devices.abecs.rig import make_rig, visa_swipe
from virtual_devices.abecs.secure import load_test_host_key, wrap_session_key
from virtual_devices.acquirer import pinpad_keys as acq

WKPAN = bytes.fromhex("EA528A43B02652FDEB538B42B12753FC")
NAME = "NOME NOME NOME NOME NOME N"
WORKING_KEY = bytes.fromhex("1122334455667788AABBCCDDEEFF0011")

SPEC_5_3_1 = [  # (clear, as the pinpad returns it)
    (f"B3764 361234 56006^{NAME}^0905060640431", f"B35716A983F0E4643B^{NAME}^0905060640431"),
    (f"B3764361234006^{NAME}^0905060640431", f"BA4F4729D58CAA7DA^{NAME}^0905060640431"),
    ("6002938264523821=09050606404312376450", "BC27B145C5DE8BEB=09050606404312376450"),
    ("3827418937101=09050606404312376450123", "1CCE9197C5C6E3FF=09050606404312376450123"),
    ("4916748362525378000==5300053205322056019300000010000004050=00000000000000000="
     "00000000000000000=7=3012056",
     "491FE8E271A114C1A35==5300053205322056019300000010000004050=00000000000000000="
     "00000000000000000=7=3012056"),
    ("9823746589273648956239486587923497851", "9823746589273648956232C05DF894573C7FA"),
]


@pytest.mark.parametrize("clear, sent", SPEC_5_3_1)
def test_encrypted_pan_matches_the_specification_examples(clear: str, sent: str) -> None:
    assert encrypt_pan_in(WKPAN, clear) == sent
    assert decrypt_pan_in(WKPAN, sent) == clear  # §5.3.2, the SPE's side


@pytest.mark.parametrize("sent, clear", [("623407E5D4F32598B98", "6234987432874320001"),
                                         ("431E6D386E688B0B", "376436123456006")])
def test_a_pan_the_host_encrypted_is_recovered(sent: str, clear: str) -> None:
    assert decrypt_incoming_pan(WKPAN, sent) == clear  # §5.3.1 examples 2 and 4


def test_short_or_odd_pans_stay_clear() -> None:
    assert encrypt_pan_in(WKPAN, "476173900101=2812") == "476173900101=2812"  # 12 digits
    assert encrypt_pan_in(WKPAN, "B47617390010103A7^X^") == "B47617390010103A7^X^"


def test_the_store_has_32_positions_per_kind_and_says_which_hold_keys() -> None:
    store = KeyStore.test_keys()
    for kind in ("mk_pin", "mk_dat", "dukpt_pin", "dukpt_dat"):
        presence = store.presence(kind)
        assert len(presence) == 100 and presence[0] == "2" and presence[33:] == "2" * 67
        assert set(presence[1:33]) <= {"0", "1"}
    assert store.presence("dukpt_pin")[16] == store.presence("dukpt_pin")[32] == "1"
    assert store.presence("mk_pin")[1] == "1" and store.presence("mk_pin")[3] == "0"
    assert store.ksn("dukpt_pin", 32) is not None and store.ksn("dukpt_dat", 5) is None


def _gpn(method: int, idx: int, wkenc: str, pin: str = "2468") -> tuple[Any, Any]:
    card = visa_swipe()
    rig = make_rig(behaviour=Behaviour(pin=pin))
    req = m.GpnRequest(card.pan, method=method, key_idx=idx, working_key=wkenc)

    def flow() -> Any:
        try:
            return (yield from rig.host.gpn(req))
        except AbecsError as exc:
            return exc.code

    return rig.run(flow), card


def test_gpn_with_a_master_key_and_the_hosts_working_key() -> None:
    master = load_master_keys()["mk_pin"][1]
    got, card = _gpn(1, 1, acq.wrap_working_key(master, WORKING_KEY))
    assert got.ksn == bytes(10)  # no KSN for MK/WK
    assert acq.open_mk_pin(WORKING_KEY, got.pin_block, card.pan) == "2468"


def test_gpn_with_dukpt_at_the_last_position() -> None:
    from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys

    got, card = _gpn(3, 32, "0" * 32)
    assert decrypt_pin(load_test_keys()[32].bdk, got.ksn, got.pin_block, card.pan) == "2468"


@pytest.mark.parametrize("method, idx", [(0, 1), (2, 16), (1, 3), (3, 33), (3, 1)])
def test_gpn_without_such_a_key_answers_042(method: int, idx: int) -> None:
    got, _ = _gpn(method, idx, "0" * 32)
    assert got == m.ST_ERRKEY


@pytest.mark.parametrize("method", [50, 51])
def test_dukpt_dat3_data_is_opened_by_the_acquirer(method: int) -> None:
    store = KeyStore.test_keys()
    data = b"4761739001010010=28121010000000000000"[:32]
    iv = bytes.fromhex("0102030405060708")
    crypt, ksn = store.encrypt_data(method, 17, data, iv=iv)
    crypt2, ksn2 = store.encrypt_data(method, 17, data, iv=iv)
    assert ksn2 != ksn and crypt2 != crypt  # a new transaction key each call
    bdk = load_dukpt_dat_keys()[17][0]
    assert acq.open_dukpt_dat3(bdk, ksn, crypt, iv if method == 51 else None) == data


def test_mk_data_with_a_working_key() -> None:
    store = KeyStore.test_keys()
    wkenc = bytes.fromhex(acq.wrap_working_key(load_master_keys()["mk_dat"][1], WORKING_KEY))
    crypt, ksn = store.encrypt_data(10, 1, b"ABCDEFGH" * 2, wkenc)
    assert ksn == bytes(10) and acq.open_mk_data(WORKING_KEY, crypt) == b"ABCDEFGH" * 2
    with pytest.raises(KeyError_):
        store.encrypt_data(30, 1, bytes(8))  # DUKPT:TDES:DAT#1 was removed in 2.10


def test_end_to_end_tracks_under_krand_wrapped_for_the_host() -> None:
    store = KeyStore.test_keys()
    rng = random.Random(4)
    krand = new_krand(rng)
    host = load_test_host_key()
    numbers = host.public_key().public_numbers()
    enckrand = wrap_session_key(krand, numbers.n, numbers.e, rng)
    track2 = "66733246732413=1512601234879534275432"  # §5.4.2.2's example track
    crypt, _ = e2e_encrypt(store, 90, 0, track2, 4, nibbles=True, krand=krand)
    assert crypt[:2] == bytes.fromhex("6673") and len(crypt) == 2 + 24
    opened_key = acq.unwrap_krand(host, enckrand)
    assert acq.open_track_nibbles(4, crypt, opened_key) == track2
    track1 = "B9994444333322221111^NOME^151260123487"  # §5.4.2.1's example track
    crypt1, _ = e2e_encrypt(store, 91, 0, track1, 8, nibbles=False, krand=krand)
    assert crypt1[:9] == b"B99944443"
    assert acq.open_track1(8, crypt1, opened_key, bytes(8)) == track1


def test_end_to_end_with_dukpt_dat3() -> None:
    store = KeyStore.test_keys()
    crypt, ksn = e2e_encrypt(store, 50, 17, "4761739001010010", 6, nibbles=True)
    bdk = load_dukpt_dat_keys()[17][0]
    future = acq.open_dukpt_dat3(bdk, ksn, crypt[3:])
    assert (crypt[:3].hex() + future.hex().upper()).rstrip("F") == "4761739001010010"


def test_gcr_returns_the_pan_encrypted_under_wkpan_and_the_host_opens_it() -> None:
    from virtual_devices.abecs.rig import VERSION, aid_records

    rig = make_rig(cards=[visa_swipe()])
    rig.pinpad.key_store.wkpan = WKPAN  # what DWK (modality 1 or 2) leaves in the pinpad

    def flow() -> Any:
        yield from rig.host.load_tables(0, VERSION, aid_records())
        return (yield from rig.host.gcr(m.GcrRequest(1500, "261125", "120000", VERSION)))

    card = rig.run(flow)
    clear = visa_swipe()
    assert card.pan != clear.pan and len(card.pan) == 16
    assert decrypt_pan_in(WKPAN, card.pan) == clear.pan
    assert decrypt_pan_in(WKPAN, card.track2) == clear.track2
    assert decrypt_pan_in(WKPAN, card.track1) == clear.track1


def test_dwk_modality_2_the_host_opens_the_pan_the_pinpad_encrypted() -> None:
    """DWK modality 2: the pinpad draws WKPAN, the host opens the RSA block (§5.3.3) and
    then reads the PAN GCR returns encrypted under it (§5.3.2)."""
    from virtual_devices.abecs.rig import VERSION, aid_records

    rig = make_rig(cards=[visa_swipe()])

    def flow() -> Any:
        yield from rig.host.opn(secure=False)
        wkpan = yield from rig.host.dwk_random()
        yield from rig.host.load_tables(0, VERSION, aid_records())
        card = yield from rig.host.gcr(m.GcrRequest(1500, "261125", "120000", VERSION))
        return wkpan, card

    wkpan, card = rig.run(flow)
    assert wkpan == rig.pinpad.key_store.wkpan
    clear = visa_swipe()
    assert card.pan != clear.pan and decrypt_pan_in(wkpan, card.pan) == clear.pan


def test_wkpan_block_layout_and_a_tampered_block_refused() -> None:
    from virtual_devices.abecs.host import DWK_SPEC_EXPONENT, DWK_SPEC_MODULUS, DWK_SPEC_PRIVATE
    from virtual_devices.abecs.keys import seal_wkpan, wkpan_block

    block = wkpan_block(7, WKPAN)
    assert block == b"T1000000007" + WKPAN.hex().upper().encode() + b"0" * 84 + b"X"
    crypt = seal_wkpan(7, WKPAN, DWK_SPEC_MODULUS, DWK_SPEC_EXPONENT)
    assert acq.open_wkpan_cryptogram(DWK_SPEC_MODULUS, DWK_SPEC_PRIVATE, crypt) == WKPAN
    forged = pow(int.from_bytes(block[:-1] + b"Y", "big"), DWK_SPEC_EXPONENT,
                 DWK_SPEC_MODULUS).to_bytes(128, "big")
    with pytest.raises(ValueError):
        acq.open_wkpan_cryptogram(DWK_SPEC_MODULUS, DWK_SPEC_PRIVATE, forged)
