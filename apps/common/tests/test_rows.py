"""Plain-SQL key lookups and writes (apps/common/rows.py) answer and write what the ORM would."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F
from django.forms.models import model_to_dict
from django.utils import timezone

from apps.common.rows import (
    Read,
    prepared,
    row_insert,
    row_where,
    rows_update,
    rows_where,
    values_where,
    values_where_together,
)
from apps.common.tests.round_trips import sent_together
from apps.notifications.models import NotifyTask
from apps.trade.models import Order, Team
from apps.trade.tests.factories import OrderFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_rows_match_the_orm_with_converted_values():
    order = OrderFactory(user_id="u1", out_trade_no="OTN-1")
    OrderFactory(user_id="u2")
    found = row_where(Order, source=order.source, channel=order.channel, out_trade_no="OTN-1")
    assert found == order
    assert isinstance(found.pay_price, Decimal) and found.create_time.tzinfo is not None
    assert row_where(Order, out_trade_no="nope") is None
    assert {o.user_id for o in rows_where(Order, user_id=("u1", "u2"))} == {"u1", "u2"}


def test_values_are_the_orms_values_converted_alike():
    """Decimals and datetimes come back as the ORM converts them (SQLite stores a decimal as a number,
    MariaDB answers naive datetimes): the tuples equal ``values_list``'s."""
    order = OrderFactory(user_id="u1", status=Order.Status.PAID, pay_price=Decimal("80.10"),
                         original_price=Decimal("100.10"))  # fmt: skip
    assert values_where(Order, ("team", "out_trade_no"), user_id="u1", status=(0, 1)) == [
        (order.team_id, order.out_trade_no)
    ]
    assert values_where(Order, ("biz_id",), user_id="u1", status=(0,)) == []
    columns = ("pay_price", "create_time", "out_trade_time", "status")
    got = values_where(Order, columns, user_id="u1")
    assert got == list(Order.objects.filter(user_id="u1").values_list(*columns))
    assert str(got[0][0]) == "80.10" and got[0][1].tzinfo is not None


def test_comparisons_with_values_and_columns():
    now = timezone.now()
    open_team = TeamFactory(lock_count=1, target_count=3, valid_end_time=now + timedelta(minutes=5))
    TeamFactory(lock_count=3, target_count=3, valid_end_time=now + timedelta(minutes=5))  # full
    TeamFactory(lock_count=1, target_count=3, valid_start_time=now - timedelta(hours=1),
                valid_end_time=now - timedelta(minutes=1))  # fmt: skip
    assert values_where(Team, ("team_id",), lock_count__lt=F("target_count"), valid_end_time__gt=now) == [
        (open_team.team_id,)
    ]


def test_lookups_together_answer_their_own_rows_in_one_round_trip_on_mariadb(django_assert_num_queries):
    mine = OrderFactory(user_id="u1", out_trade_no="OTN-A", status=Order.Status.LOCKED)
    paid = OrderFactory(user_id="u1", out_trade_no="OTN-B", status=Order.Status.PAID, activity=mine.activity,
                        biz_id="b2")  # fmt: skip
    OrderFactory(user_id="u1", out_trade_no="OTN-C", status=Order.Status.REFUNDED, activity=mine.activity,
                 biz_id="b3")  # fmt: skip
    columns = ("out_trade_no", "pay_price", "create_time")
    team_columns = ("team_id", "valid_end_time", "lock_count")
    with django_assert_num_queries(sent_together(4)):
        by_no, live, nothing, team = values_where_together(
            Read(Order, columns, {"source": "s01", "channel": "c01", "out_trade_no": "OTN-B"}),
            Read(Order, columns, {"user_id": "u1", "activity": mine.activity_id, "status": (0, 1)}),
            Read(Order, columns, {"out_trade_no": "nope"}),
            Read(Team, team_columns, {"team_id": mine.team_id}),
        )
    assert by_no == values_where(Order, columns, out_trade_no="OTN-B")
    assert sorted(live) == sorted(values_where(Order, columns, pk=(mine.pk, paid.pk)))
    assert nothing == []
    assert team == values_where(Team, team_columns, pk=mine.team_id and mine.team.pk)
    assert team[0][1] == mine.team.valid_end_time  # converted as the ORM converts it


def test_an_inserted_row_reads_back_as_one_the_orm_created():
    now = timezone.now()
    values = {
        "team_id": "20000001", "activity": TeamFactory().activity, "source": "s01", "channel": "c01",
        "original_price": Decimal("100.00"), "deduction_price": Decimal("20.00"), "pay_price": Decimal("80.00"),
        "target_count": 3, "lock_count": 1, "status": Team.Status.IN_PROGRESS, "valid_start_time": now,
        "valid_end_time": now + timedelta(minutes=15), "notify_type": "MQ",
    }  # fmt: skip
    pk = row_insert(Team, **{**values, "activity": values["activity"].activity_id})
    by_orm = Team.objects.create(**{**values, "team_id": "20000002"})
    inserted = Team.objects.get(pk=pk)
    ignored = {"id", "team_id", "create_time", "update_time"}
    assert {k: v for k, v in model_to_dict(inserted).items() if k not in ignored} == {
        k: v for k, v in model_to_dict(by_orm).items() if k not in ignored
    }
    assert inserted.complete_count == 0 and inserted.notify_url == ""  # the fields' defaults
    assert now - timedelta(seconds=5) < inserted.create_time == inserted.update_time < timezone.now()


def test_an_insert_fills_callable_defaults_and_keeps_the_unique_keys():
    pk = row_insert(NotifyTask, activity_id=1, team_id="1", notify_category="trade_settlement", notify_type="MQ",
                    notify_mq="topic", parameter_json={"a": [1, "二"]})  # fmt: skip
    task = NotifyTask.objects.get(pk=pk)
    assert task.uuid and task.parameter_json == {"a": [1, "二"]} and task.notify_status == 0
    order = OrderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(Order, **{**model_to_dict(order, exclude=["id", "team", "activity", "sku"]),
                             "team": order.team_id, "activity": order.activity_id, "sku": order.sku_id,
                             "order_id": "999999999999"})  # fmt: skip
    with pytest.raises(TypeError):
        row_insert(Team, no_such_field=1)


def test_a_guarded_update_matches_as_the_orm_does():
    team = TeamFactory(lock_count=2, target_count=3)
    guard = {"team_id": team.team_id, "status": Team.Status.IN_PROGRESS, "lock_count__lt": F("target_count")}
    now = timezone.now()
    assert rows_update(Team, where=guard, lock_count=F("lock_count") + 1, update_time=now) == 1
    assert rows_update(Team, where=guard, lock_count=F("lock_count") + 1, update_time=now) == 0  # full now
    team.refresh_from_db()
    assert (team.lock_count, team.update_time) == (3, now)
    assert rows_update(Team, where={"pk": team.pk}, lock_count=F("lock_count") - 1) == 1
    assert rows_update(Team, where={"pk": team.pk}, status=Team.Status.IN_PROGRESS) == 1  # matched, not changed
    team.refresh_from_db()
    assert team.lock_count == 2
    with pytest.raises(TypeError):
        rows_update(Team, where={"pk": team.pk}, lock_count=F("target_count") + 1)


@pytest.mark.parametrize("database_zone", [None, "Asia/Shanghai"], ids=["utc", "db-zone"])
@pytest.mark.parametrize(
    "value",
    [
        timezone.now(),
        timezone.now().astimezone(ZoneInfo("America/New_York")),
        datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("America/New_York")),  # a gap: its offset still applies
        datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=dt_timezone(timedelta(hours=-12))),
        datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
        None,
    ],
    ids=["now", "new-york", "dst-gap", "micro-minus-12", "utc", "none"],
)
def test_a_prepared_value_is_the_orms(value, database_zone):
    """``prepared``'s own path for aware datetimes sends what ``get_db_prep_save`` sends, in any zone."""
    database = connections["default"]  # the connection itself: its cached zone is forgotten below
    database.settings_dict["TIME_ZONE"] = database_zone
    database.__dict__.pop("timezone", None)
    try:
        for field in (Team._meta.get_field("valid_end_time"), Order._meta.get_field("update_time")):
            assert prepared(field, value) == field.get_db_prep_save(value, connection)
        amount = Order._meta.get_field("pay_price")
        assert prepared(amount, Decimal("9.90")) == amount.get_db_prep_save(Decimal("9.90"), connection)
        status = Order._meta.get_field("status")
        assert prepared(status, Order.Status.PAID) == int(Order.Status.PAID)
    finally:
        database.settings_dict["TIME_ZONE"] = None
        database.__dict__.pop("timezone", None)


def test_a_naive_datetime_is_prepared_as_the_orm_does_with_its_warning():
    naive = datetime(2026, 11, 29, 8, 0)
    field = Order._meta.get_field("update_time")
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        expected = field.get_db_prep_save(naive, connection)
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        assert prepared(field, naive) == expected
