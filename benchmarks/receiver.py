"""The mall's side of the notify callbacks: an HTTP receiver on loopback, in a thread of the harness.

It answers every POST with 200 ``success`` (what a mall answers when it took the callback) and records when
the request's head had been read, its ``X-GBM-Task`` (the task uuid receivers deduplicate by), whether its
signature verifies with the channel's secret, and the phase named by the URL's last segment. The URL carries
the run id, so a callback of another run (a task left queued by an interrupted run, delivered to a reused
port) is recorded as ``foreign``, never as this run's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from apps.channels.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_callback_signature
from benchmarks.client import LOOPBACK
from benchmarks.scenarios import DEMO_SECRET

TASK_HEADER = "X-GBM-Task"


@dataclass(frozen=True)
class Arrival:
    task: str
    at: float  # time.time() when the request's head had been read
    phase: str  # the last part of the URL path: warmup, measure, or "foreign" (not this run's URL)
    signature_ok: bool


class CallbackReceiver:
    """``with CallbackReceiver(run_id=...) as receiver:`` the mall's callback endpoint, on loopback, in a thread."""

    def __init__(self, *, run_id: str, secret: str = DEMO_SECRET) -> None:
        self.run_id = run_id
        self.secret = secret
        self.port = 0
        self._arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, phase: str) -> str:
        return f"http://{LOOPBACK}:{self.port}/notify/{self.run_id}/{phase}"

    def __enter__(self) -> CallbackReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.record(self.path, self.headers, body, at)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="notify-receiver", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, path: str, headers: Message, body: bytes, at: float) -> None:
        prefix = f"/notify/{self.run_id}/"
        phase = path[len(prefix) :] if path.startswith(prefix) else "foreign"
        signature_ok = verify_callback_signature(
            self.secret, headers.get(TIMESTAMP_HEADER, ""), body, headers.get(SIGNATURE_HEADER)
        )
        with self._lock:
            self._arrivals.append(Arrival(headers.get(TASK_HEADER, ""), at, phase, signature_ok))

    def arrivals(self, phase: str | None = None) -> list[Arrival]:
        with self._lock:
            return [arrival for arrival in self._arrivals if phase is None or arrival.phase == phase]

    def wait_for(self, phase: str, expected: int, *, timeout_s: float) -> bool:
        """Until ``expected`` distinct tasks of ``phase`` arrived (True) or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while len({arrival.task for arrival in self.arrivals(phase)}) < expected:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
