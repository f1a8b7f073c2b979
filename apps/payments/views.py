"""Mall pages: buy (from the goods and team pages), cashier, my orders, team share page, and the
built-in sandbox gateway's cashier. Login required, except the team share page: a shared link opens
a preview (product, price, seats left, countdown, "log in to join") for visitors who are not logged
in. Thin: one service or selector call, then render.

Each order's words and next steps come from one selector (``order_states``); errors show as shopper
words (``apps.common.shopper_messages``), never as codes. Cancel and refund answer with a redirect to
/orders (POST-redirect-GET), which reads the state fresh: "refund in progress" until the money is back."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.models import User
from apps.common.errors import GroupBuyError
from apps.common.shopper_messages import ALREADY_IN_TEAM, refusal_reason, shopper_message
from apps.common.site import public_base_url
from apps.payments.forms import BuyForm
from apps.payments.gateways import sandbox_active
from apps.payments.gateways.sandbox import sandbox_trade_pay
from apps.payments.models import PayOrder
from apps.payments.orders import (
    SOLO_CLOSE,
    SoloRefund,
    mall_order_auto_join,
    mall_order_create,
    mall_order_create_alone,
    mall_order_refund_request,
)
from apps.payments.selectors import (
    mall_order_of,
    mall_order_pay_deadline,
    mall_order_view,
    mall_order_views,
    sandbox_trade_of,
    team_share,
)

ORDERS_SHOWN = 50


class ShopperRequest(HttpRequest):
    """A request past ``login_required``: its user is a logged-in shopper."""

    user: User


def _goods_order_post(
    request: ShopperRequest, goods_id: str, *, invalid: str, create: Callable[[dict], PayOrder]
) -> PayOrder | HttpResponse:
    """The goods page's buttons share this: a GET (e.g. back from the login page) goes to the goods page, a bad
    form or a refusal goes back there with a message; else the order ``create(cleaned form data)`` made."""
    goods_page = reverse("storefront:goods", args=[goods_id])
    if request.method == "GET":
        return redirect(goods_page)
    form = BuyForm(request.POST)
    if not form.is_valid():
        messages.error(request, invalid)
        return redirect(goods_page)
    try:
        return create(form.cleaned_data)
    except GroupBuyError as exc:
        messages.error(request, shopper_message(exc))
        if refusal_reason(exc) == ALREADY_IN_TEAM and form.cleaned_data.get("team_id"):
            return redirect("payments:team", team_id=form.cleaned_data["team_id"])
        return redirect(goods_page)


def _to_cashier(outcome: PayOrder | HttpResponse) -> HttpResponse:
    if isinstance(outcome, HttpResponse):
        return outcome
    return redirect("payments:cashier", order_id=outcome.order_id)


@login_required
@require_http_methods(["GET", "POST"])
def goods_buy(request: ShopperRequest, goods_id: str) -> HttpResponse:
    """POST from the goods page ("Open a team", "Join") or the team page ("Join") → the cashier."""
    return _to_cashier(
        _goods_order_post(
            request,
            goods_id,
            invalid=_("This team cannot be joined."),
            create=lambda data: mall_order_create(
                user=request.user,
                goods_id=goods_id,
                team_id=data["team_id"] or None,
                idempotency_key=data["idempotency_key"] or None,
            ),
        )
    )


@login_required
@require_http_methods(["GET", "POST"])
def goods_buy_alone(request: ShopperRequest, goods_id: str) -> HttpResponse:
    """POST from the goods page's "Buy alone at full price" → the cashier (no team, no group-buy price)."""
    return _to_cashier(
        _goods_order_post(
            request,
            goods_id,
            invalid=_("This offer cannot be bought right now."),
            create=lambda data: mall_order_create_alone(
                user=request.user, goods_id=goods_id, idempotency_key=data["idempotency_key"] or None
            ),
        )
    )


@login_required
@require_http_methods(["GET", "POST"])
def goods_auto_join(request: ShopperRequest, goods_id: str) -> HttpResponse:
    """POST from the goods page's "Join the team closest to full" → the cashier, saying whether a team was joined
    or (none had a seat left) a new one opened (``mall_order_auto_join``)."""
    joined: list[bool] = []

    def create(data: dict) -> PayOrder:
        outcome = mall_order_auto_join(
            user=request.user, goods_id=goods_id, idempotency_key=data["idempotency_key"] or None
        )
        joined.append(outcome.joined)
        return outcome.order

    order = _goods_order_post(request, goods_id, invalid=_("This offer cannot be bought right now."), create=create)
    if joined == [True]:
        messages.success(request, _("You joined the team closest to full: pay to keep your seat."))
    elif joined == [False]:
        messages.info(request, _("No team had a seat left, so you opened a new one: invite friends to fill it."))
    return _to_cashier(order)


@login_required
def cashier(request: ShopperRequest, order_id: str) -> HttpResponse:
    # Paid at the sandbox, its notify not applied yet: the page says so and reloads until it is.
    paid_at_gateway = sandbox_trade_of(order_id=order_id) is not None
    view = mall_order_view(user=request.user, order_id=order_id, paid_at_gateway=paid_at_gateway)
    if view is None:
        raise Http404("no such order")
    order = view.order
    context = {
        "view": view,
        "order": order,
        # Shown to this shopper only (link and QR code): the origin they reached us on is fine here.
        "pay_url": request.build_absolute_uri(order.pay_url) if order.pay_url else "",
        "sandbox": sandbox_active(),
    }
    return render(request, "payments/cashier.html", context)


@login_required
def my_orders(request: ShopperRequest) -> HttpResponse:
    views = mall_order_views(user=request.user, limit=ORDERS_SHOWN)
    return render(request, "payments/orders.html", {"views": views})


def team_page(request: HttpRequest, team_id: str) -> HttpResponse:
    """The team's share page; anonymous visitors get the same page as a preview with "log in to join"."""
    share = team_share(team_id=team_id, user=request.user)
    if share is None:
        raise Http404("no such team")
    page = reverse("payments:team", args=[share.team.team_id])
    context = {
        "share": share,
        "share_url": request.build_absolute_uri(page),
        "join_login_url": f"{settings.LOGIN_URL}?{urlencode({'next': page})}",
    }
    return render(request, "payments/team.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_pay(request: ShopperRequest, order_id: str) -> HttpResponse:
    """The sandbox gateway's cashier: GET shows it; POST (the Pay button) pays and goes back to
    the mall's cashier, where the notify's effect shows."""
    if not sandbox_active():
        raise Http404("the sandbox gateway is off")
    order = mall_order_of(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("no such order")
    if request.method == "POST":
        # Server to server: the configured base only. The request's Host header is the shopper's to
        # choose, and would let them receive the signed notify (public_base_url).
        notify_url = public_base_url() + reverse("alipay-notify")
        try:
            sandbox_trade_pay(order_id=order.order_id, user=request.user, notify_url=notify_url)
        except GroupBuyError as exc:
            messages.error(request, shopper_message(exc))
        return redirect("payments:cashier", order_id=order.order_id)
    context = {
        "order": order,
        "payable": order.status == PayOrder.Status.PAY_WAIT,
        "deadline": mall_order_pay_deadline(order=order),
        "page_url": request.build_absolute_uri(),
        "trade": sandbox_trade_of(order_id=order.order_id),
    }
    return render(request, "payments/sandbox_pay.html", context)


@login_required
@require_POST
def order_refund_page(request: ShopperRequest, order_id: str) -> HttpResponse:
    """The cancel / refund button on /orders: give the seat back; paid money returns through the gateway
    (asynchronously: /orders then says "refund in progress" until it is back)."""
    try:
        outcome = mall_order_refund_request(user=request.user, order_id=order_id)
    except GroupBuyError as exc:
        messages.error(request, shopper_message(exc))
    else:
        if outcome.repeat:
            messages.info(request, _("This order was already cancelled or refunded."))
        elif outcome.strategy in ("unpaid_unlock", SOLO_CLOSE):
            messages.success(request, _("Order cancelled. Nothing was charged."))
        else:
            amount = outcome.order.pay_amount if isinstance(outcome, SoloRefund) else outcome.order.pay_price
            messages.success(
                request, _("Refund requested: ¥%(amount)s is on its way back to you.") % {"amount": amount}
            )
    anchor = f"#order-{order_id}" if order_id.isalnum() else ""
    return redirect(reverse("payments:orders") + anchor)
