"""Which cases a mutant runs: the ones that executed its line in the clean run.

A tiny package is written to a temporary tree, a clean run's coverage is made up for it,
and each kind of line (a function body, a default argument, a constant read in a
function, a constant read at import, a class body) must map to the cases that can see a
change there, and the whole stage when nothing narrower is safe.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from conformance.mutants.cover import StageCoverage, judges
from conformance.mutants.run import narrowed

MODULE = textwrap.dedent('''\
    LIMIT = 160
    TABLE = {LIMIT: "x"}


    def check(n, width=3):
        if n > LIMIT:
            return "too long"
        return "ok"


    def other():
        return 1
''')
READER = textwrap.dedent('''\
    from pkg.mod import LIMIT


    def also(n):
        return n == LIMIT
''')


def _stage() -> StageCoverage:
    cov = StageCoverage({"a": 2.0, "b": 0.5, "c": 1.0, "d": 3.0})
    cov.lines = {
        "pkg/mod.py": {6: {"a", "b"}, 7: {"a"}, 8: {"b"}, 12: {"c"}},
        "pkg/reader.py": {5: {"d"}},
    }
    return cov


def _tree(tmp_path: Path) -> tuple[Path, list[str]]:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(MODULE)
    (tmp_path / "pkg" / "reader.py").write_text(READER)
    return tmp_path, ["pkg/mod.py", "pkg/reader.py"]


def test_a_body_line_is_judged_by_the_cases_that_ran_it_quickest_first(tmp_path: Path) -> None:
    root, measured = _tree(tmp_path)
    found = judges(_stage(), root, "pkg/mod.py", 6, measured)
    assert (found.cases, found.every) == (["b", "a"], False)


def test_a_line_no_case_ran_has_no_judge(tmp_path: Path) -> None:
    root, measured = _tree(tmp_path)
    assert judges(_stage(), root, "pkg/mod.py", 12, measured).cases == ["c"]
    assert judges(StageCoverage({}), root, "pkg/mod.py", 7, measured).cases == []


def test_a_default_argument_is_judged_by_the_cases_that_ran_the_function(
        tmp_path: Path) -> None:
    root, measured = _tree(tmp_path)
    found = judges(_stage(), root, "pkg/mod.py", 5, measured)
    assert sorted(found.cases) == ["a", "b"] and not found.every


def test_a_constant_read_at_import_needs_the_whole_stage(tmp_path: Path) -> None:
    root, measured = _tree(tmp_path)
    # LIMIT is read by TABLE at import time: no case context can say who depends on it
    assert judges(_stage(), root, "pkg/mod.py", 1, measured).every


def test_a_constant_read_only_in_functions_is_judged_by_their_cases(tmp_path: Path) -> None:
    root, measured = _tree(tmp_path)
    (root / "pkg" / "mod.py").write_text(MODULE.replace('TABLE = {LIMIT: "x"}', "TABLE = {}"))
    from conformance.mutants import cover

    cover._tree.cache_clear()
    found = judges(_stage(), root, "pkg/mod.py", 1, measured)
    # read in check() (line 6: a, b) and in reader.also() (line 5: d)
    assert sorted(found.cases) == ["a", "b", "d"] and not found.every


def test_narrowed_keeps_the_options_and_collects_only_the_chosen_files() -> None:
    stage = ("conformance/cases/p3/test_a.py", "conformance/cases/p3/test_b.py",
             "-k", "not tcp", "--protocol", "p3", "--examples", "25")
    cases = ["conformance/cases/p3/test_b.py::test_x[ws]", "conformance/cases/p3/test_b.py::y"]
    assert narrowed(stage, cases) == ("-k", "not tcp", "--protocol", "p3", "--examples", "25",
                                      "conformance/cases/p3/test_b.py")


def test_a_body_that_ran_only_at_import_is_judged_by_every_case(tmp_path: Path) -> None:
    # ``other`` stands for a registering decorator's inner function: it ran while the
    # modules were imported, in no case, and what it built serves every case
    root, measured = _tree(tmp_path)
    stage = _stage()
    stage.lines["pkg/mod.py"][12] = set()
    stage.imported = {"pkg/mod.py": {12}}
    found = judges(stage, root, "pkg/mod.py", 12, measured)
    assert found.every and found.why == "ran at import"
    # a body line no case ran and nothing ran at import still has no judge
    stage.imported = {}
    found = judges(stage, root, "pkg/mod.py", 12, measured)
    assert (found.cases, found.every) == ([], False)


def test_a_continuation_line_is_judged_by_the_cases_that_ran_its_statement(
        tmp_path: Path) -> None:
    # ``and b`` on its own line records nothing when ``a`` short-circuits the condition
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "cond.py").write_text(textwrap.dedent('''\
        def f(a, b):
            if (a
                    and b):
                return 1
            return 0
    '''))
    stage = StageCoverage({"x": 1.0, "y": 2.0})
    stage.lines = {"pkg/cond.py": {2: {"x", "y"}, 3: {"y"}, 4: {"y"}, 5: {"x"}}}
    found = judges(stage, tmp_path, "pkg/cond.py", 3, ["pkg/cond.py"])
    assert (found.cases, found.every) == (["x", "y"], False)
