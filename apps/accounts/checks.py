"""Deploy check: the WeChat token must not be the demo default (`manage.py check --deploy`).

The demo credentials check lives with the demo data (apps/demo/checks.py)."""

from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def weixin_token_check(app_configs=None, **kwargs) -> list[Error]:
    """Anyone who knows the WeChat token can forge scan events, i.e. log in as anyone who scans."""
    from apps.accounts.weixin import DEFAULT_WEIXIN_TOKEN, weixin_token

    token = weixin_token()
    if not token or token == DEFAULT_WEIXIN_TOKEN:
        return [Error("WEIXIN_TOKEN is blank or the demo default: set it to the token of the WeChat console.",
                      id="groupbuy.E003")]  # fmt: skip
    return []
