"""The inbox in the mall API, under /api/v1/mall/."""

from django.urls import path

from apps.notifications import apis

urlpatterns = [
    path("inbox", apis.MallInboxApi.as_view(), name="mall-inbox"),
    path("inbox/<int:message_id>/read", apis.MallInboxReadApi.as_view(), name="mall-inbox-read"),
]
