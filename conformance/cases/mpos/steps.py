"""Shared steps of the mpos-bridge cases: schemas, a standard session, invariants."""

from __future__ import annotations

import json
from collections.abc import Generator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from conformance.invariants import no_full_pan
from protocol_servers.mpos.client import MposClient

Gen = Generator[Any, Any, Any]


@cache
def _schema(name: str) -> Any:
    text = resources.files("protocol_servers.mpos").joinpath(f"schemas/{name}.json")
    schema = json.loads(text.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def check_response(frame: dict[str, Any]) -> None:
    """The frame matches the response schema (every key present, types right)."""
    errors = sorted(_schema("response").iter_errors(frame), key=lambda e: list(e.path))
    assert not errors, "response does not match the schema: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5]
    )


def check_request(frame: dict[str, Any]) -> None:
    errors = list(_schema("request").iter_errors(frame))
    assert not errors, f"request does not match the schema: {errors[0].message}"


def check_all(client: MposClient) -> None:
    for a in client.answers:
        check_response(a)
    for u in client.unsolicited:
        check_response(u)


def first_device(c: MposClient, ctx: str | None = "c1") -> Gen:
    r = yield from c.list_devices(ctx)
    assert r["response_type"] == 1, r
    assert r["device_list"], "the bridge lists no device"
    return r["device_list"][0]["id"]


def ready(
    c: MposClient, ctx: str | None = "c1", device: str | None = None, *, simple: bool = False
) -> Gen:
    """list devices + initialize: the context is Ready on ``device`` (or the first one)."""
    if device is None:
        device = yield from first_device(c, ctx)
    r = yield from c.initialize(ctx, device, simple=simple)
    assert r["response_type"] in (2, 3), f"initialize answered {r}"
    return device


def transcript_clean(world: Any, pans: list[str]) -> None:
    no_full_pan(world.transcript, pans)
