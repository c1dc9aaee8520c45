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

CASES = Path(__file__).resolve().parent / "cases"


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
    pytest_args = [
        "-p", "no:cacheprovider",
        "-o", "console_output_style=classic",
        f"--cardloop-reports={reports}",
        f"--junitxml={reports / 'junit.xml'}",
        # cleaned by main() before the run, not by allure-pytest: under pytest-xdist
        # every worker would clean it, and a late one would delete an early one's files
        f"--alluredir={reports / 'allure-results'}",
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


def main(argv: Sequence[str] | None = None) -> int:
    import shutil

    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        from conformance.merge import main as merge_main

        return merge_main(argv[1:])
    args, reports = build_args(argv)
    stale = [reports / "transcripts"]
    if not {"--collect-only", "--co"} & set(argv):
        stale.append(reports / "allure-results")  # as allure-pytest's own clean does
    for path in stale:
        if path.exists():
            shutil.rmtree(path)  # a report must only hold and link this run's files
    code = int(pytest.main(args))
    if code == int(pytest.ExitCode.NO_TESTS_COLLECTED):
        print("conformance: no case was collected", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
