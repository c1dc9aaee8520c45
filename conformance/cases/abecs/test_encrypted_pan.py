"""Encrypted-PAN mode: DWK modality 2 (ABECS 2.12 §3.2.5) and its RSA block (§5.3.3).

The command is the specification's own example, spelled out from its hex dump, and the
RSA key is the one the example gives "for validation" (KMOD, KPUB 010001 and KPRV).
The answer is opened here by hand (a modular power and the block layout of §5.3.3), not
by the pinpad's or the host's code.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from virtual_devices.abecs.fields import Command

Gen = Any

# §3.2.5, "Comando (Modalidade 2)" example: DWK, CMD_LEN1 "263", DWK_MODE "2",
# DWK_RSAMOD (H256), DWK_RSAEXP "010001"
SPEC_MODULUS = (
    "C0E4E6AAD9DC81E2EBF8AC126E7EEE65680898BBAC30063DCD543D705040E916"
    "D93EE316B9EC492B796F1721425F0F028834251AAD51CEB1783308EC7D5072D8"
    "4813BDA59B3161CB4879464EB5AF71969865FD34745A711D1DA3DDB4D29D29D0"
    "422C6E17C25F17C0B5B39E688C4D06123DDB5F558EF0316B3F744C7071F29791"
)
SPEC_COMMAND = b"DWK263" + b"2" + SPEC_MODULUS.encode() + b"010001"
SPEC_KPRV = int(
    "653CBDC395AC218F5381A3EDD8884DDE73077001AF9154F542BA9FB43EAA92AB"
    "2741D635AB46D3F0393F90C827E9741B4418FA10523EC958635985A978EBAC19"
    "E425CE7F6B78667E9CC185C81A0BF2FFA74ACC33FFA36FDB95668012FF324EBD"
    "580460C32D76618BE8169861F5332B835CFC311F7CC54165870D789D6B7268F1", 16)
# the example's answer: DWK000, RSP_LEN "256", DWK_CRYPT
SPEC_ANSWER = (
    b"DWK000256"
    b"B7E0B78A94B02B480228C93D5B911BA3837538AE8ABEFDF88AAF0BF6F3485491"
    b"00A840E580AAF651F354D39192C00836D90522FD45289F25BCC3A10EAC55521F"
    b"55074A787449B84BC6DB21929D7432E836EDA09FFAA20B39CED687B7579E61F0"
    b"D059E523B8A5BAC61EF9A0FA297280A21AA8D445B2BE5BE445DA890AC6BA7900"
)
SPEC_WKPAN = bytes.fromhex("2A525553482A43524F4E49434C45532A")


def open_block(crypt_hex: bytes) -> bytes:
    """DWK_CRYPT raised to KPRV modulo KMOD: the 128-byte clear block."""
    n = int(SPEC_MODULUS, 16)
    return pow(int(crypt_hex, 16), SPEC_KPRV, n).to_bytes(128, "big")


def answer(device: Any, pktdata: bytes) -> bytes:
    def flow() -> Gen:
        yield from device.host.opn(secure=False)
        rsp = yield from device.host.raw_exchange(pktdata)
        return rsp.encode()

    got: bytes = device.run(flow)
    return got


@case("abecs/3.2.5/2", title="DWK modality 2 (the spec's example): a random WKPAN in the "
      "RSA block of §5.3.3", failure="hosts that let the pinpad draw the PAN key get no key")
def test_dwk_modality_2(abecs_device: Any) -> None:
    rsp = answer(abecs_device, SPEC_COMMAND)
    assert rsp[:9] == b"DWK000256" and len(rsp) == 9 + 256
    block = open_block(rsp[9:])
    # A1 "T", N1 "1", N9 sequence, H32 WKPAN, N84 zeros, A1 "X"
    assert block[:1] == b"T" and block[1:2] == b"1" and block[2:11].isdigit()
    assert all(c in b"0123456789ABCDEF" for c in block[11:43])
    assert block[43:127] == b"0" * 84 and block[127:] == b"X"
    if abecs_device.virtual:
        assert abecs_device.pinpad.key_store.wkpan == bytes.fromhex(block[11:43].decode())
    again = open_block(answer(abecs_device, SPEC_COMMAND)[9:])
    assert again[2:11] != block[2:11], "the sequence number diversifies each cryptogram"
    assert again[11:43] != block[11:43], "each DWK draws a new WKPAN"


@case("abecs/3.2.5/3", title="DWK modality 2 refused: modulus first byte not above 54h, "
      "wrong length (011); in a secure session (010)",
      failure="a key block the modulus cannot carry is sent, or the mode mixes with KSEC")
def test_dwk_modality_2_refused(abecs_device: Any) -> None:
    low = b"DWK263" + b"2" + b"54" + SPEC_MODULUS[2:].encode() + b"010001"
    short = b"DWK262" + b"2" + SPEC_MODULUS.encode() + b"01001"

    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        out = []
        for pkt in (low, short):
            out.append((yield from abecs_device.host.raw_exchange(pkt)).encode())
        yield from abecs_device.host.opn(secure=True)
        rsp = yield from abecs_device.host.exchange(Command.decode(SPEC_COMMAND))
        out.append(rsp.encode())
        return out

    assert abecs_device.run(flow) == [b"DWK011", b"DWK011", b"DWK010"]


@case("abecs/5.3.3/1", title="the host opens the spec's DWK_CRYPT: header T, layout 1, "
      "trailer X, and the example's WKPAN", failure="host software cannot read the PAN key")
def test_host_opens_spec_cryptogram(abecs_device: Any) -> None:
    from virtual_devices.acquirer.pinpad_keys import open_wkpan_cryptogram

    crypt = bytes.fromhex(SPEC_ANSWER[9:].decode())
    block = open_block(SPEC_ANSWER[9:])
    assert block[:11] == b"T1000000001" and block[-1:] == b"X"
    n = int(SPEC_MODULUS, 16)
    assert open_wkpan_cryptogram(n, SPEC_KPRV, crypt) == SPEC_WKPAN

    # the host's own exchange with the device under test
    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        return (yield from abecs_device.host.dwk_random(n, 0x010001, SPEC_KPRV))

    wkpan = abecs_device.run(flow)
    assert len(wkpan) == 16
    if abecs_device.virtual:
        assert abecs_device.pinpad.key_store.wkpan == wkpan
