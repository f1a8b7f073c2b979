"""Which database each path reads with a replica configured (apps/common/db_routing.py).

The "replica" alias here is a second connection to the test database (the real replica's tests:
``test_replica_real.py``); every query is captured per alias. Lag-tolerant pages read teams and orders from
it; a shopper's own rows, the session and every write flow (lock, settle, refund, notify delivery, login)
never touch it, even when run inside ``replica_reads()``.
"""

from contextlib import ExitStack, contextmanager

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.accounts.tests.factories import StaffFactory, UserFactory
from apps.common.db_routing import replica_reads
from apps.notifications.models import NotifyTask
from apps.notifications.services import notify_tasks_deliver_due
from apps.payments.tests.helpers import login, mobile_client
from apps.trade.models import NotifyType, Order, Team
from apps.trade.refund import order_refund
from apps.trade.tests.helpers import lock_team, settle_orders

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


TABLES = ("group_buy_order_list", "group_buy_order", "django_session", "user", "notify_task", "pay_order")


class Reads:
    def __init__(self, contexts: dict[str, CaptureQueriesContext]) -> None:
        self.contexts = contexts

    def sql(self, alias: str) -> list[str]:
        return [query["sql"] for query in self.contexts[alias].captured_queries]

    def tables(self, alias: str) -> set[str]:
        """The app tables the alias's queries named (quoted names, on SQLite and MariaDB alike)."""
        found = set()
        for sql in self.sql(alias):
            for table in TABLES:
                if f'"{table}"' in sql or f"`{table}`" in sql:
                    found.add(table)
        return found


@contextmanager
def reads():
    with ExitStack() as stack:
        yield Reads({alias: stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections})


def test_table_names_match_the_models():
    assert Team._meta.db_table == "group_buy_order"
    assert Order._meta.db_table == "group_buy_order_list"
    assert NotifyTask._meta.db_table == "notify_task"


def test_an_anonymous_visitor_reads_products_and_teams_from_the_replica(mall_offer, replica_on, client):
    team_id = lock_team(mall_offer, ("leader1",))
    with reads() as seen:
        listing = client.get("/")
        goods = client.get(f"/goods/{mall_offer.goods_id}")
    assert listing.status_code == goods.status_code == 200
    assert [team.team_id for team in goods.context["page"].config.teams] == [team_id]
    assert "group_buy_order" in seen.tables("replica")
    assert seen.tables("default") == set()


def test_a_shoppers_own_orders_and_teams_and_session_come_from_the_primary(mall_offer, replica_on, client):
    lock_team(mall_offer, ("leader1",))
    own_team = lock_team(mall_offer, ("xiaofuge",))
    login(client, "xiaofuge")
    with reads() as seen:
        response = client.get(f"/goods/{mall_offer.goods_id}")
    page = response.context["page"]
    assert page.own_team is not None and page.own_team.team_id == own_team
    assert {"django_session", "user", "group_buy_order_list"} <= seen.tables("default")
    assert "group_buy_order" in seen.tables("replica")  # the other shoppers' teams
    assert not [sql for sql in seen.sql("replica") if "xiaofuge" in sql]
    assert {"django_session", "user"}.isdisjoint(seen.tables("replica"))


def test_the_mall_apis_product_answers_read_the_replica_and_its_token_the_primary(mall_offer, replica_on):
    lock_team(mall_offer, ("leader1",))
    mobile = mobile_client("xiaofuge")
    with reads() as seen:
        assert mobile.get("/api/v1/mall/products").json()["code"] == "0000"
        assert mobile.get(f"/api/v1/mall/products/{mall_offer.goods_id}").json()["code"] == "0000"
    assert "group_buy_order" in seen.tables("replica")
    assert any("authtoken_token" in sql for sql in seen.sql("default"))
    assert not any("authtoken_token" in sql for sql in seen.sql("replica"))


def test_lock_settle_refund_and_notify_delivery_stay_on_the_primary_even_inside_a_replica_scope(offer, replica_on):
    with reads() as seen, replica_reads():
        lock_team(offer, ("demo1", "demo2", "demo3"), notify_type=NotifyType.HTTP, notify_url="http://127.0.0.1:9/cb")
        settle_orders(offer, ("demo1", "demo2", "demo3"))  # completes the team: a callback in the outbox
        lock_team(offer, ("demo4",))
        order_refund(source=offer.source, channel=offer.channel, out_trade_no="OTN-demo4")
        NotifyTask.objects.update(next_attempt_at=None)
        notify_tasks_deliver_due()
    assert Order.objects.filter(status=Order.Status.PAID).count() == 3
    assert Order.objects.get(out_trade_no="OTN-demo4").status == Order.Status.REFUNDED
    # Each callback attempted once (and failed: nobody listens on port 9).
    assert set(NotifyTask.objects.values_list("notify_count", flat=True)) == {1}
    assert seen.sql("replica") == []
    assert {"group_buy_order", "group_buy_order_list", "notify_task"} <= seen.tables("default")


def test_login_and_the_pages_after_it_read_the_session_and_user_on_the_primary(replica_on, client):
    UserFactory.create(username="shopper", password="pw")
    with reads() as seen, replica_reads():
        response = client.post("/login", {"username": "shopper", "password": "pw"})
        assert response.status_code == 302
        assert client.get("/").context["user"].username == "shopper"
    assert not {"django_session", "user"} & seen.tables("replica")
    assert {"django_session", "user"} <= seen.tables("default")


def test_admin_lists_read_the_replica_and_admin_actions_the_primary(offer, replica_on, client):
    client.force_login(StaffFactory.create(is_superuser=True))
    team_id = lock_team(offer, ("demo1", "demo2"))
    team = Team.objects.get(team_id=team_id)
    lists = ["trade/team", "trade/order", "notifications/notifytask", "payments/payorder"]
    with reads() as seen:
        for url in lists:
            assert client.get(f"/admin/{url}/").status_code == 200
    assert {"group_buy_order", "group_buy_order_list", "notify_task", "pay_order"} <= seen.tables("replica")
    # The staff's session and user (and permissions) on the primary; the mall orders' list joins their shoppers.
    assert "django_session" not in seen.tables("replica")
    assert not [sql for sql in seen.sql("replica") if sql.startswith(('SELECT "user"', "SELECT `user`"))]
    assert {"django_session", "user"} <= seen.tables("default")
    with reads() as seen:
        response = client.post(
            "/admin/trade/team/",
            {"action": "refund_members", "_selected_action": [team.pk], "confirm": "yes"},
        )
        assert response.status_code == 302
        assert client.get(f"/admin/trade/team/{team.pk}/change/").status_code == 200
    assert Order.objects.filter(team_id=team_id, status=Order.Status.REFUNDED).count() == 2
    assert seen.sql("replica") == []


def test_the_analytics_page_reads_its_figures_from_the_replica(offer, replica_on, client):
    client.force_login(StaffFactory.create(is_superuser=True))
    lock_team(offer, ("demo1", "demo2", "demo3"))
    settle_orders(offer, ("demo1", "demo2", "demo3"))
    with reads() as seen:
        assert client.get(f"/admin/analytics/report/activity/{offer.activity_id}/").status_code == 200
    assert {"group_buy_order", "group_buy_order_list"} <= seen.tables("replica")
    assert not {"group_buy_order", "group_buy_order_list"} & seen.tables("default")
    assert "django_session" in seen.tables("default")
