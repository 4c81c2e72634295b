"""The scheduling core stays pure (booking/core/README.md): no core module imports,
directly or through other first-party modules, a framework, a database driver or
anything that does I/O. Checked on the source, so an import inside a function counts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "booking" / "core"
FORBIDDEN = frozenset(
    {
        "flask", "sqlalchemy", "radicale", "redis", "rq", "requests", "httpx", "urllib",
        "socket", "smtplib", "subprocess", "sqlite3", "psycopg", "caldav", "aiortc",
        "stripe", "caldav_server", "accounts", "notifications", "payments", "sync",
        "video", "web", "runtime", "plugins", "directory",
    }
)  # fmt: skip
# First-party modules outside the core that the core may use: both pure themselves.
ALLOWED_OUTSIDE = frozenset({"booking.errors", "consult.bounds"})


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _module_path(name: str) -> Path | None:
    for candidate in (
        ROOT / (name.replace(".", "/") + ".py"),
        ROOT / name.replace(".", "/") / "__init__.py",
    ):
        if candidate.exists():
            return candidate
    return None


def _reachable(path: Path) -> set[str]:
    """Every module name imported from ``path``, following first-party modules."""
    seen: set[str] = set()
    todo = list(_imported(path))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        inner = _module_path(name)
        if inner is not None:
            todo.extend(_imported(inner))
    return seen


CORE_MODULES = sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_nothing_impure(path: Path) -> None:
    reached = _reachable(path)
    bad = sorted(name for name in reached if name.split(".")[0] in FORBIDDEN)
    assert bad == [], f"{path.name} reaches {bad}"
    first_party_outside = sorted(
        name
        for name in reached
        if _module_path(name) is not None
        and not name.startswith("booking.core")
        and name not in ALLOWED_OUTSIDE
    )
    assert first_party_outside == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The check itself works: a module importing SQLAlchemy in a function is caught."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from sqlalchemy import select\n    return select\n")
    assert "sqlalchemy" in _reachable(module)
    assert len(CORE_MODULES) >= 8
