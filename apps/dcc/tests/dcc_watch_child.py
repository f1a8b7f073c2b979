"""Child process of test_cross_process: prints ``ready <v>`` once subscribed, then ``changed <v>`` per change.

Run as ``python -m apps.dcc.tests.dcc_watch_child KEY`` with DJANGO_SETTINGS_MODULE set. It reads only
through ``dcc_get``; the parent fills the Redis hash first, so it never needs the database.
"""

import os
import sys
import time

import django


def main(key: str) -> int:
    django.setup()
    from apps.dcc.runtime import dcc_get, dcc_subscribed

    dcc_get(key)
    if not dcc_subscribed(timeout=10):
        print("not-subscribed", flush=True)
        return 1
    last = dcc_get(key)  # the post-subscribe reload: from here on only messages can change it
    print(f"ready {last}", flush=True)
    deadline = time.monotonic() + float(os.environ.get("DCC_WATCH_SECONDS", "30"))
    while time.monotonic() < deadline:
        value = dcc_get(key)
        if value != last:
            print(f"changed {value}", flush=True)
            last = value
        time.sleep(0.002)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
