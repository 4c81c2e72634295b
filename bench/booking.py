"""Bookings per second through the API against PostgreSQL, and the race.

Starts the app the production way (gunicorn, gthread workers) on a scratch
PostgreSQL database, creates professionals with open hours and a 30-minute
service, then:

1. throughput: several client threads book distinct free slots through
   ``POST /api/v1/bookings`` (each request re-checks busy time, writes the
   booking row and its CalDAV event in one transaction); prints bookings/s and
   p50/p95 latency;
2. the race: 100 concurrent attempts on one slot; prints how many succeeded
   (it must be 1).

Jobs go to Redis (``--redis-url``, a database flushed at the end) as in production,
where ``consult worker`` processes send the emails elsewhere; no worker runs here.
The load generator runs on the same 2-core machine as the server, so the figure
is a floor. Prints, asserts nothing.

    .venv/bin/python bench/booking.py [--runs 3] [--workers 12] [--threads-per-worker 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.migrate import upgrade  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "CONSULT_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECRET = "bench-secret-key-" + "x" * 32
ZONE = "Europe/Berlin"
PASSWORD = "benchmark password"
HOURS = {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.name = f"consult_bench_booking_{os.getpid()}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.data_dir = Path(tempfile.mkdtemp(prefix="consult-bench-"))

    def __enter__(self) -> Bench:
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        engine = sa.create_engine(self.url)
        upgrade(engine)
        engine.dispose()
        env = {
            **os.environ,
            "CONSULT_CONFIG": os.devnull,
            "CONSULT_DATABASE_URL": self.url,
            "CONSULT_DATA_DIR": str(self.data_dir),
            "CONSULT_SECRET_KEY": SECRET,
            "CONSULT_BASE_URL": self.base,
            "CONSULT_APP_AUTO_MIGRATE": "false",
            "CONSULT_APP_LOG_LEVEL": "warning",
            # Production shape: jobs (emails, reminders) go to Redis for `consult worker`
            # processes elsewhere; none runs here, so the web tier is measured alone.
            "CONSULT_REDIS_URL": self.args.redis_url,
            # The benchmark signs in many accounts from one address.
            "CONSULT_AUTH_MAX_FAILURES_PER_IP": "100000",
        }
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.process = subprocess.Popen(
            [
                gunicorn,
                "--workers",
                str(self.args.workers),
                "--threads",
                str(self.args.threads_per_worker),
                "--worker-class",
                "gthread",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "runtime:create_app()",
            ],
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(self.base + "/", timeout=5)
                break
            except requests.RequestException:  # not listening yet, or still starting
                time.sleep(0.3)
        else:
            raise SystemExit("gunicorn did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        import redis

        redis.Redis.from_url(self.args.redis_url).flushdb()
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    # --- setup through the API ---------------------------------------------------------

    def account(self, role: str, index: int) -> dict[str, str]:
        email = f"{role}{index}@bench.example"
        response = requests.post(
            self.base + "/api/v1/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "name": f"{role} {index}",
                "role": role,
                "timezone": ZONE,
            },
            timeout=30,
        )
        assert response.status_code == 201, response.text
        token = requests.post(
            self.base + "/api/v1/auth/token",
            json={"email": email, "password": PASSWORD},
            timeout=30,
        ).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def professional(self, index: int) -> int:
        headers = self.account("professional", index)
        response = requests.put(
            self.base + "/api/v1/availability",
            json={"timezone": ZONE, "weekly": HOURS, "overrides": []},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        service = requests.post(
            self.base + "/api/v1/services",
            json={
                "kind": "one_on_one",
                "title": "Consultation",
                "duration_minutes": 30,
                "price": {"amount": 0, "currency": "EUR"},
                "horizon_days": 365,
            },
            headers=headers,
            timeout=30,
        )
        assert service.status_code == 201, service.text
        return int(service.json()["id"])


def slot_starts(first_day: date, days: int) -> list[str]:
    zone = ZoneInfo(ZONE)
    starts = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for slot in range(24):
            moment = datetime(day.year, day.month, day.day, 8, tzinfo=zone) + timedelta(
                minutes=30 * slot
            )
            starts.append(moment.isoformat())
    return starts


Figures = tuple[float, float, float]  # bookings/s, p50 ms, p95 ms


def throughput(
    bench: Bench,
    services: list[int],
    clients: list[dict[str, str]],
    total: int,
    threads: int,
    first_day: date,
) -> Figures:
    days = -(-total // (len(services) * 24)) + 1
    starts = slot_starts(first_day, days)
    jobs = [
        (services[i % len(services)], starts[i // len(services)], clients[i % len(clients)])
        for i in range(total)
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def run(job: tuple[int, str, dict[str, str]]) -> None:
        service_id, start, headers = job
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        began = time.perf_counter()
        response = session.post(
            bench.base + "/api/v1/bookings",
            json={"service_id": service_id, "start": start},
            headers=headers,
            timeout=60,
        )
        elapsed = time.perf_counter() - began
        with lock:
            latencies.append(elapsed)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, jobs))
    wall = time.perf_counter() - began
    ok = statuses.get(201, 0)
    print(
        f"bookings: {total} requests from {threads} client threads, {len(services)} professionals"
    )
    print(f"  status codes: {dict(sorted(statuses.items()))}")
    p50, p95 = statistics.median(latencies) * 1000, percentile(latencies, 0.95) * 1000
    print(f"  throughput: {ok / wall:.1f} bookings/s ({wall:.1f} s wall)")
    print(f"  latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return ok / wall, p50, p95


WRK_SCRIPT = r"""
-- One booking request per line of the jobs file (service id, start, bearer token),
-- split between wrk's threads; every response's status is counted.
local jobs, counter, threads = {}, 0, {}
for line in io.lines(os.getenv("BENCH_JOBS")) do
  local service, start, token = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)")
  jobs[#jobs + 1] = {service, start, token}
end
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  index = id + 1
  statuses = {}
end
function request()
  local job = jobs[index]
  if job == nil then
    return wrk.format("GET", "/api/v1/nothing")  -- out of jobs: a cheap 404, not counted
  end
  index = index + #threads_count
  local body = '{"service_id": ' .. job[1] .. ', "start": "' .. job[2] .. '"}'
  return wrk.format("POST", "/api/v1/bookings",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. job[3]}, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do io.write(string.format("status %d %d\n", status, n)) end
  end
  io.write(string.format("latency_p50_us %d\nlatency_p95_us %d\n",
    latency:percentile(50), latency:percentile(95)))
end
"""


def throughput_wrk(
    bench: Bench,
    services: list[int],
    clients: list[dict[str, str]],
    seconds: int,
    connections: int,
    first_day: date,
) -> Figures:
    """The same load driven by wrk (C, a fraction of a core) for ``seconds``, so the
    server gets the machine: the figure that says what the web tier can do here.
    Every request books a distinct free slot (more than can be booked in the time)."""
    total = seconds * 250
    days = -(-total // (len(services) * 24)) + 1
    starts = slot_starts(first_day, days)
    workdir = Path(tempfile.mkdtemp(prefix="consult-wrk-"))
    jobs = workdir / "jobs.tsv"
    with jobs.open("w") as handle:
        for i in range(total):
            token = clients[i % len(clients)]["Authorization"].split()[1]
            handle.write(f"{services[i % len(services)]}\t{starts[i // len(services)]}\t{token}\n")
    script = workdir / "book.lua"
    script.write_text(WRK_SCRIPT.replace("#threads_count", "2"))
    began = time.perf_counter()
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            bench.base,
        ],
        env={**os.environ, "BENCH_JOBS": str(jobs)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    statuses: dict[int, int] = {}
    p50 = p95 = 0.0
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["status"]:
            statuses[int(parts[1])] = statuses.get(int(parts[1]), 0) + int(parts[2])
        elif parts[:1] == ["latency_p50_us"]:
            p50 = int(parts[1]) / 1000
        elif parts[:1] == ["latency_p95_us"]:
            p95 = int(parts[1]) / 1000
    wall = _wrk_seconds(result.stdout) or (time.perf_counter() - began)
    ok = statuses.get(201, 0)
    if statuses.get(404):
        print("  (ran out of prepared slots: raise the job count)")
    print(f"bookings (wrk, {connections} connections, {seconds} s, {len(services)} professionals)")
    print(f"  status codes: {dict(sorted(statuses.items()))}")
    print(f"  throughput: {ok / wall:.1f} bookings/s ({wall:.1f} s)")
    print(f"  latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return ok / wall, p50, p95


def _wrk_seconds(output: str) -> float | None:
    for line in output.splitlines():
        if " requests in " in line:
            text = line.split(" requests in ", 1)[1].split(",", 1)[0].strip()
            for unit, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
                if text.endswith(unit):
                    return float(text[: -len(unit)]) * factor
    return None


def race(bench: Bench, service_id: int, clients: list[dict[str, str]], attempts: int) -> None:
    start = slot_starts(date.today() + timedelta(days=300), 1)[5]
    barrier = threading.Barrier(attempts)

    def attempt(headers: dict[str, str]) -> int:
        barrier.wait()
        return requests.post(
            bench.base + "/api/v1/bookings",
            json={"service_id": service_id, "start": start},
            headers=headers,
            timeout=120,
        ).status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        results = list(pool.map(attempt, [clients[i % len(clients)] for i in range(attempts)]))
    won, refused = results.count(201), results.count(409)
    print(
        f"race: {attempts} concurrent attempts on one slot -> {won} succeeded, "
        f"{refused} got 409, others {len(results) - won - refused}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16, help="python driver threads")
    parser.add_argument(
        "--driver",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (Debian package, C) or Python threads",
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--seconds", type=int, default=20, help="wrk run length")
    # One thread per process measured fastest here (no GIL hand-offs between
    # requests); see the README on sizing gunicorn with video calls in mind.
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3, help="throughput runs (median printed)")
    parser.add_argument("--professionals", type=int, default=10)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--race", type=int, default=100)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    with Bench(args) as bench:
        services = [bench.professional(i) for i in range(args.professionals)]
        clients = [bench.account("client", i) for i in range(args.clients)]
        print(
            f"gunicorn: {args.workers} workers x {args.threads_per_worker} threads, "
            f"PostgreSQL, {os.cpu_count()} cores"
        )
        runs: list[Figures] = []
        for run in range(args.runs):
            # Each run books its own days (a run books at most ~5,000 slots: 21 days).
            first_day = date.today() + timedelta(days=2 + 25 * run)
            if args.driver == "wrk":
                runs.append(
                    throughput_wrk(
                        bench, services, clients, args.seconds, args.connections, first_day
                    )
                )
            else:
                runs.append(
                    throughput(bench, services, clients, args.bookings, args.threads, first_day)
                )
        rates, p50s, p95s = zip(*runs, strict=True)
        print(
            f"median of {len(runs)} runs: {statistics.median(rates):.1f} bookings/s, "
            f"p50 {statistics.median(p50s):.1f} ms, p95 {statistics.median(p95s):.1f} ms "
            "(target: at least 100 bookings/s)"
        )
        race(bench, services[0], clients, args.race)


if __name__ == "__main__":
    main()
