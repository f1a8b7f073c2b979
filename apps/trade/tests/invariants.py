"""Invariants every trade test can assert after any sequence of operations (written once)."""

from django.db.models import Count, Q

from apps.trade.models import Order, Team
from apps.trade.tests.helpers import team_stock_read


def assert_trade_invariants(*, check_redis: bool = True) -> None:
    """Seats in the database agree with the orders, and Redis agrees with the database."""
    live = Q(orders__status__in=[Order.Status.LOCKED, Order.Status.PAID])
    teams = Team.objects.annotate(
        live_orders=Count("orders", filter=live),
        paid_orders=Count("orders", filter=Q(orders__status=Order.Status.PAID)),
    )
    for team in teams:
        assert 0 <= team.complete_count <= team.lock_count <= team.target_count, team.team_id
        assert team.lock_count == team.live_orders, (team.team_id, team.lock_count, team.live_orders)
        assert team.complete_count == team.paid_orders, (team.team_id, team.complete_count, team.paid_orders)
        if check_redis and team.status == Team.Status.IN_PROGRESS:
            stock = team_stock_read(team_id=team.team_id)
            if stock.occupied or stock.recovered:
                assert stock.joiners() == team.lock_count - 1, (team.team_id, stock, team.lock_count)
    duplicated = (
        Order.objects.values("source", "channel", "out_trade_no").annotate(n=Count("id")).filter(n__gt=1).exists()
    )
    assert not duplicated
