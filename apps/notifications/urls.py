"""Inbox pages: /inbox/, marking read."""

from django.urls import path

from apps.notifications import views

app_name = "notifications"

urlpatterns = [
    path("inbox/", views.inbox_page, name="inbox"),
    path("inbox/<int:message_id>/read", views.inbox_read, name="inbox-read"),
    path("inbox/read-all", views.inbox_read_all, name="inbox-read-all"),
]
