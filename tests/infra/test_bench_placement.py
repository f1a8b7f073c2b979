"""The bench's split placement (benchmarks/placement.py): gunicorn on cores of its own, everything else on the
others, every affinity given back afterwards."""

import os
import subprocess
import sys
import time

import pytest

from benchmarks import placement
from benchmarks.placement import PlacementUnavailable, split_cores, split_placement

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: nothing to split")


@pytest.fixture
def sleepers():
    """Two processes with a thread each besides their main one: a stand-in gunicorn and a stand-in service."""
    code = "import threading, time; threading.Thread(target=time.sleep, args=(60,)).start(); time.sleep(60)"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    deadline = time.monotonic() + 10
    while any(len(os.listdir(f"/proc/{proc.pid}/task")) < 2 for proc in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def threads_affinity(pid: int) -> set[frozenset[int]]:
    return {frozenset(os.sched_getaffinity(int(tid))) for tid in os.listdir(f"/proc/{pid}/task")}


def test_gunicorn_and_the_rest_run_apart_and_get_their_cores_back(sleepers):
    app, service = sleepers
    before = os.sched_getaffinity(0)
    with split_placement(lambda: [app.pid], services={"mariadb": [service.pid]}) as where:
        mine, others = frozenset(where["gunicorn_cores"]), frozenset(where["other_cores"])
        assert mine and others and not mine & others and mine | others == before
        assert threads_affinity(app.pid) == {mine}  # every thread, not only the main one
        assert threads_affinity(service.pid) == {others} and os.sched_getaffinity(0) == others  # the load generator
        assert where["pinned"] == {"gunicorn": [app.pid], "mariadb": [service.pid], "loadgen": [os.getpid()]}
    assert threads_affinity(app.pid) == threads_affinity(service.pid) == {frozenset(before)}
    assert os.sched_getaffinity(0) == before


def test_a_refused_pin_gives_back_what_was_pinned_and_says_why(sleepers, monkeypatch):
    app, service = sleepers
    before = os.sched_getaffinity(0)
    pin = os.sched_setaffinity

    def refuse_the_service(tid: int, cores: set[int]) -> None:
        if str(tid) in os.listdir(f"/proc/{service.pid}/task") and cores != before:
            raise PermissionError(1, "Operation not permitted")
        pin(tid, cores)

    monkeypatch.setattr(placement.os, "sched_setaffinity", refuse_the_service)
    with (
        pytest.raises(PlacementUnavailable, match="no right to pin"),
        split_placement(lambda: [app.pid], services={"mariadb": [service.pid]}),
    ):
        pytest.fail("measured without the split")
    assert threads_affinity(app.pid) == {frozenset(before)}


def test_one_core_cannot_be_split():
    with pytest.raises(PlacementUnavailable, match="1 core"):
        split_cores({0})
    assert split_cores({0, 1, 2, 3}) == ({0, 1}, {2, 3})
