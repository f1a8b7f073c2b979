"""The attack registry and the verdicts: what ``make security`` runs, prints and exits with.

An attack is a function registered with ``@attack("name", group=...)`` that takes the suite's context
and returns nothing when the server held, or raises ``Breach`` with what it saw. Any other exception
(transport error, timeout, an answer the attack cannot read) also fails it: a suite that could not
check cannot claim the server held. Each verdict carries the attack's exchanges (status, code, body
excerpt) as evidence. No server is needed here, so the unit test drives this module with fake attacks.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO


class Traced(Protocol):
    """What an attack's context must offer the runner: a fresh trace per attack."""

    def begin(self, name: str) -> list[Any]: ...


class Breach(AssertionError):
    """The server did what an attacker wanted; ``details`` say what (codes, ids, statuses)."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


def check(condition: object, message: str, **details: Any) -> None:
    """Raise ``Breach(message)`` unless ``condition`` holds."""
    if not condition:
        raise Breach(message, **details)


AttackFn = Callable[[Any], None]


@dataclass(frozen=True)
class Attack:
    name: str
    group: str
    run: AttackFn
    doc: str


ATTACKS: dict[str, Attack] = {}


def attack(name: str, *, group: str, registry: dict[str, Attack] | None = None) -> Callable[[AttackFn], AttackFn]:
    """Register ``fn`` under ``name`` (unique); its docstring's first line is the safe answer it expects."""
    target = ATTACKS if registry is None else registry

    def register(fn: AttackFn) -> AttackFn:
        if name in target:
            raise ValueError(f"attack {name!r} registered twice")
        target[name] = Attack(name, group, fn, (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "")
        return fn

    return register


@dataclass
class Verdict:
    name: str
    group: str
    expected: str
    ok: bool
    finding: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "expected": self.expected,
            "result": "pass" if self.ok else "breach",
            "finding": self.finding,
            "details": self.details,
            "seconds": self.seconds,
            "exchanges": self.exchanges,
        }


MAX_EXCHANGES = 12  # the last ones of an attack: where the breach shows


def run_attack(item: Attack, context: Traced) -> Verdict:
    trace = context.begin(item.name)
    t0 = time.monotonic()
    verdict = Verdict(item.name, item.group, item.doc, ok=True)
    try:
        item.run(context)
    except Breach as breach:
        verdict.ok, verdict.finding, verdict.details = False, str(breach), breach.details
    except Exception as exc:  # any failure to check fails the attack, with its cause
        verdict.ok = False
        verdict.finding = f"the attack could not be checked: {type(exc).__name__}: {exc}"
        verdict.details = {"traceback": traceback.format_exc(limit=4)[-2000:]}
    verdict.seconds = round(time.monotonic() - t0, 2)
    verdict.exchanges = [getattr(e, "as_dict", lambda e=e: e)() for e in trace[-MAX_EXCHANGES:]]
    return verdict


def run_attacks(attacks: Iterable[Attack], context: Traced, *, out: TextIO | None = None) -> list[Verdict]:
    verdicts = []
    for item in attacks:
        verdict = run_attack(item, context)
        verdicts.append(verdict)
        if out is not None:
            mark = "pass  " if verdict.ok else "BREACH"
            print(f"  {mark} {item.group:<9} {item.name:<34} {verdict.seconds:>5.2f} s", file=out, flush=True)
    return verdicts


def table(verdicts: list[Verdict]) -> str:
    """The closing table: one line per attack, a breach's finding and last exchange under it."""
    lines = [f"  {'result':<6} {'group':<9} {'attack':<34} expected safe answer"]
    for v in verdicts:
        lines.append(f"  {'pass' if v.ok else 'BREACH':<6} {v.group:<9} {v.name:<34} {v.expected}")
        if not v.ok:
            lines.append(f"           -> {v.finding}")
            if v.details:
                lines.append(f"              details: {json.dumps(v.details, ensure_ascii=False, default=str)[:700]}")
            if v.exchanges:
                last = v.exchanges[-1]
                lines.append(
                    f"              last: {last['method']} {last['path']} -> HTTP {last['status']} {last['code']}"
                    f" {last['body'][:140]!r}"
                )
    return "\n".join(lines)


def closing_line(verdicts: list[Verdict]) -> str:
    """``N passed, M failed``: the last line of the output, which CI reads."""
    failed = sum(not v.ok for v in verdicts)
    return f"{len(verdicts) - failed} passed, {failed} failed"


def exit_code(verdicts: list[Verdict]) -> int:
    """1 on any breach (or an attack that could not check), else 0; no attack run at all is a failure too."""
    return 0 if verdicts and all(v.ok for v in verdicts) else 1
