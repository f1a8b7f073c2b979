from apps.trade.selectors import live_teams_for_stock
from apps.trade.team_stock import team_stock_rebuild_one


def rebuild_team_stock() -> int:
    """Recompute every in-progress team's Redis seats from the database (lock_count is the truth)."""
    rebuilt = 0
    for team, out_trade_nos in live_teams_for_stock():
        team_stock_rebuild_one(
            team_id=team.team_id,
            lock_count=team.lock_count,
            live_out_trade_nos=out_trade_nos,
            valid_minutes=team.activity.valid_time,
        )
        rebuilt += 1
    return rebuilt
