"""The one transient-error predicate and the one deadlock retry (apps.common.db)."""

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction

from apps.common.db import is_transient_db_error, retry_on_deadlock

DEADLOCK = OperationalError(1213, "Deadlock found when trying to get lock")
LOCK_WAIT = OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction")
LOST = OperationalError(2013, "Lost connection to server during query")


@pytest.mark.parametrize(
    ("error", "transient", "lock_conflict"),
    [
        (DEADLOCK, True, True),
        (LOCK_WAIT, True, True),
        (LOST, True, False),
        (OperationalError(1927, "Connection was killed"), True, False),
        (InterfaceError("connection already closed"), True, False),
        (OperationalError("database is locked"), True, False),  # SQLite, after its busy timeout
        (OperationalError(1054, "Unknown column 'x' in 'field list'"), False, False),  # a bug
        (IntegrityError(1062, "Duplicate entry"), False, False),
        (ValueError("no database at all"), False, False),
    ],
)
def test_which_failures_are_transient_and_which_may_be_run_again_at_once(error, transient, lock_conflict):
    assert is_transient_db_error(error) is transient
    assert is_transient_db_error(error, lock_conflict=True) is lock_conflict


def failing(*errors: Exception):
    calls: list[bool] = []

    def fn() -> str:
        calls.append(connection.in_atomic_block)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "done"

    return fn, calls


@pytest.mark.django_db(transaction=True)
def test_a_lock_conflict_runs_the_transaction_again_each_time_in_its_own_transaction():
    fn, calls = failing(DEADLOCK, LOCK_WAIT)
    assert retry_on_deadlock(fn) == "done"
    assert calls == [True, True, True]


@pytest.mark.django_db(transaction=True)
def test_the_last_attempt_raises_and_other_errors_are_not_retried():
    fn, calls = failing(DEADLOCK, DEADLOCK, DEADLOCK)
    with pytest.raises(OperationalError):
        retry_on_deadlock(fn)
    assert len(calls) == 3
    fn, calls = failing(LOST)  # the COMMIT's outcome is unknown: never run again in place
    with pytest.raises(OperationalError):
        retry_on_deadlock(fn)
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_an_outer_transaction_it_runs_once():
    """A deadlock rolled the outer transaction back: only its owner can run it again."""
    fn, calls = failing(DEADLOCK)
    with pytest.raises(OperationalError), transaction.atomic():
        retry_on_deadlock(fn)
    assert len(calls) == 1
