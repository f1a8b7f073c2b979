"""The real embedded server for cross-process tests: ``manage.py run_embedded`` (local settings, SQLite,
fakeredis, eager Celery, the in-process beat) on a free port and a fresh SQLite file with the demo data.

Tests talk to it only as a mall (signed API) or a browser would; the SQLite file is where they watch the
outcome, or move a deadline as time would. Used by the embedded beat tests and the browser lifecycle walk.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings

from apps.channels.signing import signed_headers

SECRET = "s01c01-demo-secret"
# The environment of this test run that would point the server at real services: dropped, so it is embedded.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "GBM_MQ_URL", "CELERY_TASK_ALWAYS_EAGER",
                     "PROMETHEUS_MULTIPROC_DIR", "EMBEDDED_BEAT", "REDIS_KEY_PREFIX")  # fmt: skip


@dataclass
class Embedded:
    url: str
    db: Path
    log: Path

    def signed(self, path: str, body: dict) -> dict:
        raw = json.dumps({"source": "s01", "channel": "c01", **body}).encode()
        headers = {"Content-Type": "application/json", **signed_headers(SECRET, "POST", path, raw)}
        response = requests.post(self.url + path, data=raw, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def query(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.db, timeout=20) as conn:
            return conn.execute(sql, params).fetchall()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text()[-chars:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(check: Callable[[], bool], *, timeout: float, what: str, server: Embedded, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    pytest.fail(f"{what} did not happen within {timeout} s; server log:\n{server.log_tail()}")


@contextmanager
def embedded_server(base: Path, *, speedup: float, **env: str) -> Iterator[Embedded]:
    """The server under ``base`` (its SQLite file and log), the beat ``speedup`` times as fast; stopped at exit."""
    db, log = base / "db.sqlite3", base / "server.log"
    environ = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{db}",
        EMBEDDED_BEAT_SPEEDUP=str(speedup),
        PYTHONUNBUFFERED="1",
        **env,
    )
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["load_demo"]):
        subprocess.run([*manage, *command], cwd=settings.BASE_DIR, env=environ, check=True, timeout=300,
                       capture_output=True)  # fmt: skip
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([*manage, "run_embedded", f"127.0.0.1:{port}"], cwd=settings.BASE_DIR,
                                   env=environ, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    server = Embedded(url=f"http://127.0.0.1:{port}", db=db, log=log)
    try:

        def up() -> bool:
            try:
                return requests.get(server.url + "/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                assert process.poll() is None, log.read_text()
                return False

        eventually(up, timeout=90, what="the embedded server start", server=server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
