"""The MariaDB backend (apps/common/mysql): Django's transaction semantics, without SET autocommit round trips.

Round trips are counted by the server itself (``Com_*`` session counters), behaviour by a second connection.
"""

import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, OperationalError, connection, transaction

pytestmark = pytest.mark.services


class Boom(Exception):
    """The caller's own error inside a transaction."""


COUNTERS = ("Com_begin", "Com_commit", "Com_rollback", "Com_set_option", "Com_insert", "Com_savepoint")


def counters() -> dict[str, int]:
    """The session's statement counters (read outside a transaction: the SHOW would begin one)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN %s", [COUNTERS])
        return {name: int(value) for name, value in cursor.fetchall()}


def sent(before: dict[str, int]) -> dict[str, int]:
    """What the server saw since ``before``, the zero counters left out."""
    return {name: n - before[name] for name, n in counters().items() if n != before[name]}


@pytest.fixture
def other():
    """A second connection to the test database: what other sessions see."""
    other = connection.copy()
    yield other
    other.close()


def names(conn) -> set[str]:
    with conn.cursor() as cursor:
        cursor.execute("SELECT name FROM auth_group")
        return {row[0] for row in cursor.fetchall()}


def test_an_atomic_block_is_begin_the_statements_and_commit(mariadb_tx, other):
    before = counters()
    with transaction.atomic():
        Group.objects.create(name="a")
    assert sent(before) == {"Com_begin": 1, "Com_insert": 1, "Com_commit": 1}  # stock: 2 Com_set_option more
    assert names(other) == {"a"}

    before = counters()
    with transaction.atomic():
        pass
    assert sent(before) == {}  # nothing began on the server, so nothing to end


def test_a_failed_atomic_block_rolls_back_without_set_autocommit(mariadb_tx, other):
    before = counters()
    with pytest.raises(Boom), transaction.atomic():
        Group.objects.create(name="a")
        assert names(other) == set()  # uncommitted
        raise Boom
    assert sent(before) == {"Com_begin": 1, "Com_insert": 1, "Com_rollback": 1}
    assert names(connection) == names(other) == set()


def test_a_new_connection_really_is_in_autocommit(mariadb_tx, other):
    """mysqlclient connects with autocommit off; even a session that starts with it off is turned on."""
    off_at_start = connection.copy()  # its own deep copy of the settings
    off_at_start.settings_dict["OPTIONS"]["init_command"] = "SET autocommit=0"
    try:
        with off_at_start.cursor() as cursor:
            cursor.execute("SELECT @@autocommit")
            assert cursor.fetchone() == (1,)
            cursor.execute("INSERT INTO auth_group (name) VALUES ('outside a transaction')")
        assert names(other) == {"outside a transaction"}  # committed by the statement itself
    finally:
        off_at_start.close()


def test_manual_mode_each_statement_after_a_commit_or_rollback_is_in_a_new_transaction(mariadb_tx, other):
    transaction.set_autocommit(False)
    try:
        cursor = connection.cursor()  # reused across the transactions, as a caller may
        cursor.execute("INSERT INTO auth_group (name) VALUES ('a')")
        assert names(other) == set()
        transaction.commit()
        assert names(other) == {"a"}
        cursor.execute("INSERT INTO auth_group (name) VALUES ('b')")
        assert names(other) == {"a"}
        transaction.rollback()
        Group.objects.create(name="c")
        transaction.rollback()
        Group.objects.create(name="d")
        assert names(other) == {"a"}
    finally:
        transaction.set_autocommit(True)  # MySQL's rule for SET autocommit=1: commits the open transaction
    assert names(other) == {"a", "d"}
    cursor.close()


def test_savepoints_durable_blocks_and_on_commit_hooks(mariadb_tx, other):
    ran: list[str] = []
    before = counters()
    with transaction.atomic(durable=True):
        Group.objects.create(name="outer")
        transaction.on_commit(lambda: ran.append("outer"))
        with pytest.raises(Boom), transaction.atomic():
            Group.objects.create(name="inner, rolled back")
            transaction.on_commit(lambda: ran.append("inner"))
            raise Boom
        with transaction.atomic():
            Group.objects.create(name="inner, kept")
        assert ran == []
    assert ran == ["outer"]
    assert names(other) == {"outer", "inner, kept"}
    assert sent(before) == {"Com_begin": 1, "Com_insert": 3, "Com_savepoint": 2, "Com_commit": 1}

    with pytest.raises(Boom), transaction.atomic():
        Group.objects.create(name="rolled back")
        transaction.on_commit(lambda: ran.append("rolled back"))
        raise Boom
    assert ran == ["outer"]


def test_select_for_update_holds_its_lock_until_the_commit(mariadb_tx):
    group = Group.objects.create(name="locked")
    locked, done = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def holder() -> None:
        try:
            with transaction.atomic():
                Group.objects.select_for_update().get(pk=group.pk)
                locked.set()
                time.sleep(0.3)
                Group.objects.filter(pk=group.pk).update(name="updated by the holder")
                seen["committed_at"] = time.monotonic()
        finally:
            connection.close()
            done.set()

    def waiter() -> None:
        try:
            locked.wait(5)
            with transaction.atomic():
                seen["name"] = Group.objects.select_for_update().get(pk=group.pk).name
                seen["locked_at"] = time.monotonic()
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["locked_at"] >= seen["committed_at"]
    assert seen["name"] == "updated by the holder"


def test_a_connection_lost_mid_transaction_is_an_error_and_the_next_one_is_fresh(mariadb_tx, other):
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (session,) = cursor.fetchone()
    with pytest.raises(OperationalError), transaction.atomic():
        Group.objects.create(name="lost")
        with other.cursor() as cursor:
            cursor.execute(f"KILL CONNECTION {int(session)}")
        Group.objects.create(name="after the kill")
    assert names(other) == set()
    before = counters()  # a new connection, in autocommit again
    with transaction.atomic():
        Group.objects.create(name="next")
    assert sent(before) == {"Com_begin": 1, "Com_insert": 1, "Com_commit": 1}
    assert names(other) == {"next"}


def test_after_a_deadlock_rolled_the_transaction_back_the_next_statement_begins_a_new_one(mariadb_tx):
    """InnoDB ends a deadlock's victim transaction itself; with the session's autocommit off the next statement
    is in a new transaction, and so it is here (not committed on its own)."""
    first, second = Group.objects.create(name="first"), Group.objects.create(name="second")
    heavy_locked, release = threading.Event(), threading.Event()

    def heavy() -> None:  # many rows written: InnoDB picks the other, lighter transaction as the victim
        other = connection.copy()
        with other.cursor() as cursor:
            cursor.execute("START TRANSACTION")
            cursor.execute("SELECT id FROM auth_group WHERE id = %s FOR UPDATE", [second.pk])
            cursor.executemany("INSERT INTO auth_group (name) VALUES (%s)", [(f"heavy {i}",) for i in range(50)])
            heavy_locked.set()
            cursor.execute("SELECT id FROM auth_group WHERE id = %s FOR UPDATE", [first.pk])
            release.wait(5)
            cursor.execute("ROLLBACK")
        other.close()

    transaction.set_autocommit(False)
    try:
        Group.objects.select_for_update().get(pk=first.pk)
        thread = threading.Thread(target=heavy)
        thread.start()
        heavy_locked.wait(5)
        time.sleep(0.2)  # the heavy transaction now waits for our lock on "first"
        with pytest.raises(OperationalError) as error:
            Group.objects.select_for_update().get(pk=second.pk)
        assert error.value.args[0] == 1213
        release.set()
        thread.join(10)
        Group.objects.create(name="after the deadlock")
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert names(connection) == {"first", "second"}


def test_begin_rides_with_the_first_statement_in_one_round_trip(round_trips, other):
    before = counters()
    round_trips.clear()
    with transaction.atomic():
        group = Group.objects.create(name="a")
        assert names(other) == set()  # in the transaction
        Group.objects.filter(pk=group.pk).update(name="b")
    assert [sql.split(b" ", 1)[0] for sql in round_trips] == [b"BEGIN;", b"UPDATE"]
    assert sent(before) == {"Com_begin": 1, "Com_insert": 1, "Com_commit": 1}
    assert group.pk and names(other) == {"b"}


def test_the_first_statement_answers_its_own_rows_rowcount_and_errors(round_trips, other):
    Group.objects.create(name="taken")
    with transaction.atomic():
        assert Group.objects.filter(name="taken").update(name="taken") == 1  # the UPDATE's rowcount, not BEGIN's
    with transaction.atomic():
        assert list(Group.objects.values_list("name", flat=True)) == ["taken"]  # the SELECT's rows
    before = counters()
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(name="taken")  # the unique name: the error of the statement after BEGIN
    assert sent(before) == {"Com_begin": 1, "Com_insert": 1, "Com_rollback": 1}
    with transaction.atomic():  # the connection is in step again: no result left unread
        Group.objects.create(name="next")
    assert names(other) == {"taken", "next"}


def test_outside_a_transaction_a_statement_goes_alone(round_trips):
    round_trips.clear()
    Group.objects.create(name="alone")
    assert [sql.split(b" ", 1)[0] for sql in round_trips] == [b"INSERT"]
