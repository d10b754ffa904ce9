"""Imports follow the layers, read from the source with ``ast`` (nothing is imported).

cli -> flows -> tasks -> snapcal_core, and deployments -> flows; inside snapcal_core the
instrument, calibrant, io and data subpackages lie below recipe, recipe below report and storage,
and the bottom modules (constants, errors, models, settings) import no subpackage. Imports inside
functions count: a lazy import is still a dependency. No cycle between snapcal_core's
subpackages, and none between any two modules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("snapcal_core", "flows", "tasks", "cli", "deployments")
#: Top-level names each package must not import (a layer above it, or the orchestration library).
FORBIDDEN_TOP = {
    "snapcal_core": {"prefect", "flows", "tasks", "cli", "deployments"},
    "tasks": {"flows", "cli", "deployments"},
    "flows": {"cli", "deployments"},
    "deployments": {"cli"},
}
#: snapcal_core subpackages (or modules) each group of them must not import.
FORBIDDEN_INSIDE = {
    ("instrument", "calibrant", "io", "data"): {"recipe", "report", "storage", "pipeline", "preflight", "watch",
                                                "simulate", "cli"},
    ("recipe",): {"report", "storage", "pipeline", "preflight", "watch", "simulate", "cli"},
    ("constants", "errors", "models", "settings"): {"instrument", "calibrant", "io", "data", "recipe", "report",
                                                   "storage", "pipeline", "preflight", "watch", "simulate", "cli",
                                                   "scratch"},
}
#: Violations someone is removing now: (importing module, imported module prefix) -> who/why.
#: Empty when the tree is clean; an entry here turns its test into an xfail naming it.
KNOWN: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module (or ``module.name``) the file imports, absolute, with its line."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else node.module
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _edges() -> list[tuple[str, str, str]]:
    """(importing module, imported name, "path:line") for every import of the five packages."""
    edges = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = _module_name(path)
            edges += [(source, target, f"{path.relative_to(ROOT)}:{line}") for target, line in _imports(path)]
    return edges


EDGES = _edges()
MODULES = {source for source, _, _ in EDGES}


def _report(violations: list[tuple[str, str, str]], what: str) -> None:
    """Fail listing the violations; xfail instead when every one of them is in :data:`KNOWN`."""
    if not violations:
        return
    shortest: dict[tuple[str, str], str] = {}  # ``from m import a, b`` is one line: name m
    for source, target, where in violations:
        shortest[where, source] = min(shortest.get((where, source), target), target, key=len)
    lines = "\n".join(f"{where}: {source} imports {target}" for (where, source), target in sorted(shortest.items()))
    owners = {next((why for (module, prefix), why in KNOWN.items()
                    if module == source and (target == prefix or target.startswith(prefix + "."))), None)
              for source, target, _ in violations}
    if None in owners:
        pytest.fail(f"{what}:\n{lines}")
    pytest.xfail(f"{what}, being removed ({'; '.join(sorted(owners))}):\n{lines}")


def _sub(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "snapcal_core" and len(parts) > 1 else None


def test_no_package_imports_a_layer_above_it():
    bad = [(s, t, w) for s, t, w in EDGES if t.split(".")[0] in FORBIDDEN_TOP.get(s.split(".")[0], ())]
    _report(bad, "imports against cli -> flows -> tasks -> snapcal_core (deployments -> flows)")


@pytest.mark.parametrize("group", list(FORBIDDEN_INSIDE), ids="+".join)
def test_snapcal_core_subpackages_do_not_import_the_steps_above_them(group):
    above = FORBIDDEN_INSIDE[group]
    bad = [(s, t, w) for s, t, w in EDGES if _sub(s) in group and _sub(t) in above]
    _report(bad, f"snapcal_core {'/'.join(group)} import{'s' if len(group) == 1 else ''} a step above")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_snapcal_core_subpackages_have_no_import_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for s, t, _ in EDGES:
        if _sub(s) and _sub(t) and _sub(s) != _sub(t):
            graph[_sub(s)].add(_sub(t))
    bad = [(s, t, w) for cycle in _cycles(graph) for s, t, w in EDGES
           if _sub(s) in cycle and _sub(t) in cycle and _sub(s) != _sub(t)]
    _report(bad, f"import cycles between snapcal_core subpackages {_cycles(graph)}")


def _resolve(name: str) -> str | None:
    """The module an imported name lives in (``pkg.mod.Name`` -> ``pkg.mod``), if it is ours."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_modules_have_no_import_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    for s, t, _ in EDGES:
        target = _resolve(t)
        if target and target != s and not s.startswith(target + "."):  # a package's own __init__ is no cycle
            graph[s].add(target)
    cycles = _cycles(graph)
    bad = [(s, t, w) for cycle in cycles for s, t, w in EDGES
           if s in cycle and _resolve(t) in cycle and _resolve(t) != s]
    _report(bad, f"import cycles between modules {cycles}")


def test_the_checks_see_the_packages_and_their_imports():
    """The parser finds the layers it checks (a moved package or a broken walk would pass silently)."""
    assert {"snapcal_core.recipe.calibrate", "snapcal_core.calibrant.peaks", "flows.events"} <= MODULES
    assert any(s == "snapcal_core.recipe.peakfit" and t == "snapcal_core.calibrant.types.PredictedPeak"
               for s, t, _ in EDGES)
