"""Which mutants exist, which are equivalent, and which a sampled run draws.

Sans-I/O apart from reading the sources and the two TOML files: the enumeration walks
each module's syntax tree once with every chosen Cosmic Ray operator, the way
``cosmic-ray init`` does, and names every mutant by file, operator and occurrence.
"""

from __future__ import annotations

import ast
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import mutate_code
from cosmic_ray.plugins import get_operator

HERE = Path(__file__).resolve().parent
PACKAGES = HERE / "packages.toml"
EQUIVALENTS = HERE / "equivalents.toml"


@dataclass(frozen=True)
class Package:
    name: str
    title: str
    files: tuple[str, ...]
    stages: tuple[tuple[str, ...], ...]
    sample: int
    # "file::function" -> why that function is not the server's behaviour
    exclude: dict[str, str] = field(default_factory=dict)
    # file -> its own stages, when it needs more (or fewer) cases than the package's
    stages_by_file: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def stages_for(self, file: str) -> tuple[tuple[str, ...], ...]:
        return self.stages_by_file.get(file, self.stages)


@dataclass(frozen=True)
class Mutant:
    """One mutation: ``occurrence`` counts the operator's sites in the file."""

    package: str
    file: str
    operator: str
    occurrence: int
    line: int
    # the source line as written (stripped): with ``nth`` it names the mutant in a way
    # that edits elsewhere in the file do not change, which is what the draw ranks by
    text: str = ""
    nth: int = 0

    @property
    def key(self) -> str:
        return f"{self.file}:{self.operator}:{self.occurrence}"


@dataclass
class Mutation:
    """A mutant's source, and the changed line before and after."""

    mutant: Mutant
    source: str
    before: str
    after: str


@dataclass(frozen=True)
class Equivalent:
    file: str
    operator: str
    line: str
    mutated: str
    why: str


@dataclass
class Plan:
    root: Path
    packages: dict[str, Package]
    operators: tuple[str, ...]
    equivalents: list[Equivalent] = field(default_factory=list)
    # source lines (stripped) that start like these are not mutated: pattern -> why
    skip_lines: dict[str, str] = field(default_factory=dict)


def load_plan(root: Path) -> Plan:
    doc = tomllib.loads(PACKAGES.read_text())
    packages = {
        name: Package(
            name=name,
            title=str(t.get("title", name)),
            files=tuple(t["files"]),
            stages=tuple(tuple(s) for s in t["stages"]),
            sample=int(t.get("sample", 20)),
            exclude={e["function"]: e["why"] for e in t.get("exclude", [])},
            stages_by_file={f: tuple(tuple(s) for s in st)
                            for f, st in t.get("stages_by_file", {}).items()},
        )
        for name, t in doc["packages"].items()
    }
    eq = tomllib.loads(EQUIVALENTS.read_text()).get("equivalent", [])
    equivalents = [
        Equivalent(e["file"], e["operator"], e["line"].strip(), e["mutated"].strip(), e["why"])
        for e in eq
    ]
    skip = {e["starts"]: e["why"] for e in doc["operators"].get("skip_lines", [])}
    return Plan(root, packages, tuple(doc["operators"]["include"]), equivalents, skip)


def _excluded_lines(source: str, name: str, exclude: dict[str, str]) -> set[int]:
    """The lines of the functions (or classes) the package excludes in this file."""
    wanted = {key.split("::", 1)[1] for key in exclude if key.split("::", 1)[0] == name}
    lines: set[int] = set()
    if not wanted:
        return lines
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) \
                and node.name in wanted:
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def enumerate_mutants(plan: Plan, package: Package) -> list[Mutant]:
    """Every mutant of the package's files, in a stable order (exclusions left out)."""
    out: list[Mutant] = []
    for rel in package.files:
        for path in sorted(plan.root.glob(rel)):
            source = path.read_text(encoding="utf-8")
            tree = get_ast(source)
            nodes = list(ast_nodes(tree))
            name = path.relative_to(plan.root).as_posix()
            skip = _excluded_lines(source, name, package.exclude)
            for i, text in enumerate(source.splitlines(), start=1):
                if text.strip().startswith(tuple(plan.skip_lines)):
                    skip.add(i)
            lines = source.splitlines()
            for op_name in plan.operators:
                op = get_operator(op_name)()
                occurrence = 0
                seen: dict[str, int] = {}
                for node in nodes:
                    for start, _end in op.mutation_positions(node):
                        text = lines[start[0] - 1].strip() if start[0] <= len(lines) else ""
                        nth = seen.get(text, 0)
                        seen[text] = nth + 1
                        if start[0] not in skip:
                            out.append(Mutant(package.name, name, op_name, occurrence,
                                              start[0], text, nth))
                        occurrence += 1
    return out


def _rank(mutant: Mutant, seed: int) -> bytes:
    name = f"{seed}|{mutant.file}|{mutant.operator}|{mutant.text}|{mutant.nth}"
    return hashlib.sha256(name.encode()).digest()


def ranked(mutants: list[Mutant], seed: int) -> list[Mutant]:
    """The mutants in the seed's draw order.

    Each mutant is ranked by a hash of the seed and its name (file, operator, the line
    as written and which of that line's sites it is). A mutant's rank does not depend
    on the others, so an edit to one function, or a new case, leaves the rest of the
    draw as it was and runs stay comparable.
    """
    return sorted(mutants, key=lambda m: _rank(m, seed))


def draw(mutants: list[Mutant], size: int | None, seed: int) -> list[Mutant]:
    """The first ``size`` mutants of the seed's order (all of them when ``size`` is None)."""
    chosen = list(mutants) if size is None else ranked(mutants, seed)[:size]
    return sorted(chosen, key=lambda m: (m.file, m.line, m.operator, m.occurrence))


def realise(root: Path, mutant: Mutant) -> Mutation | None:
    """The mutated source of one mutant, or None when the operator finds no site."""
    original = (root / mutant.file).read_text(encoding="utf-8")
    try:
        mutated = mutate_code(original, get_operator(mutant.operator)(), mutant.occurrence)
    except (AttributeError, IndexError, TypeError):
        # an operator that finds a site it cannot rewrite (Cosmic Ray's exception
        # replacer on some ``except`` forms): no mutant to run
        mutated = None
    if mutated is None:
        return None
    before = original.splitlines()
    after = mutated.splitlines()
    i = mutant.line - 1
    return Mutation(
        mutant,
        mutated,
        before[i].strip() if i < len(before) else "",
        after[i].strip() if i < len(after) else "",
    )


def equivalent_of(plan: Plan, mutation: Mutation) -> Equivalent | None:
    for e in plan.equivalents:
        if (e.file == mutation.mutant.file and e.operator == mutation.mutant.operator
                and e.line == mutation.before and e.mutated == mutation.after):
            return e
    return None
