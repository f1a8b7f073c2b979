from django.urls import path

from apps.storefront import apis

urlpatterns = [
    path("query_group_buy_market_config", apis.MarketConfigApi.as_view(), name="gbm-market-config"),
]
