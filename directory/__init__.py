"""The directory: professionals' public profiles (headline, bio, categories,
languages, photo; :mod:`directory.profiles`, :mod:`directory.photos`) and the search
over them, by text, category, language, price and free time
(:mod:`directory.search`). It sits above :mod:`booking`, whose slots it asks.
"""

from __future__ import annotations

from consult.hookspecs import ErrorStatuses, hookimpl
from consult.platform import Platform
from directory.errors import HTTP_STATUS
from directory.profiles import refresh_after_flush


class DirectoryHooks:
    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    """Keep search documents in step with every flush of the platform's sessions."""
    platform.database.listen("after_flush", refresh_after_flush)
    platform.register(DirectoryHooks(), "directory")
