"""Steps the Connect cases share: run a transaction, check what an EPoS may rely on."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from conformance.invariants import no_full_pan
from protocol_servers.connect.client import ConnectClient
from protocol_servers.connect.notifications import V0, V1

Gen = Generator[Any, Any, Any]
KNOWN_PANS = ("4761739001010010", "5413330089010038", "5413330089010012")


def final(c: ConnectClient, rid: Any) -> Gen:
    rsp = yield from c.wait(rid)
    assert rsp is not None, "no answer before the socket closed"
    assert rsp.error is None, f"answered with an error: {rsp.error}"
    return rsp.result


def values(c: ConnectClient) -> list[str]:
    return [v for _, v in c.notifications]


def check_invariants(target: Any) -> None:
    """After a case: no notification after a final answer (per terminal transaction),
    values in the version's enum, no card number in clear, the ledger agrees."""
    for c in target.clients:
        allowed = V1 if c.version == "v1" else V0
        bad = [v for _, v in c.notifications if v not in allowed]
        assert not bad, f"notification values outside the {c.version} enum: {bad}"
        no_late_notifications(c)
        for m in c.received:
            result = m.get("result")
            if isinstance(result, dict) and "primaryAccountNumber" in result:
                pan = result["primaryAccountNumber"]
                assert not pan or set(pan[:-4]) <= {"*"}, f"PAN not masked: {pan[:6]}…"
    no_full_pan(target.world.transcript, known_pans=KNOWN_PANS)
    if target.server is not None:
        # one EPoS with several sockets: a transaction told twice (its answer and a
        # duplicate) is one transaction
        told = list({v["key"]: v for c in target.clients for v in c.pos_view}.values())
        problems = target.server.acquirer.ledger.check(told)
        assert not problems, problems


def no_late_notifications(c: ConnectClient) -> None:
    """§4.4/§9: a transaction's notifications all come before its final result: nothing
    for that terminal between the result and the next TRANSACTION_STARTED."""
    done: set[str] = set()
    for kind, info in c.events:
        if kind == "result" and info:
            done.add(str(info))
        elif kind == "notification":
            tid, value = info
            if value == "TRANSACTION_STARTED":
                done.discard(tid)
            elif tid in done:
                raise AssertionError(f"{value} for {tid} came after the transaction's "
                                     "final result")


def no_typed_code(target: Any, card: str) -> None:
    """The security code typed for ``card`` is nowhere in the transcript: not in the
    GCD answer's bytes (hex either case) nor in a label."""
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.emv.printed import printed

    face = printed(catalogue()[card])
    assert face is not None
    field = b"\x80\x4d" + len(face.security_code).to_bytes(2, "big") + face.security_code.encode()
    text = target.world.transcript.jsonl()
    for form in (field.hex(), field.hex().upper(), f"M..{face.security_code}"):
        assert form not in text, "the typed security code is in the transcript"
