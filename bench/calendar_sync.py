"""Mirroring a 5,000-event outside calendar: the first sync, and a sync after 10
changes upstream, for an ICS feed and for a CalDAV calendar.

Sets up a scratch PostgreSQL database, a professional, and the same outside
servers the tests use on loopback: a local HTTP server for the ICS feed (ETag and
Last-Modified) and a stock Radicale (htpasswd) for CalDAV (sync tokens and
calendar-multiget). The calendar has 5,000 events over the next year: one-off
events in UTC and in Europe/Berlin, all-day events, and weekly series. Each
"initial" run mirrors the calendar into a fresh connection (all 5,000 events
normalised, indexed, written through the calendar store and the busy-time index);
each "incremental" run follows 10 upstream changes (4 moved, 3 added, 3 deleted)
on an existing connection. A sync with nothing changed is timed too.

Runs syncs in-process through :func:`sync.syncing.run_sync`, the code
path of the jobs. The load runs on the same 2-core machine as the database, so the
figures are a ceiling. Prints medians; asserts only that the mirror is right.

    .venv/bin/python bench/calendar_sync.py [--events 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accounts.services import Registration, register  # noqa: E402
from caldav_server.store import CalendarStore  # noqa: E402
from consult.config import load_settings  # noqa: E402
from runtime.migrate import upgrade  # noqa: E402
from runtime.platform import create_platform  # noqa: E402
from sync.models import ExternalCalendar  # noqa: E402
from sync.secrets import seal_secret  # noqa: E402
from sync.syncing import SYNC_FLIGHTS, run_sync  # noqa: E402
from tests.sync.servers.ics import IcsServer  # noqa: E402
from tests.sync.servers.radicale import PASSWORD, USER, ExternalRadicale  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "CONSULT_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECRET = "bench-secret-key-" + "x" * 32


def event(uid: str, index: int, shift: timedelta = timedelta(0)) -> str:
    """One VEVENT of the synthetic calendar (its kind depends on ``index``)."""
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = base + timedelta(days=1 + index % 365) + shift
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20240101T000000Z", f"SUMMARY:Event {index}"]
    kind = index % 20
    if kind == 0:  # a weekly series in local time
        start = day.replace(hour=7 + index % 10)
        lines += [
            f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID=Europe/Berlin:{start + timedelta(hours=1):%Y%m%dT%H%M%S}",
            "RRULE:FREQ=WEEKLY;COUNT=12",
        ]
    elif kind == 1:  # all day
        lines += [
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(1):%Y%m%d}",
        ]
    elif kind < 10:  # local time
        start = day.replace(hour=8 + index % 9, minute=(index * 7) % 60)
        lines += [
            f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
            f"DTEND;TZID=Europe/Berlin:{start + timedelta(minutes=45):%Y%m%dT%H%M%S}",
        ]
    else:  # UTC
        start = day.replace(hour=6 + index % 12, minute=(index * 13) % 60)
        lines += [f"DTSTART:{start:%Y%m%dT%H%M%SZ}", "DURATION:PT30M"]
    lines += ["DESCRIPTION:Not copied", "END:VEVENT"]
    return "\r\n".join(lines) + "\r\n"


def wrap(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
        + "".join(events)
        + ("END:VCALENDAR\r\n")
    )


class Calendar:
    """The synthetic upstream calendar: uid -> (index, shift); ``change()`` applies 10
    edits (4 moved, 3 added, 3 deleted) and returns them."""

    def __init__(self, size: int) -> None:
        self.events = {f"ev{i}-{uuid.uuid4().hex[:6]}": (i, timedelta(0)) for i in range(size)}
        self.next_index = size

    def text(self, uid: str) -> str:
        index, shift = self.events[uid]
        return event(uid, index, shift)

    def change(self) -> tuple[list[str], list[str]]:
        uids = sorted(self.events)
        moved = uids[:4]
        for uid in moved:
            index, shift = self.events[uid]
            self.events[uid] = (index, shift + timedelta(hours=1))
        deleted = uids[-3:]
        for uid in deleted:
            del self.events[uid]
        added = []
        for _ in range(3):
            uid = f"ev{self.next_index}-{uuid.uuid4().hex[:6]}"
            self.events[uid] = (self.next_index + 2, timedelta(0))
            self.next_index += 1
            added.append(uid)
        return moved + added, deleted


def median(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.name = f"consult_bench_calsync_{os.getpid()}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.folder = Path(tempfile.mkdtemp(prefix="consult-bench-calsync-"))

    def __enter__(self) -> Bench:
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        upgrade(sa.create_engine(self.url))
        self.settings = load_settings(
            config_file=os.devnull,
            environ={},
            overrides={
                "app": {"data_dir": str(self.folder / "data"), "secret_key": SECRET},
                "database": {"url": self.url},
                "sync": {"allow_private_addresses": "true", "max_events": "50000"},
            },
        )
        self.platform = create_platform(self.settings, "command")
        self.database = self.platform.database
        with self.database.session() as session:
            user = register(
                session,
                Registration(
                    "pro@bench.example", "bench password!", "Pro", "professional", "Europe/Berlin"
                ),
            )
            session.flush()
            self.user_id = user.id
            self.principal = user.principal
        return self

    def __exit__(self, *exc: Any) -> None:
        self.platform.shutdown()
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def connection(self, kind: str, url: str, username: str = "", password: str = "") -> int:
        with self.database.session() as session:
            row = ExternalCalendar(user_id=self.user_id, kind=kind, url=url, username=username)
            if password:
                row.secret = seal_secret(SECRET, {"password": password})
            session.add(row)
            session.flush()
            return row.id

    def sync(self, connection_id: int) -> float:
        started = time.perf_counter()
        outcome = run_sync(
            self.database.session, self.settings, self.platform.find(SYNC_FLIGHTS), connection_id
        )
        elapsed = time.perf_counter() - started
        if outcome.status not in ("ok", "warning"):
            raise SystemExit(f"sync failed: {outcome}")
        return elapsed

    def mirrored(self, connection_id: int) -> int:
        with self.database.session() as session:
            path = f"{self.principal}/mirror-{connection_id}"
            return CalendarStore(session).count_items(path)

    def measure(
        self,
        label: str,
        connect: Callable[[], int],
        publish_all: Callable[[Calendar], None],
        publish_changes: Callable[[Calendar, list[str], list[str]], None],
    ) -> None:
        calendar = Calendar(self.args.events)
        publish_all(calendar)
        initial, ids = [], []
        for _ in range(self.args.runs):
            connection_id = connect()
            initial.append(self.sync(connection_id))
            assert self.mirrored(connection_id) == len(calendar.events)
            ids.append(connection_id)
        unchanged = [self.sync(ids[-1]) for _ in range(self.args.runs)]
        incremental = []
        for _ in range(self.args.runs):
            changed, deleted = calendar.change()
            publish_changes(calendar, changed, deleted)
            incremental.append(self.sync(ids[-1]))
            assert self.mirrored(ids[-1]) == len(calendar.events)
        print(f"{label}: {len(calendar.events)} events")
        print(f"  initial mirror             {median(initial)}")
        print(f"  sync, nothing changed      {median(unchanged)}")
        print(f"  sync after 10 changes      {median(incremental)}")

    def ics(self) -> None:
        server = IcsServer()
        try:

            def publish_all(calendar: Calendar) -> None:
                server.publish("feed", wrap(*(calendar.text(uid) for uid in calendar.events)))

            def publish_changes(calendar: Calendar, changed: list[str], deleted: list[str]) -> None:
                publish_all(calendar)

            self.measure(
                "ICS feed (conditional GET; changed events found by their hash)",
                lambda: self.connection("ics", server.url("feed")),
                publish_all,
                publish_changes,
            )
        finally:
            server.stop()

    def caldav(self) -> None:
        (self.folder / "radicale").mkdir()
        radicale = ExternalRadicale(self.folder / "radicale")
        try:
            url = radicale.new_calendar("bench", "Bench")
            folder = self.folder / "radicale" / "collections" / "collection-root" / USER / "bench"

            def publish_all(calendar: Calendar) -> None:
                # Written straight into Radicale's folder (5,000 PUTs would time Radicale).
                for uid in calendar.events:
                    (folder / f"{uid}.ics").write_text(wrap(calendar.text(uid)))
                radicale.session.request("PROPFIND", url, headers={"Depth": "1"}, timeout=600)

            def publish_changes(calendar: Calendar, changed: list[str], deleted: list[str]) -> None:
                for uid in changed:
                    radicale.put(url, uid, wrap(calendar.text(uid)))
                for uid in deleted:
                    radicale.delete(url, uid)

            self.measure(
                "CalDAV (Radicale; RFC 6578 sync token, calendar-multiget)",
                lambda: self.connection("caldav", url, USER, PASSWORD),
                publish_all,
                publish_changes,
            )
        finally:
            radicale.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with Bench(args) as bench:
        bench.ics()
        bench.caldav()


if __name__ == "__main__":
    main()
