"""Suites: which scenarios run together against one server, compared with which baseline, held to which targets.

Every suite measures its baseline (the trivial endpoint) in the same run, at the same concurrency, so its
figures read as ratios that survive a slower or busier machine. Later suites (the lock endpoint, notify
delivery latency) add a scenario class and an entry in ``SUITES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.scenarios import HealthzScenario, Scenario, TrialScenario

ScenarioFactory = Callable[[str], Scenario]  # run id -> scenario


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

    def scenarios(self, run_id: str) -> list[Scenario]:
        return [self.baseline(run_id), *(factory(run_id) for factory in self.subjects)]


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in [
        Suite(
            name="trial",
            description="signed trial (query_group_buy_market_config), warm caches, vs /healthz",
            baseline=lambda run_id: HealthzScenario(),
            subjects=(lambda run_id: TrialScenario(run_id=run_id),),
            targets=(Target(subject="trial", minimum=0.5),),
        ),
    ]
}
