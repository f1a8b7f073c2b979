"""Several web nodes: two gunicorn instances (production settings) behind one nginx upstream, sharing MariaDB (the
pytest test database), Redis and the broker, as a scaled-out deployment runs them (issue 18, point 4).

The races of the purchase API are run across both nodes through the proxy, with threads: the lock race (0
oversell), the settle race and the refund race (0 double settle or refund). Configuration changes made through one
node reach the other within a second: a DCC switch (published on Redis pub/sub) and a SKU price saved in node A's
admin (its cache invalidation, broadcast on pub/sub, empties node B's in-process cache).

Which node answered is visible only to this test: its nginx copy adds ``X-Test-Upstream: $upstream_addr`` (no
product change). Both nodes listen on this run's own pub/sub channels (``gunicorn_environ``).
"""

import http.cookies
import json
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings, settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.accounts.tests.factories import StaffFactory
from apps.activities.models import Sku
from apps.common.mq import TEAM_REFUND
from apps.notifications.consumers import message_apply
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team
from apps.trade.tests.helpers import TeamStock, team_stock_read
from apps.trade.tests.invariants import assert_trade_invariants
from benchmarks.server import stop_process
from tests.infra.test_nginx_gunicorn import (
    ACTIVITY_ID,
    GOODS_ID,
    GUNICORN_CONF,
    LOCK_PATH,
    LOOPBACK,
    SETTLE_PATH,
    TRIAL_PATH,
    Response,
    _spawn,
    _tail,
    callback_receiver,  # noqa: F401 - a fixture this module's tests use
    free_port,
    gunicorn_argv,
    gunicorn_environ,
    nginx_binary,
    nginx_config,
    request,
    service_missing,
    signed,
    wait_healthy,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

REFUND_PATH = "/api/v1/gbm/trade/refund_market_pay_order"
DCC_UPDATE_PATH = "/api/v1/gbm/dcc/update_config"
UPSTREAM_HEADER = "X-Test-Upstream"
PROPAGATION_LIMIT_S = 1.0
RACERS = 30


class Nodes:
    """The running stack: nginx's port and each gunicorn node's own port (A first)."""

    def __init__(self, proxy: int, node_ports: list[int]) -> None:
        self.proxy = proxy
        self.node_ports = node_ports

    def upstream(self, response: Response) -> int:
        """The node that answered a proxied request (nginx's $upstream_addr, ``127.0.0.1:<port>``)."""
        addr = response.headers[UPSTREAM_HEADER] or ""
        return int(addr.rsplit(":", 1)[1])


def two_upstreams_config(directory: Path, *, node_ports: list[int], listen_port: int) -> Path:
    """``nginx_config`` with both nodes in the upstream, and the answering node named in a header."""
    main = nginx_config(directory, upstream_port=node_ports[0], listen_port=listen_port)
    conf_path = directory / "groupbuy.conf"
    conf = conf_path.read_text()
    one = f"server {LOOPBACK}:{node_ports[0]};"
    both = " ".join(f"server {LOOPBACK}:{port};" for port in node_ports)
    marker = "add_header X-Request-ID $groupbuy_request_id always;"
    assert conf.count(one) == 1 and conf.count(marker) == 1, "groupbuy.conf changed shape: update this helper"
    conf = conf.replace(one, both).replace(marker, f"{marker}\n    add_header {UPSTREAM_HEADER} $upstream_addr always;")
    conf_path.write_text(conf)
    return main


@pytest.fixture(scope="module")
def node_processes(django_db_setup, tmp_path_factory):
    """Two gunicorn nodes behind nginx on loopback, started once for the module (each start costs seconds of CPU):
    they keep no state of their own between tests but memory, which the tests' writes invalidate like any other."""
    nginx, gunicorn = nginx_binary(), gunicorn_argv()
    if nginx is None or gunicorn is None:
        service_missing("nginx and gunicorn must be installed (nginx-light; requirements/local.txt)")
    if connection.vendor != "mysql" or settings.REDIS_EMBEDDED or settings.BROKER_EMBEDDED:
        service_missing("two web nodes share a real MariaDB, Redis and RabbitMQ (set DATABASE_URL, REDIS_URL, ...)")

    directory = tmp_path_factory.mktemp("web-nodes")
    processes: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    nginx_dir = directory / "nginx"
    nginx_dir.mkdir()
    try:
        node_ports, proxy_port = [free_port(), free_port()], free_port()
        for name, port in zip("ab", node_ports, strict=True):
            metrics_dir = directory / f"prometheus-{name}"  # gunicorn empties it at start: one per node
            metrics_dir.mkdir()
            logs[name] = directory / f"gunicorn-{name}.log"
            argv = [
                *gunicorn, "-c", str(GUNICORN_CONF),
                "--bind", f"{LOOPBACK}:{port}",
                "--workers", "2",
                "--graceful-timeout", "5",
                "config.wsgi:application",
            ]  # fmt: skip
            processes[name] = _spawn(argv, env=gunicorn_environ(metrics_dir), log=logs[name])
        main = two_upstreams_config(nginx_dir, node_ports=node_ports, listen_port=proxy_port)
        processes["nginx"] = _spawn(
            [nginx, "-e", str(nginx_dir / "startup.log"), "-c", str(main), "-p", str(nginx_dir), "-g", "daemon off;"],
            env=None,
            log=nginx_dir / "stdout.log",
        )
        ready = all(wait_healthy(port, processes) for port in [*node_ports, proxy_port])
        if not ready:
            pytest.fail(
                "two gunicorn nodes behind nginx did not answer /healthz within 60 s\n"
                f"--- node a ---\n{_tail(logs['a'])}\n--- node b ---\n{_tail(logs['b'])}\n"
                f"--- nginx ---\n{_tail(nginx_dir / 'error.log')}\n{_tail(nginx_dir / 'startup.log')}",
                pytrace=False,
            )
        yield Nodes(proxy_port, node_ports)
    finally:
        for name in ("nginx", "a", "b"):
            stop_process(processes.get(name))


@pytest.fixture
def nodes(node_processes, mariadb, real_redis, rabbitmq):
    """The running nodes, with the demo data committed (transactional test) for both to read. Loading it saves the
    SKUs and activities, whose invalidations reach the nodes: nothing a previous test left in their memory stays."""
    call_command("load_demo")
    return node_processes


def race(count: int, call: Callable[[int], Response]) -> list[Response]:
    """``count`` calls at once (started together behind a barrier), answers in call order."""
    barrier = threading.Barrier(count)

    def run(i: int) -> Response:
        barrier.wait(timeout=30)
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def lock_payload(user: str, *, team_id: str | None = None, notify_url: str = "") -> dict[str, Any]:
    payload: dict[str, Any] = {
        "userId": user, "activityId": ACTIVITY_ID, "goodsId": GOODS_ID, "source": "s01", "channel": "c01",
        "outTradeNo": f"OTN-{user}",
    }  # fmt: skip
    if notify_url:
        payload["notifyConfigVO"] = {"notifyType": "HTTP", "notifyUrl": notify_url}
    if team_id:
        payload["teamId"] = team_id
    return payload


def lock(port: int, user: str, *, team_id: str | None = None, notify_url: str = "") -> str:
    """Lock one order (must succeed); its team id."""
    answer = signed(port, "POST", LOCK_PATH, lock_payload(user, team_id=team_id, notify_url=notify_url))
    assert (answer.status, answer.json()["code"]) == (200, "0000"), answer.body
    return answer.json()["data"]["teamId"]


def settle_payload(user: str) -> dict[str, str]:
    paid_at = timezone.localtime(timezone.now()).strftime("%Y-%m-%d %H:%M:%S")
    return {"userId": user, "source": "s01", "channel": "c01", "outTradeNo": f"OTN-{user}", "outTradeTime": paid_at}


def settle(port: int, user: str) -> None:
    answer = signed(port, "POST", SETTLE_PATH, settle_payload(user))
    assert (answer.status, answer.json()["code"]) == (200, "0000"), answer.body


def refund_payload(user: str) -> dict[str, str]:
    return {"userId": user, "source": "s01", "channel": "c01", "outTradeNo": f"OTN-{user}"}


def codes(answers: list[Response]) -> Counter:
    assert all(answer.status == 200 for answer in answers), [(a.status, a.body) for a in answers if a.status != 200]
    return Counter(answer.json()["code"] for answer in answers)


def assert_both_nodes_served(nodes: Nodes, answers: list[Response]) -> None:
    served = Counter(nodes.upstream(answer) for answer in answers)
    assert set(served) == set(nodes.node_ports), served


def test_the_lock_race_across_two_nodes_never_oversells(nodes):
    run = secrets.token_hex(3)
    team_id = lock(nodes.proxy, f"ln{run}L")  # the leader: 3 seats, 2 left
    answers = race(
        RACERS, lambda i: signed(nodes.proxy, "POST", LOCK_PATH, lock_payload(f"ln{run}j{i}", team_id=team_id))
    )

    assert_both_nodes_served(nodes, answers)
    assert codes(answers) == Counter({"0000": 2, "E0006": RACERS - 2})
    team = Team.objects.get(team_id=team_id)
    assert (team.lock_count, team.target_count) == (3, 3)
    assert Order.objects.filter(team_id=team_id).count() == 3
    assert team_stock_read(team_id=team_id).joiners() == 2
    assert_trade_invariants()


def test_the_settle_race_across_two_nodes_completes_the_team_once(nodes, callback_receiver):  # noqa: F811
    run = secrets.token_hex(3)
    users = [f"sn{run}u{i}" for i in range(3)]
    team_id = lock(nodes.proxy, users[0], notify_url=callback_receiver.url)
    for user in users[1:]:
        lock(nodes.proxy, user, team_id=team_id, notify_url=callback_receiver.url)
    for user in users[:2]:
        settle(nodes.proxy, user)

    # The last payment's notice arrives at both nodes at once, several times (a gateway retrying).
    answers = race(10, lambda i: signed(nodes.proxy, "POST", SETTLE_PATH, settle_payload(users[2])))

    assert_both_nodes_served(nodes, answers)
    assert codes(answers) == Counter({"0000": 10})  # repeating a settlement answers the same data
    assert {json.dumps(answer.json()["data"], sort_keys=True) for answer in answers} == {
        json.dumps({"userId": users[2], "teamId": team_id, "activityId": ACTIVITY_ID, "outTradeNo": f"OTN-{users[2]}"},
                   sort_keys=True)
    }  # fmt: skip
    team = Team.objects.get(team_id=team_id)
    assert (team.status, team.complete_count) == (Team.Status.COMPLETE, 3)
    assert Order.objects.filter(team_id=team_id, status=Order.Status.PAID).count() == 3
    outbox = NotifyTask.objects.filter(team_id=team_id)
    assert [task.notify_category for task in outbox] == [NotifyTask.Category.TRADE_SETTLEMENT]
    assert callback_receiver.arrived.wait(timeout=15), "no settlement callback reached the receiver"
    time.sleep(0.5)  # a second delivery, were there one, would come right after the first
    assert len(callback_receiver.received) == 1, callback_receiver.received
    assert_trade_invariants()


def test_the_refund_race_across_two_nodes_refunds_once(nodes, callback_receiver):  # noqa: F811
    run = secrets.token_hex(3)
    leader, paid, unpaid = (f"rn{run}{who}" for who in ("L", "P", "U"))
    team_id = lock(nodes.proxy, leader, notify_url=callback_receiver.url)
    for user in (paid, unpaid):
        lock(nodes.proxy, user, team_id=team_id, notify_url=callback_receiver.url)
    settle(nodes.proxy, paid)

    # Each order refunded 8 times at once through both nodes: a paid one (money back) and a locked one (seat back).
    users = [paid, unpaid] * 8
    answers = race(len(users), lambda i: signed(nodes.proxy, "POST", REFUND_PATH, refund_payload(users[i])))

    assert_both_nodes_served(nodes, answers)
    assert codes(answers) == Counter({"0000": len(users)}), [a.body for a in answers]
    for user in (paid, unpaid):
        outcomes = Counter(a.json()["data"]["code"] for a, u in zip(answers, users, strict=True) if u == user)
        assert outcomes == Counter({"success": 1, "repeat": 7}), (user, outcomes)
    assert set(Order.objects.filter(team_id=team_id).values_list("out_trade_no", "status")) == {
        (f"OTN-{leader}", Order.Status.LOCKED), (f"OTN-{paid}", Order.Status.REFUNDED),
        (f"OTN-{unpaid}", Order.Status.REFUNDED),
    }  # fmt: skip
    team = Team.objects.get(team_id=team_id)
    assert (team.lock_count, team.complete_count) == (1, 0)
    # One callback and one bus message per refunded order, whichever node answered first.
    outbox = Counter(NotifyTask.objects.filter(team_id=team_id).values_list("notify_category", "notify_type"))
    assert outbox == Counter({
        (NotifyTask.Category.TRADE_PAID2REFUND, "HTTP"): 1, (NotifyTask.Category.TRADE_PAID2REFUND, "MQ"): 1,
        (NotifyTask.Category.TRADE_UNPAID2REFUND, "HTTP"): 1, (NotifyTask.Category.TRADE_UNPAID2REFUND, "MQ"): 1,
    })  # fmt: skip
    # The seats come back when the bus consumer applies those messages (no consumer runs here): once each, even
    # when a message is delivered twice.
    for _ in range(2):
        for task in NotifyTask.objects.filter(team_id=team_id, notify_type="MQ", notify_mq=TEAM_REFUND):
            message_apply(routing_key=TEAM_REFUND, message_uuid=str(task.uuid), body=task.parameter_json)
    assert team_stock_read(team_id=team_id) == TeamStock(occupied=2, recovered=2)
    assert_trade_invariants()


def trial(port: int) -> dict[str, Any]:
    """A trial answer from one node (a fresh user each time: trials are rate limited per user)."""
    payload = {"userId": f"tr{secrets.token_hex(4)}", "source": "s01", "channel": "c01", "goodsId": GOODS_ID}
    answer = signed(port, "POST", TRIAL_PATH, payload)
    assert answer.status == 200, answer.body
    return answer.json()


def seen_within(limit_s: float, since: float, probe: Callable[[], bool], *, then_stable: int = 6) -> float:
    """Seconds from ``since`` until ``probe`` first holds (polled), failing past ``limit_s``; it must then hold for
    ``then_stable`` more answers (each new connection may reach either of the node's workers)."""
    while True:
        if probe():
            took = time.monotonic() - since
            break
        assert time.monotonic() - since < limit_s, f"not seen within {limit_s} s"
    assert took < limit_s, f"seen after {took:.3f} s"
    assert all(probe() for _ in range(then_stable)), "a worker of the node still answered the old value"
    return took


def test_a_dcc_change_through_one_node_is_seen_by_the_other_within_a_second(nodes):
    node_a, node_b = nodes.node_ports
    token = Token.objects.create(user=StaffFactory.create()).key
    assert trial(node_b)["code"] == "0000"  # node B has its copy of the configuration loaded

    def update(value: str) -> float:
        query = urllib.parse.urlencode({"key": "downgradeSwitch", "value": value})
        answer = request(node_a, "GET", f"{DCC_UPDATE_PATH}?{query}", headers={"Authorization": f"Token {token}"})
        assert (answer.status, answer.json()["data"]) == (200, True), answer.body
        return time.monotonic()

    try:
        changed = update("1")
        seen_within(PROPAGATION_LIMIT_S, changed, lambda: trial(node_b)["code"] == "E0003")
    finally:
        restored = update("0")  # the nodes outlive this test
    seen_within(PROPAGATION_LIMIT_S, restored, lambda: trial(node_b)["code"] == "0000")


class AdminSession:
    """A staff browser on one node's admin: cookies kept by hand, the CSRF token sent back as a browser does."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def _send(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = b""
        if form is not None:
            body = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": self.cookies["csrftoken"]}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer = request(self.port, method, path, body, headers)
        for header in answer.headers.get_all("Set-Cookie") or []:
            jar = http.cookies.SimpleCookie(header)
            self.cookies.update({name: morsel.value for name, morsel in jar.items()})
        return answer

    def get(self, path: str) -> Response:
        return self._send("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Response:
        return self._send("POST", path, form)


def test_a_price_saved_in_one_nodes_admin_reaches_the_others_trial_within_a_second(nodes):
    node_a, node_b = nodes.node_ports
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):  # what the nodes can check
        staff = StaffFactory.create(password="pw")
    sku = Sku.objects.get(goods_id=GOODS_ID)
    before = trial(node_b)["data"]["goods"]
    assert before["originalPrice"] == f"{sku.original_price:.2f}"  # node B holds the SKU in its caches now
    new_price = sku.original_price + 7

    admin = AdminSession(node_a)
    assert admin.get("/admin/login/").status == 200
    login = admin.post("/admin/login/?next=/admin/", {"username": staff.username, "password": "pw", "next": "/admin/"})
    assert login.status == 302, re.findall(r'class="errornote">(.*?)<', login.body.decode(), re.S)
    form = {
        "goods_id": sku.goods_id, "goods_name": sku.goods_name, "description": sku.description,
        "original_price": f"{new_price:.2f}", "source": sku.source, "channel": sku.channel, "_save": "Save",
    }  # fmt: skip
    saved = admin.post(f"/admin/activities/sku/{sku.pk}/change/", form)
    changed = time.monotonic()
    assert saved.status == 302, saved.body[:2000]
    sku.refresh_from_db()
    assert sku.original_price == new_price

    seen_within(
        PROPAGATION_LIMIT_S,
        changed,
        lambda: trial(node_b)["data"]["goods"]["originalPrice"] == f"{new_price:.2f}",
    )
