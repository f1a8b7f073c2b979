"""Deploy check: the demo credentials must never reach production (`manage.py check --deploy`)."""

from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from apps.demo.services import DEMO_CHANNELS, DEMO_PASSWORD


@register(Tags.security, deploy=True)
def demo_credentials_check(app_configs=None, **kwargs) -> list[Error]:
    from apps.accounts.models import User
    from apps.channels.models import ChannelCredential

    errors = []
    try:
        demo_secrets = {secret for _, _, secret, _ in DEMO_CHANNELS}
        if ChannelCredential.objects.filter(secret__in=demo_secrets).exists():
            errors.append(Error("A channel still uses a demo signing secret.", id="groupbuy.E001"))
        for user in User.objects.filter(username__in=["admin", "xiaofuge", "liergou", "demo1"]):
            if user.check_password("admin") or user.check_password(DEMO_PASSWORD):
                errors.append(Error(f"User {user.username!r} still has its demo password.", id="groupbuy.E002"))
    except DatabaseError:
        pass  # no database yet (image build); the check runs again at release
    return errors
