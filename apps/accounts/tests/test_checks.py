import pytest

from apps.accounts.checks import weixin_token_check
from apps.accounts.models import User
from apps.channels.models import ChannelCredential
from apps.demo.checks import demo_credentials_check

pytestmark = pytest.mark.django_db


def test_deploy_check_flags_demo_credentials_until_they_are_changed(demo):
    assert {error.id for error in demo_credentials_check()} == {"groupbuy.E001", "groupbuy.E002"}

    ChannelCredential.objects.update(secret="a-real-random-secret-0123456789")
    for user in User.objects.all():
        user.set_password("Str0ng-and-unique-passphrase")
        user.save()
    assert demo_credentials_check() == []


def test_deploy_check_refuses_the_demo_weixin_token(settings):
    settings.WEIXIN_TOKEN = "groupbuy-weixin-token"
    assert [error.id for error in weixin_token_check()] == ["groupbuy.E003"]
    settings.WEIXIN_TOKEN = ""
    assert [error.id for error in weixin_token_check()] == ["groupbuy.E003"]
    settings.WEIXIN_TOKEN = "a-real-token-from-the-wechat-console"
    assert weixin_token_check() == []
