"""Shop pages (server-rendered). Thin: one selector call, then render.

Both pages read through ``replica_reads()`` (apps/common/db_routing.py): products, prices and other shoppers'
teams tolerate a replica's few seconds of lag. The shopper's own orders and teams still come from the primary:
they are read in plain SQL on the primary's connection (``own_live_teams``, ``mall_takes_left``), and so are
the session and the user (``PRIMARY_ONLY_APPS``).
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.common.db_routing import replica_reads
from apps.common.errors import GroupBuyError, ResponseCode
from apps.storefront.selectors import product_cards, product_page


@replica_reads()
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "storefront/index.html", {"cards": product_cards(user=request.user)})


@replica_reads()
def goods_detail(request: HttpRequest, goods_id: str) -> HttpResponse:
    try:
        page = product_page(user=request.user, goods_id=goods_id)
    except GroupBuyError as exc:
        if exc.response_code is ResponseCode.E0002:
            raise Http404(exc.info) from exc
        return render(request, "storefront/unavailable.html", {"error": exc, "goods_id": goods_id}, status=200)
    if not page.config.trial.is_visible:
        raise Http404("not visible")
    context = {"page": page, "config": page.config, "trial": page.config.trial}
    return render(request, "storefront/goods.html", context)
