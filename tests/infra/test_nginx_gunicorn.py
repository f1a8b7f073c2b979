"""The production shape end to end: gunicorn (docker/gunicorn.conf.py, production settings) behind a real nginx
running docker/nginx/groupbuy.conf, both on loopback, and the signed purchase API driven through the proxy.

gunicorn is a separate process, so it must share this test's database (the pytest test database on MariaDB,
rows committed by a transactional test), Redis database and broker. Celery runs eagerly in gunicorn, so the
after-commit settlement callback is delivered inline, to a receiver this test runs.
"""

import contextlib
import http.client
import http.server
import importlib.util
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.channels.signing import signed_headers
from benchmarks.server import stop_process
from tests.infra.test_deploy_check import database_url

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "docker" / "nginx" / "groupbuy.conf"
GUNICORN_CONF = ROOT / "docker" / "gunicorn.conf.py"
LOOPBACK = "127.0.0.1"

DEMO_SECRET = "s01c01-demo-secret"  # public demo credential, in the test database only
ACTIVITY_ID = 100123
GOODS_ID = "9890001"
TRIAL_PATH = "/api/v1/gbm/index/query_group_buy_market_config"
LOCK_PATH = "/api/v1/gbm/trade/lock_market_pay_order"
SETTLE_PATH = "/api/v1/gbm/trade/settlement_market_pay_order"
PROGRESS_PATH = "/api/v1/gbm/trade/team_progress"

_DROPPED_PREFIXES = ("DJANGO_", "CELERY_", "GUNICORN_", "PROMETHEUS_", "ALIPAY_", "PAYMENT_", "GBM_")
_DROPPED = {
    "DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "REDIS_URL",
    "BROKER_URL",
    "GBM_MQ_URL",
    "TEST_REDIS_DB",
    "REDIS_KEY_PREFIX",
    "DCC_PUBSUB_CHANNEL",
    "CACHE_INVALIDATION_CHANNEL",
}

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def service_missing(reason: str) -> None:
    """The root conftest's rule for tools: skip with the reason, fail when GBM_REQUIRE_SERVICES=1."""
    if os.environ.get("GBM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required tool missing: {reason}", pytrace=False)
    pytest.skip(reason)


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def gunicorn_argv() -> list[str] | None:
    script = Path(sys.executable).parent / "gunicorn"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    if importlib.util.find_spec("gunicorn") is not None:
        return [sys.executable, "-m", "gunicorn"]
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def nginx_config(directory: Path, *, upstream_port: int, listen_port: int) -> Path:
    """A main nginx.conf in ``directory`` that includes a copy of groupbuy.conf, runnable unprivileged on loopback.

    The copy proxies to 127.0.0.1:<upstream_port> instead of web:8000, listens on 127.0.0.1:<listen_port>
    instead of :80, and keeps its logs, pid and temp files in ``directory``.
    """
    conf = NGINX_CONF.read_text()
    conf, upstreams = re.subn(r"\bserver\s+web:8000;", f"server {LOOPBACK}:{upstream_port};", conf)
    conf, listens = re.subn(r"\blisten\s+80\b", f"listen {LOOPBACK}:{listen_port}", conf)
    conf, logs = re.subn(r"/var/log/nginx/", f"{directory}/", conf)
    assert (upstreams, listens, logs) == (1, 1, 2), "groupbuy.conf changed shape: update this helper"
    (directory / "groupbuy.conf").write_text(conf)

    mime_types = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").is_file() else ""
    temp_paths = "\n".join(
        f"{kind}_temp_path {directory}/{kind}_temp;" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would drop to "nobody", which cannot use the private temp directory.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    main = directory / "nginx.conf"
    main.write_text(
        f"{user}\nworker_processes 1;\npid {directory}/nginx.pid;\nerror_log {directory}/error.log;\n"
        f"events {{ worker_connections 256; }}\n"
        f"http {{\n{mime_types}\n{temp_paths}\ninclude {directory}/groupbuy.conf;\n}}\n"
    )
    return main


def _spawn(argv: list[str], *, env: dict[str, str] | None, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,  # its own group: _stop() can end its children too, never pytest
        )


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Response:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> dict:
        return json.loads(self.body)


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> Response:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=15)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def signed(port: int, method: str, path: str, payload: dict | None = None, query: str = "") -> Response:
    """A channel-signed request (the signature covers the path without the query and the exact body bytes)."""
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = signed_headers(DEMO_SECRET, method, path, body)
    if body:
        headers["Content-Type"] = "application/json"
    return request(port, method, f"{path}?{query}" if query else path, body, headers)


def wait_healthy(port: int, processes: dict[str, subprocess.Popen], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes.values()):
            return False
        with contextlib.suppress(OSError, http.client.HTTPException):
            if request(port, "GET", "/healthz").status == 200:
                return True
        time.sleep(0.2)
    return False


class CallbackReceiver(http.server.ThreadingHTTPServer):
    """Collects the settlement callbacks gunicorn sends (HTTP notify) and answers "success"."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.arrived = threading.Event()

        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"headers": dict(self.headers), "body": raw})
                receiver.arrived.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args) -> None:
                pass

        super().__init__((LOOPBACK, 0), Handler)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}/callback"


def gunicorn_environ(metrics_dir: Path) -> dict[str, str]:
    """Production settings on this test's database, Redis database and broker; fresh secrets; no TLS on loopback."""
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES) and key not in _DROPPED
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64)[:64],
        DJANGO_ALLOWED_HOSTS=f"{LOOPBACK},localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        WEIXIN_TOKEN=secrets.token_urlsafe(32),
        DATABASE_URL=database_url(connection.settings_dict),
        DB_CONN_MAX_AGE="0",  # nothing keeps the test database open once a request is done
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=settings.CACHES["default"].get("KEY_PREFIX", ""),
        # This run's pub/sub channels (they span Redis databases): its processes hear each other, no one else.
        DCC_PUBSUB_CHANNEL=settings.DCC_PUBSUB_CHANNEL,
        CACHE_INVALIDATION_CHANNEL=settings.CACHE_INVALIDATION_CHANNEL,
        BROKER_URL=settings.CELERY_BROKER_URL,
        # After-commit tasks (the settlement callback) run inline in gunicorn: no worker to start.
        CELERY_TASK_ALWAYS_EAGER="true",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        LOG_LEVEL="INFO",
        # Production settings' explicit opt-ins (config/guards.py), true of this test alone: the demo data is
        # in its private test database, and nothing is paid (sandbox gateway, a notify URL nobody calls).
        GBM_ALLOW_DEMO_DATA="1",
        PAYMENT_SANDBOX_ALLOWED="1",
        PAYMENT_NOTIFY_BASE_URL="https://localhost",
    )
    return environ


@pytest.fixture
def tools() -> tuple[str, list[str]]:
    nginx = nginx_binary()
    if nginx is None:
        service_missing("nginx is not installed (apt-get install nginx-light)")
    gunicorn = gunicorn_argv()
    if gunicorn is None:
        service_missing("gunicorn is not installed (pip install -r requirements/local.txt)")
    return nginx, gunicorn


@pytest.fixture
def stack(tools, mariadb, real_redis, rabbitmq, tmp_path):
    """gunicorn behind nginx on loopback; yields nginx's port. Both are stopped whatever happens."""
    nginx, gunicorn = tools
    call_command("load_demo")  # committed (transactional test): gunicorn reads the same rows

    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    gunicorn_log = tmp_path / "gunicorn.log"
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    processes: dict[str, subprocess.Popen] = {}
    try:
        gunicorn_port, nginx_port = free_port(), free_port()
        argv = [
            *gunicorn, "-c", str(GUNICORN_CONF),
            "--bind", f"{LOOPBACK}:{gunicorn_port}",
            "--workers", "2",
            "--graceful-timeout", "5",
            "config.wsgi:application",
        ]  # fmt: skip
        processes["gunicorn"] = _spawn(argv, env=gunicorn_environ(metrics_dir), log=gunicorn_log)
        main = nginx_config(nginx_dir, upstream_port=gunicorn_port, listen_port=nginx_port)
        processes["nginx"] = _spawn(
            [nginx, "-e", str(nginx_dir / "startup.log"), "-c", str(main), "-p", str(nginx_dir), "-g", "daemon off;"],
            env=None,
            log=nginx_dir / "stdout.log",
        )
        if not wait_healthy(nginx_port, processes):
            pytest.fail(
                "gunicorn behind nginx did not answer /healthz within 60 s\n"
                f"--- gunicorn ---\n{_tail(gunicorn_log)}\n--- nginx ---\n{_tail(nginx_dir / 'error.log')}\n"
                f"{_tail(nginx_dir / 'startup.log')}\n{_tail(nginx_dir / 'stdout.log')}",
                pytrace=False,
            )
        yield nginx_port
    finally:
        for name in ("nginx", "gunicorn"):
            stop_process(processes.get(name))


@pytest.fixture
def callback_receiver():
    server = CallbackReceiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_purchase_api_through_nginx_and_gunicorn(stack, callback_receiver):
    port = stack
    run = secrets.token_hex(4)
    users = [f"ngx{run}u{i}" for i in range(3)]

    trial = signed(
        port, "POST", TRIAL_PATH, {"userId": users[0], "source": "s01", "channel": "c01", "goodsId": GOODS_ID}
    )
    assert trial.status == 200, trial.body
    assert trial.json()["code"] == "0000", trial.body
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", trial.headers["X-Request-ID"] or "")

    notify = {"notifyType": "HTTP", "notifyUrl": callback_receiver.url}
    team_id = None
    for user in users:
        payload = {
            "userId": user, "activityId": ACTIVITY_ID, "goodsId": GOODS_ID, "source": "s01", "channel": "c01",
            "outTradeNo": f"OTN-{user}", "notifyConfigVO": notify,
        }  # fmt: skip
        if team_id:
            payload["teamId"] = team_id
        lock = signed(port, "POST", LOCK_PATH, payload)
        assert (lock.status, lock.json()["code"]) == (200, "0000"), lock.body
        team_id = team_id or lock.json()["data"]["teamId"]
        assert lock.json()["data"]["teamId"] == team_id

    paid_at = timezone.localtime(timezone.now()).strftime("%Y-%m-%d %H:%M:%S")
    for user in users:
        payload = {"userId": user, "source": "s01", "channel": "c01", "outTradeNo": f"OTN-{user}",
                   "outTradeTime": paid_at}  # fmt: skip
        settle = signed(port, "POST", SETTLE_PATH, payload)
        assert (settle.status, settle.json()["code"]) == (200, "0000"), settle.body

    progress = signed(port, "GET", PROGRESS_PATH, query=f"teamId={team_id}&source=s01&channel=c01")
    assert progress.status == 200, progress.body
    data = progress.json()["data"]
    assert {k: data[k] for k in ("teamId", "status", "targetCount", "lockCount", "completeCount")} == {
        "teamId": team_id, "status": 1, "targetCount": 3, "lockCount": 3, "completeCount": 3,
    }  # fmt: skip

    # The team's completion was committed by gunicorn and its callback ran eagerly there, after the commit.
    assert callback_receiver.arrived.wait(timeout=15), "no settlement callback reached the receiver"
    callback = json.loads(callback_receiver.received[0]["body"])
    assert callback.get("teamId") == team_id, callback


def test_nginx_passes_a_caller_request_id_and_makes_one_otherwise(stack):
    port = stack
    echoed = request(port, "GET", "/healthz", headers={"X-Request-ID": "ngx-test.caller-1"})
    assert (echoed.status, echoed.headers["X-Request-ID"]) == (200, "ngx-test.caller-1")
    made = request(port, "GET", "/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.status == 200
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"] or ""), made.headers
    # The app answers with the same id nginx forwarded (one header, not two).
    assert len(made.headers.get_all("X-Request-ID")) == 1


def test_nginx_answers_an_oversized_api_body_with_a_json_envelope(stack):
    port = stack
    too_large = 10 * 1024 * 1024 + 1  # client_max_body_size 10m
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=15)
    try:
        conn.putrequest("POST", LOCK_PATH)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(too_large))
        conn.putheader("X-Request-ID", "ngx-test-413")
        conn.endheaders()
        # nginx refuses on the Content-Length alone; the start of the body may or may not still be read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.send(b"{" + b" " * 65536)
        response = conn.getresponse()
        status, headers, body = response.status, response.headers, response.read()
    finally:
        conn.close()
    assert status == 413, body
    assert headers["Content-Type"].startswith("application/json"), headers
    assert json.loads(body) == {"code": "0002", "info": "request body too large", "data": None}
    assert headers["X-Request-ID"] == "ngx-test-413"
