"""The router against a real MariaDB replica (``DATABASE_REPLICA_URL``; ``.ci/mariadb-replica`` starts one).

The replica follows the primary by GTID; each test waits for it (``MASTER_GTID_WAIT``) before a read there.
Required with ``GBM_REQUIRE_SERVICES=1``, skipped with the reason otherwise.
"""

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.test.utils import CaptureQueriesContext

from apps.common.cache import local_clear
from apps.common.db_routing import REPLICA_DB_ALIAS, replica_health_reset, replica_lag_seconds, replica_reads
from apps.trade.models import Order, Team
from apps.trade.refund import order_refund
from apps.trade.tests.helpers import lock_team, settle_orders

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, databases=["default", "replica"])]


def team_reads(capture: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in capture.captured_queries if "`group_buy_order`" in q["sql"]]


def test_the_replica_is_another_server_that_follows_the_primary_and_refuses_writes(real_replica, offer):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT @@server_id")
        (primary_id,) = cursor.fetchone()
    assert real_replica.server_id != primary_id
    team_id = lock_team(offer, ("demo1",))
    real_replica()
    assert Team.objects.using(REPLICA_DB_ALIAS).get(team_id=team_id).lock_count == 1
    assert replica_lag_seconds() == 0
    with pytest.raises(DatabaseError), connections[REPLICA_DB_ALIAS].cursor() as cursor:
        cursor.execute("UPDATE group_buy_order SET lock_count = 3 WHERE team_id = %s", [team_id])


def test_an_anonymous_goods_page_shows_the_teams_the_replica_has(real_replica, mall_offer, client):
    team_id = lock_team(mall_offer, ("leader1",))
    real_replica()
    with (
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = client.get(f"/goods/{mall_offer.goods_id}")
    assert [team.team_id for team in response.context["page"].config.teams] == [team_id]
    assert team_reads(replica) and not team_reads(primary)


def test_write_flows_read_their_own_writes_on_the_primary_with_a_real_replica(real_replica, offer):
    with CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as replica, replica_reads():
        team_id = lock_team(offer, ("demo1", "demo2", "demo3"))
        settle_orders(offer, ("demo1", "demo2", "demo3"))
        lock_team(offer, ("demo4",))
        order_refund(source=offer.source, channel=offer.channel, out_trade_no="OTN-demo4")
    assert Team.objects.get(team_id=team_id).status == Team.Status.COMPLETE
    assert Order.objects.get(out_trade_no="OTN-demo4").status == Order.Status.REFUNDED
    assert replica.captured_queries == []


def test_a_replica_behind_the_bound_is_bypassed(real_replica, mall_offer, client, settings):
    lock_team(mall_offer, ("leader1",))
    real_replica()
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = -1  # even 0 s behind is too far
    replica_health_reset()
    with (
        CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as replica,
        CaptureQueriesContext(connections["default"]) as primary,
    ):
        response = client.get(f"/goods/{mall_offer.goods_id}")
    assert len(response.context["page"].config.teams) == 1
    assert [q["sql"] for q in replica.captured_queries] == ["SHOW SLAVE STATUS"]  # the health check only
    assert team_reads(primary)


def test_an_unreachable_replica_is_bypassed(real_replica, mall_offer, client):
    lock_team(mall_offer, ("leader1",))
    connections[REPLICA_DB_ALIAS].close()
    connections[REPLICA_DB_ALIAS].settings_dict = {**connections[REPLICA_DB_ALIAS].settings_dict, "PORT": 1}
    replica_health_reset()
    with CaptureQueriesContext(connections["default"]) as primary:
        response = client.get(f"/goods/{mall_offer.goods_id}")
    assert response.status_code == 200 and len(response.context["page"].config.teams) == 1
    assert team_reads(primary)


def test_a_replica_that_dies_between_checks_costs_a_read_on_the_primary_not_an_error_page(
    real_replica, mall_offer, client, settings
):
    first = lock_team(mall_offer, ("leader1",))
    real_replica()
    settings.DATABASE_REPLICA_CHECK_SECONDS = 3600  # checked healthy below; not asked again for an hour
    with CaptureQueriesContext(connections[REPLICA_DB_ALIAS]) as replica:
        client.get(f"/goods/{mall_offer.goods_id}")
    assert team_reads(replica)  # served by the replica
    connections[REPLICA_DB_ALIAS].close()  # the replica's server goes away between two checks
    connections[REPLICA_DB_ALIAS].settings_dict = {**connections[REPLICA_DB_ALIAS].settings_dict, "PORT": 1}
    second = lock_team(mall_offer, ("leader2",))
    cache.clear()  # the page's cached reads expire: it must read the teams again
    local_clear()
    with CaptureQueriesContext(connections["default"]) as primary:
        response = client.get(f"/goods/{mall_offer.goods_id}")
    assert response.status_code == 200
    assert {team.team_id for team in response.context["page"].config.teams} == {first, second}
    assert team_reads(primary)
