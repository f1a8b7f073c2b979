from django.urls import path

from apps.trade import apis

urlpatterns = [
    path("lock_market_pay_order", apis.lock, name="gbm-lock"),
    path("settlement_market_pay_order", apis.settle, name="gbm-settle"),
    path("refund_market_pay_order", apis.refund, name="gbm-refund"),
    path("team_progress", apis.team_progress_get, name="gbm-team-progress"),
]
