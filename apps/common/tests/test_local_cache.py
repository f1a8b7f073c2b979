"""The process-memory level of the cache (apps/common/cache.py) and the loaders that use it."""

import time

import pytest
from django.conf import settings
from django.core.cache import cache

from apps.common.cache import NOT_LOCAL, cache_delete, cache_delete_on_commit, cached, local_clear, local_peek
from apps.common.redis import get_redis
from apps.common.tests.children import django_child
from apps.dcc.runtime import dcc_publish_all, dcc_subscribed


class Loads:
    """A loader that answers v1, v2, ... and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f"v{self.calls}"


def read(key: str, loader, local_ttl: float = 30):
    return cached(key, loader, ttl=60, namespace="test", local_ttl=local_ttl)


@pytest.mark.django_db
def test_cache_delete_forgets_the_value_in_this_process_at_once():
    loader = Loads()
    assert read("k", loader) == "v1"
    assert read("k", loader) == "v1"
    assert local_peek("k") == "v1"
    cache_delete("k")
    assert local_peek("k") is NOT_LOCAL
    assert read("k", loader) == "v2"


@pytest.mark.django_db
def test_an_invalidation_broadcast_by_another_process_is_applied_within_a_second():
    assert dcc_subscribed(timeout=5)
    loader = Loads()
    read("a", loader)
    read("b", loader)
    assert local_peek("a") == "v1"
    # What another process's cache_delete sends.
    get_redis().publish(settings.CACHE_INVALIDATION_CHANNEL, "a\nother")
    deadline = time.monotonic() + 1.0
    while local_peek("a") is not NOT_LOCAL and time.monotonic() < deadline:
        time.sleep(0.01)
    assert local_peek("a") is NOT_LOCAL
    assert local_peek("b") == "v2"  # keys not named stay


@pytest.mark.django_db
def test_a_value_read_while_an_invalidation_runs_is_not_kept_in_memory():
    def racing_loader():
        cache_delete("k")  # the row changes (and is invalidated) while we are reading the old one
        return "old"

    assert read("k", racing_loader) == "old"
    assert local_peek("k") is NOT_LOCAL


@pytest.mark.django_db
def test_missing_rows_are_held_too():
    calls = []
    assert read("k", lambda: calls.append(1)) is None
    assert read("k", lambda: calls.append(1)) is None
    assert local_peek("k") is None
    assert len(calls) == 1


@pytest.mark.django_db
def test_the_cache_switch_turns_process_memory_off_too(set_dcc):
    loader = Loads()
    read("k", loader)
    set_dcc("cacheOpenSwitch", "1")
    assert local_peek("k") is NOT_LOCAL
    assert read("k", loader) == "v2"
    assert read("k", loader) == "v3"


@pytest.mark.django_db
def test_values_read_from_the_database_while_redis_is_down_are_not_held(redis_down):
    loader = Loads()
    assert read("k", loader) == "v1"
    assert read("k", loader) == "v2"  # no invalidation could reach us now: only Redis-confirmed values are held
    assert local_peek("k") is NOT_LOCAL


@pytest.mark.django_db
def test_entries_expire_after_their_local_ttl():
    loader = Loads()
    read("k", loader, local_ttl=0.05)
    time.sleep(0.06)
    assert local_peek("k") is NOT_LOCAL


def test_a_forked_child_does_not_inherit_a_lock_held_by_another_thread():
    import os
    import threading

    from apps.common import cache as cache_module

    held, release = threading.Event(), threading.Event()

    def hold_the_lock():  # what a thread storing a value does, caught at the moment of the fork
        with cache_module._local.lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: store a value (it would block forever on the inherited lock), report, leave
        code = 1
        try:
            cache_module._local.put("k", "v", 5, cache_module._local.generation)
            code = 0 if cache_module._local.get("k") == "v" else 1
        finally:
            os._exit(code)
    release.set()
    holder.join()
    deadline = time.monotonic() + 5
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError("the child blocked on the lock it inherited")
    assert os.waitstatus_to_exitcode(done[1]) == 0


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_an_invalidation_reaches_another_interpreter_within_a_second(real_redis):
    dcc_publish_all()  # the child reads DCC from Redis only
    with django_child("apps.common.tests.cache_watch_child", "xproc:key") as child:
        assert child.next_line(time.monotonic() + 30) == "ready"
        started = time.monotonic()
        cache_delete("xproc:key")  # what an admin edit does in this process
        seen = child.next_line(started + 1.0)
        assert seen == "forgotten", f"child said {seen!r} after {time.monotonic() - started:.3f}s"


# --- the options the credential and device reads use ---------------------------------------------


@pytest.mark.django_db
def test_a_miss_is_kept_for_missing_ttl_and_not_at_all_with_zero():
    calls = []

    def nothing():
        calls.append(1)
        return None

    assert cached("m", nothing, ttl=300, missing_ttl=7, namespace="test", local_ttl=30) is None
    assert cached("m", nothing, ttl=300, missing_ttl=7, namespace="test", local_ttl=30) is None
    assert len(calls) == 1 and 0 < cache.ttl("m") <= 7
    assert cached("z", nothing, ttl=300, missing_ttl=0, namespace="test") is None
    assert cached("z", nothing, ttl=300, missing_ttl=0, namespace="test") is None
    assert len(calls) == 3 and cache.get("z") is None


@pytest.mark.django_db
def test_an_entry_outside_the_switch_stays_cached_when_the_switch_is_off(set_dcc):
    loader = Loads()
    set_dcc("cacheOpenSwitch", "1")  # "1" = caches off
    assert cached("s", loader, ttl=60, namespace="test", local_ttl=30, switchable=False) == "v1"
    assert cached("s", loader, ttl=60, namespace="test", local_ttl=30, switchable=False) == "v1"
    assert read("t", loader) == "v2"
    assert read("t", loader) == "v3"  # switchable reads go to the loader every time


@pytest.mark.django_db
def test_an_undecodable_entry_is_reloaded_and_memory_keeps_the_decoded_answer():
    decodes = []

    def decode(entry: dict) -> list:
        decodes.append(entry)
        return [entry["n"]]

    cache.set("d", {"old": "shape"}, 60)
    decoded = cached("d", lambda: {"n": 1}, ttl=60, namespace="test", local_ttl=30, decode=decode)
    again = cached("d", lambda: {"n": 2}, ttl=60, namespace="test", local_ttl=30, decode=decode)
    assert decoded == [1] and again is decoded  # from memory: decoded once, not on every read
    assert cache.get("d") == {"n": 1}
    assert decodes == [{"old": "shape"}, {"n": 1}]  # the old shape failed, the reload was decoded once

    local_clear()  # another process: reads Redis, decodes its own answer
    fresh = cached("d", lambda: {"n": 3}, ttl=60, namespace="test", local_ttl=30, decode=decode)
    assert fresh == [1] and fresh is not decoded and len(decodes) == 3


@pytest.mark.django_db
def test_cache_delete_on_commit_waits_for_the_commit(django_capture_on_commit_callbacks):
    loader = Loads()
    read("c", loader)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cache_delete_on_commit("c")
    assert read("c", loader) == "v1"
    for callback in callbacks:
        callback()
    assert read("c", loader) == "v2"
