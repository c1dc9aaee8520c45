"""ABECS 2.12 §3.1–§3.8: the parameter-tagged format and the commands beyond the classic
set. Case ids cite the specification's own section numbers (three levels, ``3.x.y``).

Commands are the byte strings of the specification's examples (or built the same way
by hand), and expected answers are written out; neither comes from the pinpad's codec.
Cases that need a person at the pinpad (a card, a key, a typed value) run against the
virtual pinpad and record an informational verdict against a real one.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.customer import Behaviour, pin_of
from virtual_devices.abecs.dukpt import decrypt_pin, load_test_keys
from virtual_devices.abecs.fields import Response
from virtual_devices.abecs.link import crc16
from virtual_devices.abecs.rig import aid_records
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue

Gen = Any
QUICK = Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1))


def exchange(dev: Any, *packets: bytes, blocking: bool = False) -> list[bytes]:
    """Classic OPN (no secure session: the packets go in clear), then each packet."""
    def flow() -> Gen:
        yield from dev.host.opn(secure=False)
        out = []
        for pkt in packets:
            rsp = yield from dev.host.raw_exchange(pkt, blocking=blocking)
            out.append(rsp.encode())
        return out

    return dev.run(flow)  # type: ignore[no-any-return]


def person(dev: Any, verdict: Any, what: str) -> bool:
    """True on the virtual pinpad; on a real one record that a person is needed."""
    if dev.virtual:
        return True
    verdict.informational(f"needs a person at the pinpad: {what}")
    return False


def params(rsp: bytes) -> dict[int, bytes]:
    """Hand parsing of RSP_ID RSP_STAT [N3 block of id X2, len X2, value]*."""
    out: dict[int, bytes] = {}
    pos = 6
    while pos < len(rsp):
        n = int(rsp[pos : pos + 3])
        blk, pos = rsp[pos + 3 : pos + 3 + n], pos + 3 + n
        i = 0
        while i < len(blk):
            pid = int.from_bytes(blk[i : i + 2], "big")
            plen = int.from_bytes(blk[i + 2 : i + 4], "big")
            out[pid] = blk[i + 4 : i + 4 + plen]
            i += 4 + plen
    return out


# -- §3.1 formats and return codes ----------------------------------------------------

@case("abecs/3.1.3/1", title="parameters in any order, over two blocks, unknown ones ignored",
      failure="hosts that order or split parameters differently are refused")
def test_params_any_order(abecs_device: Any) -> None:
    # CLX: an unknown parameter 7F01h in block 1, SPE_DSPMSG in block 2
    pkt = (b"CLX005" + b"\x7f\x01\x00\x01\xff" + b"014" + b"\x00\x1b\x00\x0a" + b"BOA COMPRA")
    assert exchange(abecs_device, pkt) == [b"CLX000"]
    if abecs_device.virtual:
        assert abecs_device.pinpad.display.current.text == "BOA COMPRA"


@case("abecs/3.1.3/2", title="a missing mandatory parameter is 019 (ST_MANDAT)",
      failure="commands without their mandatory parameters are run with guessed values")
def test_missing_mandatory(abecs_device: Any) -> None:
    got = exchange(abecs_device, b"GCD005" + b"\x00\x0e\x00\x01\x0a",
                   b"GCX010" + b"\x00\x15\x00\x06" + b"261125")
    assert got == [b"GCD019", b"GCX019"]


@case("abecs/3.1.3/3", title="a parameter longer than its block is 011 (ST_INVPARM)",
      failure="malformed parameter blocks are read past their end")
def test_param_cut(abecs_device: Any) -> None:
    assert exchange(abecs_device, b"GIX006" + b"\x00\x01\x00\x0a\x80\x01") == [b"GIX011"]


@case("abecs/3.1.1/1", title="every error answer is RSP_ID and RSP_STAT only, six bytes",
      failure="hosts read error answers as data")
def test_error_answers_six_bytes(abecs_device: Any) -> None:
    got = exchange(abecs_device, b"GED011" + b"\x00\x04\x00\x07\x9f\x07\x9f\x08\x4f\xdf\x55",
                   b"MLE", b"ZZZ")
    assert got == [b"GED010", b"MLE010", b"ERR010"]


# -- §3.2 control ---------------------------------------------------------------------

@case("abecs/3.2.4/1", title="GIX with an id list answers those it has, leaves out the rest",
      failure="the host cannot read the pinpad's identity and keys")
def test_gix_list(abecs_device: Any) -> None:
    # the specification's example: SERNUM, MNNAME, DKPTTDESP, KSNTDESP01, KSNTDESP14
    pkt = bytes.fromhex("474958303134 0001000A 80018004 80349101 910E".replace(" ", ""))
    (rsp,) = exchange(abecs_device, pkt)
    assert rsp[:6] == b"GIX000"
    got = params(rsp)
    assert set(got) <= {0x8001, 0x8004, 0x8034, 0x9101, 0x910E}
    assert got[0x8001] and got[0x8004]
    if abecs_device.virtual:
        # DUKPT:DES is not supported ("2" at every index); no key at 01 or 14
        assert got[0x8034] == b"2" * 100 and 0x9101 not in got and 0x910E not in got


@case("abecs/3.2.4/2", title="GIX without parameters answers every (†) object it supports",
      failure="the host cannot learn the specification version or the display size")
def test_gix_all(abecs_device: Any) -> None:
    (rsp,) = exchange(abecs_device, b"GIX")
    got = params(rsp)
    for pid in (0x8001, 0x8003, 0x8004, 0x8005, 0x8006, 0x8007, 0x8008, 0x8009, 0x800A,
                0x8010, 0x8020, 0x8030, 0x8031, 0x8032, 0x8033, 0x8034, 0x8035, 0x8036, 0x8062):
        assert pid in got, f"{pid:04X}h missing"
    assert got[0x8007] == b"2.12" and len(got[0x8005]) == 10 and len(got[0x8035]) == 100


@case("abecs/3.2.5/1", title="DWK modality 1 with a master key not loaded is 042",
      failure="encrypted-PAN mode starts without its key")
def test_dwk_no_key(abecs_device: Any, verdict: Any) -> None:
    pkt = b"DWK036" + b"1" + b"1" + b"99" + b"0123456789ABCDEF" * 2
    (rsp,) = exchange(abecs_device, pkt)
    if abecs_device.virtual:
        assert rsp == b"DWK042"
    else:
        assert len(rsp) == 6 and rsp[:3] == b"DWK"
        verdict.informational(f"DWK with MK index 99 answered {rsp.decode()}")


@case("abecs/3.2.7/1", title="CLX leaves a free-format message (the spec's example)",
      failure="the closing message is lost or refused")
def test_clx(abecs_device: Any) -> None:
    pkt = b"CLX040" + b"\x00\x1b\x00\x24" + b"PRESTO SHOP\rOBRIGADO E\rVOLTE SEMPRE!"
    assert exchange(abecs_device, pkt, b"CLX") == [b"CLX000", b"CLX000"]


# -- §3.3 basic -------------------------------------------------------------------------

CEX_SWIPE = b"CEX010" + b"\x00\x06\x00\x06" + b"010000"


class _Track2Only:
    pan = "4313032929830011"
    track1 = ""
    track2 = "4313032929830011=15086010000000000"


@case("abecs/3.3.1/1", title="CEX reports a swipe with the incomplete track 2 (the example)",
      failure="card swipes are not reported, or full tracks leave the pinpad in clear")
def test_cex_swipe(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a card is swiped"):
        return
    abecs_device.present(_Track2Only(), QUICK)
    (rsp,) = exchange(abecs_device, CEX_SWIPE, blocking=True)
    assert rsp == (b"CEX000034" + b"\x80\x40\x00\x02" + b"90" + b"\x80\x42\x00\x18"
                   + b"4313032929830011=1508601")


@case("abecs/3.3.1/2", title="CEX reports a function key as its event code",
      failure="key presses reach the host with the wrong code")
def test_cex_key(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a key is pressed"):
        return
    abecs_device.pinpad.customer.behaviour.keys = ["f2"]
    (rsp,) = exchange(abecs_device, b"CEX010" + b"\x00\x06\x00\x06" + b"100000", blocking=True)
    assert rsp == b"CEX000006" + b"\x80\x40\x00\x02" + b"05"


@case("abecs/3.3.1/3", title="CEX ends with 012 when nothing happens before SPE_TIMEOUT",
      failure="a host waiting for an event hangs")
def test_cex_timeout(abecs_device: Any) -> None:
    pkt = b"CEX015" + b"\x00\x06\x00\x06" + b"010000" + b"\x00\x0c\x00\x01\x02"
    assert exchange(abecs_device, pkt, blocking=True) == [b"CEX012"]


@case("abecs/3.3.1/4", title="CEX with the antenna on: a tap is event 94",
      failure="contactless cards at the antenna are not reported")
def test_cex_tap(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a contactless card is tapped"):
        return
    card = VirtualCard(catalogue()["visa-contactless"]).place_in(abecs_device.world)
    abecs_device.present(card, Behaviour(think_s=(0.2, 0.4), presentation="tap"))
    (rsp,) = exchange(abecs_device, b"CEX010" + b"\x00\x06\x00\x06" + b"000100", blocking=True)
    assert rsp == b"CEX000006" + b"\x80\x40\x00\x02" + b"94"


@case("abecs/3.3.1/5", title="CEX with the antenna on and nothing tapped: event 93 after 2 min",
      failure="the antenna stays on for ever, or its timeout is reported as an error")
def test_cex_no_tap(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a cardholder who holds a card but does not tap"):
        return
    abecs_device.present(_Track2Only(), Behaviour(walk_away_at="card"))
    (rsp,) = exchange(abecs_device, b"CEX010" + b"\x00\x06\x00\x06" + b"000100", blocking=True)
    assert rsp == b"CEX000006" + b"\x80\x40\x00\x02" + b"93"


@case("abecs/3.3.2/1", title="CHP: no card in the coupler is 043, a SAM position absent 051",
      failure="direct chip access reports a card that is not there")
def test_chp_no_card(abecs_device: Any) -> None:
    got = exchange(abecs_device, b"CHP005" + b"01000", blocking=True)
    assert got == [b"CHP043"]


@case("abecs/3.3.6/1", title="EBX with data not a multiple of 8 bytes is 011",
      failure="data encryption accepts blocks it cannot encrypt")
def test_ebx_length(abecs_device: Any) -> None:
    pkt = (b"EBX023" + b"\x00\x0f\x00\x07" + b"ABCDEFG" + b"\x00\x03\x00\x02" + b"50"
           + b"\x00\x09\x00\x02" + b"07")
    assert exchange(abecs_device, pkt) == [b"EBX011"]


@case("abecs/3.3.6/2", title="EBX with SPE_MTHDDAT 30 (DUKPT:TDES:DAT#1, ECB): the data "
      "and a KSN, opened by the acquirer", failure="method 30 of SPE_MTHDDAT is refused")
def test_ebx_dat1(abecs_device: Any, verdict: Any) -> None:
    from virtual_devices.abecs.keys import load_dukpt_dat_keys
    from virtual_devices.acquirer.pinpad_keys import open_dukpt_dat1

    pkt = (b"EBX040" + b"\x00\x0f\x00\x18" + b"DADO A SER CRIPTOGRAFADO" + b"\x00\x03\x00\x02"
           + b"30" + b"\x00\x09\x00\x02" + b"17")
    (rsp,) = exchange(abecs_device, pkt)
    if rsp == b"EBX042" and not abecs_device.virtual:
        verdict.informational("no DUKPT:TDES:DAT key at index 17 in this pinpad")
        return
    got = params(rsp)
    assert rsp[:6] == b"EBX000" and len(got[0x804E]) == 24 and len(got[0x804C]) == 10
    if abecs_device.virtual:
        bdk = load_dukpt_dat_keys()[17][0]
        assert open_dukpt_dat1(bdk, got[0x804C], got[0x804E]) == b"DADO A SER CRIPTOGRAFADO"


@case("abecs/3.3.7/1", title="ENB (the spec's example) without its master key is 042",
      failure="encryption runs with a key that is not loaded")
def test_enb_example(abecs_device: Any, verdict: Any) -> None:
    pkt = b"ENB051" + b"114" + b"FE4B136446329FE6" + b"0" * 16 + b"4C45455045415254"
    (rsp,) = exchange(abecs_device, pkt)
    if abecs_device.virtual:
        assert rsp == b"ENB042"
    else:
        verdict.informational(f"ENB with MK:TDES:DAT 14 answered {rsp[:6].decode()}")


GCD_RG = b"GCD016" + b"\x00\x0c\x00\x01\x3c" + b"\x00\x0e\x00\x01\x0a" + b"\x00\x0b\x00\x02\x00\x09"


@case("abecs/3.3.8/1", title="GCD shows table message 0009h and returns the digits typed",
      failure="clear data entry shows a free message or loses what was typed")
def test_gcd(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "digits are typed"):
        return
    abecs_device.pinpad.customer.behaviour.entries = ["169937823"]
    (rsp,) = exchange(abecs_device, GCD_RG, blocking=True)
    assert rsp == b"GCD000013" + b"\x80\x4d\x00\x09" + b"169937823"
    assert "DIGITE O RG" in abecs_device.pinpad.display.texts()


@case("abecs/3.3.8/2", title="GCD: cancel is 013; a message index outside the table is 011",
      failure="the cardholder's cancel is not reported")
def test_gcd_cancel(abecs_device: Any, verdict: Any) -> None:
    (bad,) = exchange(abecs_device, b"GCD006" + b"\x00\x0b\x00\x02\x00\x36")
    assert bad == b"GCD011"
    if not person(abecs_device, verdict, "cancel is pressed"):
        return
    abecs_device.pinpad.customer.behaviour.cancel_at = "pin"
    assert exchange(abecs_device, GCD_RG, blocking=True) == [b"GCD013"]


@case("abecs/3.3.12/1", title="GTK without a CEX or GCX read is 010",
      failure="tracks of an earlier card are handed out")
def test_gtk_uncalled(abecs_device: Any) -> None:
    assert exchange(abecs_device, b"GTK") == [b"GTK010"]


@case("abecs/3.3.12/2", title="GTK after a CEX swipe: the full track 2, once",
      failure="the host cannot get the tracks it needs for authorisation")
def test_gtk_after_cex(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a card is swiped"):
        return
    abecs_device.present(_Track2Only(), QUICK)
    _, full, again = exchange(abecs_device, CEX_SWIPE, b"GTK", b"GTK", blocking=True)
    assert full == (b"GTK000021" + b"\x80\x45\x00\x11"
                    + bytes.fromhex("4313032929830011D15086010000000000"))
    assert again == b"GTK010"


MNU_EXAMPLE = bytes.fromhex(
    "4D4E5530383900" "0C00011E" "002000113 52E4368616D61646F2054E9636E69636F".replace(" ", "")
    + "0020000B312E436F6E73756C746173" "00200007332E416A756461" "002000085 66F6C7461722121"
    .replace(" ", "") + "001B001553656C6563696F6E652C20706F72206661766F723A")


@case("abecs/3.3.13/1", title="MNU returns the option chosen (the spec's example, 02)",
      failure="menu answers point at the wrong option")
def test_mnu(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "an option is chosen"):
        return
    abecs_device.pinpad.customer.behaviour.menu_choice = 1
    assert exchange(abecs_device, MNU_EXAMPLE, blocking=True) == [
        b"MNU000006" + b"\x80\x4d\x00\x02" + b"02"]


@case("abecs/3.3.13/2", title="MNU without any option is 019",
      failure="an empty menu waits for a choice that cannot be made")
def test_mnu_empty(abecs_device: Any) -> None:
    assert exchange(abecs_device, b"MNU008" + b"\x00\x1b\x00\x04" + b"MENU") == [b"MNU019"]


# -- §3.4 multimedia -----------------------------------------------------------------------

def _gif(width: int, height: int) -> bytes:
    return (b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little")
            + b"\x00\x00\x00" + b"\x2c" + bytes(8) + b"\x00\x02\x02\x44\x01\x00\x3b")


def _load(name: bytes, image: bytes, crc: int | None = None) -> list[bytes]:
    c = crc16(image) if crc is None else crc
    info = len(image).to_bytes(4, "big") + c.to_bytes(2, "big") + b"\x03\x00\x00\x00"
    mli = b"MLI026" + b"\x00\x1e\x00\x08" + name + b"\x00\x1f\x00\x0a" + info
    mlr = b"MLR" + f"{4 + len(image):03d}".encode() + b"\x00\x0f" + len(image).to_bytes(
        2, "big") + image
    return [mli, mlr, b"MLE"]


def _multimedia(dev: Any, verdict: Any, *packets: bytes) -> list[bytes] | None:
    got = exchange(dev, *packets)
    if got[0] == b"MLI010" and not dev.virtual:
        verdict.unimplemented("no multimedia commands (MLI answered 010)")
        return None
    return got


@case("abecs/3.4.1/1", title="MLI, MLR and MLE load a GIF that LMF then lists in upper case",
      failure="images cannot be loaded")
def test_media_load(abecs_device: Any, verdict: Any) -> None:
    got = _multimedia(abecs_device, verdict, *_load(b"logo0001", _gif(40, 20)), b"LMF")
    if got is None:
        return
    assert got[:3] == [b"MLI000", b"MLR000", b"MLE000"]
    assert b"\x80\x5e\x00\x08LOGO0001" in got[3]


@case("abecs/3.4.2/1", title="MLR without MLI is 010", failure="stray file data is stored")
def test_mlr_uncalled(abecs_device: Any) -> None:
    assert exchange(abecs_device, b"MLR007" + b"\x00\x0f\x00\x03abc") == [b"MLR010"]


@case("abecs/3.4.3/1", title="MLE refuses a file whose CRC does not match MLI's: 102",
      failure="corrupted images are kept")
def test_mle_crc(abecs_device: Any, verdict: Any) -> None:
    got = _multimedia(abecs_device, verdict, *_load(b"BADCRC01", _gif(4, 4), crc=0x1234))
    if got is not None:
        assert got[2] == b"MLE102"


@case("abecs/3.4.4/1", title="LMF with no files loaded answers an empty list",
      failure="the host cannot tell what is loaded")
def test_lmf_empty(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a pinpad with no files (its memory is kept)"):
        return
    assert exchange(abecs_device, b"LMF") == [b"LMF000"]


@case("abecs/3.4.5/1", title="DMF deletes a file and ignores names not loaded",
      failure="deleting an absent file is an error")
def test_dmf(abecs_device: Any, verdict: Any) -> None:
    dmf = (b"DMF024" + b"\x00\x1e\x00\x08" + b"MOVNPICT" + b"\x00\x1e\x00\x08" + b"DELME001")
    got = _multimedia(abecs_device, verdict, *_load(b"DELME001", _gif(8, 8)), dmf, b"LMF")
    if got is not None:
        assert got[3] == b"DMF000" and b"DELME001" not in got[4]


@case("abecs/3.4.6/1", title="DSI shows a loaded image; an unknown name is 100",
      failure="images are not shown, or a missing one is not reported")
def test_dsi(abecs_device: Any, verdict: Any) -> None:
    dsi = b"DSI012" + b"\x00\x1e\x00\x08" + b"SHOWME01"
    missing = b"DSI012" + b"\x00\x1e\x00\x08" + b"NOSUCH01"
    got = _multimedia(abecs_device, verdict, *_load(b"SHOWME01", _gif(64, 32)), dsi, missing)
    if got is None:
        return
    assert got[3:] == [b"DSI000", b"DSI100"]
    if abecs_device.virtual:
        assert "[SHOWME01] / GIF 64x32" in abecs_device.pinpad.display.texts()


# -- §3.7 card processing ---------------------------------------------------------------------

GCX_EXAMPLE = bytes.fromhex(
    "474358303639" "00170005" "3030303030" "00100002" "3038" "0013000C" "303030303030303438333030"
    "00150006" "313330393031" "00160006" "323031383437" "00050006" "9F3303E0F8C8"
    "00040004" "5F285F24")


def _chip(dev: Any, name: str) -> None:
    dev.present(VirtualCard(catalogue()[name]).place_in(dev.world), QUICK)


def _with_tables(dev: Any, *packets: bytes) -> list[Response]:
    def flow() -> Gen:
        yield from dev.host.opn(secure=False)
        yield from dev.host.load_tables(0, "0000000042", aid_records())
        out = []
        for pkt in packets:
            out.append((yield from dev.host.raw_exchange(pkt, blocking=True)))
        return out

    return dev.run(flow)  # type: ignore[no-any-return]


@case("abecs/3.7.1/1", title="GCX (the spec's example) reads a chip card: type 03, PAN, EMV data",
      failure="the parameter-tagged card flow cannot start")
def test_gcx_chip(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted"):
        return
    _chip(abecs_device, "visa-chip-pin")
    (rsp,) = _with_tables(abecs_device, GCX_EXAMPLE)
    got = params(rsp.encode())
    pan = abecs_device.pinpad.slot.card.pan
    assert got[0x804F] == b"03" and got[0x8052] == pan.encode() and got[0x8051][:2] == b"08"
    assert got[0x8054][:3] == b"\x5f\x28\x02" and got[0x8042] .startswith(pan.encode() + b"=")


@case("abecs/3.7.1/2", title="GCX masks the PAN as SPE_PANMASK says and reports a swipe 00",
      failure="PANs leave the pinpad unmasked when the host asked for masking")
def test_gcx_swipe_masked(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a card is swiped"):
        return
    abecs_device.present(_Track2Only(), QUICK)
    gcx = (b"GCX028" + b"\x00\x15\x00\x06" + b"261125" + b"\x00\x16\x00\x06" + b"120000"
           + b"\x00\x23\x00\x04" + b"0604")
    (rsp,) = _with_tables(abecs_device, gcx)
    assert rsp.encode() == (b"GCX000039" + b"\x80\x4f\x00\x02" + b"00" + b"\x80\x50\x00\x01"
                            + b"0" + b"\x80\x42\x00\x18" + b"431303******0011=1508601")


@case("abecs/3.7.1/4", title="GCX with SPE_GCXOPT 1xxxx reads a tapped card: type 06, no PIN",
      failure="the parameter-tagged flow cannot take contactless cards")
def test_gcx_tap(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a contactless card is tapped"):
        return
    card = VirtualCard(catalogue()["visa-contactless"]).place_in(abecs_device.world)
    abecs_device.present(card, Behaviour(think_s=(0.2, 0.4), presentation="tap"))
    gcx = (b"GCX051" + b"\x00\x17\x00\x05" + b"10000" + b"\x00\x10\x00\x02" + b"08"
           + b"\x00\x13\x00\x0c" + b"000000001000" + b"\x00\x15\x00\x06" + b"261125"
           + b"\x00\x16\x00\x06" + b"120000")
    gox = (b"GOX033" + b"\x00\x10\x00\x02" + b"08" + b"\x00\x13\x00\x0c"
           + b"000000001000" + b"\x00\x02\x00\x01" + b"3" + b"\x00\x09\x00\x02" + b"16")
    got = [r.encode() for r in _with_tables(abecs_device, gcx, gox)]
    c = params(got[0])
    assert c[0x804F] == b"06" and c[0x8052] == card.pan.encode() and c[0x8060] == b"00"
    assert params(got[1])[0x8056][2:3] == b"0"  # under the contactless CVM limit: no PIN


@case("abecs/3.7.1/3", title="GCX with SPE_TIMEOUT and no card ends with 012",
      failure="a host waiting for a card hangs")
def test_gcx_timeout(abecs_device: Any) -> None:
    gcx = (b"GCX025" + b"\x00\x15\x00\x06" + b"261125" + b"\x00\x16\x00\x06" + b"120000"
           + b"\x00\x0c\x00\x01\x02")
    assert exchange(abecs_device, gcx, blocking=True) == [b"GCX012"]


@case("abecs/3.7.2/1", title="GED before a GCX chip read is 010",
      failure="EMV data of an earlier card is handed out")
def test_ged_uncalled(abecs_device: Any) -> None:
    pkt = b"GED011" + b"\x00\x04\x00\x07\x9f\x07\x9f\x08\x4f\xdf\x55"
    assert exchange(abecs_device, pkt) == [b"GED010"]


@case("abecs/3.7.3/1", title="GOX before GCX is 010; without SPE_MTHDPIN it is 019",
      failure="chip processing continues without a card read")
def test_gox_uncalled(abecs_device: Any) -> None:
    full = (b"GOX017" + b"\x00\x02\x00\x01" + b"3" + b"\x00\x09\x00\x02" + b"16"
            + b"\x00\x10\x00\x02" + b"08")
    short = b"GOX012" + b"\x00\x09\x00\x02" + b"16" + b"\x00\x10\x00\x02" + b"08"
    assert exchange(abecs_device, full, short) == [b"GOX010", b"GOX019"]


@case("abecs/3.7.3/2", title="GOX with a PIN key index not loaded is 042",
      failure="an online PIN is asked for under a key the pinpad does not have")
def test_gox_no_key(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card is inserted"):
        return
    _chip(abecs_device, "visa-online-pin")
    gox = (b"GOX017" + b"\x00\x10\x00\x02" + b"08" + b"\x00\x02\x00\x01" + b"3"
           + b"\x00\x09\x00\x02" + b"07")
    got = _with_tables(abecs_device, GCX_EXAMPLE, gox)
    assert got[0].status == 0 and got[1].encode() == b"GOX042"


@case("abecs/3.7.4/1", title="FCX before GOX is 010; without SPE_ARC when approved it is 019",
      failure="chip processing finishes without its first phase")
def test_fcx_uncalled(abecs_device: Any) -> None:
    fcx = b"FCX014" + b"\x00\x1c\x00\x02" + b"Y3" + b"\x00\x19\x00\x04" + b"0000"
    no_arc = b"FCX008" + b"\x00\x19\x00\x04" + b"0000"
    assert exchange(abecs_device, fcx, no_arc) == [b"FCX010", b"FCX019"]


@case("abecs/3.7.4/2", title="GCX, GOX, FCX: a contact sale with an online PIN",
      failure="the parameter-tagged sale does not complete")
def test_gcx_gox_fcx_sale(abecs_device: Any, verdict: Any) -> None:
    if not person(abecs_device, verdict, "a chip card and a PIN"):
        return
    _chip(abecs_device, "visa-online-pin")
    pin = pin_of(abecs_device.pinpad.cards[-1]) or "1234"
    gox = (b"GOX042" + b"\x00\x10\x00\x02" + b"08" + b"\x00\x13\x00\x0c" + b"000000048300"
           + b"\x00\x02\x00\x01" + b"3" + b"\x00\x09\x00\x02" + b"16"
           + b"\x00\x04\x00\x05" + b"\x95\x9f\x26\x9f\x27")
    fcx = (b"FCX021" + b"\x00\x19\x00\x04" + b"0000" + b"\x00\x1c\x00\x02" + b"00"
           + b"\x00\x04\x00\x03" + b"\x95\x9f\x27")
    gcx, goc, fin = (r.encode() for r in _with_tables(abecs_device, GCX_EXAMPLE, gox, fcx))
    pan = params(gcx)[0x8052].decode()
    g = params(goc)
    assert g[0x8056][:1] == b"2" and g[0x8056][2:3] == b"2"
    assert decrypt_pin(load_test_keys()[16].bdk, g[0x804C], g[0x8057], pan) == pin
    f = params(fin)
    assert f[0x8058] in (b"000", b"100") and f[0x8054][:2] == b"\x95\x05"


# -- §3.8 generic -----------------------------------------------------------------------------

@case("abecs/3.8.1/1", title="GEN/02/K3 lists key states for an index range",
      failure="hosts that search keys the old way find none")
def test_gen_k3(abecs_device: Any) -> None:
    (rsp,) = exchange(abecs_device, b"GEN013" + b"02008K3301020")
    assert rsp[:12] == b"GEN000014011" and set(rsp[12:]) <= set(b"012")
    if abecs_device.virtual:
        assert rsp[12:] == b"00000010000"  # DUKPT:TDES:PIN at index 16 only


@case("abecs/3.8.5/1", title="GEN/04/04 before a chip read is 010",
      failure="EMV data of an earlier card is handed out")
def test_gen_0404(abecs_device: Any) -> None:
    assert exchange(abecs_device, b"GEN014" + b"04009" + b"04" + b"0029F27") == [b"GEN010"]


_ = t  # the parameter ids are written out above as bytes; the module names them
