"""The control API of the client-under-test role (``--serve NAME``).

When a vendor's POS software is under test, cardloop runs a reference server with
virtual devices and waits for the POS to connect. The vendor's own tests choose
what happens next through a small HTTP API on 127.0.0.1 (OCPP test tools call
these "certification scenarios"): which card is presented next, how the cardholder
behaves, what the acquirer answers, which fault hits the next crossing.

Shape (JSON in, JSON out; errors are ``{"error": "..."}`` with a 4xx status)::

    GET  /                      -> {"server": NAME, "urls": {...}, "actions": {name: help}}
    GET  /state                 -> {"pending": {action: [params...]}, "applied": [...]}
    POST /scenario/<action>     body: params of the action -> {"ok": true, "applied": {...}}
    POST /play/<scenario>       a named certification scenario (scenarios.toml)
    POST /reset                 -> forget pending scenario choices
    GET  /transcript            -> the run's transcript so far (JSON Lines, PANs masked)
    POST /shutdown              -> end the run; reports are written

Servers plug in through :class:`ControlRegistry`: a reference server's control
module (``protocol_servers.<pkg>.control``) calls :func:`register_server` with a
factory that starts it in a world and registers its actions. The API applies
every action inside the world (``World.inject``), on the loop that drives it: one
thread, no locks.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from conformance.options import Options
    from simulator.world import World

Action = Callable[[dict[str, Any]], dict[str, Any] | None]
MAX_BODY = 64 * 1024


class ControlError(Exception):
    """A request the control API refuses (bad action, bad parameters): HTTP 400/404."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ActionInfo:
    name: str
    help: str
    apply: Action


@dataclass(frozen=True)
class Scenario:
    """A named certification scenario: actions applied in order (scenarios.toml)."""

    name: str
    title: str
    expect: str
    steps: tuple[tuple[str, dict[str, Any]], ...]


def load_scenarios(server: str, text: str | None = None) -> dict[str, Scenario]:
    """The certification scenarios of ``server`` from ``conformance/scenarios.toml``."""
    import tomllib
    from importlib import resources

    if text is None:
        text = resources.files("conformance").joinpath("scenarios.toml").read_text("utf-8")
    raw = tomllib.loads(text).get(server, {})
    out: dict[str, Scenario] = {}
    for name, body in raw.items():
        steps = tuple((str(st["action"]), dict(st.get("params", {}))) for st in body["steps"])
        out[name] = Scenario(name, str(body["title"]), str(body["expect"]), steps)
    return out


@dataclass
class ControlRegistry:
    """Scenario actions a served reference server accepts, and what was chosen.

    Built-in bookkeeping: every action's parameters are queued under
    :attr:`pending` (e.g. the cards to present next, in order) until the server
    takes them with :meth:`take`; what was applied is kept in :attr:`applied`.
    """

    server: str = ""
    urls: dict[str, str] = field(default_factory=dict)
    actions: dict[str, ActionInfo] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    applied: list[dict[str, Any]] = field(default_factory=list)
    shutdown: asyncio.Event | None = None
    scenarios: dict[str, Scenario] = field(default_factory=dict)

    def play(self, name: str) -> dict[str, Any]:
        """Apply certification scenario ``name``, step by step; refused before any step
        when the server lacks one of its actions."""
        sc = self.scenarios.get(name)
        if sc is None:
            raise ControlError(
                f"unknown scenario {name!r}; known: {sorted(self.scenarios)}", 404
            )
        missing = [a for a, _ in sc.steps if a not in self.actions]
        if missing:
            raise ControlError(f"scenario {name!r} needs actions this server lacks: {missing}")
        done = [self.run(action, dict(params)) for action, params in sc.steps]
        return {"scenario": name, "expect": sc.expect, "steps": done}

    def action(self, name: str, help: str, apply: Action | None = None) -> None:
        """Register ``name``; without ``apply`` the parameters are just queued."""
        self.actions[name] = ActionInfo(name, help, apply or (lambda params: None))

    def run(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        info = self.actions.get(name)
        if info is None:
            raise ControlError(f"unknown action {name!r}; known: {sorted(self.actions)}", 404)
        result = info.apply(params) or {}
        self.pending.setdefault(name, []).append(params)
        record = {"action": name, "params": params, **result}
        self.applied.append(record)
        return record

    def take(self, name: str) -> dict[str, Any] | None:
        """The oldest pending choice for ``name`` (the server consumes it), or None."""
        queue = self.pending.get(name)
        return queue.pop(0) if queue else None

    def reset(self) -> None:
        self.pending.clear()


Starter = Callable[["World", ControlRegistry, "Options"], Awaitable["Served"]]


@dataclass
class Served:
    """A reference server started for a POS under test."""

    urls: dict[str, str]
    close: Callable[[], Awaitable[None]]


_SERVERS: dict[str, Starter] = {}
# the reference servers' control modules, imported on first use of --serve
SERVER_MODULES = {
    "mpos": "protocol_servers.mpos.control",
    "p3": "protocol_servers.p3.control",
    "abecs": "virtual_devices.abecs.control",
    "gochip": "conformance.cases.gochip.serving",
}


def register_server(name: str, starter: Starter) -> None:
    _SERVERS[name] = starter


def server_starter(name: str) -> Starter:
    if name not in _SERVERS and name in SERVER_MODULES:
        try:
            importlib.import_module(SERVER_MODULES[name])
        except ModuleNotFoundError as exc:
            raise ControlError(f"reference server {name!r} is not available ({exc})", 404) from exc
    try:
        return _SERVERS[name]
    except KeyError:
        known = sorted(set(_SERVERS) | set(SERVER_MODULES))
        raise ControlError(f"no reference server {name!r}; known: {known}", 404) from None


# -- HTTP on loopback -----------------------------------------------------------------
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large"}


class ControlServer:
    """A minimal HTTP/1.1 server for the control API, on the world's asyncio loop."""

    def __init__(self, world: World, registry: ControlRegistry) -> None:
        self.world = world
        self.registry = registry
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> ControlServer:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the control API listens on loopback only")
        self._server = await asyncio.start_server(self._client, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                keep = await self._one(reader, writer)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            await self._send(writer, 400, {"error": "malformed request line"}, close=True)
            return False
        headers: dict[str, str] = {}
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = -1
        if length < 0:
            await self._send(writer, 400, {"error": "bad Content-Length"}, close=True)
            return False
        if length > MAX_BODY:
            await self._send(writer, 413, {"error": "body too large"}, close=True)
            return False
        body = await reader.readexactly(length) if length else b""
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        status, payload, ctype = self.dispatch(method, urlsplit(target).path, body)
        await self._send(writer, status, payload, close=close, ctype=ctype)
        return not close

    def dispatch(self, method: str, path: str, body: bytes) -> tuple[int, Any, str]:
        """Route one request; actions run inside the world at its current time."""
        reg = self.registry
        try:
            if method == "GET" and path == "/":
                return 200, {
                    "server": reg.server,
                    "urls": reg.urls,
                    "actions": {n: a.help for n, a in sorted(reg.actions.items())},
                    "scenarios": {
                        n: {"title": sc.title, "expect": sc.expect}
                        for n, sc in sorted(reg.scenarios.items())
                    },
                }, "application/json"
            if method == "GET" and path == "/state":
                return 200, {"pending": reg.pending, "applied": reg.applied}, "application/json"
            if method == "GET" and path == "/transcript":
                return 200, self.world.transcript.jsonl(), "application/x-ndjson"
            if method == "POST" and path == "/reset":
                self.world.inject(reg.reset)
                return 200, {"ok": True}, "application/json"
            if method == "POST" and path == "/shutdown":
                if reg.shutdown is not None:
                    reg.shutdown.set()
                return 200, {"ok": True}, "application/json"
            if method == "POST" and path.startswith("/scenario/"):
                params = json.loads(body or b"{}")
                if not isinstance(params, dict):
                    raise ControlError("parameters must be a JSON object")
                name = path.removeprefix("/scenario/")
                out: dict[str, Any] = {}

                def apply() -> None:
                    out.update(reg.run(name, params))
                    self.world.transcript.event("control", f"scenario {name} {json.dumps(params)}")

                self.world.inject(apply)
                return 200, {"ok": True, "applied": out}, "application/json"
            if method == "POST" and path.startswith("/play/"):
                name = path.removeprefix("/play/")
                played: dict[str, Any] = {}

                def play() -> None:
                    played.update(reg.play(name))
                    self.world.transcript.event("control", f"scenario {name} played")

                self.world.inject(play)
                return 200, {"ok": True, **played}, "application/json"
            if path in ("/", "/state", "/transcript", "/reset", "/shutdown"):
                return 405, {"error": f"{method} not allowed on {path}"}, "application/json"
            return 404, {"error": f"no such endpoint {path}"}, "application/json"
        except ControlError as exc:
            return exc.status, {"error": str(exc)}, "application/json"
        except ValueError as exc:
            return 400, {"error": f"bad request: {exc}"}, "application/json"
        except (TypeError, KeyError) as exc:
            # parameters of the wrong shape reach an action: the caller's mistake
            return 400, {"error": f"bad parameters: {exc!r}"}, "application/json"

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, payload: Any, *, close: bool,
        ctype: str = "application/json",
    ) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        raw = data.encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(raw)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + raw)
        await writer.drain()


class ControlClient:
    """The suite's side of a control API, for ``--target`` runs against a served
    server (``--serve`` elsewhere, or a vendor's server offering the same API).

    Blocking calls, for case code between flows (never inside a SimPy process).
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"control URL must be http on loopback, not {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read().decode("utf-8")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise ControlError(str(detail), err.code) from None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def index(self) -> dict[str, Any]:
        return dict(self._call("GET", "/"))

    def actions(self) -> dict[str, str]:
        return dict(self.index().get("actions", {}))

    def scenario(self, action: str, **params: Any) -> dict[str, Any]:
        """Apply scenario ``action``; raises :class:`ControlError` if refused."""
        return dict(self._call("POST", f"/scenario/{action}", params).get("applied", {}))

    def play(self, scenario: str) -> dict[str, Any]:
        """Apply a named certification scenario; returns its steps and expectation."""
        return dict(self._call("POST", f"/play/{scenario}", {}))

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "/state"))

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def transcript(self) -> str:
        return str(self._call("GET", "/transcript"))

    def shutdown(self) -> None:
        self._call("POST", "/shutdown", {})


async def serve(
    name: str, options: Options, *, ready: Callable[[dict[str, Any]], None] | None = None,
    control_port: int = 0,
) -> tuple[World, ControlRegistry]:
    """Run reference server ``name`` with its control API until ``POST /shutdown``.

    ``ready`` is told the URLs once everything listens (the CLI prints them as one
    JSON line for the vendor's tooling to read).
    """
    from simulator.world import World

    starter = server_starter(name)
    world = World(seed=options.seed, mode="realtime", factor=options.factor)
    registry = ControlRegistry(
        server=name, shutdown=asyncio.Event(), scenarios=load_scenarios(name)
    )
    control = await ControlServer(world, registry).start(port=control_port)
    served = await starter(world, registry, options)
    registry.urls = {**served.urls, "control": control.url}
    driver = asyncio.ensure_future(world.run_realtime())
    try:
        if ready is not None:
            ready({"server": name, "urls": registry.urls})
        assert registry.shutdown is not None
        await registry.shutdown.wait()
    finally:
        driver.cancel()
        try:
            await driver
        except asyncio.CancelledError:
            pass
        await served.close()
        await control.close()
    return world, registry
