"""The login page's password form: Django's, its password check made through the throttle."""

from typing import Any

from django.contrib.auth.forms import AuthenticationForm

from apps.accounts.throttle import password_authenticate


class ThrottledAuthenticationForm(AuthenticationForm):
    """``is_valid`` raises ``LoginThrottled`` (0006) when the account or the address is over its limit."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            if self.request is None:
                raise TypeError("ThrottledAuthenticationForm needs the request: the throttle counts by address")
            self.user_cache = password_authenticate(self.request, username=username, password=password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
