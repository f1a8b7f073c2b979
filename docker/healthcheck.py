"""Container health probe: ``python docker/healthcheck.py [/path]`` exits 0 only on HTTP 200.

The image has no curl. The Host header is taken from DJANGO_ALLOWED_HOSTS so Django's host
validation passes whatever hosts the deployment allows.
"""

import os
import sys
import urllib.request


def host_header() -> str:
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")  # ".example.com" allows example.com itself
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/healthz"
    port = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host_header()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - fixed local URL
            return 0 if response.status == 200 else 1
    except OSError as exc:  # URLError and HTTPError are OSErrors
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
