"""Tables of calendar sync: the connections to outside calendars, what was last seen
of each remote event, and the bookings pushed to a write-back calendar.

The mirrored events themselves are not here: they are ordinary items of the
read-only calendar ``<principal>/mirror-<id>`` in the CalDAV store, so calendar
apps show them and the busy-time index blocks their time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from consult.db import Base, UTCDateTime, utcnow

CALDAV = "caldav"
ICS = "ics"
GOOGLE = "google"
MICROSOFT = "microsoft"
KINDS = (CALDAV, ICS, GOOGLE, MICROSOFT)
OAUTH_KINDS = (GOOGLE, MICROSOFT)
# Sources a booking can be written back to (an ICS feed is read-only).
WRITABLE_KINDS = (CALDAV, GOOGLE, MICROSOFT)

# Connection status, as shown to the professional.
AUTHORIZING = "authorizing"  # an OAuth connection waiting for the provider's callback
PENDING = "pending"  # connected, never synced yet
OK = "ok"
WARNING = "warning"  # synced, but some events were skipped or read with a fallback
ERROR = "error"  # the last sync failed; the mirror is kept as it was
STATUSES = (AUTHORIZING, PENDING, OK, WARNING, ERROR)

# Push (write-back) actions.
PUSH_UPSERT = "upsert"
PUSH_DELETE = "delete"


class ExternalCalendar(Base):
    """One outside calendar a professional connected, and its sync state.

    ``secret`` holds the password or the OAuth tokens, encrypted (see
    :mod:`sync.secrets`). ``sync_token`` is whatever the source resumes
    from: a CalDAV sync token, Google's ``nextSyncToken`` or a Graph delta link.
    ``state_version`` grows with every applied sync; a sync whose snapshot is older
    than the row's version is discarded, so concurrent syncs never interleave.
    """

    __tablename__ = "external_calendar"
    __table_args__ = (
        Index("ix_external_calendar_user", "user_id"),
        Index("ix_external_calendar_next_sync", "next_sync_at"),
        # At most one write-back target per professional.
        Index(
            "uq_external_calendar_writeback",
            "user_id",
            unique=True,
            postgresql_where=text("writeback"),
            sqlite_where=text("writeback"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(255), default="")
    secret: Mapped[str] = mapped_column(Text, default="")
    # The calendar's own name upstream ("Work"), once known.
    remote_name: Mapped[str] = mapped_column(String(255), default="")
    show_titles: Mapped[bool] = mapped_column(Boolean, default=False)
    writeback: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    # The failure of the last attempt (empty after a success), and what the last
    # successful sync noticed (events skipped, unknown zones).
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_warning: Mapped[str] = mapped_column(Text, default="")
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Incremental sync state of the source.
    sync_token: Mapped[str] = mapped_column(Text, default="")
    http_etag: Mapped[str] = mapped_column(String(255), default="")
    http_last_modified: Mapped[str] = mapped_column(String(64), default="")
    content_digest: Mapped[str] = mapped_column(String(64), default="")
    # The calendar actually read (a CalDAV calendar found under a server URL, the
    # Graph delta window start), once known.
    resolved_url: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    state_version: Mapped[int] = mapped_column(Integer, default=0)
    # OAuth: SHA-256 of the pending authorization's state (the PKCE verifier is in
    # ``secret`` until the callback exchanges the code).
    oauth_state_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def mirror_name(self) -> str:
        """The collection name of the mirror (``mirror-…`` makes it read-only over DAV)."""
        return f"mirror-{self.id}"


class ExternalCalendarItem(Base):
    """One remote event as last mirrored.

    ``remote_id`` is the source's name for it (a CalDAV href, an ICS UID, a Google or
    Graph event id); ``remote_key`` its SHA-256, for a short unique index. Events of
    one series that the source delivers separately (Google's recurring instances)
    share a ``group_key``: each group is one item of the mirror calendar, built from
    the ``vevents`` of its members, so a change to one member rebuilds just its group.
    """

    __tablename__ = "external_calendar_item"
    __table_args__ = (
        Index("uq_external_calendar_item_remote", "calendar_id", "remote_key", unique=True),
        Index("ix_external_calendar_item_group", "calendar_id", "group_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("external_calendar.id", ondelete="CASCADE"))
    remote_key: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str] = mapped_column(Text)
    group_key: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(255), default="")
    # The normalised VEVENT components, as iCalendar text; empty when the remote
    # event holds nothing to mirror (kept so its etag still saves a download).
    vevents: Mapped[str] = mapped_column(Text, default="")


class ExternalCalendarPush(Base):
    """A booking written back to the professional's chosen outside calendar.

    The booking transaction records ``pending`` (upsert or delete); a job pushes it
    and records the remote event's id, so later changes update the same event and a
    cancellation deletes it. Retried with backoff until it succeeds.
    """

    __tablename__ = "external_calendar_push"
    __table_args__ = (
        Index("uq_external_calendar_push_booking", "booking_id", "calendar_id", unique=True),
        Index("ix_external_calendar_push_due", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    calendar_id: Mapped[int] = mapped_column(ForeignKey("external_calendar.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(Text, default="")
    remote_etag: Mapped[str] = mapped_column(String(255), default="")
    pending: Mapped[str | None] = mapped_column(String(16), default=None)
    # Bumped by every booking change; a push clears ``pending`` only if none came since.
    change_seq: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
