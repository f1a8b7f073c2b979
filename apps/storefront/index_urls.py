from django.urls import path

from apps.storefront import apis

urlpatterns = [
    path("query_group_buy_market_config", apis.market_config, name="gbm-market-config"),
]
