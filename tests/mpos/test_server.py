"""Bridge behaviour in virtual mode, with real pinpads, cards and acquirer."""

from __future__ import annotations

from typing import Any

from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.lab import build_lab
from protocol_servers.mpos.profiles import BIFROST_0_0_19, DOCUMENTED, Profile
from simulator.world import World


def _sale_world(
    seed: int, card: str = "visa-chip-pin", profile: Profile = DOCUMENTED
) -> tuple[World, Any, dict[str, Any]]:
    w = World(seed=seed)
    lab = build_lab(w, readers=1, cards=[card_from_name(w, card)], profile=profile)
    c = MposClient(w, lab.connect())
    out: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        p = yield from c.process("s", 4200)
        out["process"] = p
        if p["response_type"] == 4:
            txn = lab.backend.create_transaction(p["process"]["card_hash"], 4200)
            out["txn"] = txn
            out["finish"] = yield from c.finish(
                "s", success=True, response_code=0, emv_data=txn.card_emv_response
            )
        yield from c.close("s")

    w.run(until=w.process(flow()))
    return w, lab, out


def test_same_seed_same_transcript_byte_for_byte() -> None:
    a, _, _ = _sale_world(7)
    b, _, _ = _sale_world(7)
    c, _, _ = _sale_world(8)
    assert a.transcript.jsonl() == b.transcript.jsonl()
    assert a.transcript.jsonl() != c.transcript.jsonl()


def test_chip_sale_carries_the_card_and_the_arpc_reaches_the_card() -> None:
    w, lab, out = _sale_world(1)
    fields = lab.backend.read_card_hash(out["process"]["process"]["card_hash"])
    assert fields["card_number"] == "4761739001010010"
    assert fields["card_expiration_date"] == "1231"  # MMYY
    assert "9F26" in fields["card_emv_data"]  # the ARQC travels to the merchant
    assert out["txn"].status == "authorized" and out["txn"].card_emv_response.startswith("91")
    assert out["finish"]["response_type"] == 5
    handled = [cmd for cmd, _ in lab.readers[0].pinpad.handled]
    assert handled[handled.index("GOC") :] == ["GOC", "FNC", "RMC", "CLO"]
    assert ("FNC", 0) in lab.readers[0].pinpad.handled
    text = w.transcript.jsonl()
    assert "4761739001010010" not in text


def test_tables_load_once_then_gts_matches() -> None:
    w, lab, _ = _sale_world(1)
    first = [cmd for cmd, _ in lab.readers[0].pinpad.handled]
    assert first.count("TLI") == 1 and first.count("TLE") == 1
    assert first.index("TLE") < first.index("GCR")


def test_bifrost_busy_quirk_keeps_the_context_locked_until_close() -> None:
    """Process on a context whose initialize failed: the shipped bridge never released
    its semaphore (§2.6); the documented profile answers and moves on."""
    for profile, answered in ((BIFROST_0_0_19, False), (DOCUMENTED, True)):
        w = World(seed=1)
        lab = build_lab(w, readers=1, profile=profile, silent_ports=1)
        c = MposClient(w, lab.connect())
        got: dict[str, Any] = {}

        def flow(c=c, lab=lab, got=got, w=w):  # type: ignore[no-untyped-def]
            yield from c.initialize("q", lab.silent[0].id, timeout_ms=500)
            got["busy"] = yield from c.process("q", 100)
            c.send(
                {
                    "request_type": 2,
                    "context_id": "q",
                    "initialize": {"device_id": lab.readers[0].device.id},
                }
            )
            yield w.timeout(30)
            c.send({"request_type": 8, "context_id": "q"})
            yield from c.drain_unsolicited(5)

        w.run(until=w.process(flow()))
        assert got["busy"]["error"].startswith("An error has occured with the [Process]")
        # the queued initialize is answered (documented) or stuck forever (bifrost)
        init_answers = [a for a in c.answers if a["response_type"] in (2, 3)]
        assert bool(init_answers) is answered
        assert c.answers[-1]["response_type"] == 8  # close is answered in both


def test_close_during_a_card_wait_cancels_the_payment() -> None:
    w = World(seed=1)
    lab = build_lab(w, readers=1)  # no card queued: the customer never presents one
    a = MposClient(w, lab.connect("pos-a"))
    b = MposClient(w, lab.connect("pos-b"))
    got: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from a.list_devices("w")
        yield from a.initialize("w", r["device_list"][0]["id"])
        a.send({"request_type": 4, "context_id": "w", "process": {"amount": 100}})
        yield w.timeout(5)
        got["status"] = yield from b.status("w")
        got["close"] = yield from b.close("w")
        got["process"] = yield from a.next_answer()
        yield from a.drain_unsolicited(1)

    w.run(until=w.process(flow()))
    assert got["status"]["status"]["code"] == 2  # InUse while the pinpad waits
    assert got["close"]["response_type"] == 8
    assert got["process"]["process"]["status"] == 3  # Canceled
    assert got["process"]["process"]["error_code"] == 13
    assert lab.readers[0].device.owner is None


def test_legacy_pinpad_without_secure_mode_still_pays() -> None:
    """An "obsolete" pinpad answers OPN000 (§4.5); the bridge stays in clear."""
    w = World(seed=1)
    lab = build_lab(w, readers=1, cards=[card_from_name(w, "visa-chip-pin")], secure=False)
    c = MposClient(w, lab.connect())
    got: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("l")
        yield from c.initialize("l", r["device_list"][0]["id"])
        got["process"] = yield from c.process("l", 900)

    w.run(until=w.process(flow()))
    assert got["process"]["response_type"] == 4
    assert lab.readers[0].pinpad.session is None
    labels = " ".join(e.label for e in w.transcript if e.port == "pinpad0")
    assert "[sec]" not in labels and "GCR" in labels
