from django.urls import path

from apps.trade import apis

urlpatterns = [
    path("lock_market_pay_order", apis.LockApi.as_view(), name="gbm-lock"),
]
