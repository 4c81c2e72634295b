"""The shape the code keeps (issue 13): no import cycle between first-party modules,
no first-party import hidden in a function, no mutable state at module level.

``lint-imports`` (run by ``scripts/test``) checks the layers between packages; this
checks what it cannot: import-linter, like grimp, ignores that importing ``a.b``
first runs ``a/__init__.py``, which is where most runtime cycles hide.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "consult",
    "runtime",
    "accounts",
    "caldav_server",
    "plugins",
    "booking",
    "directory",
    "moderation",
    "notifications",
    "payments",
    "reviews",
    "insights",
    "sync",
    "video",
    "web",
)
# Annotations that promise nobody changes the value (mypy holds code to them).
READ_ONLY_TYPES = ("Mapping", "Sequence", "frozenset", "tuple", "Final", "AbstractSet")
FROZEN_WRAPPERS = {"MappingProxyType", "frozenset", "tuple"}
MUTABLE_CALLS = {"dict", "list", "set", "OrderedDict", "defaultdict", "deque", "Counter"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = _modules()


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


def _resolve(name: str) -> str | None:
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


class _Imports(ast.NodeVisitor):
    """First-party imports of one module, outside ``if TYPE_CHECKING:`` blocks."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.found: list[Import] = []
        self._depth = 0

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _add(self, name: str, line: int) -> None:
        if name.split(".")[0] not in PACKAGES:
            return
        target = _resolve(name)
        if target is None or target == self.module:
            return
        self.found.append(Import(self.module, target, line, self._depth > 0))
        # Importing a.b.c runs a/__init__ and a/b/__init__ first.
        parts = target.split(".")
        for end in range(1, len(parts)):
            parent = ".".join(parts[:end])
            if parent in MODULES and not self.module.startswith(parent + "."):
                self.found.append(Import(self.module, parent, line, self._depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            if not self.is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        for alias in node.names:
            full = f"{prefix}.{alias.name}"
            self._add(full if full in MODULES else prefix, node.lineno)


def _imports() -> list[Import]:
    found: list[Import] = []
    for module, path in MODULES.items():
        visitor = _Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text()))
        found.extend(visitor.found)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(MODULES):
        if node not in index:
            visit(node)
    return components


def test_no_first_party_import_is_hidden_in_a_function() -> None:
    hidden = [f"{i.source}:{i.line} imports {i.target}" for i in _imports() if i.in_function]
    assert hidden == [], "a function-local import that dodges a cycle is a cycle"


def test_no_module_is_in_an_import_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for found in _imports():
        graph[found.source].add(found.target)
    assert _cycles(graph) == []


def test_no_package_imports_another_that_imports_it_back() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for found in _imports():
        source, target = found.source.split(".")[0], found.target.split(".")[0]
        if source != target:
            packages[source].add(target)
    both_ways = sorted(
        (a, b) for a in packages for b in packages[a] if a < b and a in packages.get(b, ())
    )
    assert both_ways == []


def _module_level_state() -> Iterator[str]:
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign):
                targets, value, annotation = node.targets, node.value, None
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value, annotation = [node.target], node.value, node.annotation
            else:
                continue
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if names == ["__all__"]:
                continue
            if annotation is not None and ast.unparse(annotation).startswith(READ_ONLY_TYPES):
                continue
            call = value.func if isinstance(value, ast.Call) else None
            called = getattr(call, "id", None) or getattr(call, "attr", None)
            if called in FROZEN_WRAPPERS:
                continue
            literal = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
            if isinstance(value, literal) or called in MUTABLE_CALLS:
                yield f"{module}:{node.lineno} {', '.join(names)}"
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                yield f"{module}:{node.lineno} global {', '.join(node.names)}"


def test_no_mutable_state_at_module_level() -> None:
    """No registry lists, "current X" slots or ``_installed`` flags: two apps in one
    process must share nothing (tests/runtime/test_two_apps.py proves they do not).
    Constant tables are fine when frozen or typed read-only."""
    assert list(_module_level_state()) == []


def _private_imports() -> Iterator[str]:
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            first_party = node.level > 0 or (node.module or "").split(".")[0] in PACKAGES
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if first_party and private:
                    yield f"{module}:{node.lineno} imports {node.module}.{alias.name}"


def test_no_private_name_is_imported_from_another_module() -> None:
    """A leading underscore means "only this module relies on it": a helper another
    module needs is part of its owner's interface and gets a public name."""
    assert list(_private_imports()) == []
