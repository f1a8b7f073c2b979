from django.urls import path

from apps.trade import apis

urlpatterns = [
    path("lock_market_pay_order", apis.LockApi.as_view(), name="gbm-lock"),
    path("settlement_market_pay_order", apis.SettleApi.as_view(), name="gbm-settle"),
    path("refund_market_pay_order", apis.RefundApi.as_view(), name="gbm-refund"),
    path("team_progress", apis.TeamProgressApi.as_view(), name="gbm-team-progress"),
]
