"""Benchmark the database storage (``plugins.storage``) against Radicale's file
storage (``multifilesystem``) on the same calendar, in the same run.

One calendar of 10,000 events over two years (a tenth recurring: weekly and
daily rules, bounded and unbounded, some with EXDATE or a moved occurrence) is
loaded into each storage with one whole-calendar PUT, then the same requests
are sent to each Radicale app through its WSGI interface in-process (no network
for either): a 30-day time-range REPORT, a 30-day free-busy query, a PUT of a
new event, and an incremental sync (sync-collection REPORT after one change).
Medians of warm runs are printed with the ratios file/database; a cold
time-range REPORT (a new app; the file storage also without its item cache) is
measured once. Prints, asserts nothing.

    .venv/bin/python bench/caldav_storage.py [--events 10000] [--repeat 15]
        [--backends file,postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import radicale
import sqlalchemy as sa
from radicale import config as radicale_config
from werkzeug.test import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins.app import DavApplication  # noqa: E402
from runtime.migrate import upgrade  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "CONSULT_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
USER = {"X-Remote-User": "maya"}
CAL = "/maya/bookings/"
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))


def ics(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


# --- data ----------------------------------------------------------------------------


def event_components(count: int, seed: int = 7) -> list[str]:
    """VEVENT blocks (a master and its moved occurrences share one UID)."""
    rng = random.Random(seed)
    blocks = []
    for number in range(count):
        day = FIRST_DAY + timedelta(days=rng.randrange(730))
        start = day.replace(hour=rng.randrange(7, 19), minute=rng.choice([0, 15, 30, 45]))
        end = start + timedelta(minutes=rng.choice([30, 50, 60, 90]))
        uid = f"event-{number:05d}"
        lines = [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{ics(start)}",
            f"DTEND:{ics(end)}",
            f"SUMMARY:Session {number}",
            "DESCRIPTION:Booked through the platform. Video link in the booking.",
        ]
        extra: list[str] = []
        if number % 10 == 0:  # a tenth recurring
            kind = (number // 10) % 4
            rule = {
                0: f"FREQ=WEEKLY;COUNT={rng.randrange(6, 40)}",
                1: "FREQ=WEEKLY",
                2: f"FREQ=DAILY;COUNT={rng.randrange(5, 30)}",
                3: "FREQ=WEEKLY;INTERVAL=2;UNTIL="
                + ics(start + timedelta(days=rng.randrange(60, 300))),
            }[kind]
            lines.append(f"RRULE:{rule}")
            step = timedelta(days=1 if "DAILY" in rule else 7)
            if rng.random() < 0.5:
                lines.append(f"EXDATE:{ics(start + step * 2)}")
            if rng.random() < 0.3:
                moved_from = start + step * 3
                moved_to = moved_from + timedelta(hours=rng.randrange(1, 48))
                extra = [
                    "BEGIN:VEVENT",
                    f"UID:{uid}",
                    "DTSTAMP:20260101T000000Z",
                    f"RECURRENCE-ID:{ics(moved_from)}",
                    f"DTSTART:{ics(moved_to)}",
                    f"DTEND:{ics(moved_to + (end - start))}",
                    f"SUMMARY:Session {number} (moved)",
                    "END:VEVENT",
                ]
        lines.append("END:VEVENT")
        blocks.append("\r\n".join(lines + extra))
    return blocks


def whole_calendar(blocks: list[str]) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//consult bench//EN\r\n"
        "X-WR-CALNAME:Bookings\r\n" + "\r\n".join(blocks) + "\r\nEND:VCALENDAR\r\n"
    )


def single_event(uid: str, start: datetime) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//consult bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{ics(start)}\r\n"
        f"DTEND:{ics(start + timedelta(hours=1))}\r\nSUMMARY:New\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )


# --- backends ----------------------------------------------------------------------


def radicale_app(storage: dict[str, str]) -> Client:
    """Stock Radicale on the file storage; our WSGI app (which answers free-busy from
    the index, as production does) on ours."""
    configuration = radicale_config.load()
    configuration.update(
        {
            "auth": {"type": "http_x_remote_user"},
            "rights": {"type": "owner_only"},
            "storage": storage,
            "web": {"type": "none"},
            "logging": {"level": "error"},
        },
        "bench",
        privileged=True,
    )
    application = DavApplication if storage["type"] == "plugins.storage" else radicale.Application
    return Client(application(configuration))


class Backend:
    """One storage under test. ``restart`` forgets process state (the connection
    pool); ``drop_caches`` removes on-disk caches (the file storage's)."""

    def __init__(
        self,
        name: str,
        storage: dict[str, str],
        cleanup: Callable[[], None],
        restart: Callable[[], None],
        drop_caches: Callable[[], None],
    ) -> None:
        self.name = name
        self.storage = storage
        self.cleanup = cleanup
        self._restart = restart
        self._drop_caches = drop_caches
        self.app = radicale_app(storage)

    def fresh_app(self, drop_caches: bool) -> None:
        """A new app instance, as in a new process; optionally without disk caches."""
        self._restart()
        if drop_caches:
            self._drop_caches()
        self.app = radicale_app(self.storage)


def file_backend(workdir: Path) -> Backend:
    folder = workdir / "radicale"

    def drop_caches() -> None:
        for cache in folder.rglob(".Radicale.cache"):
            shutil.rmtree(cache)

    return Backend(
        "file",
        {"type": "multifilesystem", "filesystem_folder": str(folder)},
        lambda: None,
        lambda: None,
        drop_caches,
    )


def database_backend(name: str, workdir: Path) -> Backend:
    if name == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"

        def drop() -> None:
            return None
    else:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        database = f"consult_bench_{os.getpid()}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()

    engine = sa.create_engine(url)
    upgrade(engine)
    engine.dispose()
    return Backend(
        name,
        {"type": "plugins.storage", "database_url": url},
        drop,
        # A new Radicale app builds its own database engine: nothing to forget.
        lambda: None,
        lambda: None,
    )


# --- requests ------------------------------------------------------------------------


def time_range_body(start: datetime, end: datetime) -> str:
    return (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        '</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{ics(start)}" end="{ics(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
    )


def free_busy_body(start: datetime, end: datetime) -> str:
    return (
        '<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f'<C:time-range start="{ics(start)}" end="{ics(end)}"/></C:free-busy-query>'
    )


def sync_body(token: str) -> str:
    return (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )


def request(app: Client, method: str, body: str, expect: int, **headers: str) -> bytes:
    response = app.open(
        CAL + headers.pop("href", ""),
        method=method,
        data=body.encode(),
        headers={**USER, **headers},
    )
    if response.status_code != expect:
        raise RuntimeError(f"{method} answered {response.status_code}: {response.text[:300]}")
    return response.data


def report_hrefs(data: bytes) -> set[str]:
    root = ET.fromstring(data)
    return {e.text or "" for e in root.iter("{DAV:}href")}


def sync_token(data: bytes) -> str:
    return ET.fromstring(data).findtext("{DAV:}sync-token") or ""


# --- the run ---------------------------------------------------------------------------


def load(backend: Backend, calendar_text: str) -> float:
    started = time.perf_counter()
    request(backend.app, "MKCALENDAR", "", 201)
    request(backend.app, "PUT", calendar_text, 201, **{"Content-Type": "text/calendar"})
    return time.perf_counter() - started


def measure(backend: Backend, repeat: int) -> dict[str, float]:
    app = backend.app
    timings: dict[str, list[float]] = {"report": [], "freebusy": [], "put": [], "sync": []}
    for round_number in range(repeat + 1):  # the first round warms up and is dropped
        started = time.perf_counter()
        request(app, "REPORT", time_range_body(*WINDOW), 207, Depth="1")
        report = time.perf_counter() - started

        started = time.perf_counter()
        request(app, "REPORT", free_busy_body(*WINDOW), 200, Depth="1")
        freebusy = time.perf_counter() - started

        start = WINDOW[0] + timedelta(hours=round_number)
        started = time.perf_counter()
        request(
            app,
            "PUT",
            single_event(f"new-{round_number}", start),
            201,
            href=f"new-{round_number}.ics",
            **{"Content-Type": "text/calendar"},
        )
        put = time.perf_counter() - started

        token = sync_token(request(app, "REPORT", sync_body(""), 207))
        request(
            app,
            "PUT",
            single_event(f"new-{round_number}", start + timedelta(minutes=5)),
            204,
            href=f"new-{round_number}.ics",
            **{"Content-Type": "text/calendar"},
        )
        started = time.perf_counter()
        changed = report_hrefs(request(app, "REPORT", sync_body(token), 207))
        sync = time.perf_counter() - started
        assert any(href.endswith(f"new-{round_number}.ics") for href in changed), changed

        if round_number:
            for key, value in (
                ("report", report),
                ("freebusy", freebusy),
                ("put", put),
                ("sync", sync),
            ):
                timings[key].append(value)
    return {key: statistics.median(values) for key, values in timings.items()}


def first_report(backend: Backend, drop_caches: bool) -> float:
    """The first time-range REPORT of a new app instance."""
    backend.fresh_app(drop_caches=drop_caches)
    started = time.perf_counter()
    request(backend.app, "REPORT", time_range_body(*WINDOW), 207, Depth="1")
    return time.perf_counter() - started


def run_all(names: list[str], calendar_text: str, repeat: int) -> dict[str, dict[str, float]]:
    """Load ``calendar_text`` into each storage and measure it; medians per operation."""
    results: dict[str, dict[str, float]] = {}
    answers: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="consult-bench-") as workdir:
        for name in names:
            backend = (
                file_backend(Path(workdir))
                if name == "file"
                else database_backend(name, Path(workdir))
            )
            try:
                loaded = load(backend, calendar_text)
                answers[name] = report_hrefs(
                    request(backend.app, "REPORT", time_range_body(*WINDOW), 207, Depth="1")
                )
                results[name] = measure(backend, repeat)
                results[name]["load"] = loaded
                results[name]["fresh report"] = first_report(backend, drop_caches=False)
                results[name]["cold report"] = first_report(backend, drop_caches=True)
                print(
                    f"  {name}: loaded in {loaded:.1f} s, "
                    f"{len(answers[name]) - 1} events in the window"
                )
            finally:
                backend.cleanup()

    if len({frozenset(a) for a in answers.values()}) > 1:
        print("WARNING: the storages returned different events for the time-range REPORT")
    else:
        print("All storages returned the same events for the time-range REPORT.")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--backends", default="file,postgresql,sqlite")
    parser.add_argument(
        "--small-events", type=int, default=2000, help="a second, smaller calendar (0: skip)"
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.backends.split(",") if name.strip()]

    blocks = event_components(args.events)
    calendar_text = whole_calendar(blocks)
    print(
        f"{args.events} events ({sum('RRULE' in b for b in blocks)} recurring), "
        f"{len(calendar_text) / 1e6:.1f} MB; window {WINDOW[0]:%Y-%m-%d}..{WINDOW[1]:%Y-%m-%d}; "
        f"median of {args.repeat} warm runs, in-process WSGI for every storage"
    )

    results = run_all(names, calendar_text, args.repeat)
    operations = [
        ("report", "30-day time-range REPORT"),
        ("freebusy", "30-day free-busy query"),
        ("put", "PUT of a new event"),
        ("sync", "incremental sync REPORT"),
        ("fresh report", "REPORT, new app instance*"),
        ("cold report", "REPORT, cold**"),
    ]
    header = f"{'operation':<28}" + "".join(f"{name:>13}" for name in names)
    ratios = [name for name in names if name != "file"] if "file" in names else []
    header += "".join(f"{'file/' + name[:6]:>14}" for name in ratios)
    print()
    print(header)
    print("-" * len(header))
    for key, label in operations:
        row = f"{label:<28}" + "".join(f"{results[n][key] * 1000:>10.1f} ms" for n in names)
        row += "".join(f"{results['file'][key] / results[n][key]:>13.1f}x" for n in ratios)
        print(row)
    print("\n*  the first time-range REPORT of a new Radicale app (new connection pool; file")
    print("   caches kept)")
    print("** the same, and the file storage without its .Radicale.cache, as after copying or")
    print("   importing data; the database has no such cache to lose")
    if "file" in names and "postgresql" in names:
        file, ours = results["file"], results["postgresql"]
        small_ratio = float("nan")
        if args.small_events:
            print(f"\nThe same for {args.small_events} events (time-range REPORT only matters):")
            small_blocks = event_components(args.small_events)
            small = run_all(["file", "postgresql"], whole_calendar(small_blocks), args.repeat)
            small_ratio = small["file"]["report"] / small["postgresql"]["report"]
            print(
                f"  30-day time-range REPORT: file {small['file']['report'] * 1000:.1f} ms, "
                f"postgresql {small['postgresql']['report'] * 1000:.1f} ms ({small_ratio:.1f}x)"
            )
        print(
            f"summary: report_ratio={file['report'] / ours['report']:.1f} "
            f"freebusy_ratio={file['freebusy'] / ours['freebusy']:.1f} "
            f"put_ratio={file['put'] / ours['put']:.1f} "
            f"sync_ratio={file['sync'] / ours['sync']:.1f} "
            f"report_ratio_2000={small_ratio:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
