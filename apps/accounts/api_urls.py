"""Accounts API under /api/v1/: token login, scan login, the WeChat portal."""

from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("login/token", apis.TokenLoginApi.as_view(), name="login-token"),
    path("login/weixin_qrcode_ticket", apis.LoginTicketApi.as_view(), name="login-ticket"),
    path("login/check_login", apis.CheckLoginApi.as_view(), name="login-check"),
    path("login/confirm", apis.LoginConfirmApi.as_view(), name="login-confirm"),
    path("weixin/portal/receive", apis.WeixinPortalApi.as_view(), name="weixin-portal"),
]
