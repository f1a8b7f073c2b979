"""Production settings fail fast at import instead of running with demo, placeholder or missing configuration.

Each case imports ``config.settings.production`` in a subprocess (settings are import-time) with one bad
value in an otherwise complete environment (config/guards.py lists the rules).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.guards import PLACEHOLDER_SECRET_KEYS

ROOT = Path(__file__).resolve().parents[3]
GOOD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "k3J9-vQ2x_Lm8RtZp0aWcYe5HnUd7BgF4sVoNi1jKqTrXyE6uMwA",
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "mysql://u:p@127.0.0.1:3306/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "WEIXIN_TOKEN": "a-real-weixin-token",
    "ALIPAY_APP_ID": "2021000000000000",
    "ALIPAY_APP_PRIVATE_KEY": "app-private-key",
    "ALIPAY_PUBLIC_KEY": "alipay-public-key",
    "PAYMENT_NOTIFY_BASE_URL": "https://shop.example.com",
}
# Inherited from the shell these would change the outcome; every case sets its own.
_DROPPED = ("PAYMENT_", "GBM_", "API_DOCS_", "ALIPAY_", "DJANGO_", "GBM_MQ_URL")


def _import_settings(**overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in GOOD_ENV and not k.startswith(_DROPPED)}
    env.update(GOOD_ENV)
    env.update(overrides)
    env = {k: v for k, v in env.items() if v != ""}
    code = (
        "from django.conf import settings; "
        "print(settings.DEBUG, settings.API_DOCS_PUBLIC, settings.DEMO_DATA_ALLOWED, settings.SILENCED_SYSTEM_CHECKS)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_settings_load_with_real_configuration():
    result = _import_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False False []"


@pytest.mark.parametrize("secret", sorted(PLACEHOLDER_SECRET_KEYS))
def test_production_refuses_every_placeholder_secret_key_of_the_repository(secret):
    result = _import_settings(DJANGO_SECRET_KEY=secret)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY is a public placeholder" in result.stderr, result.stderr


def test_the_placeholders_are_the_ones_the_repository_shows():
    """A placeholder added to .env.example or a settings default must be refused too."""
    shown = {
        (ROOT / "config" / "settings" / "base.py").read_text().split('"DJANGO_SECRET_KEY", default="')[1].split('"')[0],
        (ROOT / "config" / "settings" / "test.py").read_text().split('SECRET_KEY = "')[1].split('"')[0],
        (ROOT / "docker" / ".env.example").read_text().split("DJANGO_SECRET_KEY=")[1].splitlines()[0],
    }
    assert shown <= PLACEHOLDER_SECRET_KEYS


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DJANGO_SECRET_KEY": "dev-insecure-secret-key-change-me"}, "DJANGO_SECRET_KEY is a public placeholder"),
        ({"DJANGO_SECRET_KEY": "CHANGE-ME-" + "a1b2c3d4" * 8}, "DJANGO_SECRET_KEY is a public placeholder"),
        ({"DJANGO_SECRET_KEY": "short-but-random-9f8e7d"}, "DJANGO_SECRET_KEY is too weak"),
        ({"DJANGO_SECRET_KEY": "ab" * 40}, "DJANGO_SECRET_KEY is too weak"),
        ({"WEIXIN_TOKEN": "CHANGE-ME-weixin-token"}, "WEIXIN_TOKEN still holds a placeholder"),
        ({"WEIXIN_TOKEN": "groupbuy-weixin-token"}, "WEIXIN_TOKEN is blank or the demo default"),
        ({"DATABASE_URL": "mysql://u:CHANGE-ME-db@127.0.0.1:3306/db"}, "DATABASE_URL still holds a placeholder"),
        ({"BROKER_URL": "amqp://u:CHANGE-ME@127.0.0.1:5672//"}, "BROKER_URL still holds a placeholder"),
        (
            {"ALIPAY_APP_ID": "", "ALIPAY_APP_PRIVATE_KEY": "", "ALIPAY_PUBLIC_KEY": ""},
            "allow it explicitly with PAYMENT_SANDBOX_ALLOWED=1",
        ),
        ({"ALIPAY_PUBLIC_KEY": ""}, "Alipay is half configured: ALIPAY_PUBLIC_KEY missing"),
        ({"ALIPAY_APP_ID": "CHANGE-ME-alipay-app-id"}, "ALIPAY_APP_ID still holds a placeholder"),
        ({"PAYMENT_NOTIFY_BASE_URL": ""}, "PAYMENT_NOTIFY_BASE_URL is required"),
        ({"PAYMENT_NOTIFY_BASE_URL": "http://shop.example.com"}, "PAYMENT_NOTIFY_ALLOW_HTTP=1"),
        ({"PAYMENT_NOTIFY_BASE_URL": "shop.example.com"}, "must be an absolute URL"),
        ({"PAYMENT_NOTIFY_BASE_URL": "https://CHANGE-ME.example.com"}, "PAYMENT_NOTIFY_BASE_URL still holds"),
    ],
)
def test_production_refuses_a_bad_environment_with_a_clear_message(overrides, message):
    result = _import_settings(**overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured: Production settings: refusing to start:" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_explicit_opt_ins_let_a_trial_stack_start():
    result = _import_settings(
        ALIPAY_APP_ID="",
        ALIPAY_APP_PRIVATE_KEY="",
        ALIPAY_PUBLIC_KEY="",
        PAYMENT_SANDBOX_ALLOWED="1",
        PAYMENT_NOTIFY_BASE_URL="http://127.0.0.1:8080",
        PAYMENT_NOTIFY_ALLOW_HTTP="1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        GBM_ALLOW_DEMO_DATA="1",
        API_DOCS_PUBLIC="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "False True True ['payments.W001', 'security.W008', 'groupbuy.E001', 'groupbuy.E002']"
    )


def test_production_refuses_sqlite_and_embedded_services():
    assert "DATABASE_URL" in _import_settings(DATABASE_URL="").stderr
    assert "REDIS_URL" in _import_settings(REDIS_URL="").stderr


@pytest.mark.parametrize(
    ("url", "engine"),
    [("mysql://u:p@db:3306/groupbuy", "apps.common.mysql"), ("", "django.db.backends.sqlite3")],
)
def test_the_database_engine_is_djangos_own_or_our_mysql_subclass(monkeypatch, tmp_path, url, engine):
    """No metrics wrapper around every cursor (it cost ~0.2 ms a request): MariaDB's exporter counts queries. MariaDB
    gets Django's backend without the SET autocommit round trips (apps/common/mysql)."""
    from config.env import database_config

    if url:
        monkeypatch.setenv("DATABASE_URL", url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_config(tmp_path / "db.sqlite3")["ENGINE"] == engine
