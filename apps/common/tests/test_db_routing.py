"""The router's rules (apps/common/db_routing.py) and the settings that install it.

The "replica" alias is the tests' mirror of the primary (config/settings/test.py); the pages' and the write
flows' routing: apps/storefront/tests/test_replica_routing.py; a real replica: test_replica_real.py there.
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, router, transaction
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.accounts.models import User
from apps.common import db_routing
from apps.common.db_routing import REPLICA_DB_ALIAS, primary_reads, read_alias, replica_reads
from apps.trade.models import Team
from config import env as config_env

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def test_reads_go_to_the_replica_only_inside_a_scope(replica_on):
    assert router.db_for_read(Team) == DEFAULT_DB_ALIAS
    with replica_reads():
        assert router.db_for_read(Team) == REPLICA_DB_ALIAS
        with primary_reads():
            assert router.db_for_read(Team) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Team) == REPLICA_DB_ALIAS
    assert router.db_for_read(Team) == DEFAULT_DB_ALIAS


def test_an_instance_read_from_the_replica_is_written_and_followed_on_the_primary(replica_on, offer):
    with replica_reads():
        activity = type(offer.activity).objects.get(pk=offer.activity.pk)
    assert activity._state.db == REPLICA_DB_ALIAS
    assert router.db_for_write(type(activity), instance=activity) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Team, instance=activity) == DEFAULT_DB_ALIAS  # outside a scope, whatever it came from
    assert router.allow_relation(activity, offer.activity)
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "trade") and not router.allow_migrate(REPLICA_DB_ALIAS, "trade")


def test_sessions_and_users_and_transactions_stay_on_the_primary(replica_on, monkeypatch):
    with replica_reads():
        assert read_alias(User) == DEFAULT_DB_ALIAS
        monkeypatch.setattr(db_routing, "PRIMARY_ONLY_MODELS", frozenset({"trade.team"}))
        assert read_alias(Team) == DEFAULT_DB_ALIAS  # one model of an app whose others may lag
        monkeypatch.undo()
        with transaction.atomic():
            assert read_alias(Team) == DEFAULT_DB_ALIAS
        assert read_alias(Team) == REPLICA_DB_ALIAS


def test_the_switch_and_the_lag_bound_send_reads_back_to_the_primary(replica_on, settings, monkeypatch):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0
    lag: list[int | None] = [3]
    monkeypatch.setattr(db_routing, "replica_lag_seconds", lambda: lag[0])
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 5
    with replica_reads():
        assert read_alias(Team) == REPLICA_DB_ALIAS
        lag[0] = 6
        assert read_alias(Team) == DEFAULT_DB_ALIAS
        lag[0] = None  # stopped replication
        assert read_alias(Team) == DEFAULT_DB_ALIAS
        lag[0] = 0
        assert read_alias(Team) == REPLICA_DB_ALIAS
        settings.DATABASE_REPLICA_READS = False
        assert read_alias(Team) == DEFAULT_DB_ALIAS


def test_an_unreachable_replica_is_bypassed_with_a_warning_and_asked_again_later(
    replica_on, settings, monkeypatch, caplog
):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 3600
    calls = []

    def unreachable():
        calls.append(1)
        raise OperationalError(2003, "Can't connect to MySQL server on '10.0.0.9'")

    monkeypatch.setattr(db_routing, "replica_lag_seconds", unreachable)
    with caplog.at_level(logging.WARNING, logger="apps.common.db_routing"), replica_reads():
        assert [read_alias(Team) for _ in range(3)] == [DEFAULT_DB_ALIAS] * 3
    assert len(calls) == 1  # one check per interval, not one per query
    assert "bypassed" in caplog.text and "unreachable" in caplog.text
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0
    monkeypatch.setattr(db_routing, "replica_lag_seconds", lambda: 0)
    with replica_reads():
        assert read_alias(Team) == REPLICA_DB_ALIAS


def test_a_decorated_view_renders_its_template_inside_the_scope(replica_on):
    seen = []

    class Probe:
        def __str__(self) -> str:
            seen.append(read_alias(Team))
            return "probe"

    @replica_reads()
    def view(request):
        return TemplateResponse(request, "admin/base.html", {"title": Probe()})

    response = view(HttpRequest())
    assert response.is_rendered and seen and set(seen) == {REPLICA_DB_ALIAS}


def test_a_replica_that_fails_between_checks_costs_one_more_read_on_the_primary_not_an_error(
    replica_on, settings, caplog, offer
):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 3600  # the last check said healthy; nobody asks again for an hour
    seen: list[str] = []

    @replica_reads()
    def view() -> int:
        seen.append(read_alias(Team))
        return Team.objects.count()

    def dead(execute, sql, params, many, context):  # the replica went away: every statement fails on it
        return execute("SELECT gone FROM no_such_table", (), many, context)

    with (
        caplog.at_level(logging.WARNING, logger="apps.common.db_routing"),
        connections[REPLICA_DB_ALIAS].execute_wrapper(dead),
    ):
        assert view() == Team.objects.count()
        assert seen == [REPLICA_DB_ALIAS, DEFAULT_DB_ALIAS]  # read again, on the primary
        assert view() == Team.objects.count() and seen[2:] == [DEFAULT_DB_ALIAS]  # until the next check
    assert caplog.text.count("replica bypassed") == 1 and "failed during a read" in caplog.text


def test_an_error_that_is_not_the_replicas_is_raised_and_the_view_not_run_again(replica_on):
    calls = []

    @replica_reads()
    def view() -> None:
        calls.append(read_alias(Team))
        raise OperationalError(1205, "Lock wait timeout exceeded")

    with pytest.raises(OperationalError):
        view()
    assert calls == [REPLICA_DB_ALIAS] and read_alias(Team) == DEFAULT_DB_ALIAS  # outside the scope
    with replica_reads():
        assert read_alias(Team) == REPLICA_DB_ALIAS  # still healthy


def test_without_a_replica_the_decorators_return_the_function_itself(monkeypatch):
    monkeypatch.setattr(db_routing, "replica_configured", lambda: False)

    def view():
        return None

    assert replica_reads()(view) is view and primary_reads()(view) is view


def test_replica_settings_copy_the_primarys_options_and_mirror_it_in_tests(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_REPLICA_URL", "mysql://reader:pw@db-replica:3306/shop")
    embedded = config_env.database_config(ROOT / "var" / "unused.sqlite3")
    assert config_env.replica_database_config(embedded) is None  # SQLite: no replica, whatever the shell says
    monkeypatch.delenv("DATABASE_REPLICA_URL")
    monkeypatch.setenv("DATABASE_URL", "mysql://app:pw@db:3306/shop")
    assert config_env.replica_database_config(config_env.database_config(ROOT / "var" / "unused.sqlite3")) is None
    monkeypatch.setenv("DATABASE_URL", "mysql://app:pw@db:3306/shop")
    monkeypatch.setenv("DATABASE_REPLICA_URL", "mysql://reader:pw@db-replica:3306/shop")
    primary = config_env.database_config(ROOT / "var" / "unused.sqlite3")
    replica = config_env.replica_database_config(primary)
    assert (replica["HOST"], replica["USER"], replica["NAME"]) == ("db-replica", "reader", "shop")
    assert replica["OPTIONS"]["init_command"] == primary["OPTIONS"]["init_command"]
    assert replica["OPTIONS"]["isolation_level"] == "read committed"
    assert replica["OPTIONS"]["connect_timeout"] == 2
    assert replica["TEST"]["MIRROR"] == "default"
    monkeypatch.setenv("DATABASE_REPLICA_URL", "sqlite:///elsewhere.sqlite3")
    with pytest.raises(Exception, match="same engine"):
        config_env.replica_database_config(primary)


@pytest.mark.parametrize(
    ("primary_url", "replica_url"),
    [("", ""), ("", "mysql://reader:pw@127.0.0.1:3307/shop"), ("mysql://app:pw@127.0.0.1:3306/shop", "")],
)
def test_the_embedded_default_has_no_replica_and_no_router(primary_url, replica_url):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))}
    environ.update(DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_REPLICA_URL=replica_url)
    if primary_url:
        environ["DATABASE_URL"] = primary_url
    code = "from django.conf import settings as s; print(sorted(s.DATABASES), s.DATABASE_ROUTERS)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert out == "['default'] []"


def test_a_replica_url_beside_a_mariadb_primary_installs_the_router():
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_"))}
    environ.update(DJANGO_SETTINGS_MODULE="config.settings.local", DATABASE_URL="mysql://app:pw@127.0.0.1:3306/shop",
                   DATABASE_REPLICA_URL="mysql://reader:pw@127.0.0.1:3307/shop")  # fmt: skip
    code = "from django.conf import settings as s; print(sorted(s.DATABASES), s.DATABASE_ROUTERS)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert out == "['default', 'replica'] ['apps.common.db_routing.ReplicaRouter']"
