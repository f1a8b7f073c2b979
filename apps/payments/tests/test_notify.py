"""The gateway's notify: verified (signature, app id, order, amount), idempotent, then paid and settled."""

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.payments.gateways.base import generate_private_key, sign_params
from apps.payments.models import PayOrder
from apps.payments.notify import mall_order_paid
from apps.payments.orders import mall_order_close_expired
from apps.payments.tests.helpers import NOTIFY_URL, create_order, notify_params
from apps.trade.models import Order, Team
from apps.trade.tests.invariants import assert_trade_invariants

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(mall_offer):
    return create_order("ann", mall_offer.goods_id)


@pytest.fixture
def gateway_client():
    return Client(enforce_csrf_checks=True)  # the gateway has no CSRF token: the endpoint is exempt


def post(client, params) -> tuple[int, str, str]:
    response = client.post(NOTIFY_URL, params)
    return response.status_code, response["Content-Type"], response.content.decode()


def assert_unchanged(order: PayOrder) -> None:
    fresh = PayOrder.objects.get(pk=order.pk)
    assert (fresh.status, fresh.trade_no, fresh.pay_time) == (PayOrder.Status.PAY_WAIT, "", None)
    assert Order.objects.get(out_trade_no=order.order_id).status == Order.Status.LOCKED
    assert Team.objects.get(team_id=order.team_id).complete_count == 0


def test_a_valid_notify_pays_and_settles_the_order(order, gateway_client):
    status, content_type, body = post(gateway_client, notify_params(order))
    assert (status, body) == (200, "success")
    assert content_type.startswith("text/plain")
    paid = PayOrder.objects.get(pk=order.pk)
    assert (paid.status, paid.trade_no, paid.refund_required) == (
        PayOrder.Status.PAY_SUCCESS,
        "T" + order.order_id,
        False,
    )
    assert paid.pay_time is not None
    assert Order.objects.get(out_trade_no=order.order_id).status == Order.Status.PAID
    assert Team.objects.get(team_id=order.team_id).complete_count == 1
    assert_trade_invariants()


def test_a_replayed_notify_answers_success_and_changes_nothing(order, gateway_client):
    params = notify_params(order)
    assert post(gateway_client, params)[2] == "success"
    before = PayOrder.objects.get(pk=order.pk)
    assert post(gateway_client, params)[2] == "success"
    after = PayOrder.objects.get(pk=order.pk)
    assert (after.status, after.pay_time, after.update_time) == (before.status, before.pay_time, before.update_time)
    assert Team.objects.get(team_id=order.team_id).complete_count == 1


def test_a_forged_signature_is_refused_and_logged(order, gateway_client, caplog):
    forged = sign_params(generate_private_key(), notify_params(order))
    with caplog.at_level(logging.WARNING, logger="apps.payments.notify"):
        assert post(gateway_client, forged)[2] == "fail"
    assert "bad_signature" in caplog.text and order.order_id in caplog.text
    assert_unchanged(order)


def test_a_tampered_amount_is_refused(order, gateway_client, caplog):
    params = notify_params(order)
    params["total_amount"] = "0.01"
    with caplog.at_level(logging.WARNING):
        assert post(gateway_client, params)[2] == "fail"
    assert "bad_signature" in caplog.text
    assert_unchanged(order)


def test_a_signed_but_different_amount_is_refused(order, gateway_client, caplog):
    with caplog.at_level(logging.WARNING):
        assert post(gateway_client, notify_params(order, total_amount="79.99"))[2] == "fail"
        assert post(gateway_client, notify_params(order, total_amount="80.00.0"))[2] == "fail"
    assert caplog.text.count("amount_mismatch") == 2
    assert_unchanged(order)


def test_another_app_id_is_refused(order, gateway_client, caplog):
    with caplog.at_level(logging.WARNING):
        assert post(gateway_client, notify_params(order, app_id="2021000000000000"))[2] == "fail"
    assert "wrong_app_id" in caplog.text
    assert_unchanged(order)


def test_an_unknown_order_is_refused(order, gateway_client, caplog):
    with caplog.at_level(logging.WARNING):
        assert post(gateway_client, notify_params(order, out_trade_no="999999999999999999"))[2] == "fail"
    assert "unknown_order" in caplog.text
    assert_unchanged(order)


@pytest.mark.parametrize("drop", ["sign", "sign_type"])
def test_an_unsigned_notify_is_refused(order, gateway_client, drop):
    params = notify_params(order)
    del params[drop]
    assert post(gateway_client, params)[2] == "fail"
    assert_unchanged(order)


def test_another_sign_type_is_refused(order, gateway_client):
    assert post(gateway_client, {**notify_params(order), "sign_type": "RSA"})[2] == "fail"
    assert_unchanged(order)


def test_a_non_paying_trade_status_is_acknowledged_without_change(order, gateway_client):
    assert post(gateway_client, notify_params(order, trade_status="WAIT_BUYER_PAY"))[2] == "success"
    assert_unchanged(order)


def test_trade_finished_counts_as_paid(order, gateway_client):
    assert post(gateway_client, notify_params(order, trade_status="TRADE_FINISHED"))[2] == "success"
    assert PayOrder.objects.get(pk=order.pk).status == PayOrder.Status.PAY_SUCCESS


def test_only_post_is_accepted(gateway_client):
    assert gateway_client.get(NOTIFY_URL).status_code == 405


def test_paid_after_the_team_ended_keeps_the_payment_and_flags_a_refund(order, gateway_client, caplog):
    Team.objects.filter(team_id=order.team_id).update(
        valid_start_time=timezone.now() - timedelta(minutes=30), valid_end_time=timezone.now() - timedelta(minutes=1)
    )
    with caplog.at_level(logging.ERROR):
        assert post(gateway_client, notify_params(order))[2] == "success"
    paid = PayOrder.objects.get(pk=order.pk)
    assert (paid.status, paid.refund_required, paid.market_code) == (PayOrder.Status.PAY_SUCCESS, True, "E0106")
    assert "flagged for refund" in caplog.text
    assert Order.objects.get(out_trade_no=order.order_id).status == Order.Status.LOCKED


def test_paid_after_closing_flags_a_refund_once(order, gateway_client):
    PayOrder.objects.filter(pk=order.pk).update(order_time=timezone.now() - timedelta(minutes=16))
    assert mall_order_close_expired() == 1
    assert post(gateway_client, notify_params(order))[2] == "success"
    assert post(gateway_client, notify_params(order))[2] == "success"
    closed = PayOrder.objects.get(pk=order.pk)
    assert (closed.status, closed.refund_required, closed.trade_no) == (
        PayOrder.Status.CLOSE,
        True,
        "T" + order.order_id,
    )
    assert Team.objects.get(team_id=order.team_id).complete_count == 0


def test_a_second_different_payment_is_logged_not_applied(order, caplog):
    paid_at = timezone.now()
    mall_order_paid(order_id=order.order_id, trade_no="T1", paid_amount=order.pay_amount, paid_at=paid_at)
    with caplog.at_level(logging.ERROR):
        again = mall_order_paid(order_id=order.order_id, trade_no="T2", paid_amount=order.pay_amount, paid_at=paid_at)
    assert again.trade_no == "T1"
    assert "paid twice" in caplog.text
    assert Team.objects.get(team_id=order.team_id).complete_count == 1


def test_a_transient_settlement_failure_rolls_back_and_answers_fail(order, gateway_client, monkeypatch):
    from apps.common.errors import GroupBuyError, ResponseCode
    from apps.payments import notify

    def team_changed(*, command):
        raise GroupBuyError(ResponseCode.UPDATE_ZERO)

    monkeypatch.setattr(notify, "order_settle", team_changed)
    assert post(gateway_client, notify_params(order))[2] == "fail"
    assert_unchanged(order)
    monkeypatch.undo()
    assert post(gateway_client, notify_params(order))[2] == "success"  # the gateway's retry
    assert PayOrder.objects.get(pk=order.pk).status == PayOrder.Status.PAY_SUCCESS
