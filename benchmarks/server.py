"""The server under test: gunicorn with the container's config (``docker/gunicorn.conf.py``) on a free loopback port.

The image's config is used as is (gthread workers, timeouts, no access log since nginx logs every request,
Prometheus multiprocess metrics), so the bench measures what ships. The command line
overrides only what a benchmark must pin: the address, the worker count/class/threads, no worker
recycling (``max_requests`` restarts a worker every ~2,000 requests, i.e. every few seconds here, and each
restart's import time would land in the measurement), and no control socket (gunicorn's default path is
shared by every gunicorn of the user).

The server runs in its own process group and is stopped on every exit path: ``stop()`` from the context
manager (errors and Ctrl-C included) and, should the harness itself be killed, the kernel's parent-death
signal. So does the Celery worker the notify suite needs (``CeleryWorker``), with the server's environment.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from benchmarks.client import LOOPBACK
from benchmarks.cpu import children
from benchmarks.environment import REPO_ROOT, BenchEnvironment, SetupError

GUNICORN_CONFIG = REPO_ROOT / "docker" / "gunicorn.conf.py"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ServerOptions:
    workers: int = 2
    worker_class: str = "gthread"
    threads: int = 4
    start_timeout_s: float = 60.0
    # The bench serves benchmarks.wsgi (the product's application plus the bare yardstick view); others the product.
    app: str = "config.wsgi:application"

    def describe(self) -> dict[str, object]:
        return {
            "server": "gunicorn",
            "app": self.app,
            "config": str(GUNICORN_CONFIG.relative_to(REPO_ROOT)),
            "workers": self.workers,
            "worker_class": self.worker_class,
            "threads": self.threads if self.worker_class == "gthread" else 1,
            "max_requests": 0,
        }


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM gunicorn if the harness dies, even by SIGKILL (Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class GunicornServer:
    """``with GunicornServer(env, options) as server:`` serves on ``127.0.0.1:server.port`` until the block ends."""

    def __init__(self, env: BenchEnvironment, options: ServerOptions) -> None:
        self.env = env
        self.options = options
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="gbm-bench-")
        self.log_path = Path(self._tmp.name) / "gunicorn.log"

    def __enter__(self) -> GunicornServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        # A port found free can be taken before gunicorn binds it: try another one then.
        for _attempt in range(3):
            self.port = free_loopback_port()
            self._spawn()
            if self._wait_ready():
                return
            self.stop(cleanup=False)
        raise SetupError(f"gunicorn did not start; its log ends with:\n{self.log_tail()}")

    def _spawn(self) -> None:
        tmp = Path(self._tmp.name)
        metrics_dir = tmp / "prometheus"
        metrics_dir.mkdir(exist_ok=True)
        opts = self.options
        argv = [
            sys.executable, "-m", "gunicorn",
            "--config", str(GUNICORN_CONFIG),
            "--bind", f"{LOOPBACK}:{self.port}",
            "--workers", str(opts.workers),
            "--worker-class", opts.worker_class,
            # gunicorn turns "sync" with threads > 1 into gthread: pin 1 so the class asked for is the one run.
            "--threads", str(opts.threads if opts.worker_class == "gthread" else 1),
            "--max-requests", "0",
            "--graceful-timeout", "5",
            "--no-control-socket",
            opts.app,
        ]  # fmt: skip
        env = self.env.django_environ(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
        self._process = _spawn(argv, env, self.log_path)

    def _wait_ready(self) -> bool:
        """Poll ``/healthz`` until it answers 200, the process exits, or the start timeout passes."""
        assert self._process is not None
        deadline = time.monotonic() + self.options.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return True
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.2)
        return False

    def stop(self, *, cleanup: bool = True) -> None:
        """SIGTERM (graceful: gunicorn ends its workers first), SIGKILL to the whole group after 10 s. Idempotent."""
        process, self._process = self._process, None
        stop_process(process)
        if cleanup:
            self._tmp.cleanup()

    def pids(self) -> list[int]:
        if self._process is None:
            return []
        return [self._process.pid, *children(self._process.pid)]

    def worker_pids(self) -> list[int]:
        return self.pids()[1:]

    def log_tail(self, lines: int = 30) -> str:
        return _log_tail(self.log_path, lines)


def _spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter's gunicorn or celery
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,  # its own group: stop_process() can end its children too, never the harness
            preexec_fn=_die_with_parent,  # the harness is single-threaded here, as preexec_fn requires
        )


def stop_process(process: subprocess.Popen | None, *, grace_s: float = 10.0) -> None:
    """SIGTERM to the process (which ends its children), SIGKILL to its whole group after ``grace_s``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        # The parent is not reaped yet, so its process group id still names our processes only.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _log_tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class CeleryWorker:
    """``with CeleryWorker(env, name=...) as worker:`` a Celery worker consuming the bench's queue until the block ends.

    The command of the brief (``celery -A config.celery_app worker -l warning --concurrency 2``) with the
    bench's queue (``benchmarks/settings.py``), a node name of its own, and none of the chatter between
    workers (gossip, mingle, heartbeat): they only slow its start and would talk to other users' workers.
    Readiness is not polled here: the notify suite's warm-up waits until the worker has delivered.
    """

    def __init__(self, env: BenchEnvironment, *, name: str, concurrency: int = 2) -> None:
        self.env = env
        self.name = name
        self.concurrency = concurrency
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="gbm-bench-celery-")
        self.log_path = Path(self._tmp.name) / "celery.log"

    def __enter__(self) -> CeleryWorker:
        argv = [
            sys.executable, "-m", "celery", "-A", "config.celery_app", "worker",
            "--loglevel", "warning",
            "--concurrency", str(self.concurrency),
            "--queues", self.env.queue,
            "--hostname", f"{self.name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        try:
            self._process = _spawn(argv, self.env.django_environ(), self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def describe(self) -> dict[str, object]:
        return {
            "worker": "celery prefork",
            "concurrency": self.concurrency,
            "queue": self.env.queue,
            "loglevel": "warning",
        }

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def pids(self) -> list[int]:
        if self._process is None:
            return []
        return [self._process.pid, *children(self._process.pid)]

    def stop(self) -> None:
        """Warm shutdown (running tasks finish), SIGKILL to the group after 10 s. Idempotent."""
        process, self._process = self._process, None
        stop_process(process)
        self._tmp.cleanup()

    def log_tail(self, lines: int = 30) -> str:
        return _log_tail(self.log_path, lines)
