"""The database's durable-commit ceiling on this machine, for the capacity model (docs/capacity.md).

    python -m benchmarks.db_ceiling [--threads 8] [--seconds 10] [--rows 1]

Each thread, on its own connection, runs ``BEGIN; INSERT … (rows times); UPDATE one hot row per thread; COMMIT`` as
fast as it can, against a table of its own in the bench database (``BENCH_DATABASE_URL``, default
``groupbuy_bench``; created and dropped here), with the server's settings as they are
(``innodb_flush_log_at_trx_commit`` is reported: 1 means every commit waits for the log flush, the guarantee the
product keeps). A lock is one such transaction (a team UPDATE and an order INSERT), a settle about two.
The threads are Python's (MySQLdb), on the same cores as the server: this is the rate a Python client of the app's
kind gets, well below what the server itself commits (a C client, ``mariadb-slap``, measured about 4–5 times more
on the same machine: docs/capacity.md, "Correction (session 9)").
Prints one JSON object and writes it to benchmarks/results/db-ceiling-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import MySQLdb

from benchmarks.environment import DEFAULT_DATABASE_URL

RESULTS = Path(__file__).resolve().parent / "results"


def _connect(url: str):
    parts = urlparse(url)
    return MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        passwd=parts.password or "",
        db=parts.path.lstrip("/"),
        autocommit=False,
    )


def measure(*, url: str, threads: int, seconds: float, rows: int) -> dict:
    setup = _connect(url)
    cursor = setup.cursor()
    cursor.execute("DROP TABLE IF EXISTS bench_db_ceiling")
    cursor.execute(
        "CREATE TABLE bench_db_ceiling (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker INT NOT NULL, n BIGINT NOT NULL, "
        "payload VARCHAR(64) NOT NULL, KEY (worker)) ENGINE=InnoDB"
    )
    cursor.executemany(
        "INSERT INTO bench_db_ceiling (worker, n, payload) VALUES (%s, 0, 'hot')", [(w,) for w in range(threads)]
    )
    setup.commit()
    cursor.execute("SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@log_bin, VERSION()")
    flush, sync_binlog, log_bin, version = cursor.fetchone()
    counts = [0] * threads
    stop = threading.Event()

    def work(worker: int) -> None:
        conn = _connect(url)
        cur = conn.cursor()
        while not stop.is_set():
            for _ in range(rows):
                cur.execute("INSERT INTO bench_db_ceiling (worker, n, payload) VALUES (%s, 1, 'order')", (worker,))
            cur.execute("UPDATE bench_db_ceiling SET n = n + 1 WHERE worker = %s AND payload = 'hot'", (worker,))
            conn.commit()
            counts[worker] += 1
        conn.close()

    workers = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    started = time.perf_counter()
    for thread in workers:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    cursor.execute("DROP TABLE bench_db_ceiling")
    setup.commit()
    setup.close()
    return {
        "suite": "db_ceiling",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": version,
        "innodb_flush_log_at_trx_commit": int(flush),
        "log_bin": int(log_bin),
        "sync_binlog": int(sync_binlog),
        "threads": threads,
        "statements_per_commit": rows + 1,
        "seconds": round(elapsed, 2),
        "commits": sum(counts),
        "commits_per_second": round(sum(counts) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=1, help="INSERTs per transaction (a lock writes one order)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    report = measure(url=url, threads=args.threads, seconds=args.seconds, rows=args.rows)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"db-ceiling-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
