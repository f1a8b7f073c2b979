"""Private service instances the fault suite may kill: a Redis server and a RabbitMQ node of its own.

The shared MariaDB, Redis and RabbitMQ of the machine are never stopped or flushed: the suite starts a
``redis-server`` (no persistence) and a RabbitMQ node (``gbmfaults@localhost``) on free loopback ports, each
in its own process group with a temporary data directory, and kills only those groups. As the harness runs
as root here, the RabbitMQ node runs as the ``rabbitmq`` user (the Erlang cookie and the packaged scripts
expect it); otherwise as the current user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.client import LOOPBACK
from benchmarks.environment import SetupError
from benchmarks.server import free_loopback_port

RABBITMQ_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def port_open(port: int, *, timeout_s: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=timeout_s):
        return True
    return False


def wait_port(port: int, *, up: bool, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(port) == up:
            return True
        time.sleep(0.2)
    return False


def kill_group(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGKILL, *, wait_s: float = 15.0) -> None:
    """``sig`` to the process's whole group (ours: started with ``process_group=0``), then reap it."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


class PrivateRedis:
    """``redis-server`` on a free loopback port without persistence: a restart loses every key."""

    def __init__(self) -> None:
        self.port = free_loopback_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="gbm-faults-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SetupError("redis-server is not installed")
        argv = [binary, "--port", str(self.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--dir", self._tmp.name]  # fmt: skip
        with (Path(self._tmp.name) / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, process_group=0
            )
        if not wait_port(self.port, up=True, timeout_s=10):
            raise SetupError(f"private redis-server did not listen on {self.port}")

    def kill(self) -> None:
        kill_group(self._process, signal.SIGKILL)
        self._process = None

    def stop(self) -> None:
        self.kill()
        self._tmp.cleanup()


class PrivateRabbitMQ:
    """A RabbitMQ node of its own (``gbmfaults@localhost``), started fresh, stopped gracefully on ``stop_node``."""

    def __init__(self) -> None:
        self.port = free_loopback_port()
        self.dist_port = free_loopback_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="gbm-faults-rabbitmq-")
        self._process: subprocess.Popen[bytes] | None = None
        base = Path(self._tmp.name)
        (base / "mnesia").mkdir()
        (base / "log").mkdir()
        (base / "enabled_plugins").write_text("[].\n")
        self._user = None
        if os.geteuid() == 0:
            with contextlib.suppress(KeyError):
                self._user = pwd.getpwnam("rabbitmq")
        if self._user is not None:
            os.chmod(base, 0o755)  # noqa: S103 - a temporary directory the rabbitmq user must enter
            for path in (base, *base.rglob("*")):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{LOOPBACK}:{self.port}//"

    def start(self, *, timeout_s: float = 60.0) -> None:
        script = RABBITMQ_SCRIPT if RABBITMQ_SCRIPT.exists() else shutil.which("rabbitmq-server")
        if script is None:
            raise SetupError("rabbitmq-server is not installed")
        base = Path(self._tmp.name)
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": self._user.pw_dir if self._user else os.environ.get("HOME", str(base)),
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": "gbmfaults@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        }
        with (base / "out.log").open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - the packaged start script
                [str(script)], cwd=base, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                process_group=0, user=self._user.pw_uid if self._user else None,
                group=self._user.pw_gid if self._user else None,
            )  # fmt: skip
        if not wait_port(self.port, up=True, timeout_s=timeout_s):
            tail = (base / "out.log").read_text(errors="replace")[-2000:]
            self.kill()
            raise SetupError(f"private RabbitMQ did not listen on {self.port}:\n{tail}")

    def stop_node(self) -> None:
        """Graceful stop (SIGTERM: the script stops the node; durable queues and persistent messages survive)."""
        kill_group(self._process, signal.SIGTERM, wait_s=30)
        self._process = None
        wait_port(self.port, up=False, timeout_s=10)

    def kill(self) -> None:
        kill_group(self._process, signal.SIGKILL)
        self._process = None

    def stop(self) -> None:
        self.stop_node()
        self._tmp.cleanup()
