"""Trial (试算): the price a user would pay for a SKU and whether they may see and join the offer.

The rule tree (domain.md section 3):

    root ──► switch ──► marketing ──► tag ──► end
                            │           └──► customer ──► end   (new-customer teams only)
                            └──► error (E0002: no configuration)

* root: validates the request.
* switch: DCC ``downgradeSwitch`` = 1 → E0003; cut range: the user takes part when
  ``abs(java_string_hash(user_id)) % 100 <= cutRange``, else E0004 (Java semantics kept, so a mall
  migrating from the reference sees the same users cut).
* marketing: loads the channel mapping, the SKU and — once the mapping names it — the activity with
  its discount, in parallel where independent (cached, see selectors), then prices with the plan's
  strategy; unknown plan → E0001. A tag-only discount applies to members of its tag only. With a leader
  offer (``leader_discount``) it prices the team's opener too: the leader plan applied to the joiner's price
  (``apps.activities.discounts.stacked_pay_price``); a tag-only leader discount again for its members only.
* tag: visibility/joining from the activity's tag scope and bitmap membership; a user in the tag
  is always allowed; a tag without members yet restricts nobody. A bitmap lost from Redis falls
  back to ``crowd_tags_detail`` (see apps/tags/selectors.py), never to "everyone may join".
* customer (activities with ``new_customers_only``; the others route past it): may this user join someone
  else's team? Only a new customer may (``apps.activities.customers``), else ``join_enable`` is false with
  E0107, and so is ``is_enable`` when the request is about joining (``Intent.JOIN``). One query, and none when
  the request is about opening a team (``Intent.OPEN``) or the visitor is anonymous.

The request's ``intent`` says what the answer is for: ``BROWSE`` (a product page: both the open and the join
decision), ``OPEN`` or ``JOIN`` (the lock, and a signed trial naming a ``teamId``). ``is_enable`` keeps its
meaning for existing callers (may this user take part: open a team); ``join_enable`` and ``refusal`` are new.
See docs/decisions/014-leader-offer-and-new-customer-teams.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from prometheus_client import Counter

from apps.activities.customers import customer_is_new
from apps.activities.discounts import discount_strategies, stacked_pay_price
from apps.activities.selectors import (
    ActivityConfig,
    DiscountConfig,
    SkuConfig,
    activity_config,
    activity_key,
    sku_activity_id,
    sku_activity_key,
    sku_config,
    sku_key,
)
from apps.activities.trial_counts import trial_count
from apps.common.cache import local_peek
from apps.common.errors import GroupBuyError, ResponseCode
from apps.common.tree import Loader, RuleNode, RuleTree
from apps.dcc.runtime import dcc_get
from apps.tags.selectors import crowd_tag_membership


class Intent(StrEnum):
    """What a trial is asked for: the customer node's query runs only where its answer is used."""

    BROWSE = "browse"  # a product page: may this user open a team, and may they join one
    OPEN = "open"  # the lock opens a team
    JOIN = "join"  # the lock joins a team (or a signed trial naming the team)


@dataclass(frozen=True)
class TrialRequest:
    # None: an anonymous visitor — no cut range, not a member of any tag.
    user_id: str | None
    source: str
    channel: str
    goods_id: str
    # The lock flow names the activity it locks for; it must match the channel mapping.
    activity_id: int | None = None
    intent: Intent = Intent.BROWSE


@dataclass(frozen=True)
class TrialResult:
    activity: ActivityConfig
    sku: SkuConfig
    original_price: Decimal
    deduction_price: Decimal  # the joiner's (original - pay_price)
    pay_price: Decimal  # the joiner's: what a member who joins a team pays
    is_visible: bool
    is_enable: bool
    # What whoever opens a team pays with the activity's leader offer; None: no leader offer for this user.
    leader_pay_price: Decimal | None = None
    # May this user join someone else's team (the crowd tag, and new customers only)? Not asked for Intent.OPEN.
    join_enable: bool = True
    # Why ``is_visible``, ``is_enable`` or ``join_enable`` is false: the code the lock answers (E0007, E0107).
    refusal: ResponseCode | None = None

    @property
    def activity_id(self) -> int:
        return self.activity.activity_id

    @property
    def leader_deduction_price(self) -> Decimal | None:
        return None if self.leader_pay_price is None else self.original_price - self.leader_pay_price

    def prices_for(self, *, opening: bool) -> tuple[Decimal, Decimal]:
        """(deduction, pay) of the order a lock writes: the leader's prices when opening a team with a leader
        offer, the joiner's otherwise. Either way original = deduction + pay."""
        if opening and self.leader_pay_price is not None:
            return self.original_price - self.leader_pay_price, self.leader_pay_price
        return self.deduction_price, self.pay_price


@dataclass
class TrialContext:
    activity_id: int | None = None
    activity: ActivityConfig | None = None
    sku: SkuConfig | None = None
    pay_price: Decimal | None = None
    leader_pay_price: Decimal | None = None
    loaded: dict[str, Any] = field(default_factory=dict)
    is_visible: bool = True
    is_enable: bool = True
    join_enable: bool = True
    refusal: ResponseCode | None = None

    def priced(self) -> tuple[ActivityConfig, SkuConfig, Decimal]:
        """The activity, SKU and price the pricing node set: the nodes after it run only once they are."""
        if self.activity is None or self.sku is None or self.pay_price is None:
            raise RuntimeError("trial tree: a node ran before the pricing node set the activity, SKU and price")
        return self.activity, self.sku, self.pay_price


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode()``: 31-polynomial over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    encoded = text.encode("utf-16-be")
    for i in range(0, len(encoded), 2):
        h = (31 * h + int.from_bytes(encoded[i : i + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def cut_range_bucket(user_id: str) -> int:
    """``Math.abs(hash) % 100`` in Java: abs(MIN_VALUE) stays negative and % keeps the dividend's sign."""
    h = java_string_hash(user_id)
    magnitude = h if h == -(1 << 31) else abs(h)
    remainder = abs(magnitude) % 100
    return -remainder if magnitude < 0 else remainder


def _is_member(tag_id: str | None, user_id: str | None) -> bool:
    if not tag_id:
        return False
    return crowd_tag_membership(tag_id=tag_id, user_id=user_id) is True


def _leader_pay_price(user_id: str | None, leader: DiscountConfig, joiner_price: Decimal) -> Decimal | None:
    """The opener's price: the leader plan stacked on the joiner's price the activity's own plan already made
    (``stacked_pay_price``); None: no leader offer for this user."""
    if leader.market_plan not in discount_strategies:
        raise GroupBuyError(ResponseCode.E0001)
    if leader.tag_only and not _is_member(leader.tag_id, user_id):
        return None  # a tag-only leader offer is for its members: others open at the joiner's price
    return stacked_pay_price(joiner_price, ((leader.market_plan, leader.market_expr),))


class RootNode(RuleNode[TrialRequest, TrialContext]):
    name = "root"

    def apply(self, request: TrialRequest, ctx: TrialContext) -> None:
        fields = (
            ("source", "channel", "goods_id")
            if request.user_id is None
            else ("user_id", "source", "channel", "goods_id")
        )
        missing = [f for f in fields if not str(getattr(request, f)).strip()]
        if missing:
            raise GroupBuyError(
                ResponseCode.ILLEGAL_PARAMETER, data={f: ["This field may not be blank."] for f in missing}
            )

    def route(self, request: TrialRequest, ctx: TrialContext) -> str:
        return "switch"


class SwitchNode(RuleNode[TrialRequest, TrialContext]):
    name = "switch"

    def apply(self, request: TrialRequest, ctx: TrialContext) -> None:
        if dcc_get("downgradeSwitch") == "1":
            raise GroupBuyError(ResponseCode.E0003)
        if request.user_id is not None and cut_range_bucket(request.user_id) > dcc_get("cutRange"):
            raise GroupBuyError(ResponseCode.E0004)

    def route(self, request: TrialRequest, ctx: TrialContext) -> str:
        return "marketing"


class MarketingNode(RuleNode[TrialRequest, TrialContext]):
    """Loads mapping and SKU in parallel; the activity follows the mapping (cached, so cheap)."""

    name = "marketing"

    def loaders(self, request: TrialRequest, ctx: TrialContext) -> dict[str, Loader]:
        source, channel, goods_id, activity_id = request.source, request.channel, request.goods_id, request.activity_id
        loaders = {
            "activity_id": Loader(
                fetch=lambda: sku_activity_id(source=source, channel=channel, goods_id=goods_id),
                peek=lambda: local_peek(sku_activity_key(source, channel, goods_id)),
            ),
            "sku": Loader(fetch=lambda: sku_config(goods_id=goods_id), peek=lambda: local_peek(sku_key(goods_id))),
        }
        if activity_id:  # the lock flow names the activity: prefetch it beside the others
            loaders["activity"] = Loader(
                fetch=lambda: activity_config(activity_id=activity_id),
                peek=lambda: local_peek(activity_key(activity_id)),
            )
        return loaders

    def accept_loaded(self, request: TrialRequest, ctx: TrialContext, loaded: dict[str, Any]) -> None:
        ctx.activity_id = loaded["activity_id"]
        ctx.sku = loaded["sku"]
        ctx.activity = loaded.get("activity")

    def apply(self, request: TrialRequest, ctx: TrialContext) -> None:
        if ctx.activity_id is None or ctx.sku is None:
            return
        if request.activity_id is not None and request.activity_id != ctx.activity_id:
            ctx.activity = None  # the SKU is not sold under that activity on this channel
            return
        if ctx.activity is None:
            ctx.activity = activity_config(activity_id=ctx.activity_id)
        if ctx.activity is None:
            return
        discount = ctx.activity.discount
        strategy = discount_strategies.get(discount.market_plan)
        if strategy is None:
            raise GroupBuyError(ResponseCode.E0001)
        original = ctx.sku.original_price
        if discount.tag_only and not _is_member(discount.tag_id, request.user_id):
            ctx.pay_price = original
        else:
            ctx.pay_price = strategy.pay_price(original, discount.market_expr)
        leader = ctx.activity.leader_discount
        if leader is not None:
            ctx.leader_pay_price = _leader_pay_price(request.user_id, leader, ctx.pay_price)

    def route(self, request: TrialRequest, ctx: TrialContext) -> str:
        return "tag" if ctx.pay_price is not None else "error"


class ErrorNode(RuleNode[TrialRequest, TrialContext]):
    name = "error"

    def apply(self, request: TrialRequest, ctx: TrialContext) -> None:
        raise GroupBuyError(ResponseCode.E0002)


class TagNode(RuleNode[TrialRequest, TrialContext]):
    name = "tag"

    def apply(self, request: TrialRequest, ctx: TrialContext) -> None:
        activity, _, _ = ctx.priced()
        if not (activity.restricts_visibility or activity.restricts_joining) or not activity.tag_id:
            return  # no restriction, or no tag to restrict by (a tag without members restricts nobody either)
        membership = crowd_tag_membership(tag_id=activity.tag_id, user_id=request.user_id)
        if membership is None:
            return  # a tag without members yet restricts nobody
        member = membership
        ctx.is_visible = member or not activity.restricts_visibility
        ctx.is_enable = member or not activity.restricts_joining
        if not (ctx.is_visible and ctx.is_enable):
            ctx.refusal = ResponseCode.E0007

    def route(self, request: TrialRequest, ctx: TrialContext) -> str:
        activity, _, _ = ctx.priced()
        return "customer" if activity.new_customers_only else "end"


class CustomerNode(RuleNode[TrialRequest, TrialContext]):
    """New-customer teams: whoever opens a team may be anyone; whoever joins one must be a new customer."""

    name = "customer"

    def apply(self, request: TrialRequest, ctx: TrialContext) -> None:
        ctx.join_enable = ctx.is_enable
        if request.intent is Intent.OPEN or request.user_id is None or not ctx.is_enable:
            return  # not asked, not knowable (anonymous: the lock asks), or refused already
        if customer_is_new(source=request.source, channel=request.channel, user_id=request.user_id):
            return
        ctx.join_enable = False
        ctx.refusal = ctx.refusal or ResponseCode.E0107
        if request.intent is Intent.JOIN:
            ctx.is_enable = False

    def route(self, request: TrialRequest, ctx: TrialContext) -> str:
        return "end"


class EndNode(RuleNode[TrialRequest, TrialContext]):
    name = "end"

    def apply(self, request: TrialRequest, ctx: TrialContext) -> TrialResult:
        activity, sku, pay_price = ctx.priced()
        original = sku.original_price
        return TrialResult(
            activity=activity,
            sku=sku,
            original_price=original,
            deduction_price=original - pay_price,
            pay_price=pay_price,
            is_visible=ctx.is_visible,
            is_enable=ctx.is_enable,
            leader_pay_price=ctx.leader_pay_price,
            join_enable=ctx.is_enable and ctx.join_enable,
            refusal=ctx.refusal,
        )


_trial_tree: RuleTree[TrialRequest, TrialContext] | None = None


def trial_tree() -> RuleTree[TrialRequest, TrialContext]:
    global _trial_tree
    if _trial_tree is None:
        _trial_tree = RuleTree(
            root="root",
            nodes=[RootNode(), SwitchNode(), MarketingNode(), ErrorNode(), TagNode(), CustomerNode(), EndNode()],
            threads=settings.TRIAL_LOADER_THREADS,
            timeout=settings.TRIAL_LOADER_TIMEOUT_SECONDS,
        )
    return _trial_tree


TRIALS = Counter("gbm_trials_total", "Trials by outcome (ok or the rejection code)", ["outcome"])


def trial_calculate(request: TrialRequest) -> TrialResult:
    """Run the trial tree. Raises GroupBuyError with the spec's code on every rejection."""
    try:
        result = trial_tree().run(request, TrialContext())
    except GroupBuyError as exc:
        TRIALS.labels(exc.code).inc()
        raise
    TRIALS.labels("ok").inc()
    if request.activity_id is None:  # a shopper shown a price, not the lock's own check (trial_counts.py)
        trial_count(result.activity_id)
    return result
