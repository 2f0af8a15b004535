"""The one-way rule of smartflow's layout (ARCHITECTURE.md), checked over the source with `ast`.

Every import counts, at the top of a module or inside a function: an import deferred to keep
`smartflow --help` fast must still point down, so a late import can never hide a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "smartflow"

# Lowest first. A module may import its own package and any package of a lower rank, never one
# of its own rank or above. The interfaces (cli, web, bitrix24, http, scenarios) stand on the services layer
# alone; http composes the API, the board (web) and the Bitrix24 facade (bitrix24), so it stands one rank
# above them.
RANKS: dict[str, int] = {
    "records": -2,  # `record`, the dataclass decorator every layer uses: standard library only
    "i18n": -1,  # the message type and catalogues, beneath errors (which carry messages): standard library only
    "errors": 0, "db": 0, "grid": 0,
    "definitions": 1,
    "compile": 2,
    "deploy": 3, "runtime": 3,
    "automation": 4, "data": 4, "analytics": 4,
    "services": 5,
    "scenarios": 6,
    "cli": 7, "web": 7, "bitrix24": 7,
    "http": 8,  # the HTTP application mounts the web board (smartflow.web) beside the API
    "__init__": 9, "__main__": 9,
}
# What an interface may import besides its own package: the services, the errors, the version.
INTERFACE_IMPORTS: dict[str, set[str]] = {
    "cli": {"services", "errors", "scenarios", "cli", "records"},
    "scenarios": {"services", "errors", "definitions", "scenarios", "records"},
    "http": {"services", "errors", "i18n", "http", "web", "bitrix24", "records"},
    "bitrix24": {"services", "errors", "bitrix24", "records"},
    "web": {"services", "errors", "i18n", "web", "records"},
}


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p) for p in SOURCES} | {"smartflow.__version__"}


def _imports(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every import of a smartflow module in the file, however deep in it."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("smartflow")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("smartflow"):
                # `from smartflow.http import routes`: the name may be a module of its own
                found += [(node.lineno, f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module)
                          for alias in node.names]
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"




def test_every_top_level_module_and_package_has_a_rank() -> None:
    tops = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in SOURCES}
    assert tops <= set(RANKS), f"give these a rank in RANKS and ARCHITECTURE.md: {sorted(tops - set(RANKS))}"


def _violations(path: Path, name: str) -> list[str]:
    here = _top(name)
    wrong = []
    for line, module in _imports(path, name):
        there = _top(module)
        if module == "smartflow.__version__" or there == here:
            continue
        if RANKS.get(there, 99) >= RANKS[here]:
            wrong.append(f"{path.name}:{line} imports {module} ({there} is not below {here})")
        elif here in INTERFACE_IMPORTS and there not in INTERFACE_IMPORTS[here]:
            wrong.append(f"{path.name}:{line} imports {module}: {here} goes through the services layer")
    return wrong


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_down(path: Path) -> None:
    wrong = _violations(path, _module_name(path))
    assert not wrong, "\n".join(wrong)


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every loop a depth-first walk of the graph meets, as the path that closes it."""
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                circles.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return circles


def test_no_circle_between_modules() -> None:
    """Inside a package too: files that import each other in a loop, even through a late import."""
    graph: dict[str, set[str]] = {}
    names = MODULES
    for path in SOURCES:
        targets = set()
        for _, module in _imports(path):
            while module and module not in names:
                module = module.rpartition(".")[0]
            if module and module != _module_name(path):
                targets.add(module)
        graph[_module_name(path)] = targets
    # a package's __init__ that imports its own modules is how a package shows its face: not a loop
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}

    circles = _circles(graph)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_the_rule_is_checked_on_bad_imports(tmp_path: Path) -> None:
    """The checker itself: a late import up from the runtime, and a CLI reaching past the services."""
    probe = tmp_path / "probe.py"
    probe.write_text("def late():\n    from smartflow.automation import triggers\n", "utf-8")
    assert _violations(probe, "smartflow.runtime.probe") == [
        "probe.py:2 imports smartflow.automation.triggers (automation is not below runtime)"]
    probe.write_text("from smartflow.runtime import query\nfrom ..services import Engine\n", "utf-8")
    assert _violations(probe, "smartflow.cli.probe") == [
        "probe.py:1 imports smartflow.runtime.query: cli goes through the services layer"]
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _circles({"a": {"b"}, "b": set()}) == []
