"""Business metrics exist from the first scrape: known label values start at 0 (Prometheus' "avoid missing
metrics" advice), in a single process and in gunicorn's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``).

Each case scrapes ``/metrics`` in a fresh interpreter: this test process has counted locks already.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

SCRAPE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
settings.ALLOWED_HOSTS = ["testserver"]
from apps.trade.models import Order
assert not Order.objects.exists()
print(Client().get("/metrics").content.decode())
"""

EXPECTED = [
    'gbm_locks_total{outcome="locked"} 0.0',
    'gbm_locks_total{outcome="E0008"} 0.0',
    'gbm_settlements_total{outcome="settled"} 0.0',
    'gbm_settlements_total{outcome="E0106"} 0.0',
    'gbm_refunds_total{strategy="unpaid_unlock"} 0.0',
    'gbm_refunds_total{strategy="paid_unformed"} 0.0',
    'gbm_refunds_total{strategy="paid_formed"} 0.0',
    'gbm_notify_deliveries_total{result="retry",type="HTTP"} 0.0',
    'gbm_notify_deliveries_total{result="failed",type="MQ"} 0.0',
    'gbm_mq_messages_total{result="applied",routing_key="topic.team_refund"} 0.0',
    "gbm_teams_completed_total 0.0",
    "gbm_teams_failed_total 0.0",
]


@pytest.mark.parametrize("multiprocess", [False, True], ids=["single", "multiprocess"])
def test_a_fresh_scrape_shows_the_business_counters_at_zero(tmp_path, multiprocess):
    environ = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    environ.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    if multiprocess:
        (tmp_path / "prometheus").mkdir()
        environ["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=settings.BASE_DIR, env=environ, check=True, timeout=180
    )
    scrape = subprocess.run(
        [sys.executable, "-c", SCRAPE], cwd=settings.BASE_DIR, env=environ, capture_output=True, text=True, timeout=120
    )
    assert scrape.returncode == 0, scrape.stderr
    lines = set(scrape.stdout.splitlines())
    missing = [line for line in EXPECTED if line not in lines]
    assert not missing, scrape.stdout[-3000:]
