"""Mall orders for the gateway suite, made by the mall's own code, each with the notify its gateway would send.

    python -m benchmarks.gateway_orders RUN_ID FIRST COUNT OUT

Run by ``GatewayNotifyScenario.replenish`` in a Django process with the bench's environment (as
``benchmarks.fixtures``): COUNT new shoppers ``bench-<RUN_ID>-G<n>`` from FIRST on, in teams of 3 on the demo's
plain goods, each buying through ``mall_order_create`` (the built-in mall's order, which locks the group-buy seat);
then the sandbox gateway's RSA2-signed ``TRADE_SUCCESS`` notify of every order, one JSON line each in OUT:
``{"order_id", "user_id", "body"}`` (the form body, URL-encoded, as the gateway posts it). A team that could not be
filled is left out whole.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlencode

import django

TEAM_SIZE = 3


def main(argv: list[str]) -> int:
    run_id, first, count, out = argv[0], int(argv[1]), int(argv[2]), argv[3]
    django.setup()
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.common.errors import GroupBuyError
    from apps.payments.gateways.base import gateway_time
    from apps.payments.gateways.sandbox import sandbox_gateway
    from apps.payments.models import PayOrder
    from apps.payments.orders import mall_order_create
    from benchmarks.scenarios import DEMO_GOODS

    names = [f"bench-{run_id}-G{n}" for n in range(first, first + count - count % TEAM_SIZE)]
    User.objects.bulk_create([User(username=name, password="!") for name in names], ignore_conflicts=True)  # noqa: S106 - unusable
    shoppers = {user.username: user for user in User.objects.filter(username__in=names)}
    gateway = sandbox_gateway()
    failed = 0
    with open(out, "w", encoding="utf-8") as lines:
        for start in range(0, len(names), TEAM_SIZE):
            goods_id = DEMO_GOODS[(first + start) // TEAM_SIZE % len(DEMO_GOODS)]
            orders: list[PayOrder] = []
            try:
                for name in names[start : start + TEAM_SIZE]:
                    team_id = orders[0].team_id if orders else None
                    orders.append(mall_order_create(user=shoppers[name], goods_id=goods_id, team_id=team_id))
            except GroupBuyError:
                failed += 1
                continue
            for order in orders:
                now = gateway_time(timezone.now())
                params = gateway.sign(
                    {
                        "app_id": gateway.app_id,
                        "gmt_payment": now,
                        "notify_id": f"n-{order.order_id}",
                        "notify_time": now,
                        "notify_type": "trade_status_sync",
                        "out_trade_no": order.order_id,
                        "subject": order.product_name,
                        "total_amount": f"{order.pay_amount:.2f}",
                        "trade_no": f"T{order.order_id}",
                        "trade_status": "TRADE_SUCCESS",
                    }
                )
                record = {"order_id": order.order_id, "user_id": order.user.username, "body": urlencode(params)}
                lines.write(json.dumps(record) + "\n")
    print(json.dumps({"orders": len(names) - TEAM_SIZE * failed, "teams_failed": failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
