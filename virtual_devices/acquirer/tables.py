"""The acquirer's default terminal tables, as a :class:`TerminalConfig`.

The mpos bridge downloads tables from the host and loads them into the pinpad; the
reference host serves these (``tables.toml``) with a version string so a pinpad with
older tables answers "table version differs" (ABECS 020) as a real one does.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from virtual_devices.emv.terminal import AidParams, Capk, TerminalConfig

_HEX_FIELDS = {
    "capabilities",
    "additional_capabilities",
    "tac_default",
    "tac_denial",
    "tac_online",
    "tdol",
    "ddol",
    "ctls_capabilities",
    "ctls_app_version",
    "ctls_tac_default",
    "ctls_tac_denial",
    "ctls_tac_online",
}


def _aid(defaults: dict[str, Any], entry: dict[str, Any]) -> AidParams:
    merged = {**defaults, **entry}
    kwargs: dict[str, Any] = {}
    for key, value in merged.items():
        if key == "aid":
            kwargs[key] = bytes.fromhex(value)
        elif key == "app_versions":
            kwargs[key] = tuple(bytes.fromhex(v) for v in value)
        elif key in _HEX_FIELDS:
            kwargs[key] = bytes.fromhex(value)
        else:
            kwargs[key] = value
    return AidParams(**kwargs)


def parse_tables(text: str) -> TerminalConfig:
    raw = tomllib.loads(text)
    defaults = raw.get("defaults", {})
    aids = tuple(_aid(defaults, e) for e in raw.get("aid", []))
    capks = tuple(
        Capk(
            rid=bytes.fromhex(c["rid"]),
            index=int(c["index"], 16),
            exponent=bytes.fromhex(c["exponent"]),
            modulus=bytes.fromhex(c["modulus"]),
            checksum=bytes.fromhex(c["checksum"]) if c.get("checksum") else None,
            acq_index=int(defaults.get("acq_index", 1)),
            rec_index=f"{i + 1:02d}",
        )
        for i, c in enumerate(raw.get("capk", []))
    )
    return TerminalConfig(aids=aids, capks=capks, table_version=str(raw["table_version"]))


@cache
def default_terminal_config() -> TerminalConfig:
    """The tables the reference host hands out (``tables.toml``)."""
    text = resources.files("virtual_devices.acquirer").joinpath("tables.toml").read_text()
    return parse_tables(text)


def table_version() -> str:
    return default_terminal_config().table_version
