"""The ABECS 2.12 commands beyond the classic set, on the virtual pinpad.

Commands and expected answers are the byte strings of the specification's own examples
(ABECS 2.12 §3.2–§3.8) wherever the example's data can be reproduced here, written out
literally rather than built by the codec under test.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from virtual_devices.abecs import tagged as t
from virtual_devices.abecs.customer import Behaviour, Customer
from virtual_devices.abecs.fields import CodecError, Response
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.link import crc16
from virtual_devices.abecs.rig import Rig, aid_records, make_rig
from virtual_devices.emv.card import VirtualCard
from virtual_devices.emv.catalogue import catalogue

QUICK = Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1))


@dataclass(frozen=True)
class Track2Only:
    """A stripe whose track 1 does not read (the CEX example of §3.3.1)."""

    pan: str = "4313032929830011"
    track1: str = ""
    track2: str = "4313032929830011=15086010000000000"


def raw(rig: Rig, pkt: bytes, blocking: bool = False) -> bytes:
    def flow() -> Any:
        rsp = yield from rig.host.raw_exchange(pkt, blocking=blocking)
        return rsp.encode()

    return rig.run(flow)


def test_codec_reads_the_gix_example_and_rejects_a_cut_parameter() -> None:
    p = t.decode_params([bytes.fromhex("0001000A800180048034910191 0E".replace(" ", ""))])
    assert t.id_list(p.need(t.SPE_IDLIST)) == [0x8001, 0x8004, 0x8034, 0x9101, 0x910E]
    try:
        t.decode_params([bytes.fromhex("0001000A8001")])
    except CodecError as exc:
        assert exc.status == 11
    else:
        raise AssertionError("a parameter longer than its block was accepted")
    try:
        t.Params().need(t.SPE_MSGIDX)
    except CodecError as exc:
        assert exc.status == 19


def test_gcd_example_bytes_and_the_same_parameters_split_over_blocks() -> None:
    rig = make_rig(behaviour=Behaviour(think_s=(0.2, 0.4), entries=["169937823", "12"]))
    cmd = bytes.fromhex("47434430313600" "0C00013C000E00010A000B00020009")
    assert cmd == b"GCD016" + bytes.fromhex("000C00013C000E00010A000B00020009")
    assert raw(rig, cmd, blocking=True) == b"GCD000013\x80\x4d\x00\x09169937823"
    assert rig.pinpad.display.texts()[1] == "DIGITE O RG"
    # any order, two blocks, and an unknown parameter 7F01h ignored
    split = b"GCD011" + bytes.fromhex("000B000200097F010001FF") + b"005" + bytes.fromhex(
        "000E000102")
    assert raw(rig, split, blocking=True) == b"GCD000006\x80\x4d\x00\x0212"


def test_gcd_without_its_mandatory_message_index_is_019() -> None:
    rig = make_rig()
    assert raw(rig, b"GCD005" + bytes.fromhex("000E00010A")) == b"GCD019"
    assert raw(rig, b"GCD006" + bytes.fromhex("000B0002FFFF")) == b"GCD011"


def test_mnu_example_bytes() -> None:
    rig = make_rig(behaviour=Behaviour(think_s=(0.2, 0.4), menu_choice=1))
    cmd = bytes.fromhex(
        "4D4E5530383900" "0C00011E0020001135 2E4368616D61646F2054E9636E69636F"
        "0020000B312E436F6E73756C746173" "00200007332E416A756461" "0020000856 6F6C74617221 21"
        "001B001553656C6563696F6E652C20706F72206661766F723A".replace(" ", ""))
    assert raw(rig, cmd, blocking=True) == b"MNU000006\x80\x4d\x00\x0202"
    screens = rig.pinpad.display.history
    assert screens[1].line1.rstrip() == "Selecione, por f"  # the title, cut at 16


def test_mnu_cancelled_and_without_options() -> None:
    rig = make_rig(behaviour=Behaviour(think_s=(0.2, 0.4), menu_choice=None))
    assert raw(rig, b"MNU008" + bytes.fromhex("00200004") + b"SIM ", True) == b"MNU013"
    assert raw(rig, b"MNU008" + bytes.fromhex("001B0004") + b"MENU", True) == b"MNU019"


def test_clx_example_leaves_three_lines_and_ends_the_session() -> None:
    rig = make_rig()
    cmd = b"CLX040" + bytes.fromhex("001B0024") + b"PRESTO SHOP\rOBRIGADO E\rVOLTE SEMPRE!"
    assert raw(rig, cmd) == b"CLX000"
    assert rig.pinpad.display.current.text == "PRESTO SHOP / OBRIGADO E"
    assert raw(rig, b"CLX") == b"CLX000"
    assert rig.pinpad.display.current.text == ""


def test_gix_answers_what_it_has_and_leaves_out_what_it_lacks() -> None:
    rig = make_rig()
    # PP_SERNUM, PP_MNNAME, PP_DKPTTDESP, PP_KSNTDESP01 (absent) and PP_KSNTDESP16
    cmd = b"GIX014" + bytes.fromhex("0001000A8001800480359101 9110".replace(" ", ""))
    out = raw(rig, cmd)
    assert out[:6] == b"GIX000"
    p = t.decode_params([out[9:]])
    assert p.get(0x8001) == b"CL0000000001" and p.get(0x8004) == b"CARDLOOP"
    assert p.need(0x8035)[16:17] == b"1" and p.need(0x8035)[:1] == b"2"  # 00 is no position
    assert 0x9101 not in p and len(p.need(0x9110)) == 10
    every = t.decode_params(Response.decode(raw(rig, b"GIX")).blocks)
    assert every.get(0x8007) == b"2.12" and every.get(0x8020) == b"0216"
    assert every.need(0x8005)[:1] == b"1" and 0x8011 in every  # a contactless reader


def test_cex_example_swipe_then_gtk_once() -> None:
    rig = make_rig(cards=[Track2Only()], behaviour=QUICK)
    cex = b"CEX010" + bytes.fromhex("00060006") + b"010000"
    assert raw(rig, cex, True) == (b"CEX000034" + bytes.fromhex("80400002") + b"90"
                                   + bytes.fromhex("80420018") + b"4313032929830011=1508601")
    gtk = raw(rig, b"GTK")
    assert gtk == b"GTK000021" + bytes.fromhex("80450011") + bytes.fromhex(
        "4313032929830011D15086010000000000")
    assert raw(rig, b"GTK") == b"GTK010"  # once per read


def test_cex_pan_mask_and_key_event() -> None:
    rig = make_rig(cards=[Track2Only()], behaviour=QUICK)
    cex = b"CEX018" + bytes.fromhex("00060006") + b"010000" + bytes.fromhex("00230004") + b"0604"
    assert raw(rig, cex, True).endswith(b"431303******0011=1508601")
    rig2 = make_rig(behaviour=Behaviour(think_s=(0.2, 0.4), keys=["f2"]))
    assert raw(rig2, b"CEX010" + bytes.fromhex("00060006") + b"100000", True) == (
        b"CEX000006" + bytes.fromhex("80400002") + b"05")


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(
        b"IEND", b"")


def test_multimedia_load_list_show_delete() -> None:
    rig = make_rig()
    image = _png(125, 125)
    assert raw(rig, b"DSI012" + bytes.fromhex("001E0008") + b"QRCODE01") == b"DSI100"
    assert raw(rig, b"MLR") == b"MLR010"
    info = len(image).to_bytes(4, "big") + crc16(image).to_bytes(2, "big") + b"\x01\x00\x00\x00"
    assert raw(rig, b"MLI026" + bytes.fromhex("001E0008") + b"QRCODE01" + bytes.fromhex(
        "001F000A") + info) == b"MLI000"
    half = len(image) // 2
    for part in (image[:half], image[half:]):
        assert raw(rig, f"{4 + len(part):03d}".encode().join([b"MLR", b""]) + bytes.fromhex(
            "000F") + len(part).to_bytes(2, "big") + part) == b"MLR000"
    assert raw(rig, b"MLE") == b"MLE000"
    assert raw(rig, b"LMF") == b"LMF000012" + bytes.fromhex("805E0008") + b"QRCODE01"
    assert raw(rig, b"DSI012" + bytes.fromhex("001E0008") + b"qrcode01") == b"DSI000"
    assert rig.pinpad.display.current.text == "[QRCODE01] / PNG 125x125"
    assert raw(rig, b"DMF024" + bytes.fromhex("001E0008") + b"MOVNPICT" + bytes.fromhex(
        "001E0008") + b"QRCODE01") == b"DMF000"
    assert raw(rig, b"LMF") == b"LMF000"
    # a wrong CRC is refused at MLE
    bad = info[:4] + b"\x00\x00" + info[6:]
    raw(rig, b"MLI026" + bytes.fromhex("001E0008") + b"QRCODE02" + bytes.fromhex("001F000A")
        + bad)
    raw(rig, b"MLR" + f"{4 + 10:03d}".encode() + bytes.fromhex("000F000A") + image[:10])
    assert raw(rig, b"MLE") == b"MLE102"


def _chip_rig(name: str = "visa-chip-pin") -> Rig:
    rig = make_rig(seed=4, behaviour=QUICK)
    rig.pinpad.queue_card(VirtualCard(catalogue()[name]).place_in(rig.world))
    return rig


GCX_EXAMPLE = bytes.fromhex(
    "474358303639" "00170005" "3030303030" "00100002" "3038" "0013000C" "303030303030303438333030"
    "00150006" "313330393031" "00160006" "323031383437" "00050006" "9F3303E0F8C8"
    "00040004" "5F285F24")


def test_gcx_example_reads_a_chip_card_then_ged_gtk() -> None:
    rig = _chip_rig()

    def flow() -> Any:
        yield from rig.host.load_tables(0, "0000000042", aid_records())
        gcx = yield from rig.host.raw_exchange(GCX_EXAMPLE, blocking=True)
        ged = yield from rig.host.raw_exchange(
            b"GED011" + bytes.fromhex("000400079F079F084FDF55"))
        gtk = yield from rig.host.gtk("1010")
        return gcx, ged, gtk

    gcx, ged, gtk = rig.run(flow)
    assert gcx.status == 0, gcx
    p = t.decode_params(gcx.blocks)
    card = rig.pinpad.slot.card
    assert p.get(t.PP_CARDTYPE) == b"03" and p.get(t.PP_PAN) == card.pan.encode()
    assert p.get(t.PP_AIDTABINFO)[:2] == b"08" and p.get(t.PP_PANSEQNO) is not None
    emv = p.need(t.PP_EMVDATA)
    assert emv.startswith(b"\x5f\x28\x02") and b"\x5f\x24\x03" in emv
    trk2 = p.need(t.PP_TRK2INC).decode()
    assert trk2.startswith(card.pan + "=") and len(trk2.split("=")[1]) == 7
    # 9F07 known, 9F08 known, 4F and the proprietary DF55 not kept: left out
    assert ged.status == 0 and t.decode_params(ged.blocks).need(t.PP_EMVDATA)[:2] == b"\x9f\x07"
    assert gtk.get(t.PP_ENCPAN).hex().upper().rstrip("F") == card.pan
    assert gtk.get(t.PP_TRACK2).hex().upper().startswith(card.pan + "D")
    assert t.PP_TRACK1 not in gtk  # not asked for


def test_card_commands_out_of_order() -> None:
    rig = make_rig()
    assert raw(rig, b"GED011" + bytes.fromhex("000400079F079F084FDF55")) == b"GED010"
    fcx = b"FCX014" + bytes.fromhex("001C0002") + b"Y3" + bytes.fromhex("00190004") + b"0000"
    assert raw(rig, fcx) == b"FCX010"
    gox = (b"GOX017" + bytes.fromhex("00020001") + b"3" + bytes.fromhex("00090002") + b"16"
           + bytes.fromhex("00100002") + b"08")
    assert raw(rig, gox) == b"GOX010"
    assert raw(rig, b"GOX006" + bytes.fromhex("00100002") + b"08") == b"GOX019"
    assert raw(rig, b"GTK") == b"GTK010"
    assert raw(rig, b"GCX010" + bytes.fromhex("00150006") + b"261125") == b"GCX019"


def test_gcx_gox_fcx_contact_sale_with_online_pin() -> None:
    rig = _chip_rig("visa-online-pin")

    def flow() -> Any:
        yield from rig.host.load_tables(0, "0000000042", aid_records())
        yield from rig.host.raw_exchange(GCX_EXAMPLE, blocking=True)
        gox = yield from rig.host.gox([
            (t.SPE_ACQREF, b"08"), (t.SPE_AMOUNT, b"000000048300"), (t.SPE_MTHDPIN, b"3"),
            (t.SPE_KEYIDX, b"16"), (t.SPE_TAGLIST, bytes.fromhex("959F269F279F109F349F36")),
            (t.SPE_DSPMSG, b"SENHA CREDITO\rR$ 483,00")])
        fcx = yield from rig.host.fcx([(t.SPE_FCXOPT, b"0000"), (t.SPE_ARC, b"00"),
                                       (t.SPE_TAGLIST, bytes.fromhex("959F27"))])
        return gox, fcx

    gox, fcx = rig.run(flow)
    res = gox.need(t.PP_GOXRES)
    assert res[:1] == b"2" and res[2:3] == b"2", res  # online, PIN captured for online
    assert len(gox.need(t.PP_PINBLK)) == 8 and len(gox.need(t.PP_KSN)) == 10
    assert gox.need(t.PP_EMVDATA).startswith(b"\x95\x05")
    assert fcx.get(t.PP_FCXRES) in (b"000", b"100") and fcx.need(t.PP_EMVDATA)[:1] == b"\x95"
    assert [c for c, _ in rig.pinpad.handled][-3:] == ["GCX", "GOX", "FCX"]
    assert "SENHA CREDITO / ****" in rig.pinpad.display.texts()  # the host's PIN message


def test_gox_with_a_key_index_not_loaded_is_042() -> None:
    rig = _chip_rig("visa-online-pin")

    def flow() -> Any:
        yield from rig.host.load_tables(0, "0000000042", aid_records())
        yield from rig.host.raw_exchange(GCX_EXAMPLE, blocking=True)
        try:
            yield from rig.host.gox([(t.SPE_ACQREF, b"08"), (t.SPE_MTHDPIN, b"3"),
                                     (t.SPE_KEYIDX, b"07")])
        except AbecsError as exc:
            return exc.code
        return None

    assert rig.run(flow) == 42


def test_generic_key_search_and_enb_without_master_keys() -> None:
    rig = make_rig()
    # GEN/02/K3: DUKPT TDES PIN keys 10..20: only index 16 is loaded
    assert raw(rig, b"GEN013" + b"02008K3301020") == b"GEN000014011" + b"00000010000"
    assert raw(rig, b"GEN013" + b"02008K3101020") == b"GEN000014011" + b"00000000000"
    assert raw(rig, b"GEN013" + b"02008K3302010") == b"GEN011"
    enb = b"ENB051" + b"114" + b"FE4B136446329FE6" + b"0" * 16 + b"4C45455045415254"
    assert raw(rig, enb) == b"ENB042"


def test_unknown_command_is_still_err010() -> None:
    rig = make_rig()
    assert raw(rig, b"XYZ") == b"ERR010"


def test_terminal_drives_either_command_family_to_the_same_sale() -> None:
    from datetime import datetime

    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.terminal.app import Settings, Tables, Terminal

    outcomes = {}
    for family in ("classic", "abecs"):
        profile = catalogue()["visa-online-pin"]
        rig = make_rig(seed=11)
        rig.pinpad.customer = Customer.for_profile(rig.world, profile)
        rig.pinpad.queue_card(VirtualCard(profile).place_in(rig.world))
        acquirer = make_acquirer(rig.world)
        cfg = acquirer.terminal_config()
        version = cfg.table_version[:10].ljust(10, "0")
        records = tuple(records_from_config(cfg))

        def flow(acquirer: Any = acquirer, version: str = version, records: Any = records,
                 rig: Rig = rig, family: Any = family) -> Any:
            yield from rig.host.opn()
            term = Terminal(rig.world, rig.host, acquirer, Settings(command_family=family))
            return (yield from term.sale(1000, Tables(version, records),
                                         datetime(2026, 11, 25, 12)))

        res = rig.run(flow)
        outcomes[family] = (res.approved, res.arc, res.goc.decision, res.goc.online_pin)
        sent = [c for c, _ in rig.pinpad.handled]
        if family == "abecs":
            assert {"GCX", "GTK", "GOX", "FCX"} <= set(sent) and "GCR" not in sent
        else:
            assert {"GCR", "GOC", "FNC"} <= set(sent) and "GCX" not in sent
    assert outcomes["classic"] == outcomes["abecs"] == (True, "00", 2, True)


def _swiped(rig: Rig) -> None:
    assert raw(rig, b"CEX010" + bytes.fromhex("00060006") + b"010000", True)[:6] == b"CEX000"


def test_gtk_end_to_end_dukpt_dat3_opened_by_the_acquirer() -> None:
    from virtual_devices.abecs import dukpt
    from virtual_devices.abecs.keys import load_dukpt_dat_keys
    from virtual_devices.acquirer.pinpad_keys import open_track_nibbles

    rig = make_rig(cards=[Track2Only()], behaviour=QUICK)
    _swiped(rig)
    # DUKPT:TDES:DAT#3 ECB at index 17, six digits in clear (the spec's first example)
    gtk = (b"GTK025" + bytes.fromhex("00070004") + b"0010" + bytes.fromhex("00080001") + b"6"
           + bytes.fromhex("00090002") + b"17" + bytes.fromhex("00030002") + b"50")
    out = raw(rig, gtk)
    p = t.decode_params(Response.decode(out).blocks)
    ct, ksn = p.need(t.PP_TRACK2), p.need(t.PP_TRK2KSN)
    assert ct[:3] == bytes.fromhex("431303")  # the six clear digits
    bdk, _ = load_dukpt_dat_keys()[17]
    future = dukpt.derive_key(dukpt.ipek(bdk, ksn), ksn)
    key = bytes(a ^ b for a, b in zip(future, bytes.fromhex("00000000FF00000000000000FF000000"),
                                      strict=True))
    assert open_track_nibbles(6, ct, key) == Track2Only().track2


def test_gtk_with_a_random_key_under_the_hosts_rsa_key() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from virtual_devices.acquirer.pinpad_keys import open_track_nibbles, unwrap_krand

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    nums = private.public_key().public_numbers()
    rig = make_rig(cards=[Track2Only()], behaviour=QUICK)
    _swiped(rig)
    mod, exp = nums.n.to_bytes(256, "big"), nums.e.to_bytes(3, "big")
    body = (bytes.fromhex("00070004") + b"0010" + bytes.fromhex("00030002") + b"91"
            + bytes.fromhex("00240100") + mod + bytes.fromhex("00250003") + exp)
    out = raw(rig, b"GTK" + f"{len(body):03d}".encode() + body)
    p = t.decode_params(Response.decode(out).blocks)
    krand = unwrap_krand(private, p.need(t.PP_ENCKRAND))
    assert open_track_nibbles(0, p.need(t.PP_TRACK2), krand, bytes(8)) == Track2Only().track2


def test_ebx_and_enb_under_the_loaded_data_keys() -> None:
    from virtual_devices.abecs.keys import load_dukpt_dat_keys, load_master_keys
    from virtual_devices.acquirer.pinpad_keys import (
        open_dukpt_dat3,
        open_mk_data,
        wrap_working_key,
    )

    rig = make_rig()
    data = b"DADO A SER CRIPTOGRAFADO"  # the spec's EBX example, 24 bytes, CBC
    ebx = (b"EBX040" + bytes.fromhex("000F0018") + data + bytes.fromhex("00030002") + b"51"
           + bytes.fromhex("00090002") + b"17")
    p = t.decode_params(Response.decode(raw(rig, ebx)).blocks)
    bdk, _ = load_dukpt_dat_keys()[17]
    assert open_dukpt_dat3(bdk, p.need(t.PP_KSN), p.need(t.PP_DATAOUT), bytes(8)) == data
    working = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    wkenc = wrap_working_key(load_master_keys()["mk_dat"][1], working).encode()
    out = raw(rig, b"ENB051" + b"101" + wkenc + b"4C45455045415254")
    assert out[:9] == b"ENB000016"
    assert open_mk_data(working, bytes.fromhex(out[9:].decode())) == b"LEEPEART"


def test_dwk_sets_the_pan_key_and_clx_ends_it() -> None:
    from virtual_devices.abecs.keys import load_master_keys
    from virtual_devices.acquirer.pinpad_keys import wrap_working_key

    rig = make_rig()
    wkpan = bytes.fromhex("2A525553482A43524F4E49434C45532A")  # the spec's DWK example key
    wkenc = wrap_working_key(load_master_keys()["mk_dat"][1], wkpan).encode()
    assert raw(rig, b"DWK036" + b"1101" + wkenc) == b"DWK000"
    assert rig.pinpad.key_store.wkpan == wkpan
    assert raw(rig, b"CLX") == b"CLX000" and rig.pinpad.key_store.wkpan is None
    assert raw(rig, b"DWK036" + b"1199" + wkenc) == b"DWK042"


def test_gcx_contactless_tap_type_06_then_gox_fcx() -> None:
    rig = make_rig(seed=4, behaviour=Behaviour(think_s=(0.2, 0.4), presentation="tap"))
    card = VirtualCard(catalogue()["visa-contactless"]).place_in(rig.world)
    rig.pinpad.queue_card(card)
    gcx = (b"GCX045" + bytes.fromhex("00170005") + b"10000" + bytes.fromhex("0013000C")
           + b"000000001000" + bytes.fromhex("00150006") + b"261125"
           + bytes.fromhex("00160006") + b"120000")

    def flow() -> Any:
        yield from rig.host.load_tables(0, "0000000042", aid_records())
        rsp = yield from rig.host.raw_exchange(gcx, blocking=True)
        assert rsp.status == 0, rsp
        gox = yield from rig.host.gox([
            (t.SPE_ACQREF, b"08"), (t.SPE_AMOUNT, b"000000001000"), (t.SPE_MTHDPIN, b"3"),
            (t.SPE_KEYIDX, b"16")])
        fcx = yield from rig.host.fcx([(t.SPE_FCXOPT, b"0000"), (t.SPE_ARC, b"00")])
        return rsp, gox, fcx

    rsp, gox, fcx = rig.run(flow)
    p = t.decode_params(rsp.blocks)
    assert rsp.status == 0 and p.need(t.PP_CARDTYPE) == b"06" and p.need(t.PP_DEVTYPE) == b"00"
    assert p.need(t.PP_PAN) == card.pan.encode()
    assert gox.need(t.PP_GOXRES)[2:3] == b"0"  # under the CVM limit: no PIN
    assert fcx.need(t.PP_FCXRES)[:1] == b"0"
