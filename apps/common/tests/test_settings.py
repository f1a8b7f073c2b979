"""Production settings fail fast instead of running with demo or missing configuration."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GOOD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 64,
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "mysql://u:p@127.0.0.1:3306/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
    "WEIXIN_TOKEN": "a-real-weixin-token",
}


def _import_settings(**overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in GOOD_ENV}
    env.update(GOOD_ENV)
    env.update(overrides)
    env = {k: v for k, v in env.items() if v != ""}
    code = "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_settings_load_with_real_configuration():
    result = _import_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_production_refuses_a_dev_secret():
    result = _import_settings(DJANGO_SECRET_KEY="dev-insecure-secret-key-change-me")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_sqlite_and_embedded_services():
    assert "DATABASE_URL" in _import_settings(DATABASE_URL="").stderr
    assert "REDIS_URL" in _import_settings(REDIS_URL="").stderr
