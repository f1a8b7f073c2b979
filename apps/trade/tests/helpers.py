"""Shared steps of the trade tests: a team locked through the service, thread bodies for races."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.utils import timezone

from apps.activities.tests.factories import Offer
from apps.common.errors import GroupBuyError
from apps.common.redis import get_redis
from apps.trade.lock import LockCommand
from apps.trade.services import order_lock, order_settle
from apps.trade.settle import SettleCommand
from apps.trade.team_stock import _keys as team_stock_keys


def lock_team(offer: Offer, users: tuple[str, ...], team_id: str | None = None, **command: Any) -> str:
    """The first user opens a team of ``offer`` (or joins ``team_id``), the others join it.

    Each order's out_trade_no is ``OTN-<user>``; ``command`` adds LockCommand fields (notify type, url).
    """
    for user in users:
        team_id = order_lock(
            command=LockCommand(
                user_id=user, source=offer.source, channel=offer.channel, goods_id=offer.goods_id,
                activity_id=offer.activity_id, out_trade_no=f"OTN-{user}", team_id=team_id, **command,
            )
        ).team_id  # fmt: skip
    assert team_id is not None, "no users, no team"
    return team_id


def settle_orders(offer: Offer, users: tuple[str, ...]) -> None:
    """Each user's order ``OTN-<user>`` of ``offer`` is paid now (the last payer of a full team completes it)."""
    for user in users:
        order_settle(
            command=SettleCommand(user_id=user, **offer.in_channel, out_trade_no=f"OTN-{user}",
                                  out_trade_time=timezone.now())
        )  # fmt: skip


def in_thread(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A race's thread body: a refusal answers its code, and the thread's DB connection is closed at the end."""

    def run(*args: Any) -> Any:
        try:
            return fn(*args)
        except GroupBuyError as exc:
            return exc.code
        finally:
            connections.close_all()

    return run


@dataclass(frozen=True)
class TeamStock:
    occupied: int
    recovered: int

    def joiners(self) -> int:
        """Joiner seats held right now: what ``lock_count - 1`` must equal."""
        return self.occupied - self.recovered


def team_stock_read(*, team_id: str) -> TeamStock:
    """A team's seat counters in Redis (``apps/trade/team_stock.py``), as the tests compare them."""
    occupied, recovered = get_redis().mget(team_stock_keys(team_id)[:2])
    return TeamStock(int(occupied or 0), int(recovered or 0))
