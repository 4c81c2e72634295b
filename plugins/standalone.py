"""The plugins loaded by stock Radicale (by dotted path, without a platform)."""

from __future__ import annotations

from typing import Any

from consult.db import Database
from consult.hookspecs import SESSION_HOOKS, create_plugin_manager


def standalone_database(configuration: Any, section: str) -> Database:
    """The database named by ``[section] database_url`` when stock Radicale loads a
    plugin by dotted path: no platform, so its hooks have no implementations."""
    hooks = create_plugin_manager().hook
    return Database(configuration.get(section, "database_url"), info={SESSION_HOOKS: hooks})
