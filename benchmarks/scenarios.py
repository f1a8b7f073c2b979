"""What a benchmark sends: one scenario per endpoint, each building requests and judging answers.

A scenario is a small class: ``next_request()`` returns the next request to send (it may differ on every
call: fresh nonces, fresh users), ``outcome(response)`` turns an answer into a code, ``"0000"`` for success,
a code of ``expected_codes`` for a business rejection the scenario provokes on purpose (counted apart), and
anything else counted as an error under that code (the envelope's code, or ``HTTP<status>`` when the answer
is not the envelope). The load generator calls ``judge(request, response)``, which is ``outcome`` unless a
scenario learns from its answers (the lock scenario pools the teams it opened). Add a scenario for a new
endpoint and list it in a suite (``suites.py``).
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from apps.channels.signing import signed_headers
from benchmarks.client import HttpConnection, HttpRequest, HttpResponse

SUCCESS = "0000"
RATE_LIMITED = "0006"

# The demo channel and goods (shared/spec/demo-data.md). 9890005 is left out: its activity is restricted
# to a crowd tag, so the trial takes a different path (bitmap lookup) than the other four.
DEMO_SOURCE = "s01"
DEMO_CHANNEL = "c01"
DEMO_SECRET = "s01c01-demo-secret"  # noqa: S105 - public demo credential, loaded only into the bench database
DEMO_GOODS = ("9890001", "9890002", "9890003", "9890004")
# Their activities (target 3, take limit 1 per user, teams valid 15 min), in the order of DEMO_GOODS.
DEMO_ACTIVITIES = (100123, 100124, 100125, 100126)
LOCK_PATH = "/api/v1/gbm/trade/lock_market_pay_order"
SETTLE_PATH = "/api/v1/gbm/trade/settlement_market_pay_order"


class Scenario(ABC):
    """One endpoint under load."""

    name: ClassVar[str]
    method: ClassVar[str]
    path: ClassVar[str]
    # Business answers this scenario provokes on purpose (joins racing for the last seat): not errors.
    expected_codes: ClassVar[frozenset[str]] = frozenset()

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @abstractmethod
    def next_request(self) -> HttpRequest: ...

    async def verify(self, connection: HttpConnection) -> dict[str, Any]:
        """Checks run once after the measurement, reported beside the figures (none by default)."""
        return {}

    def judge(self, request: HttpRequest, response: HttpResponse) -> str:
        """The outcome of one exchange (the load generator's call); a scenario that learns from answers overrides it."""
        return self.outcome(response)

    def outcome(self, response: HttpResponse) -> str:
        """The envelope's code (``HTTP<status>`` when the answer is not an envelope)."""
        return envelope_code(response)

    def describe(self) -> dict[str, Any]:
        """What the report should know about this scenario's mix (nothing by default)."""
        return {}


def envelope_code(response: HttpResponse) -> str:
    """The API envelope's ``code`` (``HTTP<status>`` when the answer is not an envelope)."""
    try:
        body: Any = response.json()
    except ValueError:
        return f"HTTP{response.status}"
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else f"HTTP{response.status}"


class HealthzScenario(Scenario):
    """The trivial endpoint: the server's fixed cost (gunicorn, Django, middleware) with no DB or Redis."""

    name = "trivial"
    method = "GET"
    path = "/healthz"

    _REQUEST = HttpRequest(method, path)

    def next_request(self) -> HttpRequest:
        return self._REQUEST

    def outcome(self, response: HttpResponse) -> str:
        if response.status == 200 and response.body.replace(b" ", b"") == b'{"status":"ok"}':
            return SUCCESS
        return f"HTTP{response.status}"


def signed_post(path: str, payload: dict[str, Any], *, secret: str = DEMO_SECRET) -> HttpRequest:
    """A channel-signed JSON POST (api.md "Channel request signing") with a fresh nonce."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", **signed_headers(secret, "POST", path, body)}
    return HttpRequest("POST", path, headers, body)


class SignedScenario(Scenario):
    """A channel-signed JSON POST: every request gets a fresh nonce."""

    method = "POST"
    secret: str = DEMO_SECRET

    def signed(self, payload: dict[str, Any]) -> HttpRequest:
        return signed_post(self.path, payload, secret=self.secret)


class SignedFloorScenario(SignedScenario):
    """``POST /api/v1/gbm/channel/ping``: a signed request that does nothing else (credential, signature, nonce).

    Measured beside the trial, it shows what every signed request costs before any business work, so the
    trial's own share reads as the gap between the two.
    """

    name = "signed_floor"
    path = "/api/v1/gbm/channel/ping"

    def next_request(self) -> HttpRequest:
        return self.signed({"source": DEMO_SOURCE, "channel": DEMO_CHANNEL})


class TrialScenario(SignedScenario):
    """The product page's trial, one fresh user per request over the four plain demo goods.

    A fresh ``userId`` per request keeps every user far below the per-user limit (1/s by default, with a
    24 h blacklist after one violation), so the limiter runs on every request but never refuses: any
    0006 in the results means the harness, not the server, is wrong. The run id keeps users of different
    runs apart (the blacklist outlives a run).
    """

    name = "trial"
    method = "POST"
    path = "/api/v1/gbm/index/query_group_buy_market_config"

    def __init__(self, *, run_id: str, goods_ids: tuple[str, ...] = DEMO_GOODS) -> None:
        self.run_id = run_id
        self.goods_ids = goods_ids
        self._seq = itertools.count()

    def _request(self, user_id: str, goods_id: str) -> HttpRequest:
        return self.signed({"userId": user_id, "source": DEMO_SOURCE, "channel": DEMO_CHANNEL, "goodsId": goods_id})

    def next_request(self) -> HttpRequest:
        n = next(self._seq)
        return self._request(f"bench-{self.run_id}-{n}", self.goods_ids[n % len(self.goods_ids)])

    async def verify(self, connection: HttpConnection) -> dict[str, Any]:
        """The limiter really ran during the measurement: one user twice at once is refused the second time.

        (Its own throwaway user, blacklisted for 24 h in the bench's Redis only.) With DCC
        ``rateLimiterSwitch`` closed the trial skips a Redis round trip and the figures would flatter it.
        """
        user_id = f"bench-{self.run_id}-limiter-check"
        codes = [self.outcome(await connection.request(self._request(user_id, self.goods_ids[0]))) for _ in range(2)]
        return {"rate_limiter_codes": codes, "rate_limiter_active": codes == [SUCCESS, RATE_LIMITED]}


def lock_request(
    *,
    user_id: str,
    activity_id: int,
    goods_id: str,
    out_trade_no: str,
    team_id: str | None = None,
    notify: dict[str, str] | None = None,
) -> HttpRequest:
    """``lock_market_pay_order``: open a team (no ``team_id``) or join one; the notify config is the team's."""
    payload: dict[str, Any] = {
        "userId": user_id,
        "activityId": activity_id,
        "goodsId": goods_id,
        "source": DEMO_SOURCE,
        "channel": DEMO_CHANNEL,
        "outTradeNo": out_trade_no,
        "notifyConfigVO": notify or {"notifyType": "MQ"},
    }
    if team_id:
        payload["teamId"] = team_id
    return signed_post(LOCK_PATH, payload)


def settle_request(*, user_id: str, out_trade_no: str, paid_at: datetime | None = None) -> HttpRequest:
    """``settlement_market_pay_order``: the mall reports the payment of a locked order (ISO time, UTC)."""
    paid_at = paid_at or datetime.now(UTC)
    payload = {
        "userId": user_id,
        "source": DEMO_SOURCE,
        "channel": DEMO_CHANNEL,
        "outTradeNo": out_trade_no,
        "outTradeTime": paid_at.isoformat(timespec="seconds"),
    }
    return signed_post(SETTLE_PATH, payload)


def envelope_data(response: HttpResponse) -> dict[str, Any]:
    """The ``data`` of a success envelope ({} when there is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


@dataclass
class _OpenTeam:
    team_id: str
    activity_id: int
    goods_id: str
    joins_left: int


class LockScenario(SignedScenario):
    """Many users opening and joining teams at once: every join races others for the team's last seats.

    Each request is a fresh user and a fresh ``outTradeNo`` (the take limit, 1 per user and activity, never
    refuses). A team this scenario opened goes into a pool shared by all connections with ``joiners`` joins
    to hand out; the next requests, whichever connection sends them, join the newest team of the pool, so
    its joins are in flight together. With 3 joiners for the 2 free seats of a target-3 team, one join per
    team loses with E0006 "team already full", whichever guard catches it (the team check, the Redis seat
    script or the database guard; ``apps/trade/lock.py``); E0005 when the team closed or expired meanwhile.
    Those answers are the expected outcome of the race, counted by code apart from errors.
    An open is sent only when the pool is empty, so the mix is one open to ``joiners`` joins.
    """

    name = "lock"
    path = LOCK_PATH
    expected_codes = frozenset({"E0005", "E0006", "E0103"})

    def __init__(self, *, run_id: str, joiners: int = 3) -> None:
        self.run_id = run_id
        self.joiners = joiners
        self._seq = itertools.count()
        self._pool: deque[_OpenTeam] = deque()
        self.opened = 0  # teams this scenario opened (the pool saw them all)

    def next_request(self) -> HttpRequest:
        n = next(self._seq)
        user_id, out_trade_no = f"bench-{self.run_id}-L{n}", f"bench{self.run_id}L{n}"
        if self._pool:
            team = self._pool[-1]
            team.joins_left -= 1
            if team.joins_left <= 0:
                self._pool.pop()
            return lock_request(
                user_id=user_id,
                activity_id=team.activity_id,
                goods_id=team.goods_id,
                out_trade_no=out_trade_no,
                team_id=team.team_id,
            )
        offer = n % len(DEMO_GOODS)
        request = lock_request(
            user_id=user_id, activity_id=DEMO_ACTIVITIES[offer], goods_id=DEMO_GOODS[offer], out_trade_no=out_trade_no
        )
        return replace(request, tag=(DEMO_ACTIVITIES[offer], DEMO_GOODS[offer]))  # an open: pool its team

    def describe(self) -> dict[str, Any]:
        return {"joiners_per_team": self.joiners, "teams_opened_with_warmup": self.opened}

    def judge(self, request: HttpRequest, response: HttpResponse) -> str:
        code = self.outcome(response)
        if code == SUCCESS and request.tag is not None:
            team_id = envelope_data(response).get("teamId")
            if isinstance(team_id, str):
                activity_id, goods_id = request.tag
                self._pool.append(_OpenTeam(team_id, activity_id, goods_id, joins_left=self.joiners))
                self.opened += 1
        return code
