"""What production refuses to run with: fail fast at start, not only in `check --deploy` (STYLE rule 10).

Two stages, both only under production settings:

* **import of the settings** (``settings_problems``, called by ``config/settings/production.py``): what the
  environment alone decides. A placeholder or weak ``DJANGO_SECRET_KEY``, any ``CHANGE-ME`` value of
  ``docker/.env.example``, the demo WeChat token, the sandbox payment gateway (its Pay button pays for free)
  unless ``PAYMENT_SANDBOX_ALLOWED=1``, and a missing or non-https ``PAYMENT_NOTIFY_BASE_URL`` (plain http only
  with ``PAYMENT_NOTIFY_ALLOW_HTTP=1``).
* **process start** (``refuse_unsafe_start``: the WSGI application, the Celery worker and beat): what needs
  the database. The security deploy checks at ERROR level run, so demo credentials in the database
  (groupbuy.E001/E002, ``apps/accounts/checks.py``) stop the process with their message.

``GBM_ALLOW_DEMO_DATA=1`` is the one escape hatch, for the benchmarks and tests that serve the demo data with
production settings on a private loopback database: it lets ``load_demo`` run and silences E001/E002.
Never set it on a host anybody else can reach. Explicit opt-outs also silence the deploy warning they
answer (``payments.W001`` for the sandbox, ``security.W008`` for ``DJANGO_SECURE_SSL_REDIRECT=false``), so
the release step's ``check --deploy --fail-level WARNING`` reports only what nobody decided.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# Every secret key this repository ever shows: settings defaults, tests, docker/, docs. Public, so refused.
PLACEHOLDER_SECRET_KEYS = frozenset(
    {
        "dev-insecure-secret-key-change-me",  # config/settings/base.py default
        "test-secret-key",  # config/settings/test.py
        "CHANGE-ME-this-placeholder-is-public-replace-it-with-64-random-characters",  # docker/.env.example
        "build-only-placeholder-never-used-at-runtime-0123456789abcdef",  # docker/Dockerfile (before)
    }
)
# Markers of a value somebody was told to replace (docker/.env.example writes CHANGE-ME).
PLACEHOLDER_MARKERS = ("change-me", "changeme", "change_me", "placeholder", "insecure")
DEMO_WEIXIN_TOKEN = "groupbuy-weixin-token"  # noqa: S105 - base.py's default = apps/accounts/weixin.py's
# Settings whose value must never be a placeholder (URLs carry the database and broker passwords).
PLACEHOLDER_CHECKED = (
    "WEIXIN_TOKEN",
    "DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "REDIS_URL",
    "BROKER_URL",
    "GBM_MQ_URL",
    "PAYMENT_NOTIFY_BASE_URL",
    "ALIPAY_APP_ID",
    "ALIPAY_APP_PRIVATE_KEY",
    "ALIPAY_PUBLIC_KEY",
)
ALIPAY_SETTINGS = ("ALIPAY_APP_ID", "ALIPAY_APP_PRIVATE_KEY", "ALIPAY_PUBLIC_KEY")
DEMO_CREDENTIAL_CHECKS = ("groupbuy.E001", "groupbuy.E002")
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_CHARACTERS = 5  # Django's own deploy check (security.W009) uses the same two bounds


def is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in PLACEHOLDER_MARKERS)


def secret_key_problem(value: str) -> str | None:
    if value in PLACEHOLDER_SECRET_KEYS or is_placeholder(value) or value.startswith(("dev-", "django-insecure")):
        return "DJANGO_SECRET_KEY is a public placeholder: set a long random value"
    if len(value) < MIN_SECRET_KEY_LENGTH or len(set(value)) < MIN_SECRET_KEY_CHARACTERS:
        return (
            f"DJANGO_SECRET_KEY is too weak: at least {MIN_SECRET_KEY_LENGTH} random characters, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )
    return None


def notify_base_url_problem(value: str, *, allow_http: bool) -> str | None:
    """Gateways post payment notifies here: without it Alipay's go to http://127.0.0.1:8000 (gateways/base.py)."""
    if not value:
        return (
            "PAYMENT_NOTIFY_BASE_URL is required: the absolute https URL the payment gateway reaches this site at, "
            "e.g. https://shop.example.com"
        )
    parts = urlsplit(value)
    if parts.scheme == "http" and not allow_http:
        return "PAYMENT_NOTIFY_BASE_URL must be https (plain http only with PAYMENT_NOTIFY_ALLOW_HTTP=1)"
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return f"PAYMENT_NOTIFY_BASE_URL must be an absolute URL like https://shop.example.com, not {value!r}"
    return None


def settings_problems(values: dict[str, str], *, sandbox_allowed: bool, notify_allow_http: bool) -> list[str]:
    """Everything wrong with a production environment, each as one line for the operator."""
    problems = []
    secret_problem = secret_key_problem(values.get("SECRET_KEY", ""))
    if secret_problem:
        problems.append(secret_problem)
    for name in PLACEHOLDER_CHECKED:
        if is_placeholder(values.get(name, "")):
            problems.append(f"{name} still holds a placeholder (CHANGE-ME): set the real value")
    if values.get("WEIXIN_TOKEN", "") in ("", DEMO_WEIXIN_TOKEN):
        problems.append("WEIXIN_TOKEN is blank or the demo default: set the token of the WeChat console")
    alipay_set = [name for name in ALIPAY_SETTINGS if values.get(name)]
    if alipay_set and len(alipay_set) < len(ALIPAY_SETTINGS):
        missing = ", ".join(name for name in ALIPAY_SETTINGS if name not in alipay_set)
        problems.append(f"Alipay is half configured: {missing} missing (the sandbox gateway would take over)")
    elif not alipay_set and not sandbox_allowed:
        problems.append(
            "No payment gateway: set ALIPAY_APP_ID, ALIPAY_APP_PRIVATE_KEY and ALIPAY_PUBLIC_KEY. The built-in "
            "sandbox gateway lets anyone pay for free; allow it explicitly with PAYMENT_SANDBOX_ALLOWED=1 "
            "(trial stacks only)"
        )
    url_problem = notify_base_url_problem(values.get("PAYMENT_NOTIFY_BASE_URL", ""), allow_http=notify_allow_http)
    if url_problem:
        problems.append(url_problem)
    return problems


def refuse(problems: list[str], *, what: str) -> None:
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise ImproperlyConfigured(f"{what}: refusing to start:\n{lines}")


def refuse_unsafe_start(process: str) -> None:
    """Run the security deploy checks that need the database; ERRORs stop this process (production only).

    Called once per process after Django is set up. Cheap unless users named like the demo ones exist
    (their passwords are hashed to be compared).
    """
    from django.conf import settings
    from django.core import checks

    if not getattr(settings, "REFUSE_UNSAFE_START", False):
        return
    messages = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
    errors = [message for message in messages if message.is_serious() and not message.is_silenced()]
    problems = [f"{message.id}: {message.msg}" + (f" ({message.hint})" if message.hint else "") for message in errors]
    if problems:
        problems.append("fix the above (admin: passwords, channel secrets), then run `manage.py check --deploy`")
    refuse(problems, what=f"{process} (production settings)")
