"""The package's shape: no import cycle inside overfit_core (counting imports inside functions), one layer order."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "overfit_core"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """overfit_core modules that `path` imports, anywhere in it (module level, functions, methods)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("overfit_core")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith("overfit_core"):
                continue
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}  # `from . import imdb` imports a module
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        edges[name] = {m for m in imports(path) if m in modules and m != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def without_package_inits(edges):
    """A package __init__ re-exports its modules, which import from it: that is not a cycle of concerns."""
    return {m: {t for t in ts if not (m.startswith(t + ".") and t != "overfit_core")} for m, ts in edges.items()}


def test_no_import_cycle_inside_overfit_core():
    edges = without_package_inits(graph())
    edges = {m: ts - {"overfit_core"} for m, ts in edges.items()}  # the top-level package only re-exports
    found = cycles(edges)
    assert not found, "import cycles (imports inside functions count): " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_sees_imports_inside_functions():
    edges = {"overfit_core.a": {"overfit_core.b"}, "overfit_core.b": {"overfit_core.c"},
             "overfit_core.c": {"overfit_core.a"}, "overfit_core.d": set()}
    assert cycles(edges) == [["overfit_core.a", "overfit_core.b", "overfit_core.c"]]
    found = imports(PACKAGE / "cases.py")
    assert "overfit_core.checks" in found and "overfit_core.runner" in found  # the latter only inside a method


# Layers, bottom to top: a module may import only from its own layer or below (docs/architecture.md).
LAYERS = [
    {"overfit_core.errors", "overfit_core.preprocessing", "overfit_core.compat", "overfit_core.known_failures",
     "overfit_core.verdicts", "overfit_core.progress", "overfit_core.stats"},
    {"overfit_core.config", "overfit_core.datasets", "overfit_core.datasets._common", "overfit_core.datasets.imdb",
     "overfit_core.datasets.fashion_mnist", "overfit_core.datasets.boston"},
    {"overfit_core.variants", "overfit_core.settings", "overfit_core.defaults"},
    {"overfit_core.records"},
    {"overfit_core.strategies", "overfit_core.training"},
    {"overfit_core.parallel", "overfit_core.runner", "overfit_core.checks", "overfit_core.bench",
     "overfit_core.bundle"},
    {"overfit_core.cases", "overfit_core.effects"},
    {"overfit_core.report", "overfit_core.distribute", "overfit_core.ci", "overfit_core.faults", "overfit_core.cluster",
     "overfit_core._faults_site", "overfit_core._faults_site.sitecustomize", "overfit_core.repro"},
    {"overfit_core.html_report", "overfit_core.compare", "overfit_core.matrix"},
    {"overfit_core.bisect"},
    {"overfit_core.cli", "overfit_core.pytest_plugin", "overfit_core"},
    {"overfit_core.__main__"},
]


def test_modules_import_only_downwards():
    level = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    edges = graph()
    unplaced = sorted(set(edges) - set(level))
    assert not unplaced, f"place these modules in LAYERS (and docs/architecture.md): {unplaced}"
    upward = [f"{m} ({level[m]}) -> {t} ({level[t]})" for m, ts in edges.items() for t in ts
              if level[t] > level[m] and not m.startswith(t + ".")]
    assert not upward, "imports against the layer order: " + "; ".join(sorted(upward))


@pytest.mark.parametrize("helper,home", [("def atomic_write", "records.py"), ("def positive_int", "errors.py")])
def test_shared_helpers_exist_once(helper, home):
    owners = [p.name for p in PACKAGE.rglob("*.py") if helper + "(" in p.read_text(encoding="utf-8")]
    assert owners == [home]
