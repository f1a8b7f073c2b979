"""The product-page answer: the trial plus the teams a user can see.

(Reads only; it composes the trial (activities) with team reads (trade), so it lives above both.)
"""

from dataclasses import dataclass

from apps.activities.trial import TrialRequest, TrialResult, trial_calculate
from apps.common.money import format_money
from apps.common.serializers import format_datetime
from apps.trade.selectors import (
    FormationQuotaView,
    TeamStatistic,
    TeamView,
    countdown,
    formation_quota,
    open_teams_for_user,
    team_statistic,
)


@dataclass(frozen=True)
class MarketConfig:
    trial: TrialResult
    teams: list[TeamView]
    statistic: TeamStatistic
    # The activity's team limit (``Activity.max_teams_formed``); None: no limit.
    quota: FormationQuotaView | None = None

    @property
    def sold_out(self) -> bool:
        """Every team the activity may form has formed (``soldOut``)."""
        return self.quota is not None and self.quota.sold_out

    @property
    def teams_left(self) -> int | None:
        """New teams that may still open (``teamsLeft``; 0: join an open one); None: no limit."""
        return self.quota.teams_left if self.quota is not None else None

    def as_wire(self) -> dict:
        """The answer as JSON-ready values, shaped and formatted as ``apps.storefront.apis.MarketConfigOut``.

        Built by hand rather than by the serializer: it is on the product page's hot path, where the
        serializer's per-request field copies cost more than the rest of the trial.
        """
        trial = self.trial
        return {
            "activityId": trial.activity_id,
            "goods": {
                "goodsId": trial.sku.goods_id,
                "goodsName": trial.sku.goods_name,
                "originalPrice": format_money(trial.original_price),
                "deductionPrice": format_money(trial.deduction_price),
                "payPrice": format_money(trial.pay_price),
            },
            "isVisible": trial.is_visible,
            "isEnable": trial.is_enable,
            "soldOut": self.sold_out,
            "teamsLeft": self.teams_left,
            "teamList": [
                {
                    "userId": team.user_id,
                    "teamId": team.team_id,
                    "activityId": team.activity_id,
                    "targetCount": team.target_count,
                    "completeCount": team.complete_count,
                    "lockCount": team.lock_count,
                    "validStartTime": format_datetime(team.valid_start_time),
                    "validEndTime": format_datetime(team.valid_end_time),
                    "validTimeCountdown": countdown(team.valid_end_time),
                    "outTradeNo": team.out_trade_no,
                }
                for team in self.teams
            ],
            "teamStatistic": {
                "allTeamCount": self.statistic.all_team_count,
                "allTeamCompleteCount": self.statistic.all_team_complete_count,
                "allTeamUserCount": self.statistic.all_team_user_count,
            },
        }


def market_config_query(*, user_id: str | None, source: str, channel: str, goods_id: str) -> MarketConfig:
    """Trial + teams + statistics. Anonymous visitors (user_id None) see joinable teams only."""
    trial = trial_calculate(TrialRequest(user_id=user_id, source=source, channel=channel, goods_id=goods_id))
    activity_id = trial.activity_id
    teams = (
        open_teams_for_user(activity_id=activity_id, user_id=user_id or "", source=source, channel=channel)
        if trial.is_visible
        else []
    )
    return MarketConfig(
        trial=trial,
        teams=teams,
        statistic=team_statistic(activity_id=activity_id, source=source, channel=channel),
        quota=activity_quota(trial),
    )


def activity_quota(trial: TrialResult) -> FormationQuotaView | None:
    """The offer's team limit as counted now (cached briefly); None, and no query, for an unlimited offer."""
    limit = trial.activity.max_teams_formed
    return None if limit is None else formation_quota(activity_id=trial.activity_id, limit=limit)
