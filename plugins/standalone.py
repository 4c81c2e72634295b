"""The plugins loaded by stock Radicale (by dotted path, without a platform)."""

from __future__ import annotations

import os
from typing import Any

from accounts.services import LoginPolicy
from consult.config import load_settings
from consult.db import Database
from consult.hookspecs import SESSION_HOOKS, create_plugin_manager


def standalone_database(configuration: Any, section: str) -> Database:
    """The database named by ``[section] database_url`` when stock Radicale loads a
    plugin by dotted path: no platform, so its hooks have no implementations."""
    hooks = create_plugin_manager().hook
    return Database(configuration.get(section, "database_url"), info={SESSION_HOOKS: hooks})


def standalone_login_policy() -> LoginPolicy:
    """The default ``[auth]`` login throttling, for stock Radicale (no platform)."""
    return LoginPolicy.from_settings(load_settings(config_file=os.devnull, environ={}).auth)
