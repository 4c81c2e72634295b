"""Start ``consult video`` (the real relay process) for tests and the benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests


@contextmanager
def relay_process(
    data_dir: Path, secret_key: str, port: int, **video: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``consult video`` on ``port`` with ``[video]`` options from ``video``
    (e.g. ``relay_max_fps="10"``); waits until its control API answers."""
    consult = Path(sys.executable).with_name("consult")
    environ = {
        **os.environ,
        "CONSULT_CONFIG": os.devnull,
        "CONSULT_DATA_DIR": str(data_dir),
        "CONSULT_SECRET_KEY": secret_key,
        **{f"CONSULT_VIDEO_{name.upper()}": value for name, value in video.items()},
    }
    log = open(data_dir / "relay.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(consult), "video", "--host", "127.0.0.1", "--port", str(port)],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"consult video exited: {(data_dir / 'relay.log').read_text()[-2000:]}"
                )
            try:
                if requests.get(f"http://127.0.0.1:{port}/status", timeout=2).status_code == 401:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("consult video did not start within 60 s")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
