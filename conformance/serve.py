"""``--serve NAME``: run the client-under-test role instead of collecting cases.

The reference server and its virtual devices wait for the vendor's POS; the
vendor's tests drive scenarios through the control API (:mod:`conformance.control`)
and end the run with ``POST /shutdown``. The run's transcript is then checked
against the invariants that do not need our own client (no card number in clear)
and written with the control log to the reports directory.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from conformance.control import ControlError, serve
from conformance.invariants import InvariantViolation, no_full_pan
from conformance.options import Options


def _ready(info: dict[str, object]) -> None:
    # one JSON line on stdout: the vendor's tooling reads the URLs from it
    print(json.dumps({"cardloop": "serving", **info}), flush=True)


def serve_main(options: Options) -> int:
    assert options.serve is not None
    try:
        world, registry = asyncio.run(serve(options.serve, options, ready=_ready))
    except ControlError as exc:
        print(f"cardloop: {exc}", file=sys.stderr)
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
