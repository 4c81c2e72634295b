"""Video: time to first frame for a 1-1 call, direct and relayed, and the relay's
CPU per 1-1 session at its capped resolution.

Starts the real processes on a scratch SQLite database: two ``consult serve``
(one as deployed by default; one whose direct path is forced to fail: relay-only
ICE policy and no TURN server) and ``consult video`` (the aiortc relay). Two
aiortc participants (:class:`video.client.RoomClient`, the same protocol as the
browser page) join a fresh booking's room for each run:

1. direct: time from the second participant's join to the first decoded frame on
   both sides (the later of the two);
2. relayed: the same, which includes the direct attempt timing out
   (``--direct-timeout``), and separately the time from the switch to the relay
   to the first frame;
3. relay CPU: one relayed session sending ``--send-size`` video at 15 fps each
   way; the relay's CPU seconds per second of wall time (from its ``/status``),
   sampled ``--samples`` times, with the frame rate it forwarded.

Everything runs on this 2-core machine, participants included, so the times are
a ceiling and the CPU figure is the relay process alone. Prints medians; asserts
nothing.

    .venv/bin/python bench/video.py [--runs 5] [--samples 3] [--sample-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from accounts.services import Registration, register  # noqa: E402
from booking.models import Booking, Service  # noqa: E402
from consult.config import load_settings  # noqa: E402
from consult.db import utcnow  # noqa: E402
from consult.platform import Platform  # noqa: E402
from runtime.migrate import upgrade  # noqa: E402
from runtime.platform import create_platform  # noqa: E402
from video.client import RoomClient  # noqa: E402
from video.config import VideoConfig  # noqa: E402
from video.tokens import issue_join_token  # noqa: E402

SECRET = "bench-secret-key-" + "x" * 32
CONSULT = Path(sys.executable).with_name("consult")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited:\n{log.read_text()[-2000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not start")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = Path(tempfile.mkdtemp(prefix="consult-bench-video-"))
        self.database_url = f"sqlite:///{self.folder / 'consult.db'}"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.platform: Platform | None = None
        self.relay_url = f"http://127.0.0.1:{free_port()}"
        settings = load_settings(
            config_file=os.devnull,
            environ={},
            overrides={"app": {"secret_key": SECRET}, "video": {"relay_url": self.relay_url}},
        )
        self.config = VideoConfig.from_settings(settings)

    def environ(self, **video: str) -> dict[str, str]:
        return {
            **os.environ,
            "CONSULT_CONFIG": os.devnull,
            "CONSULT_DATA_DIR": str(self.folder),
            "CONSULT_DATABASE_URL": self.database_url,
            "CONSULT_SECRET_KEY": SECRET,
            "CONSULT_APP_AUTO_MIGRATE": "false",
            "CONSULT_APP_LOG_LEVEL": "warning",
            **{f"CONSULT_VIDEO_{key.upper()}": value for key, value in video.items()},
        }

    def start(self, name: str, command: list[str], url: str, environ: dict[str, str]) -> None:
        log = self.folder / f"{name}.log"
        process = subprocess.Popen(
            [str(CONSULT), *command], env=environ, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        wait_until_up(url, process, log)

    def __enter__(self) -> Bench:
        upgrade(sa.create_engine(self.database_url))
        port = self.relay_url.rsplit(":", 1)[1]
        self.start("relay", ["video", "--port", port], self.relay_url + "/status", self.environ())
        self.direct = f"http://127.0.0.1:{free_port()}"
        self.start(
            "direct",
            ["serve", "--port", self.direct.rsplit(":", 1)[1]],
            self.direct,
            self.environ(relay_url=self.relay_url),
        )
        self.relayed = f"http://127.0.0.1:{free_port()}"
        self.start(
            "relayed",
            ["serve", "--port", self.relayed.rsplit(":", 1)[1]],
            self.relayed,
            self.environ(
                relay_url=self.relay_url,
                ice_transport_policy="relay",
                direct_timeout_seconds=str(self.args.direct_timeout),
            ),
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.platform is not None:
            self.platform.shutdown()
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def new_room(self) -> tuple[int, int, int]:
        """A professional, a client and a booking starting now: (booking, pro, client)."""
        if self.platform is None:
            settings = load_settings(config_file=os.devnull, environ=self.environ())
            self.platform = create_platform(settings, "command")
        database = self.platform.database
        tag = secrets.token_hex(4)
        with database.session() as session:
            pro = register(
                session,
                Registration(
                    f"pro-{tag}@example.org", "bench password 1", "Pro", "professional", "UTC"
                ),
            )
            client = register(
                session,
                Registration(
                    f"client-{tag}@example.org", "bench password 1", "Client", "client", "UTC"
                ),
            )
            session.flush()
            service = Service(
                professional_id=pro.id, kind="one_on_one", title="Bench", duration_minutes=50
            )
            session.add(service)
            session.flush()
            start = utcnow()
            booking = Booking(
                service_id=service.id,
                professional_id=pro.id,
                client_id=client.id,
                start=start,
                end=start + timedelta(minutes=50),
                event_uid=f"bench-{tag}",
                event_href=f"bench-{tag}.ics",
            )
            session.add(booking)
            session.flush()
            return booking.id, pro.id, client.id

    def clients(self, base_url: str, size: tuple[int, int]) -> tuple[RoomClient, RoomClient]:
        booking_id, pro_id, client_id = self.new_room()
        url = base_url.replace("http://", "ws://") + f"/ws/rooms/{booking_id}"
        now = utcnow()

        def token(user_id: int, role: Any) -> str:
            return issue_join_token(
                self.config, booking_id=booking_id, user_id=user_id, role=role, now=now
            )

        width, height = size
        return (
            RoomClient(url, token(pro_id, "professional"), width=width, height=height),
            RoomClient(url, token(client_id, "client"), width=width, height=height),
        )

    async def first_frame(self, base_url: str) -> tuple[float, float | None]:
        """Seconds from the second join to the first frame on both sides, and (when
        relayed) from the switch to the relay to that frame."""
        pro, sam = self.clients(base_url, (640, 480))
        try:
            await pro.join()
            joined = time.monotonic()
            await sam.join()
            await asyncio.wait_for(
                asyncio.gather(pro.first_frame.wait(), sam.first_frame.wait()), timeout=120
            )
            last = max(pro.received.first_frame_at or 0, sam.received.first_frame_at or 0)
            switches = [at for at, remote in sam.remote_history if str(remote).startswith("relay-")]
            return last - joined, (last - switches[0]) if switches else None
        finally:
            await sam.close()
            await pro.close()

    def relay_status(self) -> dict[str, Any]:
        response = requests.get(
            f"{self.relay_url}/status",
            headers={"Authorization": f"Bearer {self.config.relay_api_key}"},
            timeout=30,
        )
        return dict(response.json())

    async def relay_cpu(self) -> list[tuple[float, float, int]]:
        """[(CPU seconds per second, forwarded video fps, frame height)] per sample."""
        pro, sam = self.clients(self.relayed, self.args.send_size)
        samples = []
        try:
            await pro.join()
            await sam.join()
            await asyncio.wait_for(
                asyncio.gather(pro.first_frame.wait(), sam.first_frame.wait()), timeout=120
            )
            await asyncio.sleep(3)  # past the first keyframes and bitrate ramp-up
            for _ in range(self.args.samples):
                before, started = self.relay_status(), time.monotonic()
                await asyncio.sleep(self.args.sample_seconds)
                after, elapsed = self.relay_status(), time.monotonic() - started
                cpu = (after["cpu_seconds"] - before["cpu_seconds"]) / elapsed
                # Two directions: frames out per second per direction.
                fps = (after["frames_out"]["video"] - before["frames_out"]["video"]) / elapsed / 2
                height = max((size[1] for size in sam.received.sizes), default=0)
                samples.append((cpu, fps, height))
        finally:
            await sam.close()
            await pro.close()
        return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="calls per path")
    parser.add_argument("--samples", type=int, default=3, help="relay CPU samples")
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--direct-timeout", type=int, default=3)
    parser.add_argument(
        "--send-size", type=lambda v: tuple(int(x) for x in v.split("x")), default=(960, 540)
    )
    args = parser.parse_args()
    with Bench(args) as bench:

        async def run() -> None:
            direct = [(await bench.first_frame(bench.direct))[0] for _ in range(args.runs)]
            relayed = [await bench.first_frame(bench.relayed) for _ in range(args.runs)]
            cpu = await bench.relay_cpu()
            caps = bench.relay_status()["caps"]
            print(
                f"time to first frame, direct:  median {statistics.median(direct):.2f} s "
                f"(runs: {', '.join(f'{v:.2f}' for v in direct)})"
            )
            total = [value for value, _ in relayed]
            after = [value for _, value in relayed if value is not None]
            print(
                f"time to first frame, relayed: median {statistics.median(total):.2f} s "
                "including the failed direct attempt; "
                f"median {statistics.median(after):.2f} s from the switch to the relay"
            )
            print(
                f"relay CPU per 1-1 session at {caps['max_width']}x{caps['max_height']} "
                f"{caps['max_fps']} fps cap (sent {args.send_size[0]}x{args.send_size[1]}): "
                f"median {statistics.median(c for c, _, _ in cpu) * 100:.0f}% of one core, "
                f"{statistics.median(f for _, f, _ in cpu):.1f} fps forwarded per direction, "
                f"frames {max(h for _, _, h in cpu)} px high"
            )

        asyncio.run(run())


if __name__ == "__main__":
    main()
