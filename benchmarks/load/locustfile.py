"""The locust side of the load suite: virtual malls running the whole purchase flow, stage by stage.

Run by ``benchmarks.load.runner`` as ``locust -f benchmarks/load/locustfile.py --headless`` (gevent: this
module runs in locust's own process, never imported by the runner). Configuration comes from the
environment the runner sets (``LOAD_*``); what happened goes to ``LOAD_SAMPLES`` (JSON) when the test stops.

One flow per task, each with a fresh user and ``outTradeNo`` (take limit 1, trial limiter 1 req/s per user):

1. trial ``query_group_buy_market_config`` for one of the four demo goods;
2. lock ``lock_market_pay_order``: join the newest team of a pool shared by all users (each opened team is
   offered to ``LOAD_JOINERS`` joins for its 2 free seats, so joins race: E0006 (full) and E0005 (closed)
   are expected business rejections) or, when the pool is empty, open a team; the team's notify is HTTP to
   the runner's receiver;
3. sometimes ``team_progress`` (signed GET);
4. refund before settling (``LOAD_REFUND_BEFORE``), else settle, then sometimes refund after
   (``LOAD_REFUND_AFTER``).

Every request is recorded by stage (the shape's current stage when it was sent), endpoint, outcome code and
latency; every flow by user, ``outTradeNo``, team and what the server answered, for the runner to reconcile
with the database.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter, defaultdict, deque
from typing import Any

from locust import LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpUser

from apps.channels.signing import signed_headers
from benchmarks.scenarios import (
    DEMO_ACTIVITIES,
    DEMO_CHANNEL,
    DEMO_GOODS,
    DEMO_SECRET,
    DEMO_SOURCE,
    SUCCESS,
    lock_request,
    settle_request,
    signed_post,
)

TRIAL_PATH = "/api/v1/gbm/index/query_group_buy_market_config"
LOCK_PATH = "/api/v1/gbm/trade/lock_market_pay_order"
SETTLE_PATH = "/api/v1/gbm/trade/settlement_market_pay_order"
REFUND_PATH = "/api/v1/gbm/trade/refund_market_pay_order"
PROGRESS_PATH = "/api/v1/gbm/trade/team_progress"
ENDPOINTS = {
    "trial": f"POST {TRIAL_PATH}",
    "lock": f"POST {LOCK_PATH}",
    "team_progress": f"GET {PROGRESS_PATH}",
    "settle": f"POST {SETTLE_PATH}",
    "refund": f"POST {REFUND_PATH}",
}
REJECTIONS = frozenset({"E0005", "E0006"})  # a join that lost the race for the last seat

RUN_ID = os.environ.get("LOAD_RUN_ID", "dev")
STAGES = [int(users) for users in os.environ.get("LOAD_STAGES", "4,8,16").split(",")]
STAGE_S = float(os.environ.get("LOAD_STAGE_S", "20"))
NOTIFY_URL = os.environ.get("LOAD_NOTIFY_URL", "")
SAMPLES_PATH = os.environ.get("LOAD_SAMPLES", "")
JOINERS = int(os.environ.get("LOAD_JOINERS", "3"))
REFUND_BEFORE = float(os.environ.get("LOAD_REFUND_BEFORE", "0.05"))
REFUND_AFTER = float(os.environ.get("LOAD_REFUND_AFTER", "0.05"))
PROGRESS_SHARE = float(os.environ.get("LOAD_PROGRESS", "0.25"))

_lock = threading.Lock()  # gevent patches it: greenlets take turns, it only guards compound updates
_stage = {"index": 0}
_stage_started: dict[int, float] = {}  # time.time() when the shape first reported each stage
_latencies: dict[tuple[int, str], list[float]] = defaultdict(list)
_outcomes: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
_flows: list[dict[str, Any]] = []
_pool: deque[dict[str, Any]] = deque()  # teams open for joins: team_id, activity, goods, joins_left
_seq = iter(range(10**9))
_rng = random.Random()  # noqa: S311 - picking a flow's branch, not a secret


class FlowShape(LoadTestShape):
    """``LOAD_STAGES`` users (all spawned at once), ``LOAD_STAGE_S`` seconds each, then stop."""

    def tick(self) -> tuple[int, float] | None:
        index = int(self.get_run_time() // STAGE_S)
        if index >= len(STAGES):
            return None
        _stage["index"] = index
        _stage_started.setdefault(index, time.time())
        return STAGES[index], float(STAGES[index])


class Mall(FastHttpUser):
    """A mall sending one shopper after the other through the purchase flow (closed loop, no think time)."""

    wait_time = staticmethod(lambda: 0)
    network_timeout = 30.0
    connection_timeout = 10.0

    def _send(
        self, name: str, method: str, path: str, *, headers: dict[str, str], body: bytes = b""
    ) -> tuple[str, Any]:
        """One request, recorded under the current stage: its outcome code and the envelope's ``data``."""
        stage = _stage["index"]
        t0 = time.perf_counter()
        data: Any = None
        with self.client.request(
            method, path, data=body or None, headers=headers, name=ENDPOINTS[name], catch_response=True
        ) as response:
            elapsed_ms = (time.perf_counter() - t0) * 1000
            try:
                envelope = json.loads(response.content or b"")
                code = envelope.get("code") if isinstance(envelope, dict) else None
                data = envelope.get("data") if isinstance(envelope, dict) else None
                code = code if isinstance(code, str) else f"HTTP{response.status_code}"
            except ValueError:
                code = f"HTTP{response.status_code}" if response.status_code else "transport"
            if code == SUCCESS or (name == "lock" and code in REJECTIONS):
                response.success()
            else:
                response.failure(code)
        with _lock:
            _latencies[(stage, name)].append(elapsed_ms)
            _outcomes[(stage, name)][code] += 1
        return code, data

    def _post(self, name: str, request: Any) -> tuple[str, Any]:
        return self._send(name, "POST", request.path, headers=dict(request.headers), body=request.body)

    @task
    def purchase(self) -> None:
        n = next(_seq)
        user_id, out_trade_no = f"bench-{RUN_ID}-F{n}", f"load{RUN_ID}F{n}"
        flow: dict[str, Any] = {"user": user_id, "out_trade_no": out_trade_no, "stage": _stage["index"]}
        _flows.append(flow)

        with _lock:
            team = _pool[-1] if _pool else None
            if team is not None:
                team["joins_left"] -= 1
                if team["joins_left"] <= 0:
                    _pool.pop()
        if team is not None:
            activity_id, goods_id, team_id = team["activity_id"], team["goods_id"], team["team_id"]
        else:
            offer = n % len(DEMO_GOODS)
            activity_id, goods_id, team_id = DEMO_ACTIVITIES[offer], DEMO_GOODS[offer], None

        trial = {"userId": user_id, "source": DEMO_SOURCE, "channel": DEMO_CHANNEL, "goodsId": goods_id}
        flow["trial"], _ = self._post("trial", signed_post(TRIAL_PATH, trial))

        notify = {"notifyType": "HTTP", "notifyUrl": NOTIFY_URL}
        lock = lock_request(
            user_id=user_id,
            activity_id=activity_id,
            goods_id=goods_id,
            out_trade_no=out_trade_no,
            team_id=team_id,
            notify=notify,
        )
        flow["join"] = team_id is not None
        flow["lock"], data = self._post("lock", lock)
        if flow["lock"] != SUCCESS:
            return
        team_id = str((data or {}).get("teamId") or team_id or "")
        flow["team"] = team_id
        if not flow["join"] and team_id:
            with _lock:
                _pool.append(
                    {"team_id": team_id, "activity_id": activity_id, "goods_id": goods_id, "joins_left": JOINERS}
                )

        if _rng.random() < PROGRESS_SHARE:
            query = f"teamId={team_id}&source={DEMO_SOURCE}&channel={DEMO_CHANNEL}"
            headers = signed_headers(DEMO_SECRET, "GET", PROGRESS_PATH, b"")
            flow["progress"], _ = self._send("team_progress", "GET", f"{PROGRESS_PATH}?{query}", headers=headers)

        refund = {"userId": user_id, "source": DEMO_SOURCE, "channel": DEMO_CHANNEL, "outTradeNo": out_trade_no}
        if _rng.random() < REFUND_BEFORE:
            flow["refund_before_settle"] = True
            flow["refund"], _ = self._post("refund", signed_post(REFUND_PATH, refund))
            return
        flow["settle"], _ = self._post("settle", settle_request(user_id=user_id, out_trade_no=out_trade_no))
        if flow["settle"] == SUCCESS and _rng.random() < REFUND_AFTER:
            flow["refund"], _ = self._post("refund", signed_post(REFUND_PATH, refund))


@events.test_stop.add_listener
def _write_samples(environment: Any, **kwargs: Any) -> None:
    if not SAMPLES_PATH:
        return
    samples = {
        "run_id": RUN_ID,
        "stages": STAGES,
        "stage_s": STAGE_S,
        "stage_started_at": [_stage_started.get(index) for index in range(len(STAGES))],
        "stopped_at": time.time(),
        "latencies_ms": [
            {"stage": stage, "endpoint": name, "values": values} for (stage, name), values in _latencies.items()
        ],
        "outcomes": [
            {"stage": stage, "endpoint": name, "codes": dict(codes)} for (stage, name), codes in _outcomes.items()
        ],
        "flows": _flows,
    }
    with open(SAMPLES_PATH, "w") as handle:
        json.dump(samples, handle)
