"""Where the CPU went during a measurement, from /proc (Linux): gunicorn, MariaDB, Redis, RabbitMQ, the load generator.

The load generator, the server and its services share the machine's cores, so a throughput alone mixes
the endpoint's cost with everything else running. CPU per request of each part does not, and the share
nobody of the bench accounts for ("other") tells when the machine was busy with foreign work (a test
suite run by someone else) and the figures are noisy. ``make_probe`` samples by part (gunicorn, celery, each
service), ``make_process_probe`` by process (the gunicorn master and each worker apart), which ``part_of``
folds back into parts. Only reads /proc; touches no process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The services the app talks to, by their process names (/proc/<pid>/comm); RabbitMQ is its Erlang VM.
SERVICE_PROCESSES = {"mariadb": ("mariadbd", "mysqld"), "redis": ("redis-server",), "rabbitmq": ("beam.smp",)}
GUNICORN_MASTER = "gunicorn master"
GUNICORN_WORKER = "gunicorn worker "  # + pid

CpuProbe = Callable[[], dict[str, float]]


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def pids_named(names: Iterable[str]) -> list[int]:
    wanted = set(names)
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in wanted:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS  # user..steal; guest time is already counted in user


def make_probe(
    server_pids: Callable[[], list[int]], extra: dict[str, Callable[[], list[int]]] | None = None
) -> CpuProbe:
    """A probe of cumulative CPU seconds: gunicorn (master + workers), ``extra`` parts (the Celery worker), each
    service, this process (the load generator, and the notify receiver's thread), the machine."""
    services = {name: pids_named(names) for name, names in SERVICE_PROCESSES.items()}
    extra = extra or {}

    def probe() -> dict[str, float]:
        sample = {"gunicorn": sum(process_cpu_s(pid) for pid in server_pids())}
        sample.update({part: sum(process_cpu_s(pid) for pid in pids()) for part, pids in extra.items()})
        sample.update({name: sum(process_cpu_s(pid) for pid in pids) for name, pids in services.items()})
        sample["loadgen"] = time.process_time()
        sample["machine"] = machine_busy_s()
        return sample

    return probe


def make_process_probe(
    server_pids: Callable[[], list[int]], extra: dict[str, Callable[[], list[int]]] | None = None
) -> CpuProbe:
    """A probe of cumulative CPU seconds by process: ``gunicorn master``, ``gunicorn worker <pid>`` for each
    worker, ``<part> <pid>`` for each process of the ``extra`` parts (the Celery worker's), each service (all
    its processes), ``loadgen`` (this process) and ``machine`` (all cores, everyone)."""
    services = {name: pids_named(names) for name, names in SERVICE_PROCESSES.items()}
    extra = extra or {}

    def probe() -> dict[str, float]:
        sample: dict[str, float] = {}
        pids = server_pids()  # the master first, then its children: the workers
        if pids:
            sample[GUNICORN_MASTER] = process_cpu_s(pids[0])
            sample.update({f"{GUNICORN_WORKER}{pid}": process_cpu_s(pid) for pid in pids[1:]})
        for part, part_pids in extra.items():
            sample.update({f"{part} {pid}": process_cpu_s(pid) for pid in part_pids()})
        sample.update({name: sum(process_cpu_s(pid) for pid in pids) for name, pids in services.items()})
        sample["loadgen"] = time.process_time()
        sample["machine"] = machine_busy_s()
        return sample

    return probe


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two samples; a process that appeared meanwhile counts from 0."""
    return {label: max(0.0, seconds - before.get(label, 0.0)) for label, seconds in after.items()}


def part_of(label: str) -> str:
    """The part a process label belongs to: ``gunicorn worker 123`` → ``gunicorn``, ``celery 77`` → ``celery``."""
    return label.split(" ", 1)[0]


def worker_pid(label: str) -> str | None:
    """The pid of a ``gunicorn worker <pid>`` label (None for any other label)."""
    return label.removeprefix(GUNICORN_WORKER) if label.startswith(GUNICORN_WORKER) else None
