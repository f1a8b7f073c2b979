from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.activities.selectors import channel_products


def index(request: HttpRequest) -> HttpResponse:
    products = channel_products(source=settings.MALL_SOURCE, channel=settings.MALL_CHANNEL)
    return render(request, "storefront/index.html", {"products": products})
