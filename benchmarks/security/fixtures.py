"""What the attacks need beyond the demo data, in the suite's database: ``python -m benchmarks.security.fixtures``.

Run by the runner with the server's environment after ``benchmarks.fixtures`` (migrate, demo data); prints
one JSON object with the credentials on stdout. Decision: an attacker channel of its own (``s03``/``c03``,
mapped to the demo goods 9890001 / activity 100123 like ``s01``) rather than unblocking ``s02`` through
DCC: ``s02`` stays as the demo has it, and the attacker is a channel with no privilege (no notify host
allowed, signature required). Per run, fresh shoppers (two for the cross-shopper attacks, one whose
password is guessed), and a staff user: take limits and login throttles outlive a run in the database and
Redis, and the suite depends on no demo password.
"""

import json
import secrets
import sys

import django

ATTACKER_SOURCE, ATTACKER_CHANNEL = "s03", "c03"
ATTACKER_GOODS, ATTACKER_ACTIVITY = "9890001", 100123


def main(run_id: str) -> None:
    django.setup()
    from django.db import transaction

    from apps.accounts.models import User
    from apps.activities.models import ScSkuActivity
    from apps.channels.models import ChannelCredential

    secret = f"s03-{secrets.token_urlsafe(24)}"
    users: dict[str, dict[str, str]] = {}
    with transaction.atomic():
        ChannelCredential.objects.update_or_create(
            source=ATTACKER_SOURCE,
            channel=ATTACKER_CHANNEL,
            defaults={"secret": secret, "name": "security suite attacker", "signature_required": True, "enabled": True},
        )
        ScSkuActivity.objects.update_or_create(
            source=ATTACKER_SOURCE,
            channel=ATTACKER_CHANNEL,
            sku_id=ATTACKER_GOODS,
            defaults={"activity_id": ATTACKER_ACTIVITY},
        )
        for role, staff in (("shopper_a", False), ("shopper_b", False), ("guessed", False), ("staff", True)):
            username, password = f"sec{run_id}{role.replace('_', '')}", secrets.token_urlsafe(18)
            user = User(username=username, is_staff=staff, is_superuser=staff)
            user.set_password(password)
            user.save()
            users[role] = {"username": username, "password": password}
    json.dump({"attacker_secret": secret, "users": users}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
