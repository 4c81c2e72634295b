"""Radicale rights: a signed-in user reads and writes only their own principal.

Nobody lists the root's children (other principals), and nobody reaches a path
under another principal. Calendars mirrored from outside calendars are read-only
to their owner (the sync worker writes them through the storage layer, not DAV).
The home and the Bookings and Availability calendars cannot be deleted over DAV.
"""

from __future__ import annotations

from radicale import pathutils, rights

# Collections whose name starts with this are mirrors of external calendars.
READ_ONLY_PREFIX = "mirror-"
# The platform relies on these; a calendar app may edit their events, not delete them.
PROTECTED_CALENDARS = ("bookings", "availability")


class Rights(rights.BaseRights):
    def authorization(self, user: str, user_groups: set, path: str) -> str:  # type: ignore[type-arg]
        """Return Radicale permission letters for ``user`` on the sanitized ``path``."""
        if not user:
            return ""
        sane_path = pathutils.strip_path(path)
        if not sane_path:
            # The root: enough to discover one's own principal, not to list others.
            return "R"
        parts = sane_path.split("/")
        if parts[0] != user:
            return ""
        # Radicale runs with permit_delete_collection off, so only collections granted
        # "D" can be deleted: the home (it holds Bookings) and the platform's calendars
        # never can; calendars the professional created can.
        if len(parts) == 1:
            return "RW"
        if len(parts) == 2:
            if parts[1].startswith(READ_ONLY_PREFIX):
                return "r"
            if parts[1] in PROTECTED_CALENDARS:
                return "rw"
            return "rwD"
        return ""
