"""Slot computation for a professional with 10,000 calendar events, beside a raw
CalDAV time-range REPORT over the same 30 days, in the same run.

A professional (Europe/Berlin, open 08:00-18:00 on weekdays, a 50-minute service
with 10-minute buffers) gets one extra calendar of 10,000 events over six years of
history and plans (about four a day; a tenth recurring: weekly and daily rules,
bounded and unbounded, with EXDATEs and moved occurrences), loaded through the
calendar store so the busy-time index is built as in production.
Then, warm:

- ``slots``: ``booking.scheduling.service_slots`` for 30 days (reads open hours,
  busy blocks and bookings from the database, runs the pure slot engine);
- ``REPORT``: a CalDAV calendar-query with a 30-day time-range on the same
  calendar through the embedded Radicale (WSGI, in-process, no network).

Prints median and p95 of each. Asserts nothing.

    .venv/bin/python bench/slots.py [--events 10000] [--repeat 50] [--backend postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from werkzeug.test import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accounts.models import User  # noqa: E402
from accounts.services import Registration, register  # noqa: E402
from booking import catalog, hours, scheduling  # noqa: E402
from booking.core.intervals import Interval  # noqa: E402
from caldav_server.store import CalendarStore  # noqa: E402
from consult.config import load_settings  # noqa: E402
from runtime import create_app, create_platform  # noqa: E402
from runtime.migrate import upgrade  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "CONSULT_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "benchmark password"
WINDOW = Interval(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
NOW = datetime(2026, 11, 1, tzinfo=UTC)
WEEKDAYS = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
HOURS = {"timezone": "Europe/Berlin", "weekly": {**WEEKDAYS, "sat": [], "sun": []}, "overrides": []}
REPORT = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="20261102T000000Z" end="20261202T000000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


def event_components(count: int, seed: int = 11) -> list[str]:
    """VEVENT blocks between 2022 and 2027, daytime; a tenth recurring."""
    rng = random.Random(seed)
    first = datetime(2022, 1, 3, tzinfo=UTC)
    blocks = []
    for number in range(count):
        day = first + timedelta(days=rng.randrange(6 * 365))
        start = day.replace(hour=rng.randrange(6, 17), minute=rng.choice([0, 15, 30, 45]))
        end = start + timedelta(minutes=rng.choice([30, 45, 60, 90]))
        uid = f"event-{number:05d}"
        lines = [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{_ics(start)}",
            f"DTEND:{_ics(end)}",
            f"SUMMARY:Event {number}",
        ]
        if rng.random() < 0.05:
            lines.append("TRANSP:TRANSPARENT")
        extra: list[str] = []
        if number % 10 == 0:
            # Mostly bounded series; one in ten recurring events never ends.
            rule = rng.choice(
                [
                    f"FREQ=WEEKLY;COUNT={rng.randrange(4, 30)}",
                    f"FREQ=WEEKLY;INTERVAL=2;COUNT={rng.randrange(4, 20)}",
                    f"FREQ=DAILY;COUNT={rng.randrange(3, 10)}",
                ]
            )
            if number % 100 == 0:
                rule = rng.choice(["FREQ=WEEKLY;INTERVAL=4", "FREQ=MONTHLY"])
            lines.append(f"RRULE:{rule}")
            step = timedelta(days=1 if "DAILY" in rule else 7)
            if rng.random() < 0.5:
                lines.append(f"EXDATE:{_ics(start + step * 2)}")
            if rng.random() < 0.3 and "MONTHLY" not in rule:
                moved_from = start + step * 3
                moved_to = moved_from + timedelta(hours=rng.randrange(1, 30))
                extra = [
                    "BEGIN:VEVENT",
                    f"UID:{uid}",
                    "DTSTAMP:20260101T000000Z",
                    f"RECURRENCE-ID:{_ics(moved_from)}",
                    f"DTSTART:{_ics(moved_to)}",
                    f"DTEND:{_ics(moved_to + (end - start))}",
                    "END:VEVENT",
                ]
        lines.append("END:VEVENT")
        blocks.append("\r\n".join(lines + extra))
    return blocks


def _ics(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    action()  # warm
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def database_url(backend: str, workdir: Path) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'slots.db'}"
        return url, lambda: None
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"consult_bench_slots_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="consult-bench-slots-"))
    url, drop = database_url(args.backend, workdir)
    try:
        settings = load_settings(
            config_file=os.devnull,
            environ={},
            overrides={
                "app": {"data_dir": str(workdir / "data"), "auto_migrate": "false"},
                "database": {"url": url},
            },
        )
        engine = sa.create_engine(url)
        upgrade(engine)
        engine.dispose()
        platform = create_platform(settings, "command")
        database = platform.database
        began = time.perf_counter()
        with database.session() as session:
            pro = register(
                session,
                Registration(
                    "maya@bench.example", PASSWORD, "Maya", "professional", "Europe/Berlin"
                ),
            )
            hours.put_hours(session, pro, HOURS, NOW)
            service = catalog.create_service(
                session,
                pro,
                catalog.parse_service_input(
                    {
                        "kind": "one_on_one",
                        "title": "Session",
                        "duration_minutes": 50,
                        "buffer_before_minutes": 10,
                        "buffer_after_minutes": 10,
                        "horizon_days": 365,
                    },
                    partial=False,
                ),
            )
            store = CalendarStore(session)
            path = f"{pro.principal}/personal"
            objects = [
                store.parse(
                    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
                    + block
                    + "\r\nEND:VCALENDAR\r\n"
                )
                for block in event_components(args.events)
            ]
            store.create_collection(
                path, {"tag": "VCALENDAR", "D:displayname": "Personal"}, objects
            )
            pro_id, service_id, principal = pro.id, service.id, pro.principal
        elapsed = time.perf_counter() - began
        print(f"setup: {args.events} events loaded and indexed in {elapsed:.0f} s")

        def compute() -> object:
            with database.session() as session:
                professional = session.get(User, pro_id)
                service = catalog.get_public_service(session, service_id)
                return scheduling.service_slots(session, service, professional, WINDOW, NOW)

        with database.session() as session:
            found = compute()
        slot_count = len(found)  # type: ignore[arg-type]

        client = Client(create_app(settings))
        auth = {"Authorization": "Basic " + _basic("maya@bench.example", PASSWORD)}

        def report() -> object:
            response = client.open(
                f"/dav/{principal}/personal/",
                method="REPORT",
                data=REPORT,
                headers={**auth, "Depth": "1", "Content-Type": "application/xml"},
            )
            assert response.status_code == 207, response.status_code
            return response.data

        slots_samples = timed(compute, args.repeat)
        report_samples = timed(report, args.repeat)
        print(f"backend: {args.backend}; window: 30 days; {slot_count} slots found")
        print(f"{'operation':<28}{'median':>10}{'p95':>10}")
        for name, samples in (
            ("slots (service_slots)", slots_samples),
            ("CalDAV time-range REPORT", report_samples),
        ):
            median = statistics.median(samples) * 1000
            print(f"{name:<28}{median:>8.1f}ms{p95(samples) * 1000:>8.1f}ms")
        ratio = statistics.median(report_samples) / statistics.median(slots_samples)
        print(f"REPORT / slots (medians): {ratio:.1f}x")
    finally:
        drop()


def _basic(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()


if __name__ == "__main__":
    main()
