"""Prepare the bench database: migrate, load the demo data, rebuild Redis state (one Django start-up, not three).

Run by the harness as ``python -m benchmarks.fixtures`` with the bench's environment
(``BenchEnvironment.django_environ``); idempotent, like the commands it calls.
"""

import django
from django.core.management import call_command


def main() -> None:
    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo", verbosity=0)
    call_command("rebuild_redis", verbosity=0)


if __name__ == "__main__":
    main()
