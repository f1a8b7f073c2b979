"""Child process of test_local_cache: holds one key in process memory, says when an invalidation made it go.

Run as ``python -m apps.common.tests.cache_watch_child KEY`` with DJANGO_SETTINGS_MODULE set. Prints ``ready``
once the value is held and the subscriber listens, then ``forgotten`` when the key left its memory. The parent
fills the DCC hash first, so it never needs the database.
"""

import os
import sys
import time

import django


def main(key: str) -> int:
    django.setup()
    from apps.common.cache import NOT_LOCAL, cached, local_peek
    from apps.dcc.runtime import dcc_subscribed

    if not dcc_subscribed(timeout=10):  # the subscriber carries the cache channel too
        print("not-subscribed", flush=True)
        return 1
    cached(key, lambda: "child-value", ttl=60, namespace="test", local_ttl=60)
    if local_peek(key) != "child-value":
        print("not-held", flush=True)
        return 1
    print("ready", flush=True)
    deadline = time.monotonic() + float(os.environ.get("CACHE_WATCH_SECONDS", "30"))
    while time.monotonic() < deadline:
        if local_peek(key) is NOT_LOCAL:
            print("forgotten", flush=True)
            return 0
        time.sleep(0.002)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
