"""The contactless fields of the AID record (ABECS 2.12 §4.1.1), read from the
specification's own 340-, 314- and 284-byte examples, and the limit rule of 2.10."""

from __future__ import annotations

from virtual_devices.abecs.tables import AID_V20_LEN, AID_V21_LEN, AidRecord, decode_record

# §4.1.1 example 1 (TAB_ACQ "02", TAB_RECIDX "MC", MasterCard credit with CTLS, 340 bytes);
# the label "CTLESS CREDITO" is S16, so two spaces pad it.
V21 = (b"340102MC07A000000004101000000000000000000001CTLESS CREDITO  03000100020001"
       b"0769862020503000000004000000000000E0F8E87000F0F00122205004A000D800E8000020"
       b"5004F80000000000R0400001387000009C3000005DB123409F02065F2A029A039C0195059F"
       b"370400000000009F37040000000000000000000000000000000000Y1Z1Y3Z3F00000000000"
       b"00000000F000000000E0484817000F0F001000013870")


def test_the_340_byte_example_gives_every_contactless_field() -> None:
    assert len(V21) == AID_V21_LEN
    rec = decode_record(V21)
    assert isinstance(rec, AidRecord)
    assert (rec.acquirer, rec.record_index, rec.aid.hex().upper()) == (2, "MC", "A0000000041010")
    assert rec.ctls_mode == "4" and rec.ctls_enabled  # PayPass M/Chip
    assert (rec.ctls_txn_limit, rec.ctls_floor_limit, rec.ctls_cvm_limit) == (0x1387, 0x9C3,
                                                                              0x5DB)
    assert rec.ctls_app_version == "1234"
    assert (rec.ctls_tac_default, rec.ctls_tac_denial, rec.ctls_tac_online) == (
        "F000000000", "0000000000", "F000000000")
    assert rec.ctls_capabilities == "E04848" and rec.mobile_cvm
    assert rec.ctls_add_capabilities == "7000F0F001" and rec.ctls_mobile_limit == 0x1387
    assert rec.ctls_issuer_scripts is False
    assert rec.encode() == V21  # and written back byte for byte


def test_the_314_and_284_byte_layouts_take_the_defaults_the_section_gives() -> None:
    v20 = b"314" + V21[3:AID_V20_LEN]
    rec = decode_record(v20)
    assert isinstance(rec, AidRecord) and rec.layout == AID_V20_LEN
    assert rec.ctls_tac_online == "F000000000"
    assert rec.ctls_capabilities is None and rec.mobile_cvm is False  # "0" when absent
    old = decode_record(b"284" + V21[3:284])
    assert isinstance(old, AidRecord) and old.ctls_tac_default is None


def test_longer_records_of_a_future_version_are_read_and_the_rest_ignored() -> None:
    rec = decode_record(b"350" + V21[3:] + b"0123456789")
    assert isinstance(rec, AidRecord) and rec.ctls_mobile_limit == 0x1387


def test_the_contactless_limit_is_refused_from_the_limit_up() -> None:
    import random
    from dataclasses import replace

    from virtual_devices.acquirer import default_terminal_config
    from virtual_devices.emv.kernel import ContactlessKernel, Txn

    cfg = default_terminal_config()
    app = replace(cfg.aids[0], ctls_txn_limit=5000)
    assert ContactlessKernel(cfg, Txn(4999), random.Random(1))._allowed(app)
    assert not ContactlessKernel(cfg, Txn(5000), random.Random(1))._allowed(app)  # equal
