"""CI runs the suite on MariaDB: prove the connection really is MariaDB, strict and utf8mb4."""

import pytest

from apps.trade.tests.factories import TeamFactory

pytestmark = pytest.mark.services


def test_mariadb_enforces_check_constraints(mariadb):
    with mariadb.cursor() as cursor:
        cursor.execute("SELECT VERSION(), @@SESSION.sql_mode, @@character_set_connection")
        version, sql_mode, charset = cursor.fetchone()
        cursor.execute(
            "SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'group_buy_order'"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert "MariaDB" in version
    assert "STRICT_TRANS_TABLES" in sql_mode
    assert charset == "utf8mb4"
    assert {"team_counts_ordered", "team_prices_add_up"} <= names


def test_mariadb_stores_chinese_text_and_exact_money(mariadb):
    team = TeamFactory(activity__activity_name="拼团 手写MyBatis 🎉")
    team.activity.refresh_from_db()
    assert team.activity.activity_name == "拼团 手写MyBatis 🎉"
