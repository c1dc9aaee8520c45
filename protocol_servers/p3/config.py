"""Server configuration: PayServer reads ``config.yaml`` at startup (payworks-p3.md §8.2).

YAML or TOML, same keys::

    host: 127.0.0.1
    websocketPort: 8080
    tcpPort: 8081
    location: Till 2
    devices:
      counterReader: {name: Counter reader, type: MOCK, comlink: MOCK}
      abecsReader:   {name: ABECS reader, type: MIURA, comlink: USB, serialPort: /dev/ttyUSB0}

A device with ``type: MOCK`` is the PayServer's own mock reader (amount-digit outcomes);
any other type is a card reader behind a serial line: a virtual ABECS pinpad on a pty
unless ``serialPort`` names a real one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEVICE_TYPES = ("MOCK", "MIURA", "VERIFONE")
COMLINKS = ("MOCK", "WIFI", "USB", "BLUETOOTH")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class DeviceConfig:
    identifier: str
    name: str
    type: str = "MOCK"
    comlink: str = "MOCK"
    serial_port: str | None = None
    baud: int | None = None
    # catalogue cards the customer at a virtual pinpad presents, in turn
    cards: tuple[str, ...] = ("visa-chip-pin",)
    # how the customer at a virtual pinpad behaves (cancel_at, walk_away_at, wrong_pins)
    customer: dict[str, Any] = field(default_factory=dict)

    @property
    def resource(self) -> str:
        return f"devices/{self.identifier}"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "identifier": self.identifier,
            "resource": self.resource,
            "type": self.type,
            "comlink": self.comlink,
            "components": [{"type": "TRANSACTION", "resource": self.resource}],
        }


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    websocket_port: int = 8080
    tcp_port: int = 8081
    location: str = "cardloop"
    devices: tuple[DeviceConfig, ...] = field(
        default_factory=lambda: (DeviceConfig("mockReader", "Mock reader"),)
    )
    # merchant id -> secret; empty = any credentials (MOCK always accepts any, §15.3)
    merchants: dict[str, str] = field(default_factory=dict)
    # DECISIONS.md: a merchant login holds for the whole server by default, because the
    # public P3 clients log in on one socket and execute on another (payworks-p3.md
    # §2.4, §12.3); ``globalLogin: false`` asks for a login on every connection
    global_login: bool = True
    # payworks-p3.md §7.7: standalone refunds must be protectable against misuse
    allow_standalone_refund: bool = True
    max_frame_bytes: int = 1 << 20


def parse(raw: dict[str, Any]) -> ServerConfig:
    devices_raw = raw.get("devices") or {}
    if isinstance(devices_raw, list):
        devices_raw = {d.get("identifier"): d for d in devices_raw}
    devices = []
    for ident, body in devices_raw.items():
        body = body or {}
        if not isinstance(ident, str) or not ident.isidentifier():
            raise ConfigError(f"device identifier {ident!r} must be a plain name")
        dtype = str(body.get("type", "MOCK")).upper()
        comlink = str(body.get("comlink", "MOCK" if dtype == "MOCK" else "USB")).upper()
        if dtype not in DEVICE_TYPES:
            raise ConfigError(f"device {ident}: type must be one of {', '.join(DEVICE_TYPES)}")
        if comlink not in COMLINKS:
            raise ConfigError(f"device {ident}: comlink must be one of {', '.join(COMLINKS)}")
        devices.append(DeviceConfig(
            identifier=ident, name=str(body.get("name", ident)), type=dtype, comlink=comlink,
            serial_port=body.get("serialPort"), baud=body.get("baud"),
            cards=tuple(body.get("cards") or ("visa-chip-pin",)),
            customer=dict(body.get("customer") or {}),
        ))
    if not devices:
        raise ConfigError("the configuration lists no devices")
    host = str(raw.get("host", "127.0.0.1"))
    if host == "localhost":
        host = "127.0.0.1"
    return ServerConfig(
        host=host,
        websocket_port=int(raw.get("websocketPort", 8080)),
        tcp_port=int(raw.get("tcpPort", 8081)),
        location=str(raw.get("location", "cardloop")),
        devices=tuple(devices),
        merchants={str(k): str(v) for k, v in (raw.get("merchants") or {}).items()},
        global_login=bool(raw.get("globalLogin", True)),
        allow_standalone_refund=bool(raw.get("allowStandaloneRefund", True)),
        max_frame_bytes=int(raw.get("maxFrameBytes", 1 << 20)),
    )


def load(path: str | Path) -> ServerConfig:
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if p.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top")
    return parse(raw)
