"""What every attack gets: the server's port, the two channels, the shoppers, id makers and signed requests.

The victim is the demo channel ``s01``/``c01`` (``benchmarks.scenarios``); the attacker is ``s03``/``c03``
with its own secret (``fixtures.py``). Ids carry the run id, so runs against the same database never
collide (take limits, outTradeNos). ``order_status`` reads the suite's database: the evidence that an
order was or was not touched, beside what the API answers.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from apps.channels.signing import signed_headers
from benchmarks.client import HttpRequest
from benchmarks.environment import BenchEnvironment
from benchmarks.scenarios import (
    DEMO_CHANNEL,
    DEMO_SECRET,
    DEMO_SOURCE,
    LOCK_PATH,
    SETTLE_PATH,
    SUCCESS,
    envelope_code,
    envelope_data,
)
from benchmarks.security.fixtures import ATTACKER_ACTIVITY, ATTACKER_CHANNEL, ATTACKER_GOODS, ATTACKER_SOURCE
from benchmarks.security.http import Answer, Client

TRIAL_PATH = "/api/v1/gbm/index/query_group_buy_market_config"
REFUND_PATH = "/api/v1/gbm/trade/refund_market_pay_order"
PROGRESS_PATH = "/api/v1/gbm/trade/team_progress"
PING_PATH = "/api/v1/gbm/channel/ping"
GOODS, ACTIVITY = ATTACKER_GOODS, ATTACKER_ACTIVITY  # mapped for both channels


@dataclass(frozen=True)
class Channel:
    source: str
    channel: str
    secret: str

    def names(self) -> dict[str, str]:
        return {"source": self.source, "channel": self.channel}


VICTIM = Channel(DEMO_SOURCE, DEMO_CHANNEL, DEMO_SECRET)


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_request(
    path: str, body: bytes, secret: str, *, content_type: str = "application/json", **sign: Any
) -> HttpRequest:
    """A POST of exactly ``body`` with the three signing headers over it (``sign``: timestamp, nonce)."""
    return HttpRequest(
        "POST", path, {"Content-Type": content_type, **signed_headers(secret, "POST", path, body, **sign)}, body
    )


class PreconditionFailed(RuntimeError):
    """A legitimate step an attack builds on did not work: the attack cannot judge the server."""


@dataclass
class Context:
    port: int
    run_id: str
    attacker: Channel
    users: dict[str, dict[str, str]]
    env: BenchEnvironment
    http: Client = field(init=False)
    _ids: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.http = Client(self.port)

    def begin(self, name: str) -> list[Any]:
        """A fresh client (and trace) for the next attack."""
        self.http = Client(self.port)
        return self.http.trace

    def uid(self, tag: str) -> str:
        """A fresh id of this run: user ids, outTradeNos (letters and digits only, ≤ 32 characters)."""
        return f"sec{self.run_id}{tag}{next(self._ids)}"

    # --- signed channel requests ------------------------------------------------------------------------
    def post(self, path: str, payload: dict[str, Any], *, as_: Channel, note: str = "") -> Answer:
        return self.http.send(signed_request(path, compact(payload), as_.secret), note=note)

    def get(self, path: str, params: dict[str, str], *, as_: Channel, note: str = "") -> Answer:
        headers = signed_headers(as_.secret, "GET", path, b"")
        return self.http.send(HttpRequest("GET", f"{path}?{urlencode(params)}", headers), note=note)

    def lock(
        self, *, as_: Channel, user_id: str, out_trade_no: str, team_id: str | None = None, note: str = "", **extra: Any
    ) -> Answer:
        payload: dict[str, Any] = {
            "userId": user_id,
            "activityId": ACTIVITY,
            "goodsId": GOODS,
            **as_.names(),
            "outTradeNo": out_trade_no,
            "notifyConfigVO": {"notifyType": "MQ"},
            **extra,
        }
        if team_id:
            payload["teamId"] = team_id
        return self.post(LOCK_PATH, payload, as_=as_, note=note)

    def open_victim_team(self, tag: str) -> tuple[str, str, str]:
        """The victim (s01) opens a team: (userId, outTradeNo, teamId)."""
        user_id, out_trade_no = self.uid(f"v{tag}"), self.uid(f"o{tag}")
        answer = self.lock(as_=VICTIM, user_id=user_id, out_trade_no=out_trade_no, note="victim opens a team")
        team_id = envelope_data(answer).get("teamId")
        if envelope_code(answer) != SUCCESS or not isinstance(team_id, str):
            raise PreconditionFailed(f"the victim's lock failed: HTTP {answer.status} {answer.body[:200]!r}")
        return user_id, out_trade_no, team_id

    def progress(self, team_id: str, *, as_: Channel, note: str = "") -> Answer:
        return self.get(PROGRESS_PATH, {"teamId": team_id, **as_.names()}, as_=as_, note=note)

    def victim_team(self, team_id: str) -> dict[str, Any]:
        """The victim's own view of its team (team_progress as s01)."""
        answer = self.progress(team_id, as_=VICTIM, note="victim checks its team")
        if envelope_code(answer) != SUCCESS:
            raise PreconditionFailed(f"the victim cannot read its own team: HTTP {answer.status} {answer.body[:200]!r}")
        return envelope_data(answer)

    def settle(self, *, as_: Channel, user_id: str, out_trade_no: str, note: str = "") -> Answer:
        payload = {
            "userId": user_id,
            **as_.names(),
            "outTradeNo": out_trade_no,
            "outTradeTime": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return self.post(SETTLE_PATH, payload, as_=as_, note=note)

    def refund(self, *, as_: Channel, user_id: str, out_trade_no: str, note: str = "") -> Answer:
        payload = {"userId": user_id, **as_.names(), "outTradeNo": out_trade_no}
        return self.post(REFUND_PATH, payload, as_=as_, note=note)

    # --- evidence from the database ---------------------------------------------------------------------
    def order_status(self, *, channel: Channel, out_trade_no: str) -> int | None:
        """``group_buy_order_list.status`` of a channel's order (0 locked, 1 paid, 2 refunded/closed)."""
        connection = self.env.connect_database()
        try:
            cursor = connection.cursor()
            cursor.execute(
                "SELECT status FROM group_buy_order_list WHERE source = %s AND channel = %s AND out_trade_no = %s",
                (channel.source, channel.channel, out_trade_no),
            )
            row = cursor.fetchone()
        finally:
            connection.close()
        return None if row is None else int(row[0])


def attacker_channel(secret: str) -> Channel:
    return Channel(ATTACKER_SOURCE, ATTACKER_CHANNEL, secret)
