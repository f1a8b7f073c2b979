import pytest

from apps.accounts.tests.factories import StaffFactory
from apps.tags.tasks import rebuild_crowd_tag_bitmap, run_crowd_tag_job


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded CSVs land in a per-test directory, not in var/test-media."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


@pytest.fixture
def tasks_run_inline(monkeypatch):
    """``task.delay`` runs the task in process, whatever the broker (eager or RabbitMQ). Returns the calls."""
    calls: list[tuple[str, tuple]] = []
    for task in (run_crowd_tag_job, rebuild_crowd_tag_bitmap):

        def delay(*args, _task=task, **kwargs):
            calls.append((_task.name, args))
            return _task.apply(args=args, kwargs=kwargs)

        monkeypatch.setattr(task, "delay", delay)
    return calls
