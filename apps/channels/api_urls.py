"""Channel API under /api/v1/: the signed channel ping."""

from django.urls import path

from apps.channels import apis

urlpatterns = [
    path("gbm/channel/ping", apis.ping, name="channel-ping"),
]
