"""Where the CPU went during a measurement, from /proc (Linux): gunicorn, MariaDB, Redis, the load generator.

The load generator, the server and its services share the machine's cores, so a throughput alone mixes
the endpoint's cost with everything else running. CPU per request of each part does not, and the share
nobody of the bench accounts for ("other") tells when the machine was busy with foreign work (a test
suite run by someone else) and the figures are noisy. Only reads /proc; touches no process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The services the trial talks to, by their process names (/proc/<pid>/comm).
SERVICE_PROCESSES = {"mariadb": ("mariadbd", "mysqld"), "redis": ("redis-server",)}

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
