"""Mall and payment API under /api/v1/: orders, teams, gateway notify."""

from django.urls import path

from apps.payments import apis

urlpatterns = [
    path("mall/orders", apis.MallOrdersApi.as_view(), name="mall-orders"),
    path("mall/orders/<str:order_id>", apis.MallOrderDetailApi.as_view(), name="mall-order"),
    path("mall/orders/<str:order_id>/refund", apis.MallOrderRefundApi.as_view(), name="mall-order-refund"),
    path("mall/teams/<str:team_id>", apis.MallTeamApi.as_view(), name="mall-team"),
    path("alipay/alipay_notify_url", apis.alipay_notify, name="alipay-notify"),
    path("alipay/group_buy_notify", apis.group_buy_notify, name="group-buy-notify"),
]
