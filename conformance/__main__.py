"""``python -m conformance [pytest args]``: the whole suite with every report.

Runs pytest over ``conformance/cases`` with the cardloop plugin and writes, under
``reports/`` (or ``--reports DIR``): ``summary.json``, ``matrix.html``,
``junit.xml``, ``allure-results/`` and ``transcripts/``. Exits non-zero when any
case fails (pytest's exit status; a run that collects no case is an error too).

``-n auto`` (pytest-xdist) spreads the cases over the machine's cores and writes the
same reports; ``--shard I/N`` runs a stable share of the cases, and
``python -m conformance merge DIR... --reports OUT`` joins the shards' reports.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CASES = Path(__file__).resolve().parent / "cases"


HELP_FLAGS = ("-h", "--help")
# runs that only show something: they get no report options, so nothing is written
SHOW_ONLY = (*HELP_FLAGS, "--list-cases", "--cardloop-list-cases", "--collect-only", "--co")


def build_args(argv: Sequence[str]) -> tuple[list[str], Path]:
    """pytest's arguments for a suite run, and the reports directory."""
    args = list(argv)
    reports = Path("reports")
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--reports" and i + 1 < len(args):
            reports = Path(args[i + 1])
            i += 2
            continue
        if a.startswith("--reports="):
            reports = Path(a.split("=", 1)[1])
        elif a == "--strict":
            # pytest 9 owns --strict (its own strictness switches); the suite's meaning
            # is "non-strict verdicts fail"
            out.append("--cardloop-strict")
        else:
            out.append(a)
        i += 1
    has_path = any(not a.startswith("-") and Path(a.split("::")[0]).exists() for a in out)
    writes = [
        f"--cardloop-reports={reports}",
        f"--junitxml={reports / 'junit.xml'}",
        # cleaned by main() before the run, not by allure-pytest: under pytest-xdist
        # every worker would clean it, and a late one would delete an early one's files
        f"--alluredir={reports / 'allure-results'}",
    ]
    if any(a in SHOW_ONLY for a in out):
        writes = []
    pytest_args = [
        "-p", "no:cacheprovider",
        "-o", "console_output_style=classic",
        *writes,
        "-rfE",
        # this module imports the package before pytest loads it as a plugin
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        # pyemv/psec still call 3DES through its old import path; not the suite's news
        "-W", "ignore::cryptography.utils.CryptographyDeprecationWarning",
        *out,
    ]
    if not has_path:
        pytest_args.append(str(CASES))
    return pytest_args, reports


def cardloop_help() -> str:
    """The suite's own options (the plugin's group and this command's), for ``--help``."""
    import argparse

    from conformance.options import add_options

    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        usage="%(prog)s [cardloop options] [pytest options] [paths]",
        description="The cardloop conformance suite: every case cites a section of its "
        "protocol's page (conformance/sections/). Reports go to reports/ (or --reports).",
        add_help=False,
    )
    own = parser.add_argument_group("this command")
    own.add_argument("--reports", metavar="DIR",
                     help="write summary.json, matrix.html, junit.xml, allure-results/ and "
                     "transcripts/ here (default reports)")
    own.add_argument("--strict", action="store_true",
                     help="non-strict verdicts count as failures")

    class _Group:
        def __init__(self, group: Any) -> None:
            self.group = group

        def addoption(self, *names: str, **kwargs: Any) -> None:
            self.group.add_argument(*names, **kwargs)

    class _Parser:
        def getgroup(self, name: str, description: str = "") -> _Group:
            return _Group(parser.add_argument_group(description or name))

    add_options(_Parser())  # type: ignore[arg-type]
    return parser.format_help() + "\npytest's own options follow.\n"


def main(argv: Sequence[str] | None = None) -> int:
    import shutil

    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        from conformance.merge import main as merge_main

        return merge_main(argv[1:])
    args, reports = build_args(argv)
    if any(a in HELP_FLAGS for a in argv):
        print(cardloop_help(), flush=True)
        return int(pytest.main(["-p", "no:cacheprovider", "--help"]))
    if not any(a in SHOW_ONLY for a in argv):
        for stale in (reports / "transcripts", reports / "allure-results"):
            if stale.exists():
                shutil.rmtree(stale)  # a report must only hold and link this run's files
    code = int(pytest.main(args))
    if code == int(pytest.ExitCode.NO_TESTS_COLLECTED):
        print("conformance: no case was collected", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
