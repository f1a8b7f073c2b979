"""Assertions shared by the attacks: the answer an attack expects, read from the envelope."""

from __future__ import annotations

from typing import Any

from benchmarks.scenarios import envelope_code, envelope_data
from benchmarks.security.http import Answer
from benchmarks.security.registry import Breach


def expect(answer: Answer, *, status: int | tuple[int, ...], code: str | tuple[str, ...], what: str) -> None:
    """A breach unless the answer has this HTTP status and envelope code."""
    statuses = (status,) if isinstance(status, int) else status
    codes = (code,) if isinstance(code, str) else code
    got = envelope_code(answer)
    if answer.status not in statuses or got not in codes:
        raise Breach(
            f"{what}: expected HTTP {'/'.join(map(str, statuses))} {'/'.join(codes)}, got HTTP {answer.status} {got}",
            status=answer.status,
            code=got,
            body=answer.body[:300].decode("utf-8", "replace"),
        )


def data(answer: Answer) -> dict[str, Any]:
    return envelope_data(answer)
