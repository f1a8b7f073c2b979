"""The product-page answer: the trial plus the teams a user can see.

(Reads only; it composes the trial (activities) with team reads (trade), so it lives above both.)

Issue 17 adds to the answer, leaving the existing fields' meaning as it was: ``goods.leaderPayPrice`` and
``goods.leaderDeductionPrice`` (what whoever opens a team pays with the activity's leader offer; null without
one: ``payPrice`` stays the joiner's), ``joinEnable`` (may this user join someone else's team) and ``reason``
(``{code, info}``: why ``isEnable`` or ``joinEnable`` is false, the code the lock would answer; else null). A
request naming a ``teamId`` is about joining: its ``isEnable`` then says whether the user may join (E0107 for a
customer who paid before, on a new-customers-only activity). docs/decisions/014-*.md.
"""

from dataclasses import dataclass

from apps.activities.trial import Intent, TrialRequest, TrialResult, trial_calculate
from apps.common.errors import ResponseCode
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
        leader_pay, leader_deduction = trial.leader_pay_price, trial.leader_deduction_price
        return {
            "activityId": trial.activity_id,
            "goods": {
                "goodsId": trial.sku.goods_id,
                "goodsName": trial.sku.goods_name,
                "originalPrice": format_money(trial.original_price),
                "deductionPrice": format_money(trial.deduction_price),
                "payPrice": format_money(trial.pay_price),
                "leaderPayPrice": None if leader_pay is None else format_money(leader_pay),
                "leaderDeductionPrice": None if leader_deduction is None else format_money(leader_deduction),
            },
            "isVisible": trial.is_visible,
            "isEnable": trial.is_enable,
            "joinEnable": trial.join_enable,
            "reason": refusal_wire(trial.refusal),
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


def refusal_wire(code: ResponseCode | None) -> dict[str, str] | None:
    """A trial's refusal as the answer's ``reason``: ``{code, info}`` in the active language, or None."""
    return None if code is None else {"code": code.code, "info": str(code.info)}


def market_config_query(
    *,
    user_id: str | None,
    source: str,
    channel: str,
    goods_id: str,
    team_id: str | None = None,
    holds_no_open_team: bool = False,
) -> MarketConfig:
    """Trial + teams + statistics. Anonymous visitors (user_id None) see joinable teams only.

    ``team_id``: the request is about joining that team (``Intent.JOIN``: ``isEnable`` is the join decision).
    The trial does not read the team; its seats and state are the lock's to check. ``holds_no_open_team``: the
    own-teams mirror says the user holds no live order in an open team (``apps.trade.own_teams``): no query.
    """
    intent = Intent.JOIN if team_id else Intent.BROWSE
    trial = trial_calculate(
        TrialRequest(user_id=user_id, source=source, channel=channel, goods_id=goods_id, intent=intent)
    )
    activity_id = trial.activity_id
    teams = (
        open_teams_for_user(
            activity_id=activity_id,
            user_id=user_id or "",
            source=source,
            channel=channel,
            holds_no_open_team=holds_no_open_team,
        )
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
