"""The process-local copy of the dynamic configuration (DCC) that every process reads.

Reads: ``dcc_get(key)`` answers from an in-memory dict, already parsed to the key's type (int, str,
frozenset). It never touches the database on the hot path and never raises because Redis is down.

Loading (first use, then every ``DCC_RESYNC_SECONDS``): the Redis hash ``gbm:dcc`` mirrors the
database; keys it lacks — or all keys, when Redis is unreachable — are read from the database (and
copied into the hash with HSETNX, so the next load is Redis-only again); keys stored nowhere take their
default. A failed load keeps the last known values, logs a warning and is retried about a second later.

Changes: ``dcc_update`` applies a change to its own process, writes the hash and PUBLISHes
``{"key", "value"}`` on ``DCC_PUBSUB_CHANNEL``. On first use each process starts one daemon thread that
SUBSCRIBEs and applies those messages at once; it reconnects with backoff, and after every (re)subscribe
the next ``dcc_get`` reloads, so nothing published while it was disconnected is lost for longer than that.
A forked child (gunicorn, celery prefork) inherits the values but not the thread: it starts its own.
The same thread carries cache invalidations (``CACHE_INVALIDATION_CHANNEL``, apps/common/cache.py): it
forgets the named keys from this process's memory, and everything at each (re)subscribe.
If the updater could not reach Redis, the database is already right and this process' subscriber
re-mirrors the database into Redis (and broadcasts it) as soon as Redis answers again.
"""

import json
import logging
import os
import random
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connections

from apps.common.cache import local_clear, local_forget
from apps.common.redis import get_redis, redis_publish_all
from apps.dcc.keys import DCC_KEYS, InvalidValue
from apps.dcc.selectors import dcc_stored_values

logger = logging.getLogger(__name__)

DCC_HASH_KEY = "gbm:dcc"
_FAILED_LOAD_RETRY_SECONDS = 1.0
_POLL_SECONDS = 1.0  # how long the subscriber blocks per read: bounds how late it notices a pending re-mirror
_PING_EVERY_SECONDS = 15.0  # a half-open connection stays silent; a PING without answer reveals it
_SILENCE_LIMIT_SECONDS = 3 * _PING_EVERY_SECONDS
_BACKOFF_FIRST_SECONDS = 0.1
_BACKOFF_MAX_SECONDS = 5.0
_REMIRROR_EVERY_SECONDS = 2.0


class _State:
    """Everything process-local. Replaced wholesale in a forked child (locks must not be inherited)."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.lock = threading.Lock()  # guards values/touched/generation/epoch and the listener start
        self.load_lock = threading.Lock()  # one loader at a time; others keep serving the current copy
        self.values: dict[str, Any] = dict(values or {})
        self.generation = 0  # bumped by every applied change
        self.touched: dict[str, int] = {}  # key -> generation of its last applied change
        self.epoch = 0  # bumped at every (re)subscribe: a load begun before it may have missed a message
        self.loaded_at: float | None = None  # monotonic time of the last complete load
        self.retry_at = 0.0  # after a failed load: not before this monotonic time
        self.pid: int | None = None  # the process whose subscriber thread runs
        self.subscribed = threading.Event()
        self.mirror_pending = False  # a change did not reach Redis: re-mirror the database when it answers
        self.mirror_retry_at = 0.0


_state = _State()


def _after_fork_in_child() -> None:
    global _state
    # Keep the values (they were right a moment ago); reload soon and start this child's own subscriber.
    _state = _State(_state.values)


os.register_at_fork(after_in_child=_after_fork_in_child)


# --- public entry points ----------------------------------------------------------------------------------


def dcc_cache_open() -> bool:
    """``cacheOpenSwitch``: "0" = the read-through cache serves, "1" = every read goes to the database."""
    return dcc_get("cacheOpenSwitch") == "0"


def dcc_get(key: str) -> Any:
    """The current typed value of a DCC key (``KeyError`` for an unknown key)."""
    state = _state
    if state.pid != os.getpid():
        _start_subscriber(state)
    if state.loaded_at is None or time.monotonic() - state.loaded_at > settings.DCC_RESYNC_SECONDS:
        _load(state)
    try:
        return state.values[key]
    except KeyError:
        raise KeyError(f"unknown DCC key: {key}") from None


def dcc_apply(key: str, value: str) -> bool:
    """Apply one stored text value to this process' copy; False (and a warning) if it is not valid."""
    definition = DCC_KEYS.get(key)
    if definition is None:
        logger.warning("DCC: ignoring unknown key %r", key)
        return False
    try:
        parsed = definition.parse(value)
    except InvalidValue as exc:
        logger.warning("DCC: ignoring invalid value %r for %s: %s", value, key, exc)
        return False
    state = _state
    with state.lock:
        state.generation += 1
        state.touched[key] = state.generation
        state.values[key] = parsed
    return True


def dcc_mirror_failed() -> None:
    """A change reached the database but not Redis: re-mirror it from the subscriber once Redis answers."""
    state = _state
    state.mirror_pending = True
    if state.pid != os.getpid():
        _start_subscriber(state)


def dcc_subscribed(timeout: float = 0.0) -> bool:
    """Whether this process' subscriber is listening (waits up to ``timeout`` seconds; starts it if needed)."""
    state = _state
    if state.pid != os.getpid():
        _start_subscriber(state)
    return state.subscribed.wait(timeout)


def dcc_reset_local_state() -> None:
    """Forget the local copy (tests: Redis is flushed and the database rolled back between tests).

    The subscriber thread keeps running; the next ``dcc_get`` loads again.
    """
    state = _state
    with state.lock:
        state.values.clear()
        state.touched.clear()
        state.generation += 1
        state.loaded_at = None
        state.retry_at = 0.0
        state.mirror_pending = False
        state.mirror_retry_at = 0.0


# --- loading ----------------------------------------------------------------------------------------------


def _load(state: _State) -> None:
    # Until every key has a value (first load) readers wait for it; later loads never make a reader wait.
    complete_copy = len(state.values) == len(DCC_KEYS)
    if not state.load_lock.acquire(blocking=not complete_copy):
        return
    try:
        now = time.monotonic()
        fresh = state.loaded_at is not None and now - state.loaded_at <= settings.DCC_RESYNC_SECONDS
        if fresh or (complete_copy and now < state.retry_at):
            return  # another thread just loaded, or the last attempt failed a moment ago
        generation, epoch = state.generation, state.epoch
        loaded, complete = _read_sources()
        with state.lock:
            for name, definition in DCC_KEYS.items():
                if state.touched.get(name, -1) > generation:
                    continue  # a change applied while we were reading is newer than what we read
                if name in loaded:
                    state.values[name] = loaded[name]
                elif name not in state.values:
                    state.values[name] = definition.parse(definition.default)
            if complete and state.epoch == epoch:
                state.loaded_at = time.monotonic()
            elif not complete:
                state.retry_at = time.monotonic() + min(_FAILED_LOAD_RETRY_SECONDS, settings.DCC_RESYNC_SECONDS)
    finally:
        state.load_lock.release()


def _read_sources() -> tuple[dict[str, Any], bool]:
    """Parsed values from Redis, the database for what Redis lacks; and whether every key was found."""
    loaded: dict[str, Any] = {}
    redis_ok = False
    try:
        stored = get_redis().hgetall(DCC_HASH_KEY)
        redis_ok = True
    except Exception as exc:  # any Redis failure: the database answers instead
        logger.warning("DCC: Redis unreachable, loading from the database: %s", exc)
        stored = {}
    for raw_key, raw_value in stored.items():
        name, text = _text(raw_key), _text(raw_value)
        if name in DCC_KEYS:
            try:
                loaded[name] = DCC_KEYS[name].parse(text)
            except InvalidValue:
                logger.warning("DCC: invalid value %r for %s in Redis, using the database", text, name)
    missing = [name for name in DCC_KEYS if name not in loaded]
    if not missing:
        return loaded, True
    try:
        from_db = dcc_stored_values()  # every key: stored value or default
    except Exception as exc:
        logger.warning("DCC: database unreachable too, keeping the last known values for %s: %s", missing, exc)
        return loaded, False
    for name in missing:
        definition = DCC_KEYS[name]
        try:
            loaded[name] = definition.parse(from_db[name])
        except InvalidValue:  # only a hand-edited row can be invalid; a reader must not fail on it
            logger.warning("DCC: invalid value %r for %s in the database, using the default", from_db[name], name)
            loaded[name] = definition.parse(definition.default)
    if redis_ok:
        _fill_redis({name: from_db[name] for name in missing})
    return loaded, True


def _fill_redis(values: dict[str, str]) -> None:
    # HSETNX, not HSET: a dcc_update that lands between our database read and this write must win.
    try:
        pipe = get_redis().pipeline(transaction=False)
        for name, value in values.items():
            pipe.hsetnx(DCC_HASH_KEY, name, value)
        pipe.execute()
    except Exception as exc:
        logger.warning("DCC: could not fill the Redis mirror: %s", exc)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else raw


# --- the subscriber ---------------------------------------------------------------------------------------


def _start_subscriber(state: _State) -> None:
    with state.lock:
        pid = os.getpid()
        if state.pid == pid:
            return
        state.pid = pid
    threading.Thread(target=_subscribe_forever, args=(state,), name="dcc-subscriber", daemon=True).start()


def _subscribe_forever(state: _State) -> None:
    backoff = _BACKOFF_FIRST_SECONDS
    while state is _state:  # _listen returns only when the state was replaced
        try:
            _listen(state)
        except Exception as exc:
            if state.subscribed.is_set():
                backoff = _BACKOFF_FIRST_SECONDS  # it worked until now: retry quickly first
            state.subscribed.clear()
            logger.warning("DCC: subscriber lost Redis, reconnecting in about %.1fs: %s", backoff, exc)
            time.sleep(backoff * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not security
            backoff = min(backoff * 2, _BACKOFF_MAX_SECONDS)


def _listen(state: _State) -> None:
    pubsub = get_redis().pubsub()
    try:
        # The cache channel first: "subscribed" (set by the DCC channel's confirmation) then covers both.
        pubsub.subscribe(settings.CACHE_INVALIDATION_CHANNEL, settings.DCC_PUBSUB_CHANNEL)
        last_heard = last_ping = time.monotonic()
        while state is _state:
            message = pubsub.get_message(timeout=_POLL_SECONDS)
            now = time.monotonic()
            if message is not None:
                last_heard = now
                _handle(state, message)
            elif now - last_heard > _SILENCE_LIMIT_SECONDS:
                raise ConnectionError("no answer to PING from Redis")
            if now - last_ping > _PING_EVERY_SECONDS:
                last_ping = now
                pubsub.ping()
            if state.mirror_pending and state.subscribed.is_set() and now >= state.mirror_retry_at:
                _remirror(state)
    finally:
        pubsub.close()


def _handle(state: _State, message: dict) -> None:
    kind = _text(message["type"])
    if _text(message["channel"]) == settings.CACHE_INVALIDATION_CHANNEL:
        if kind == "subscribe":
            local_clear()  # invalidations sent while we were not listening are lost
        elif kind == "message":
            local_forget(_text(message["data"]).split("\n"))
        return
    if kind == "subscribe":
        with state.lock:
            # Anything published while we were not subscribed was missed: the next dcc_get reloads.
            state.epoch += 1
            state.loaded_at = None
            state.retry_at = 0.0
        state.subscribed.set()
        logger.info("DCC: subscribed to %s", settings.DCC_PUBSUB_CHANNEL)
    elif kind == "message":
        try:
            payload = json.loads(message["data"])
            key, value = payload["key"], payload["value"]
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("DCC: ignoring malformed message %r: %s", message["data"], exc)
            return
        dcc_apply(str(key), str(value))


def _remirror(state: _State) -> None:
    state.mirror_pending = False  # cleared first: a failure reported meanwhile sets it again
    try:
        count = dcc_publish_all()
        logger.info("DCC: re-mirrored %d values into Redis after a failed publish", count)
    except Exception as exc:
        state.mirror_pending = True
        state.mirror_retry_at = time.monotonic() + _REMIRROR_EVERY_SECONDS
        logger.warning("DCC: re-mirroring into Redis failed, retrying: %s", exc)
    finally:
        connections.close_all()  # this thread's connections only; it rarely needs the database


def dcc_publish_all() -> int:
    """Mirror every key from the database into Redis, broadcast each, apply here; return the count.

    For ``manage.py dcc_sync`` / ``rebuild_redis`` and the re-mirror after a failed publish: Redis errors
    propagate so the caller knows it did not happen.
    """
    values = dcc_stored_values()
    for key, value in values.items():
        dcc_apply(key, value)
    client = get_redis()
    pipe = client.pipeline(transaction=True)
    pipe.delete(DCC_HASH_KEY)  # in the same MULTI (one key, so one slot on a cluster too): never seen half-written
    # redis-py declares mapping as Mapping[FieldT, ...], invariant in its key: a dict[str, str] is valid.
    pipe.hset(DCC_HASH_KEY, mapping=values)  # type: ignore[arg-type]
    pipe.execute()
    # Then the messages: a cluster refuses PUBLISH inside MULTI; a listener that reads the hash on hearing one finds it.
    messages = [dcc_message(key, value) for key, value in values.items()]
    redis_publish_all(settings.DCC_PUBSUB_CHANNEL, messages, client=client)
    return len(values)


def dcc_message(key: str, value: str) -> str:
    """The pub/sub message announcing one key's value."""
    return json.dumps({"key": key, "value": value}, ensure_ascii=False)
