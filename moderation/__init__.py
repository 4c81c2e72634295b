"""Moderation by the platform's operators: the queue of reported reviews and
contested no-shows, hiding and restoring reviews, suspending accounts (which
cancels a professional's future bookings through the booking service), and the
log of every operator action (:mod:`moderation.services`). It sits beside the
directory, above reviews, notifications, booking and accounts; the web layer
offers it under ``/operator`` and ``/api/v1/operator``, to operators only.
"""

from __future__ import annotations

from consult.hookspecs import ErrorStatuses, hookimpl
from consult.platform import Platform
from moderation.errors import HTTP_STATUS, ConfirmationRequired, ModerationError
from moderation.models import OperatorAction

__all__ = ["ConfirmationRequired", "ModerationError", "OperatorAction", "include"]


class ModerationHooks:
    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    """Wire moderation into ``platform`` (its errors' HTTP statuses)."""
    platform.register(ModerationHooks(), "moderation")
