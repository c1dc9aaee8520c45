"""Which cases can judge a mutant: those that executed its line in the clean run.

The clean run records, per case, the lines of the mutated files it executed (Coverage.py
dynamic contexts, see ``select.py``). A mutant in a function body is judged by the cases
that ran that line; a case that never reaches the line cannot see the change. Lines that
run when a module is imported (constants, decorators, default arguments, class bodies)
belong to no case, so they are traced to where their value is used:

* a default argument or a decorator: the cases that ran the function's body;
* a name bound at module or class level (a constant, a dataclass field's default): the
  cases that ran any line of the package that reads that name;
* anything else: every case of the stage (the safe answer).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from coverage import CoverageData


@dataclass
class StageCoverage:
    """The clean run of one stage: who ran which line, and how long each case took."""

    durations: dict[str, float]
    # file (relative to the tree, posix) -> line -> node ids of the cases that ran it
    lines: dict[str, dict[int, set[str]]] = field(default_factory=dict)
    # file -> lines that ran outside every case: while the modules were imported (a
    # registering decorator's inner function, a table built by a helper at import)
    imported: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path, tree: Path) -> StageCoverage:
        """Read a clean run made in ``tree``; files are kept relative to it, so that a
        mutant run in another worker's copy finds them."""
        durations = json.loads((directory / "durations.json").read_text())
        data = CoverageData(basename=str(directory / "coverage"))
        data.read()
        out = cls(durations)
        root = tree.resolve()
        for path in data.measured_files():
            try:
                rel = Path(path).resolve().relative_to(root).as_posix()
            except ValueError:
                continue
            by_line = data.contexts_by_lineno(path)
            out.lines[rel] = {n: {c for c in ctx if c} for n, ctx in by_line.items()}
            out.imported[rel] = {n for n, ctx in by_line.items() if "" in ctx}
        return out

    def cases_at(self, rel: str, lines: set[int]) -> set[str]:
        by_line = self.lines.get(rel, {})
        found: set[str] = set()
        for n in lines:
            found |= by_line.get(n, set())
        return found

    def ordered(self, cases: set[str]) -> list[str]:
        """Quickest first: a killed mutant is found as early as possible."""
        return sorted(cases, key=lambda c: (self.durations.get(c, 0.0), c))

    def seconds(self, cases: list[str]) -> float:
        return sum(self.durations.get(c, 0.0) for c in cases)


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def measured_files(root: Path, files: list[str]) -> list[str]:
    """What the clean run measures for a package: every module in the directories of
    its mutated files (where a constant or a field may be read), and the suite itself."""
    dirs = sorted({Path(f).parent.as_posix() for f in files} | {"conformance"})
    out: list[str] = []
    for d in dirs:
        out.extend(p.relative_to(root).as_posix() for p in sorted((root / d).rglob("*.py")))
    return out


def _function_body(tree: ast.Module, line: int) -> set[int] | None:
    """The body's lines when ``line`` is in a def's signature or decorators."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        body_start = node.body[0].lineno
        if first <= line < body_start:
            return set(range(body_start, (node.end_lineno or body_start) + 1))
    return None


def _in_function_body(tree: ast.Module, line: int) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                and node.body[0].lineno <= line <= (node.end_lineno or node.lineno):
            return True
    return False


def _statement_start(tree: ast.Module, line: int) -> int:
    """The first line of the innermost statement that holds ``line``.

    Coverage.py records the lines whose code ran; the continuation line of a condition
    that short-circuited (``if a\n        and b:`` with ``a`` false) records nothing, yet a
    mutant there is seen by every case that evaluated the statement.
    """
    best = line
    span = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
            size = (node.end_lineno or node.lineno) - node.lineno
            if span is None or size < span:
                best, span = node.lineno, size
    return best


def _bound_names(tree: ast.Module, line: int) -> set[str]:
    """Names bound by the module- or class-level statement that holds ``line``."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            end = stmt.end_lineno or stmt.lineno
            if not stmt.lineno <= line <= end:
                continue
            if isinstance(stmt, ast.ClassDef):
                visit(stmt.body)
            elif isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                names.add(stmt.target.id)

    visit(tree.body)
    return names


def _readers(root: Path, paths: list[str], names: set[str]) -> dict[str, set[int]]:
    """Lines in ``paths`` that read one of ``names`` (as a name or an attribute)."""
    out: dict[str, set[int]] = {}
    for path in paths:
        for node in ast.walk(_tree(root / path)):
            if (isinstance(node, ast.Name) and node.id in names
                    and isinstance(node.ctx, ast.Load)) or \
                    (isinstance(node, ast.Attribute) and node.attr in names):
                out.setdefault(path, set()).add(node.lineno)
            elif isinstance(node, ast.keyword) and node.arg in names:
                out.setdefault(path, set()).add(node.value.lineno)
    return out


@dataclass
class Judges:
    """The cases chosen for one mutant in one stage; ``every`` means the whole stage."""

    cases: list[str]
    every: bool = False
    why: str = ""


def judges(stage: StageCoverage, root: Path, rel: str, line: int,
           measured: list[str]) -> Judges:
    """The cases of ``stage`` that can see a mutant of line ``line`` of ``rel``."""
    tree = _tree(root / rel)
    if _in_function_body(tree, line):
        ran = stage.cases_at(rel, {line, _statement_start(tree, line)})
        if not ran and line in stage.imported.get(rel, set()):
            # a function body that only ran while the modules were imported: what it
            # built (a handler table, say) is used by every case
            return Judges([], every=True, why="ran at import")
        return Judges(stage.ordered(ran), why="ran the line")
    body = _function_body(tree, line)
    if body is not None:
        return Judges(stage.ordered(stage.cases_at(rel, body)), why="ran the function")
    names = _bound_names(tree, line)
    readers = _readers(root, measured, names) if names else {}
    import_time = any(not _in_function_body(_tree(root / p), n)
                      for p, lines in readers.items() for n in lines)
    if readers and not import_time:
        found: set[str] = set()
        for p, lines in readers.items():
            found |= stage.cases_at(p, lines)
        return Judges(stage.ordered(found), why="read " + ", ".join(sorted(names)))
    # read at import time too (a table built from it), or read nowhere we can see
    return Judges([], every=True, why="import-time code")
