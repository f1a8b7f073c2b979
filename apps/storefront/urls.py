from django.urls import path

from apps.storefront import views

app_name = "storefront"

urlpatterns = [
    path("", views.index, name="index"),
    path("goods/<str:goods_id>", views.goods_detail, name="goods"),
]
