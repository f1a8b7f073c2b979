"""Login API under /api/v1/: token login, scan login, WeChat portal."""

from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("login/token", apis.TokenLoginApi.as_view(), name="login-token"),
]
