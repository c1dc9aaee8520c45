"""Configuration files, login rules and the labels the transcript gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from protocol_servers.p3 import envelope, tcpframes
from protocol_servers.p3.client import connect_local
from protocol_servers.p3.config import ConfigError, ServerConfig, load, parse
from protocol_servers.p3.server import PayServer
from simulator.world import World

YAML = """
host: localhost
websocketPort: 9080
tcpPort: 9081
location: Till 2
merchants: {m1: s1}
devices:
  counterReader: {name: Counter reader, type: MIURA, comlink: USB, cards: [mc-chip-signature]}
  mockReader: {name: Mock}
"""
TOML = """
host = "127.0.0.1"
location = "Till 3"
[devices.a]
name = "A"
type = "VERIFONE"
comlink = "WIFI"
serialPort = "/dev/ttyUSB0"
"""


def test_yaml_and_toml_configs_load(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(YAML)
    (tmp_path / "config.toml").write_text(TOML)
    y = load(tmp_path / "config.yaml")
    assert (y.host, y.websocket_port, y.tcp_port, y.location) == ("127.0.0.1", 9080, 9081, "Till 2")
    assert [d.identifier for d in y.devices] == ["counterReader", "mockReader"]
    assert y.devices[0].cards == ("mc-chip-signature",) and y.devices[1].type == "MOCK"
    t = load(tmp_path / "config.toml")
    assert t.devices[0].serial_port == "/dev/ttyUSB0" and t.devices[0].comlink == "WIFI"


@pytest.mark.parametrize("raw", [{}, {"devices": {"x": {"type": "INGENICO"}}},
                                 {"devices": {"x": {"comlink": "SERIAL"}}},
                                 {"devices": {"bad/name": {}}}])
def test_bad_configs_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse(raw)


def _login(server: PayServer, mode: str, ident: str, secret: str, transport: str = "ws"
           ) -> dict[str, Any]:
    c = connect_local(server, transport)

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.login(mode, ident, secret))

    proc = server.world.process(script())
    server.world.run(until=proc)
    assert proc.value is not None
    return proc.value  # type: ignore[no-any-return]


def test_configured_credentials_are_checked_except_in_mock_mode() -> None:
    world = World(seed=1)
    server = PayServer(world, ServerConfig(merchants={"m1": "s1"}))
    assert _login(server, "TEST", "m1", "s1")["status"] == "OK"
    bad = _login(server, "TEST", "m1", "wrong")
    assert bad["status"] == "ERROR"
    assert bad["error"]["type"] == "SERVER_AUTHENTICATION_FAILED"
    assert _login(server, "MOCK", "anyone", "anything")["status"] == "OK"


def test_login_holds_for_the_server_unless_per_connection() -> None:
    assert ServerConfig().global_login and parse({"devices": {"r": {}}}).global_login
    assert not parse({"devices": {"r": {}}, "globalLogin": False}).global_login
    for global_login, expected in ((False, "ERROR"), (True, "OK")):
        world = World(seed=1)
        server = PayServer(world, ServerConfig(global_login=global_login))
        _login(server, "MOCK", "m", "s")
        other = connect_local(server, "ws", "other")

        def script(pos: Any):  # type: ignore[no-untyped-def]
            return (yield from pos.final(pos.execute("devices/mockReader", amount="5.00")))

        proc = world.process(script(other))
        world.run(until=proc)
        assert proc.value is not None and proc.value["status"] == expected
        if expected == "ERROR":  # the second socket never logged in: it says so
            assert proc.value["error"]["type"] == "PARAMETER_MISSING"
            assert proc.value["error"]["message"] == "Merchant login missing"
            assert "on this connection" in proc.value["error"]["developerMessage"]


def test_tcp_stream_labels_name_the_messages_and_never_the_payload() -> None:
    msg = envelope.encode(envelope.ok_response("LOGIN_MERCHANT_RESPONSE", "t9", None, {"x": 1}))
    chunk = tcpframes.encode(msg.encode()) + b"\x00\x00"
    text = envelope.stream_label(chunk)
    assert "LOGIN_MERCHANT_RESPONSE" in text and "tag=t9" in text and "bytes of a frame" in text
    assert '"x"' not in text


def test_the_example_config_loads() -> None:
    import protocol_servers.p3 as pkg

    cfg = load(Path(pkg.__file__).parent / "config.example.yaml")
    assert [d.type for d in cfg.devices] == ["MOCK", "MIURA"]
    assert cfg.merchants == {"merchant-1": "secret-1"} and cfg.websocket_port == 8080


def test_a_reader_that_is_not_open_is_not_connected() -> None:
    from protocol_servers.p3.config import DeviceConfig

    world = World(seed=1)
    dev = DeviceConfig("desk", "Desk", "VERIFONE", "USB", serial_port="/dev/ttyUSB9")
    server = PayServer(world, ServerConfig(devices=(dev,)))
    c = connect_local(server, "tcp")

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        return (yield from c.final(c.execute("devices/desk", amount="5.00")))

    proc = world.process(script())
    world.run(until=proc)
    assert proc.value is not None and proc.value["error"]["type"] == "ACCESSORY_NOT_CONNECTED"
