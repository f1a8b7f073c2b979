"""A real HTTP receiver on loopback for delivery tests: scripted answers, every request recorded."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    answers: list[tuple[int, str, float]] = field(default_factory=list)  # status, body, delay seconds
    default: tuple[int, str, float] = (200, "success", 0.0)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def next_answer(self) -> tuple[int, str, float]:
        return self.answers.pop(0) if self.answers else self.default


def start_receiver(receiver: Receiver) -> ThreadingHTTPServer:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                receiver.received.append(Received(dict(self.headers.items()), body))
                status, text, delay = receiver.next_answer()
            time.sleep(delay)
            payload = text.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/callback"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
