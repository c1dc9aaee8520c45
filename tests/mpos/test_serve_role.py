"""The client-under-test role: ``--serve mpos`` runs the bridge for a vendor's POS."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from conformance.options import Options
from conformance.serve import serve
from protocol_servers.mpos.pos import http_json, run_sale

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]


def test_vendor_pos_pays_with_the_card_it_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # its own fixed place for the ptys
    async def run() -> tuple[bool, str | None, int]:
        urls: dict[str, str] = {}
        ready = asyncio.Event()

        def told(info: dict[str, object]) -> None:
            urls.update(info["urls"])  # type: ignore[call-overload]
            ready.set()

        task = asyncio.ensure_future(serve("mpos", Options(factor=0.2), ready=told))
        await asyncio.wait_for(ready.wait(), 30)
        status, _ = await http_json(urls["control"] + "/scenario/next-card", "POST",
                                    {"card": "mc-issuer-decline", "reader": 0})
        sale = await run_sale(urls["mpos"], urls["merchant"], 3300)
        await http_json(urls["control"] + "/shutdown", "POST", {})
        await asyncio.wait_for(task, 30)
        refused = sale.transaction["status"] if sale.transaction else None
        return sale.ok, refused, status

    ok, refused, status = asyncio.run(run())
    assert status == 200
    assert not ok and refused == "refused"
