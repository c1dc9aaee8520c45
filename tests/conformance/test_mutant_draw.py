"""The mutation sample stays put when unrelated code or cases change."""

from __future__ import annotations

from conformance.mutants.plan import Mutant, draw


def _mutants(lines: list[str]) -> list[Mutant]:
    return [Mutant("pkg", "a.py", "core/AddNot", i, i + 1, text, 0)
            for i, text in enumerate(lines)]


def test_a_new_site_elsewhere_leaves_the_rest_of_the_draw_alone():
    base = [f"if x == {i}:" for i in range(200)]
    before = {m.text for m in draw(_mutants(base), 20, seed=7)}
    # a function added at the top shifts every line and occurrence number
    grown = ["if fresh:", "while busy:"] + base
    after = {m.text for m in draw(_mutants(grown), 20, seed=7)}
    assert len(before & after) >= 18


def test_seeds_draw_different_samples_and_the_same_seed_the_same_one():
    base = _mutants([f"y = {i}" for i in range(300)])
    assert draw(base, 20, seed=1) == draw(base, 20, seed=1)
    assert {m.text for m in draw(base, 20, seed=1)} != {m.text for m in draw(base, 20, seed=2)}
    assert len(draw(base, None, seed=1)) == 300


def test_every_listed_equivalent_names_a_line_that_exists_once_in_the_list():
    import tomllib
    from pathlib import Path

    from conformance.mutants.plan import EQUIVALENTS, load_plan

    root = Path(__file__).resolve().parents[2]
    doc = tomllib.loads(EQUIVALENTS.read_text())
    assert all(set(e) == {"file", "operator", "line", "mutated", "why"} and e["why"].strip()
               for e in doc["equivalent"])
    plan = load_plan(root)
    keys = [(e.file, e.operator, e.line, e.mutated) for e in plan.equivalents]
    assert len(keys) == len(set(keys)), "an equivalent is listed twice"
    stale = [e for e in plan.equivalents
             if e.line not in {s.strip() for s in (root / e.file).read_text().splitlines()}]
    assert not stale, f"equivalents whose line is gone: {[(e.file, e.line) for e in stale]}"
