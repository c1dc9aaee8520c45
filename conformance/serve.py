"""``--serve NAME``: run the client-under-test role instead of collecting cases.

The reference server and its virtual devices wait for the vendor's POS; the
vendor's tests drive scenarios through the control API (:mod:`simulator.control`)
and end the run with ``POST /shutdown`` (or Ctrl-C). The server is found by name (or
alias) in the one list of servers (:mod:`protocol_servers.registry`) and run by
:func:`protocol_servers.serving.serve`, as ``cardloop serve`` runs it.

When the run ends the POS is graded: each server that grades its clients hands its
observations over (``Started.observations``, :mod:`protocol_servers.grading`), one per
rule with a case id of the suite's form, and the transcript is checked against the
invariants that do not need our own client (no card number in clear). The grades go
into the reports the suite writes, in the same shapes: ``summary.json``, the matrix,
``junit.xml``, and ``serve.json`` (URLs, what the control API applied, the grades).
A grade the POS failed fails the run.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conformance.invariants import InvariantViolation, no_full_pan
from conformance.options import Options
from conformance.registry import CaseInfo, parse_case_id
from conformance.results import CaseResult
from conformance.verdict import Verdict

if TYPE_CHECKING:
    from protocol_servers.contract import Started
    from protocol_servers.grading import Observation
    from simulator.control import ControlRegistry
    from simulator.world import World

# the server's words -> the suite's verdicts ("not seen": nothing to grade)
VERDICTS = {"pass": Verdict.PASS, "fail": Verdict.FAIL, "not seen": Verdict.INFORMATIONAL,
            "informational": Verdict.INFORMATIONAL, "non-strict": Verdict.NON_STRICT}


@dataclass
class Served:
    """What a run of the role leaves: the world (its transcript), what the control API
    applied, and the server's grades of the POS taken once the run ended."""

    world: World
    registry: ControlRegistry
    observations: list[Observation] = field(default_factory=list)


async def serve(
    name: str, options: Options, *, ready: Callable[[dict[str, Any]], None] | None = None,
    control_port: int = 0, stop: asyncio.Event | None = None,
) -> Served:
    """Run reference server ``name`` with its control API until ``POST /shutdown`` (or
    ``stop`` is set), then collect its grades of the POS.

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
    started: list[Started] = []

    def told(info: dict[str, Any], server: Started) -> None:
        started.append(server)
        if ready is not None:
            ready(info)

    world, registry = await run(spec, options_for(spec, **overrides), ready=told, stop=stop)
    grade = started[0].observations if started else None
    return Served(world, registry, list(grade()) if grade is not None else [])


def results_of(observations: list[Observation], transcript: str | None = None
               ) -> list[CaseResult]:
    """The grades as the suite's case results (what the report writers take)."""
    out = []
    for o in observations:
        protocol, section, number = parse_case_id(o.case)
        verdict = VERDICTS.get(o.verdict, Verdict.FAIL)
        out.append(CaseResult(
            info=CaseInfo(o.case, o.title, section, o.failure, protocol, number),
            nodeid=f"serve::{o.case}", verdict=verdict, message=o.seen,
            transcript=transcript,
            outcome="failed" if verdict is Verdict.FAIL else "passed"))
    return out


def junit_xml(server: str, results: list[CaseResult]) -> str:
    """JUnit XML of the grades, as pytest's ``--junitxml`` writes for the cases."""
    failures = sum(r.verdict is Verdict.FAIL for r in results)
    skipped = sum(r.verdict is Verdict.INFORMATIONAL for r in results)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", name=f"cardloop-serve-{server}",
                          tests=str(len(results)), failures=str(failures), errors="0",
                          skipped=str(skipped))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"serve.{r.info.protocol}",
                             name=f"{r.info.id} {r.info.title}", time="0")
        ET.SubElement(case, "properties").append(
            ET.Element("property", name="verdict", value=r.verdict.value))
        if r.verdict is Verdict.FAIL:
            ET.SubElement(case, "failure", message=r.message[:500]).text = r.message
        elif r.verdict is Verdict.INFORMATIONAL:
            ET.SubElement(case, "skipped", message=r.message[:500])
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(root: Path, options: Options, served: Served, problem: str,
                  exit_status: int) -> None:
    from conformance.reports import write_reports as write_suite_reports

    assert options.serve is not None
    root.mkdir(parents=True, exist_ok=True)
    transcript = f"transcripts/serve_{options.serve}.jsonl"
    served.world.transcript.dump(root / transcript)
    results = results_of(served.observations)
    (root / "serve.json").write_text(
        json.dumps(
            {
                "server": options.serve,
                "seed": options.seed,
                "urls": served.registry.urls,
                "applied": served.registry.applied,
                "invariants": "ok" if not problem else problem,
                "transcript": transcript,
                "grades": [o.to_json() for o in served.observations],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    (root / "junit.xml").write_text(junit_xml(options.serve, results), encoding="utf-8")
    write_suite_reports(root, results, options, exit_status=exit_status)


def _ready(info: dict[str, object]) -> None:
    # one JSON line on stdout: the vendor's tooling reads the URLs from it
    print(json.dumps({"cardloop": "serving", **info}), flush=True)


async def _until_stopped(options: Options) -> Served:
    # Ctrl-C (or a TERM from the vendor's tooling) ends the run as POST /shutdown does,
    # so the grades are written either way
    assert options.serve is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await serve(options.serve, options, ready=_ready, stop=stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def serve_main(options: Options) -> int:
    import warnings

    from protocol_servers.registry import UnknownServer
    from simulator.cli import CliError

    assert options.serve is not None
    # the EMV libraries build two-key TDES through cryptography's moved class; harmless
    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    try:
        served = asyncio.run(_until_stopped(options))
    except (UnknownServer, CliError) as exc:
        print(f"cardloop: {exc.args[0]}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    code = 0
    problem = ""
    try:
        no_full_pan(served.world.transcript)
    except InvariantViolation as exc:
        problem = str(exc)
        code = int(pytest.ExitCode.TESTS_FAILED)
    failed = [o for o in served.observations if VERDICTS.get(o.verdict) is Verdict.FAIL]
    if failed:
        code = int(pytest.ExitCode.TESTS_FAILED)
    if options.reports:
        write_reports(Path(options.reports), options, served, problem, code)
    if problem:
        print(f"cardloop: {problem}", file=sys.stderr)
    for o in failed:
        print(f"cardloop: {o.case} failed: {o.title}: {o.seen}", file=sys.stderr)
    return code
