"""``--serve NAME``: run the client-under-test role instead of collecting cases.

The reference server and its virtual devices wait for the vendor's POS; the
vendor's tests drive scenarios through the control API (:mod:`simulator.control`)
and end the run with ``POST /shutdown``. The server is found by name (or alias) in the
one list of servers (:mod:`protocol_servers.registry`) and run by
:func:`protocol_servers.serving.serve`, as ``cardloop serve`` runs it. The run's
transcript is then checked against the invariants that do not need our own client (no
card number in clear) and written with the control log to the reports directory.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance.invariants import InvariantViolation, no_full_pan
from conformance.options import Options

if TYPE_CHECKING:
    from simulator.control import ControlRegistry
    from simulator.world import World


async def serve(
    name: str, options: Options, *, ready: Callable[[dict[str, Any]], None] | None = None,
    control_port: int = 0,
) -> tuple[World, ControlRegistry]:
    """Run reference server ``name`` with its control API until ``POST /shutdown``.

    The server's options are its defaults with the role's own (free ports) and the
    suite's seed, factor and ``--profile`` (when the profile is one of this server's).
    ``ready`` is told the URLs once everything listens. Raises
    :class:`~protocol_servers.registry.UnknownServer` for a name no server has.
    """
    from protocol_servers.registry import lookup, options_for
    from protocol_servers.serving import serve as run

    spec = lookup(name)
    # quiet: the role's stdout is one JSON line the vendor's tooling reads
    overrides: dict[str, Any] = {"seed": options.seed, "factor": options.factor,
                                 "control_port": control_port, "quiet": True}
    if options.profile and options.profile.split("+")[0] in spec.profiles:
        overrides["profile"] = options.profile
    # --role/--pos reach a server that has those options (valor: it dials the POS)
    if options.role is not None:
        overrides["role"] = options.role
    if options.pos is not None:
        overrides["pos"] = options.pos
    return await run(spec, options_for(spec, **overrides),
                     ready=None if ready is None else (lambda info, _started: ready(info)))


def _ready(info: dict[str, object]) -> None:
    # one JSON line on stdout: the vendor's tooling reads the URLs from it
    print(json.dumps({"cardloop": "serving", **info}), flush=True)


def serve_main(options: Options) -> int:
    from protocol_servers.registry import UnknownServer
    from simulator.cli import CliError

    assert options.serve is not None
    try:
        world, registry = asyncio.run(serve(options.serve, options, ready=_ready))
    except (UnknownServer, CliError) as exc:
        print(f"cardloop: {exc.args[0]}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    code = 0
    problem = ""
    try:
        no_full_pan(world.transcript)
    except InvariantViolation as exc:
        problem = str(exc)
        code = int(pytest.ExitCode.TESTS_FAILED)
    if options.reports:
        root = Path(options.reports)
        world.transcript.dump(root / "transcripts" / f"serve_{options.serve}.jsonl")
        (root / "serve.json").write_text(
            json.dumps(
                {
                    "server": options.serve,
                    "seed": options.seed,
                    "urls": registry.urls,
                    "applied": registry.applied,
                    "invariants": "ok" if not problem else problem,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    if problem:
        print(f"cardloop: {problem}", file=sys.stderr)
    return code
