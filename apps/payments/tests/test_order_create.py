"""mall_order_create: a pay_order with a locked seat and a pay URL; idempotency; lock rejections."""

from decimal import Decimal

import pytest
from django.conf import settings

from apps.activities.tests.factories import an_offer
from apps.common.errors import GroupBuyError, ResponseCode
from apps.payments import orders
from apps.payments.models import PayOrder
from apps.payments.tests.helpers import create_order
from apps.trade.models import NotifyType, Order, Team
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db


def test_opening_a_team_locks_a_seat_and_waits_for_payment(mall_offer):
    order = create_order("ann", mall_offer.goods_id)
    assert order.status == PayOrder.Status.PAY_WAIT
    assert len(order.order_id) == 18 and order.order_id.isdigit()
    assert (order.total_amount, order.market_deduction_amount, order.pay_amount) == (
        Decimal("100.00"),
        Decimal("20.00"),
        Decimal("80.00"),
    )
    assert order.market_type == PayOrder.MarketType.GROUP_BUY
    assert order.pay_url == f"/pay/sandbox/{order.order_id}"
    assert order.idempotency_key is None
    locked = Order.objects.get(out_trade_no=order.order_id)
    assert (locked.user_id, locked.source, locked.channel, locked.status) == ("ann", settings.MALL_SOURCE,
                                                                              settings.MALL_CHANNEL, 0)  # fmt: skip
    assert locked.team_id == order.team_id
    assert Team.objects.get(team_id=order.team_id).notify_type == NotifyType.MQ
    assert_trade_invariants()


def test_joining_a_team_takes_the_next_seat(mall_offer):
    leader = create_order("ann", mall_offer.goods_id)
    member = create_order("bob", mall_offer.goods_id, team_id=leader.team_id)
    assert member.team_id == leader.team_id
    assert Team.objects.get(team_id=leader.team_id).lock_count == 2
    assert_trade_invariants()


def test_the_same_idempotency_key_is_the_same_order(mall_offer):
    first = create_order("ann", mall_offer.goods_id, idempotency_key="k-1")
    again = create_order("ann", mall_offer.goods_id, idempotency_key="k-1")
    assert again.pk == first.pk
    assert PayOrder.objects.count() == 1
    assert Order.objects.count() == 1


def test_keys_are_per_user(mall_offer):
    mine = create_order("ann", mall_offer.goods_id, idempotency_key="shared")
    theirs = create_order("bob", mall_offer.goods_id, idempotency_key="shared")
    assert mine.pk != theirs.pk


def test_a_key_reused_for_other_goods_is_refused(mall_offer):
    other = an_offer(credential=mall_offer.credential)
    create_order("ann", mall_offer.goods_id, idempotency_key="k-1")
    with pytest.raises(GroupBuyError) as raised:
        create_order("ann", other.goods_id, idempotency_key="k-1")
    assert raised.value.code == "0002"
    assert PayOrder.objects.count() == 1


def test_a_lock_rejection_closes_the_order_and_a_replay_raises_it_again(mall_offer):
    create_order("ann", mall_offer.goods_id)
    with pytest.raises(GroupBuyError) as raised:
        create_order("ann", mall_offer.goods_id, idempotency_key="again")  # take limit 1
    assert raised.value.code == "E0103"
    closed = PayOrder.objects.get(idempotency_key="again")
    assert (closed.status, closed.market_code) == (PayOrder.Status.CLOSE, "E0103")
    with pytest.raises(GroupBuyError) as replayed:
        create_order("ann", mall_offer.goods_id, idempotency_key="again")
    assert replayed.value.code == "E0103"
    assert PayOrder.objects.count() == 2


def test_joining_a_full_team_is_refused_with_e0006(mall_offer):
    team_id = create_order("demo1", mall_offer.goods_id).team_id
    create_order("demo2", mall_offer.goods_id, team_id=team_id)
    create_order("demo3", mall_offer.goods_id, team_id=team_id)
    with pytest.raises(GroupBuyError) as raised:
        create_order("demo4", mall_offer.goods_id, team_id=team_id)
    assert raised.value.code == "E0006"
    assert PayOrder.objects.get(user__username="demo4").status == PayOrder.Status.CLOSE


def test_rejections_before_the_lock_write_nothing(mall_offer, set_dcc):
    with pytest.raises(GroupBuyError) as unknown:
        create_order("ann", "nope")
    assert unknown.value.code == "E0002"
    set_dcc("downgradeSwitch", "1")
    with pytest.raises(GroupBuyError) as downgraded:
        create_order("ann", mall_offer.goods_id, idempotency_key="k")
    assert downgraded.value.code == "E0003"
    assert not PayOrder.objects.exists()


def test_a_malformed_team_id_or_key_is_a_parameter_error(mall_offer):
    with pytest.raises(GroupBuyError) as team:
        create_order("ann", mall_offer.goods_id, team_id="1; drop")
    with pytest.raises(GroupBuyError) as key:
        create_order("ann", mall_offer.goods_id, idempotency_key="k" * 65)
    assert (team.value.code, key.value.code) == ("0002", "0002")


def test_a_transient_lock_failure_leaves_the_order_to_resume_with_its_key(mall_offer, monkeypatch):
    real_lock = orders.order_lock

    def redis_down(*, command):
        raise GroupBuyError(ResponseCode.SERVICE_UNAVAILABLE)

    monkeypatch.setattr(orders, "order_lock", redis_down)
    with pytest.raises(GroupBuyError) as raised:
        create_order("ann", mall_offer.goods_id, idempotency_key="k-1")
    assert raised.value.code == "0007"
    assert PayOrder.objects.get().status == PayOrder.Status.CREATE

    monkeypatch.setattr(orders, "order_lock", real_lock)
    resumed = create_order("ann", mall_offer.goods_id, idempotency_key="k-1")
    assert resumed.status == PayOrder.Status.PAY_WAIT
    assert PayOrder.objects.count() == 1
    assert Order.objects.get().out_trade_no == resumed.order_id


def test_a_racing_twin_resumes_the_winners_order(mall_offer, monkeypatch):
    """A twin that finds the winner's row still CREATE locks with the same out_trade_no: one seat."""
    winner = create_order("ann", mall_offer.goods_id, idempotency_key="k-1")
    PayOrder.objects.filter(pk=winner.pk).update(status=PayOrder.Status.CREATE, pay_url="")
    twin = create_order("ann", mall_offer.goods_id, idempotency_key="k-1")
    assert (twin.pk, twin.status, twin.team_id) == (winner.pk, PayOrder.Status.PAY_WAIT, winner.team_id)
    assert Order.objects.count() == 1
    assert_trade_invariants()
