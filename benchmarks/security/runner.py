"""``python -m benchmarks.security``: set up the suite's database, start gunicorn, run every attack, report.

The server is the bench's (``benchmarks.server.GunicornServer``: production settings, the image's gunicorn
config, a free loopback port, stopped on every exit path) with the bench's environment
(``benchmarks.environment.BenchEnvironment``) pointed at the suite's own database (``groupbuy_security``),
Redis database 12 and settings module (``benchmarks.security.settings``: a Celery queue and bus of its own).
Only 127.0.0.1 is contacted. Exit 1 on any breach, 2 when the suite could not be set up, else 0; the last
line printed is ``N passed, M failed``.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

from benchmarks.environment import REPO_ROOT, SetupError, SuiteEnvironment
from benchmarks.report import git_commit, machine_info, write_report
from benchmarks.security.context import Context, attacker_channel
from benchmarks.security.registry import (
    ATTACKS,
    Attack,
    Verdict,
    closing_line,
    exit_code,
    run_attacks,
    table,
)
from benchmarks.server import GunicornServer, ServerOptions

SETTINGS_MODULE = "benchmarks.security.settings"
GROUPS = ("signing", "isolation", "shoppers", "hostile")  # the login throttle (shoppers) after every other login


@dataclass(frozen=True)
class SecurityEnvironment(SuiteEnvironment):
    """The bench's environment with the suite's database, Redis database and settings module."""

    database_url: str = "mysql://root@127.0.0.1:3306/groupbuy_security"
    redis_url: str = "redis://127.0.0.1:6379/12"
    env_prefix = "SECURITY"
    settings_module = SETTINGS_MODULE
    settings_note = "production; own Celery queue and bus"


def ordered(attacks: dict[str, Attack], only: list[str] | None = None) -> list[Attack]:
    chosen = [a for a in attacks.values() if not only or a.name in only or a.group in only]
    return sorted(chosen, key=lambda a: GROUPS.index(a.group) if a.group in GROUPS else len(GROUPS))


def prepare(env: SecurityEnvironment, run_id: str) -> dict[str, Any]:
    """A clean Redis database, the bench's fixtures (migrate, demo data, Redis state), the suite's channel and accounts.

    The suite's Redis database is flushed first: login throttles, rate-limit blacklists and cached
    credentials of an earlier run must not decide this one. So it must be a database of its own, never 0.
    """
    if urlsplit(env.redis_url).path.strip("/") in ("", "0"):
        raise SetupError(f"the suite flushes its Redis database: give it one of its own, not {env.redis_url}")
    env.create_database()
    env.connect_redis().flushdb()
    env.load_fixtures()
    completed = subprocess.run(  # noqa: S603 - this interpreter, a module of this repository
        [sys.executable, "-m", "benchmarks.security.fixtures", run_id],
        cwd=REPO_ROOT,
        env=env.django_environ(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise SetupError("creating the attacker channel and accounts failed:\n" + completed.stderr[-3000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.security", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="run only this attack or group (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the attacks and exit")
    parser.add_argument("--no-report", action="store_true", help="do not write the JSON report")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import benchmarks.security.attacks  # noqa: F401 - registers the attacks

    args = parse_args(argv)
    attacks = ordered(ATTACKS, args.only)
    if args.list:
        for item in attacks:
            print(f"{item.group:<9} {item.name:<34} {item.doc}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: the server is stopped
    env = SecurityEnvironment.from_environ()
    run_id = uuid.uuid4().hex[:6]
    started_at, t0 = datetime.now(UTC), time.monotonic()
    verdicts: list[Verdict] = []
    try:
        env.check()
        print(f"security: preparing {env.database_name()} (migrate, demo data, attacker channel s03)", flush=True)
        prepared = prepare(env, run_id)
        with GunicornServer(env, ServerOptions(workers=2)) as server:
            print(f"security: gunicorn on 127.0.0.1:{server.port}, run {run_id}, {len(attacks)} attacks", flush=True)
            context = Context(
                port=server.port,
                run_id=run_id,
                attacker=attacker_channel(prepared["attacker_secret"]),
                users=prepared["users"],
                env=env,
            )
            verdicts = run_attacks(attacks, context, out=sys.stdout)
            server_log = server.log_tail(5000)
    except SetupError as exc:
        print(f"security: cannot set up: {exc}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 2
    errors = [line[:300] for line in server_log.splitlines() if '"level": "error"' in line or "Traceback" in line]
    if errors:
        print("--- errors in the gunicorn log ---\n" + "\n".join(errors), file=sys.stderr)
    meta = {
        "run_id": run_id,
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_s": round(time.monotonic() - t0, 1),
        "git": git_commit(),
        "machine": machine_info(),
        "environment": env.describe(),
    }
    return finish(verdicts, meta, write=not args.no_report)


def finish(verdicts: list[Verdict], meta: dict[str, Any], *, write: bool = True, out: TextIO | None = None) -> int:
    """The table, the JSON report, and the closing ``N passed, M failed`` line; the exit code."""
    out = out or sys.stdout
    report = {
        "name": "security",
        "description": "black-box attacks by one channel's secret or one shopper account; any breach fails",
        **meta,
        "attacks": [v.as_dict() for v in verdicts],
        "passed": sum(v.ok for v in verdicts),
        "failed": sum(not v.ok for v in verdicts),
        "ok": exit_code(verdicts) == 0,
    }
    print(table(verdicts), file=out)
    if write:
        paths = write_report(report)
        print("  report: " + ", ".join(str(p.relative_to(REPO_ROOT)) for p in paths), file=out)
    if "wall_s" in meta:
        print(f"security: {meta['wall_s']} s", file=out)
    print(closing_line(verdicts), file=out, flush=True)
    return exit_code(verdicts)
