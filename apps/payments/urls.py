"""Mall pages: buy, cashier, my orders, team share page, sandbox gateway."""

from django.urls import path

from apps.payments import views

app_name = "payments"

urlpatterns = [
    path("goods/<str:goods_id>/buy", views.goods_buy, name="goods-buy"),
    path("goods/<str:goods_id>/buy-alone", views.goods_buy_alone, name="goods-buy-alone"),
    path("goods/<str:goods_id>/auto-join", views.goods_auto_join, name="goods-auto-join"),
    path("cashier/<str:order_id>", views.cashier, name="cashier"),
    path("orders", views.my_orders, name="orders"),
    path("orders/<str:order_id>/refund", views.order_refund_page, name="order-refund"),
    path("teams/<str:team_id>", views.team_page, name="team"),
    path("pay/sandbox/<str:order_id>", views.sandbox_pay, name="sandbox-pay"),
]
