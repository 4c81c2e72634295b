"""Reviews of sessions that took place, the professional's reply and report, what
profiles and search show of them, and no-shows (:mod:`reviews.services`). The
invitation to review goes out from the maintenance run, once per session, through
the notification outbox. It sits above :mod:`notifications` and below the
directory, whose search sorts by rating.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from consult.hookspecs import ErrorStatuses, hookimpl
from consult.platform import Platform
from notifications.service import NOTIFIER
from reviews.errors import HTTP_STATUS
from reviews.services import send_invitations

TEMPLATES = Path(__file__).parent / "templates"


class ReviewHooks:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    @hookimpl
    def maintenance(self, now: datetime) -> Mapping[str, int]:
        with self.platform.database.session() as session:
            invited = send_invitations(session, self.platform.find(NOTIFIER), now)
        return {"review invitations sent": invited}

    @hookimpl
    def notification_templates(self) -> Sequence[Path]:
        return [TEMPLATES]

    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    platform.register(ReviewHooks(platform), "reviews")
