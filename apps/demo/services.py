"""The demo data of spec/demo-data.md, loaded idempotently: a second run changes nothing.

Refused where ``settings.DEMO_DATA_ALLOWED`` is off (production, unless ``GBM_ALLOW_DEMO_DATA=1``: see
config/guards.py): the demo passwords and channel secrets are public.

Rows are matched by their natural keys. Times (activity windows) and passwords are set only when
a row is created, so re-running never moves a window or rehashes a password.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.activities.models import Activity, Discount, ScSkuActivity, Sku
from apps.channels.models import ChannelCredential
from apps.tags.models import CrowdTag
from apps.tags.services import crowd_tag_add_members

DEMO_TAG_ID = "RQ_KJHKL98UU78H66554GFDV"
DEMO_PASSWORD = "demo"  # noqa: S105 - demo data only; production refuses it
DEMO_CHANNELS = [("s01", "c01", "s01c01-demo-secret", "main channel"), ("s02", "c02", "s02c02-demo-secret", "")]
DEMO_SHOPPERS = ["xiaofuge", "liergou", *(f"demo{n}" for n in range(1, 10))]

# goods_id, name, original price, activity id, discount id, plan, expression
DEMO_OFFERS = [
    ("9890001", "手写MyBatis：渐进式源码实践", "100.00", 100123, "25120201", "ZJ", "20"),
    ("9890002", "手写Spring：渐进式源码实践", "120.00", 100124, "25120202", "MJ", "100,10"),
    ("9890003", "DDD 领域驱动设计实战", "90.00", 100125, "25120203", "ZK", "0.8"),
    ("9890004", "Java 面试手册", "50.00", 100126, "25120204", "N", "1.99"),
    ("9890005", "拼团营销系统设计", "100.00", 100127, "25120205", "ZJ", "30"),
    ("9890006", "限时拼团体验课（两分钟成团）", "30.00", 100128, "25120206", "ZJ", "10"),
    # One offer per growth setting (admin's "growth" fieldset), none of them in spec/demo-data.md's table:
    ("9890007", "Redis 实战（团长再减 5 元）", "80.00", 100129, "25120207", "ZJ", "10"),
    ("9890008", "Git 入门（新人专享）", "20.00", 100130, "25120208", "N", "9.90"),
    ("9890009", "Docker 入门（两人付款即成团）", "60.00", 100131, "25120209", "ZK", "0.5"),
    ("9890010", "算法训练营（限 5 团）", "200.00", 100132, "25120210", "MJ", "150,50"),
]
# Short descriptions of the demo goods (their covers ship as static/img/goods/<goods id>.svg).
DEMO_DESCRIPTIONS = {
    "9890001": "从零实现一个 MyBatis：解析、执行、插件，一步一个可运行的工程。",
    "9890002": "从 IoC 容器到 AOP，跟着源码手写一个精简版 Spring。",
    "9890003": "用一个真实的拼团系统讲清楚限界上下文、聚合与领域事件。",
    "9890004": "Java 面试高频问题与答题思路，覆盖并发、JVM 与框架。",
    "9890005": "拼团营销系统的架构设计：试算、锁单、结算与回调。",
    "9890006": "两分钟内成团的体验课：没凑齐的团会失败并自动退款，正好看一遍拼团的完整生命周期。",
    "9890007": "开团的团长在拼团价上再减 5 元：团长 65 元，参团 70 元。",
    "9890008": "只有从未付过款的新用户可以参团；任何人都可以开团。",
    "9890009": "三人团，两分钟内有两人付款就成团，空位由平台补齐；只有一人付款则失败退款。",
    "9890010": "每人最多参加 2 次；全站只成 5 个团，之后售罄。",
}
# The growth settings of those four offers (apps.activities.models.Activity): a leader discount (ZJ 5 off the team
# price for whoever opens the team), new customers only, auto-form at two paid seats of three within 2 minutes (so
# `make run` shows a team form with a virtual seat), and a take limit of 2 with at most 5 teams formed.
DEMO_LEADER_DISCOUNTS = {100129: ("25120217", "ZJ", "5")}
DEMO_GROWTH: dict[int, dict[str, Any]] = {
    100130: {"new_customers_only": True},
    100131: {"group_type": Activity.GroupType.AUTO_FORM, "auto_form_percent": 66},
    100132: {"take_limit_count": 2, "max_teams_formed": 5},
}
# The 6th offer is short-lived: its teams expire 2 minutes after opening, so a newcomer sees a team fail and its
# payment come back within minutes of `make run` (the embedded beat closes it; config/embedded_beat.py); so is the
# auto-form offer, to see a team form with a virtual seat. Every other activity keeps spec/demo-data.md's 15 minutes.
DEMO_VALID_MINUTES = {100128: 2, 100131: 2}
# ... and its members are reminded 1 minute before the deadline (inbox, bell): a reminder to see within two
# minutes of opening a team there. Every other activity keeps the default 5 minutes.
DEMO_EXPIRY_REMINDER_MINUTES = {100128: 1}
DEMO_TAGGED_ACTIVITY = 100127
DEMO_EXTRA_MAPPINGS = [("s02", "c02", "9890001")]


M = TypeVar("M", bound=models.Model)


def _upsert(model: type[M], lookup: dict, values: dict, create_only: dict | None = None) -> M:
    """Create with ``values`` + ``create_only``, or update only the ``values`` that differ."""
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        return model._default_manager.create(**lookup, **values, **(create_only or {}))
    changed = [field for field, value in values.items() if getattr(obj, field) != value]
    if changed:
        for field in changed:
            setattr(obj, field, values[field])
        obj.save(update_fields=[*changed, *(["update_time"] if hasattr(obj, "update_time") else [])])
    return obj


def _user(username: str, *, staff: bool) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, is_staff=staff, is_superuser=staff)
        user.set_password("admin" if staff else DEMO_PASSWORD)
        user.save()
    return user


def demo_load() -> None:
    if not settings.DEMO_DATA_ALLOWED:
        raise ImproperlyConfigured(
            "Refusing to load the demo data under production settings: its passwords and channel secrets are "
            "public (admin/admin, shoppers/demo). Benchmarks and tests on a private database set GBM_ALLOW_DEMO_DATA=1."
        )
    _demo_load()


@transaction.atomic
def _demo_load() -> None:
    now = timezone.now().replace(microsecond=0)
    window = {"start_time": now - timedelta(days=1), "end_time": now + timedelta(days=365)}

    _user("admin", staff=True)
    for username in DEMO_SHOPPERS:
        _user(username, staff=False)

    for source, channel, secret, name in DEMO_CHANNELS:
        _upsert(
            ChannelCredential,
            {"source": source, "channel": channel},
            {
                "secret": secret,
                "name": name,
                "signature_required": True,
                "enabled": True,
                # The demo's malls and test receivers listen on this machine.
                "notify_hosts": "127.0.0.1\nlocalhost",
                "notify_private_allowed": True,
            },
        )

    tag = _upsert(CrowdTag, {"tag_id": DEMO_TAG_ID}, {"tag_name": "demo crowd", "tag_desc": "xiaofuge and liergou"})
    crowd_tag_add_members(tag=tag, user_ids=["xiaofuge", "liergou"])

    for goods_id, name, price, activity_id, discount_id, plan, expr in DEMO_OFFERS:
        sku = _upsert(
            Sku,
            {"goods_id": goods_id},
            {
                "goods_name": name,
                "original_price": Decimal(price),
                "source": "s01",
                "channel": "c01",
                "description": DEMO_DESCRIPTIONS[goods_id],
            },
        )
        discount = _upsert(
            Discount,
            {"discount_id": discount_id},
            {
                "discount_name": f"{plan} {expr}",
                "discount_type": Discount.DiscountType.BASE,
                "market_plan": plan,
                "market_expr": expr,
                "tag": None,
            },
        )
        tagged = activity_id == DEMO_TAGGED_ACTIVITY
        leader_discount = None
        if activity_id in DEMO_LEADER_DISCOUNTS:
            leader_id, leader_plan, leader_expr = DEMO_LEADER_DISCOUNTS[activity_id]
            leader_discount = _upsert(
                Discount,
                {"discount_id": leader_id},
                {
                    "discount_name": f"团长 {leader_plan} {leader_expr}",
                    "discount_type": Discount.DiscountType.BASE,
                    "market_plan": leader_plan,
                    "market_expr": leader_expr,
                    "tag": None,
                },
            )
        growth = {
            "leader_discount": leader_discount,
            "new_customers_only": False,
            "auto_form_percent": 0,
            "max_teams_formed": None,
            **DEMO_GROWTH.get(activity_id, {}),
        }
        activity = _upsert(
            Activity,
            {"activity_id": activity_id},
            {
                "activity_name": f"拼团 {name}",
                "discount": discount,
                "status": Activity.Status.EFFECTIVE,
                "target": 3,
                "valid_time": DEMO_VALID_MINUTES.get(activity_id, 15),
                "expiry_reminder_minutes": DEMO_EXPIRY_REMINDER_MINUTES.get(activity_id, 5),
                "take_limit_count": 1,
                "group_type": Activity.GroupType.TARGET_REQUIRED,
                "tag": tag if tagged else None,
                "tag_scope": Activity.TagScope.BOTH if tagged else "",
                **growth,
            },
            create_only=window,
        )
        _upsert(ScSkuActivity, {"source": "s01", "channel": "c01", "sku": sku}, {"activity": activity})

    for source, channel, goods_id in DEMO_EXTRA_MAPPINGS:
        mapping = ScSkuActivity.objects.get(source="s01", channel="c01", sku_id=goods_id)
        _upsert(
            ScSkuActivity,
            {"source": source, "channel": channel, "sku_id": goods_id},
            {"activity_id": mapping.activity_id},
        )
