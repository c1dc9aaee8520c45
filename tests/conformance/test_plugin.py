"""The plugin as a vendor meets it: case files run through pytest, verdicts and exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

CASES = """
from conformance import case

@case("demo/1.2/1", title="clean pass", failure="the demo server is broken")
def test_pass(world, verdict):
    world.transcript.event("pos", "sale with 4761739001010010")

@case("demo/1.2/2", title="deviates")
def test_non_strict(world, verdict):
    verdict.non_strict("answers with a lower-case key")

@case("demo/3/1", title="says unsupported")
def test_unimpl(verdict):
    verdict.unimplemented("target has no refunds")
    raise AssertionError("never reached")

@case("demo/3/2", title="only notes")
def test_info(verdict):
    verdict.informational("target sent firmware 1.2")
"""

FAILING = """
from conformance import case

@case("demo/4/1", title="broken", failure="amounts are lost")
def test_broken(world):
    assert 1 + 1 == 3
"""


def _summary(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "rep" / "summary.json").read_text())


def test_verdicts_map_and_run_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest("--cardloop-reports=rep")
    assert result.ret == 0
    verdicts = {c["id"]: c["verdict"] for c in _summary(pytester)["cases"]}
    assert verdicts == {
        "demo/1.2/1": "pass",
        "demo/1.2/2": "non-strict",
        "demo/3/1": "unimplemented",
        "demo/3/2": "informational",
    }
    result.stdout.fnmatch_lines(["*cardloop conformance*", "*NON-STRICT demo/1.2/2*"])
    verbose = pytester.runpytest("-v")
    verbose.stdout.fnmatch_lines([
        "*::test_non_strict NON-STRICT*", "*::test_unimpl UNIMPLEMENTED (Unimplemented: target*",
        "*::test_info INFORMATIONAL*",
    ])


@pytest.mark.parametrize("flag", ["--strict", "--cardloop-strict"])
def test_strict_turns_non_strict_into_fail(pytester: pytest.Pytester, flag: str) -> None:
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest("--cardloop-reports=rep", flag)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    verdicts = {c["id"]: c["verdict"] for c in _summary(pytester)["cases"]}
    assert verdicts["demo/1.2/2"] == "fail"
    assert verdicts["demo/3/1"] == "unimplemented"  # not a failure, strict or not
    result.assert_outcomes(passed=2, failed=1, skipped=1)


def test_failing_case_fails_run_and_prints_replay(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cases=CASES, test_more=FAILING)
    result = pytester.runpytest("--cardloop-reports=rep", "--seed", "7")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "FAIL demo/4/1 broken",
        "*means: amounts are lost",
        "*replay: python -m conformance -k test_broken --seed 7",
    ])
    s = _summary(pytester)
    assert s["passed"] is False
    assert s["totals"]["by_verdict"]["fail"] == 1
    assert s["totals"]["by_protocol"]["demo"]["total"] == 5
    broken = next(c for c in s["cases"] if c["id"] == "demo/4/1")
    assert "assert (1 + 1) == 3" in broken["message"]


def test_duplicate_ids_are_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a='from conformance import case\n\n'
        '@case("demo/1/1", title="a")\ndef test_a(): pass\n',
        test_b='from conformance import case\n\n'
        '@case("demo/1/1", title="b")\ndef test_b(): pass\n',
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*duplicate conformance case id 'demo/1/1'*test_a*test_b*"])
    # selecting one of them does not hide the clash
    assert pytester.runpytest("-k", "test_a").ret == pytest.ExitCode.USAGE_ERROR


def test_parametrised_case_shares_its_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_p='import pytest\nfrom conformance import case\n\n'
        '@case("demo/2/1", title="p")\n@pytest.mark.parametrize("n", [1, 2])\n'
        'def test_p(n, world): world.transcript.event("x", str(n))\n'
    )
    result = pytester.runpytest("--cardloop-reports=rep")
    assert result.ret == 0
    cases = _summary(pytester)["cases"]
    assert [c["param"] for c in cases] == ["1", "2"]
    assert {c["transcript"] for c in cases} == {
        "transcripts/demo_2_1__1.jsonl", "transcripts/demo_2_1__2.jsonl"
    }


@pytest.mark.parametrize(
    "bad", ["'mpos/2.6'", "'MPOS/2.6/1'", "'mpos/2.6/x'", "'mpos/2.6/1', section='2.7'"]
)
def test_malformed_ids_refused(pytester: pytest.Pytester, bad: str) -> None:
    pytester.makepyfile(
        test_x=f'from conformance import case\n\n@case({bad}, title="t")\ndef test_x(): pass\n'
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection error
    result.stdout.fnmatch_lines(["*CaseIdError*"])


def test_protocol_selects_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x='from conformance import case\n\n'
        '@case("mpos/2.6/1", title="m")\ndef test_m(): pass\n\n'
        '@case("abecs/4.2/1", title="a")\ndef test_a(): pass\n\n'
        'def test_plain(): pass\n'
    )
    result = pytester.runpytest("--protocol", "abecs", "--cardloop-reports=rep")
    result.assert_outcomes(passed=2, deselected=1)
    assert [c["id"] for c in _summary(pytester)["cases"]] == ["abecs/4.2/1"]


def test_reports_only_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest()
    assert result.ret == 0
    assert not list(pytester.path.rglob("summary.json"))


def test_transcript_masked_and_matrix_links_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cases=CASES, test_more=FAILING)
    pytester.runpytest("--cardloop-reports=rep", "--junitxml=rep/junit.xml")
    rep = pytester.path / "rep"
    text = (rep / "transcripts" / "demo_1.2_1.jsonl").read_text()
    assert "476173******0010" in text and "4761739001010010" not in text
    matrix = (rep / "matrix.html").read_text()
    assert "href='transcripts/demo_1.2_1.html'" in matrix
    page = (rep / "transcripts" / "demo_1.2_1.html").read_text()
    assert "476173******0010" in page and "4761739001010010" not in page
    assert "data-verdict='pass'" in page and "href='demo_1.2_1.jsonl'" in page
    failed = (rep / "transcripts" / "demo_4_1.html").read_text()
    assert "A failure means: amounts are lost" in failed
    assert "python -m conformance -k test_broken --seed 1" in failed
    assert "data-case='demo/4/1' data-verdict='fail'" in matrix
    # each section's head links to its entry below (no page for "demo": number only)
    assert "<a href='#sec-demo-1.2'>§1.2</a>" in matrix and "id='sec-demo-3'" in matrix
    suite = ET.parse(rep / "junit.xml").getroot()
    props = {
        p.get("value")
        for p in suite.iter("property")
        if p.get("name") == "cardloop_verdict"
    }
    assert props == {"pass", "non-strict", "unimplemented", "informational", "fail"}


def test_world_is_seeded_from_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_s='from conformance import case\n\n'
        '@case("demo/1/1", title="s")\n'
        'def test_s(world):\n'
        '    assert world.seed == 42 and world.mode == "virtual"\n'
        '    world.transcript.event("x", str(world.rng("c").random()))\n'
    )
    pytester.runpytest("--seed", "42", "--cardloop-reports=a").assert_outcomes(passed=1)
    pytester.runpytest("--seed", "42", "--cardloop-reports=b").assert_outcomes(passed=1)
    a = (pytester.path / "a/transcripts/demo_1_1.jsonl").read_bytes()
    b = (pytester.path / "b/transcripts/demo_1_1.jsonl").read_bytes()
    assert a == b and a


def test_target_option_parsed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_t='from conformance import case\n'
        'from conformance.options import target_url\n\n'
        '@case("demo/1/1", title="t")\n'
        'def test_t(request, cardloop_options, world):\n'
        '    assert target_url(request.config, "mpos") == "ws://127.0.0.1:2000/mpos"\n'
        '    assert cardloop_options.targets == {"mpos": "ws://127.0.0.1:2000/mpos",'
        ' "p3": "tcp://127.0.0.1:8081"}\n'
        '    assert world.mode == "realtime"\n'
    )
    result = pytester.runpytest(
        "--target", "mpos=ws://127.0.0.1:2000/mpos", "--target", "p3=tcp://127.0.0.1:8081"
    )
    result.assert_outcomes(passed=1)
    bad = pytester.runpytest("--target", "nourl")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_realtime_mode_reaches_the_world(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_rt='import asyncio\nfrom conformance import case\n\n'
        '@case("demo/1/1", title="rt")\n'
        'def test_rt(world):\n'
        '    assert world.mode == "realtime" and world.factor == 0.01\n'
        '    asyncio.run(world.run_realtime(until=world.timeout(2.0)))\n'
        '    assert world.now == 2.0\n'
    )
    result = pytester.runpytest("--mode", "realtime", "--factor", "0.01")
    result.assert_outcomes(passed=1)


def test_failure_text_and_output_are_masked_everywhere(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_leak='from conformance import case\n\n'
        '@case("demo/1/1", title="leak")\n'
        'def test_leak(world):\n'
        '    frame = "{\\"pan\\": \\"4761739001010010\\"}"\n'
        '    print("got", frame)\n'
        '    assert frame == "{}"\n'
    )
    result = pytester.runpytest("--cardloop-reports=rep", "--junitxml=rep/junit.xml",
                                "-rA", "--alluredir=rep/allure")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "476173******0010" in out
    for text in (out, *(p.read_text() for p in (pytester.path / "rep").rglob("*")
                        if p.is_file())):
        assert "4761739001010010" not in text


def test_collection_error_fails_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cases=CASES, test_broken="import nothing_here_at_all\n")
    result = pytester.runpytest("--cardloop-reports=rep")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    s = _summary(pytester)
    assert s["passed"] is False and s["exit_status"] == 2


def test_transcript_page_names_control_bytes_and_shows_messages_as_text() -> None:
    from conformance.registry import CaseInfo
    from conformance.reports import render_transcript
    from conformance.results import CaseResult

    lines = [
        {"seq": 0, "sim": 0.0, "port": "host", "dir": "tx", "hex": "18", "label": ""},
        {"seq": 1, "sim": 0.1, "port": "pinpad", "dir": "tx", "hex": "04", "label": "EOT"},
        {"seq": 2, "sim": 0.2, "port": "pos", "dir": "tx",
         "hex": "7b227265 71756573 745f7479 7065223a 377d", "label": "status"},
        {"seq": 3, "sim": 0.3, "port": "card", "dir": "rx",
         "hex": "00a40400 07a00000 00031010", "label": "SELECT"},
    ]
    jsonl = "".join(json.dumps(d) + "\n" for d in lines)
    info = CaseInfo("demo/1/1", "a case", "1", "", "demo", 1)
    page = render_transcript(CaseResult(info, "x::y"), jsonl)
    rows = page.split("<tr class=")[1:]
    assert "<td>&lt;CAN&gt;</td>" in rows[0]  # no label: the byte is named, not blank
    assert "<code class='text'>&lt;EOT&gt;</code>" in rows[1]
    assert "<code class='text'>{&quot;request_type&quot;:7}</code>" in rows[2]  # readable
    assert "7b227265 71756573" in rows[2]  # and the hex beside it
    assert "class='text'" not in rows[3] and "00a40400 07a00000 00031010" in rows[3]
