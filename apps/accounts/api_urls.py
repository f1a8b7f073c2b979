"""Accounts API under /api/v1/: token login, scan login, WeChat portal, the signed channel ping."""

from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("login/token", apis.TokenLoginApi.as_view(), name="login-token"),
    path("login/weixin_qrcode_ticket", apis.LoginTicketApi.as_view(), name="login-ticket"),
    path("login/check_login", apis.CheckLoginApi.as_view(), name="login-check"),
    path("login/confirm", apis.LoginConfirmApi.as_view(), name="login-confirm"),
    path("gbm/channel/ping", apis.ChannelPingApi.as_view(), name="channel-ping"),
    path("weixin/portal/receive", apis.WeixinPortalApi.as_view(), name="weixin-portal"),
]
