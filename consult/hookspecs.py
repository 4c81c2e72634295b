"""Every extension point of the platform, declared once (like datasette's ``hookspecs.py``).

Read this file to learn everything that can react to what happens on the platform.
Each package's ``include(platform)`` registers the implementations it has
(:func:`hookimpl`-marked methods of an object that holds what they need), on that
platform's own plugin manager: two platforms in one process share nothing.

Hooks are called with keyword arguments. Hooks that run *inside* a database
transaction (``booking_changed``, ``calendar_item_changed``) are reached through
the session, which knows the platform that made it (:func:`hooks_of`); they must
not do slow I/O, only record work and note it for after the commit
(:mod:`consult.handoff`). An exception raised by such an implementation aborts the
caller's transaction: that is how "both or neither" holds.

Implementations by package (see each ``include``):

- ``booking_changed``: notifications (the outbox row), payments (refunds),
  sync (write-back to an outside calendar).
- ``before_booking``: sync (refresh stale mirrors of outside calendars).
- ``calendar_item_changed``: booking (busy-time index; a professional's edits of
  booked events cancel or move the bookings).
- ``error_statuses``: every package with an error tree.
- ``maintenance``: caldav_server (time-range index), booking (busy-time expansion).
- ``notification_templates``: notifications, video (new-message emails).
- ``readiness_checks``: runtime (database, migrations, Redis).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pluggy
from sqlalchemy.orm import Session

PROJECT = "consult"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

# Where a session keeps its platform's hooks (see consult.db.Database).
SESSION_HOOKS = "consult.hooks"

# --- what the hooks are told ------------------------------------------------------------

BookingChangeKind = Literal["confirmed", "cancelled", "rescheduled"]
Actor = Literal["client", "professional", "system"]


@dataclass(frozen=True)
class BookingChanged:
    """A booking was confirmed, cancelled or moved (``previous_start`` for a move)."""

    kind: BookingChangeKind
    booking_id: int
    actor: Actor
    previous_start: datetime | None = None


@dataclass(frozen=True)
class CalendarItemChanged:
    """One write to a calendar item, over CalDAV or by the platform.

    ``old_text`` is ``None`` for a new item, ``new_text`` ``None`` for a deletion.
    ``kind`` is ``"put"``, ``"delete"`` or ``"move"`` (a move is reported twice: as
    leaving ``moved_from``'s collection and arriving in ``moved_to``'s).
    ``actor`` is ``"dav:<user>"`` for CalDAV requests, else what the writer passed
    (``"platform"`` for the platform's own writes).
    """

    collection_path: str
    href: str
    uid: str | None
    old_text: str | None
    new_text: str | None
    actor: str
    kind: Literal["put", "delete", "move"] = "put"
    moved_from: str | None = None
    moved_to: str | None = None


ErrorStatuses = Mapping[type[Exception], tuple[int, str]]


# --- the hooks --------------------------------------------------------------------------


@hookspec
def booking_changed(session: Session, change: BookingChanged) -> None:
    """A booking changed, inside the transaction that changed it.

    Record what must follow (emails, refunds, pushes) as rows in ``session``; an
    exception rolls the booking back.
    """


@hookspec
def before_booking(session: Session, service_id: int, professional_id: int) -> None:
    """A client is about to book the service: called before the professional's
    calendar lock is taken and before anything is written, so an implementation
    may commit work of its own (``session`` holds only reads so far) and must bound
    its time (a booking waits for it)."""


@hookspec
def calendar_item_changed(session: Session, change: CalendarItemChanged) -> None:
    """A calendar item was put, deleted or moved, inside the writing transaction
    (whether over CalDAV or by the platform). An exception aborts the write."""


@hookspec
def error_statuses() -> ErrorStatuses:
    """The HTTP status and machine-readable code each of a package's domain errors
    means (subclasses inherit their closest ancestor's entry). Declared beside the
    package's error tree; the web app assembles them."""
    raise NotImplementedError


@hookspec
def maintenance(now: datetime) -> Mapping[str, int]:
    """Periodic upkeep (``consult worker``, or the app without Redis): keep derived
    data ahead of time. Idempotent and safe to run in several processes at once.
    Returns counts of what it did, for the log."""
    raise NotImplementedError


@hookspec
def readiness_checks() -> Mapping[str, Callable[[], str]]:
    """Checks ``GET /readyz`` runs: each callable returns a short detail when its
    dependency is usable and raises when it is not (database, Redis, migrations,
    Janus). Must be quick: load balancers call it every few seconds."""
    raise NotImplementedError


@hookspec
def notification_templates() -> Sequence[Path]:
    """Folders holding notification templates (``<kind>.subject.txt``, ``.txt``,
    ``.html``), searched in the order the platform includes the packages."""
    raise NotImplementedError


def create_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows every hook above and no implementation yet."""
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(sys.modules[__name__])
    return manager


def hooks_of(session: Session) -> Any:
    """The hooks of the platform whose database made ``session`` (a pluggy
    ``HookRelay``). Raises LookupError for a session made elsewhere."""
    try:
        return session.info[SESSION_HOOKS]
    except KeyError:
        raise LookupError(
            "this session was not made by a platform's database, so nothing can react "
            "to what it writes; open it with platform.database.session()"
        ) from None


def merged_statuses(results: Sequence[ErrorStatuses]) -> dict[type[Exception], tuple[int, str]]:
    """One map from the ``error_statuses`` answers; a class declared twice is a bug."""
    merged: dict[type[Exception], tuple[int, str]] = {}
    for statuses in results:
        for cls, status in statuses.items():
            if cls in merged and merged[cls] != status:
                raise ValueError(f"{cls.__qualname__} is mapped to two HTTP statuses")
            merged[cls] = status
    return merged
