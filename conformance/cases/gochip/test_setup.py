"""semi-and-websockets.md §B.4 steps 1-5: the agent asks for init, then configuration,
then a device; every REQ_INIT_DEVICE field is checked; the device frame names the reader."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import error_of

GOOD_DEVICE = {"device": "IDTECH", "connectionType": "USB",
               "inputMethod": "SWIPE_OR_INSERT_OR_TAP", "emvType": "STANDARD"}


def _until_configured(c: Any) -> Any:
    yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
    yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
    return (yield from c.request("REQ_INIT_WITH_CONFIGURATION",
                                 {"terminalId": "2997001", "secret": "s"},
                                 "RES_ON_SETTINGS_RETRIEVED"))


@case("gochip/B.4/1", title="on connect the agent sends RES_ON_WS_INIT_REQUIRED",
      failure="a new connection is not asked for REQ_WS_INIT")
def test_init_required(gochip: Any) -> None:
    c = gochip.client()
    first = gochip.run(lambda: c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0))
    assert first is not None and c.received[0]["type"] == "RES_ON_WS_INIT_REQUIRED"


@pytest.mark.parametrize("mode", ["TEST", "LIVE", "DEV"])
@case("gochip/B.4/2", title="REQ_WS_INIT takes TEST, LIVE and DEV and answers RES_ON_WS_INIT",
      failure="a documented mode is refused")
def test_ws_init_modes(gochip: Any, mode: str) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        return (yield from c.request("REQ_WS_INIT", {"mode": mode, "logLevel": "LEVEL_FULL"},
                                     "RES_ON_WS_INIT"))

    got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_WS_INIT"
    assert got["responseType"] == "RESPONSE_OK"


@case("gochip/B.4/3", title="a mode other than TEST/LIVE/DEV is refused with its source",
      failure="REQ_WS_INIT accepts an undocumented mode")
def test_ws_init_bad_mode(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        return (yield from c.request("REQ_WS_INIT", {"mode": "PRODUCTION"}, "RES_ON_WS_INIT"))

    error_of(gochip.run(script), "REQ_WS_INIT")


@case("gochip/B.4/4", title="configuration answers RES_ON_SETTINGS_RETRIEVED with currency, "
      "features, merchant, taxes and tips", failure="the settings frame lacks a documented part")
def test_settings(gochip: Any) -> None:
    c = gochip.client()
    got = gochip.run(lambda: _until_configured(c))
    assert got is not None and got["type"] == "RES_ON_SETTINGS_RETRIEVED", got
    s = got["data"]["settings"]
    for key in ("currencySymbol", "currency", "features", "merchantDetails", "taxList",
                "tipList"):
        assert key in s, key
    assert "allowMsrFallback" in s["features"]
    assert {"name", "city", "address1", "address2"} <= set(s["merchantDetails"])
    for tax in s["taxList"]:
        assert {"name", "percentage", "uid"} <= set(tax)
    for tip in s["tipList"]:
        assert {"uid", "tipType"} <= set(tip)


@case("gochip/B.4/5", title="1.6 path: REQ_SET_API_KEY, then configuration by terminalId alone",
      failure="the 1.6 API-key initialisation does not work")
def test_api_key_path(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
        c.send("REQ_SET_API_KEY", {"key": "K" * 128})
        return (yield from c.request("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "2997001"},
                                     "RES_ON_SETTINGS_RETRIEVED"))

    got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_SETTINGS_RETRIEVED", got


@case("gochip/B.4/6", title="configuration without secret or API key is refused",
      failure="the agent configures a terminal with no credentials")
def test_configuration_needs_credentials(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
        return (yield from c.request("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "2997001"},
                                     "RES_ON_SETTINGS_RETRIEVED"))

    error_of(gochip.run(script), "REQ_INIT_WITH_CONFIGURATION")


@case("gochip/B.4/7", title="REQ_LIST_SUPPORTED_DEVICES answers RES_ON_SUPPORTED_DEVICES_RETRIEVED",
      failure="the supported devices cannot be listed")
def test_list_devices(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from _until_configured(c)
        return (yield from c.request("REQ_LIST_SUPPORTED_DEVICES", {},
                                     "RES_ON_SUPPORTED_DEVICES_RETRIEVED"))

    got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_SUPPORTED_DEVICES_RETRIEVED", got


BAD_FIELDS = [
    {"device": "NOKIA"}, {"connectionType": "SERIAL"}, {"inputMethod": "WAVE"},
    {"emvType": "SLOW_CHIP"}, {"quickChipCardRemovalTimeoutInMillis": 999},
    {"postTransactionCardRemovalTimeoutInMillis": 255001}, {"externalPinpad": "yes"},
    {"secureTokenHistory": 1}, {"portName": 5}, {"device": None},
]


@pytest.mark.parametrize("bad", BAD_FIELDS, ids=lambda b: "-".join(f"{k}" for k in b))
@case("gochip/B.4/8", title="every REQ_INIT_DEVICE field is checked (enumerations, 1000-255000 "
      "timeouts, booleans)", failure="REQ_INIT_DEVICE accepts a field outside §B.4")
def test_init_device_fields(gochip: Any, bad: dict[str, Any]) -> None:
    c = gochip.client()
    data = {**GOOD_DEVICE, **bad}
    data = {k: v for k, v in data.items() if v is not None}

    def script() -> Any:
        yield from _until_configured(c)
        return (yield from c.request("REQ_INIT_DEVICE", data, "RES_ON_DEVICE_CONNECTED"))

    error_of(gochip.run(script), "REQ_INIT_DEVICE")


@case("gochip/B.4/9", title="RES_ON_DEVICE_CONNECTED carries the reader's own serial number and "
      "kernel version", failure="the device frame does not describe the connected reader")
def test_device_connected(gochip: Any) -> None:
    c = gochip.client()
    got = gochip.run(lambda: c.setup())
    info = got["data"]["deviceInfo"]
    for key in ("serialNumber", "kernelVersion", "firmwareVersion", "connectionType"):
        assert info.get(key), key
    assert got["data"]["deviceType"] == "IDTECH"
    if gochip.reference:
        pinpad = gochip.agent.readers[info.get("portName", "reader0")].pinpad
        assert info["serialNumber"] == pinpad.info.serial
        assert info["kernelVersion"] == pinpad.info.app_version


@case("gochip/B.4/10", title="the set-up runs in order: a later step before an earlier one is "
      "refused with messageTypeSource", failure="the agent accepts a step out of order")
def test_sequence(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        before_init = yield from c.request("REQ_INIT_WITH_CONFIGURATION",
                                           {"terminalId": "1", "secret": "s"},
                                           "RES_ON_SETTINGS_RETRIEVED")
        yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
        device_first = yield from c.request("REQ_INIT_DEVICE", GOOD_DEVICE,
                                            "RES_ON_DEVICE_CONNECTED")
        yield from c.request("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "1", "secret": "s"},
                             "RES_ON_SETTINGS_RETRIEVED")
        sale_first = yield from c.request("REQ_PROCESS_SALE", {"amount": "5.00"},
                                          "RES_ON_SALE_RESPONSE")
        return before_init, device_first, sale_first

    before_init, device_first, sale_first = gochip.run(script)
    assert error_of(before_init, "REQ_INIT_WITH_CONFIGURATION")["type"] == "RES_ON_WS_ERROR"
    error_of(device_first, "REQ_INIT_DEVICE")
    error_of(sale_first, "REQ_PROCESS_SALE")


@case("gochip/B.4/19", title="a POS that reconnects gets its reader back: REQ_INIT_DEVICE on a "
      "new connection takes over an idle reader", failure="a reconnecting POS cannot get its "
      "reader while the old connection lingers")
def test_reconnect_takes_reader(gochip: Any) -> None:
    if gochip.reference:
        gochip.agent.readers.pop("reader1", None)  # one reader, as at a counter
    first, second = gochip.client("pos-a"), gochip.client("pos-b")

    def script() -> Any:
        yield from first.setup()
        got = yield from second.setup()
        told = yield from first.wait_for("RES_ON_DEVICE_ERROR", 10.0)
        return got, told

    got, told = gochip.run(script)
    assert got["type"] == "RES_ON_DEVICE_CONNECTED"
    if gochip.reference:
        assert told is not None, "the first connection was not told it lost the device"
