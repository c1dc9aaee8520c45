"""The pytest plugin (entry point ``pytest11: cardloop``).

Loaded by every pytest run of a project that installs cardloop, so it stays cheap:
options and a marker at start-up, fixtures that import the world lazily, and report
files only when a reports directory is asked for (``--cardloop-reports DIR``, which
``python -m conformance`` always passes).

What it adds to pytest:

* options (:mod:`conformance.options`) and the shared fixtures ``world``,
  ``verdict``, ``case_transcript``, ``cardloop_options`` and the device fixtures
  ``card``, ``reader``, ``cardholder``, ``acquirer`` (:mod:`conformance.fixtures`);
* duplicate case ids stop the run at collection; ``--protocol`` selects;
* graded verdicts (:mod:`conformance.verdict`), ``--strict``;
* Hypothesis cases run with the seed and budget of the run and print the one
  command that replays a failure; ``--replay BLOB`` replays it;
* each case's transcript attached to the report (Allure steps, JUnit properties,
  ``summary.json``, the HTML matrix).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Generator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from conformance.options import Options, add_options, get_options
from conformance.registry import MARK_NAME, CaseIdError, CaseInfo, case_of, check_duplicates
from conformance.results import CaseResult, safe_name
from conformance.verdict import Unimplemented, Verdict, VerdictRecorder, decide

pytest_plugins = ["conformance.fixtures"]

RESULTS = pytest.StashKey[dict[str, CaseResult]]()  # graded here, by node id
FINAL = pytest.StashKey[dict[str, CaseResult]]()  # as reported (see Collector)
WORLD = pytest.StashKey[Any]()
RECORDER = pytest.StashKey[VerdictRecorder]()
_BLOB = re.compile(r"@reproduce_failure\('([^']+)', b'([^']*)'\)")
MAX_STEPS = 400  # allure steps per case; a byte-level transcript can be far longer


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARK_NAME}(info): a conformance case (set by conformance.case, not by hand)",
    )
    from conformance.fixtures import MARKERS

    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.stash[RESULTS] = {}
    config.stash[FINAL] = {}
    _CONFIG[:] = [config]
    config.pluginmanager.register(Collector(config), "cardloop-collector")


class Collector:
    """Gathers each case's record from its teardown report, in the process that reports.

    A serial run and a pytest-xdist run take the same path: the worker (or the only
    process) grades the case and puts the record on the report; whoever logs the
    report (the controller under xdist) keeps it. Reports are therefore the same
    whether one process ran the cases or several did.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "cardloop_result", None)
        if report.when == "teardown" and isinstance(data, dict):
            self.config.stash[FINAL][report.nodeid] = CaseResult.from_wire(data)


def is_worker(config: pytest.Config) -> bool:
    """True in a pytest-xdist worker, which leaves the report files to the controller."""
    return hasattr(config, "workerinput")


def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--serve NAME`` runs the client-under-test role instead of the cases."""
    options = get_options(config)
    if options.serve is None:
        return None
    from conformance.serve import serve_main

    return serve_main(options)


# -- collection ---------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    try:
        # first, before -k/-m deselect anything: a duplicate is an error in any run
        check_duplicates(items)
    except CaseIdError as exc:
        raise pytest.UsageError(str(exc)) from None
    options = get_options(config)
    if options.protocols or options.cases:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            (keep if _selected(case_of(item), options) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    if options.shard is not None:
        _keep_shard(config, items, *options.shard)
    for item in items:
        info = case_of(item)
        if info is not None:
            # ``-k abecs/4.2/1`` finds the case by its id (pytest matches substrings)
            item.extra_keyword_matches.add(info.id)
            _tune_hypothesis(item, options.seed, options.examples, options.replay)


def shard_key(item: pytest.Item) -> str:
    """What decides an item's shard: its case id and parameters, else its node id.

    Not the node id of a case, which holds the path as seen from the rootdir: machines
    that check the suite out in different places must still split it the same way.
    """
    info = case_of(item)
    if info is None:
        return item.nodeid
    callspec = getattr(item, "callspec", None)
    return info.id + (f"[{callspec.id}]" if callspec is not None else "")


def shard_of(key: str, count: int) -> int:
    """The 1-based shard of ``key`` among ``count``: a hash, so stable across runs."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def _keep_shard(config: pytest.Config, items: list[pytest.Item], index: int, count: int) -> None:
    keep = [item for item in items if shard_of(shard_key(item), count) == index]
    if len(keep) != len(items):
        kept = set(map(id, keep))
        config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
        items[:] = keep


def _selected(info: CaseInfo | None, options: Options) -> bool:
    """``--protocol`` and ``--case`` (globs) both hold; ordinary tests are kept."""
    if info is None:
        return True
    if options.protocols and info.protocol not in options.protocols:
        return False
    return not options.cases or any(fnmatchcase(info.id, pat) for pat in options.cases)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    """``--list-cases``: one line per selected case (id, section, title) instead of a run."""
    if not get_options(session.config).list_cases:
        return None
    seen: dict[str, CaseInfo] = {}
    for item in session.items:
        info = case_of(item)
        if info is not None:
            seen.setdefault(info.id, info)
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    write = tr.write_line if tr is not None else print
    write("")
    for info in sorted(seen.values(), key=lambda i: i.sort_key):
        write(f"{info.id:<18} §{info.section:<8} {info.title}")
    write(f"{len(seen)} cases")
    return True


def _tune_hypothesis(item: pytest.Item, seed: int, examples: int, replay: str | None) -> None:
    """Run a Hypothesis case on the run's seed and budget, printing a replay blob.

    The example database is off: a conformance run must depend on its seed only,
    not on what an earlier run happened to find on this machine.
    """
    func = getattr(item, "obj", None)
    if func is None or not getattr(func, "is_hypothesis_test", False):
        return
    from hypothesis import HealthCheck, settings

    parent = getattr(func, "_hypothesis_internal_use_settings", None) or settings.default
    if parent is None:
        parent = settings()
    func._hypothesis_internal_use_settings = settings(
        parent,
        max_examples=examples,
        print_blob=True,
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=[
            *parent.suppress_health_check, HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,  # the world is fresh per example anyway
        ],
    )
    func._hypothesis_internal_use_seed = seed
    if replay:
        import hypothesis

        blob = replay[2:-1] if replay.startswith("b'") else replay
        func._hypothesis_internal_use_reproduce_failure = (hypothesis.__version__, blob.encode())


def _fresh_world_per_example(item: pytest.Item) -> Any:
    """Give every Hypothesis example of a case its own world.

    pytest makes the ``world`` fixture once per test, but Hypothesis calls the test
    many times; a shared world would carry one example's clock, processes and
    transcript into the next, and a replayed example (which runs alone) could then
    behave differently. Hypothesis reads ``inner_test`` at call time, so wrapping it
    here swaps in a fresh world, same seed, before each example. Components the case
    builds from its ``world`` argument follow; other fixtures keep the first world.
    """
    func = getattr(item, "obj", None)
    handle = getattr(func, "hypothesis", None)
    if handle is None or "world" not in getattr(item, "fixturenames", ()):
        return None
    inner = handle.inner_test
    options = get_options(item.config)

    def per_example(*args: Any, **kwargs: Any) -> Any:
        if "world" in kwargs:
            from simulator.world import World

            fresh = World(seed=options.seed, mode=options.mode,  # type: ignore[arg-type]
                          factor=options.factor)
            item.stash[WORLD] = fresh
            kwargs["world"] = fresh
            if "case_transcript" in kwargs:
                kwargs["case_transcript"] = fresh.transcript
        return inner(*args, **kwargs)

    handle.inner_test = per_example

    def restore() -> None:
        handle.inner_test = inner

    return restore


# -- running ------------------------------------------------------------------------
def recorder_for(item: pytest.Item) -> VerdictRecorder:
    rec = item.stash.get(RECORDER, None)
    if rec is None:
        rec = VerdictRecorder()
        item.stash[RECORDER] = rec
    return rec


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    restore = _fresh_world_per_example(item) if case_of(item) is not None else None
    try:
        yield
    finally:
        if restore is not None:
            restore()
    if case_of(item) is None:
        return
    # still inside the test for Allure: attach steps and the transcript here
    world = item.stash.get(WORLD, None)
    _allure_attach(item, world)


# innermost wrapper: other plugins' wrappers (Allure's) see the graded report
@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    info = case_of(item)
    if info is None:
        return
    report.cardloop_case_id = info.id  # type: ignore[attr-defined]  # for the JUnit name
    options = get_options(item.config)
    results = item.config.stash[RESULTS]
    result = results.get(item.nodeid)
    if result is None:
        result = CaseResult(info=info, nodeid=item.nodeid)
        results[item.nodeid] = result
    result.duration_s += report.duration
    rec = item.stash.get(RECORDER, None)
    _mask_report(report, item, call)

    if report.when == "call" or (report.when == "setup" and not report.passed):
        unimpl = call.excinfo is not None and call.excinfo.errisinstance(Unimplemented)
        verdict = decide(report.outcome, rec, strict=options.strict, unimplemented=unimpl)
        if verdict is Verdict.FAIL and report.passed:
            # --strict: a deviation from the document is a failure of the run
            report.outcome = "failed"
            report.longrepr = "strict mode: non-strict behaviour is a failure: " + "; ".join(
                rec.of_kind(Verdict.NON_STRICT) if rec else []
            )
        result.verdict = verdict
        result.outcome = report.outcome
        report.cardloop_verdict = verdict.value  # type: ignore[attr-defined]
        result.message = _message(report, rec)
        if verdict is Verdict.FAIL:
            result.replay = _replay_command(item, options.seed, report)
    elif report.when == "teardown" and report.failed:
        result.verdict = Verdict.FAIL
        result.outcome = "failed"
        result.message = (result.message + "\n" if result.message else "") + _text(report)
        result.replay = result.replay or _replay_command(item, options.seed, report)

    if report.when == "teardown":
        if rec is not None:
            result.notes = [{"kind": n.kind.value, "text": n.text} for n in rec.notes]
        world = item.stash.get(WORLD, None)
        if world is not None and options.reports:
            result.transcript = _dump_transcript(Path(options.reports), result, world)
        # the whole record rides on the teardown report: with pytest-xdist the
        # controller builds the reports from what the workers send (see Collector)
        report.cardloop_result = result.to_wire()  # type: ignore[attr-defined]
        # JUnit XML takes properties from the teardown report
        report.user_properties.append(("cardloop_case", info.id))
        report.user_properties.append(("cardloop_section", info.section))
        report.user_properties.append(("cardloop_verdict", result.verdict.value))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """JUnit test names start with the case id (``abecs/4.2/1 test_gin[0]``), so a CI
    page shows which section failed; set before the JUnit writer reads the report."""
    case_id = getattr(report, "cardloop_case_id", None)
    xml = _junit_writer(report)
    if case_id is None or xml is None:
        return
    name = report.nodeid.split("::")[-1]
    xml.node_reporter(report).add_attribute("name", f"{case_id} {name}")


_CONFIG: list[pytest.Config] = []  # the run's config (a report does not carry it)


def _junit_writer(report: pytest.TestReport) -> Any:
    """The writer pytest's ``--junitxml`` registered, if this run has one."""
    if not _CONFIG:
        return None
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - a pytest without it: plain names
        return None
    return _CONFIG[0].stash.get(xml_key, None)


def _mask_report(report: pytest.TestReport, item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """Card numbers out of what pytest, JUnit and Allure will print for a case.

    An assertion that compares messages quotes them; a case's captured output may
    echo a frame. Both are masked here, before any reporter sees them (this wrapper
    runs innermost), with the run's known secrets when the case had a world.
    """
    from simulator.masking import mask_text

    world = item.stash.get(WORLD, None)
    redact = world.redactor.text if world is not None else mask_text
    if report.longrepr is not None and not report.passed:
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            path, line, msg = report.longrepr
            report.longrepr = (path, line, redact(str(msg)))
        else:
            text = _text(report)
            masked = redact(text)
            if masked != text:
                report.longrepr = masked
    report.sections = [(title, redact(body)) for title, body in report.sections]
    # Allure reads the exception itself: its message and notes (Hypothesis puts the
    # falsifying example there)
    exc = call.excinfo.value if call.excinfo is not None else None
    if isinstance(exc, BaseException):
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        notes = getattr(exc, "__notes__", None)
        if isinstance(notes, list):
            exc.__notes__ = [redact(n) if isinstance(n, str) else n for n in notes]


_STATUS = {
    Verdict.NON_STRICT.value: ("N", "NON-STRICT"),
    Verdict.INFORMATIONAL.value: ("I", "INFORMATIONAL"),
    Verdict.UNIMPLEMENTED.value: ("U", "UNIMPLEMENTED"),
}


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    """Show graded verdicts in pytest's progress line, in pytest's own categories
    (so counts and exit codes stay pytest's)."""
    verdict = getattr(report, "cardloop_verdict", None)
    if report.when != "call" or verdict not in _STATUS:
        return None
    letter, word = _STATUS[verdict]
    return report.outcome, letter, word


def _text(report: pytest.TestReport) -> str:
    try:
        return str(report.longreprtext)
    except Exception:  # noqa: BLE001 - a report without text is still a report
        return str(report.longrepr or "")


def _message(report: pytest.TestReport, rec: VerdictRecorder | None) -> str:
    if report.failed:
        text = _text(report)
        lines = [ln for ln in text.splitlines() if ln.startswith("E ")]
        return "\n".join(lines[:20]) if lines else text[-2000:]
    if report.skipped:
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            return str(longrepr[2]).removeprefix("Skipped: ").removeprefix("Unimplemented: ")
        return _text(report)
    if rec is not None and rec.notes:
        return "; ".join(f"{n.kind.value}: {n.text}" for n in rec.notes)
    return ""


def _replay_command(item: pytest.Item, seed: int, report: pytest.TestReport) -> str:
    """The one command that reproduces this failure in virtual mode."""
    # the item's name with its parameters selects exactly this run (-k matches
    # names with brackets, dots and dashes)
    name = item.name
    parts = ["python", "-m", "conformance", "-k", name, "--seed", str(seed)]
    opts = get_options(item.config)
    if opts.profile:
        parts += ["--profile", opts.profile]
    if opts.strict:
        parts.append("--strict")
    m = _BLOB.search(_text(report))
    if m:
        parts += ["--replay", m.group(2)]
    return shlex.join(parts)


def _dump_transcript(root: Path, result: CaseResult, world: Any) -> str:
    name = safe_name(result.info.id)
    if result.param:
        name += "__" + safe_name(result.param)
    rel = Path("transcripts") / f"{name}.jsonl"
    world.transcript.dump(root / rel)
    return rel.as_posix()


def _allure_attach(item: pytest.Item, world: Any) -> None:
    """One Allure step per message, and the masked transcript as an attachment."""
    if not item.config.pluginmanager.hasplugin("allure_pytest"):
        return
    if getattr(item.config.option, "allure_report_dir", None) is None:
        return
    import allure

    info = case_of(item)
    assert info is not None
    allure.dynamic.title(f"{info.id} {info.title}")
    allure.dynamic.label("cardloop_case", info.id)
    allure.dynamic.feature(info.protocol)
    allure.dynamic.story(f"§{info.section}")
    if info.failure:
        allure.dynamic.description(f"A failure means: {info.failure}")
    rec = item.stash.get(RECORDER, None)
    if rec is not None:
        for text in rec.steps:
            with allure.step(text):
                pass
        for kind in sorted({n.kind.value for n in rec.notes}):
            allure.dynamic.tag(kind)  # non-strict / informational show in Allure's filters
        for n in rec.notes:
            with allure.step(f"{n.kind.value}: {n.text}"):
                pass
    if world is None:
        return
    from conformance.invariants import preview

    entries = list(world.transcript)
    for e in entries[:MAX_STEPS]:
        label = e.label or (f"{len(e.hex) // 2} bytes {preview(e.hex)}" if e.hex else "")
        with allure.step(f"[{e.sim:.6f}] {e.port} {e.direction}: {label}"[:300]):
            pass
    if len(entries) > MAX_STEPS:
        with allure.step(f"... {len(entries) - MAX_STEPS} more entries in the transcript"):
            pass
    allure.attach(
        world.transcript.jsonl(),
        name="transcript.jsonl",
        attachment_type=allure.attachment_type.TEXT,
    )


STARTED = pytest.StashKey[float]()


def pytest_sessionstart(session: pytest.Session) -> None:
    import time

    # wall time of the run, for the report only (the world never reads this clock)
    session.config.stash[STARTED] = time.monotonic()


def _wall_s(config: pytest.Config) -> float | None:
    import time

    started = config.stash.get(STARTED, None)
    return None if started is None else round(time.monotonic() - started, 3)


# -- end of run ---------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    options = get_options(session.config)
    if not options.reports or is_worker(session.config):
        return
    from conformance.reports import write_reports

    write_reports(
        Path(options.reports),
        list(session.config.stash[FINAL].values()),
        options=options,
        wall_s=_wall_s(session.config),
        exit_status=int(exitstatus),
    )


def pytest_terminal_summary(
    terminalreporter: Any, exitstatus: int, config: pytest.Config
) -> None:
    results = list(config.stash.get(FINAL, {}).values())
    if not results:
        return
    from conformance.reports import totals

    results.sort(key=lambda r: (r.info.sort_key, r.nodeid))
    tr = terminalreporter
    tr.section("cardloop conformance")
    t = totals(results)
    wall = _wall_s(config)
    tr.write_line(
        f"{t['cases']} case runs" + (f" in {wall:.1f} s" if wall is not None else "")
        + "; verdicts: "
        + ", ".join(f"{k} {v}" for k, v in t["by_verdict"].items() if v)
    )
    for protocol, row in t["by_protocol"].items():
        counts = ", ".join(f"{k} {v}" for k, v in row.items() if v and k != "total")
        tr.write_line(f"  {protocol}: {row['total']} ({counts})")
    for r in results:
        param = f" [{r.param}]" if r.param else ""
        if r.verdict is Verdict.FAIL:
            tr.write_line(f"FAIL {r.info.id}{param} {r.info.title}")
            if r.info.failure:
                tr.write_line(f"     means: {r.info.failure}")
            if r.replay:
                tr.write_line(f"     replay: {r.replay}")
        elif r.verdict is Verdict.NON_STRICT:
            tr.write_line(f"NON-STRICT {r.info.id}{param}: {r.message}")
