"""GOX's options and the transaction currency (ABECS 2.12 §3.7.1, §3.7.3, §3.1.3.1).

SPE_GOXOPT "xx1xx" forbids a PIN bypass; SPE_TRNCURR (N3, ICC only) is the currency of
the transaction, from GCX for the whole card session or from GOX, else T1_TRNCURR. The
packets are written out parameter by parameter (id X2, length X2, value) and the
expected values come from the specification's field definitions: PP_GOXRES "201000"
(online, offline PIN verified), "210000" (online, paper signature, no PIN), and the
EMV object 5F2A 02 0840 for US dollars. A person at the pinpad types (or bypasses) the
PIN, so against a real pinpad these cases are informational.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from conformance.cases.abecs.test_abecs212 import GCX_EXAMPLE, _with_tables, params, person
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue


def par(pid: int, value: bytes) -> bytes:
    return pid.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value


def command(cmd_id: bytes, *pars: bytes) -> bytes:
    body = b"".join(pars)
    return cmd_id + b"%03d" % len(body) + body


def gox(goxopt: bytes, currency: bytes | None = None) -> bytes:
    """GOX: SPE_ACQREF 08, SPE_AMOUNT 483,00, SPE_MTHDPIN 3 (DUKPT:TDES), SPE_KEYIDX 16,
    SPE_GOXOPT, SPE_TAGLIST 9F34 95 5F2A, and SPE_TRNCURR when given."""
    pars = [par(0x0010, b"08"), par(0x0013, b"000000048300"), par(0x0002, b"3"),
            par(0x0009, b"16"), par(0x0018, goxopt), par(0x0004, bytes.fromhex("9F34955F2A"))]
    if currency is not None:
        pars.append(par(0x0022, currency))
    return command(b"GOX", *pars)


# FCX: SPE_FCXOPT "0000" (approved by the network), SPE_ARC "00"
FCX = b"FCX014" + b"\x00\x19\x00\x04" + b"0000" + b"\x00\x1c\x00\x02" + b"00"


def gcx_with_currency(currency: bytes) -> bytes:
    """The spec's GCX example (§3.7.1) with SPE_TRNCURR added."""
    return command(b"GCX", GCX_EXAMPLE[6:], par(0x0022, currency))


def _sale(dev: Any, pins: tuple[str | None, ...],
          *packets: bytes) -> tuple[list[dict[int, bytes]], Any]:
    card = VirtualCard(catalogue()["visa-chip-pin"]).place_in(dev.world)
    dev.present(card, Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1), pins=pins))
    got = [r.encode() for r in _with_tables(dev, *packets)]
    assert [g[:6] for g in got] == [p[:3] + b"000" for p in packets]
    return [params(g) for g in got], card


def emv_objects(data: bytes) -> dict[int, bytes]:
    """PP_EMVDATA read by hand: two-byte tags where the first byte's low bits are 1Fh."""
    out, i = {}, 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            tag = tag << 8 | data[i]
            i += 1
        n = data[i]
        out[tag] = data[i + 1 : i + 1 + n]
        i += 1 + n
    return out


@case("abecs/3.7.3/3", title="GOX with SPE_GOXOPT xx1xx refuses a PIN bypass: the PIN is "
      "asked again and verified", failure="a cardholder skips the PIN the host required")
def test_gox_no_pin_bypass(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card, OK pressed without a PIN"):
        return
    (_, got), _ = _sale(abecs_device, (None,), GCX_EXAMPLE, gox(b"00100"))
    assert got[0x8056] == b"201000"  # online, PIN verified offline
    cvm = emv_objects(got[0x8054])[0x9F34]
    assert cvm[2] == 0x02, "CVM Results: successful"
    if abecs_device.virtual:
        # OK alone was refused and the prompt stayed: the cardholder was asked twice
        assert abecs_device.pinpad.customer.pinpad_pin_prompts == 2


@case("abecs/3.7.3/4", title="GOX without the option lets the cardholder bypass the PIN: "
      "no PIN, TVR 'PIN not entered'", failure="PIN bypass never reaches the card's CVM list")
def test_gox_pin_bypass_allowed(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card, OK pressed without a PIN"):
        return
    (_, got), _ = _sale(abecs_device, (None,), GCX_EXAMPLE, gox(b"00000"))
    assert got[0x8056][2:3] == b"0", "no PIN verified"
    tvr = emv_objects(got[0x8054])[0x95]
    assert tvr[2] & 0x08, "TVR byte 3 bit 4: PIN pad present but PIN was not entered"


@case("abecs/3.7.1/5", title="GCX's SPE_TRNCURR 840 is the transaction currency: 5F2A "
      "0840 in the kernel and in the card's own log", failure="the card signs BRL for a USD sale")
def test_gcx_currency(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted"):
        return
    (_, got, _), card = _sale(abecs_device, (), gcx_with_currency(b"840"), gox(b"00000"), FCX)
    assert emv_objects(got[0x8054])[0x5F2A] == bytes.fromhex("0840")
    # the card's transaction log (format 9A 9F21 9F02 5F2A ..., written at the second
    # GENERATE AC): the currency it was sent
    log = card._apps[0].log[0]
    assert log[12:14] == bytes.fromhex("0840")


@case("abecs/3.7.3/5", title="GOX's SPE_TRNCURR wins over GCX's and the table's: 5F2A 0978",
      failure="the currency the host set for GOX is ignored")
def test_gox_currency(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted"):
        return
    (_, got, _), card = _sale(abecs_device, (), gcx_with_currency(b"840"),
                              gox(b"00000", b"978"), FCX)
    assert emv_objects(got[0x8054])[0x5F2A] == bytes.fromhex("0978")
    assert card._apps[0].log[0][12:14] == bytes.fromhex("0978")
