"""Notifications: invitation and reminder emails, and the in-app list (the bell).

Anything that wants to tell a person something calls :func:`notify` inside its
own transaction. That records an in-app entry and/or an email in the *outbox*,
rendered from the kind's templates in the recipient's language and time zone;
the same idempotency key twice is a no-op. After the commit the email is handed
to rq (``consult worker``) or, without Redis, to a thread in the app; a periodic
sweep sends whatever a lost job or a dead worker left behind, and a lease plus a
Message-ID derived from the key keep it to one message from the recipient's view.
Booking changes (confirm, move, cancel) send iTIP invitations and plan reminders
on their own (:mod:`notifications.bookings`). Other packages add kinds with
:func:`register_template_folder`.
"""

from __future__ import annotations

from notifications.rendering import register_template_folder
from notifications.service import notify

__all__ = ["notify", "register_template_folder"]
