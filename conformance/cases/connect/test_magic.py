"""paymentsense-connect.md §11: the virtual test terminals behave as their TIDs say."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, values


@pytest.mark.parametrize("tid, result, cvm, seen", [
    ("VCMINVLSIP0", "SUCCESSFUL", "PIN", "PIN_ENTRY"),
    ("VCMINVLDIP0", "DECLINED", "PIN", "DECLINED"),
    ("VCMINVLSIS0", "SUCCESSFUL", "SIGNATURE", "SIGNATURE_VERIFICATION"),
    ("VCMINVLUIP0", "UNSUCCESSFUL", None, "CARD_NOT_SUPPORTED"),
    ("VCMINVLTIP0", "TIMED_OUT", None, "TRANSACTION_FINISHED"),
])
@case("connect/11/1", title="magic TIDs: successful, declined, signature, unsuccessful, "
      "timed out", section="11", failure="a test terminal does not give the outcome its "
      "name promises")
def test_magic_tids(connect: Any, tid: str, result: str, cvm: str | None, seen: str) -> None:
    c = connect.open()
    rsp = connect.run(lambda: c.transaction("sale", tid, 1000))
    assert rsp is not None and rsp.error is None, rsp
    tx = rsp.result
    assert tx["transactionResult"] == result
    if cvm is not None:
        assert tx["cardHolderVerificationMethod"] == cvm
    assert seen in values(c)
    check_invariants(connect)
