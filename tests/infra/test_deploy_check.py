"""`manage.py check --deploy` passes with production settings and real secrets, and fails on demo credentials;
the same checks stop gunicorn, the Celery worker and beat at start (config/guards.py), and load_demo refuses.

The check runs in a subprocess (production settings are import-time: they cannot be swapped into this
process) against the test database this suite uses, so it needs MariaDB: production refuses SQLite.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# Inherited from the developer's shell these would change what is checked; the test sets its own.
_DROPPED_PREFIXES = ("DJANGO_", "CELERY_", "GUNICORN_", "ALIPAY_", "SANDBOX_", "PAYMENT_", "GBM_", "PROMETHEUS_")
_DROPPED = {"DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "BROKER_URL", "WEIXIN_TOKEN", "API_DOCS_PUBLIC"}

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database Django is connected to (the test database during tests)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"mysql://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def production_environ(**extra: str) -> dict[str, str]:
    """A complete, non-demo production environment on the services (and test database) of this suite."""
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith(_DROPPED_PREFIXES) and key not in _DROPPED
    }
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64)[:64],
        DJANGO_ALLOWED_HOSTS="shop.example.com",
        DATABASE_URL=database_url(connection.settings_dict),
        # The check connects to neither; production only refuses the embedded stand-ins.
        REDIS_URL=settings.REDIS_URL if not settings.REDIS_EMBEDDED else "redis://127.0.0.1:6379/15",
        BROKER_URL=settings.CELERY_BROKER_URL if not settings.BROKER_EMBEDDED else "amqp://127.0.0.1:5672//",
        WEIXIN_TOKEN=secrets.token_urlsafe(32),
        PAYMENT_NOTIFY_BASE_URL="https://shop.example.com",
        # payments.W001 warns while the sandbox gateway is active; a deployment configures Alipay.
        ALIPAY_APP_ID="2021000000000000",
        ALIPAY_APP_PRIVATE_KEY="deploy-check-app-private-key",
        ALIPAY_PUBLIC_KEY="deploy-check-alipay-public-key",
    )
    environ.update(extra)
    return environ


def run_production(argv: list[str], timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=ROOT, env=production_environ(**extra), capture_output=True, text=True, timeout=timeout
    )


def check_deploy(**extra: str) -> subprocess.CompletedProcess:
    """The compose release step's command (docker/compose.yml, service migrate)."""
    return run_production([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], **extra)


def load_demo_data() -> None:
    """The demo data, committed (the subprocesses read the same test database), hashed as production hashes."""
    call_command("load_demo")
    _rehash_for_production()
    assert _demo_rows() != (0, 0)


def _demo_rows() -> tuple[int, int]:
    from apps.accounts.models import User
    from apps.channels.models import ChannelCredential
    from apps.demo.services import DEMO_CHANNELS

    demo_secrets = {secret for _, _, secret, _ in DEMO_CHANNELS}
    return (
        ChannelCredential.objects.filter(secret__in=demo_secrets).count(),
        User.objects.filter(username__in=["admin", "xiaofuge", "liergou", "demo1"]).count(),
    )


class _QuickPBKDF2(PBKDF2PasswordHasher):
    iterations = 1000  # the stored hash names its iterations: production's PBKDF2 hasher verifies it


def _rehash_for_production() -> None:
    """Keep the demo passwords, hashed with a hasher production knows (test settings hash with MD5 only)."""
    from apps.accounts.models import User
    from apps.demo.services import DEMO_PASSWORD

    for user in User.objects.filter(username__in=["admin", "xiaofuge", "liergou", "demo1"]):
        for password in ("admin", DEMO_PASSWORD):
            if user.check_password(password):
                user.password = make_password(password, hasher=_QuickPBKDF2())
                user.save(update_fields=["password"])
                break


def test_database_url_round_trips():
    import environ

    url = database_url({"USER": "gb user", "PASSWORD": "p@ss:word/", "HOST": "db", "PORT": 3307, "NAME": "test_x"})
    parsed = environ.Env.db_url_config(url)
    assert (parsed["USER"], parsed["PASSWORD"], parsed["HOST"], parsed["PORT"], parsed["NAME"]) == (
        "gb user", "p@ss:word/", "db", 3307, "test_x",
    )  # fmt: skip


def test_check_deploy_passes_with_a_real_production_configuration(mariadb):
    assert _demo_rows() == (0, 0), "the test database holds demo credentials: another test leaked committed rows"
    result = check_deploy()
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout, result.stdout
    assert "WARNINGS" not in result.stderr and "ERRORS" not in result.stderr, result.stderr


def test_check_deploy_fails_while_demo_credentials_are_in_the_database(mariadb):
    load_demo_data()
    result = check_deploy()
    assert result.returncode != 0
    assert "groupbuy.E001" in result.stderr, result.stderr
    assert "groupbuy.E002" in result.stderr, result.stderr


def test_the_demo_weixin_token_is_refused_before_any_check_runs(mariadb):
    """groupbuy.E003 stays for other settings modules; production refuses the token at import already."""
    from apps.accounts.weixin import DEFAULT_WEIXIN_TOKEN

    result = check_deploy(WEIXIN_TOKEN=DEFAULT_WEIXIN_TOKEN)
    assert result.returncode != 0
    assert "WEIXIN_TOKEN is blank or the demo default" in result.stderr, result.stderr


def test_check_deploy_passes_on_a_trial_stack_that_allowed_the_sandbox_explicitly(mariadb):
    result = check_deploy(
        ALIPAY_APP_ID="", ALIPAY_APP_PRIVATE_KEY="", ALIPAY_PUBLIC_KEY="", PAYMENT_SANDBOX_ALLOWED="1"
    )
    assert result.returncode == 0, result.stderr + result.stdout


def _refused_for_demo_credentials(output: str, process: str) -> bool:
    return f"{process} (production settings): refusing to start" in output and "groupbuy.E001" in output


def test_gunicorn_refuses_to_start_while_demo_credentials_are_in_the_database(mariadb, tmp_path):
    load_demo_data()
    port = _free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "-c", "docker/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "config.wsgi:application",
    ]  # fmt: skip
    result = run_production(argv, timeout=90, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    assert result.returncode != 0  # gunicorn halts when a worker fails to boot, it does not retry
    assert "Worker failed to boot" in result.stderr, result.stderr[-3000:]
    assert _refused_for_demo_credentials(result.stderr, "The WSGI application"), result.stderr[-3000:]


def test_the_wsgi_application_starts_on_a_clean_database_and_with_the_demo_escape_hatch(mariadb):
    load_wsgi = [sys.executable, "-c", "import config.wsgi; print('serving')"]
    clean = run_production(load_wsgi)
    assert (clean.returncode, clean.stdout.strip()) == (0, "serving"), clean.stderr[-3000:]
    load_demo_data()
    refused = run_production(load_wsgi)
    assert refused.returncode != 0
    assert _refused_for_demo_credentials(refused.stderr, "The WSGI application"), refused.stderr[-3000:]
    allowed = run_production(load_wsgi, GBM_ALLOW_DEMO_DATA="1")  # benchmarks and tests on a private database
    assert (allowed.returncode, allowed.stdout.strip()) == (0, "serving"), allowed.stderr[-3000:]


@pytest.mark.parametrize(("command", "process"), [("worker", "The Celery worker"), ("beat", "Celery beat")])
def test_celery_refuses_to_start_while_demo_credentials_are_in_the_database(
    mariadb, rabbitmq, tmp_path, command, process
):
    load_demo_data()
    argv = [sys.executable, "-m", "celery", "-A", "config.celery_app", command, "--loglevel", "warning"]
    if command == "beat":
        argv += ["--schedule", str(tmp_path / "beat-schedule"), "--pidfile", str(tmp_path / "beat.pid")]
    else:
        argv += [
            "--pool",
            "solo",
            "--queues",
            f"refused-{secrets.token_hex(4)}",
            "--without-mingle",
            "--without-gossip",
        ]
    result = run_production(argv, timeout=90)
    assert result.returncode != 0
    assert _refused_for_demo_credentials(result.stderr, process), result.stderr[-3000:]


def test_the_bus_consumer_refuses_to_start_while_demo_credentials_are_in_the_database(mariadb):
    load_demo_data()
    result = run_production([sys.executable, "manage.py", "run_consumers"], timeout=90)
    assert result.returncode != 0
    assert _refused_for_demo_credentials(result.stderr, "The bus consumer"), result.stderr[-3000:]


def test_load_demo_refuses_under_production_settings(mariadb):
    result = run_production([sys.executable, "manage.py", "load_demo"])
    assert result.returncode != 0
    assert "Refusing to load the demo data under production settings" in result.stderr, result.stderr[-3000:]
    assert _demo_rows() == (0, 0)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
