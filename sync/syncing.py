"""One sync of one connected calendar, in three stages, and when the next one runs.

1. *Prepare* (a short read transaction): snapshot the connection, its sync state and
   what is mirrored (``state_version`` included), decrypt its credentials.
2. *Fetch* (no transaction: network and CPU only): ask the source what changed,
   normalise the events and build the mirror items (:mod:`sync.mirror`).
3. *Apply* (one write transaction): take the professional's calendar lock, claim
   the snapshot's ``state_version`` (a conditional UPDATE; if another sync applied
   in the meantime this one is dropped, never interleaved), write the mirror items
   through :class:`~caldav_server.store.CalendarStore` (so CalDAV clients see them
   and the busy-time index blocks their time at once) and the new sync state.

A failure at any stage (bad credentials, timeout, 5xx, malformed data, or a bug)
is recorded on the connection with a message for the professional, the mirror is
left exactly as it was, and the next attempt is scheduled with exponential
backoff. Nothing here raises for a source's failure: one calendar cannot stop the
others.

No transaction is held during network I/O: that matters on SQLite, where a write
transaction locks the whole database, and for the pre-booking sync, which runs on
the booking's own session (:func:`sync_before_booking`).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import Booking
from caldav_server.store import CalendarStore
from consult.config import Settings
from consult.db import transaction_memo, utcnow
from consult.services import Port
from sync.errors import SourceError, SyncTokenExpired
from sync.events import HISTORY
from sync.mirror import (
    KnownItem,
    MirrorChanges,
    apply_changes,
    compute_changes,
    load_known,
)
from sync.models import (
    AUTHORIZING,
    CALDAV,
    ERROR,
    GOOGLE,
    ICS,
    MICROSOFT,
    OK,
    WARNING,
    ExternalCalendar,
    ExternalCalendarPush,
)
from sync.secrets import open_secret, seal_secret
from sync.sources import (
    Credentials,
    FetchResult,
    Limits,
    SourceConfig,
)
from sync.sources.adapters import source_for

__all__ = [
    "KIND_LABELS",
    "SyncOutcome",
    "limits_for",
    "mirror_display_name",
    "next_run",
    "run_sync",
    "run_syncs",
    "sync_before_booking",
]

log = logging.getLogger(__name__)

KIND_LABELS = MappingProxyType(
    {CALDAV: "CalDAV", ICS: "ICS", GOOGLE: "Google", MICROSOFT: "Outlook"}
)
MIRROR_COLOR = "#6b7280ff"
SKIPPED = "skipped"
_UNEXPECTED = "An unexpected error stopped this sync; it will be retried."

SessionScope = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class SyncOutcome:
    """What one run did: ``status`` is ok, warning, error or skipped (nothing to do,
    or another sync was faster); ``written``/``removed`` count mirror items."""

    connection_id: int
    status: str
    message: str = ""
    written: int = 0
    removed: int = 0


def mirror_display_name(kind: str, remote_name: str, url: str) -> str:
    """The mirror calendar's name as calendar apps show it, e.g. "Google — Work"."""
    label = KIND_LABELS.get(kind, kind)
    name = remote_name.strip() or (urlsplit(url).hostname or "" if url else "")
    return f"{label} — {name}"[:255] if name else label


def next_run(settings: Settings, now: datetime, failures: int = 0) -> datetime:
    """When the next sync is due: the interval after a success, or a backoff doubling
    from one minute after each failure in a row (capped); both jittered."""
    sync = settings.sync
    if failures:
        base = min(60.0 * 2 ** min(failures - 1, 20), sync.max_backoff_minutes * 60.0)
        jitter = min(float(sync.jitter_seconds), base / 4)
    else:
        base = sync.interval_minutes * 60.0
        jitter = min(float(sync.jitter_seconds), base / 2)
    offset = random.uniform(-jitter, jitter) if jitter else 0.0
    return now + timedelta(seconds=max(1.0, base + offset))


def limits_for(settings: Settings, deadline: float | None = None) -> Limits:
    """The bounds of a run from ``[sync]`` settings; the deadline (``time.monotonic()``)
    defaults to ten request timeouts from now."""
    sync = settings.sync
    timeout = float(sync.request_timeout_seconds)
    return Limits(
        request_timeout=timeout,
        deadline=deadline if deadline is not None else time.monotonic() + 10 * timeout,
        max_bytes=int(sync.max_feed_bytes),
        max_events=int(sync.max_events),
        allow_private=bool(sync.allow_private_addresses),
    )


# --- single flight -------------------------------------------------------------------


class SingleFlight:
    """One sync per connection at a time in this process (one per platform)."""

    def __init__(self) -> None:
        self._locks: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def enter(self, connection_id: int, wait_seconds: float, *, then_run: bool) -> Iterator[bool]:
        """Yields True when this thread may sync the connection now. When another
        thread is syncing it, wait for it (up to ``wait_seconds``); then, with
        ``then_run``, sync after it (a "sync now" must see changes made after the
        click), else yield False (a booking is served by a sync that started a
        moment ago)."""
        with self._lock:
            lock = self._locks.setdefault(connection_id, threading.Lock())
        acquired = lock.acquire(blocking=False)
        if not acquired:
            acquired = lock.acquire(timeout=max(0.0, wait_seconds))
            if acquired and not then_run:
                lock.release()
                acquired = False
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()


SYNC_FLIGHTS: Port[SingleFlight] = Port("sync.flights")


# --- the three stages ------------------------------------------------------------------


@dataclass
class _Run:
    connection_id: int
    kind: str = ""
    state_version: int = 0
    mirror_path: str = ""
    show_titles: bool = False
    url: str = ""
    known: dict[str, KnownItem] = field(default_factory=dict)
    config: SourceConfig | None = None
    result: FetchResult | None = None
    changes: MirrorChanges | None = None
    error: str = ""
    skip: bool = False
    # Handing a fetch that outlived a booking's wait over to its own thread.
    handoff: threading.Lock = field(default_factory=threading.Lock)
    fetched: bool = False
    abandoned: bool = False


def _prepare(session: Session, settings: Settings, run: _Run, now: datetime) -> None:
    connection = session.get(ExternalCalendar, run.connection_id, populate_existing=True)
    if connection is None or connection.status == AUTHORIZING:
        run.skip = True
        return
    user = session.get(User, connection.user_id)
    if user is None or not user.principal:
        run.skip = True
        return
    run.kind = connection.kind
    run.state_version = connection.state_version
    run.mirror_path = f"{user.principal}/{connection.mirror_name}"
    run.show_titles = connection.show_titles
    run.url = connection.url
    try:
        secret = open_secret(settings.app.secret_key, connection.secret)
    except SourceError as error:
        run.error = error.message
        return
    run.known = load_known(session, connection.id)
    pushed = session.scalars(
        select(ExternalCalendarPush.remote_id).where(
            ExternalCalendarPush.calendar_id == connection.id, ExternalCalendarPush.remote_id != ""
        )
    )
    # Bookings are busy time already: their copies in outside calendars (written back by
    # us, or exported there by the professional) must not be mirrored a second time.
    booking_uids = session.scalars(
        select(Booking.event_uid).where(
            Booking.professional_id == user.id, Booking.end > now - HISTORY
        )
    )
    try:
        zone = ZoneInfo(user.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    run.config = SourceConfig(
        connection_id=connection.id,
        kind=connection.kind,
        url=connection.url,
        username=connection.username,
        credentials=Credentials(secret),
        own_zone=zone,
        resolved_url=connection.resolved_url,
        sync_token=connection.sync_token,
        http_etag=connection.http_etag,
        http_last_modified=connection.http_last_modified,
        content_digest=connection.content_digest,
        window_start=connection.window_start,
        known_etags=(
            {item.remote_id: item.etag for item in run.known.values()}
            if connection.kind in (CALDAV, ICS)
            else {}
        ),
        skip_remote_ids=frozenset(pushed),
        skip_uids=frozenset(booking_uids),
    )


def _fetch(settings: Settings, run: _Run, limits: Limits, now: datetime) -> None:
    assert run.config is not None
    source = source_for(run.kind, settings)
    try:
        try:
            run.result = source.fetch(run.config, limits)
        except SyncTokenExpired:
            log.info("calendar %s: the source forgot our sync token; full sync", run.connection_id)
            full = replace(run.config, sync_token="", window_start=None)
            run.result = source.fetch(full, limits)
        run.changes = compute_changes(
            run.known,
            run.result,
            show_titles=run.show_titles,
            now=now,
            skip_remote_ids=run.config.skip_remote_ids,
            max_occurrences=int(settings.dav.max_occurrences),
            max_item_size=int(settings.dav.max_resource_size),
        )
    except SourceError as error:
        run.error = error.message
    except Exception:  # a bug or a library failure must not stop other calendars
        log.exception("calendar %s: sync failed unexpectedly", run.connection_id)
        run.error = _UNEXPECTED


def _ensure_mirror(store: CalendarStore, path: str, name: str) -> None:
    record = store.get_collection(path)
    if record is None:
        store.create_calendar(
            path,
            {
                "D:displayname": name,
                "C:calendar-description": (
                    "A read-only copy of an outside calendar, kept up to date by the "
                    "platform. Its events block booking slots."
                ),
                "ICAL:calendar-color": MIRROR_COLOR,
                "C:supported-calendar-component-set": "VEVENT",
            },
        )
    elif record.props.get("D:displayname") != name:
        store.set_props(record, {"D:displayname": name})


def _apply(session: Session, settings: Settings, run: _Run, now: datetime) -> SyncOutcome:
    credentials = run.config.credentials if run.config is not None else None
    if run.error or run.result is None or run.changes is None:
        return _record_failure(
            session, settings, run.connection_id, run.error or _UNEXPECTED, now, credentials
        )
    store = CalendarStore(
        session,
        max_occurrences=int(settings.dav.max_occurrences),
        max_item_size=int(settings.dav.max_resource_size),
    )
    # Lock order: the calendar lock first, then our rows (see CalendarStore.lock_collection).
    store.lock_collection(run.mirror_path)
    claimed = session.execute(
        update(ExternalCalendar)
        .where(
            ExternalCalendar.id == run.connection_id,
            ExternalCalendar.state_version == run.state_version,
        )
        .values(state_version=run.state_version + 1)
        .execution_options(synchronize_session=False)
    )
    connection = session.get(ExternalCalendar, run.connection_id, populate_existing=True)
    if connection is None:
        return SyncOutcome(run.connection_id, SKIPPED, "The calendar was removed.")
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        _save_credentials(settings, connection, credentials)
        return SyncOutcome(run.connection_id, SKIPPED, "Another sync finished first.")
    result, changes = run.result, run.changes
    if result.remote_name:
        connection.remote_name = result.remote_name[:255]
    name = mirror_display_name(run.kind, connection.remote_name, run.url)
    _ensure_mirror(store, run.mirror_path, name)
    written = removed = 0
    if not result.not_modified:
        written, removed = apply_changes(
            session,
            store,
            calendar_id=run.connection_id,
            mirror_path=run.mirror_path,
            changes=changes,
        )
        # A complete listing says everything about the source; a delta only about what
        # changed, so an earlier warning (an event still mirrored with a guessed zone)
        # stays until a delta brings a new one or a full sync clears it.
        warning = changes.findings.summary()
        if warning or result.complete:
            connection.last_warning = warning
    for column, value in (
        ("sync_token", result.new_sync_token),
        ("http_etag", result.new_http_etag),
        ("http_last_modified", result.new_http_last_modified),
        ("content_digest", result.new_content_digest),
        ("resolved_url", result.new_resolved_url),
        ("window_start", result.new_window_start),
    ):
        if value is not None:
            setattr(connection, column, value)
    connection.status = WARNING if connection.last_warning else OK
    connection.last_error = ""
    connection.failure_count = 0
    connection.last_attempt_at = now
    connection.last_sync_at = now
    connection.next_sync_at = next_run(settings, now)
    _save_credentials(settings, connection, credentials)
    log.info(
        "calendar %s synced: %d written, %d removed%s",
        run.connection_id,
        written,
        removed,
        " (not modified)" if result.not_modified else "",
    )
    return SyncOutcome(
        run.connection_id, connection.status, connection.last_warning, written, removed
    )


def _save_credentials(
    settings: Settings, connection: ExternalCalendar, credentials: Credentials | None
) -> None:
    if credentials is not None and credentials.changed:
        connection.secret = seal_secret(settings.app.secret_key, credentials.data)


def _record_failure(
    session: Session,
    settings: Settings,
    connection_id: int,
    message: str,
    now: datetime,
    credentials: Credentials | None,
) -> SyncOutcome:
    connection = session.get(ExternalCalendar, connection_id, populate_existing=True)
    if connection is None:
        return SyncOutcome(connection_id, SKIPPED, "The calendar was removed.")
    connection.failure_count += 1
    connection.status = ERROR
    connection.last_error = message[:1000]
    connection.last_attempt_at = now
    connection.next_sync_at = next_run(settings, now, connection.failure_count)
    _save_credentials(settings, connection, credentials)
    log.warning("calendar %s: sync failed: %s", connection_id, message)
    return SyncOutcome(connection_id, ERROR, message)


# --- entry points ----------------------------------------------------------------------


# Told (kind, status) of every run that finished here: the platform's metrics.
Observer = Callable[[str, str], None]


def run_sync(
    scope: SessionScope,
    settings: Settings,
    flights: SingleFlight,
    connection_id: int,
    observe: Observer | None = None,
) -> SyncOutcome:
    """Sync one connection now; returns what happened (never raises for the source's
    failures). ``scope()`` opens a session that commits when the block ends."""
    return run_syncs(scope, settings, flights, [connection_id], observe=observe)[0]


def run_syncs(
    scope: SessionScope,
    settings: Settings,
    flights: SingleFlight,
    connection_ids: Sequence[int],
    *,
    wait_until: float | None = None,
    background: SessionScope | None = None,
    observe: Observer | None = None,
) -> list[SyncOutcome]:
    """Sync several connections: prepared and applied one after another, fetched in
    parallel (at most four at a time). Returns one outcome per id, in order.
    ``scope()`` opens a session that commits when its block ends.

    With ``wait_until`` (a ``time.monotonic()`` value: a booking is waiting), the
    caller waits no longer than that: a sync still fetching then finishes on its own
    thread and applies its result through ``background()`` (its outcome here is
    "skipped"). Without it, everything runs to the end in the caller's thread.
    """
    limits = limits_for(settings)
    outcomes: dict[int, SyncOutcome] = {}
    with contextlib.ExitStack() as entered:
        runs: list[_Run] = []
        for connection_id in connection_ids:
            # A booking waits for a sync of the same calendar already running in this
            # process and trusts it; a job waits for it and then syncs again.
            limit = (wait_until if wait_until is not None else limits.deadline) - time.monotonic()
            flight = flights.enter(connection_id, limit, then_run=wait_until is None)
            leader = entered.enter_context(flight)
            if not leader:
                outcomes[connection_id] = SyncOutcome(
                    connection_id, SKIPPED, "Another sync of this calendar was running."
                )
                continue
            run = _Run(connection_id)
            with scope() as session:
                _prepare(session, settings, run, utcnow())
            if run.skip:
                outcomes[connection_id] = SyncOutcome(connection_id, SKIPPED)
            else:
                runs.append(run)
        fetching = [run for run in runs if not run.error]
        if wait_until is None:
            for run in fetching:
                _fetch(settings, run, limits, utcnow())
        elif fetching:
            executor = ThreadPoolExecutor(
                max_workers=min(4, len(fetching)), thread_name_prefix="calendar-sync"
            )
            futures = [
                executor.submit(_fetch_on_thread, settings, run, limits, background)
                for run in fetching
            ]
            wait(futures, timeout=max(0.0, wait_until - time.monotonic()))
            executor.shutdown(wait=False)
            for run in fetching:
                with run.handoff:
                    run.abandoned = not run.fetched
                if run.abandoned:
                    outcomes[run.connection_id] = SyncOutcome(
                        run.connection_id, SKIPPED, "Still syncing in the background."
                    )
        for run in runs:
            if not run.abandoned:
                outcomes[run.connection_id] = _apply_or_record(scope, settings, run)
                if observe is not None:
                    observe(run.kind, outcomes[run.connection_id].status)
    return [outcomes[connection_id] for connection_id in connection_ids]


def _apply_or_record(scope: SessionScope, settings: Settings, run: _Run) -> SyncOutcome:
    """Apply a run; if writing fails (a bug, a database error), roll it back and
    record the failure on the connection instead, so it is shown and retried."""
    try:
        with scope() as session:
            return _apply(session, settings, run, utcnow())
    except Exception:
        log.exception("calendar %s: writing the mirror failed", run.connection_id)
    credentials = run.config.credentials if run.config is not None else None
    with scope() as session:
        return _record_failure(
            session, settings, run.connection_id, _UNEXPECTED, utcnow(), credentials
        )


def _fetch_on_thread(
    settings: Settings, run: _Run, limits: Limits, background: SessionScope | None
) -> None:
    """Fetch; if the waiting caller gave up meanwhile, apply the result here."""
    _fetch(settings, run, limits, utcnow())
    with run.handoff:
        run.fetched = True
        abandoned = run.abandoned
    if abandoned and background is not None:
        try:
            _apply_or_record(background, settings, run)
        except Exception:  # the database itself is gone: nothing left to record it in
            log.exception("calendar %s: applying a late sync failed", run.connection_id)


@contextlib.contextmanager
def borrowed(session: Session) -> Iterator[Session]:
    """Use a caller's session as a scope: commit when the block ends, roll back on error."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def stale_connections(
    session: Session, user_id: int, now: datetime, max_age: timedelta
) -> list[int]:
    """Ids of the professional's connections not attempted within ``max_age``.

    Also notes in the transaction whether the professional has any connection at
    all (:data:`HAS_CONNECTIONS`): the booking's write-back step then need not ask."""
    rows = session.execute(
        select(ExternalCalendar.id, ExternalCalendar.status, ExternalCalendar.last_attempt_at)
        .where(ExternalCalendar.user_id == user_id)
        .order_by(ExternalCalendar.id)
    ).all()
    transaction_memo(session)[(HAS_CONNECTIONS, user_id)] = bool(rows)
    cutoff = now - max_age
    return [
        connection_id
        for connection_id, status, last_attempt in rows
        if status != AUTHORIZING and (last_attempt is None or last_attempt <= cutoff)
    ]


# transaction_memo key (with a user id): whether the user has calendar connections.
HAS_CONNECTIONS = "sync.has_connections"


def sync_before_booking(
    session: Session,
    professional_id: int,
    settings: Settings,
    flights: SingleFlight,
    background: SessionScope,
    observe: Observer | None = None,
) -> None:
    """The ``before_booking`` hook: sync the
    professional's calendars whose last attempt is older than
    ``[sync] max_age_before_booking_seconds``, waiting at most
    ``pre_booking_timeout_seconds``, so the booking's check sees fresh busy time.

    Commits the booking's session (it holds only reads here) before any network I/O
    and writes the mirrors in its own commits. A sync that takes longer finishes in
    the background. Never raises: a calendar that cannot be synced is recorded as
    failed and the booking goes on with the mirror as it is.
    """
    try:
        now = utcnow()
        max_age = timedelta(seconds=int(settings.sync.max_age_before_booking_seconds))
        stale = stale_connections(session, professional_id, now, max_age)
        if not stale:
            return
        wait_until = time.monotonic() + float(settings.sync.pre_booking_timeout_seconds)
        session.commit()
        run_syncs(
            lambda: borrowed(session),
            settings,
            flights,
            stale,
            wait_until=wait_until,
            background=background,
            observe=observe,
        )
    except Exception:
        log.exception("calendar sync before a booking with professional %s failed", professional_id)
        session.rollback()
