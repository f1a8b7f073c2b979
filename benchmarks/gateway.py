"""The gateway suite: the payment gateway's notify to the built-in mall, which settles the group-buy order.

``POST /api/v1/alipay/alipay_notify_url`` with the sandbox gateway's RSA2-signed form, as Alipay posts it: the
mall verifies the signature, the app id, the order and the amount, marks its order paid and settles the group-buy
order in the same transaction (``apps.payments.notify``); the third payment of a team completes it (an outbox row).
The orders are made outside the timed window by ``benchmarks.gateway_orders`` (the mall's own ``mall_order_create``,
in a Django process), in teams of 3, each notified once. The answers are ``success`` or ``fail`` in plain text.

Checked after the run: every order answered ``success`` is paid in the mall (PAY_SUCCESS, or DEAL_DONE once its
team completed) and settled in the group-buy tables (the settle suite's rules: paid once, a complete team's
counts, one outbox row per complete team), and no order that was not notified is paid.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.client import HttpRequest, HttpResponse
from benchmarks.environment import REPO_ROOT, BenchEnvironment, SetupError
from benchmarks.scenarios import SUCCESS, Scenario
from benchmarks.settle import check_settlements

NOTIFY_PATH = "/api/v1/alipay/alipay_notify_url"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PAID_IN_MALL = ("PAY_SUCCESS", "DEAL_DONE")


@dataclass(frozen=True)
class NotifyOrder:
    order_id: str
    user_id: str
    body: bytes


class GatewayNotifyScenario(Scenario):
    name = "gateway_notify"
    method = "POST"
    path = NOTIFY_PATH

    def __init__(self, *, run_id: str, env: BenchEnvironment | None = None) -> None:
        self.run_id = run_id
        self.env = env or BenchEnvironment.from_environ()
        self._pool: list[NotifyOrder] = []
        self._next = 0
        self._named = 0  # shoppers made so far: the next batch's names start here
        self.sent: set[str] = set()
        self.answered: set[str] = set()
        self.prepare_failures: Counter[str] = Counter()

    @property
    def capacity(self) -> int:
        return len(self._pool) - self._next

    def replenish(self, port: int, *, need: int | None, timeout_s: float) -> None:
        missing = (300 if need is None else need) - self.capacity
        if missing <= 0:
            return
        count = missing + (-missing) % 3  # whole teams
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as out:
            completed = subprocess.run(  # noqa: S603 - this interpreter, a module of the harness
                [
                    sys.executable,
                    "-m",
                    "benchmarks.gateway_orders",
                    self.run_id,
                    str(len(self._pool)),
                    str(count),
                    out.name,
                ],
                cwd=REPO_ROOT,
                env=self.env.django_environ(),
                capture_output=True,
                text=True,
                timeout=max(600.0, timeout_s),
                check=False,
            )
            if completed.returncode != 0:
                raise SetupError("making the gateway suite's orders failed:\n" + completed.stderr[-4000:])
            self.prepare_failures["teams_failed"] += json.loads(completed.stdout.strip().splitlines()[-1])[
                "teams_failed"
            ]
            for line in Path(out.name).read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                self._pool.append(NotifyOrder(record["order_id"], record["user_id"], record["body"].encode()))

    def next_request(self) -> HttpRequest:
        order = self._pool[self._next]
        self._next += 1
        self.sent.add(order.order_id)
        return HttpRequest(self.method, self.path, FORM, order.body, tag=order.order_id)

    def outcome(self, response: HttpResponse) -> str:
        if response.status != 200:
            return f"HTTP{response.status}"
        return SUCCESS if response.body.strip() == b"success" else response.body.strip()[:20].decode(errors="replace")

    def judge(self, request: HttpRequest, response: HttpResponse) -> str:
        code = self.outcome(response)
        if code == SUCCESS:
            self.answered.add(request.tag)
        return code

    def describe(self) -> dict[str, Any]:
        return {"orders_prepared": len(self._pool), "prepare_failures": dict(self.prepare_failures)}

    def check(self, env: BenchEnvironment) -> dict[str, Any]:
        prefix = f"bench-{self.run_id}-G"
        result = check_settlements(env, user_prefix=prefix, answered=self.answered, sent=self.sent, retries={})
        connection = env.connect_database()
        try:
            cursor = connection.cursor()
            cursor.execute(_MALL_SQL, (f"{prefix}%",))
            mall = dict(cursor.fetchall())
        finally:
            connection.close()
        unpaid = sorted(order for order in self.answered if mall.get(order) not in PAID_IN_MALL)
        paid_not_sent = sorted(
            order for order, status in mall.items() if status in PAID_IN_MALL and order not in self.sent
        )
        result["mall_answered_not_paid"] = len(unpaid)
        result["mall_paid_not_sent"] = len(paid_not_sent)
        result["examples"] = [*result.get("examples", []), *unpaid[:3], *paid_not_sent[:3]]
        result["ok"] = bool(result.get("ok")) and not unpaid and not paid_not_sent
        return result


_MALL_SQL = """
SELECT p.order_id, p.status FROM pay_order p JOIN `user` u ON u.id = p.user_id WHERE u.username LIKE %s
"""
