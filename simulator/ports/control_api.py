"""The control API: a :class:`~simulator.control.ControlRegistry` on HTTP, and its client.

Routes and JSON shapes are listed in :mod:`simulator.control`. The routes are a
sans-I/O table (:meth:`ControlServer.dispatch` takes a parsed request and returns the
answer); aiohttp carries them (:func:`simulator.ports.http.serve_http`). Kept apart
from the registry so that a server's contract can name its actions without importing
an HTTP stack.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from simulator.control import ControlError, ControlRegistry
from simulator.ports.http import (
    JSON,
    Answer,
    HttpServer,
    Request,
    Routes,
    check_loopback,
    http_json_blocking,
    serve_http,
)

if TYPE_CHECKING:
    from simulator.world import World


class ControlServer:
    """The control API of one registry, on 127.0.0.1, on the world's asyncio loop."""

    routes = Routes()

    def __init__(self, world: World, registry: ControlRegistry) -> None:
        self.world = world
        self.registry = registry
        self._http: HttpServer | None = None

    @property
    def url(self) -> str:
        assert self._http is not None, "the control API is not started"
        return self._http.url

    @property
    def port(self) -> int:
        return 0 if self._http is None else self._http.port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> ControlServer:
        self._http = await serve_http(self.dispatch, host=host, port=port)
        return self

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def dispatch(self, request: Request) -> Answer:
        """Route one request (sans-I/O); actions run inside the world at its current time."""
        try:
            handler, params = self.routes.match(request.method, request.path)
            return handler(self, request, **params)
        except ControlError as exc:
            return exc.status, {"error": str(exc)}, JSON
        except ValueError as exc:
            return 400, {"error": f"bad request: {exc}"}, JSON
        except (TypeError, KeyError) as exc:
            # parameters of the wrong shape reach an action: the caller's mistake
            return 400, {"error": f"bad parameters: {exc!r}"}, JSON

    @routes.route("GET", "/")
    def _index(self, request: Request) -> Answer:
        reg = self.registry
        return 200, {
            "server": reg.server,
            "urls": reg.urls,
            "actions": {n: a.help for n, a in sorted(reg.actions.items())},
            "scenarios": {
                n: {"title": sc.title, "expect": sc.expect}
                for n, sc in sorted(reg.scenarios.items())
            },
        }, JSON

    @routes.route("GET", "/state")
    def _state(self, request: Request) -> Answer:
        reg = self.registry
        body: dict[str, Any] = {"pending": reg.pending, "applied": reg.applied}
        if reg.state is not None:
            body["server"] = reg.state()
        return 200, body, JSON

    @routes.route("GET", "/faults")
    def _faults(self, request: Request) -> Answer:
        action = self.registry.actions.get("faults")
        if action is None:
            raise ControlError("this control API offers no runtime faults", 404)
        out: dict[str, Any] = {}
        self.world.inject(lambda: out.update(action.apply({}) or {}))
        return 200, out, JSON

    @routes.route("GET", "/transcript")
    def _transcript(self, request: Request) -> Answer:
        return 200, self.world.transcript.jsonl(), "application/x-ndjson"

    @routes.route("POST", "/reset")
    def _reset(self, request: Request) -> Answer:
        self.world.inject(self.registry.reset)
        return 200, {"ok": True}, JSON

    @routes.route("POST", "/shutdown")
    def _shutdown(self, request: Request) -> Answer:
        if self.registry.shutdown is not None:
            self.registry.shutdown.set()
        return 200, {"ok": True}, JSON

    @routes.route("POST", "/scenario/{name}")
    def _scenario(self, request: Request, name: str) -> Answer:
        params = json.loads(request.body or b"{}")
        if not isinstance(params, dict):
            raise ControlError("parameters must be a JSON object")
        out: dict[str, Any] = {}

        def apply() -> None:
            out.update(self.registry.run(name, params))
            self.world.transcript.event("control", f"scenario {name} {json.dumps(params)}")

        self.world.inject(apply)
        return 200, {"ok": True, "applied": out}, JSON

    @routes.route("POST", "/play/{name}")
    def _play(self, request: Request, name: str) -> Answer:
        played: dict[str, Any] = {}

        def play() -> None:
            played.update(self.registry.play(name))
            self.world.transcript.event("control", f"scenario {name} played")

        self.world.inject(play)
        return 200, {"ok": True, **played}, JSON


class ControlClient:
    """The other side of a control API, for tools and the suite's ``--target`` runs
    against a served server (``--serve`` elsewhere, or a vendor's server offering the
    same API).

    Blocking calls, for code between flows (never inside a SimPy process).
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        try:
            check_loopback(url)
        except ValueError:
            raise ValueError(f"control URL must be http on loopback, not {url!r}") from None
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = http_json_blocking(self.url + path, method, body, self.timeout)
        if status >= 400:
            detail = answer.get("error", answer) if isinstance(answer, dict) else answer
            raise ControlError(str(detail), status)
        return answer

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

    def faults(self) -> list[dict[str, Any]]:
        """The faults added at runtime that are still active."""
        return list(self._call("GET", "/faults").get("faults", []))

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def transcript(self) -> str:
        return str(self._call("GET", "/transcript"))

    def shutdown(self) -> None:
        self._call("POST", "/shutdown", {})
