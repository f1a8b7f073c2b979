"""The security suite's own logic (``benchmarks/security``), without a server: registry, verdicts, exit code.

``make security`` runs the attacks against a real gunicorn; these tests hold what CI relies on: a breach
(or an attack that cannot check) fails the run with exit 1, and the last line is ``N passed, M failed``.
"""

import io
import json

import pytest

from benchmarks.security import attacks as _registered  # noqa: F401 - registers the attacks
from benchmarks.security.attacks.channels import smuggled
from benchmarks.security.registry import ATTACKS, Attack, Breach, attack, check, run_attacks
from benchmarks.security.runner import finish, ordered

EXPECTED = {
    "forged signature",
    "tampered body",
    "missing signature headers",
    "replayed nonce",
    "skewed timestamp",
    "unknown channel",
    "signature for another path",
    "charset smuggling",
    "non-UTF-8 charset",
    "duplicate JSON keys",
    "cross-channel trial teamList",
    "cross-channel team_progress",
    "cross-channel join",
    "cross-channel take limit",
    "cross-channel refund and settle",
    "notifyUrl to a private address",
    "shopper IDOR",
    "forged payment notify",
    "login CSRF via scan ticket",
    "DCC change by link",
    "password login throttle",
    "hostile input",
    "API schema anonymous",
}


class FakeContext:
    def begin(self, name: str) -> list:
        return [{"method": "POST", "path": f"/{name}", "status": 200, "code": "0000", "body": "{}"}]


def fake_registry() -> dict[str, Attack]:
    registry: dict[str, Attack] = {}

    @attack("holds", group="signing", registry=registry)
    def holds(ctx: FakeContext) -> None:
        """nothing happens"""
        check(True, "never")

    @attack("breaks", group="isolation", registry=registry)
    def breaks(ctx: FakeContext) -> None:
        """refused"""
        raise Breach("the victim's order was refunded", order_status=2)

    @attack("crashes", group="hostile", registry=registry)
    def crashes(ctx: FakeContext) -> None:
        """refused"""
        raise TimeoutError("no answer")

    return registry


def test_the_registry_holds_every_attack_of_the_brief():
    assert set(ATTACKS) >= EXPECTED
    assert all(a.doc for a in ATTACKS.values()), "every attack states the safe answer it expects"
    assert ordered(ATTACKS)[0].group == "signing"


def test_a_name_registers_once():
    registry = fake_registry()
    with pytest.raises(ValueError, match="twice"):
        attack("holds", group="signing", registry=registry)(lambda ctx: None)


def test_a_breach_or_an_attack_that_cannot_check_fails_the_run():
    verdicts = run_attacks(ordered(fake_registry()), FakeContext())
    by_name = {v.name: v for v in verdicts}
    assert by_name["holds"].ok
    assert not by_name["breaks"].ok and by_name["breaks"].details == {"order_status": 2}
    assert not by_name["crashes"].ok and "TimeoutError" in by_name["crashes"].finding
    assert by_name["breaks"].exchanges[0]["path"] == "/breaks"  # the evidence

    out = io.StringIO()
    assert finish(verdicts, {}, write=False, out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[-1] == "1 passed, 2 failed"
    assert any("BREACH" in line and "breaks" in line for line in lines)


def test_a_clean_run_exits_0_and_an_empty_one_does_not():
    registry = fake_registry()
    verdicts = run_attacks([registry["holds"]], FakeContext())
    out = io.StringIO()
    assert finish(verdicts, {}, write=False, out=out) == 0
    assert out.getvalue().splitlines()[-1] == "1 passed, 0 failed"
    assert finish([], {}, write=False, out=io.StringIO()) == 1


def test_the_smuggled_body_names_the_attacker_in_utf8_and_the_victim_in_utf7():
    body = smuggled({"userId": "u", "source": "s03", "channel": "c03"}, {"source": "s01", "channel": "c01"})
    assert body.isascii()
    as_utf8, as_utf7 = json.loads(body), json.loads(body.decode("utf-7"))
    assert (as_utf8["source"], as_utf8["channel"]) == ("s03", "c03")
    assert (as_utf7["source"], as_utf7["channel"]) == ("s01", "c01")
