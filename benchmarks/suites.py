"""Suites: which scenarios run together against one server, compared with which baseline, held to which targets.

A throughput suite (``Suite``) measures its baseline (the trivial endpoint) in the same run, at the same
concurrency, so its figures read as ratios that survive a slower or busier machine; it may check the
database's invariants afterwards (``benchmarks/invariants.py``). The notify suite (``NotifySuite``,
``benchmarks/notify.py``) measures a latency instead: from a team's completion to the mall's receiver.
``make bench`` runs every suite of ``SUITES`` in order, each with a gunicorn of its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.scenarios import HealthzScenario, LockScenario, Scenario, SignedFloorScenario, TrialScenario

ScenarioFactory = Callable[[str, argparse.Namespace], Scenario]  # run id, command line -> scenario


@dataclass(frozen=True)
class Target:
    """``subject``'s throughput must reach ``minimum`` × the baseline's."""

    subject: str
    minimum: float

    def key(self, baseline: str) -> str:
        return f"{self.subject}_vs_{baseline}_throughput"


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    baseline: ScenarioFactory
    subjects: tuple[ScenarioFactory, ...]
    targets: tuple[Target, ...] = ()
    # After the measurement: no team oversold, lock counts and Redis team stock agree with the orders.
    check_invariants: bool = False
    # Extra (subject, reference) ratios between the suite's own scenarios, reported beside those to the baseline.
    comparisons: tuple[tuple[str, str], ...] = ()

    def scenarios(self, run_id: str, args: argparse.Namespace) -> list[Scenario]:
        return [self.baseline(run_id, args), *(factory(run_id, args) for factory in self.subjects)]


@dataclass(frozen=True)
class NotifySuite:
    """Teams completed over the API with an HTTP callback to a receiver of the harness, a Celery worker delivering."""

    name: str
    description: str
    check_invariants: bool = True


SUITES: dict[str, Suite | NotifySuite] = {
    suite.name: suite
    for suite in [
        Suite(
            name="trial",
            description="signed trial (query_group_buy_market_config), warm caches, vs /healthz and a signed no-op",
            baseline=lambda run_id, args: HealthzScenario(),
            subjects=(lambda run_id, args: SignedFloorScenario(), lambda run_id, args: TrialScenario(run_id=run_id)),
            targets=(Target(subject="trial", minimum=0.5),),
            comparisons=(("trial", "signed_floor"),),  # what the trial's own work costs beyond signing
        ),
        Suite(
            name="lock",
            description="lock_market_pay_order: users opening teams and racing to join them, vs /healthz",
            baseline=lambda run_id, args: HealthzScenario(),
            subjects=(lambda run_id, args: LockScenario(run_id=run_id, joiners=args.joiners),),
            targets=(Target(subject="lock", minimum=0.25),),
            check_invariants=True,
        ),
        NotifySuite(
            name="notify",
            description="notify delivery latency: team completion committed -> HTTP receiver, via a Celery worker",
        ),
    ]
}
