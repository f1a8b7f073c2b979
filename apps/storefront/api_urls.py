from django.urls import path

from apps.storefront import apis

urlpatterns = [
    path("products", apis.MallProductListApi.as_view(), name="mall-products"),
    path("products/<str:goods_id>", apis.MallProductDetailApi.as_view(), name="mall-product"),
]
