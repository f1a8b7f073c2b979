"""A staff refund of a mall order through the admin: the confirmation names shopper, goods and amount;
the refund record names the staff user; the trade order links to its mall order, refunds and callbacks."""

import re

import pytest
from django.urls import reverse

from apps.accounts.tests.factories import StaffFactory
from apps.common.mq import TEAM_REFUND
from apps.payments.models import PayOrder, RefundRecord
from apps.payments.tests.helpers import create_order
from apps.payments.tests.test_refunds import deliver_bus_messages, pay
from apps.trade.models import Order

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ORDERS_URL = reverse("admin:trade_order_changelist")
TEAMS_URL = reverse("admin:trade_team_changelist")


def columns(changelist: str) -> list[str]:
    head = changelist.split('id="result_list"')[1].split("</thead>")[0]
    return re.findall(r'class="[^"]*column-(\w+)', head)


@pytest.fixture
def staff(client, mall_offer):
    user = StaffFactory(username="opsalice")
    client.force_login(user)
    return user


@pytest.fixture
def paid_order(mall_offer) -> PayOrder:
    order = create_order("demo1", mall_offer.goods_id)
    pay(order)
    return order


def test_the_confirmation_shows_shopper_goods_and_amount_of_each_order(client, staff, paid_order):
    trade_order = Order.objects.get(out_trade_no=paid_order.order_id)
    for url, action, pk in ((ORDERS_URL, "refund", trade_order.pk), (TEAMS_URL, "refund_members", trade_order.team.pk)):
        page = client.post(url, {"action": action, "_selected_action": [pk]}, **EN)
        assert page.status_code == 200
        html = page.content.decode()
        row = html.split('id="confirm_details"')[1].split("</table>")[0]
        for cell in (
            "Shopper",
            "Goods",
            "Amount",
            "demo1",
            trade_order.sku.goods_name,
            f"¥{paid_order.pay_amount:.2f}",
        ):
            assert cell in row, (action, cell)
    assert not Order.objects.filter(status=Order.Status.REFUNDED).exists()


def test_a_staff_refund_names_the_staff_user_on_the_refund_record(
    client, staff, paid_order, tasks_run_inline, django_capture_on_commit_callbacks
):
    trade_order = Order.objects.get(out_trade_no=paid_order.order_id)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(ORDERS_URL, {"action": "refund", "_selected_action": [trade_order.pk], "confirm": "yes"})
    assert done.status_code == 302
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)  # the refund message moves the money
    record = RefundRecord.objects.get()
    assert (record.status, record.operator, record.amount) == ("SUCCESS", staff, paid_order.pay_amount)

    listing = client.get(reverse("admin:payments_refundrecord_changelist"), **EN).content.decode()
    assert "Refunded by" in listing
    assert re.search(r"<td[^>]*>opsalice</td>", listing)
    detail = client.get(reverse("admin:payments_refundrecord_change", args=[record.pk]), **EN).content.decode()
    assert "Refunded by" in detail
    assert "opsalice" in detail


def test_a_refund_without_staff_says_it_was_automatic(
    client, staff, paid_order, tasks_run_inline, django_capture_on_commit_callbacks
):
    from apps.payments.tests.test_refunds import refund_as_shopper

    refund_as_shopper(paid_order)
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    assert RefundRecord.objects.get().operator is None
    listing = client.get(reverse("admin:payments_refundrecord_changelist"), **EN).content.decode()
    assert "automatic" in listing


def test_the_trade_order_links_to_its_mall_order_refunds_and_callback_tasks(
    client, staff, paid_order, tasks_run_inline, django_capture_on_commit_callbacks
):
    trade_order = Order.objects.get(out_trade_no=paid_order.order_id)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(ORDERS_URL, {"action": "refund", "_selected_action": [trade_order.pk], "confirm": "yes"})
    deliver_bus_messages(TEAM_REFUND, django_capture_on_commit_callbacks)
    page = client.get(reverse("admin:trade_order_change", args=[trade_order.pk]), **EN).content.decode()
    links = dict(
        (text, href.replace("&amp;", "&")) for href, text in re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', page)
    )
    mall = links[f"mall order {paid_order.order_id}"]
    assert mall == reverse("admin:payments_payorder_change", args=[paid_order.pk])
    refunds = links[f"refund records of mall order {paid_order.order_id}"]
    callbacks = links[f"callback tasks of team {trade_order.team_id}"]
    assert client.get(mall).status_code == 200
    refund_list = client.get(refunds, **EN)
    assert refund_list.status_code == 200
    assert f"RF{paid_order.order_id}" in refund_list.content.decode()
    callback_list = client.get(callbacks, **EN)
    assert callback_list.status_code == 200
    assert trade_order.team_id in callback_list.content.decode()
    assert "0 notify tasks" not in callback_list.content.decode()
    assert client.get(links[f"team {trade_order.team_id}"]).status_code == 200


def test_another_channels_order_does_not_link_to_a_mall_order_of_the_same_number(client, staff, mall_offer):
    from apps.trade.tests.helpers import lock_team

    lock_team(mall_offer, ("someone",))
    order = Order.objects.get(user_id="someone")
    Order.objects.filter(pk=order.pk).update(channel="c99")  # another mall's numbering
    PayOrder.objects.filter(pk=create_order("demo1", mall_offer.goods_id).pk).update(order_id=order.out_trade_no)
    page = client.get(reverse("admin:trade_order_change", args=[order.pk]), **EN).content.decode()
    assert "mall order" not in page


def test_team_and_order_lists_show_leader_deadline_and_status_in_few_columns(client, staff, paid_order, mall_offer):
    create_order("demo2", mall_offer.goods_id, team_id=paid_order.team_id)
    teams = client.get(TEAMS_URL, **EN).content.decode()
    assert len(columns(teams)) <= 6, columns(teams)  # besides the checkbox: fits 1280 px
    for title in ("Leader", "Paid / target", "Status", "Valid until"):
        assert title in teams
    assert re.search(r"<td[^>]*>demo1</td>", teams)  # the leader, not the joiner
    orders = client.get(ORDERS_URL, **EN).content.decode()
    assert len(columns(orders)) <= 7, columns(orders)
    assert "Goods" in orders
