"""The embedded beat (config/embedded_beat.py): `make run` runs Celery beat's schedule in process.

The live cases start the real embedded server (apps/common/tests/embedded.py) with the schedule 30x as fast
(``EMBEDDED_BEAT_SPEEDUP``), and only ever talk to it as a mall would (the signed API); the shared SQLite
file is where they watch the outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from apps.common.tests.embedded import Embedded, embedded_server, eventually
from apps.notifications.tests.receiver import Receiver, start_receiver
from config.celery_app import app
from config.embedded_beat import BeatJob, EmbeddedBeat, beat_jobs

LOCK = "/api/v1/gbm/trade/lock_market_pay_order"
SETTLE = "/api/v1/gbm/trade/settlement_market_pay_order"
REFUND = "/api/v1/gbm/trade/refund_market_pay_order"
SPEEDUP = 30  # trade timeouts every 1 s, the notify sweep every 0.5 s


# --- the loop itself, in this process ----------------------------------------------------------------------

_runs: list[str] = []


@app.task(name="tests.embedded_beat.count")
def _count() -> None:
    _runs.append("count")


@app.task(name="tests.embedded_beat.boom")
def _boom() -> None:
    _runs.append("boom")
    raise RuntimeError("boom")


def test_the_schedule_is_read_from_settings_and_sped_up():
    app.loader.import_default_modules()
    jobs = {job.name: job for job in beat_jobs(speedup=3)}
    assert set(jobs) == set(settings.CELERY_BEAT_SCHEDULE)
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert jobs[name].task == entry["task"] and jobs[name].task in app.tasks
        assert jobs[name].every == pytest.approx(float(entry["schedule"]) / 3)


def test_a_task_that_raises_is_logged_and_the_loop_goes_on(caplog):
    _runs.clear()
    beat = EmbeddedBeat([BeatJob("boom", "tests.embedded_beat.boom", 0.05),
                         BeatJob("count", "tests.embedded_beat.count", 0.05)])  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="config.embedded_beat"):
        beat.start()
        deadline = time.monotonic() + 10
        while (_runs.count("boom") < 3 or _runs.count("count") < 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        beat.stop()
        beat.thread.join(timeout=5)
    assert _runs.count("boom") >= 3 and _runs.count("count") >= 3
    failures = [record for record in caplog.records if "embedded beat: boom" in record.getMessage()]
    assert failures and failures[0].exc_info and "boom" in str(failures[0].exc_info[1])


# --- the real embedded server -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory) -> Iterator[Embedded]:
    with embedded_server(tmp_path_factory.mktemp("embedded"), speedup=SPEEDUP, NOTIFY_BACKOFF_SECONDS="1") as server:
        yield server


@pytest.mark.slow
def test_run_embedded_says_which_jobs_run_and_how_often(embedded):
    text = embedded.log.read_text()
    assert "beat: CELERY_BEAT_SCHEDULE runs in process" in text
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert f"{name}" in text and entry["task"] in text
    assert f"every {30 / SPEEDUP:g} s  (apps.trade.tasks.run_trade_timeouts)" in text


@pytest.mark.slow
def test_an_expired_team_fails_and_its_paid_order_is_refunded_without_a_trigger(embedded):
    locked = embedded.signed(LOCK, {"userId": "demo1", "activityId": 100123, "goodsId": "9890001",
                                    "outTradeNo": "BEAT-PAID-1"})  # fmt: skip
    team_id = locked["data"]["teamId"]
    paid = embedded.signed(SETTLE, {"userId": "demo1", "outTradeNo": "BEAT-PAID-1",
                                    "outTradeTime": datetime.now(UTC).isoformat()})  # fmt: skip
    assert paid["code"] == "0000", paid
    # The team's deadline passes (as 15 minutes would): the only change made behind the server's back.
    now = datetime.now(UTC).replace(tzinfo=None)
    embedded.query(
        "UPDATE group_buy_order SET valid_start_time = ?, valid_end_time = ? WHERE team_id = ?",
        str(now - timedelta(minutes=15)), str(now - timedelta(seconds=1)), team_id,
    )  # fmt: skip

    def refunded() -> bool:
        team = embedded.query("SELECT status FROM group_buy_order WHERE team_id = ?", team_id)
        order = embedded.query("SELECT status FROM group_buy_order_list WHERE out_trade_no = 'BEAT-PAID-1'")
        return team == [(2,)] and order == [(2,)]

    eventually(refunded, timeout=30, what="the expiry and refund", server=embedded)
    categories = embedded.query("SELECT notify_category FROM notify_task WHERE team_id = ?", team_id)
    assert ("trade_paid2refund",) in categories  # the mall hears that the money goes back


@pytest.mark.slow
def test_a_callback_that_failed_once_is_delivered_later_by_the_sweep(embedded):
    box = Receiver(answers=[(500, "error", 0.0)])
    receiver = start_receiver(box)
    try:
        embedded.signed(LOCK, {"userId": "demo2", "activityId": 100123, "goodsId": "9890001",
                               "outTradeNo": "BEAT-HTTP-1", "notifyUrl": box.url})  # fmt: skip
        cancelled = embedded.signed(REFUND, {"userId": "demo2", "outTradeNo": "BEAT-HTTP-1"})
        assert cancelled["data"]["code"] == "success", cancelled

        def delivered() -> bool:
            rows = embedded.query(
                "SELECT notify_status, notify_count FROM notify_task WHERE notify_type = 'HTTP' AND notify_url = ?",
                box.url,
            )
            return rows == [(1, 2)]

        eventually(delivered, timeout=30, what="the retried callback", server=embedded)
        assert len(box.received) == 2  # the first answer was 500; the sweep sent it again after the backoff
        assert len({request.headers["X-GBM-Task"] for request in box.received}) == 1
        assert box.received[0].body == box.received[1].body
    finally:
        receiver.shutdown()
        receiver.server_close()
