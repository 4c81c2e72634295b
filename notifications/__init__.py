"""Notifications: invitation and reminder emails, and the in-app list (the bell).

Anything that wants to tell a person something calls the platform's
:class:`~notifications.service.Notifier` (``platform.find(NOTIFIER).notify(...)``)
inside its own transaction. That records an in-app entry and/or an email in the
*outbox*, rendered from the kind's templates in the recipient's language and time
zone; the same idempotency key twice is a no-op. After the commit the email is
handed to rq (``consult worker``) or, without Redis, to a thread in the app; a
periodic sweep sends whatever a lost job or a dead worker left behind, and a lease
plus a Message-ID derived from the key keep it to one message from the
recipient's view. Booking changes (confirm, move, cancel) send iTIP invitations
and plan reminders on their own (:mod:`notifications.bookings`). Other packages
add kinds through the ``notification_templates`` hook.

:func:`include` wires it into a platform; who sends depends on the process:

- an app with Redis enqueues delivery jobs for ``consult worker``;
- an app without Redis sends from a thread of its own (and sweeps);
- ``consult worker`` enqueues too, and sweeps every ``sweep_seconds``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from consult.db import utcnow
from consult.handoff import CommitHandOff
from consult.hookspecs import BookingChanged, ErrorStatuses, hookimpl
from consult.periodic import Periodic
from consult.platform import Platform
from notifications import bookings
from notifications.delivery import (
    BATCH_SIZE,
    SENDER,
    DeliveryPolicy,
    Outcome,
    Sender,
    backlog,
    deliver,
    deliver_due,
    deliver_many,
    next_due,
    sweep,
)
from notifications.dispatch import (
    DISPATCHER,
    Dispatcher,
    DueItem,
    InProcessScheduler,
    NoDispatcher,
    RQDispatcher,
)
from notifications.errors import HTTP_STATUS
from notifications.facts import Site
from notifications.mailer import Mailer, create_mailer
from notifications.reminders import check_default_offsets
from notifications.rendering import TEMPLATES, Renderer
from notifications.service import NOTIFIER, PENDING_KEY, Notifier

__all__ = ["NOTIFIER", "SENDER", "Notifier", "include"]

log = logging.getLogger(__name__)


class NotificationHooks:
    @hookimpl
    def booking_changed(self, session: Session, change: BookingChanged) -> None:
        bookings.on_booking_changed(session, change)

    @hookimpl
    def notification_templates(self) -> Sequence[Path]:
        return [TEMPLATES]

    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def send_due_now(sender: Sender, now: datetime) -> datetime | None:
    """Send everything due at ``now`` in batches; return when the next row is due."""
    while True:
        counts = deliver_due(sender, now=now, limit=200)
        if sum(counts.values()) < 200 or counts[Outcome.SKIPPED] == 200:
            break
    return next_due(sender.database)


def include(platform: Platform) -> None:
    """Wire notifications into ``platform``: the outbox row of every booking change,
    the notifier and sender, and who sends in this process. Raises ConfigError for
    a bad sender address or reminder offsets, so a misconfigured start fails."""
    settings = platform.settings
    default_offsets = check_default_offsets(settings)
    mailer: Mailer = create_mailer(settings)
    policy = DeliveryPolicy.from_settings(settings)
    site = Site(base_url=settings.app.base_url, secret_key=settings.app.secret_key)

    def notifier() -> Notifier:
        # Built on first use, after every package has been included: their
        # template folders come from the notification_templates hook.
        folders = [folder for found in platform.hooks.notification_templates() for folder in found]
        return Notifier(site, Renderer(folders), default_offsets)

    platform.services.register(NOTIFIER, notifier)
    platform.services.register(
        SENDER, lambda: Sender(platform.database, mailer, policy, platform.find(NOTIFIER))
    )
    platform.register(NotificationHooks(), "notifications")

    sweep_seconds = float(settings.notifications.sweep_seconds)
    dispatcher: Dispatcher
    if platform.jobs.backend == "rq":
        dispatcher = RQDispatcher(platform.jobs, deliver, deliver_many, BATCH_SIZE)
        if platform.role == "worker" and sweep_seconds > 0:
            # Sends what a lost job left behind (Redis was down at a commit, say).
            platform.add_background(
                Periodic(
                    "notifications-sweep",
                    lambda: _sweep(platform.find(SENDER)),
                    sweep_seconds,
                )
            )
    elif platform.role == "web":
        scheduler = InProcessScheduler(
            lambda now: send_due_now(platform.find(SENDER), now), sweep_seconds
        )
        if sweep_seconds > 0:
            platform.add_background(scheduler.loop)
        dispatcher = scheduler
    else:
        dispatcher = NoDispatcher()
    platform.services.provide(DISPATCHER, dispatcher)
    platform.metrics.scraped(
        "consult_outbox_due",
        "Messages due and not yet sent, by channel.",
        ("channel",),
        lambda: [(("email",), backlog(platform.database, utcnow())[0])],
    )
    platform.metrics.scraped(
        "consult_outbox_oldest_due_age_seconds",
        "How long the oldest due, unsent message has waited, by channel.",
        ("channel",),
        lambda: [(("email",), backlog(platform.database, utcnow())[1])],
    )
    CommitHandOff[DueItem](PENDING_KEY, dispatcher.dispatch).listen(platform.database)
    log.info("notifications: mail via %s, sent by %s", mailer.backend, dispatcher.backend)


def _sweep(sender: Sender) -> None:
    sweep(sender)
