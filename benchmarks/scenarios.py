"""What a benchmark sends: one scenario per endpoint, each building requests and judging answers.

A scenario is a small class: ``next_request()`` returns the next request to send (it may differ on every
call: fresh nonces, fresh users), ``outcome(response)`` turns an answer into a code, ``"0000"`` for success
and anything else counted as an error under that code (the envelope's code, or ``HTTP<status>`` when the
answer is not the envelope). Add a scenario for a new endpoint and list it in a suite (``suites.py``).
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from apps.accounts.signing import signed_headers
from benchmarks.client import HttpConnection, HttpRequest, HttpResponse

SUCCESS = "0000"
RATE_LIMITED = "0006"

# The demo channel and goods (shared/spec/demo-data.md). 9890005 is left out: its activity is restricted
# to a crowd tag, so the trial takes a different path (bitmap lookup) than the other four.
DEMO_SOURCE = "s01"
DEMO_CHANNEL = "c01"
DEMO_SECRET = "s01c01-demo-secret"  # noqa: S105 - public demo credential, loaded only into the bench database
DEMO_GOODS = ("9890001", "9890002", "9890003", "9890004")


class Scenario(ABC):
    """One endpoint under load."""

    name: ClassVar[str]
    method: ClassVar[str]
    path: ClassVar[str]

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @abstractmethod
    def next_request(self) -> HttpRequest: ...

    async def verify(self, connection: HttpConnection) -> dict[str, Any]:
        """Checks run once after the measurement, reported beside the figures (none by default)."""
        return {}

    def outcome(self, response: HttpResponse) -> str:
        """The envelope's code (``HTTP<status>`` when the answer is not an envelope)."""
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


class SignedScenario(Scenario):
    """A channel-signed JSON POST (api.md "Channel request signing"): every request gets a fresh nonce."""

    secret: str = DEMO_SECRET

    def signed(self, payload: dict[str, Any]) -> HttpRequest:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **signed_headers(self.secret, self.method, self.path, body)}
        return HttpRequest(self.method, self.path, headers, body)


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
