"""``python -m conformance.mutants``: the kill rate of the conformance suite per package.

Sampled mode (the default) draws ``sample`` mutants per package with ``--seed``;
``--full`` runs every mutant. A clean run of each stage under Coverage.py first records
which case executes which line; each mutant then runs only the cases that execute its
line, quickest first, stopping at the first that fails (``cover.py``).

Prints one line per mutant as it finishes, then the table
(package | killed / non-equivalent | rate), the equivalent mutants with their reasons
and every survivor (file:line, the line before and after). Writes the same as JSON to
``reports/mutants.json``. Exits 1 when a package's rate is under ``--fail-under``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from conformance.mutants.cover import StageCoverage, judges, measured_files
from conformance.mutants.plan import (
    Equivalent,
    Mutation,
    Package,
    enumerate_mutants,
    equivalent_of,
    load_plan,
    ranked,
    realise,
)
from conformance.mutants.run import Outcome, Step, baseline, prepare, run_all

ROOT = Path.cwd()
DEFAULT_SEED = 20261206


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m conformance.mutants", description=__doc__)
    p.add_argument("--full", action="store_true", help="every mutant, not a sample")
    p.add_argument("--sample", type=int, help="mutants drawn per package (default: the "
                   "package's own number in packages.toml)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--package", action="append", help="only this package; repeatable")
    p.add_argument("--file", action="append", help="only mutants of files whose path "
                   "contains this text; repeatable (to study one module's survivors)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--list", action="store_true", help="list the drawn mutants and stop")
    p.add_argument("--fail-under", type=float, default=90.0, help="percent per package")
    p.add_argument("--reports", type=Path, default=Path("reports"))
    return p.parse_args(argv)


def describe(m: Mutation) -> str:
    return f"{m.mutant.file}:{m.mutant.line}  [{m.mutant.operator.removeprefix('core/')}]  " \
           f"{m.before}  ->  {m.after}"


def _cpu_seconds() -> float:
    """CPU time of this process and of every finished child (the case runs)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def steps_for(pkg: Package, mutation: Mutation, covered: dict[tuple[str, ...], StageCoverage],
              measured: list[str]) -> list[Step]:
    """Each stage of the mutant's file, narrowed to the cases that can see the mutant."""
    steps: list[Step] = []
    for stage in pkg.stages_for(mutation.mutant.file):
        cov = covered[stage]
        found = judges(cov, ROOT, mutation.mutant.file, mutation.mutant.line, measured)
        # a mutant that hangs is killed: twice the clean cases' time (measured under
        # Coverage.py, which already slows them) and 45 s for start-up leave room for load
        if found.every:
            steps.append(Step(stage, None, 2 * sum(cov.durations.values()) + 45))
        else:
            steps.append(Step(stage, tuple(found.cases), 2 * cov.seconds(found.cases) + 45))
    return steps


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    plan = load_plan(ROOT)
    names = args.package or list(plan.packages)
    unknown = [n for n in names if n not in plan.packages]
    if unknown:
        raise SystemExit(f"mutants: unknown package(s) {unknown}; known: {list(plan.packages)}")

    drawn: dict[str, list[Mutation]] = {}
    equivalents: dict[str, list[tuple[Mutation, Equivalent]]] = {}
    totals: dict[str, int] = {}
    for name in names:
        pkg = plan.packages[name]
        every = enumerate_mutants(plan, pkg)
        if args.file:
            every = [m for m in every if any(part in m.file for part in args.file)]
        totals[name] = len(every)
        size = None if args.full else (args.sample if args.sample is not None else pkg.sample)
        drawn[name], equivalents[name] = [], []
        # walk the seed's order until ``size`` mutants that can change behaviour are
        # drawn: a listed equivalent, or a site the operator cannot rewrite, does not
        # shrink the sample
        order = every if size is None else ranked(every, args.seed)
        for mutant in order:
            if size is not None and len(drawn[name]) >= size:
                break
            mutation = realise(ROOT, mutant)
            if mutation is None:
                continue
            eq = equivalent_of(plan, mutation)
            if eq is not None:
                equivalents[name].append((mutation, eq))
            else:
                drawn[name].append(mutation)
        key = lambda m: (m.mutant.file, m.mutant.line, m.mutant.operator)  # noqa: E731
        drawn[name].sort(key=key)
        print(f"{name}: {totals[name]} mutants, {len(drawn[name]) + len(equivalents[name])} "
              f"drawn (seed {args.seed}), {len(equivalents[name])} listed as equivalent",
              flush=True)
    for starts, why in plan.skip_lines.items():
        print(f"not mutated: lines starting {starts!r}: {why}")
    for name in names:
        for function, why in plan.packages[name].exclude.items():
            print(f"not mutated ({name}): {function}: {why}")
    if args.list:
        for name in names:
            for m in drawn[name]:
                print(f"{name}  {describe(m)}")
            for m, _eq in equivalents[name]:
                print(f"{name}  (equivalent) {describe(m)}")
        return 0

    stages = sorted({s for n in names for m in drawn[n]
                     for s in plan.packages[n].stages_for(m.mutant.file)})
    measured = sorted({f for n in names
                       for f in measured_files(ROOT, list(plan.packages[n].files))})
    work = Path(tempfile.mkdtemp(prefix="cardloop-mutants-"))
    started = time.monotonic()
    cpu_before = _cpu_seconds()
    try:
        trees = prepare(ROOT, work, args.workers)
        covered = baseline(trees, stages, measured, work / "coverage")
        print("clean runs pass (" + ", ".join(
            f"{' '.join(s)}: {len(c.durations)} cases, {sum(c.durations.values()):.0f}s"
            for s, c in covered.items()) + f"); {time.monotonic() - started:.0f}s so far",
            flush=True)
        jobs = [(m, steps_for(plan.packages[n], m, covered, measured))
                for n in names for m in drawn[n]]
        count = [0]

        def report(o: Outcome) -> None:
            count[0] += 1
            chosen = "stage" if o.cases < 0 else f"{o.cases} cases"
            print(f"[{count[0]}/{len(jobs)}] {o.status:8s} {o.seconds:5.0f}s {chosen:>9s}  "
                  f"{describe(o.mutation)}", flush=True)

        outcomes = run_all(trees, jobs, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    cpu = _cpu_seconds() - cpu_before

    print(f"\nmode: {'full' if args.full else 'sampled'}, seed {args.seed}, "
          f"{args.workers} workers, {elapsed / 60:.1f} min wall, {cpu / 60:.1f} min CPU")
    print("| package | killed / non-equivalent | rate |\n|---|---|---|")
    summary: dict[str, dict[str, object]] = {}
    failing = False
    for name in names:
        errors = [o for o in outcomes
                  if o.mutation.mutant.package == name and o.status == "error"]
        mine = [o for o in outcomes
                if o.mutation.mutant.package == name and o.status != "error"]
        failing |= bool(errors)
        killed = sum(o.status != "survived" for o in mine)
        rate = 100.0 * killed / len(mine) if mine else 100.0
        failing |= rate < args.fail_under
        print(f"| {plan.packages[name].title} | {killed} / {len(mine)} | {rate:.0f} % |")
        summary[name] = {
            "mutants": totals[name], "run": len(mine), "killed": killed, "rate": rate,
            "survivors": [describe(o.mutation) + ("" if o.cases else "  (no case runs it)")
                          for o in mine if o.status == "survived"],
            "equivalent": [{"mutant": describe(m), "why": e.why}
                           for m, e in equivalents[name]],
            "errors": [describe(o.mutation) for o in errors],
        }
    for name in names:
        if equivalents[name]:
            print(f"\nequivalent ({name}, not counted):")
            for m, e in equivalents[name]:
                print(f"  {describe(m)}\n      why: {e.why}")
    for name in names:
        faults = summary[name]["errors"]
        assert isinstance(faults, list)
        if faults:
            print(f"\nNOT RUN ({name}: the case run itself failed, usage or nothing collected; "
                  "not counted):")
            for line in faults:
                print(f"  {line}")
    for name in names:
        survivors = summary[name]["survivors"]
        assert isinstance(survivors, list)
        if survivors:
            print(f"\nsurvivors ({name}):")
            for line in survivors:
                print(f"  {line}")
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "mutants.json").write_text(json.dumps(
        {"seed": args.seed, "full": args.full, "minutes": round(elapsed / 60, 1),
         "cpu_minutes": round(cpu / 60, 1), "packages": summary}, indent=2))
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
