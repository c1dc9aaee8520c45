"""HTTP on loopback: the facades beside the world (merchant API, control API) and their
clients, on aiohttp.

aiohttp parses and writes HTTP; this module adds what every facade of ours shares and
nothing more:

* :class:`Routes`, a sans-I/O route table filled by decorator
  (``@routes.route("POST", "/1/transactions/{id}/reversal")``): a service's handlers
  take a :class:`Request` and return an :data:`Answer`, so tests can call them without
  a socket, and the same table answers 404 and 405 in the service's own error shape;
* :func:`serve_http`, which puts one handler behind an aiohttp server on 127.0.0.1 with
  a body limit (413 before the body is read) and without the lingering close that
  would keep a refused client waiting;
* :func:`http_json` / :func:`http_json_blocking`, the JSON clients (aiohttp's client
  session) that the POS of the demo, the benches and the suite use.

The world is not touched here: a service that changes it wraps its work in
``world.inject`` itself (each request then runs at the wall-derived simulated time,
on the loop that drives the world: one thread, no locks).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import ClientSession, ClientTimeout, web

LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_BODY = 64 * 1024

#: status, payload (a str is sent as is, anything else as JSON), content type
Answer = tuple[int, Any, str]
JSON = "application/json"


@dataclass(frozen=True)
class Request:
    """One request as a service sees it: already parsed, body read."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # from the route's {names}

    def fields(self) -> dict[str, Any]:
        """The body as a dict: JSON object, or form fields (what Pagar.me's API takes).

        Raises ``ValueError`` for a body that is neither.
        """
        if not self.body:
            return {}
        if "json" in self.headers.get("content-type", "json"):
            try:
                data = json.loads(self.body)
            except ValueError:
                raise ValueError("body is not JSON") from None
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            return data
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


Handler = Callable[..., Answer]
ErrorBody = Callable[[int, str], Any]


class RouteError(Exception):
    """No route for the request: ``status`` is 404 (no such path) or 405 (wrong method)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Routes:
    """A service's routes, registered by decorator; patterns may hold ``{name}`` parts
    (one path segment each), handed to the handler in :attr:`Request.params`."""

    def __init__(self) -> None:
        self._table: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        regex = re.compile(
            "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$"
        )

        def register(handler: Handler) -> Handler:
            self._table.append((method.upper(), regex, handler))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for ``method path`` and its path parameters; :class:`RouteError`
        when the path is unknown (404) or known under other methods (405)."""
        known_path = False
        for m, regex, handler in self._table:
            found = regex.match(path)
            if found is None:
                continue
            if m == method.upper():
                return handler, found.groupdict()
            known_path = True
        if known_path:
            raise RouteError(f"{method} not allowed on {path}", 405)
        raise RouteError(f"no such endpoint {path}", 404)

    def dispatch(self, request: Request) -> Answer:
        handler, params = self.match(request.method, request.path)
        return handler(Request(request.method, request.path, request.headers, request.body,
                               params))


@dataclass
class HttpServer:
    """A running facade: its base URL, and how to stop it."""

    url: str
    port: int
    _runner: web.AppRunner

    async def close(self) -> None:
        await self._runner.cleanup()


def _encode(answer: Answer) -> web.Response:
    status, payload, ctype = answer
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return web.Response(status=status, text=text, content_type=ctype.split(";")[0])


async def serve_http(
    handle: Callable[[Request], Answer | Awaitable[Answer]],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    error_body: ErrorBody = lambda status, message: {"error": message},
    max_body: int = MAX_BODY,
) -> HttpServer:
    """Serve ``handle`` on ``http://host:port`` (loopback only; port 0 picks a free one).

    Every request reaches ``handle`` as a :class:`Request` (path without the query);
    a body over ``max_body`` is refused with 413 from its Content-Length alone, and
    errors raised by aiohttp's own checks keep their status with ``error_body``'s shape.
    """
    if host not in LOOPBACK:
        raise ValueError(f"HTTP facades listen on loopback only, not {host!r}")

    async def entry(request: web.Request) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_body:
            response = _encode((413, error_body(413, "body too large"), JSON))
            response.force_close()
            return response
        try:
            body = await request.read()
        except web.HTTPException as exc:
            return _encode((exc.status, error_body(exc.status, exc.reason), JSON))
        req = Request(request.method.upper(), request.path,
                      {k.lower(): v for k, v in request.headers.items()}, body)
        try:
            answer = handle(req)
            if not isinstance(answer, tuple):
                answer = await answer
        except RouteError as exc:
            answer = (exc.status, error_body(exc.status, str(exc)), JSON)
        return _encode(answer)

    app = web.Application(client_max_size=max_body)
    app.router.add_route("*", "/{tail:.*}", entry)
    # lingering_time=0: a client refused before its body was read is closed at once
    runner = web.AppRunner(app, access_log=None, lingering_time=0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    server = site._server
    assert server is not None and isinstance(server, asyncio.Server)
    bound = server.sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return HttpServer(f"http://{shown}:{bound}", bound, runner)


def check_loopback(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise ValueError(f"an HTTP facade is http on loopback, not {url!r}")


async def http_json(
    url: str, method: str = "GET", body: dict[str, Any] | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """One request to a loopback facade: JSON in, ``(status, JSON or text)`` out."""
    check_loopback(url)
    async with ClientSession(timeout=ClientTimeout(total=timeout)) as session:
        async with session.request(method, url, json=body) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text) if text else None
            except ValueError:
                return response.status, text


def http_json_blocking(
    url: str, method: str = "GET", body: dict[str, Any] | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """:func:`http_json` for code between flows (case code, CLI tools): not for use
    inside a running event loop."""
    return asyncio.run(http_json(url, method, body, timeout))
