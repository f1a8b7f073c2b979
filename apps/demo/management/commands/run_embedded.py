import os

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.common.redis_state import rebuild_redis_state


class Command(BaseCommand):
    help = (
        "Serve the demo in one process: the embedded Redis (fakeredis) and eager Celery live in this "
        "process, so Redis state is rebuilt from the database first; Celery beat's schedule runs in a "
        "thread here (no beat exists without a broker); then the threaded dev server runs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options) -> None:
        for name, count in rebuild_redis_state().items():
            self.stdout.write(f"redis: {name} rebuilt ({count})")
        mode = "embedded" if settings.REDIS_EMBEDDED else settings.REDIS_URL
        self.stdout.write(f"redis: {mode}; broker: {settings.CELERY_BROKER_URL}")
        if settings.BROKER_EMBEDDED:
            # The in-memory bus lives in this process: consume team callbacks here too.
            from apps.notifications.consumers import consumer_thread_start

            consumer_thread_start()
            self.stdout.write("mq: in-process consumer on the in-memory bus")
        if settings.EMBEDDED_BEAT:
            from config.embedded_beat import describe, embedded_beat_start

            beat = embedded_beat_start()
            self.stdout.write("beat: CELERY_BEAT_SCHEDULE runs in process (once now, then at each interval):")
            for line in describe(beat.jobs):
                self.stdout.write(f"  beat: {line}")
        self.stdout.flush()
        # The address this server answers on, for server-to-server calls to itself (the sandbox
        # gateway's notify): configuration, never a request's Host header. An explicit value wins.
        os.environ.setdefault("SERVER_BASE_URL", local_base_url(addrport))
        call_command("runserver", addrport, use_reloader=False, use_threading=True)


def local_base_url(addrport: str) -> str:
    """``http://host:port`` for runserver's ``[addr:]port``; a wildcard address means this machine."""
    host, _, port = addrport.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "0"):  # noqa: S104 - a bind address, reached as loopback
        host = "127.0.0.1"
    return f"http://{host}:{port or 8000}"
