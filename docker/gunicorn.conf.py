"""Gunicorn settings for the container image; every knob can be overridden from the environment.

Used as ``gunicorn -c docker/gunicorn.conf.py config.wsgi:application`` (the image's CMD).
"""

import multiprocessing
import os
from pathlib import Path


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()  # compose passes unset variables as ""
    return int(value) if value else default


def default_workers(cpus: int | None = None, cap: int | None = None) -> int:
    """Gunicorn's 2*CPU+1 rule, capped: every worker holds its own DB, Redis and broker connections."""
    cpus = cpus or multiprocessing.cpu_count()
    cap = cap or _int("GUNICORN_MAX_WORKERS", 8)
    return max(1, min(2 * cpus + 1, cap))


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int("GUNICORN_WORKERS", default_workers())
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
# Below nginx's proxy_read_timeout (60s) so a stuck worker is recycled before nginx gives up.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than nginx's upstream keepalive_timeout (60s): the proxy closes idle connections first,
# so it never reuses one gunicorn has just dropped (a source of sporadic 502s).
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# Recycle workers now and then to bound slow leaks; jitter keeps them from restarting together.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Heartbeat file on tmpfs: on overlayfs the per-request fchmod can block a worker.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented choice for the heartbeat file
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", _SHM if os.path.isdir(_SHM) else None)

# Only nginx reaches this port (compose does not publish it), so trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# No access log by default: nginx in front logs every request (JSON, with the request id), so a second line per
# request here was duplicate work (~0.1 ms of CPU per request, issue 16). GUNICORN_ACCESS_LOG=- turns it on (stdout),
# e.g. when gunicorn serves without nginx.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "").strip() or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# When on: the response's X-Request-ID is the caller's (nginx sets one) or the one the app generated.
access_log_format = os.environ.get(
    "GUNICORN_ACCESS_LOG_FORMAT",
    '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s ua="%(a)s"',
)


def _multiproc_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server) -> None:
    """Start with an empty multiprocess directory: files from a previous run would be summed in."""
    path = _multiproc_dir()
    if path is None:
        return
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges from the multiprocess metrics (prometheus_client docs)."""
    if _multiproc_dir() is None:
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:  # the metrics library is optional for the server itself
        return
    multiprocess.mark_process_dead(worker.pid)
