"""Suites: which scenarios run together against one server, held to which targets.

Every throughput suite (``Suite``) measures the bare Django view (``BareScenario``: no middleware, served
by the bench's WSGI module only) in the same run, at the same concurrency, in rounds alternating with its
subjects, so its figures read as ratios to it that survive a slower or busier machine (issue 16's
yardstick). The targets are those ratios' minimums, by throughput and by gunicorn CPU per request. A suite
may check the database's invariants afterwards (``benchmarks/invariants.py``), and each scenario its own
rules (``Scenario.check``). The race suite is a burst (``burst``): the bare view, the race's joins once, the
bare view again. The notify suite (``NotifySuite``, ``benchmarks/notify.py``) measures a latency instead:
from a team's completion to the mall's receiver. ``make bench`` runs every suite of ``SUITES`` in order,
each with a gunicorn of its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.gateway import GatewayNotifyScenario
from benchmarks.race import RaceScenario
from benchmarks.scenarios import (
    BareScenario,
    HealthzScenario,
    LockScenario,
    Scenario,
    SignedNoopScenario,
    TrialScenario,
)
from benchmarks.settle import SettleScenario

ScenarioFactory = Callable[[str, argparse.Namespace], Scenario]  # run id, command line -> scenario


@dataclass(frozen=True)
class Target:
    """``subject`` must reach ``minimum`` × the bare view, by throughput (``met``) and by CPU (``met_by_cpu``)."""

    subject: str
    minimum: float


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    subjects: tuple[ScenarioFactory, ...]
    targets: tuple[Target, ...] = ()
    # After the measurement: no team oversold, lock counts and Redis team stock agree with the orders.
    check_invariants: bool = False
    # Extra (subject, reference) ratios between the suite's own scenarios, reported beside those to the baseline.
    comparisons: tuple[tuple[str, str], ...] = ()
    # One burst of the subject between two rounds of the baseline, at --race-concurrency (no warm-up of it).
    burst: bool = False
    baseline: ScenarioFactory = lambda run_id, args: BareScenario()

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
            description="signed no-op (channel/ping) and the warm signed trial, and /healthz, vs the bare view",
            subjects=(
                lambda run_id, args: HealthzScenario(),
                lambda run_id, args: SignedNoopScenario(),
                lambda run_id, args: TrialScenario(run_id=run_id),
            ),
            targets=(Target(subject="signed_noop", minimum=0.50), Target(subject="trial", minimum=0.33)),
            comparisons=(("trial", "signed_noop"),),  # what the trial's own work costs beyond signing
        ),
        Suite(
            name="lock",
            description="lock_market_pay_order: users opening teams and racing to join them, vs the bare view",
            subjects=(lambda run_id, args: LockScenario(run_id=run_id, joiners=args.joiners),),
            targets=(Target(subject="lock", minimum=0.20),),
            check_invariants=True,
        ),
        Suite(
            name="settle",
            description="settlement_market_pay_order of locked orders; each team completes (outbox row) on its"
            " last, vs the bare view",
            subjects=(lambda run_id, args: SettleScenario(run_id=run_id),),
            targets=(Target(subject="settle", minimum=0.20),),
            check_invariants=True,
        ),
        Suite(
            name="race",
            description="concurrent joins of distinct users on one team of 100 seats: exactly 100 seated, the"
            " rest E0006",
            subjects=(lambda run_id, args: RaceScenario(run_id=run_id, joins=args.race_joins),),
            check_invariants=True,
            burst=True,
        ),
        Suite(
            name="gateway",
            description="the payment gateway's RSA2-signed notify to the built-in mall, which settles the group-buy"
            " order (a third complete their team), vs the bare view",
            subjects=(lambda run_id, args: GatewayNotifyScenario(run_id=run_id),),
            check_invariants=True,
        ),
        NotifySuite(
            name="notify",
            description="notify delivery latency: team completion committed -> HTTP receiver, via a Celery worker",
        ),
    ]
}
